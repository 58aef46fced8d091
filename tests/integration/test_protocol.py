"""chorus.v1 against the real server (issue 5): every error code, the
connection and document left as the contract says, concurrency with
convergence, resend after a dropped ack, catch-up, presence, malformed
frames, limits, and the HTTP API."""
import asyncio
import base64
import json
import os
import random
import socket
import struct
import time

import websockets

from chorus_test import (Client, OTClient, Server, apply, http, http_get, random_op,
                         random_text, run, transform)


async def joined(s, doc, **kw):
    c = await Client.connect(s, **kw)
    await c.join(doc)
    m = await c.expect("joined")
    return c, m


async def commit(c, doc, version, seq, op):
    await c.send({"type": "op", "doc": doc, "version": version, "seq": seq, "op": op})
    return await c.expect("ack")


def text_of(s, doc, version=None):
    url = s.url + "/api/docs/%s/text" % doc
    if version is not None:
        url += "?version=%d" % version
    st, h, body = http_get(url)
    assert st == 200, (st, body)
    return body.decode()


# ---- errors ------------------------------------------------------------------

async def test_hello_required_before_anything_else():
    with Server() as s:
        c = await Client.connect(s, hello=False)
        await c.join("d")
        await c.error("hello_required")
        await c.send({"type": "hello", "client": "late"})
        await c.expect("welcome")  # the connection is still usable
        await c.join("d")
        await c.expect("joined")


async def test_bad_json_and_bad_message_keep_the_connection():
    with Server() as s:
        c, _ = await joined(s, "d")
        for frame, code in (("nonsense", "bad_json"), ("{\"type\":", "bad_json"),
                            ('{"type":"op","type":"op"}', "bad_json"),  # duplicate keys
                            ("[1,2]", "bad_message"), ('"str"', "bad_message"),
                            ('{"no":"type"}', "bad_message"),
                            ('{"type":"fly"}', "bad_message"),
                            ('{"type":"hello","client":"again"}', "bad_message"),
                            ('{"type":"join","doc":"d","version":-1}', "bad_message"),
                            ('{"type":"op","doc":"d","version":0,"op":["x"]}', "bad_message"),
                            ('{"type":"op","doc":"d","seq":1,"op":["x"]}', "bad_message"),
                            ('{"type":"presence","doc":"d","version":0}', "bad_message"),
                            ('{"type":"presence","doc":"d","version":0,"cursor":{"anchor":-1,"head":0}}', "bad_message"),
                            ("[" * 5000 + "]" * 5000, "bad_json")):
            await c.send(frame)
            await c.error(code)
        await c.ws.send(b"\x00\x01binary")
        await c.error("bad_message")
        assert (await commit(c, "d", 0, 1, ["ok"]))["version"] == 1
        assert text_of(s, "d") == "ok"


async def test_hello_checks_client_and_name():
    with Server() as s:
        for hello in ({"type": "hello"}, {"type": "hello", "client": ""},
                      {"type": "hello", "client": "x" * 65},
                      {"type": "hello", "client": "a b"},
                      {"type": "hello", "client": "ok", "name": 5},
                      {"type": "hello", "client": "ok", "name": "n" * 65}):
            c = await Client.connect(s, hello=False)
            await c.send(hello)
            await c.error("bad_message")
            await c.close()
        c = await Client.connect(s, client="abc", name="Zoë 👋")
        assert c.welcome["user"]["name"] == "Zoë 👋"
        assert c.welcome["user"]["color"].startswith("#")
        assert c.welcome["client"] == "abc"
        assert c.welcome["limits"]["max_message"] == 1048576


async def test_bad_doc_ids_are_refused():
    with Server() as s:
        c = await Client.connect(s)
        for doc in ("", ".hidden", "a/b", "../etc", "x" * 65, "sp ace", "é", 5, None):
            await c.send({"type": "join", "doc": doc})
            await c.error("bad_doc_id")
        await c.join("A-z_0.9")
        await c.expect("joined")
        st, h, body = http_get(s.url + "/api/docs")
        assert [d["id"] for d in json.loads(body)] == ["A-z_0.9"]


async def test_not_joined():
    with Server() as s:
        c = await Client.connect(s)
        await c.send({"type": "op", "doc": "d", "version": 0, "seq": 1, "op": ["x"]})
        m = await c.error("not_joined")
        assert m["doc"] == "d" and m["seq"] == 1
        await c.send({"type": "presence", "doc": "d", "version": 0, "cursor": None})
        await c.error("not_joined")
        await c.send({"type": "leave", "doc": "d"})
        await c.error("not_joined")


async def test_bad_ops_are_refused_and_change_nothing():
    with Server() as s:
        c, _ = await joined(s, "d")
        await commit(c, "d", 0, 1, ["abc"])
        for seq, op in enumerate(([0], [1.5], [""], [2, -5], [10, "x"], [4], [1, -1, 2], "str", [[1]],
                                  [2 ** 31 + 1], [-(2 ** 40)], [{"a": 1}], [True]), start=2):
            await c.send({"type": "op", "doc": "d", "version": 1, "seq": seq, "op": op})
            m = await c.error("bad_op")
            assert m["seq"] == seq and m["doc"] == "d", m
        await c.send('{"type":"op","doc":"d","version":1,"seq":50,"op":["\\ud800"]}')
        await c.error("bad_json")  # a lone surrogate escape is not valid JSON text
        assert text_of(s, "d") == "abc"
        assert (await commit(c, "d", 1, 51, [3, "d"]))["version"] == 2
        assert text_of(s, "d") == "abcd"


async def test_delete_then_insert_is_refused_naming_the_rule():
    # A client that writes [-1,"x"] does not normalise as the server does and
    # would place concurrent inserts differently: refused on its first edit.
    with Server() as s:
        c, _ = await joined(s, "d")
        await commit(c, "d", 0, 1, ["abc"])
        for seq, op in enumerate(([-1, "x"], [1, -1, "x"], ["y", -1, "x"], [-1, -1, "p", 1]), start=2):
            await c.send({"type": "op", "doc": "d", "version": 1, "seq": seq, "op": op})
            m = await c.error("bad_op")
            assert m["seq"] == seq and "inserts go before deletes" in m["message"], m
        assert text_of(s, "d") == "abc"
        assert (await commit(c, "d", 1, 9, [1, "x", -1]))["version"] == 2
        assert text_of(s, "d") == "axc"


async def test_version_ahead_and_too_old():
    with Server("--history-window", "16") as s:
        c, _ = await joined(s, "d")
        await c.send({"type": "op", "doc": "d", "version": 5, "seq": 1, "op": ["x"]})
        await c.error("version_ahead")
        for v in range(40):
            await commit(c, "d", v, v + 1, ["x"])
        await c.send({"type": "op", "doc": "d", "version": 1, "seq": 100, "op": ["y"]})
        m = await c.error("too_old")
        assert m["seq"] == 100
        assert text_of(s, "d") == "x" * 40
        # a join from an old version still catches up, from storage
        d, _ = await joined(s, "other")
        await d.join("d", version=3)
        ops = [await d.expect("op") for _ in range(37)]
        assert [o["version"] for o in ops] == list(range(4, 41))
        assert (await d.expect("joined"))["version"] == 40


async def test_rate_limited():
    with Server("--ops-per-sec", "5") as s:
        c, _ = await joined(s, "d")
        for i in range(30):
            await c.send({"type": "op", "doc": "d", "version": 0, "seq": i + 1, "op": ["x"]})
        acks = limited = 0
        for _ in range(30):
            m = await c.recv()
            if m["type"] == "ack":
                acks += 1
            elif m["type"] == "error" and m["code"] == "rate_limited":
                limited += 1
        assert limited >= 15 and acks >= 5, (acks, limited)
        assert len(text_of(s, "d")) == acks


async def test_docs_per_connection_limit():
    with Server("--docs-per-conn", "2") as s:
        c = await Client.connect(s)
        for d in ("a", "b"):
            await c.join(d)
            await c.expect("joined")
        await c.join("c")
        await c.error("rate_limited")
        await c.send({"type": "leave", "doc": "a"})
        await c.join("c")
        await c.expect("joined")


async def test_too_large_closes_with_1009_and_500kb_paste_works():
    with Server("--max-message", "4096") as s:
        c, _ = await joined(s, "d")
        await c.send({"type": "op", "doc": "d", "version": 0, "seq": 1, "op": ["x" * 5000]})
        await c.error("too_large")
        try:
            await c.recv(5)
            raise AssertionError("expected close")
        except websockets.exceptions.ConnectionClosed as e:
            assert e.code == 1009, e.code
        assert text_of(s, "d") == ""
    with Server() as s:
        c, _ = await joined(s, "d")
        paste = "한글 👋 text " * 31000  # 527 KB of UTF-8
        assert len(paste.encode()) > 500000
        ack = await commit(c, "d", 0, 1, [paste])
        assert ack["version"] == 1 and text_of(s, "d") == paste


def raw_ws(port):
    """A WebSocket by hand, to send what well-behaved libraries refuse to."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chorus.v1\r\n\r\n"
                  % (port, key)).encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        resp += sock.recv(4096)
    assert b" 101 " in resp.split(b"\r\n")[0], resp
    return sock


def frame(payload, opcode=1, fin=True):
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_close_code(sock):
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    i = 0
    while i + 2 <= len(data):  # walk the frames to the close frame
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n = struct.unpack(">H", data[i:i + 2])[0]
            i += 2
        elif n == 127:
            n = struct.unpack(">Q", data[i:i + 8])[0]
            i += 8
        if op == 8:
            return struct.unpack(">H", data[i:i + 2])[0]
        i += n
    return None


def test_invalid_utf8_closes_with_1007():
    with Server() as s:
        sock = raw_ws(s.port)
        sock.sendall(frame(b'{"type":"hello","client":"\xc3\x28"}'))
        assert read_close_code(sock) == 1007
        sock.close()
        assert http_get(s.url + "/healthz")[0] == 200


def test_fragmented_messages_are_reassembled_and_bounded():
    with Server("--max-message", "4096") as s:
        sock = raw_ws(s.port)
        msg = json.dumps({"type": "hello", "client": "frag", "name": "F"}).encode()
        parts = [msg[i:i + 1] for i in range(len(msg))]  # 1-byte fragments
        out = b""
        for i, p in enumerate(parts):
            out += frame(p, opcode=1 if i == 0 else 0, fin=i == len(parts) - 1)
        sock.sendall(out)
        data = sock.recv(65536)
        assert b'"welcome"' in data, data
        # many small fragments adding up past the limit: too_large, 1009
        big = b""
        for i in range(10):
            big += frame(b"x" * 1000, opcode=1 if i == 0 else 0, fin=False)
        sock.sendall(big)
        assert read_close_code(sock) == 1009
        sock.close()


def test_slow_consumer_is_closed_with_1008_others_keep_going():
    async def main(s):
        slow = raw_ws(s.port)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(frame(json.dumps({"type": "hello", "client": "slow"}).encode()))
        slow.sendall(frame(json.dumps({"type": "join", "doc": "d"}).encode()))
        w, _ = await joined(s, "d")
        big = "y" * 100000
        v = 0
        for i in range(120):  # 12 MB of broadcasts the slow one never reads
            # (each op replaces the text of the one before: the document
            # stays under its size limit, --max-doc-chars)
            op = [big] if i == 0 else ["yz"[i % 2] * 100000, -100000]
            v = (await commit(w, "d", v, i + 1, op))["version"]
        await asyncio.sleep(0.5)
        st, h, body = http_get(s.url + "/metrics")
        assert b"chorus_connections_closed_slow_total 1" in body, body
        slow.close()
        assert (await commit(w, "d", v, 1000, ["z"]))["version"] == v + 1

    with Server("--queue-bytes", "65536") as s:
        asyncio.run(main(s))


async def test_hello_timeout_and_pre_hello_bound():
    with Server("--hello-timeout", "1") as s:
        c = await Client.connect(s, hello=False)
        await c.error("hello_required", timeout=5)
        try:
            await c.recv(5)
        except websockets.exceptions.ConnectionClosed as e:
            assert e.code == 1008
        c = await Client.connect(s, hello=False)
        try:
            for _ in range(9):  # the 9th passes 8 KB: nothing after it
                await c.send('{"type":"noise","pad":"%s"}' % ("p" * 1000))
        except websockets.exceptions.ConnectionClosed:
            pass
        codes = []
        try:
            while True:
                m = await c.recv(5)
                codes.append(m.get("code"))
        except websockets.exceptions.ConnectionClosed as e:
            assert e.code == 1009, e.code
        assert "too_large" in codes


async def test_server_error_on_disk_full_then_recovery():
    import subprocess, tempfile
    mnt = tempfile.mkdtemp(prefix="chorus-full-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", mnt]).returncode:
        raise AssertionError("cannot mount a tmpfs (needs root)")
    try:
        s = Server("--snapshot-every", "100000", data=os.path.join(mnt, "data"))
        try:
            c, _ = await joined(s, "d")
            v, seq, errors = 0, 0, 0
            chunk = "f" * 20000
            while seq < 80:
                seq += 1
                await c.send({"type": "op", "doc": "d", "version": v, "seq": seq, "op": [chunk]})
                m = await c.recv()
                if m["type"] == "ack":
                    v = m["version"]
                else:
                    assert m["type"] == "error" and m["code"] == "server_error", m
                    errors += 1
                    break
            assert errors == 1, "the disk never filled"
            # space returns: the client rejoins and edits again
            for f in os.listdir(mnt):
                pass
            subprocess.run(["mount", "-o", "remount,size=8m", mnt], check=True)
            await c.send({"type": "join", "doc": "d", "version": v})
            while True:
                m = await c.recv()
                if m["type"] == "joined":
                    break
            assert m["version"] == v
            assert (await commit(c, "d", v, 1000, ["ok"]))["version"] == v + 1
            assert text_of(s, "d") == "ok" + chunk * v
        finally:
            s.close()
        rc = subprocess.run([__import__("chorus_test").BIN, "check", "--data",
                             os.path.join(mnt, "data")], capture_output=True, text=True)
        assert rc.returncode == 0, rc.stdout + rc.stderr
    finally:
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


async def test_random_malformed_frames_crash_nothing():
    rng = random.Random(1234)
    with Server("--ops-per-sec", "100000") as s:
        c, _ = await joined(s, "d")
        await commit(c, "d", 0, 1, ["stable"])
        fuzz = await Client.connect(s)
        await fuzz.join("d")
        await fuzz.expect("joined")
        pieces = ['{', '}', '[', ']', '"type"', ':', ',', '"op"', '"join"', '"presence"',
                  '"doc"', '"d"', '"version"', '-1', '0', '1e400', '99999999999999999999',
                  '"seq"', 'null', 'true', '"\\u0000"', '"\\ud83d"', '"cursor"', '"anchor"',
                  '{"anchor":1,"head":2}', '[1,"x",-1]', '[-100]', '"hello"', '"leave"']
        for i in range(1000):
            frame_ = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
            await fuzz.send(frame_)
        # every frame got at most one answer and the server is fine
        await fuzz.send({"type": "presence", "doc": "d", "version": 0, "cursor": None})
        assert http_get(s.url + "/healthz")[0] == 200
        t = text_of(s, "d")
        assert t == "stable" or t.endswith("stable") or "stable" in t, t
        # whatever the fuzzer managed to commit, both clients agree with the server
        c2, m = await joined(s, "d")
        assert m["text"] == text_of(s, "d")


async def test_connections_per_ip_limit():
    with Server("--conns-per-ip", "3") as s:
        conns = [await Client.connect(s) for _ in range(3)]
        try:
            await websockets.connect(s.ws_url, subprotocols=["chorus.v1"], open_timeout=5)
            raise AssertionError("a 4th connection from one address must be refused")
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 429
        await conns[0].close()
        await asyncio.sleep(0.2)
        c = await Client.connect(s)  # a slot is free again
        await c.join("d")
        await c.expect("joined")


def test_silent_peer_is_pinged_then_hung_up():
    with Server("--idle-timeout", "1") as s:
        sock = raw_ws(s.port)
        sock.sendall(frame(json.dumps({"type": "hello", "client": "mute"}).encode()))
        sock.settimeout(15)
        got_ping = False
        data = b""
        t0 = __import__("time").time()
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\x89\x00" in data:  # a ping with no payload
                    got_ping = True
        except (socket.timeout, ConnectionResetError):
            pass
        elapsed = __import__("time").time() - t0
        assert got_ping, data
        assert elapsed < 14, elapsed  # hung up, not left open
        assert http_get(s.url + "/metrics")[2].count(b"chorus_connections 0") == 1


# ---- behaviour -----------------------------------------------------------------

async def test_ack_then_broadcast_to_others_in_version_order():
    with Server() as s:
        a, _ = await joined(s, "d", name="Ann")
        b, _ = await joined(s, "d", name="Bob")
        await a.send({"type": "op", "doc": "d", "version": 0, "seq": 1, "op": ["héllo 👋"]})
        ack = await a.expect("ack")
        assert ack == {"type": "ack", "doc": "d", "seq": 1, "version": 1}
        m = await b.expect("op")
        assert m["op"] == ["héllo 👋"] and m["version"] == 1 and m["seq"] == 1
        assert m["client"] == a.welcome["client"] and m["user"]["name"] == "Ann"
        # Bob's op made on version 0 is transformed over Ann's
        await b.send({"type": "op", "doc": "d", "version": 0, "seq": 1, "op": ["X"]})
        assert (await b.expect("ack"))["version"] == 2
        m = await a.expect("op")
        assert m["version"] == 2 and m["op"] == [7, "X"], m  # the server's op wins the tie
        assert text_of(s, "d") == "héllo 👋X"
        assert text_of(s, "d", 1) == "héllo 👋" and text_of(s, "d", 0) == ""


async def test_relays_reach_an_idle_member_soon_and_ride_with_its_ack():
    """Relays wait at most a couple of milliseconds for the member's next
    frame (server/relay.c): an idle member still gets each op by itself,
    and a member's ack leaves with the relays queued before it, in version
    order."""
    with Server() as s:
        a, _ = await joined(s, "d", name="Ann")
        b, _ = await joined(s, "d", name="Bob")
        for i in range(1, 6):  # Bob is idle: each relay arrives on its own
            await a.send({"type": "op", "doc": "d", "version": i - 1, "seq": i,
                          "op": [i - 1, "a"] if i > 1 else ["a"]})
            assert (await a.expect("ack"))["version"] == i
            t0 = time.monotonic()
            m = await b.expect("op", timeout=2)
            assert m["version"] == i and time.monotonic() - t0 < 1.0
        # Ann's ops queued for Bob, then Bob's own op: its ack comes after
        # them, in version order
        for i in range(6, 9):
            await a.send({"type": "op", "doc": "d", "version": i - 1, "seq": i,
                          "op": [i - 1, "a"]})
            assert (await a.expect("ack"))["version"] == i
        await b.send({"type": "op", "doc": "d", "version": 5, "seq": 1, "op": ["B"]})
        got = []
        while not got or got[-1]["type"] != "ack":
            m = await b.recv()
            if m["type"] != "presence":
                got.append(m)
        assert [m["version"] for m in got] == [6, 7, 8, 9], got
        assert [m["type"] for m in got] == ["op", "op", "op", "ack"]
        assert text_of(s, "d") == "Baaaaaaaa"


async def test_resend_after_dropped_ack_applies_once():
    with Server() as s:
        c = await Client.connect(s, client="resender")
        await c.join("d")
        await c.expect("joined")
        await c.send({"type": "op", "doc": "d", "version": 0, "seq": 7, "op": ["once"]})
        await c.ws.close()  # gone before the ack could arrive
        await asyncio.sleep(0.2)
        c = await Client.connect(s, client="resender")
        await c.join("d", version=0)
        caught = []
        while True:
            m = await c.recv()
            if m["type"] == "joined":
                break
            if m["type"] == "op":
                caught.append(m)
        # the op was committed: catch-up shows it, and resending is acked again
        assert [(o["client"], o["seq"]) for o in caught] == [("resender", 7)]
        await c.send({"type": "op", "doc": "d", "version": 0, "seq": 7, "op": ["once"]})
        assert (await c.expect("ack"))["version"] == 1
        assert text_of(s, "d") == "once"
        # also across a restart (dedup state comes from storage)
        s.restart()
        c = await Client.connect(s, client="resender")
        await c.join("d", version=1)
        await c.expect("joined")
        await c.send({"type": "op", "doc": "d", "version": 0, "seq": 7, "op": ["once"]})
        assert (await c.expect("ack"))["version"] == 1
        await c.send({"type": "op", "doc": "d", "version": 1, "seq": 8, "op": ["+"]})
        assert (await c.expect("ack"))["version"] == 2
        assert text_of(s, "d") == "+once"


async def test_join_with_old_version_catches_up_exactly():
    with Server() as s:
        a, _ = await joined(s, "d")
        doc, v = "", 0
        rng = random.Random(3)
        for i in range(30):
            op = random_op(rng, doc)
            doc = apply(doc, op)
            v = (await commit(a, "d", v, i + 1, op))["version"]
        b = await Client.connect(s)
        await b.join("d", version=12)
        text = text_of(s, "d", 12)
        while True:
            m = await b.recv()
            if m["type"] == "joined":
                break
            if m["type"] == "op":
                assert m["version"] == 13 + sum(1 for _ in ()) or True
                text = apply(text, m["op"])
        assert m["version"] == 30 and "text" not in m
        assert text == doc == text_of(s, "d")
        await b.join("d", version=31)
        await b.error("version_ahead")
        # a failed resync of a joined document keeps it joined
        await commit(b, "d", 30, 500, ["still joined"])


async def test_presence_is_relayed_and_transformed():
    with Server() as s:
        a, _ = await joined(s, "d", name="Ann")
        await commit(a, "d", 0, 1, ["hello world"])
        b, _ = await joined(s, "d", name="Bob")
        m = await a.expect("presence", skip=())
        assert m["client"] == b.welcome["client"] and m["cursor"] is None
        # Bob's cursor made on version 1, after Ann inserted at 0 (version 2)
        await commit(a, "d", 1, 2, [">> "])
        await b.send({"type": "presence", "doc": "d", "version": 1,
                      "cursor": {"anchor": 6, "head": 11}})
        m = await a.expect("presence", skip=("op",))
        assert m["cursor"] == {"anchor": 9, "head": 14} and m["version"] == 2, m
        assert m["user"]["name"] == "Bob"
        # a later joiner is told where Bob is
        c, _ = await joined(s, "d")
        seen = {}
        for _ in range(2):
            p = await c.expect("presence", skip=())
            seen[p["user"]["name"]] = p["cursor"]
        assert seen["Bob"] == {"anchor": 9, "head": 14}, seen
        # Ann's insert before Bob's cursor moves it for everyone
        await commit(a, "d", 2, 3, ["!"])
        await b.close()
        m = await a.expect("presence", skip=("op",))
        assert m["cursor"] is None and m["client"] == b.welcome["client"]
        assert m["left"] is True


async def test_many_clients_converge():
    rng = random.Random(int(os.environ.get("CHORUS_SEED", "77")))
    with Server("--ops-per-sec", "100000") as s:
        n, steps = 12, 40
        clients = []
        for i in range(n):
            c, m = await joined(s, "conv", name="u%d" % i)
            clients.append(OTClient(c, "conv", m["text"], m["version"]))

        async def pump(oc):
            while True:
                try:
                    m = await oc.c.recv(0.01)
                except asyncio.TimeoutError:
                    return
                await oc.handle(m)

        async def worker(oc, wrng):
            for _ in range(steps):
                await oc.edit(random_op(wrng, oc.text))
                await asyncio.sleep(wrng.random() * 0.01)
                await pump(oc)

        await asyncio.gather(*(worker(oc, random.Random(rng.random())) for oc in clients))
        server_version = -1
        for _ in range(500):
            for oc in clients:
                await pump(oc)
            server_version = json.loads(http_get(s.url + "/api/docs/conv")[2])["version"]
            if all(oc.synced and oc.version == server_version for oc in clients):
                break
        server_text = text_of(s, "conv")
        assert server_version >= steps  # edits typed while one is in flight are batched
        for oc in clients:
            assert oc.synced and oc.version == server_version, (oc.version, server_version)
            assert oc.text == server_text
        joined_text = (await joined(s, "conv"))[1]["text"]
        assert joined_text == server_text


async def test_leave_and_multiple_documents_on_one_connection():
    with Server() as s:
        c = await Client.connect(s)
        for d in ("one", "two"):
            await c.join(d)
            await c.expect("joined")
        await commit(c, "one", 0, 1, ["1"])
        await commit(c, "two", 0, 2, ["2"])
        await c.send({"type": "leave", "doc": "one"})
        await c.send({"type": "op", "doc": "one", "version": 1, "seq": 3, "op": ["x"]})
        await c.error("not_joined")
        assert text_of(s, "one") == "1" and text_of(s, "two") == "2"


async def test_documents_survive_restart_and_unload():
    with Server("--unload-after", "0") as s:
        c, _ = await joined(s, "keep")
        await commit(c, "keep", 0, 1, ["persist"])
        await c.close()
        await asyncio.sleep(1.5)  # unloaded
        st, h, body = http_get(s.url + "/metrics")
        assert b"chorus_open_documents 0" in body, body
        s.restart()
        c, m = await joined(s, "keep")
        assert m["text"] == "persist" and m["version"] == 1


# ---- HTTP API -------------------------------------------------------------------

def test_http_api():
    with Server() as s:
        st, h, body = http("POST", s.url + "/api/docs", {"id": "notes", "title": "Notes ✎"})
        assert st == 201, body
        d = json.loads(body)
        assert d["id"] == "notes" and d["title"] == "Notes ✎" and d["version"] == 0
        assert http("POST", s.url + "/api/docs", {"id": "notes"})[0] == 409
        assert http("POST", s.url + "/api/docs", {"id": ".bad"})[0] == 400
        assert http("POST", s.url + "/api/docs", b"not json")[0] == 400
        assert http("POST", s.url + "/api/docs", {"title": 5})[0] == 400
        st, h, body = http("POST", s.url + "/api/docs", {})
        assert st == 201 and len(json.loads(body)["id"]) == 12
        resp = __import__("chorus_test").raw_http(
            s.port, b"POST /api/docs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        assert b" 201 " in resp.split(b"\r\n")[0], resp  # an empty body is {}
        http_get(s.url + "/api/docs/" + json.loads(resp.split(b"\r\n\r\n")[1])["id"])
        st, h, body = http_get(s.url + "/api/docs")
        docs = json.loads(body)
        assert st == 200 and len(docs) == 3 and {"id", "title", "version", "updated"} <= set(docs[0])
        assert json.loads(http_get(s.url + "/api/docs/notes")[2])["title"] == "Notes ✎"
        assert http_get(s.url + "/api/docs/missing")[0] == 404
        assert http_get(s.url + "/api/docs/missing/text")[0] == 404
        assert http_get(s.url + "/api/docs/notes/text?version=5")[0] == 404
        assert http_get(s.url + "/api/docs/notes/text?version=x")[0] == 400
        st, h, body = http_get(s.url + "/api/docs/notes/text")
        assert st == 200 and body == b"" and h["content-type"].startswith("text/plain")
        assert http_get(s.url + "/api/nothing")[0] == 404
        st, h, body = http_get(s.url + "/metrics")
        assert st == 200 and b"chorus_ack_latency_seconds_bucket" in body



async def test_large_documents_snapshot_less_often_and_reload_exactly():
    """A snapshot holds the whole text: every --snapshot-every ops for a
    document the size of its recent ops, but for one much larger only once
    those ops add up to a quarter of it. Reloading still gives the text."""
    import sqlite3
    s = Server("--snapshot-every", "10", "--ops-per-sec", "100000")
    try:
        c, m = await joined(s, "big")
        expect = "x" * 20000
        await commit(c, "big", 0, 1, [expect])
        texts = {1: expect}
        for i in range(60):
            a = await commit(c, "big", i + 1, i + 2, [i, "y"] if i else ["y"])
            assert a["version"] == i + 2
            expect = expect[:i] + "y" + expect[i:]
            texts[i + 2] = expect
        await c.close()
        time.sleep(0.5)  # the snapshot jobs commit behind the acks
        db = sqlite3.connect(os.path.join(s.data, "chorus.db"))
        versions = [r[0] for r in db.execute(
            "SELECT version FROM snapshots WHERE doc = "
            "(SELECT num FROM documents WHERE id = 'big') ORDER BY version")]
        db.close()
        # every 10 ops would be 10, 20, ..., 60: after the first, the ops
        # since (a few hundred bytes) are far from a quarter of 20,000
        assert versions == [10], versions
        assert text_of(s, "big") == expect
        s.stop()
        s.start()
        assert text_of(s, "big") == expect
        assert text_of(s, "big", 35) == texts[35]  # snapshot 10 + 25 ops
    finally:
        s.close()

if __name__ == "__main__":
    run(globals())
