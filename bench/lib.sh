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
