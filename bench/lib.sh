# bench/lib.sh -- what the benchmark scripts share (sourced, not run).

# A free port below the ephemeral range (32768-60999 here): a port the
# kernel picks may be taken again at once by the load generator's sockets.
free_port() {
    /usr/bin/python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# make_loadgen NAME: the load generator, by the Makefile's own rule; sets LG.
make_loadgen() {
    LG=$BUILD/bench/loadgen/loadgen
    make -s BUILD="$BUILD" "$LG" ||
        { echo "$1: cannot build the load generator" >&2; exit 1; }
}

# wait_ready NAME CMD...: wait (up to 10 s) until CMD succeeds while the
# server $SPID runs; else print its log and return 1. (sh has no local
# variables: the names here must not be the callers'.)
wait_ready() {
    wr_who=$1
    shift
    wr_i=0
    until "$@"; do
        wr_i=$((wr_i + 1))
        if [ $wr_i -gt 100 ] || ! kill -0 $SPID 2>/dev/null; then
            echo "$wr_who: the server did not start" >&2
            cat "$DATA/server.log" >&2
            return 1
        fi
        sleep 0.1
    done
}

# start_chorus NAME: a fresh durable Chorus ($CHORUS) on a free port with
# its own data directory, limits out of the way; sets SPID, PORT, DATA.
start_chorus() {
    PORT=$(free_port)
    DATA=$(mktemp -d /tmp/chorus-bench.XXXXXX)
    "$CHORUS" serve --port "$PORT" --data "$DATA" --sync full \
        --ops-per-sec 1000000 --conns-per-ip 1000000 --log-level warn \
        >"$DATA/server.log" 2>&1 &
    SPID=$!
    wait_ready "$1" curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics"
}

# stop_server NAME: stop the server $SPID and remove $DATA; when it had
# died on its own, print the end of its log and set status=1.
stop_server() {
    if kill -0 $SPID 2>/dev/null; then
        kill -TERM $SPID
        wait $SPID
    else
        wait $SPID
        echo "$1: the server died (exit status $?); its log:" >&2
        tail -5 "$DATA/server.log" >&2
        status=1
    fi
    rm -rf "$DATA"
}

# fig NAME: the last value printed for figure NAME in $OUT (the run's lines).
fig() { awk -v k="$1:" '$1 == k { v = $2 } END { print v }' "$OUT"; }

# peer_row LABEL FIGURE UNIT: one row of a table of Chorus beside ShareDB:
# chorus_FIGURE, sharedb_FIGURE (from $OUT) and their ratio.
peer_row() {
    pr_c=$(fig "chorus_$2") pr_s=$(fig "sharedb_$2")
    awk -v l="$1" -v c="$pr_c" -v s="$pr_s" -v u="$3" 'BEGIN {
        r = (c != "" && s != "" && s + 0 > 0) ? sprintf("%.2f x", c / s) : "n/a"
        printf "| %-40s | %10s | %10s | %8s |\n", l " (" u ")", (c == "" ? "failed" : c), (s == "" ? "failed" : s), r }'
}
