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
