"""Cluster mode behind HAProxy (issue 17): the configuration of
docs/cluster.md in front of two nodes that share one store (PostgreSQL,
and one SQLite file: every test runs on both), with Redis between them.
One document's clients land on one node (/ws?doc=); a node killed with
kill -9 under load: its clients reconnect through the proxy to the other
node, rejoin with their version and resend their op in flight with the
same seq; no acknowledged op is lost, none is applied twice, and everyone
converges. /readyz follows PostgreSQL."""
import asyncio
import json
import os
import random
import sqlite3
import time

import websockets

from chorus_test import (HAProxy, Nodes, Redis, Server, apply, compose,
                         http_get, random_op, run, shared_pg, take_remote,
                         variants)


class Resuming:
    """The Jupiter client of chorus_test.OTClient, plus what a real client
    does when its connection drops: reconnect (through the proxy), rejoin
    with its version, take its own op among the catch-up as its ack, and
    resend the op in flight with the same seq."""

    def __init__(self, proxy, doc, client):
        self.proxy, self.doc, self.client = proxy, doc, client
        self.ws = None
        self.text, self.version = "", 0
        self.inflight = None          # (seq, op, made on version)
        self.buffer = None
        self.seq = 0
        self.acked = {}               # seq -> version
        self.joined = False
        self.reconnects = 0
        self.moved = False

    async def connect(self):
        url = "%s?doc=%s" % (self.proxy.ws_url, self.doc)
        while True:
            self.pending = []
            try:
                self.ws = await websockets.connect(
                    url, subprotocols=["chorus.v1"], close_timeout=1,
                    max_size=None)
                await self.send({"type": "hello", "client": self.client,
                                 "name": self.client})
                while (await self.recv_one(5))["type"] != "welcome":
                    pass
                join = {"type": "join", "doc": self.doc}
                if self.joined:
                    join["version"] = self.version
                await self.send(join)
                self.joined = False
                while not self.joined:
                    await self.handle(await self.recv_one(5))
                return
            except (OSError, websockets.WebSocketException,
                    asyncio.TimeoutError):
                self.reconnects += 1
                await asyncio.sleep(0.1)
                self.joined = self.version > 0 or self.inflight is not None

    async def send(self, m):
        await self.ws.send(json.dumps(m, ensure_ascii=False))

    async def recv_one(self, timeout):
        if getattr(self, "pending", None):
            return self.pending.pop(0)
        data = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if isinstance(data, list):
            self.pending = data[1:]
            return data[0]
        return data

    async def edit(self, op):
        self.text = apply(self.text, op)
        if self.inflight is None:
            await self._send(op)
        elif self.buffer is None:
            self.buffer = op
        else:
            self.buffer = compose(self.buffer, op)

    async def _send(self, op):
        self.seq += 1
        self.inflight = (self.seq, op)
        await self._resend()

    async def _resend(self):
        s, op = self.inflight
        try:
            await self.send({"type": "op", "doc": self.doc,
                             "version": self.version, "seq": s, "op": op})
        except websockets.WebSocketException:
            pass                        # the pump reconnects and resends

    async def _acked(self, seq, version):
        assert self.inflight and seq == self.inflight[0], (seq, self.inflight)
        assert seq not in self.acked, seq
        self.acked[seq] = version
        self.version = version
        self.inflight = None
        if self.buffer is not None:
            op, self.buffer = self.buffer, None
            await self._send(op)

    async def handle(self, m):
        t = m.get("type")
        if t == "joined":
            if "text" in m:
                self.text, self.version = m["text"], m["version"]
            assert m["version"] == self.version, (m, self.version)
            self.joined = True
            if self.inflight:
                await self._resend()
        elif t == "ack":
            await self._acked(m["seq"], m["version"])
        elif t == "op":
            if (self.inflight and m["client"] == self.client and
                    m["seq"] == self.inflight[0]):
                assert m["version"] == self.version + 1, (m, self.version)
                await self._acked(m["seq"], m["version"])  # from a catch-up
                return
            take_remote(self, m)
        elif t == "error":
            raise AssertionError("server error: %r" % m)

    async def pump(self, t=0.01):
        while True:
            try:
                m = await self.recv_one(t)
            except asyncio.TimeoutError:
                return
            except websockets.WebSocketException:
                self.joined = True      # rejoin with the version we have
                self.moved = True
                await self.connect()
                continue
            await self.handle(m)

    @property
    def synced(self):
        return self.inflight is None and self.buffer is None


def test_readyz_answers_while_the_store_answers():
    with Server() as s:
        st, h, body = http_get(s.url + "/readyz",
                               headers={"Host": "anything.example"})
        assert st == 200 and json.loads(body) == {"ready": True}, (st, body)
        assert http_get(s.url + "/healthz")[0] == 200


def connections(node):
    for line in http_get(node.url + "/metrics")[2].decode().splitlines():
        if line.startswith("chorus_connections "):
            return int(line.split()[1])
    return -1


def stored_ops(ns, doc):
    """(version, client, seq) of every stored op of 'doc', in order."""
    if ns.kind == "pg":
        rows = shared_pg().sql("SELECT o.version, o.client, o.seq FROM ops o"
                               " JOIN documents d ON d.num = o.doc WHERE"
                               " d.id = '%s' ORDER BY o.version" % doc, ns.store)
        return [(int(v), c, int(q)) for v, c, q in rows]
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(ns.store, "chorus.db"),
                          uri=True)
    rows = con.execute("SELECT o.version, o.client, o.seq FROM ops o JOIN"
                       " documents d ON d.num = o.doc WHERE d.id = ?"
                       " ORDER BY o.version", (doc,)).fetchall()
    con.close()
    return rows


async def converge(clients, node, doc):
    deadline = time.time() + 30
    while True:
        for c in clients:
            await c.pump(0.02)
        info = json.loads(http_get(node.url + "/api/docs/" + doc)[2])
        if all(c.synced and c.version == info["version"] for c in clients):
            text = http_get(node.url + "/api/docs/%s/text" % doc)[2].decode()
            for c in clients:
                assert c.text == text, (c.text, text)
            return info["version"], text
        assert time.time() < deadline, [(c.version, c.synced) for c in clients]


async def _one_documents_clients_land_on_one_node_and_converge(kind):
    rng = random.Random(int(os.environ.get("CHORUS_SEED", "21")))
    with Redis() as redis, \
            Nodes(kind, "--bus", redis.url, "--ops-per-sec", "100000") as ns, \
            HAProxy([ns.n1.port, ns.n2.port]) as proxy:
        n1, n2 = ns.n1, ns.n2
        clients = [Resuming(proxy, "sticky", "c%d" % i) for i in range(6)]
        for c in clients:
            await c.connect()
        counts = sorted([connections(n1), connections(n2)])
        assert counts == [0, 6], counts
        for step in range(20):
            for c in clients:
                await c.edit(random_op(rng, c.text))
            await asyncio.sleep(rng.random() * 0.01)
            for c in clients:
                await c.pump(0.001)
        await converge(clients, n1, "sticky")


async def _kill_9_a_node_under_load_loses_no_acked_op_and_applies_none_twice(kind):
    rng = random.Random(int(os.environ.get("CHORUS_SEED", "22")))
    with Redis() as redis, \
            Nodes(kind, "--bus", redis.url, "--ops-per-sec", "100000") as ns, \
            HAProxy([ns.n1.port, ns.n2.port]) as proxy:
        n1, n2 = ns.n1, ns.n2
        docs = ["k%d" % i for i in range(4)]
        clients = [Resuming(proxy, docs[i % 4], "c%d" % i) for i in range(12)]
        for c in clients:
            await c.connect()
        assert connections(n1) > 0 and connections(n2) > 0, \
            (connections(n1), connections(n2))
        victim, survivor = (n1, n2) if connections(n1) else (n2, n1)
        stop = time.time() + 4
        killed = False
        while time.time() < stop:
            for c in clients:
                await c.edit(random_op(rng, c.text))
            for c in clients:
                await c.pump(0.001)
            if not killed and time.time() > stop - 3:
                victim.kill9()
                killed = True
            await asyncio.sleep(0.005)
        for d in docs:
            await converge([c for c in clients if c.doc == d], survivor, d)
        assert connections(survivor) == len(clients), connections(survivor)
        moved = sum(1 for c in clients if c.moved)
        print("  %d clients moved to the other node; %d ops acked"
              % (moved, sum(len(c.acked) for c in clients)))
        assert moved > 0
        for d in docs:
            rows = stored_ops(ns, d)
            assert [v for v, _, _ in rows] == list(range(1, len(rows) + 1))
            seen = set()
            for v, client, seq in rows:
                assert (client, seq) not in seen, (client, seq)  # never twice
                seen.add((client, seq))
            for c in clients:
                if c.doc != d:
                    continue
                for seq, v in c.acked.items():   # every acked op is stored
                    assert (v, c.client, seq) in rows, (c.client, seq, v)
                mine = [s for _, cl, s in rows if cl == c.client]
                assert sorted(mine) == sorted(c.acked), (c.client, mine)


def test_readyz_on_postgresql_follows_the_store():
    """/readyz answers 503 while PostgreSQL is down (the proxy then sends
    nobody there), /healthz stays 200, and 200 again once it is back."""
    pg = shared_pg()
    with Server("--store", pg.new_db()) as s:
        assert http_get(s.url + "/readyz")[0] == 200
        import threading
        t = threading.Thread(target=pg.restart, args=(3,))
        t.start()
        time.sleep(1.0)
        st, h, body = http_get(s.url + "/readyz")
        assert st == 503 and json.loads(body)["ready"] is False, (st, body)
        assert http_get(s.url + "/healthz")[0] == 200
        t.join()
        deadline = time.time() + 10
        while http_get(s.url + "/readyz")[0] != 200:
            assert time.time() < deadline, "not ready again"
            time.sleep(0.2)


for _fn in (_one_documents_clients_land_on_one_node_and_converge,
            _kill_9_a_node_under_load_loses_no_acked_op_and_applies_none_twice):
    variants(globals(), _fn)


if __name__ == "__main__":
    run(globals())
