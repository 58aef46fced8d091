"""The server on PostgreSQL (issue 17, its foundation): `chorus serve
--store postgresql://...` keeps its whole state in a throwaway PostgreSQL 15
(chorus_test.Postgres) and keeps the guarantees it has on SQLite:

- two clients editing one document (Hangul, emoji, combining marks) converge
  with the server, the log holds versions 1..V with no gap and no (client,
  seq) twice, and `chorus check --store` is clean;
- kill -9 of the server under load, then a restart: every acked op is in
  PostgreSQL exactly once, and nothing half stored;
- the server's PostgreSQL connections killed (pg_terminate_backend) again
  and again under load, and PostgreSQL itself restarted under load: no ack
  without a commit, clients are told server_error (or wait), rejoin and
  resend, and everything resumes;
- two nodes on one PostgreSQL database with the Redis bus converge;
- `chorus copy` moves a team deployment (texts, history, the trash, users,
  password hashes, tokens, roles) SQLite -> PostgreSQL -> SQLite, checked;
- `chorus backup` on PostgreSQL says it is pg_dump's job and fails.

Skipped (one line saying so) only when PostgreSQL is not installed."""
import asyncio
import atexit
import json
import os
import random
import shutil
import subprocess
import tempfile
import time

import websockets

from chorus_test import (BIN, Client, Postgres, Redis, Server, apply, http, http_get,
                         run, transform)

PG = None


def pg():
    global PG
    if PG is None:
        PG = Postgres()
        atexit.register(PG.close)
    return PG


def text_of(s, doc):
    st, h, body = http_get(s.url + "/api/docs/%s/text" % doc)
    assert st == 200, (st, body)
    return body.decode("utf-8")


def check(url):
    p = subprocess.run([BIN, "check", "--store", url], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def log_is_whole(url, doc):
    """Versions 1..V without a gap, V the document's, no (client, seq) twice."""
    rows = pg().sql("SELECT o.version, o.client, o.seq FROM ops o JOIN documents d"
                    " ON d.num = o.doc WHERE d.id = '%s' ORDER BY o.version" % doc, url)
    versions = [int(r[0]) for r in rows]
    assert versions == list(range(1, len(versions) + 1)), "gap in %r" % versions[:50]
    keys = [(r[1], r[2]) for r in rows]
    assert len(set(keys)) == len(keys), "a (client, seq) twice"
    head = int(pg().sql("SELECT version FROM documents WHERE id = '%s'" % doc, url)[0][0])
    assert head == len(versions), (head, len(versions))
    return {(r[1], int(r[2])): int(r[0]) for r in rows}


PIECES = ["한글", "\U0001F600", "e\u0301", "ab", "\U0001F469\u200D\U0001F4BB", "가"]


def random_op(rng, text):
    n = len(text)
    pos = rng.randrange(n + 1)
    if n and rng.random() < 0.3:
        k = min(rng.randrange(1, 4), n - pos)
        if k:
            return ([pos] if pos else []) + [-k]
    return ([pos] if pos else []) + [rng.choice(PIECES)]


class Retry(Exception):
    pass


class Peer:
    """A client that survives errors and drops: one op in flight; after a
    server_error (or a not_joined for an op that crossed one) or a lost
    connection it drops the connection, opens a new one and rejoins with
    its version (its own op in the catch-up counts as the ack), then
    resends the op in flight with the same seq (docs/protocol.md). A new
    connection leaves no stale message of the old one behind."""

    def __init__(self, s, doc, cid):
        self.s, self.doc, self.cid = s, doc, cid
        self.c, self.text, self.version = None, "", 0
        self.inflight, self.seq, self.acked, self.errors = None, 0, [], 0

    async def connect(self, resume=False):
        for attempt in range(100):
            try:
                if self.c is not None and self.c.ws.transport is not None:
                    self.c.ws.transport.abort()
                self.c = await Client.connect(self.s, client=self.cid)
                await self.join(resume)
                return
            except (OSError, websockets.exceptions.ConnectionClosed,
                    asyncio.TimeoutError, Retry):
                await asyncio.sleep(0.05 * min(attempt + 1, 10))
        raise AssertionError("%s could not connect" % self.cid)

    async def join(self, resume):
        msg = {"type": "join", "doc": self.doc}
        if resume:
            msg["version"] = self.version
        await self.c.send(msg)
        while True:
            m = await self.c.recv(30)
            if m["type"] == "joined":
                if "text" in m:
                    self.text = m["text"]
                self.version = m["version"]
                break
            await self.handle(m)
        if self.inflight:
            await self.send_inflight()

    async def send_inflight(self):
        await self.c.send({"type": "op", "doc": self.doc, "version": self.version,
                           "seq": self.inflight[0], "op": self.inflight[1]})

    async def edit(self, op):
        assert self.inflight is None
        self.text = apply(self.text, op)
        self.seq += 1
        self.inflight = (self.seq, op)
        await self.send_inflight()

    async def handle(self, m):
        t = m.get("type")
        if t == "op" and m.get("client") == self.cid and self.inflight \
                and m["seq"] == self.inflight[0]:
            t = "ack"
        if t == "ack":
            assert self.inflight and m["seq"] == self.inflight[0], (self.cid, m)
            self.acked.append((self.inflight[0], m["version"]))
            self.version = m["version"]
            self.inflight = None
        elif t == "op":
            assert m["version"] == self.version + 1, (self.cid, m, self.version)
            op = m["op"]
            if self.inflight:
                s, f = self.inflight
                self.inflight = (s, transform(f, op, "right"))
                op = transform(op, f, "left")
            self.text = apply(self.text, op)
            self.version = m["version"]
        elif t == "error":
            # server_error: a commit or a load failed, the join ended;
            # not_joined: an op that crossed it. Anything else is a bug.
            assert m.get("code") in ("server_error", "not_joined"), (self.cid, m)
            self.errors += 1
            raise Retry()

    async def pump(self, until):
        while not until():
            try:
                await self.handle(await self.c.recv(30))
            except (OSError, websockets.exceptions.ConnectionClosed, Retry):
                await self.connect(resume=True)


async def edit_loop(p, rng, n, delay):
    for _ in range(n):
        await p.edit(random_op(rng, p.text))
        await p.pump(lambda: p.inflight is None)
        await asyncio.sleep(rng.random() * delay)


async def settle(s, doc, peers):
    st, h, body = http_get(s.url + "/api/docs/%s" % doc)
    final = json.loads(body)["version"]
    await asyncio.gather(*(p.pump(lambda p=p: p.version >= final) for p in peers))
    text = text_of(s, doc)
    for p in peers:
        assert p.text == text, (p.cid, p.text, text)
    return final, text


def acked_are_stored(peers, stored):
    for p in peers:
        for seq, version in p.acked:
            assert stored.get((p.cid, seq)) == version, \
                "acked op lost or moved: %r" % ((p.cid, seq, version),)


async def test_two_clients_edit_hangul_and_emoji_on_postgresql():
    url = pg().new_db()
    rng = random.Random(17)
    with Server("--store", url) as s:
        doc = "pg-together"
        peers = [Peer(s, doc, "pg-a"), Peer(s, doc, "pg-b")]
        for p in peers:
            await p.connect()
        await asyncio.gather(*(edit_loop(p, random.Random(rng.random()), 60, 0.02)
                               for p in peers))
        final, text = await settle(s, doc, peers)
        assert final == 120, final
        stored = log_is_whole(url, doc)
        acked_are_stored(peers, stored)
        assert "orphan" not in text
    out = check(url)
    assert ": ok" in out, out
    print("   %d ops, text of %d code points, check: %s" % (final, len(text), out.strip()))


async def hammer(s, doc, cid, acked):
    """Closed loop: a unique token at the start, wait for its ack."""
    try:
        c = await Client.connect(s, client=cid)
        await c.join(doc)
        version = (await c.expect("joined"))["version"]
        seq = 0
        while True:
            seq += 1
            await c.send({"type": "op", "doc": doc, "version": version, "seq": seq,
                          "op": ["<%s:%d>" % (cid, seq)]})
            while True:
                m = await c.recv(10)
                if m["type"] in ("op", "ack"):
                    version = m["version"]
                if m["type"] == "ack":
                    acked.append((cid, seq, m["version"]))
                    break
                assert m["type"] != "error", m
    except (websockets.exceptions.ConnectionClosed, OSError, asyncio.TimeoutError):
        return


async def test_kill_9_on_postgresql_loses_no_acked_op():
    url = pg().new_db()
    docs = ["pg-kill-a", "pg-kill-b"]
    s = Server("--store", url, "--ops-per-sec", "1000000", "--snapshot-every", "50")
    try:
        acked = []
        tasks = [asyncio.ensure_future(hammer(s, d, "k%s%d" % (d[-1], i), acked))
                 for d in docs for i in range(3)]
        await asyncio.sleep(1.5)
        s.kill9()
        await asyncio.gather(*tasks)
        assert len(acked) > 20, "too few acks before the kill: %d" % len(acked)
        stored = {}
        for d in docs:
            for k, v in log_is_whole(url, d).items():
                stored[(d,) + k] = v
        for cid, seq, version in acked:
            d = "pg-kill-" + cid[1]
            assert stored.get((d, cid, seq)) == version, (d, cid, seq, version)
        s.start()
        for d in docs:
            text = text_of(s, d)
            for (doc, cid, seq) in stored:
                if doc == d:
                    assert text.count("<%s:%d>" % (cid, seq)) == 1, (cid, seq)
        s.stop()
        check(url)
        print("   %d acked ops before the kill, %d stored" % (len(acked), len(stored)))
    finally:
        s.close()


N_TERM = 150


async def test_killed_postgresql_connections_under_load_lose_nothing():
    url = pg().new_db()
    dbname = url.rsplit("/", 1)[1]
    rng = random.Random(5)
    with Server("--store", url, "--ops-per-sec", "1000000") as s:
        doc = "pg-terminate"
        peers = [Peer(s, doc, "pg-t%d" % i) for i in range(3)]
        for p in peers:
            await p.connect()
        stop, kills = [], [0]

        async def killer():
            while not stop:
                await asyncio.sleep(0.03 + rng.random() * 0.07)
                rows = await asyncio.get_running_loop().run_in_executor(
                    None, pg().sql, "SELECT count(pg_terminate_backend(pid)) FROM"
                    " pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()"
                    % dbname)
                kills[0] += int(rows[0][0])

        k = asyncio.ensure_future(killer())
        t0 = time.time()
        await asyncio.gather(*(edit_loop(p, random.Random(rng.random()), N_TERM, 0)
                               for p in peers))
        stop.append(1)
        await k
        final, text = await settle(s, doc, peers)
        elapsed = time.time() - t0
        stored = log_is_whole(url, doc)
        acked_are_stored(peers, stored)
        assert final == 3 * N_TERM and len(stored) == final, (final, len(stored))
        errors = sum(p.errors for p in peers)
        assert kills[0] > 3, kills
        # the server still serves, on new connections
        st, h, body = http_get(s.url + "/api/docs/%s" % doc)
        assert st == 200
    check(url)
    print("   %d ops through %d killed connections in %.1fs: %d server_error/rejoins"
          % (final, kills[0], elapsed, errors))


async def test_postgresql_restarted_under_load_loses_nothing():
    """PostgreSQL stopped (fast: every session cut), down a second, started
    again, twice, while three clients edit: they are told server_error or
    wait, then everything resumes and nothing acked is lost."""
    url = pg().new_db()
    rng = random.Random(9)
    with Server("--store", url, "--ops-per-sec", "1000000") as s:
        doc = "pg-restart"
        peers = [Peer(s, doc, "pg-r%d" % i) for i in range(3)]
        for p in peers:
            await p.connect()
        done = []

        async def restarter():
            loop = asyncio.get_running_loop()
            for _ in range(2):
                await asyncio.sleep(0.5)
                await loop.run_in_executor(None, pg().restart, 1)

        r = asyncio.ensure_future(restarter())
        t0 = time.time()
        await asyncio.gather(*(edit_loop(p, random.Random(rng.random()), 60, 0.03)
                               for p in peers))
        await r
        final, text = await settle(s, doc, peers)
        stored = log_is_whole(url, doc)
        acked_are_stored(peers, stored)
        assert final == 180 and len(stored) == 180, (final, len(stored))
        errors = sum(p.errors for p in peers)
    check(url)
    print("   180 ops across 2 restarts of PostgreSQL in %.1fs: %d server_error/rejoins"
          % (time.time() - t0, errors))


def cli(*args, stdin=None):
    p = subprocess.run([BIN] + list(args), input=stdin, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def bearer(token):
    return {"Authorization": "Bearer " + token}


def team_state(s, root, bot):
    """What a copy must keep, read over HTTP: texts, the trash, logins."""
    st, h, body = http("POST", s.url + "/api/login",
                       {"name": "root", "password": "root-pass-1"})
    assert st == 200, body                       # password hashes moved
    st, h, body = http("GET", s.url + "/api/docs", headers=bearer(root))
    assert st == 200, body                       # an old login token too
    docs = sorted(d["id"] for d in json.loads(body))
    st, h, body = http("GET", s.url + "/api/trash", headers=bearer(root))
    trash = sorted((d["id"], d["version"]) for d in json.loads(body))
    texts = {}
    for d in docs:
        st, h, body = http("GET", s.url + "/api/docs/%s/text" % d, headers=bearer(bot))
        assert st == 200, (d, st, body)          # the bot's API token and role
        texts[d] = (body.decode(), {k.lower(): v for k, v in h.items()}.get("etag"))
    return docs, trash, texts


def test_copy_moves_a_deployment_to_postgresql_and_back():
    tmp = tempfile.mkdtemp(prefix="chorus-copy-")
    d1, d2 = os.path.join(tmp, "d1"), os.path.join(tmp, "d2")
    try:
        assert cli("user", "add", "root", "--admin", "--data", d1,
                   stdin="root-pass-1\n")[0] == 0
        assert cli("user", "add", "bot", "--data", d1, stdin="bot-pass-12\n")[0] == 0
        rc, out = cli("token", "create", "--user", "bot", "--data", d1)
        assert rc == 0, out
        bot = out.split()[0]
        with Server("--auth", "on", data=d1) as s:
            st, h, body = http("POST", s.url + "/api/login",
                               {"name": "root", "password": "root-pass-1"})
            root = json.loads(body)["token"]
            for i, text in enumerate(["한글 텍스트 😀", "e\u0301 caf\u00e9", "gone"]):
                d = "copy%d" % i
                st, h, body = http("PUT", s.url + "/api/docs/%s/text" % d, text.encode(),
                                   headers=dict(bearer(root), **{
                                       "Content-Type": "text/plain; charset=utf-8"}))
                assert st in (200, 201), (st, body)
                st, h, body = http("PUT", s.url + "/api/docs/%s/roles" % d,
                                   {"user": "bot", "role": "editor"}, headers=bearer(root))
                assert st == 200, (st, body)
            st, h, body = http("DELETE", s.url + "/api/docs/copy2", headers=bearer(root))
            assert st == 200, body
            before = team_state(s, root, bot)
        url = pg().new_db()
        rc, out = cli("copy", "--from", d1, "--to", url)
        assert rc == 0 and ": ok" in out, out
        with Server("--auth", "on", "--store", url) as s:
            assert team_state(s, root, bot) == before
        rc, out = cli("copy", "--from", url, "--to", d2)
        assert rc == 0 and ": ok" in out, out
        with Server("--auth", "on", data=d2) as s:
            assert team_state(s, root, bot) == before
        rc, out = cli("copy", "--from", d1, "--to", d2)   # not into a used store
        assert rc != 0 and "not empty" in out, out
        assert cli("check", "--data", d2)[0] == 0
        print("   %d documents (%d in the trash), users, tokens and roles: SQLite ->"
              " PostgreSQL -> SQLite" % (len(before[0]) + len(before[1]), len(before[1])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def test_two_nodes_on_one_postgresql_converge():
    """Issue 17's first cluster test on the real shared store: two nodes on
    one PostgreSQL database with the Redis bus between them, six clients
    split across them, random concurrent edits with Hangul, emoji and
    combining marks: every client and both nodes end with the same text;
    versions 1..V without a gap, no (client, seq) twice; check clean."""
    from test_cluster import edit_and_converge, joined, metrics
    url = pg().new_db()
    rng = random.Random(23)
    with Redis() as redis, \
            Server("--store", url, "--bus", redis.url, "--ops-per-sec", "100000") as n1, \
            Server("--store", url, "--bus", redis.url, "--ops-per-sec", "100000") as n2:
        clients = [await joined((n1, n2)[i % 2], "conv", "u%d" % i) for i in range(6)]
        v, text = await edit_and_converge((n1, n2), clients, "conv", rng, 30)
        assert v >= 30, v
        assert len(log_is_whole(url, "conv")) == v
        conflicts = sum(metrics(n)["chorus_conflicts_total"] for n in (n1, n2))
    check(url)
    print("   %d ops from 6 clients on 2 nodes, %d conflicts between the nodes"
          % (v, conflicts))


def test_backup_on_postgresql_says_use_pg_dump():
    url = pg().new_db()
    with Server("--store", url):
        pass
    p = subprocess.run([BIN, "backup", "--store", url, "/tmp/chorus-never.db"],
                       capture_output=True, text=True)
    assert p.returncode != 0, p.stdout
    assert "pg_dump" in p.stderr + p.stdout, p.stderr


if __name__ == "__main__":
    if not Postgres.available():
        print("skipped: PostgreSQL 15 is not installed (tools/deps.sh test installs it)")
        print("0 passed, 0 failed")
    else:
        run(globals())
