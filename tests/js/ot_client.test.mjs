// ot_client.test.mjs -- properties of web/chorus.js's op algebra and its OT
// client state machine. Random documents hold Hangul, emoji and combining
// marks; every random test is seeded (CHORUS_SEED) and names its seed when
// it fails. The state machine is driven against a simulated server under
// random delivery orders: every client must end with the server's text.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../web/chorus.js';

const SEED = Number(process.env.CHORUS_SEED || 0) || (Date.now() % 1e9);

// mulberry32: small, seedable.
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

const ALPHABET = ['a', 'b', 'z', ' ', '\n', '한', '글', '😀', '👍🏽', 'e\u0301', '日', 'ß', '\u0000'];
function randText(r, n) {
    let s = '';
    for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    return s;
}

function randOp(r, text) {
    const len = C.cpLength(text);
    const op = [];
    let left = len;
    while (left > 0 || r() < 0.3) {
        const k = r();
        if (k < 0.4 && left > 0) { const n = 1 + Math.floor(r() * left); C.pushRetain(op, n); left -= n; }
        else if (k < 0.7 && left > 0) { const n = 1 + Math.floor(r() * Math.min(left, 4)); C.pushDelete(op, n); left -= n; }
        else C.pushInsert(op, randText(r, 1 + Math.floor(r() * 3)));
        if (r() < 0.15) break;
    }
    return C.normalize(op);
}

function assertNormal(op, msg) {
    for (let i = 0; i < op.length; i++) {
        const c = op[i];
        assert.ok(c !== 0 && c !== '', msg + ': zero or empty component');
        if (i > 0) {
            const p = op[i - 1];
            const kind = (x) => (typeof x === 'string' ? 'i' : x > 0 ? 'r' : 'd');
            assert.notEqual(kind(p), kind(c), msg + ': adjacent components of one kind');
            assert.ok(!(kind(p) === 'd' && kind(c) === 'i'), msg + ': delete before insert');
        }
    }
    if (op.length) assert.ok(!(typeof op[op.length - 1] === 'number' && op[op.length - 1] > 0), msg + ': trailing retain');
}

test('code point and UTF-16 indices convert both ways', () => {
    const s = 'a😀b한👍🏽c';
    assert.equal(C.cpLength(s), 7);
    assert.equal(C.cpToUtf16(s, 0), 0);
    assert.equal(C.cpToUtf16(s, 2), 3);
    assert.equal(C.cpToUtf16(s, 7), s.length);
    assert.equal(C.cpToUtf16(s, 99), s.length);
    for (let cp = 0; cp <= 7; cp++) assert.equal(C.utf16ToCp(s, C.cpToUtf16(s, cp)), cp);
    assert.equal(C.utf16ToCp(s, 2), 1, 'inside a pair counts as its start');
    assert.equal(C.utf8Length(s), 1 + 4 + 1 + 3 + 8 + 1);
    assert.ok(C.isWellFormed(s));
    assert.ok(!C.isWellFormed('a\ud800b'));
    assert.ok(!C.isWellFormed('\udc00'));
});

test('normalize rejects bad wire ops with the C engine error names', () => {
    const bad = [[{}, 'OT_EJSON'], ['x', 'OT_EJSON'], [[0], 'OT_EZERO'], [[1.5], 'OT_ENOTINT'],
        [[''], 'OT_EEMPTY'], [[2 ** 31 + 1], 'OT_EBIG'], [['\ud800'], 'OT_ESURROGATE'],
        [[null], 'OT_EJSON'], [[[1]], 'OT_EJSON'], [[Infinity], 'OT_EBIG']];
    for (const [w, code] of bad) {
        assert.throws(() => C.normalize(w), (e) => e.code === code, JSON.stringify(w));
    }
    assert.deepEqual(C.normalize([1, 2, -1, 'a', 'b', 3]), [3, 'ab', -1]);
    assert.deepEqual(C.normalize([2.0, -1, -1]), [2, -2]);
});

test('apply fails with OT_ERANGE past the end and changes nothing', () => {
    assert.throws(() => C.apply('ab', [3]), (e) => e.code === 'OT_ERANGE');
    assert.throws(() => C.apply('😀', [1, -1]), (e) => e.code === 'OT_ERANGE');
    assert.equal(C.apply('😀x', [1, 'y', -1]), '😀y');
});

test('diff with a caret hint puts a repeated character where the caret is', () => {
    assert.deepEqual(C.diff('aa', 'aaa', 1), ['a']);
    assert.deepEqual(C.diff('aa', 'aaa', 3), [2, 'a']);
    assert.deepEqual(C.diff('aaa', 'aa', 0), [-1]);
    assert.deepEqual(C.diff('x😀😀', 'x😀😀😀', 3), [1, '😀']);
    assert.deepEqual(C.diff('x😀😁', 'x😁', 1), [1, -1]);
    assert.deepEqual(C.diff('ab', 'ab'), []);
});

test('the server op wins insert ties in transform', () => {
    const a = [1, 'A'], b = [1, 'B'];
    assert.deepEqual(C.transform(a, b, C.RIGHT), [2, 'A']);
    assert.deepEqual(C.transform(a, b, C.LEFT), [1, 'A']);
    assert.equal(C.transformPos(1, [1, 'B'], C.RIGHT), 2);
    assert.equal(C.transformPos(1, [1, 'B'], C.LEFT), 1);
    assert.equal(C.transformPos(3, [1, -5], C.LEFT), 1);
});

test('random ops keep the algebra laws (transform, compose, invert)', () => {
    const r = rng(SEED);
    for (let it = 0; it < 3000; it++) {
        const d = randText(r, Math.floor(r() * 12));
        const a = randOp(r, d), b = randOp(r, d);
        const msg = `seed ${SEED} iteration ${it}: ${JSON.stringify([d, a, b])}`;
        const a2 = C.transform(a, b, C.RIGHT), b2 = C.transform(b, a, C.LEFT);
        assertNormal(a2, msg); assertNormal(b2, msg);
        assert.equal(C.apply(C.apply(d, b), a2), C.apply(C.apply(d, a), b2), msg);
        const da = C.apply(d, a);
        const c = randOp(r, da);
        const ac = C.compose(a, c);
        assertNormal(ac, msg);
        assert.equal(C.apply(d, ac), C.apply(da, c), msg);
        const inv = C.invert(a, d);
        assertNormal(inv, msg);
        assert.equal(C.apply(da, inv), d, msg);
        const pos = Math.floor(r() * (C.cpLength(d) + 1));
        const np = C.transformPos(pos, a, C.LEFT);
        assert.ok(np >= 0 && np <= C.cpLength(da), msg);
        const df = C.diff(d, da);
        assert.equal(C.apply(d, df), da, msg);
        assertNormal(df, msg);
        const caret = Math.floor(r() * (da.length + 1));
        const dh = C.diff(d, da, caret);
        assert.equal(C.apply(d, dh), da, msg + ' caret ' + caret);
        assertNormal(dh, msg);
    }
});

test('splitOp cuts a large op into parts that fit and compose back', () => {
    const r = rng(SEED + 5);
    for (let it = 0; it < 500; it++) {
        const d = randText(r, Math.floor(r() * 30));
        let op = randOp(r, d);
        if (r() < 0.5) op = C.compose(op, C.splice(0, 0, randText(r, 50 + Math.floor(r() * 200))));
        const max = 64 + Math.floor(r() * 200);
        let rest = op, parts = 0, acc = [];
        while (rest.length) {
            const [first, more] = C.splitOp(rest, max);
            assert.ok(Buffer.byteLength(JSON.stringify(first)) <= max || more.length === 0, `seed ${SEED} it ${it}`);
            acc = C.compose(acc, first);
            rest = more;
            assert.ok(++parts < 1000);
        }
        assert.deepEqual(acc, op, `seed ${SEED} it ${it}`);
    }
    assert.deepEqual(C.splitOp([3, 'abc'], Infinity), [[3, 'abc'], []]);
});

// ---- The client state machine against a simulated server ----------------

class SimServer {
    constructor(text) { this.text = text; this.log = []; }
    receive(version, op) {
        for (const b of this.log.slice(version)) op = C.transform(op, b, C.RIGHT);
        this.text = C.apply(this.text, op);
        this.log.push(op);
        return { op, version: this.log.length };
    }
}

function runSimulation(seed, nclients, steps) {
    const r = rng(seed);
    const start = randText(r, 8);
    const server = new SimServer(start);
    const clients = [];
    for (let i = 0; i < nclients; i++) {
        clients.push({ id: i, text: start, ot: new C.OTClient(0), up: [], down: [] });
    }
    const send = (c, out) => { if (out) c.up.push({ version: out.version, op: out.op }); };
    for (let s = 0; s < steps; s++) {
        const c = clients[Math.floor(r() * nclients)];
        const k = r();
        if (k < 0.35) { // a local edit
            const op = randOp(r, c.text);
            c.text = C.apply(c.text, op);
            send(c, c.ot.local(op));
        } else if (k < 0.65 && c.up.length) { // the server takes one message
            const m = c.up.shift();
            const res = server.receive(m.version, m.op);
            for (const o of clients) o.down.push(o === c ? { ack: res.version } : { op: res.op, version: res.version });
        } else if (c.down.length) { // the client takes one message
            const m = c.down.shift();
            if (m.ack !== undefined) send(c, c.ot.ack(m.ack));
            else {
                assert.equal(m.version, c.ot.version + 1);
                c.text = C.apply(c.text, c.ot.remote(m.op));
            }
        }
    }
    // Drain everything.
    for (let busy = true; busy;) {
        busy = false;
        for (const c of clients) {
            while (c.up.length) {
                busy = true;
                const m = c.up.shift();
                const res = server.receive(m.version, m.op);
                for (const o of clients) o.down.push(o === c ? { ack: res.version } : { op: res.op, version: res.version });
            }
            while (c.down.length) {
                busy = true;
                const m = c.down.shift();
                if (m.ack !== undefined) send(c, c.ot.ack(m.ack));
                else c.text = C.apply(c.text, c.ot.remote(m.op));
            }
        }
    }
    return { server, clients };
}

test('clients converge with the server under random delivery orders', () => {
    for (let i = 0; i < 60; i++) {
        const seed = SEED + i;
        const { server, clients } = runSimulation(seed, 2 + (i % 4), 400);
        for (const c of clients) {
            assert.equal(c.text, server.text, `seed ${seed}: client ${c.id} diverged`);
            assert.equal(c.ot.state, 'synchronized', `seed ${seed}`);
            assert.equal(c.ot.version, server.log.length, `seed ${seed}`);
        }
    }
});

test('edits made while an op is in flight are batched into one buffer op', () => {
    const ot = new C.OTClient(0);
    assert.ok(ot.local(['a']));
    assert.equal(ot.state, 'awaiting');
    assert.equal(ot.local([1, 'b']), null);
    assert.equal(ot.local([2, 'c']), null);
    assert.equal(ot.state, 'buffering');
    assert.deepEqual(ot.buffer, [1, 'bc']);
    const next = ot.ack(1);
    assert.deepEqual(next.op, [1, 'bc']);
    assert.equal(next.version, 1);
    assert.equal(ot.state, 'awaiting');
    assert.equal(ot.ack(2), null);
    assert.equal(ot.state, 'synchronized');
});

test('a remote op is transformed over the op in flight and the buffer', () => {
    const ot = new C.OTClient(0);
    let text = 'xy';
    text = C.apply(text, ['A']);       // in flight
    ot.local(['A']);
    text = C.apply(text, [3, 'B']);    // buffered
    ot.local([3, 'B']);
    const remote = [1, 'R'];           // the server's, on "xy"
    const local = ot.remote(remote);
    text = C.apply(text, local);
    assert.equal(text, 'AxRyB');
    assert.deepEqual(ot.inflight.op, ['A']);
    assert.deepEqual(ot.buffer, [4, 'B']);
    assert.equal(ot.version, 1);
});
