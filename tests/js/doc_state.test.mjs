// doc_state.test.mjs -- web/chorus.js's Doc keeps where it stands with the
// server in one explicit state (DocState): the transitions documented in
// web/lib/doc.js, driven here message by message over a scripted socket.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../web/chorus.js';

/* A socket the test drives by hand: it records what the client sends. */
function scripted() {
    const socks = [];
    class Sock {
        constructor() { this.readyState = 1; this.sent = []; socks.push(this); }
        send(d) { this.sent.push(JSON.parse(d)); }
        close() { this.readyState = 3; }
        recv(...msgs) { for (const m of msgs) this.onmessage({ data: JSON.stringify(m) }); }
        drop() { this.readyState = 3; this.onclose({ code: 1006 }); }
    }
    return { Sock, socks, last: () => socks[socks.length - 1] };
}

function connected(opts = {}) {
    const s = scripted();
    const conn = new C.Connection({ url: 'ws://x/ws', clientId: 'client-aaaaaaaa', WebSocket: s.Sock, random: () => 0, backoffMin: 1, backoffMax: 2, ...opts });
    s.last().onopen();
    s.last().recv({ type: 'welcome', client: 'client-aaaaaaaa', user: { name: 'A' } });
    return { conn, s };
}

const sentOf = (sock, type) => sock.sent.filter((m) => m.type === type);

test('the states are named constants and every transition target is a state', () => {
    const names = Object.values(C.DocState);
    assert.deepEqual(names.sort(), ['detached', 'discarding', 'joined', 'left', 'rejoining', 'resyncing']);
    assert.ok(Object.isFrozen(C.DocState));
});

test('detached -> joined on joined; -> detached when the socket drops; joins again with its version', async () => {
    const { conn, s } = connected();
    const d = conn.open('a');
    assert.equal(d.state, C.DocState.DETACHED);
    assert.ok(!d.ready && !d.joined);
    s.last().recv({ type: 'joined', doc: 'a', version: 3, text: 'abc' });
    assert.equal(d.state, C.DocState.JOINED);
    assert.ok(d.ready && d.joined && !d.resyncing);
    s.last().drop();
    assert.equal(d.state, C.DocState.DETACHED);
    assert.ok(d.ready && !d.joined);
    await new Promise((r) => setTimeout(r, 10));
    s.last().onopen();
    s.last().recv({ type: 'welcome', client: 'client-aaaaaaaa' });
    assert.deepEqual(sentOf(s.last(), 'join').at(-1), { type: 'join', doc: 'a', version: 3 });
    conn.close();
});

test('too_old -> resyncing: ops ignored, the drop does not end it, the full text does', async () => {
    const { conn, s } = connected();
    const d = conn.open('a');
    s.last().recv({ type: 'joined', doc: 'a', version: 1, text: 'x' });
    d.edit([1, 'y']);
    s.last().recv({ type: 'error', doc: 'a', code: 'too_old', message: 'old' });
    assert.equal(d.state, C.DocState.RESYNCING);
    assert.ok(d.resyncing && !d.joined);
    assert.deepEqual(sentOf(s.last(), 'join').at(-1), { type: 'join', doc: 'a' });
    s.last().recv({ type: 'op', doc: 'a', version: 2, op: ['z'], client: 'other', seq: 1 });
    assert.equal(d.text, 'xy', 'ops are ignored while resyncing');
    s.last().drop();
    assert.equal(d.state, C.DocState.RESYNCING);
    await new Promise((r) => setTimeout(r, 10));
    s.last().onopen();
    s.last().recv({ type: 'welcome', client: 'client-aaaaaaaa' });
    assert.deepEqual(sentOf(s.last(), 'join').at(-1), { type: 'join', doc: 'a' }, 'still asks for the text');
    s.last().recv({ type: 'joined', doc: 'a', version: 5, text: 'server' });
    assert.equal(d.state, C.DocState.JOINED);
    assert.equal(d.text, 'servery', 'the unacknowledged edit is moved onto the new text');
    conn.close();
});

test('forbidden for our op -> discarding: the edits are dropped at the full text', () => {
    const { conn, s } = connected();
    const d = conn.open('a');
    s.last().recv({ type: 'joined', doc: 'a', version: 1, text: 'x' });
    d.edit([1, 'y']);
    const seq = sentOf(s.last(), 'op')[0].seq;
    s.last().recv({ type: 'error', doc: 'a', code: 'forbidden', seq, message: 'viewer' });
    assert.equal(d.state, C.DocState.DISCARDING);
    assert.ok(d.readOnly && d.resyncing);
    s.last().recv({ type: 'joined', doc: 'a', version: 1, text: 'x' });
    assert.equal(d.state, C.DocState.JOINED);
    assert.equal(d.text, 'x');
    assert.throws(() => d.edit(['no']), { code: 'forbidden' });
    conn.close();
});

test('server_error -> detached, then rejoining with its version, skipping repeated ops, then joined', async () => {
    const { conn, s } = connected();
    const d = conn.open('a');
    s.last().recv({ type: 'joined', doc: 'a', version: 1, text: 'x' });
    s.last().recv({ type: 'error', doc: 'a', code: 'server_error', message: 'disk' });
    assert.equal(d.state, C.DocState.DETACHED);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(d.state, C.DocState.REJOINING);
    assert.deepEqual(sentOf(s.last(), 'join').at(-1), { type: 'join', doc: 'a', version: 1 });
    s.last().recv({ type: 'op', doc: 'a', version: 1, op: ['old'], client: 'other', seq: 1 });
    assert.equal(d.text, 'x', 'a repeated op is skipped while rejoining');
    s.last().recv({ type: 'joined', doc: 'a', version: 1 });
    assert.equal(d.state, C.DocState.JOINED);
    conn.close();
});

test('access_revoked -> detached with denied set; a refused join stays detached', () => {
    const { conn, s } = connected();
    const d = conn.open('a');
    s.last().recv({ type: 'joined', doc: 'a', version: 0, text: '' });
    s.last().recv({ type: 'error', doc: 'a', code: 'access_revoked', message: 'gone' });
    assert.equal(d.state, C.DocState.DETACHED);
    assert.equal(d.denied, 'access_revoked');
    const e = conn.open('b');
    s.last().recv({ type: 'error', doc: 'b', code: 'unauthorized', message: 'log in' });
    assert.equal(e.state, C.DocState.DETACHED);
    assert.equal(e.denied, 'unauthorized');
    conn.close();
});

test('leave -> left: terminal, nothing more is sent, other moves are refused', () => {
    const { conn, s } = connected({ presenceDelay: 0 });
    const d = conn.open('a');
    s.last().recv({ type: 'joined', doc: 'a', version: 0, text: '' });
    d.leave();
    assert.equal(d.state, C.DocState.LEFT);
    assert.ok(d.left && !d.joined);
    assert.equal(conn.docs.has('a'), false);
    const n = s.last().sent.length;
    d.edit(['late']);
    assert.equal(s.last().sent.length, n, 'an edit after leave is not sent');
    assert.throws(() => d.to(C.DocState.JOINED), { code: 'bad_state' });
    assert.equal(d.state, C.DocState.LEFT);
    conn.close();
});
