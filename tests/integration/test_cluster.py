"""Cluster mode on one machine: two nodes sharing one store, with Redis
pub/sub between them (issue 17). The store here is one SQLite file that
both nodes open (SQLite's WAL lets two processes share it; the PostgreSQL
store is the shared store across machines): what is tested is the nodes'
side, which is the same for both stores: a version taken by the other
node is caught up, relayed, and the node's own ops are transformed and
committed after it; nothing is acked before its commit; Redis is only a
hint, so edits go on with Redis killed, restarted or absent at start."""
import asyncio
import json
import os
import random
import subprocess
import time

from chorus_test import (BIN, Client, OTClient, Redis, Server, http_get,
                         random_op, run)


async def joined(node, doc, name):
    c = await Client.connect(node, name=name)
    await c.join(doc)
    m = await c.expect("joined")
    return OTClient(c, doc, m["text"], m["version"])


async def pump(oc, t=0.01):
    while True:
        try:
            m = await oc.c.recv(t)
        except asyncio.TimeoutError:
            return
        if m.get("type") in ("presence", "title"):
            continue
        await oc.handle(m)


def doc_state(node, doc):
    info = json.loads(http_get(node.url + "/api/docs/" + doc)[2])
    text = http_get(node.url + "/api/docs/%s/text" % doc)[2].decode()
    return info["version"], text


async def edit_and_converge(nodes, clients, doc, rng, steps, pause=0.01,
                            during=None):
    async def worker(oc, wrng):
        for i in range(steps):
            await oc.edit(random_op(wrng, oc.text))
            await asyncio.sleep(wrng.random() * pause)
            await pump(oc)
            if during and i == steps // 2 and oc is clients[0]:
                during()

    try:
        await asyncio.gather(*(worker(oc, random.Random(rng.random()))
                               for oc in clients))
    except AssertionError:
        for n in nodes:
            print("---- node log:\n" + n.log())
        raise
    deadline = time.time() + 30
    while True:
        for oc in clients:
            await pump(oc, 0.02)
        states = [doc_state(n, doc) for n in nodes]
        v, text = states[0]
        if (all(s == states[0] for s in states) and
                all(oc.synced and oc.version == v for oc in clients)):
            break
        assert time.time() < deadline, (states, [(oc.version, oc.synced)
                                                 for oc in clients])
    for oc in clients:
        assert oc.text == text, (oc.text, text)
    return v, text


def metrics(node):
    out = {}
    for line in http_get(node.url + "/metrics")[2].decode().splitlines():
        if line and not line.startswith("#") and " " in line:
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def check_store(data):
    """chorus check: versions 1..V without a gap, every snapshot replays,
    no (client, seq) twice (a unique index), nothing inconsistent."""
    r = subprocess.run([BIN, "check", "--data", data], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


async def test_two_nodes_one_document_clients_split_converge():
    rng = random.Random(int(os.environ.get("CHORUS_SEED", "17")))
    with Redis() as redis, \
            Server("--bus", redis.url, "--ops-per-sec", "100000") as n1, \
            Server("--bus", redis.url, "--ops-per-sec", "100000",
                   data=n1.data) as n2:
        clients = []
        for i in range(6):
            clients.append(await joined((n1, n2)[i % 2], "conv", "u%d" % i))
        v, text = await edit_and_converge((n1, n2), clients, "conv", rng, 30)
        assert v >= 30
        # a late joiner on either node sees the same
        for n in (n1, n2):
            oc = await joined(n, "conv", "late")
            assert oc.text == text and oc.version == v
        check_store(n1.data)
        # both nodes heard the other's ops on the bus, and took versions the
        # other had taken (the clients' edits raced)
        for n in (n1, n2):
            m = metrics(n)
            assert m["chorus_bus_up"] == 1, m
            assert m["chorus_bus_received_total"] > 0, m
            assert m["chorus_remote_ops_total"] > 0, m
        assert sum(metrics(n)["chorus_conflicts_total"] for n in (n1, n2)) > 0


async def test_edits_go_on_with_redis_absent_killed_and_back():
    rng = random.Random(int(os.environ.get("CHORUS_SEED", "18")))
    redis = Redis(start=False)                  # absent at start
    try:
        with Server("--bus", redis.url) as n1, \
                Server("--bus", redis.url, data=n1.data) as n2:
            clients = [await joined((n1, n2)[i % 2], "d", "u%d" % i)
                       for i in range(4)]
            await edit_and_converge((n1, n2), clients, "d", rng, 12, 0.05)
            redis.start()                       # back: resubscribed
            await asyncio.sleep(1.5)
            await edit_and_converge((n1, n2), clients, "d", rng, 12, 0.02)
            # killed under load, then restarted
            v, text = await edit_and_converge((n1, n2), clients, "d", rng, 20,
                                              0.02, during=redis.kill9)
            redis.start()
            await asyncio.sleep(1.5)
            v, text = await edit_and_converge((n1, n2), clients, "d", rng, 10)
            assert "bus redis://" in n1.log() and "down" in n1.log()
            assert metrics(n1)["chorus_store_polls_total"] > 0
            check_store(n1.data)
    finally:
        redis.close()


async def test_an_op_taken_by_the_other_node_is_acked_after_its_own_commit():
    """Without Redis the nodes learn of each other only from the store:
    node 2 commits first, node 1's op conflicts, is caught up, transformed
    and acked with the version after the other node's."""
    redis = Redis(start=False)
    try:
        with Server("--bus", redis.url) as n1, \
                Server("--bus", redis.url, data=n1.data) as n2:
            a = await joined(n1, "t", "ann")
            b = await joined(n2, "t", "bob")
            await b.edit(["B"])
            while not b.synced:
                await pump(b, 0.05)
            await a.edit(["A"])                 # made on version 0
            deadline = time.time() + 10
            while not (a.synced and b.version == 2):
                await pump(a, 0.05)
                await pump(b, 0.05)
                assert time.time() < deadline
            assert a.version == 2 and a.text == b.text == "BA", (a.text, b.text)
            assert doc_state(n1, "t") == doc_state(n2, "t") == (2, "BA")
    finally:
        redis.close()


async def test_teams_across_nodes_login_on_one_act_on_the_other_revoke_within_a_second():
    """A login on node 1 works on node 2 (the key that signs tokens is in the
    shared store); a role taken away on node 1 is refused on node 2 within
    about a second (every node polls the store's auth generation)."""
    from test_auth import call, team_server, token_of
    from test_security_rights import edit, join, taken_away, ws_with
    with Redis() as redis, team_server("--bus", redis.url) as n1, \
            Server("--auth", "on", "--bus", redis.url, data=n1.data) as n2:
        olga, eddie = token_of(n1, "olga"), token_of(n1, "eddie")
        assert call(n2, "POST", "/api/docs", olga, {"id": "d"}) == 201
        assert call(n2, "PUT", "/api/docs/d/roles", olga,
                    {"user": "eddie", "role": "editor"}) == 200
        c = await ws_with(n2, eddie, "eddie-1")   # logged in on node 1
        v = (await join(c, "d"))["version"]
        v = await edit(c, "d", v, 1, "e")
        t0 = time.monotonic()
        assert call(n1, "PUT", "/api/docs/d/roles", olga,
                    {"user": "eddie", "role": "none"}) == 200
        how, secs = await taken_away(c, "d", bound=3.0)
        assert how[0] == "error", how
        print("  revoked on node 1, refused on node 2 after %.2f s"
              % (time.monotonic() - t0))
        await c.join("d")
        await c.error("forbidden")
        assert call(n2, "POST", "/api/logout", eddie) in (200, 204)
        st = call(n1, "GET", "/api/docs/d", eddie)
        assert st == 401, st


if __name__ == "__main__":
    run(globals())
