#!/bin/sh
# ab.sh -- two server binaries side by side on the figures a change to the
# inside of the server must not move: closed loop at N = 10, 500 authors x
# 2 keystrokes/s, and memory per idle connection. Each workload runs ROUNDS
# times (default 3) alternating A and B, each run on a fresh durable server,
# so both see the same machine at nearly the same moment (it is shared and
# noisy: compare the pairs, not absolute figures).
#
#   sh bench/ab.sh OLD_BINARY NEW_BINARY      (not part of make bench)
#
# Prints `name: value unit` lines with the label a or b, then each figure's
# medians.
BUILD=${BUILD:-build}
A=${1:?usage: ab.sh A_BINARY B_BINARY}
B=${2:?usage: ab.sh A_BINARY B_BINARY}
ROUNDS=${ROUNDS:-3}
status=0
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
. "$(dirname "$0")/lib.sh"
make_loadgen ab
OUT=$(mktemp /tmp/chorus-ab.XXXXXX)

one() { # one LABEL BINARY NAME LOADGEN-FLAGS...
    label=$1 CHORUS=$2 name=$3
    shift 3
    start_chorus ab || { status=1; return 1; }
    "$LG" --port "$PORT" --server-pid $SPID --name "$name" "$@" |
        sed "s/^/$label /" | tee -a "$OUT"
    stop_server ab
}

i=0
while [ $i -lt "$ROUNDS" ]; do
    for l in a b; do
        bin=$A; [ $l = b ] && bin=$B
        one $l "$bin" closed_n10 --mode closed --clients 10 --warmup 1 \
            --duration 5 --procs 2
        one $l "$bin" paced2_n500 --mode paced --rate 2 --clients 500 \
            --warmup 1 --duration 5 --procs 2
        one $l "$bin" idle --mode idle --clients 10000 --docs 1000 \
            --duration 2 --window 500 \
            --src 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4
    done
    i=$((i + 1))
done

echo "== medians over $ROUNDS rounds"
for f in closed_n10_ops_per_sec closed_n10_ack_p99 paced2_n500_ack_p99 \
         idle_mem_per_conn; do
    for l in a b; do
        awk -v l=$l -v k="$f:" '$1 == l && $2 == k { print $3 }' "$OUT" |
            sort -n | awk -v l=$l -v f=$f '{ v[NR] = $1 }
                END { if (NR) print l " " f ": " v[int((NR + 1) / 2)] }'
    done
done
rm -f "$OUT"
exit $status
