#!/bin/sh
# peers-cluster.bench.sh -- `make bench-peers-cluster` (issue 18): a Chorus
# cluster beside a ShareDB cluster, durable against durable, on the same
# servers, same load generator (bench/loadgen, --proto chorus|sharedb), same
# run. One throwaway PostgreSQL 15 (tests/pg.sh; synchronous_commit on, so
# a committed op is fsynced) holds both stores in two databases
# (chorus_bench, sharedb_bench); one Redis carries both buses (ShareDB's
# channels under the prefix "sharedb-bench"). Each system runs as two
# processes behind its own HAProxy, both configured by the block in
# docs/cluster.md (balance url_param doc, hash-type consistent):
#   chorus   two `chorus serve --store postgresql://... --bus redis://...`
#   sharedb  two `node bench/peers/sharedb-cluster/server.js` (sharedb 7,
#            sharedb-postgres 5, sharedb-redis-pubsub 5, locked in its
#            package-lock.json, installed here with npm ci)
# Workloads, each run on both systems back to back (same background load):
#   closed_nN     one document, N closed-loop clients (N = 10, 50) through
#                 the proxy (sticky: every client on the document's node)
#   split200      one document, 200 authors x 2 keystrokes/s, odd authors on
#                 node 2, even on node 1 (straight to the nodes)
#   split10_nN    one document, N authors x 10 keystrokes/s split the same
#                 way; N doubled from 10, then bisected twice: the largest N
#                 with p99 ack under 100 ms
#   docs1000      1,000 documents x 2 authors x 2 keystrokes/s through the
#                 proxy
# Besides the load generator's figures, every run prints the CPU of each
# node, of PostgreSQL (postmaster and backends) and of Redis, and per op
# committed: PostgreSQL transactions, WAL fsyncs, Redis commands. Then one
# table with the ratio Chorus/ShareDB. CHORUS_BENCH_QUICK=1 shortens every
# run. Exits 1 when a system could not be set up or a fixed workload failed.
BUILD=${BUILD:-build}
CHORUS=${CHORUS_BIN:-$BUILD/chorus}
HERE=$(dirname "$0")
PEER=$HERE/peers/sharedb-cluster
status=0
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "${CHORUS_BENCH_QUICK:-0}" = 1 ]; then W=0.5 T=2 DOCS=100 MAXN=80
else W=1 T=5 DOCS=1000 MAXN=2560; fi
P=${LG_PROCS:-2}

if [ ! -d "$PEER/node_modules/sharedb-postgres" ]; then
    npm ci --prefix "$PEER" --no-audit --no-fund >/dev/null ||
        { echo "peers-cluster.bench: npm ci failed in $PEER" >&2; exit 1; }
fi
. "$HERE/lib.sh"   # free_port, make_loadgen, fig, peer_row
make_loadgen peers-cluster.bench

OUT=$(mktemp /tmp/chorus-peers-cluster-out.XXXXXX)
DIR=$(mktemp -d /tmp/chorus-peers-cluster.XXXXXX)
PIDS="" PGDIR=""
stop_all() {
    [ -n "$PIDS" ] && kill $PIDS 2>/dev/null
    wait 2>/dev/null
    [ -n "$PGDIR" ] && sh "$HERE/../tests/pg.sh" stop "$PGDIR"
    rm -rf "$DIR" "$OUT" "$OUT.run"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# ---- the shared servers
pg=$(sh "$HERE/../tests/pg.sh" start) || exit 1
PGDIR=$(echo "$pg" | sed -n 1p)
url=$(echo "$pg" | sed -n 2p)
PGURL=${url%/*}
for db in chorus_bench sharedb_bench; do
    psql -X -q "$url" -c "CREATE DATABASE $db" >/dev/null || exit 1
done
psql -X -q "$PGURL/sharedb_bench" -f "$PEER/node_modules/sharedb-postgres/structure.sql" \
    >/dev/null || exit 1
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$DIR" --daemonize no >"$DIR/redis.log" 2>&1 &
RPID=$!
PIDS="$RPID"
REDIS="redis://127.0.0.1:$RP"

# proxy SYSTEM PROXY-PORT NODE1-PORT NODE2-PORT: HAProxy by docs/cluster.md
proxy() {
    sed -n '/^```haproxy$/,/^```$/p' "$HERE/../docs/cluster.md" | sed '1d;$d' |
        sed "s/127.0.0.1:8080/127.0.0.1:$2/; s/127.0.0.1:8081/127.0.0.1:$3/;
             s/127.0.0.1:8082/127.0.0.1:$4/" >"$DIR/haproxy-$1.cfg"
    haproxy -f "$DIR/haproxy-$1.cfg" -db >"$DIR/haproxy-$1.log" 2>&1 &
    PIDS="$PIDS $!"
}

# ---- the Chorus cluster; each node's pid is $! after it starts
chorus_node() {
    "$CHORUS" serve --port "$1" --store "$PGURL/chorus_bench" --sync full \
        --bus "$REDIS" --ops-per-sec 1000000 --conns-per-ip 1000000 \
        --log-level warn >"$DIR/chorus-$1.log" 2>&1 &
    PIDS="$PIDS $!"
}
CX=$(free_port) C1=$(free_port) C2=$(free_port)
chorus_node "$C1"; CN1=$!
chorus_node "$C2"; CN2=$!
proxy chorus "$CX" "$C1" "$C2"

# ---- the ShareDB cluster
sharedb_node() {
    node "$PEER/server.js" "$1" "$PGURL/sharedb_bench" "$REDIS" sharedb-bench \
        >"$DIR/sharedb-$1.log" 2>&1 &
    PIDS="$PIDS $!"
}
SX=$(free_port) S1=$(free_port) S2=$(free_port)
sharedb_node "$S1"; SN1=$!
sharedb_node "$S2"; SN2=$!
proxy sharedb "$SX" "$S1" "$S2"

i=0
until curl -sf -o /dev/null "http://127.0.0.1:$C1/readyz" &&
      curl -sf -o /dev/null "http://127.0.0.1:$C2/readyz" &&
      curl -sf -o /dev/null "http://127.0.0.1:$S1/readyz" &&
      curl -sf -o /dev/null "http://127.0.0.1:$S2/readyz" &&
      curl -sf -o /dev/null "http://127.0.0.1:$CX/readyz" &&
      curl -sf -o /dev/null "http://127.0.0.1:$SX/readyz"; do
    i=$((i + 1))
    if [ $i -gt 150 ]; then
        echo "peers-cluster.bench: the clusters did not start" >&2
        tail -n 5 "$DIR"/*.log >&2
        exit 1
    fi
    sleep 0.1
done
# HAProxy marks a server up after two checks 1 s apart
sleep 2.5

# ---- what each run costs, per process and per op
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_cpu() { # the postmaster, the backends it reaped, and the live ones
    pm=$(head -n 1 "$PGDIR/data/postmaster.pid")
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
    for k in $(ps -o pid= --ppid "$pm"); do t=$((t + $(cpu_of "$k"))); done
    echo $t
}
pg_q() { psql -X -qtA "$PGURL/$1" -c "$2"; }
counters() { # counters SYSTEM: node1 node2 pg redis xacts wal-syncs redis-cmds ops
    if [ "$1" = chorus ]; then db=chorus_bench a=$CN1 b=$CN2
    else db=sharedb_bench a=$SN1 b=$SN2; fi
    echo "$(cpu_of "$a") $(cpu_of "$b") $(pg_cpu) $(cpu_of $RPID)" \
        "$(pg_q "$db" "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")" \
        "$(pg_q "$db" "SELECT wal_sync FROM pg_stat_wal")" \
        "$(redis-cli -p "$RP" info stats | awk -F: '/^total_commands_processed/ { print $2 + 0 }')" \
        "$(pg_q "$db" "SELECT count(*) FROM ops")"
}
report() { # report NAME "BEFORE" "AFTER" SECONDS
    awk -v n="$1" -v b="$2" -v a="$3" -v s="$4" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(b, x, " "); split(a, y, " ")
        ops = y[8] - x[8]
        printf "%s_node1_cpu: %.0f %%\n", n, 100 * (y[1] - x[1]) / hz / s
        printf "%s_node2_cpu: %.0f %%\n", n, 100 * (y[2] - x[2]) / hz / s
        printf "%s_postgres_cpu: %.0f %%\n", n, 100 * (y[3] - x[3]) / hz / s
        printf "%s_redis_cpu: %.0f %%\n", n, 100 * (y[4] - x[4]) / hz / s
        printf "%s_ops_committed: %d ops\n", n, ops
        if (ops > 0) {
            printf "%s_pg_xacts_per_op: %.2f\n", n, (y[5] - x[5]) / ops
            printf "%s_wal_fsyncs_per_op: %.2f\n", n, (y[6] - x[6]) / ops
            printf "%s_redis_cmds_per_op: %.2f\n", n, (y[7] - x[7]) / ops
        }
    }'
}

# run SYSTEM NAME WHERE LOADGEN-FLAGS...: WHERE is "proxy" (each client's
# document in the path, so HAProxy hashes it) or "split" (odd clients on
# node 2). Returns the load generator's status.
run() {
    sys=$1 name=$2 where=$3
    shift 3
    if [ "$sys" = chorus ]; then
        proto="--proto chorus" path=/ws px=$CX n1=$C1 n2=$C2
    else
        proto="--proto sharedb" path=/ n1=$S1 n2=$S2 px=$SX
    fi
    if [ "$where" = proxy ]; then
        ports="--port $px" path="$path?doc=%s"
    else
        ports="--port $n1 --port2 $n2"
    fi
    before=$(counters "$sys")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086 # $proto and $ports are several words
    "$LG" $proto $ports --path "$path" --doc-prefix "$sys-$name-" \
        --name "${sys}_$name" "$@" >"$OUT.run"
    rc=$?
    t1=$(date +%s.%N)
    sleep 1.2   # an idle PostgreSQL backend reports its statistics within 1 s
    cat "$OUT.run"
    cat "$OUT.run" >>"$OUT"
    report "${sys}_$name" "$before" "$(counters "$sys")" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" | tee -a "$OUT"
    for p in $PIDS; do
        kill -0 "$p" 2>/dev/null && continue
        echo "peers-cluster.bench: a server died; the logs:" >&2
        tail -n 5 "$DIR"/*.log >&2
        exit 1
    done
    return $rc
}

# 1. one document, closed loop, sticky through the proxy
for n in 10 50; do
    for sys in chorus sharedb; do
        run $sys closed_n$n proxy --mode closed --clients $n --warmup $W \
            --duration $T --procs $P || status=1
    done
done

# 2. one document, 200 authors split across the nodes, 2 keystrokes/s
for sys in chorus sharedb; do
    run $sys split200 split --mode paced --rate 2 --clients 200 --warmup $W \
        --duration $T --procs $P || status=1
done

# 3. the largest split N at 10 keystrokes/s with p99 ack under 100 ms:
# double from 10 (or halve, when 10 does not hold), then bisect twice between the last N that held and the
# first that did not (as bench/server.bench.sh does)
ok_at() { # ok_at SYSTEM N (a run past the limit failing is an answer)
    run "$1" "split10_n$2" split --mode paced --rate 10 --clients "$2" \
        --warmup $W --duration $T --window 100 --procs $P || return 1
    # p99 is over the ops acked: a node whose ops are never acked would not
    # show in it, so the acks must also keep up with the keystrokes (under
    # 100 ms at 10 keystrokes/s an op carries one keystroke)
    awk -v v="$(fig "$1_split10_n$2_ack_p99")" -v o="$(fig "$1_split10_n$2_ops_per_sec")" \
        -v k="$(fig "$1_split10_n$2_keystrokes_per_sec")" \
        'BEGIN { exit !(v != "" && o > 0 && o >= 0.9 * k && v < 100) }'
}
for sys in chorus sharedb; do
    good=0 bad=0 n=10
    while [ $n -le $MAXN ]; do
        if ok_at $sys $n; then good=$n; n=$((n * 2)); else bad=$n; break; fi
    done
    n=5
    while [ $good -eq 0 ] && [ $n -ge 1 ]; do  # or down, if 10 did not hold
        if ok_at $sys $n; then good=$n; else bad=$n; n=$((n / 2)); fi
    done
    if [ $bad -gt 0 ] && [ $good -gt 0 ]; then
        for step in 1 2; do
            mid=$(((good + bad) / 2))
            if ok_at $sys $mid; then good=$mid; else bad=$mid; fi
        done
    fi
    echo "${sys}_split10_max_authors: $good authors (first N over: ${bad:-none})" | tee -a "$OUT"
done

# 4. 1,000 documents x 2 authors through the proxy
for sys in chorus sharedb; do
    run $sys docs$DOCS proxy --mode paced --rate 2 --clients $((2 * DOCS)) \
        --docs $DOCS --warmup $W --duration $T --window 200 --procs $P || status=1
done

# ---- the table
costs() { # costs NAME LABEL: what the run cost, per process and per op
    peer_row "$2: node 1 CPU" "$1_node1_cpu" "%"
    peer_row "$2: node 2 CPU" "$1_node2_cpu" "%"
    peer_row "$2: PostgreSQL CPU" "$1_postgres_cpu" "%"
    peer_row "$2: Redis CPU" "$1_redis_cpu" "%"
    peer_row "$2: PostgreSQL xacts per op" "$1_pg_xacts_per_op" "n"
    peer_row "$2: WAL fsyncs per op" "$1_wal_fsyncs_per_op" "n"
    peer_row "$2: Redis commands per op" "$1_redis_cmds_per_op" "n"
}
echo
echo "| workload (both durable on PostgreSQL, Redis between two nodes) | Chorus | ShareDB | Chorus/ShareDB |"
echo "|---|---:|---:|---:|"
for n in 10 50; do
    peer_row "closed N=$n ops/s" closed_n${n}_ops_per_sec "ops/s"
    peer_row "closed N=$n ack p99" closed_n${n}_ack_p99 "ms"
    costs closed_n$n "closed N=$n"
done
peer_row "split 200 x 2/s ack p99" split200_ack_p99 "ms"
peer_row "split 200 x 2/s keystroke-to-remote p99" split200_k2r_p99 "ms"
costs split200 "split 200"
peer_row "largest split N at 10/s, p99 ack < 100 ms" split10_max_authors "authors"
peer_row "1,000 docs x 2 authors ack p99" docs${DOCS}_ack_p99 "ms"
costs docs$DOCS "1,000 docs"
echo
# the targets of issue 18, as ratios in this run
ratio() { awk -v c="$(fig "chorus_$1")" -v s="$(fig "sharedb_$1")" 'BEGIN { if (c != "" && s > 0) printf "%.2f", c / s; else print "n/a" }'; }
echo "closed_n10_chorus_over_sharedb: $(ratio closed_n10_ops_per_sec) x (target: at least 5)"
echo "closed_n50_chorus_over_sharedb: $(ratio closed_n50_ops_per_sec) x (target: at least 10)"
echo "split10_max_authors_chorus_over_sharedb: $(ratio split10_max_authors) x (target: at least 5)"
echo "split200_k2r_p99_chorus_over_sharedb: $(ratio split200_k2r_p99) (target: at most 0.33)"
exit $status
