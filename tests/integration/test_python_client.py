"""The Python client (clients/python, issue 20) against the real server:
two clients edit one document concurrently and converge; a third edit comes
over HTTP meanwhile; the example bot answers /time; a connection killed
before its ack is reopened and its op resent, applied exactly once; errors
raise ChorusError with the protocol's code. (The same clients with a
Chromium page: tests/browser/python_client.test.mjs.)"""
import asyncio
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "examples"))

import chorus_client  # noqa: E402
from chorus_client import ops  # noqa: E402
from chorus_test import Server, http_get, run  # noqa: E402

CHARS = ["a", "b", " ", "\n", "한", "👋", "e\u0301"]


def text_of(s, doc):
    st, h, b = http_get(s.url + "/api/docs/%s/text" % doc)
    assert st == 200, (st, b)
    return b.decode()


async def random_edits(doc, rng, n):
    for _ in range(n):
        t = doc.text
        pos = rng.randint(0, len(t))
        if t and rng.random() < 0.3:
            await doc.delete(min(pos, len(t) - 1), rng.randint(1, min(3, len(t) - min(pos, len(t) - 1))))
        else:
            await doc.insert(pos, "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 3))))
        if rng.random() < 0.3:
            await doc.set_cursor(rng.randint(0, len(doc.text)))
        await asyncio.sleep(rng.random() * 0.005)


async def settle(docs, s, doc_id):
    for d in docs:
        await d.synced(timeout=10)
    final = text_of(s, doc_id)
    for _ in range(100):
        if all(d.text == final for d in docs):
            break
        await asyncio.sleep(0.05)
    assert all(d.text == final for d in docs), [d.text for d in docs] + [final]
    return final


async def test_two_python_clients_converge():
    rng = random.Random(20)
    with Server() as s:
        async with chorus_client.connect(s.ws_url, name="one") as a, \
                chorus_client.connect(s.url, name="two") as b:
            da, db = await a.join("d"), await b.join("d")
            await asyncio.gather(random_edits(da, rng, 150), random_edits(db, rng, 150))
            final = await settle([da, db], s, "d")
            assert da.version == db.version
            assert final == da.text


async def test_the_bot_answers_time():
    import bot
    with Server() as s:
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(bot.run(s.ws_url, "d", 0.001, ready.set))
        await asyncio.wait_for(ready.wait(), 10)
        async with chorus_client.connect(s.ws_url, name="ann") as c:
            doc = await c.join("d")
            await doc.insert(0, "hello\n/time\nbye\n")
            for _ in range(200):
                if " -> " in doc.text:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            lines = doc.text.split("\n")
            assert lines[0] == "hello" and lines[2] == "bye", doc.text
            assert lines[1].startswith("/time -> ") and len(lines[1]) == len("/time -> 12:34:56"), lines
            seen = [p for p in doc.presence.values() if p.get("user", {}).get("name") == "time-bot"]
            assert seen, "the bot's presence was never seen"
        task.cancel()


async def test_a_connection_killed_before_its_ack_is_resent_once():
    with Server() as s:
        async with chorus_client.connect(s.ws_url, name="k") as c, \
                chorus_client.connect(s.ws_url, name="watch") as w:
            doc, other = await c.join("d"), await w.join("d")
            for i in range(12):
                await doc.insert(len(doc.text), "<%d>" % i)
                c.ws.transport.abort()  # gone before the ack (or just after)
                await doc.synced(timeout=10)
            expect = "".join("<%d>" % i for i in range(12))
            assert doc.text == expect
            assert text_of(s, "d") == expect  # each op exactly once
            await other.synced()
            for _ in range(100):
                if other.text == expect:
                    break
                await asyncio.sleep(0.05)
            assert other.text == expect


async def test_an_op_refused_for_the_rate_limit_is_sent_again():
    with Server("--ops-per-sec", "2") as s:
        async with chorus_client.connect(s.ws_url, name="fast") as c:
            doc = await c.join("d")
            for i in range(30):
                await doc.insert(len(doc.text), "%d," % i)
                await asyncio.sleep(0.02)
            await doc.synced(timeout=30)
            expect = "".join("%d," % i for i in range(30))
            assert doc.text == expect and text_of(s, "d") == expect


async def test_errors_raise_with_the_protocols_code():
    with Server("--auth", "on") as s:
        try:
            await chorus_client.connect(s.ws_url, token="nope")
            raise AssertionError("a bad token was accepted")
        except chorus_client.ChorusError as e:
            assert e.code == "unauthorized"
    assert ops.parse('[-1,"x"]') == ["x", -1]  # the client normalises as the server


if __name__ == "__main__":
    run(globals())
