#!/bin/sh
# cluster.bench.sh -- `make bench-cluster`: cluster mode on this machine
# beside a single node, same load generator, same run (issue 17). Two
# durable nodes share one PostgreSQL database (a throwaway server,
# synchronous_commit on; CHORUS_CLUSTER_STORE=sqlite: one SQLite file with
# --sync full instead), with Redis between them and HAProxy in front (the
# configuration of docs/cluster.md); the single node is SQLite, durable
# (--sync full), as `make run` serves. Workloads:
#   single_closed_n10   one node alone: one document, 10 clients closed loop
#   store_closed_n10    the same on one node of the cluster directly (what
#                       the shared store costs, without proxy and bus)
#   cluster_closed_n10  the same through the proxy (sticky: /ws?doc=)
#   cluster_split200    one document, 200 authors at 2 keystrokes/s, odd
#                       ones on node 2, even on node 1 (ack and
#                       keystroke-to-remote across nodes)
#   cluster_docs1000    1,000 documents x 2 authors at 2 keystrokes/s through
#                       the proxy (each client's /ws?doc=, so a document's
#                       authors share a node), plus 10,000 idle connections
# Everything runs on the same shared cores: this shows cost and
# correctness, not scaling (docs/benchmarks.md). One line a figure.
# CHORUS_BENCH_QUICK=1 shortens every run.
BUILD=${BUILD:-build}
CHORUS=${CHORUS_BIN:-$BUILD/chorus}
status=0
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "${CHORUS_BENCH_QUICK:-0}" = 1 ]; then W=0.5 T=2 IDLE_N=1000 DOCS=100
else W=1 T=5 IDLE_N=10000 DOCS=1000; fi

. "$(dirname "$0")/lib.sh"
make_loadgen cluster.bench

OUT=$(mktemp /tmp/chorus-bench-cluster.XXXXXX)
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---- a single node, for comparison
start_chorus cluster.bench || exit 1
"$LG" --port "$PORT" --server-pid $SPID --name single_closed_n10 --mode closed \
    --clients 10 --warmup $W --duration $T | tee -a "$OUT"
stop_server cluster.bench

# ---- the cluster
DIR=$(mktemp -d /tmp/chorus-cluster.XXXXXX)
HPID="" N1="" N2="" RPID="" PGDIR=""
stop_all() {
    kill $HPID $N1 $N2 $RPID 2>/dev/null
    wait 2>/dev/null
    [ -n "$PGDIR" ] && sh "$(dirname "$0")/../tests/pg.sh" stop "$PGDIR"
    rm -rf "$DIR"
}
trap stop_all EXIT
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$DIR" --daemonize no >"$DIR/redis.log" 2>&1 &
RPID=$!
PX=$(free_port)
P1=$(free_port)
P2=$(free_port)
mkdir -p "$DIR/data"
store="--data $DIR/data"
if [ "${CHORUS_CLUSTER_STORE:-pg}" != sqlite ]; then
    pg=$(sh "$(dirname "$0")/../tests/pg.sh" start) || exit 1
    PGDIR=$(echo "$pg" | sed -n 1p)
    url=$(echo "$pg" | sed -n 2p)
    psql -X -q "$url" -c "CREATE DATABASE chorus_bench" >/dev/null || exit 1
    store="--store ${url%/*}/chorus_bench"
fi
echo "cluster_store: ${store#--}"
for p in $P1 $P2; do
    # shellcheck disable=SC2086 # $store is two words
    "$CHORUS" serve --port "$p" $store --sync full \
        --bus "redis://127.0.0.1:$RP" --ops-per-sec 1000000 \
        --conns-per-ip 1000000 --log-level warn >"$DIR/node-$p.log" 2>&1 &
    echo $! >"$DIR/pid-$p"
done
N1=$(cat "$DIR/pid-$P1")
N2=$(cat "$DIR/pid-$P2")
sed -n '/^```haproxy$/,/^```$/p' "$(dirname "$0")/../docs/cluster.md" |
    sed '1d;$d' | sed "s/127.0.0.1:8080/127.0.0.1:$PX/;
        s/127.0.0.1:8081/127.0.0.1:$P1/; s/127.0.0.1:8082/127.0.0.1:$P2/" \
    >"$DIR/haproxy.cfg"
haproxy -f "$DIR/haproxy.cfg" -db >"$DIR/haproxy.log" 2>&1 &
HPID=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$PX/readyz" &&
      curl -sf -o /dev/null "http://127.0.0.1:$P2/readyz"; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "cluster.bench: the cluster did not start" >&2
        cat "$DIR"/*.log >&2
        exit 1
    fi
    sleep 0.1
done

cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
report_nodes() { # report_nodes NAME CPU1-BEFORE CPU2-BEFORE SECONDS
    hz=$(getconf CLK_TCK)
    c1=$(cpu_of $N1)
    c2=$(cpu_of $N2)
    awk -v n="$1" -v a="$2" -v b="$3" -v c="$c1" -v d="$c2" -v s="$4" -v hz="$hz" \
        'BEGIN { printf "%s_node1_cpu: %.0f %%\n%s_node2_cpu: %.0f %%\n", n, 100 * (c - a) / hz / s, n, 100 * (d - b) / hz / s }' |
        tee -a "$OUT"
    echo "$1_node1_rss: $(rss_kb $N1) KB" | tee -a "$OUT"
    echo "$1_node2_rss: $(rss_kb $N2) KB" | tee -a "$OUT"
}
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'; }

# the cost of the store alone: one node of the cluster, directly, one
# document, closed loop N=10 (the other node idle)
"$LG" --port "$P1" --doc-prefix lgc-s --name store_closed_n10 --mode closed \
    --clients 10 --warmup $W --duration $T | tee -a "$OUT" || status=1

# (a) one document, closed loop N=10, sticky through the proxy
"$LG" --port "$PX" --path "/ws?doc=%s" --doc-prefix lgc-a \
    --name cluster_closed_n10 --mode closed --clients 10 --warmup $W \
    --duration $T | tee -a "$OUT" || status=1

# (b) one document, 200 authors split across both nodes, 2 keystrokes/s
a1=$(cpu_of $N1) a2=$(cpu_of $N2)
"$LG" --port "$P1" --port2 "$P2" --doc-prefix lgc-b --name cluster_split200 \
    --mode paced --rate 2 --clients 200 --warmup $W --duration $T --procs 2 |
    tee -a "$OUT" || status=1
report_nodes cluster_split200 "$a1" "$a2" "$(awk -v w=$W -v t=$T 'BEGIN { print w + t }')"
echo "cluster_split200_conflicts: $(( $(metric $P1 chorus_conflicts_total) + $(metric $P2 chorus_conflicts_total) ))" | tee -a "$OUT"

# (c) 1,000 documents x 2 authors through the proxy (hashed by document),
# plus 10,000 idle connections
"$LG" --port "$PX" --path "/ws?doc=%s" --name cluster_idle --mode idle --clients $IDLE_N \
    --docs $DOCS --doc-prefix lgc-i --duration 2 --window 500 \
    --src 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4 >/dev/null &
IDLE=$!
sleep 3
c0=$(metric $P1 chorus_commits_total) d0=$(metric $P2 chorus_commits_total)
o0=$(metric $P1 chorus_ops_committed_total) q0=$(metric $P2 chorus_ops_committed_total)
a1=$(cpu_of $N1) a2=$(cpu_of $N2)
"$LG" --port "$PX" --path "/ws?doc=%s" --doc-prefix lgc-c --name cluster_docs$DOCS --mode paced \
    --rate 2 --clients $((2 * DOCS)) --docs $DOCS --warmup $W --duration $T \
    --procs 2 --window 200 | grep -v k2r | tee -a "$OUT" || status=1
secs=$(awk -v w=$W -v t=$T 'BEGIN { print w + t }')
c1=$(metric $P1 chorus_commits_total) d1=$(metric $P2 chorus_commits_total)
o1=$(metric $P1 chorus_ops_committed_total) q1=$(metric $P2 chorus_ops_committed_total)
awk -v c=$((c1 - c0 + d1 - d0)) -v o=$((o1 - o0 + q1 - q0)) -v s="$secs" -v n="cluster_docs$DOCS" \
    'BEGIN { printf "%s_commits_per_sec: %.0f\n%s_ops_per_commit: %.1f\n", n, c / s, n, c ? o / c : 0 }' |
    tee -a "$OUT"
report_nodes cluster_docs$DOCS "$a1" "$a2" "$secs"
kill $IDLE 2>/dev/null
wait $IDLE 2>/dev/null

s=$(fig single_closed_n10_ops_per_sec) c=$(fig cluster_closed_n10_ops_per_sec)
awk -v s="$s" -v c="$c" 'BEGIN { if (s > 0) printf "cluster_closed_n10_of_single: %.0f %% (target: at least 50 %%)\n", 100 * c / s }'
echo "cluster_split200_k2r_p99: $(fig cluster_split200_k2r_p99) ms (target: under 50 ms)"
rm -f "$OUT"
exit $status
