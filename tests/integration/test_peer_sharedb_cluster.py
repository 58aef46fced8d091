"""The ShareDB cluster that `make bench-peers-cluster` measures Chorus
against (bench/peers/sharedb-cluster: sharedb 7 on sharedb-postgres and
sharedb-redis-pubsub, two processes, HAProxy in front) must really work,
or the comparison means nothing: ops of one document's authors split
across the two processes reach each other through Redis, every acked op is
in PostgreSQL in version order, and documents are reached through the
proxy by the same configuration as Chorus's. Nothing here measures speed."""
import os
import re
import subprocess
import time

from chorus_test import BIN, ROOT, HAProxy, Redis, free_port, http_get, run, shared_pg

LOADGEN = os.path.join(os.path.dirname(BIN), "bench", "loadgen", "loadgen")
PEER = os.path.join(ROOT, "bench", "peers", "sharedb-cluster")


def install():
    if not os.path.isdir(os.path.join(PEER, "node_modules", "sharedb-postgres")):
        subprocess.run(["npm", "ci", "--prefix", PEER, "--no-audit", "--no-fund",
                        "--loglevel=error"], check=True, capture_output=True)


class ShareDBCluster:
    """PostgreSQL (a fresh database with sharedb-postgres's tables), Redis,
    two server.js processes and HAProxy."""

    def __init__(self):
        install()
        self.pg = shared_pg()
        self.db = self.pg.new_db()
        with open(os.path.join(PEER, "node_modules", "sharedb-postgres",
                               "structure.sql")) as f:
            self.pg.sql(f.read(), self.db)
        self.redis = Redis()
        self.ports = [free_port(), free_port()]
        self.procs = []
        for p in self.ports:
            self.procs.append(subprocess.Popen(
                ["node", os.path.join(PEER, "server.js"), str(p), self.db,
                 self.redis.url, "sharedb-test"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for proc in self.procs:
            line = proc.stdout.readline()
            assert line.startswith("listening"), line
        self.proxy = HAProxy(self.ports)
        # HAProxy marks a server up after two health checks (/readyz), 1 s apart
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if http_get(self.proxy.url + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)

    def close(self):
        self.proxy.close()
        for proc in self.procs:
            proc.terminate()
            proc.wait()
        self.redis.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def loadgen(*args):
    p = subprocess.run([LOADGEN, "--proto", "sharedb", "--name", "t"] +
                       [str(a) for a in args], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, "loadgen exited %d: %s" % (p.returncode, p.stderr)
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^t_(\w+): ([0-9.]+)", p.stdout, re.M)}


def stored(c, doc):
    """(snapshot version, snapshot text, the ops' versions in order)."""
    snap = c.pg.sql("SELECT version, data #>> '{}' FROM snapshots "
                    "WHERE collection = 'docs' AND doc_id = '%s'" % doc, c.db)
    ops = c.pg.sql("SELECT version FROM ops WHERE collection = 'docs' AND "
                   "doc_id = '%s' ORDER BY version" % doc, c.db)
    return int(snap[0][0]), snap[0][1], [int(r[0]) for r in ops]


def test_split_authors_reach_each_other_and_every_acked_op_is_stored():
    with ShareDBCluster() as c:
        f = loadgen("--port", c.ports[0], "--port2", c.ports[1], "--path", "/",
                    "--doc-prefix", "split-", "--mode", "paced", "--rate", 5,
                    "--clients", 6, "--warmup", 0.5, "--duration", 1.5)
        # odd authors on the second process: their keystrokes reached the
        # first one's authors (and back) through Redis
        assert f["ops_per_sec"] > 0 and f["k2r_samples"] > 0, f
        time.sleep(0.5)   # the last ops in flight when the generator stopped
        version, text, ops = stored(c, "split-0")
        # sharedb-postgres stores an op under the version it made: 1 is the
        # create op (an empty text, which sharedb-postgres 5.0.1 reads back
        # as no data: server.js gives it back), then one op a version, none
        # missing, up to the snapshot's
        assert ops == list(range(1, version + 1)), (version, ops[:5], ops[-5:])
        assert re.fullmatch("[a-z]+", text), text
        assert version - 1 >= f["ops_per_sec"] * 1.5 * 0.5, (version, f)


def test_documents_are_reached_through_the_proxy_by_chorus_configuration():
    with ShareDBCluster() as c:
        f = loadgen("--port", c.proxy.port, "--path", "/?doc=%s",
                    "--doc-prefix", "px-", "--docs", 3, "--mode", "closed",
                    "--clients", 6, "--warmup", 0.3, "--duration", 1)
        assert f["ops_per_sec"] > 0, f
        time.sleep(0.5)
        for d in range(3):
            version, text, ops = stored(c, "px-%d" % d)
            assert ops == list(range(1, version + 1)), (d, version, ops[:5])
            assert version > 1 and re.fullmatch("[a-z]+", text), (d, text)


if __name__ == "__main__":
    run(globals())
