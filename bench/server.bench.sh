#!/bin/sh
# server.bench.sh -- the Chorus server under load, measured by bench/loadgen
# (issue 5). Every workload gets a fresh durable server (--sync full: an op
# is acked only after its commit reached the disk) on a free loopback port
# with its own temporary --data dir; the load generator runs on the same
# machine. Workloads (docs/benchmarks.md explains each):
#   closed_nN    one document, N clients closed-loop (N = 1, 10, 50)
#   paced2_n500  one document, 500 authors typing 2 keystrokes/s each
#   paced10_nN   one document at 10 keystrokes/s per author, N searched
#   idle         10,000 idle connections over 1,000 documents
# Prints `name: value unit` lines; exits 1 when a workload could not run
# (then its reason and the server's last log lines are on stderr).
# CHORUS_BENCH_QUICK=1 shortens every run (for trying the script out).
BUILD=${BUILD:-build}
CHORUS=${CHORUS_BIN:-$BUILD/chorus}
status=0

# 10,000 connections need 10,000 descriptors on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

if [ "${CHORUS_BENCH_QUICK:-0}" = 1 ]; then W=0.5 T=2 IDLE_N=1000 IDLE_D=100
else W=1 T=5 IDLE_N=10000 IDLE_D=1000; fi
# Load generator processes for N > 1: at 500 authors one process needs a
# whole core just to take in the broadcasts (LG_PROCS overrides).
P=${LG_PROCS:-2}

. "$(dirname "$0")/lib.sh"   # make_loadgen, start_chorus, stop_server, fig
make_loadgen server.bench

# run NAME LOADGEN-FLAGS...: one workload against a fresh server; its
# figures go to stdout and to $OUT (for the summary).
OUT=$(mktemp /tmp/chorus-bench-out.XXXXXX)
run() {
    name=$1
    shift
    start_chorus server.bench || { status=1; return 1; }
    "$LG" --port "$PORT" --server-pid $SPID --name "$name" "$@" >"$OUT.run"
    rc=$?
    cat "$OUT.run"
    cat "$OUT.run" >>"$OUT"
    stop_server server.bench
    if [ $rc -ne 0 ]; then
        echo "server.bench: workload $name failed" >&2
        status=1
        return 1
    fi
}

pct_of() { # pct_of VALUE TARGET
    awk -v v="$1" -v t="$2" 'BEGIN { if (v == "") print "n/a"; else printf "%.0f\n", 100 * v / t }'
}

# ---- one document, closed loop
for n in 1 10 50; do
    procs=$P
    [ $n -lt $P ] && procs=1
    run closed_n$n --mode closed --clients $n --warmup $W --duration $T --procs $procs
done

# ---- one document, 500 authors x 2 keystrokes/s
run paced2_n500 --mode paced --rate 2 --clients 500 --warmup $W --duration $T --procs $P

# ---- the largest N at 10 keystrokes/s with p99 ack < 50 ms: double from
# 100 (or halve, when 100 does not hold), then bisect twice between the last
# N that held and the first that did not.
ok_at() { # ok_at N: run it; true when it completed with p99 ack < 50 ms
    # (a run past the limit failing is the search's answer, not an error)
    keep=$status
    run paced10_n$1 --mode paced --rate 10 --clients $1 --warmup $W \
        --duration $T --window 100 --procs $P
    rc=$?
    status=$keep
    [ $rc -eq 0 ] || return 1
    awk -v v="$(fig paced10_n$1_ack_p99)" -v o="$(fig paced10_n$1_ops_per_sec)" \
        'BEGIN { exit !(v != "" && o > 0 && v < 50) }'
}
good=0 bad=0 n=100
while [ $n -le 3200 ]; do            # up from 100 while it holds
    if ok_at $n; then good=$n; n=$((n * 2)); else bad=$n; break; fi
done
n=50
while [ $good -eq 0 ] && [ $n -ge 10 ]; do  # or down, if 100 did not
    if ok_at $n; then good=$n; else bad=$n; n=$((n / 2)); fi
done
if [ $bad -gt 0 ] && [ $good -gt 0 ]; then
    for step in 1 2; do
        mid=$(((good + bad) / 2))
        if ok_at $mid; then good=$mid; else bad=$mid; fi
    done
fi

# ---- idle connections: server memory per connection
run idle --mode idle --clients $IDLE_N --docs $IDLE_D --duration 2 \
    --window 500 --src 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4

# ---- the summary against the targets of issue 5
echo "closed_n1_of_target: $(pct_of "$(fig closed_n1_ops_per_sec)" 3500) % (target 3500 ops/s)"
echo "closed_n10_of_target: $(pct_of "$(fig closed_n10_ops_per_sec)" 25000) % (target 25000 ops/s)"
echo "closed_n50_of_target: $(pct_of "$(fig closed_n50_ops_per_sec)" 50000) % (target 50000 ops/s)"
echo "paced10_max_authors: $good authors (p99 ack < 50 ms; first N over: ${bad:-none})"
rm -f "$OUT" "$OUT.run"
exit $status
