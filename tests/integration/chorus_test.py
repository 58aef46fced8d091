"""chorus_test.py -- what the integration tests share: start the real
build/chorus on a free port with a temporary data dir, talk to it over real
sockets (HTTP and WebSocket), a reference OT in Python (code points: Python
str indexes are code points), and an OT client state machine for the
concurrency tests.

Run by /usr/bin/python3 (Debian's, which has python3-websockets). A test
module defines test_* functions (plain or async) and ends with
    if __name__ == "__main__": run(globals())
which runs them in order and prints "N passed, N failed".
"""
import asyncio
import inspect
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CHORUS_BIN") or os.path.join(ROOT, "build", "chorus")
if not os.path.isabs(BIN):
    BIN = os.path.join(ROOT, BIN)



def make_cert(tmp):
    """A self-signed certificate for 127.0.0.1 in 'tmp' (a day long):
    returns the paths (cert, key), for --tls-cert and --tls-key."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key

def free_port():
    """A port free now, below the kernel's ephemeral range (32768 and up), so
    that no outgoing connection of a test or of another process on this
    shared machine takes it before the server binds it."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in 20000-32000")


class PortTaken(RuntimeError):
    pass


class Server:
    """A chorus serve process on a free port; data dir kept across restart()."""

    def __init__(self, *flags, data=None, port=None):
        self.flags = list(flags)
        self.tmp = tempfile.mkdtemp(prefix="chorus-test-")
        self.data = data or os.path.join(self.tmp, "data")
        self.port = port or free_port()
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")
        # A port chosen here may still be taken by another process before
        # the server binds it: then choose again (a given port is kept).
        for attempt in range(5):
            try:
                self.start()
                return
            except PortTaken:
                if port or attempt == 4:
                    raise
                self.port = free_port()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--port", str(self.port), "--data", self.data] + self.flags,
            stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "cannot start the server" in self.log():
                    raise PortTaken("server exited %d: %s" % (self.proc.returncode, self.log()))
                raise RuntimeError("server exited %d: %s" % (self.proc.returncode, self.log()))
            try:
                if http_get(self.url + "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not come up: " + self.log())

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Postgres:
    """A throwaway PostgreSQL 15 (tests/pg.sh: initdb + pg_ctl in a temporary
    directory owned by the postgres user, a free loopback port), stopped by
    close() or on leaving a 'with'. new_db() gives a fresh database's URL
    for `chorus serve --store`; sql() runs a statement there through psql.
    Postgres.available() is False only when PostgreSQL is not installed."""

    BIN = "/usr/lib/postgresql/15/bin"

    @staticmethod
    def available():
        return os.path.exists(os.path.join(Postgres.BIN, "initdb"))

    def __init__(self):
        p = subprocess.run(["sh", os.path.join(ROOT, "tests", "pg.sh"), "start"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("cannot start PostgreSQL: " + p.stderr)
        self.dir, self.url = p.stdout.split()[:2]
        self.count = 0

    def db_url(self, name):
        return self.url.rsplit("/", 1)[0] + "/" + name

    def new_db(self):
        self.count += 1
        name = "chorus_it_%d_%d" % (os.getpid(), self.count)
        self.sql("CREATE DATABASE %s" % name)
        return self.db_url(name)

    def sql(self, query, url=None):
        """Rows of 'query' (lists of strings), run by psql on 'url' (the
        maintenance database by default)."""
        p = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            url or self.url, "-c", query],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (query, p.stderr))
        return [line.split("\t") for line in p.stdout.splitlines()]

    def restart(self, down=0):
        """Stop (cutting every session), stay down 'down' seconds, start
        again on the same port. Blocks: run it in an executor under load."""
        subprocess.run(["sh", os.path.join(ROOT, "tests", "pg.sh"), "restart", self.dir,
                        str(down)], check=True, capture_output=True)

    def close(self):
        subprocess.run(["sh", os.path.join(ROOT, "tests", "pg.sh"), "stop", self.dir],
                       capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_PG = None


def shared_pg():
    """One throwaway PostgreSQL for this test process (closed at exit)."""
    global _PG
    if _PG is None:
        import atexit
        _PG = Postgres()
        atexit.register(_PG.close)
    return _PG


class Nodes:
    """Two `chorus serve` sharing one store: 'sqlite' (one file both open)
    or 'pg' (a fresh database of shared_pg()), each with 'flags'. n1, n2;
    .store is the PostgreSQL URL or the data directory (for chorus check)."""

    def __init__(self, kind, *flags):
        if kind == "pg":
            self.store = shared_pg().new_db()
            self.n1 = Server("--store", self.store, *flags)
            self.n2 = Server("--store", self.store, *flags)
        else:
            self.n1 = Server(*flags)
            self.n2 = Server(*flags, data=self.n1.data)
            self.store = self.n1.data
        self.kind = kind

    def check_args(self):
        return ["--store", self.store] if self.kind == "pg" else ["--data", self.store]

    def close(self):
        self.n2.close()
        self.n1.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def variants(namespace, fn, kinds=("sqlite", "pg")):
    """Put test_<name>_<kind> for each store kind into 'namespace': 'fn'
    (async, taking the kind) run on that store."""
    for kind in kinds:
        async def t(kind=kind):
            await fn(kind)
        namespace["test_%s_%s" % (fn.__name__.lstrip("_"), kind)] = t


class Redis:
    """redis-server (Debian's) on a free loopback port in a temporary
    directory, nothing saved; start() again after kill9() on the same port."""

    def __init__(self, port=None, start=True):
        self.tmp = tempfile.mkdtemp(prefix="chorus-redis-")
        self.port = port or free_port()
        self.proc = None
        if start:
            self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        log = open(os.path.join(self.tmp, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.tmp,
             "--daemonize", "no"], stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not come up")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.kill9()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HAProxy:
    """Debian's haproxy with the configuration of docs/cluster.md (the
    block the docs show, its ports replaced: 'port' for the proxy, 'nodes'
    for the servers' ports)."""

    def __init__(self, nodes, port=None):
        self.tmp = tempfile.mkdtemp(prefix="chorus-haproxy-")
        self.port = port or free_port()
        with open(os.path.join(ROOT, "docs", "cluster.md")) as f:
            doc = f.read()
        cfg = doc.split("```haproxy\n", 1)[1].split("```", 1)[0]
        cfg = cfg.replace("127.0.0.1:8080", "127.0.0.1:%d" % self.port)
        for i, p in enumerate(nodes):
            cfg = cfg.replace("127.0.0.1:%d" % (8081 + i), "127.0.0.1:%d" % p)
        self.cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        log = open(os.path.join(self.tmp, "haproxy.log"), "ab")
        self.proc = subprocess.Popen(["haproxy", "-f", self.cfg, "-db"],
                                     stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited: " + self.log())
            try:
                if http_get(self.url + "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("haproxy did not come up: " + self.log())

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    def log(self):
        try:
            with open(os.path.join(self.tmp, "haproxy.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, body bytes); never raises on HTTP error statuses.
    A body (an object, sent as JSON, or bytes) goes as application/json
    unless 'headers' name another Content-Type: the server takes no other."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    headers = dict(headers or {})
    if data is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_get(url, **kw):
    return http("GET", url, **kw)


def raw_http(port, request, timeout=5):
    """Send raw request bytes; return the raw response (for paths urllib
    would normalise)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(request)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(rest) >= int(line.split(b":")[1]):
                            s.close()
                            return out
    except socket.timeout:
        pass
    s.close()
    return out


# ---- WebSocket clients --------------------------------------------------

_open_clients = []


def _abort_clients():
    """After an async test: drop every connection it left open, at once."""
    for c in _open_clients:
        if c.ws.transport is not None:
            c.ws.transport.abort()
    _open_clients.clear()


class Client:
    """One chorus.v1 connection. recv() yields single messages even when the
    server batched several into one array frame."""

    def __init__(self, ws):
        self.ws = ws
        self.pending = []

    @classmethod
    async def connect(cls, server, client=None, name=None, hello=True, **kw):
        kw.setdefault("close_timeout", 1)
        ws = await websockets.connect(server.ws_url, subprotocols=["chorus.v1"],
                                      max_size=None, **kw)
        c = cls(ws)
        _open_clients.append(c)
        if hello:
            msg = {"type": "hello", "client": client or "c%08x" % random.getrandbits(32)}
            if name is not None:
                msg["name"] = name
            await c.send(msg)
            c.welcome = await c.expect("welcome")
        return c

    async def send(self, msg):
        await self.ws.send(msg if isinstance(msg, (str, bytes))
                           else json.dumps(msg, ensure_ascii=False))

    async def recv(self, timeout=10):
        while not self.pending:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            data = json.loads(frame)
            self.pending.extend(data if isinstance(data, list) else [data])
        return self.pending.pop(0)

    async def expect(self, type_, timeout=10, skip=("presence",)):
        """The next message of 'type_', skipping those whose type is in
        'skip'; anything else is an error."""
        while True:
            m = await self.recv(timeout)
            if m.get("type") == type_:
                return m
            if m.get("type") not in skip:
                raise AssertionError("expected %s, got %r" % (type_, m))

    async def error(self, code, timeout=10):
        m = await self.expect("error", timeout)
        assert m["code"] == code, "expected error %s, got %r" % (code, m)
        return m

    async def join(self, doc, version=None):
        msg = {"type": "join", "doc": doc}
        if version is not None:
            msg["version"] = version
        await self.send(msg)

    async def quiet(self, seconds=0.2):
        """Assert nothing but presence arrives for a while."""
        try:
            while True:
                m = await self.recv(seconds)
                assert m.get("type") == "presence", "unexpected %r" % m
        except asyncio.TimeoutError:
            return

    async def close(self):
        await self.ws.close()


# ---- reference OT (code points) ------------------------------------------

def normalize(op):
    """The canonical form the server uses: no empty parts, neighbours of one
    kind merged, an insert before a delete at the same place, no trailing
    retain. Client and server must agree on it: where an insert sits
    relative to a delete decides where a concurrent insert lands."""
    out = []
    for c in op:
        if c == 0 or c == "":
            continue
        if isinstance(c, str) and out and isinstance(out[-1], int) and out[-1] < 0:
            d = out.pop()
            if out and isinstance(out[-1], str):
                out[-1] += c
            else:
                out.append(c)
            out.append(d)
        elif out and type(out[-1]) == type(c) and (isinstance(c, str) or (c > 0) == (out[-1] > 0)):
            out[-1] = out[-1] + c
        else:
            out.append(c)
    while out and isinstance(out[-1], int) and out[-1] > 0:
        out.pop()
    return out


def apply(doc, op):
    pos, out = 0, []
    for c in op:
        if isinstance(c, str):
            out.append(c)
        elif c > 0:
            assert pos + c <= len(doc), "retain past end"
            out.append(doc[pos:pos + c])
            pos += c
        else:
            assert pos - c <= len(doc), "delete past end"
            pos -= c
    out.append(doc[pos:])
    return "".join(out)


class _Iter:
    def __init__(self, op):
        self.op, self.i, self.off = op, 0, 0

    def peek(self):
        if self.i >= len(self.op):
            return None
        c = self.op[self.i]
        if isinstance(c, str):
            return c[self.off:]
        return c - self.off if c > 0 else c + self.off

    def take(self, n=None):
        c = self.peek()
        if c is None:  # the implicit trailing retain
            return n if n is not None else 10 ** 12
        size = len(c) if isinstance(c, str) else abs(c)
        if n is None or n >= size:
            self.i += 1
            self.off = 0
            return c
        self.off += n
        if isinstance(c, str):
            return c[:n]
        return n if c > 0 else -n


def transform(a, b, side):
    """a' to apply after b; side 'left': a's insert goes first at ties."""
    ia, ib, out = _Iter(a), _Iter(b), []
    while ia.peek() is not None or ib.peek() is not None:
        ca, cb = ia.peek(), ib.peek()
        if isinstance(ca, str) and (side == "left" or not isinstance(cb, str)):
            out.append(ia.take())
        elif isinstance(cb, str):
            out.append(len(ib.take()))
        else:
            ca = ca if ca is not None else 10 ** 12
            cb = cb if cb is not None else 10 ** 12
            n = min(abs(ca), abs(cb))
            ta, tb = ia.take(n), ib.take(n)
            if isinstance(ta, int) and ta < 0:
                if not (isinstance(tb, int) and tb < 0):
                    out.append(ta)
            elif not (isinstance(tb, int) and tb < 0):
                out.append(n)
    return normalize(out)


def compose(a, b):
    ia, ib, out = _Iter(a), _Iter(b), []
    while ia.peek() is not None or ib.peek() is not None:
        ca, cb = ia.peek(), ib.peek()
        if isinstance(ca, int) and ca is not None and ca < 0:
            out.append(ia.take())
        elif isinstance(cb, str):
            out.append(ib.take())
        else:
            ca = ca if ca is not None else 10 ** 12
            cb = cb if cb is not None else 10 ** 12
            n = min(len(ca) if isinstance(ca, str) else ca, abs(cb))
            ta, tb = ia.take(n), ib.take(n)
            if tb > 0:
                out.append(ta)
            elif isinstance(ta, int):
                out.append(tb)
    return normalize(out)


CHARS = ["a", "b", "c", " ", "\n", "한", "글", "👋", "🎉", "e\u0301", "x"]


def random_text(rng, n):
    return "".join(rng.choice(CHARS) for _ in range(n))


def random_op(rng, doc):
    """A random edit of 'doc' (code points)."""
    n = len(doc)
    pos = rng.randint(0, n)
    op = [pos] if pos else []
    if rng.random() < 0.35 and pos < n:
        op.append(-rng.randint(1, min(4, n - pos)))
    if rng.random() < 0.8 or len(op) <= 1:
        op.append(random_text(rng, rng.randint(1, 4)))
    return normalize(op)


def take_remote(c, m):
    """Apply the op message 'm' of another client to the Jupiter state of
    'c' (text, version, inflight = (seq, op), buffer): the pending ops move
    over it and it over them (the server's op goes first at ties: it was
    committed first)."""
    assert m["version"] == c.version + 1, (m, c.version)
    op = m["op"]
    if c.inflight:
        s, f = c.inflight
        c.inflight = (s, transform(f, op, "right"))
        op = transform(op, f, "left")
    if c.buffer is not None:
        b = c.buffer
        c.buffer = transform(b, op, "right")
        op = transform(op, b, "left")
    c.text = apply(c.text, op)
    c.version = m["version"]


class OTClient:
    """The Jupiter/Wave client: one op in flight, a buffer behind it."""

    def __init__(self, conn, doc_id, text="", version=0):
        self.c, self.doc, self.text, self.version = conn, doc_id, text, version
        self.inflight = None  # (seq, op)
        self.buffer = None
        self.seq = 0

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
        await self.c.send({"type": "op", "doc": self.doc, "version": self.version,
                           "seq": self.seq, "op": op})

    async def handle(self, m):
        t = m.get("type")
        if t == "ack":
            assert self.inflight and m["seq"] == self.inflight[0], m
            self.version = m["version"]
            self.inflight = None
            if self.buffer is not None:
                op, self.buffer = self.buffer, None
                await self._send(op)
        elif t == "op":
            take_remote(self, m)
        elif t == "error":
            raise AssertionError("server error: %r" % m)

    @property
    def synced(self):
        return self.inflight is None and self.buffer is None


# ---- the runner -----------------------------------------------------------

def run(namespace):
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            if inspect.iscoroutinefunction(fn):
                async def main():
                    try:
                        await asyncio.wait_for(fn(), 120)
                    finally:
                        _abort_clients()
                asyncio.run(main())
            else:
                fn()
            passed += 1
            print("ok   %s (%.2fs)" % (name, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % name, flush=True)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
