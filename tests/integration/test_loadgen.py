"""The load generator (bench/loadgen) against the real binary, briefly: its
own WebSocket framing (upgrade, masked frames out, frames of every length
class in) and each mode must work, or every benchmark figure is wrong.
Nothing here measures speed; `make bench` does."""
import json
import os
import re
import subprocess
import time

from chorus_test import BIN, Server, http_get, run

LOADGEN = os.path.join(os.path.dirname(BIN), "bench", "loadgen", "loadgen")


def loadgen(server, *args, timeout=120):
    p = subprocess.run([LOADGEN, "--port", str(server.port), "--server-pid", str(server.proc.pid),
                        "--name", "t"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "loadgen exited %d: %s" % (p.returncode, p.stderr)
    figs = {}
    for line in p.stdout.splitlines():
        m = re.match(r"t_(\w+): ([0-9.]+)", line)
        if m:
            figs[m.group(1)] = float(m.group(2))
    return figs


def doc_text(s, doc):
    st, _, body = http_get(s.url + "/api/docs/%s/text" % doc)
    assert st == 200, st
    return body.decode()


def settled_version(s, doc):
    """The document's version once two reads 200 ms apart agree."""
    last = None
    for _ in range(50):
        st, _, body = http_get(s.url + "/api/docs/" + doc)
        assert st == 200, st
        version = json.loads(body)["version"]
        if version == last:
            return version
        last = version
        time.sleep(0.2)
    raise AssertionError("the version of %s did not settle: %s" % (doc, last))


def test_closed_loop_commits_what_it_counts():
    with Server("--ops-per-sec", "100000") as s:
        f = loadgen(s, "--mode", "closed", "--clients", 3, "--warmup", 0.3,
                    "--duration", 1, "--doc-prefix", "lgc")
        assert f["ops_per_sec"] > 0 and f["ack_p50"] > 0, f
        # every op inserted one letter; the document holds every one of them.
        # The generator exits with up to one op a client still in flight,
        # which the server commits after it: wait for the version to settle.
        version = settled_version(s, "lgc0")
        assert version >= f["ops_per_sec"] * 0.5, (version, f)
        text = doc_text(s, "lgc0")
        assert len(text) == version and re.fullmatch("[a-z]*", text), (len(text), version)


def test_paced_authors_see_each_other_and_long_frames_pass():
    # the prefill is one 70,000-character op (a frame past 65,535 bytes out),
    # and the later clients' "joined" carries it back (the same in)
    with Server("--ops-per-sec", "100000") as s:
        f = loadgen(s, "--mode", "paced", "--rate", 20, "--clients", 4, "--warmup", 0.3,
                    "--duration", 1, "--prefill", 70000, "--doc-prefix", "lgp")
        assert f["ops_per_sec"] > 0 and f["k2r_samples"] > 0, f
        text = doc_text(s, "lgp0")
        assert len(text) >= 70000 + f["ops_per_sec"] * 0.5, len(text)


def test_idle_connections_are_counted():
    with Server("--conns-per-ip", "1000") as s:
        f = loadgen(s, "--mode", "idle", "--clients", 40, "--docs", 4, "--duration", 0.5)
        assert f["connections"] == 40, f
        assert "mem_per_conn" in f, f


if __name__ == "__main__":
    run(globals())
