"""Faults against the real binary (issue 10): a reconnect storm of 2,000
clients on one document, a 100 MB frame, huge integers and malformed frames
of every message type with their documented answers, memory that stays
bounded through all of it, and kill -9 with many documents and clients
followed by every client resuming and resending (applied exactly once).

The single-fault cases of issue 5 (each error code, 1-byte fragments,
invalid UTF-8, slow consumer, disk full...) are in test_protocol.py and the
storage crash test in test_crash.py; this file adds load and scale."""
import asyncio
import base64
import json
import os
import random
import resource
import socket
import struct
import subprocess
import time

import websockets

from chorus_test import BIN, Client, Server, apply, http_get, run, transform
from test_protocol import commit, frame, joined, raw_ws, read_close_code, text_of


ASAN = "/asan/" in BIN   # make asan runs this file against build/asan/chorus


def rss_kb(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (key, pid))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- huge integers and malformed frames: the documented answer for each ------

BIG = "9" * 40                 # beyond int64: jansson refuses the number
MALFORMED = [
    # (frame, code, doc in the answer or None)
    ('{"type":"op","doc":"f","version":%s,"seq":1,"op":["x"]}' % BIG, "bad_json", None),
    ('{"type":"op","doc":"f","version":0,"seq":%s,"op":["x"]}' % BIG, "bad_json", None),
    ('{"type":"op","doc":"f","version":0,"seq":1,"op":[%s]}' % BIG, "bad_json", None),
    ('{"type":"op","doc":"f","version":1e400,"seq":1,"op":["x"]}', "bad_json", None),
    ('{"type":"op","doc":"f","version":0,"seq":1,"op":[1e400]}', "bad_json", None),
    ('{"type":"op","doc":"f","version":9223372036854775807,"seq":1,"op":["x"]}', "version_ahead", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":9223372036854775807,"op":[9223372036854775807]}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":2,"op":[-9223372036854775808]}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":3,"op":[2147483649]}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":4,"op":[1.5]}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":5,"op":[1e10]}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":6,"op":[7,"x"]}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":7,"op":{"0":1}}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":8}', "bad_op", "f"),
    ('{"type":"op","doc":"f","version":-1,"seq":9,"op":["x"]}', "bad_message", "f"),
    ('{"type":"op","doc":"f","version":0.5,"seq":9,"op":["x"]}', "bad_message", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":-1,"op":["x"]}', "bad_message", "f"),
    ('{"type":"op","doc":"f","version":0,"seq":"1","op":["x"]}', "bad_message", "f"),
    ('{"type":"op","doc":"f","seq":1,"op":["x"]}', "bad_message", "f"),
    ('{"type":"op","doc":"nope","version":0,"seq":1,"op":["x"]}', "not_joined", "nope"),
    ('{"type":"op","doc":7,"version":0,"seq":1,"op":["x"]}', "bad_doc_id", None),
    ('{"type":"op","doc":"' + "d" * 65 + '","version":0,"seq":1,"op":["x"]}', "bad_doc_id", None),
    ('{"type":"op","doc":"f","version":0,"seq":1,"op":["\\ud800"]}', "bad_json", None),
    ('{"type":"presence","doc":"f","version":0,"cursor":{"anchor":%s,"head":0}}' % BIG, "bad_json", None),
    ('{"type":"presence","doc":"f","version":0,"cursor":{"anchor":4294967296,"head":0}}', "bad_message", "f"),
    ('{"type":"presence","doc":"f","version":0,"cursor":{"anchor":9223372036854775807,"head":0}}', "bad_message", "f"),
    ('{"type":"presence","doc":"f","version":0,"cursor":{"anchor":-1,"head":0}}', "bad_message", "f"),
    ('{"type":"presence","doc":"f","version":0,"cursor":{"anchor":1}}', "bad_message", "f"),
    ('{"type":"presence","doc":"f","version":0,"cursor":[1,2]}', "bad_message", "f"),
    ('{"type":"presence","doc":"f","version":0}', "bad_message", "f"),
    ('{"type":"presence","doc":"f","cursor":null}', "bad_message", "f"),
    ('{"type":"presence","doc":"g","version":0,"cursor":null}', "not_joined", "g"),
    ('{"type":"join","doc":"f","version":%s}' % BIG, "bad_json", None),
    ('{"type":"join","doc":"f","version":-5}', "bad_message", "f"),
    ('{"type":"join","doc":"f","version":"3"}', "bad_message", "f"),
    ('{"type":"join","doc":"f","version":9223372036854775807}', "version_ahead", "f"),
    ('{"type":"join","doc":".f"}', "bad_doc_id", None),
    ('{"type":"join","doc":""}', "bad_doc_id", None),
    ('{"type":"join"}', "bad_doc_id", None),
    ('{"type":"join","doc":"f","share":5}', "bad_message", "f"),
    ('{"type":"leave","doc":"never"}', "not_joined", "never"),
    ('{"type":"leave","doc":"a/b"}', "bad_doc_id", None),
    ('{"type":"hello","client":"again"}', "bad_message", None),
    ('{"type":"HELLO"}', "bad_message", None),
    ('{"type":null}', "bad_message", None),
    ('{"type":"op","type":"op"}', "bad_json", None),
    ('{"type":"op","doc":"f","doc":"g"}', "bad_json", None),
    ('["type","op"]', "bad_message", None),
    ('"op"', "bad_message", None),
    ('%s' % BIG, "bad_json", None),
    ('1e400', "bad_json", None),
    ('[' * 5000 + ']' * 5000, "bad_json", None),
    ('{"a":' * 3000 + '1' + '}' * 3000, "bad_json", None),
    ('', "bad_json", None),
    ('{"type":"op"} trailing', "bad_json", None),
    ('\u0000', "bad_json", None),
]


async def check_malformed_table(s, versions):
    """Send every MALFORMED frame from a new client joined to "f"; each gets
    its answer, then the client can still commit. 'versions' grows by one."""
    c, m = await joined(s, "f")
    assert m["version"] == versions[-1], (m, versions)
    for text, code, doc in MALFORMED:
        await c.send(text)
        m = await c.expect("error")
        assert m["code"] == code, "%r: expected %s, got %r" % (text[:80], code, m)
        assert m.get("doc") == doc, "%r: doc %r in %r" % (text[:80], doc, m)
    # the connection is still usable and the document unchanged (a rejoin
    # with a version ahead left the document, as a resync does: join again)
    await c.join("f")
    j = await c.expect("joined")
    assert j["version"] == versions[-1] and j["text"] == "+" * (len(versions) - 1), j
    ack = await commit(c, "f", versions[-1], 1000, ["+"])
    versions.append(ack["version"])
    await c.close()


async def test_huge_integers_and_malformed_frames_get_documented_answers():
    with Server("--ops-per-sec", "100000") as s:
        versions = [0]
        await check_malformed_table(s, versions)
        assert text_of(s, "f") == "+"
        # before hello, each of them is hello_required or a JSON error
        raw = await Client.connect(s, hello=False)
        await raw.send('{"type":"join","doc":"f","version":%s}' % BIG)
        await raw.error("bad_json")
        await raw.send('{"type":"op","doc":"f","version":9223372036854775807,"seq":1,"op":[1]}')
        await raw.error("hello_required")


async def test_a_100_mb_frame_is_refused_and_memory_stays_bounded():
    with Server() as s:
        c, _ = await joined(s, "big")
        await commit(c, "big", 0, 1, ["before"])
        base = rss_kb(s.proc.pid)
        peak0 = rss_kb(s.proc.pid, "VmHWM")
        for fragmented in (False, True):
            t = time.time()
            sock = raw_ws(s.port)
            sock.sendall(frame(json.dumps({"type": "hello", "client": "huge"}).encode()))
            sock.recv(65536)  # welcome
            total, chunk = 100 * 1024 * 1024, b"x" * (1 << 20)
            head = b'{"type":"op","doc":"big","version":1,"seq":1,"op":["'
            try:
                if not fragmented:  # one frame announcing 100 MB, streamed
                    # (mask key 0: the payload goes as it is, no masking cost)
                    sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack(">Q", total) +
                                 b"\0\0\0\0" + head)
                    sent = len(head)
                    while sent < total:
                        sock.sendall(chunk)
                        sent += len(chunk)
                else:              # 100 fragments of 1 MB
                    for i in range(100):
                        sock.sendall(frame(chunk, opcode=1 if i == 0 else 0, fin=i == 99))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server closed it before the end: as it should
            code = read_close_code(sock)
            sock.close()
            assert code in (1009, None), code  # None: reset before the close frame was read
            print("   %s: refused in %.1fs" % ("100 x 1 MB fragments" if fragmented
                                               else "one 100 MB frame", time.time() - t))
        await asyncio.sleep(0.3)
        grew = rss_kb(s.proc.pid, "VmHWM") - peak0
        print("   RSS %d kB before, %d kB after; peak grew %d kB" %
              (base, rss_kb(s.proc.pid), grew))
        assert grew < 24 * 1024, "peak RSS grew %d kB for a 100 MB frame" % grew
        assert rss_kb(s.proc.pid) - base < 8 * 1024
        # the too_large answer itself, and the service goes on
        sock = raw_ws(s.port)
        sock.sendall(frame(json.dumps({"type": "hello", "client": "huge2"}).encode()))
        sock.recv(65536)
        try:
            sock.sendall(frame(b"y" * (2 << 20)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while len(data) < 1 << 16:
                got = sock.recv(65536)
                if not got:
                    break
                data += got
        except (socket.timeout, ConnectionResetError):
            pass
        sock.close()
        assert b'"too_large"' in data, data[:200]
        assert text_of(s, "big") == "before"
        assert (await commit(c, "big", 1, 2, ["ok "]))["version"] == 2


async def test_memory_and_fds_stay_bounded_under_repeated_abuse():
    """The malformed table, big frames and connection churn, many times over:
    after a warm-up, RSS and open fds stop growing."""
    with Server("--ops-per-sec", "100000", "--max-message", "65536") as s:
        pid = s.proc.pid
        versions = [0]
        samples = []
        for rnd in range(12):
            await check_malformed_table(s, versions)
            for i in range(20):   # churn: connect, join, misbehave, drop
                k = await Client.connect(s)
                await k.join("f")
                await k.expect("joined")
                await k.send("x" * 70000)  # too large: closed 1009
                try:
                    while True:
                        await k.recv(5)
                except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError):
                    pass
            await asyncio.sleep(0.1)
            samples.append((rss_kb(pid), open_fds(pid)))
        warm = samples[3]
        last = samples[-1]
        print("   RSS/fds after warm-up %r, at the end %r" % (warm, last))
        if not ASAN:  # ASan keeps freed memory in quarantine: RSS grows there
            assert last[0] - warm[0] < 4 * 1024, samples
        assert last[1] <= warm[1] + 2, samples
        assert text_of(s, "f") == "+" * (len(versions) - 1)


# ---- the reconnect storm -------------------------------------------------------

# Under ASan (make asan) the server is several times slower and the storm's
# N^2 presence messages would pass the runner's 120 s: 500 clients there.
N_STORM = int(os.environ.get("CHORUS_STORM_CLIENTS", "500" if ASAN else "2000"))
EDITORS = 100


def insert_at(pos, text):
    return [pos, text] if pos else [text]


class Conn:
    """A minimal chorus.v1 connection on raw asyncio streams. The storm has
    2,000 of these in one Python process, each receiving ~2,000 presence
    messages; a full WebSocket library costs too much per frame, so this
    one reads frames itself and decodes only those holding something other
    than presence."""

    def __init__(self, reader, writer):
        self.r, self.w, self.pending = reader, writer, []

    @classmethod
    async def open(cls, port):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chorus.v1\r\n\r\n"
                 % (port, key)).encode())
        head = await r.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise OSError("upgrade refused: %r" % head[:80])
        return cls(r, w)

    async def send(self, msg):
        self.w.write(frame(json.dumps(msg, ensure_ascii=False).encode()))
        await self.w.drain()

    async def _frame(self):
        h = await self.r.readexactly(2)
        op, n = h[0] & 0x0F, h[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", await self.r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", await self.r.readexactly(8))[0]
        return op, await self.r.readexactly(n)

    async def recv(self, timeout=60):
        """The next message that is not a presence."""
        while not self.pending:
            op, data = await asyncio.wait_for(self._frame(), timeout)
            if op == 8:
                raise ConnectionError("closed %r" % data[:2])
            if op == 9:
                self.w.write(frame(data, opcode=10))
                continue
            if op != 1:
                continue
            if b'"presence"' in data and not any(
                    k in data for k in (b'"op"', b'"ack"', b'"joined"', b'"error"', b'"welcome"')):
                continue
            v = json.loads(data)
            for m in v if isinstance(v, list) else [v]:
                if m.get("type") != "presence":
                    self.pending.append(m)
        return self.pending.pop(0)

    def abort(self):
        """Drop the connection with a reset: no TIME_WAIT left on our port
        (thousands of those would make the next tests' servers fail to bind
        ports that free_port() handed out)."""
        sock = self.w.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.w.transport.abort()


DROPPED = (ConnectionError, OSError, asyncio.IncompleteReadError)


class Peer:
    """A client that survives reconnects: Jupiter state plus resume (rejoin
    with its version, its own committed op in the catch-up counts as the ack,
    the op still in flight is resent with the same seq)."""

    def __init__(self, cid):
        self.cid, self.c, self.text, self.version = cid, None, "", 0
        self.inflight, self.seq, self.acked = None, 0, []

    async def connect(self, s, doc, resume):
        for attempt in range(40):
            try:
                self.c = await Conn.open(s.port)
                await self.c.send({"type": "hello", "client": self.cid})
                m = await self.c.recv(60)
                assert m["type"] == "welcome", m
                break
            except DROPPED:
                await asyncio.sleep(0.05 * (attempt + 1))
        else:
            raise AssertionError("%s could not connect" % self.cid)
        msg = {"type": "join", "doc": doc}
        if resume:
            msg["version"] = self.version
        await self.c.send(msg)
        while True:
            m = await self.c.recv(60)
            if m["type"] == "joined":
                if "text" in m:
                    self.text = m["text"]
                self.version = m["version"]
                break
            await self.handle(m)
        if self.inflight:  # not acked before the drop: resend, same seq
            await self.send_inflight(doc)

    async def send_inflight(self, doc):
        await self.c.send({"type": "op", "doc": doc, "version": self.version,
                           "seq": self.inflight[0], "op": self.inflight[1]})

    async def edit(self, doc, op):
        assert self.inflight is None
        self.text = apply(self.text, op)
        self.seq += 1
        self.inflight = (self.seq, op)
        await self.send_inflight(doc)

    async def handle(self, m):
        t = m["type"]
        if t == "op" and m.get("client") == self.cid and self.inflight \
                and m["seq"] == self.inflight[0]:
            t = "ack"  # our own op, committed before the drop, in the catch-up
        if t == "ack":
            assert self.inflight and m["seq"] == self.inflight[0], (self.cid, m)
            self.acked.append(self.inflight[0])
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
            raise AssertionError("%s: %r" % (self.cid, m))

    async def pump(self, until):
        """Handle messages until until() holds (or the connection drops)."""
        try:
            while not until():
                await self.handle(await self.c.recv(60))
        except DROPPED:
            pass


async def test_reconnect_storm_of_2000_clients_converges():
    """2,000 clients each hold a version of one document; while they are
    away, 100 of them edit (half are cut off with an op in flight); then all
    2,000 reconnect at the same moment, resume from their versions, resend
    what was in flight, edit again, and every one ends with the server's
    text, each edit in it exactly once."""
    limit = raise_fd_limit(N_STORM * 2 + 512)
    assert limit >= N_STORM + 256, "fd limit %d" % limit
    doc = "storm"
    with Server("--conns-per-ip", "10000", "--ops-per-sec", "100000",
                "--queue-bytes", str(64 << 20)) as s:
        peers = [Peer("storm%04d" % i) for i in range(N_STORM)]
        editors = peers[:EDITORS]
        t0 = time.time()
        for i in range(0, N_STORM, 250):   # everyone learns the document
            wave = peers[i:i + 250]
            await asyncio.gather(*(p.connect(s, doc, resume=False) for p in wave))
            for p in wave:
                p.c.abort()
        await asyncio.gather(*(p.connect(s, doc, resume=True) for p in editors))
        for i, p in enumerate(editors):
            await p.pump(lambda p=p: p.version == editors[0].version or i == 0)
            await p.edit(doc, insert_at(min(i % 7, len(p.text)), "<%s>" % p.cid))
        await asyncio.gather(*(p.pump(lambda p=p: p.inflight is None)
                               for p in editors[:EDITORS // 2]))
        for p in editors:  # cut off, half of them with an op in flight
            p.c.abort()
        t1 = time.time()
        await asyncio.sleep(0.2)
        # the storm: all at once, each resuming from the version it has
        await asyncio.gather(*(p.connect(s, doc, resume=True) for p in peers))
        t2 = time.time()
        await asyncio.gather(*(p.pump(lambda p=p: p.inflight is None) for p in editors))
        for i, p in enumerate(editors):
            await p.edit(doc, insert_at(len(p.text), "[%d]" % i))
        await asyncio.gather(*(p.pump(lambda p=p: p.inflight is None) for p in editors))
        st, h, body = http_get(s.url + "/api/docs/%s" % doc)
        final = json.loads(body)["version"]
        await asyncio.gather(*(p.pump(lambda p=p: p.version >= final) for p in peers))
        t3 = time.time()
        text = text_of(s, doc)
        behind = [p.cid for p in peers if p.version != final or p.text != text]
        assert not behind, "%d clients differ from the server, e.g. %s" % (len(behind), behind[:3])
        for i, p in enumerate(editors):  # every edit exactly once
            assert text.count("<%s>" % p.cid) == 1 and text.count("[%d]" % i) == 1, p.cid
        assert final == 2 * EDITORS, final
        print("   %d clients: reconnect storm %.1fs, converged %.1fs later (set-up %.1fs)" %
              (N_STORM, t2 - t1, t3 - t2, t1 - t0))
        for p in peers:
            p.c.abort()


# ---- kill -9 with many documents and clients, then everyone resumes -------------

DOCS = ["kill%d" % i for i in range(8)]
PER_DOC = 4


async def test_kill_9_with_many_documents_then_every_client_resumes_exactly_once():
    for seed in [int(x) for x in os.environ.get("CHORUS_FAULT_SEEDS", "7,8,9").split(",")]:
        await kill_and_resume(seed)


async def kill_and_resume(seed):
    """8 documents x 4 clients typing; kill -9; restart; every client resumes."""
    rng = random.Random(seed)
    s = Server("--ops-per-sec", "1000000", "--snapshot-every", "20")
    try:
        peers = [(d, Peer("%s-c%d" % (d, i))) for d in DOCS for i in range(PER_DOC)]
        await asyncio.gather(*(p.connect(s, d, resume=False) for d, p in peers))

        async def type_until_killed(d, p):
            try:
                while True:
                    if p.inflight is None:
                        await p.edit(d, insert_at(rng.choice((0, len(p.text))), "<%s.%d>" % (p.cid, p.seq + 1)))
                    await p.handle(await p.c.recv(10))
            except DROPPED + (asyncio.TimeoutError,):
                return
        tasks = [asyncio.ensure_future(type_until_killed(d, p)) for d, p in peers]
        await asyncio.sleep(0.8 + rng.random())
        s.kill9()
        await asyncio.gather(*tasks)
        acked = sum(len(p.acked) for _, p in peers)
        in_flight = sum(1 for _, p in peers if p.inflight)
        assert acked > 50, acked
        s.start()
        # everyone resumes from its version and resends what was in flight
        await asyncio.gather(*(p.connect(s, d, resume=True) for d, p in peers))
        await asyncio.gather(*(p.pump(lambda p=p: p.inflight is None) for _, p in peers))
        for d in DOCS:
            st, h, body = http_get(s.url + "/api/docs/%s" % d)
            final = json.loads(body)["version"]
            group = [p for dd, p in peers if dd == d]
            await asyncio.gather(*(p.pump(lambda p=p: p.version >= final) for p in group))
            text = text_of(s, d)
            for p in group:
                assert p.text == text and p.version == final, (p.cid, p.version, final)
                for seq in range(1, p.seq + 1):  # each op made: there exactly once
                    assert text.count("<%s.%d>" % (p.cid, seq)) == 1, (p.cid, seq, text)
                assert sorted(p.acked) == list(range(1, p.seq + 1)), (p.cid, p.acked)
        print("   seed %d: %d acked before the kill, %d resent after it" % (seed, acked, in_flight))
        for _, p in peers:
            p.c.abort()
        s.stop()
        r = subprocess.run([BIN, "check", "--data", s.data], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        s.close()


if __name__ == "__main__":
    run(globals())
