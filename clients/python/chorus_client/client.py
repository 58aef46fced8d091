"""chorus_client.client -- a chorus.v1 client on asyncio and `websockets`,
written against docs/protocol.md.

    async with chorus_client.connect("ws://127.0.0.1:8080/ws") as c:
        doc = await c.join("notes")
        await doc.insert(0, "hello ")
        async for change in doc.changes():
            print(change.version, change.op, doc.text)

A Document keeps the client OT state of the protocol (Jupiter/Wave): at
most one op in flight, edits made meanwhile composed into a buffer sent
when the ack comes; incoming ops are transformed over both. When the
connection drops, the client reconnects (same client id), rejoins each
document from its version (the catch-up ops come first; its own op among
them counts as the ack) and resends the op in flight with the same seq, so
the server applies it exactly once. Protocol errors raise ChorusError.
"""
import asyncio
import json
import random
import string

import websockets

from . import ops

__all__ = ["ChorusError", "Change", "Connection", "Document", "connect"]


class ChorusError(Exception):
    """An error message of the protocol: .code is its code (bad_op,
    forbidden, ...; see docs/protocol.md), .doc and .seq when given."""

    def __init__(self, code, message="", doc=None, seq=None):
        super().__init__("%s: %s" % (code, message))
        self.code, self.message, self.doc, self.seq = code, message, doc, seq


class Change:
    """An op from someone else, as applied here: 'op' on the text before,
    'version' the document's version after, 'client' and 'user' its
    author's; 'cursor' set (and op None) for a presence message."""

    def __init__(self, version, op=None, client=None, user=None, cursor=None,
                 left=False):
        self.version, self.op, self.client, self.user = version, op, client, user
        self.cursor, self.left = cursor, left

    def __repr__(self):
        return "Change(version=%r, op=%r, client=%r)" % (self.version, self.op, self.client)


def _random_id():
    return "py-" + "".join(random.choice(string.ascii_letters + string.digits)
                           for _ in range(10))


class Document:
    """One joined document: its text and version as this client sees them
    (its own edits included at once), edits, presence and changes."""

    def __init__(self, conn, doc_id):
        self.conn, self.id = conn, doc_id
        self.text, self.version = "", 0
        self.seq = 0
        self.inflight = None      # (seq, op): sent, not acked
        self.buffer = None        # composed edits made meanwhile
        self.cursor = None        # (anchor, head) to show, or None
        self.presence = {}        # client id -> the others' presence message
        self._changes = asyncio.Queue()
        self._joined = asyncio.get_running_loop().create_future()
        self._synced = asyncio.Event()
        self._synced.set()
        self._error = None

    # ---- editing

    async def edit(self, op):
        """Apply 'op' (on the current text) here and send it (or buffer it
        behind the op in flight). Raises ChorusError after an error on this
        document, ops.OTError for an op that does not fit the text."""
        self._raise()
        op = ops.normalize(op)
        self.text = ops.apply(self.text, op)
        if self.cursor is not None:
            self.cursor = tuple(ops.transform_pos(p, op, ops.RIGHT) for p in self.cursor)
        if self.inflight is None:
            await self._send(op)
        else:
            self.buffer = op if self.buffer is None else ops.compose(self.buffer, op)
        self._synced.clear()

    async def insert(self, pos, text):
        await self.edit(ops.splice(pos, 0, text))

    async def delete(self, pos, count):
        await self.edit(ops.splice(pos, count, ""))

    async def replace(self, text):
        """Make the text 'text' (the change from the current text, as one op)."""
        op = ops.diff(self.text, text)
        if op:
            await self.edit(op)

    async def set_cursor(self, anchor, head=None):
        """Show a caret (head None) or a selection to the others; None: none."""
        self.cursor = None if anchor is None else (anchor, anchor if head is None else head)
        await self._send_presence()

    async def synced(self, timeout=None):
        """Wait until every edit made here is acknowledged (durable)."""
        await asyncio.wait_for(self._synced.wait(), timeout)
        self._raise()

    async def changes(self):
        """Every change made by others, as it arrives (async iterator)."""
        while True:
            item = await self._changes.get()
            if isinstance(item, Exception):
                raise item
            yield item

    async def leave(self):
        await self.conn._send({"type": "leave", "doc": self.id})
        self.conn.docs.pop(self.id, None)

    # ---- inside

    def _raise(self):
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    async def _send(self, op):
        self.seq += 1
        self.inflight = (self.seq, op)
        await self._send_inflight()

    async def _send_inflight(self):
        seq, op = self.inflight
        await self.conn._send({"type": "op", "doc": self.id, "version": self.version,
                               "seq": seq, "op": op})

    async def _send_presence(self):
        cur = None if self.cursor is None else {"anchor": self.cursor[0], "head": self.cursor[1]}
        await self.conn._send({"type": "presence", "doc": self.id, "version": self.version,
                               "cursor": cur})

    async def _on_ack(self, m):
        if not self.inflight or m.get("seq") != self.inflight[0]:
            return  # an ack again for a resend already counted
        self.version = m["version"]
        self.inflight = None
        if self.buffer is not None:
            op, self.buffer = self.buffer, None
            await self._send(op)
        else:
            self._synced.set()

    async def _on_op(self, m):
        if (self.inflight and m.get("client") == self.conn.client_id
                and m.get("seq") == self.inflight[0]):
            await self._on_ack(m)  # our own op in a catch-up: its ack
            return
        if m["version"] != self.version + 1:
            return  # already seen (a catch-up overlapping what we had)
        op = ops.from_wire(m["op"])
        if self.inflight:
            seq, f = self.inflight
            self.inflight = (seq, ops.transform(f, op, ops.RIGHT))
            op = ops.transform(op, f, ops.LEFT)
        if self.buffer is not None:
            b = self.buffer
            self.buffer = ops.transform(b, op, ops.RIGHT)
            op = ops.transform(op, b, ops.LEFT)
        self.text = ops.apply(self.text, op)
        self.version = m["version"]
        if self.cursor is not None:
            self.cursor = tuple(ops.transform_pos(p, op, ops.LEFT) for p in self.cursor)
        self._changes.put_nowait(Change(self.version, op, m.get("client"), m.get("user")))

    def _on_presence(self, m):
        if m.get("left"):
            self.presence.pop(m.get("client"), None)
        else:
            self.presence[m.get("client")] = m
        self._changes.put_nowait(Change(self.version, None, m.get("client"), m.get("user"),
                                        m.get("cursor"), bool(m.get("left"))))

    async def _on_joined(self, m):
        if "text" in m:  # a fresh join: our state is the server's
            self.text, self.version = m["text"], m["version"]
        if not self._joined.done():
            self._joined.set_result(self)
        if self.inflight:  # not in the catch-up: resend, same seq
            await self._send_inflight()
        if self.cursor is not None:
            await self._send_presence()

    def _fail(self, err):
        if not self._joined.done():
            self._joined.set_exception(err)
            return
        self._error = err
        self._synced.set()
        self._changes.put_nowait(err)


class Connection:
    """One chorus.v1 connection (reconnected when it drops)."""

    def __init__(self, url, name=None, token=None, client_id=None, reconnect=True,
                 **ws_options):
        if url.startswith("http"):
            url = "ws" + url[4:].rstrip("/") + "/ws"
        self.url, self.name, self.token = url, name, token
        self.client_id = client_id or _random_id()
        self.reconnect, self.ws_options = reconnect, ws_options
        self.docs = {}
        self.welcome = None
        self.ws = None
        self._reader = None
        self._closing = False
        self._hello = None

    async def open(self):
        await self._connect()
        self._reader = asyncio.get_running_loop().create_task(self._run())
        await self._hello
        return self

    async def _connect(self):
        self.ws = await websockets.connect(self.url, subprotocols=["chorus.v1"],
                                           max_size=None, **self.ws_options)
        self._hello = asyncio.get_running_loop().create_future()
        hello = {"type": "hello", "client": self.client_id}
        if self.name:
            hello["name"] = self.name
        if self.token:
            hello["token"] = self.token
        await self._send(hello)

    async def join(self, doc_id, share=None):
        """Join 'doc_id' (created when missing); returns its Document once
        the server sent its text. Raises ChorusError when refused."""
        doc = self.docs.get(doc_id) or Document(self, doc_id)
        self.docs[doc_id] = doc
        msg = {"type": "join", "doc": doc_id}
        if share:
            msg["share"] = share
        doc._share = share
        await self._send(msg)
        return await doc._joined

    async def close(self):
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            try:
                await self._reader
            except Exception:
                pass

    async def __aenter__(self):
        return await self.open()

    async def __aexit__(self, *exc):
        await self.close()

    async def _send(self, msg):
        try:
            await self.ws.send(json.dumps(msg, ensure_ascii=False))
        except websockets.ConnectionClosed:
            pass  # the reader reconnects and resends what matters

    async def _run(self):
        while True:
            try:
                async for frame in self.ws:
                    data = json.loads(frame)
                    for m in data if isinstance(data, list) else [data]:
                        await self._dispatch(m)
            except websockets.ConnectionClosed:
                pass
            if self._closing or not self.reconnect:
                self._fail_all(ChorusError("closed", "connection closed"))
                return
            await self._reopen()

    async def _reopen(self):
        delay = 0.05
        while not self._closing:
            try:
                await self._connect()
                await self._resume()
                return
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def _resume(self):
        for doc in self.docs.values():
            msg = {"type": "join", "doc": doc.id, "version": doc.version}
            if getattr(doc, "_share", None):
                msg["share"] = doc._share
            await self._send(msg)

    async def _dispatch(self, m):
        t = m.get("type")
        doc = self.docs.get(m.get("doc"))
        if t == "welcome":
            self.welcome = m
            if not self._hello.done():
                self._hello.set_result(m)
        elif t == "error":
            self._on_error(m, doc)
        elif doc is None:
            return
        elif t == "joined":
            await doc._on_joined(m)
        elif t == "ack":
            await doc._on_ack(m)
        elif t == "op":
            await doc._on_op(m)
        elif t == "presence":
            doc._on_presence(m)

    def _on_error(self, m, doc):
        err = ChorusError(m.get("code"), m.get("message", ""), m.get("doc"), m.get("seq"))
        code, loop = m.get("code"), asyncio.get_running_loop()
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(err)
        elif doc is None:
            for d in self.docs.values():
                d._fail(err)
        elif code == "rate_limited" and doc.inflight and m.get("seq") == doc.inflight[0]:
            # not applied: the same op again, a little later
            loop.call_later(0.5, lambda: loop.create_task(doc._send_inflight()))
        elif code == "server_error" or (code == "too_old" and m.get("seq") is not None):
            # no longer joined (server_error), or the op's base is gone:
            # rejoin from our version; the op in flight is resent after it
            loop.call_later(0.2, lambda: loop.create_task(self._rejoin(doc)))
        elif code in ("access_revoked", "version_ahead", "bad_op", "forbidden",
                      "too_large", "too_old", "unauthorized", "bad_doc_id"):
            doc._fail(err)

    async def _rejoin(self, doc):
        if self.docs.get(doc.id) is doc:
            await self._send({"type": "join", "doc": doc.id, "version": doc.version})

    def _fail_all(self, err):
        for d in self.docs.values():
            d._fail(err)


class connect:
    """`async with connect(url, name=..., token=...) as c:` (or
    `c = await connect(url)`) -- a Connection that has said hello.
    url: ws://host:port/ws (or http://host:port). token: a login or API
    token (team mode). client_id: kept across reconnects; random if None."""

    def __init__(self, url, **kw):
        self.conn = Connection(url, **kw)

    def __await__(self):
        return self.conn.open().__await__()

    async def __aenter__(self):
        return await self.conn.open()

    async def __aexit__(self, *exc):
        await self.conn.close()
