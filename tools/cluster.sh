#!/bin/sh
# cluster.sh -- `make cluster`: cluster mode on one machine. Redis, two
# chorus nodes and HAProxy on loopback, data under ./data/cluster; prints
# the address to open and stops everything on Ctrl-C. The HAProxy
# configuration is the one in docs/cluster.md (the same block the tests
# run), with its ports. Until the PostgreSQL store lands the two nodes share
# one SQLite file (docs/cluster.md says why that is a faithful stand-in).
# Ports: CHORUS_CLUSTER_PORT (8080) for the proxy, the next two for the
# nodes, and 6380 for Redis.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PROXY=${CHORUS_CLUSTER_PORT:-8080}
N1=$((PROXY + 1))
N2=$((PROXY + 2))
RP=${CHORUS_CLUSTER_REDIS_PORT:-6380}
dir=./data/cluster
mkdir -p "$dir/store" "$dir/redis"

pids=""
stop() {
    trap - INT TERM EXIT
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
    wait 2>/dev/null || true
    echo "cluster stopped"
}
trap stop INT TERM EXIT

redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$dir/redis" --daemonize no >"$dir/redis.log" 2>&1 &
pids="$pids $!"

sed -n '/^```haproxy$/,/^```$/p' docs/cluster.md | sed '1d;$d' |
    sed "s/127.0.0.1:8080/127.0.0.1:$PROXY/; s/127.0.0.1:8081/127.0.0.1:$N1/;
         s/127.0.0.1:8082/127.0.0.1:$N2/" >"$dir/haproxy.cfg"

for port in $N1 $N2; do
    "$BUILD/chorus" serve --port "$port" --data "$dir/store" \
        --bus "redis://127.0.0.1:$RP" --allow-origin "http://127.0.0.1:$PROXY" \
        --allow-origin "http://localhost:$PROXY" \
        >"$dir/node-$port.log" 2>&1 &
    pids="$pids $!"
done
haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
pids="$pids $!"

echo "Chorus cluster: two nodes (:$N1, :$N2), Redis (:$RP), HAProxy"
echo "Open http://127.0.0.1:$PROXY/   (logs in $dir; Ctrl-C stops it)"
wait
