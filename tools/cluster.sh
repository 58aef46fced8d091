#!/bin/sh
# cluster.sh -- `make cluster`: cluster mode on one machine. PostgreSQL,
# Redis, two chorus nodes and HAProxy on loopback, data under
# ./data/cluster (PostgreSQL's in ./data/cluster/pg, kept across runs);
# prints the address to open and stops everything on Ctrl-C. The HAProxy
# configuration is the one in docs/cluster.md (the same block the tests
# run), with its ports. Ports: CHORUS_CLUSTER_PORT (8080) for the proxy,
# the next two for the nodes, 6380 for Redis, 5433 for PostgreSQL.
# CHORUS_CLUSTER_STORE=sqlite: the nodes share one SQLite file instead.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PROXY=${CHORUS_CLUSTER_PORT:-8080}
N1=$((PROXY + 1))
N2=$((PROXY + 2))
RP=${CHORUS_CLUSTER_REDIS_PORT:-6380}
PP=${CHORUS_CLUSTER_PG_PORT:-5433}
dir=$(pwd)/data/cluster
mkdir -p "$dir/store" "$dir/redis"
PGBIN=/usr/lib/postgresql/15/bin
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pids=""
pg_up=""
stop() {
    trap - INT TERM EXIT
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
    wait 2>/dev/null || true
    [ -n "$pg_up" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1
    echo "cluster stopped"
}
trap stop INT TERM EXIT

if [ "${CHORUS_CLUSTER_STORE:-pg}" = sqlite ]; then
    store="--data $dir/store"
else
    if [ ! -d "$dir/pg/data" ]; then
        mkdir -p "$dir/pg"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir/pg"
        as_pg "$PGBIN/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >"$dir/pg/initdb.log" 2>&1 ||
            { cat "$dir/pg/initdb.log" >&2; exit 1; }
    fi
    as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
        -o "-p $PP -k $dir/pg -c listen_addresses=127.0.0.1" start >/dev/null ||
        { cat "$dir/pg/server.log" >&2; exit 1; }
    pg_up=1
    psql -X -q -h 127.0.0.1 -p "$PP" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'chorus'" | grep -q 1 ||
        psql -X -q -h 127.0.0.1 -p "$PP" -U postgres -d postgres \
            -c "CREATE DATABASE chorus" >/dev/null
    store="--store postgresql://postgres@127.0.0.1:$PP/chorus"
fi

redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$dir/redis" --daemonize no >"$dir/redis.log" 2>&1 &
pids="$pids $!"

sed -n '/^```haproxy$/,/^```$/p' docs/cluster.md | sed '1d;$d' |
    sed "s/127.0.0.1:8080/127.0.0.1:$PROXY/; s/127.0.0.1:8081/127.0.0.1:$N1/;
         s/127.0.0.1:8082/127.0.0.1:$N2/" >"$dir/haproxy.cfg"

for port in $N1 $N2; do
    # shellcheck disable=SC2086 # $store is two words
    "$BUILD/chorus" serve --port "$port" $store \
        --bus "redis://127.0.0.1:$RP" --allow-origin "http://127.0.0.1:$PROXY" \
        --allow-origin "http://localhost:$PROXY" \
        >"$dir/node-$port.log" 2>&1 &
    pids="$pids $!"
done
haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
pids="$pids $!"

echo "Chorus cluster: two nodes (:$N1, :$N2) on ${store#--}, Redis (:$RP), HAProxy"
echo "Open http://127.0.0.1:$PROXY/   (logs in $dir; Ctrl-C stops it)"
wait
