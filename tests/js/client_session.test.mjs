// client_session.test.mjs -- web/chorus.js's Connection and Doc speaking
// chorus.v1 to a simulated server: an in-process fake with the protocol's
// rules (transform over later ops, ack after commit, (client, seq) dedup,
// catch-up on join with a version, frames holding arrays of messages).
// Sockets are fakes that deliver after random delays and can be cut at any
// moment, losing whatever was in flight, so reconnect, resend and catch-up
// are exercised; every client must end with the server's text.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../web/chorus.js';

const SEED = Number(process.env.CHORUS_SEED || 0) || (Date.now() % 1e9);

function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

class FakeServer {
    constructor(r, maxMessage = 1 << 20) {
        this.r = r;
        this.maxMessage = maxMessage;
        this.docs = new Map();
        this.conns = new Set();
        this.up = true;
        this.committed = 0;
    }
    doc(id) {
        if (!this.docs.has(id)) this.docs.set(id, { text: '', log: [], members: new Set(), seen: new Map() });
        return this.docs.get(id);
    }
    connect(sock) {
        const conn = { sock, client: null, name: '', docs: new Set() };
        this.conns.add(conn);
        return conn;
    }
    send(conn, msgs) {
        // Batch sometimes: the protocol allows an array of messages a frame.
        if (msgs.length > 1 && this.r() < 0.5) conn.sock.toClient(JSON.stringify(msgs));
        else for (const m of msgs) conn.sock.toClient(JSON.stringify(m));
    }
    handle(conn, data) {
        if (Buffer.byteLength(data) > this.maxMessage) { conn.sock.cut(); this.tooLarge = (this.tooLarge || 0) + 1; return; }
        const m = JSON.parse(data);
        if (m.type === 'hello') {
            conn.client = m.client; conn.name = m.name || 'anon';
            this.send(conn, [{ type: 'welcome', client: m.client, user: { name: conn.name, color: '#123456' }, server: 'chorus fake', limits: { max_message: this.maxMessage } }]);
            return;
        }
        if (!conn.client) { this.send(conn, [{ type: 'error', code: 'hello_required', message: 'hello first' }]); return; }
        const d = this.doc(m.doc);
        const user = { name: conn.name, color: '#123456' };
        if (m.type === 'join') {
            const out = [];
            if (typeof m.version === 'number') {
                if (m.version > d.log.length) { this.send(conn, [{ type: 'error', code: 'version_ahead', doc: m.doc, message: 'ahead' }]); return; }
                d.log.slice(m.version).forEach((e, i) => out.push({ type: 'op', doc: m.doc, version: m.version + i + 1, op: e.op, client: e.client, seq: e.seq, user: e.user }));
                out.push({ type: 'joined', doc: m.doc, version: d.log.length });
            } else out.push({ type: 'joined', doc: m.doc, version: d.log.length, text: d.text });
            for (const o of d.members) if (o !== conn) out.push({ type: 'presence', doc: m.doc, client: o.client, user: { name: o.name }, version: d.log.length, cursor: o.cursor || null });
            d.members.add(conn);
            conn.docs.add(m.doc);
            this.send(conn, out);
        } else if (m.type === 'op') {
            if (!d.members.has(conn)) { this.send(conn, [{ type: 'error', code: 'not_joined', message: 'join first', doc: m.doc }]); return; }
            if (this.failNext) {
                /* A failed commit: the op is not applied, the author is told
                 * and no longer joined (as the real server's fail_session). */
                this.failNext--;
                d.members.delete(conn);
                conn.docs.delete(m.doc);
                this.send(conn, [{ type: 'error', code: 'server_error', message: 'storage failure', doc: m.doc, seq: m.seq }]);
                return;
            }
            if (this.viewers) { this.send(conn, [{ type: 'error', code: 'forbidden', message: 'viewers cannot edit', doc: m.doc, seq: m.seq }]); return; }
            if (this.maxDocChars !== undefined) {
                let grown = C.normalize(m.op);
                for (const e of d.log.slice(m.version)) grown = C.transform(grown, e.op, C.RIGHT);
                if ([...C.apply(d.text, grown)].length > Math.max(this.maxDocChars, [...d.text].length)) {
                    this.send(conn, [{ type: 'error', code: 'too_large', message: 'the document would pass its size limit', doc: m.doc, seq: m.seq }]);
                    return;
                }
            }
            const key = conn.client + '/' + m.seq;
            if (d.seen.has(key)) { this.send(conn, [{ type: 'ack', doc: m.doc, seq: m.seq, version: d.seen.get(key) }]); return; }
            let op = C.normalize(m.op);
            for (const e of d.log.slice(m.version)) op = C.transform(op, e.op, C.RIGHT);
            d.text = C.apply(d.text, op);
            d.log.push({ op, client: conn.client, seq: m.seq, user });
            d.seen.set(key, d.log.length);
            this.committed++;
            for (const o of d.members) {
                if (o === conn) this.send(o, [{ type: 'ack', doc: m.doc, seq: m.seq, version: d.log.length }]);
                else this.send(o, [{ type: 'op', doc: m.doc, version: d.log.length, op, client: conn.client, seq: m.seq, user }]);
            }
        } else if (m.type === 'presence') {
            let cur = m.cursor;
            if (cur) for (const e of d.log.slice(m.version)) cur = { anchor: C.transformPos(cur.anchor, e.op, C.LEFT), head: C.transformPos(cur.head, e.op, C.LEFT) };
            conn.cursor = cur;
            for (const o of d.members) if (o !== conn) this.send(o, [{ type: 'presence', doc: m.doc, client: conn.client, user, version: d.log.length, cursor: cur }]);
        } else if (m.type === 'leave') {
            d.members.delete(conn);
            conn.docs.delete(m.doc);
            for (const o of d.members) this.send(o, [{ type: 'presence', doc: m.doc, client: conn.client, user: {}, version: d.log.length, cursor: null, left: true }]);
        }
    }
    drop(conn) {
        this.conns.delete(conn);
        for (const id of conn.docs) {
            const d = this.doc(id);
            d.members.delete(conn);
            for (const o of d.members) this.send(o, [{ type: 'presence', doc: id, client: conn.client, user: {}, version: d.log.length, cursor: null, left: true }]);
        }
    }
}

// A fake WebSocket: each direction is FIFO, delivered after random delays;
// cutting it loses everything not yet delivered, both ways.
function makeSocketClass(server, r) {
    return class FakeSocket {
        constructor(url, proto) {
            assert.equal(proto, 'chorus.v1');
            this.readyState = 0;
            this.toServer = [];
            this.toClientQ = [];
            if (!server.up) { setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 1); return; }
            this.conn = server.connect(this);
            setTimeout(() => { if (this.readyState === 0) { this.readyState = 1; this.onopen && this.onopen(); } }, 1);
        }
        pump(q, fn) {
            if (q.pumping) return;
            q.pumping = true;
            setTimeout(() => {
                q.pumping = false;
                if (this.readyState !== 1) return;
                const n = 1 + Math.floor(r() * q.length);
                for (let i = 0; i < n && q.length && this.readyState === 1; i++) fn(q.shift());
                if (q.length) this.pump(q, fn);
            }, Math.floor(r() * 3));
        }
        send(data) {
            if (this.readyState !== 1) throw new Error('not open');
            this.toServer.push(data);
            this.pump(this.toServer, (d) => server.handle(this.conn, d));
        }
        toClient(data) {
            this.toClientQ.push(data);
            this.pump(this.toClientQ, (d) => this.onmessage && this.onmessage({ data: d }));
        }
        cut() {
            if (this.readyState === 3) return;
            this.readyState = 3;
            this.toServer.length = 0;
            this.toClientQ.length = 0;
            server.drop(this.conn);
            setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 1);
        }
        close() { this.cut(); }
    };
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function until(pred, ms, what) {
    const end = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > end) throw new Error('timed out waiting for ' + what);
        await sleep(5);
    }
}

function memStorage() {
    const m = new Map();
    return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) };
}

const ALPHA = ['a', 'b', ' ', '\n', '한', '글', '😀', '👍🏽', 'e\u0301'];

function randomEdit(r, doc) {
    const len = C.cpLength(doc.text);
    const pos = Math.floor(r() * (len + 1));
    if (len > 0 && r() < 0.3) {
        const n = 1 + Math.floor(r() * Math.min(3, len - pos));
        if (pos < len) return C.splice(pos, n, '');
    }
    return C.splice(pos, 0, ALPHA[Math.floor(r() * ALPHA.length)]);
}

async function scenario(seed, nclients, edits, cutRate) {
    const r = rng(seed);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    const sockets = [];
    const Tracked = class extends WS { constructor(...a) { super(...a); sockets.push(this); } };
    const conns = [];
    for (let i = 0; i < nclients; i++) {
        conns.push(new C.Connection({ url: 'ws://fake/ws', name: 'user' + i, WebSocket: Tracked, storage: memStorage(), random: r, backoffMin: 1, backoffMax: 8, presenceDelay: 1 }));
    }
    const docs = conns.map((c) => c.open('doc1'));
    await until(() => docs.every((d) => d.ready), 2000, 'joins');
    for (let i = 0; i < edits; i++) {
        const d = docs[Math.floor(r() * docs.length)];
        d.edit(randomEdit(r, d));
        if (r() < 0.2) d.setCursor({ anchor: 0, head: Math.min(1, C.cpLength(d.text)) });
        if (r() < cutRate) {
            const open = sockets.filter((s) => s.readyState === 1);
            if (open.length) open[Math.floor(r() * open.length)].cut();
        }
        if (r() < 0.02) { server.up = false; setTimeout(() => { server.up = true; }, 5); }
        if (r() < 0.3) await sleep(Math.floor(r() * 3));
    }
    server.up = true;
    const d0 = server.doc('doc1');
    await until(() => docs.every((d) => d.saved && d.joined && d.text === d0.text) &&
        conns.every((c) => c.status === 'connected'), 10000, `convergence (seed ${seed})`);
    for (const c of conns) c.close();
    return { server, docs, d0 };
}

test('clients converge through a simulated server with random delays', async () => {
    for (let i = 0; i < 8; i++) {
        const { docs, d0 } = await scenario(SEED + i, 2 + (i % 3), 150, 0);
        for (const d of docs) assert.equal(d.text, d0.text, `seed ${SEED + i}`);
    }
});

test('connections cut at random moments reconnect, resend and apply each edit once', async () => {
    for (let i = 0; i < 8; i++) {
        const seed = SEED + 100 + i;
        const { server, docs, d0 } = await scenario(seed, 3, 150, 0.05);
        for (const d of docs) assert.equal(d.text, d0.text, `seed ${seed}`);
        // Every op the server committed is a distinct (client, seq).
        assert.equal(new Set(d0.log.map((e) => e.client + '/' + e.seq)).size, d0.log.length, `seed ${seed}`);
        assert.equal(server.committed, d0.log.length);
    }
});

test('an op whose ack was lost is acknowledged from the catch-up, not applied twice', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    let sock = null;
    const Tracked = class extends WS { constructor(...a) { super(...a); sock = this; } };
    const conn = new C.Connection({ url: 'ws://x/ws', WebSocket: Tracked, backoffMin: 1, backoffMax: 4 });
    const doc = conn.open('d');
    await until(() => doc.ready, 1000, 'join');
    // Let the server commit but lose its ack: cut right after the op is handled.
    const handle = server.handle.bind(server);
    server.handle = (c, data) => { handle(c, data); if (JSON.parse(data).type === 'op') { server.handle = handle; sock.cut(); } };
    doc.edit(['hello']);
    assert.equal(doc.saved, false);
    await until(() => doc.saved && doc.joined, 2000, 'ack after reconnect');
    assert.equal(server.doc('d').text, 'hello');
    assert.equal(doc.text, 'hello');
    assert.equal(server.committed, 1);
    conn.close();
});

test('status goes reconnecting then offline while the server is down, and back', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    let sock = null;
    const Tracked = class extends WS { constructor(...a) { super(...a); sock = this; } };
    const conn = new C.Connection({ url: 'ws://x/ws', WebSocket: Tracked, backoffMin: 1, backoffMax: 4, offlineAfter: 3 });
    const seen = [];
    conn.on('status', (s) => seen.push(s));
    const doc = conn.open('d');
    await until(() => doc.ready, 1000, 'join');
    server.up = false;
    sock.cut();
    doc.edit(['typed while down']);
    await until(() => conn.status === 'offline', 2000, 'offline');
    server.up = true;
    await until(() => conn.status === 'connected' && doc.saved, 2000, 'back');
    assert.deepEqual(seen.slice(0, 4), ['connected', 'reconnecting', 'offline', 'connected']);
    assert.equal(server.doc('d').text, 'typed while down');
    conn.close();
});

test('presence: a remote cursor is tracked, moved by edits and removed on leave', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    const sockets = [];
    const Tracked = class extends WS { constructor(...a) { super(...a); sockets.push(this); } };
    const a = new C.Connection({ url: 'ws://x/ws', name: 'Ann', WebSocket: Tracked, presenceDelay: 1, backoffMin: 50 });
    const b = new C.Connection({ url: 'ws://x/ws', name: 'Bo', WebSocket: Tracked, presenceDelay: 1, backoffMin: 50 });
    const da = a.open('p'), db = b.open('p');
    await until(() => da.ready && db.ready, 1000, 'joins');
    da.edit(['0123456789']);
    await until(() => db.text === '0123456789', 1000, 'text');
    da.setCursor({ anchor: 5, head: 7 });
    await until(() => db.peers.get(a.clientId)?.cursor?.head === 7, 1000, 'cursor');
    assert.equal(db.peers.get(a.clientId).name, 'Ann');
    db.edit(['ab']); // before A's selection: it moves right
    assert.deepEqual(db.peers.get(a.clientId).cursor, { anchor: 7, head: 9 });
    await until(() => da.text === 'ab0123456789', 1000, 'text at A');
    assert.deepEqual(da.cursor, { anchor: 7, head: 9 });
    sockets[0].cut();
    await until(() => !db.peers.has(a.clientId), 1000, 'leave');
    a.close(); b.close();
});

test('a paste larger than the server message limit is sent as several ops', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r, 2000);
    const WS = makeSocketClass(server, r);
    const a = new C.Connection({ url: 'ws://x/ws', WebSocket: WS });
    const b = new C.Connection({ url: 'ws://x/ws', WebSocket: WS });
    const da = a.open('big'), db = b.open('big');
    await until(() => da.ready && db.ready, 1000, 'joins');
    const big = 'paste 한글 😀 "quoted" \\ \u0001\n'.repeat(300);
    da.edit(['xy']);
    await until(() => db.text === 'xy', 1000, 'xy');
    da.edit([1, big]);
    db.edit([2, 'b']); // concurrent, elsewhere: the paste stays in one piece
    await until(() => da.saved && db.saved && da.text === db.text && db.text === server.doc('big').text, 5000, 'convergence');
    assert.ok(server.doc('big').log.length > 5, 'several ops');
    assert.equal(server.tooLarge || 0, 0);
    assert.equal(da.text, 'x' + big + 'yb');
    a.close(); b.close();
});

test('a viewer whose edit is refused goes back to the server text and is read-only', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    const w = new C.Connection({ url: 'ws://x/ws', WebSocket: WS });
    const dw = w.open('ro');
    await until(() => dw.ready, 1000, 'join');
    dw.edit(['server text']);
    await until(() => dw.saved, 1000, 'ack');
    server.viewers = true;
    const v = new C.Connection({ url: 'ws://x/ws', WebSocket: WS });
    const dv = v.open('ro');
    const errors = [];
    dv.on('error', (e) => errors.push(e.code));
    await until(() => dv.ready, 1000, 'join');
    dv.edit([6, ' edited']);
    assert.equal(dv.text, 'server edited text');
    await until(() => dv.readOnly && !dv.resyncing && dv.text === 'server text', 2000, 'revert');
    assert.ok(dv.saved);
    assert.ok(errors.includes('forbidden'));
    assert.throws(() => dv.edit(['x']), (e) => e.code === 'forbidden');
    w.close(); v.close();
});

test('an edit past the document size limit is dropped and the page goes back to the server text', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    server.maxDocChars = 20;
    const WS = makeSocketClass(server, r);
    const a = new C.Connection({ url: 'ws://x/ws', WebSocket: WS });
    const d = a.open('limit');
    const errors = [];
    d.on('error', (e) => errors.push(e.code));
    await until(() => d.ready, 1000, 'join');
    d.edit(['0123456789']);
    await until(() => d.saved, 1000, 'ack');
    d.edit([10, 'x'.repeat(20)]);
    await until(() => errors.includes('too_large') && !d.resyncing && d.text === '0123456789', 2000, 'revert');
    d.edit([10, 'abc']);
    await until(() => d.saved && server.doc('limit').text === '0123456789abc', 1000, 'later edit');
    assert.ok(!d.readOnly);
    a.close();
});

test('a version_ahead on rejoin resyncs from the full text and keeps local edits', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    let sock = null;
    const Tracked = class extends WS { constructor(...a) { super(...a); sock = this; } };
    const c = new C.Connection({ url: 'ws://x/ws', WebSocket: Tracked, backoffMin: 1, backoffMax: 4 });
    const d = c.open('lost');
    await until(() => d.ready, 1000, 'join');
    d.edit(['abc']);
    await until(() => d.saved, 1000, 'ack');
    // The server loses its history (a restore from an old backup).
    server.up = false;
    sock.cut();
    server.docs.set('lost', { text: 'xyz', log: [], members: new Set(), seen: new Map() });
    d.edit([3, '!']);
    server.up = true;
    await until(() => d.saved && d.joined && !d.resyncing, 2000, 'resync');
    assert.equal(server.doc('lost').text, 'xyz!');
    assert.equal(d.text, 'xyz!');
    c.close();
});

test('the seq counter survives a new Connection with the same storage', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    const storage = memStorage();
    const c1 = new C.Connection({ url: 'ws://x/ws', clientId: 'same-client-id', WebSocket: WS, storage });
    const d1 = c1.open('s');
    await until(() => d1.ready, 1000, 'join');
    d1.edit(['one ']);
    await until(() => d1.saved, 1000, 'ack');
    c1.close();
    const c2 = new C.Connection({ url: 'ws://x/ws', clientId: 'same-client-id', WebSocket: WS, storage });
    const d2 = c2.open('s');
    await until(() => d2.ready, 1000, 'join');
    d2.edit([4, 'two']);
    await until(() => d2.saved, 1000, 'ack');
    assert.equal(server.doc('s').text, 'one two');
    c2.close();
});

test('claimClientId keeps one id across reloads and gives a second tab another', async () => {
    const storage = memStorage();
    const held = new Set();
    const locks = {
        request(name, opts, cb) {
            if (held.has(name)) return Promise.resolve(cb(null));
            held.add(name);
            return Promise.resolve(cb({ name }));
        },
    };
    const first = await C.claimClientId(storage, locks);
    const second = await C.claimClientId(storage, locks);
    assert.notEqual(first, second);
    held.delete('chorus.client.' + first); // the first tab reloads
    assert.equal(await C.claimClientId(storage, locks), first);
    assert.equal(await C.claimClientId(memStorage(), null).then((x) => typeof x), 'string');
});

test('after a server_error for the doc the client rejoins with its version and the op in flight is acked once', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    const sent = [];
    const Tracked = class extends WS { send(data) { sent.push(JSON.parse(data)); super.send(data); } };
    const conn = new C.Connection({ url: 'ws://x/ws', WebSocket: Tracked, backoffMin: 5, backoffMax: 20 });
    const doc = conn.open('e');
    const errors = [];
    doc.on('error', (e) => errors.push(e.code));
    const acks = [];
    doc.on('saved', (s) => { if (s) acks.push(doc.version); });
    await until(() => doc.ready, 1000, 'join');
    doc.edit(['first ']);
    await until(() => doc.saved, 1000, 'first ack');
    server.failNext = 2; /* the commit fails twice, then works */
    doc.edit([6, 'second']);
    const seq = doc.ot.inflight.seq;
    await until(() => errors.filter((c) => c === 'server_error').length === 1, 1000, 'server_error');
    assert.equal(doc.joined, false);
    await until(() => doc.saved && doc.joined, 3000, 'rejoin, resend, ack');
    assert.equal(server.doc('e').text, 'first second');
    assert.equal(doc.text, 'first second');
    assert.equal(server.committed, 2, 'each edit committed once');
    assert.equal(errors.filter((c) => c === 'server_error').length, 2);
    const joins = sent.filter((m) => m.type === 'join');
    assert.equal(joins.length, 3);
    assert.deepEqual(joins.slice(1).map((m) => m.version), [1, 1], 'rejoined with its version');
    const ops = sent.filter((m) => m.type === 'op' && m.seq === seq);
    assert.equal(ops.length, 3, 'the op in flight was resent with its same seq');
    assert.equal(doc.version, 2);
    conn.close();
});

test('presence: a peer without a cursor is listed; left:true removes it', async () => {
    const r = rng(SEED);
    const server = new FakeServer(r);
    const WS = makeSocketClass(server, r);
    const a = new C.Connection({ url: 'ws://x/ws', name: 'Ann', WebSocket: WS, presenceDelay: 1 });
    const b = new C.Connection({ url: 'ws://x/ws', name: 'Bo', WebSocket: WS, presenceDelay: 1 });
    const da = a.open('pl');
    await until(() => da.ready, 1000, 'join A');
    const db = b.open('pl');
    await until(() => db.ready && db.peers.has(a.clientId), 1000, 'B sees A at join');
    assert.equal(db.peers.get(a.clientId).cursor, null);
    da.setCursor({ anchor: 0, head: 0 });
    await until(() => db.peers.get(a.clientId)?.cursor?.head === 0, 1000, 'cursor');
    da.setCursor(null);
    await until(() => db.peers.get(a.clientId)?.cursor === null, 1000, 'cursor hidden');
    assert.ok(db.peers.has(a.clientId), 'still present without a cursor');
    da.leave();
    await until(() => !db.peers.has(a.clientId), 1000, 'left');
    a.close(); b.close();
});
