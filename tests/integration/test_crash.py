"""Durability against the real binary (issue 4): clients submit ops as fast
as they can, the server is killed with SIGKILL at a random moment, and after
a restart every op that was acked is in the log exactly once, no op is half
stored, the text holds each acked edit once, and `chorus check` is clean.
Repeated with several seeds; several documents and clients."""
import asyncio
import os
import random
import sqlite3
import subprocess

import websockets

from chorus_test import BIN, Client, Server, http_get, run

SEEDS = [int(x) for x in os.environ.get("CHORUS_CRASH_SEEDS", "1,2,3,4,5").split(",")]
DOCS = ["crash-a", "crash-b"]
CLIENTS_PER_DOC = 3


async def hammer(s, doc, cid, acked, sent):
    """Closed loop: insert a unique token at the start, wait for the ack."""
    try:
        c = await Client.connect(s, client=cid)
        await c.join(doc)
        m = await c.expect("joined")
        version, seq = m["version"], 0
        while True:
            seq += 1
            token = "<%s:%d>" % (cid, seq)
            sent.append((doc, cid, seq, token))
            await c.send({"type": "op", "doc": doc, "version": version, "seq": seq,
                          "op": [token]})
            while True:
                m = await c.recv(10)
                if m["type"] == "op":
                    version = m["version"]
                elif m["type"] == "ack":
                    version = m["version"]
                    acked.append((doc, cid, seq, token, m["version"]))
                    break
                elif m["type"] == "error":
                    raise AssertionError(m)
    except (websockets.exceptions.ConnectionClosed, OSError, asyncio.TimeoutError):
        return


async def one_round(seed):
    rng = random.Random(seed)
    s = Server("--ops-per-sec", "1000000", "--snapshot-every", "50")
    try:
        acked, sent = [], []
        tasks = [asyncio.ensure_future(hammer(s, d, "c%d-%s-%d" % (seed, d[-1], i), acked, sent))
                 for d in DOCS for i in range(CLIENTS_PER_DOC)]
        await asyncio.sleep(0.3 + rng.random() * 1.2)
        s.kill9()
        await asyncio.gather(*tasks)
        assert len(acked) > 20, "too few acks before the kill: %d" % len(acked)
        db = os.path.join(s.data, "chorus.db")
        con = sqlite3.connect(db)
        con.execute("PRAGMA query_only = 1")
        # the log as the restarted server will see it (WAL included)
        rows = con.execute("SELECT d.id, o.client, o.seq, o.version FROM ops o "
                           "JOIN documents d ON d.num = o.doc" if _has_num(con) else
                           "SELECT doc, client, seq, version FROM ops").fetchall()
        con.close()
        stored = {}
        for doc, client, seq, version in rows:
            key = (doc, client, seq)
            assert key not in stored, "stored twice: %r" % (key,)
            stored[key] = version
        for doc, cid, seq, token, version in acked:
            assert stored.get((doc, cid, seq)) == version, \
                "acked op lost or moved: %r" % ((doc, cid, seq, version),)
        s.start()
        for doc in DOCS:
            st, h, body = http_get(s.url + "/api/docs/%s/text" % doc)
            text = body.decode()
            for d, cid, seq, token in sent:
                if d != doc:
                    continue
                n = text.count(token)
                if (d, cid, seq) in stored:
                    assert n == 1, (token, n)
                else:
                    assert n == 0, (token, n)  # not stored: not half there either
        s.stop()
        p = subprocess.run([BIN, "check", "--data", s.data], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        return len(acked)
    finally:
        s.close()


def _has_num(con):
    cols = [r[1] for r in con.execute("PRAGMA table_info(documents)")]
    return "num" in cols


async def test_kill_9_under_load_loses_no_acked_op():
    total = 0
    for seed in SEEDS:
        total += await one_round(seed)
    print("   %d acked ops checked over %d kills" % (total, len(SEEDS)))


if __name__ == "__main__":
    run(globals())
