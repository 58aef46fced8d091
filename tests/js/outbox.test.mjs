// outbox.test.mjs -- the parts of web/lib/outbox.js and Doc.restore that
// need no browser: what a record holds, how a damaged one is refused, a
// Doc restored from one (joins with its version; its op seen in the
// catch-up counts as acknowledged and is not sent again; otherwise resent
// under the same seq), a restored Doc the server cannot take from there
// (too_old) drops the edits instead of moving them under a new seq, and an
// Outbox without IndexedDB keeps nothing and fails nothing. The browser
// side (IndexedDB, reload) is tests/browser/offline.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../web/chorus.js';
import { Outbox, checkRecord, recordOf } from '../../web/lib/outbox.js';

function connected(clientId = 'client-aaaaaaaa') {
    const socks = [];
    class Sock {
        constructor() { this.readyState = 1; this.sent = []; socks.push(this); }
        send(d) { this.sent.push(JSON.parse(d)); }
        close() { this.readyState = 3; }
        recv(...msgs) { for (const m of msgs) this.onmessage({ data: JSON.stringify(m) }); }
    }
    const conn = new C.Connection({ url: 'ws://x/ws', clientId, WebSocket: Sock, random: () => 0, backoffMin: 1, backoffMax: 2 });
    const sock = socks[0];
    sock.onopen();
    sock.recv({ type: 'welcome', client: clientId });
    return { conn, sock };
}
const sentOf = (sock, type) => sock.sent.filter((m) => m.type === type);
const rec = { doc: 'a', client: 'client-aaaaaaaa', version: 4, seq: 7, inflight: [3, 'X'], buffer: [4, 'YZ'], updated: 1 };

test('recordOf: the op in flight with its seq, the buffer, the version; null when all is acked', () => {
    const { conn, sock } = connected();
    const d = conn.open('a');
    assert.equal(recordOf(d), null);
    sock.recv({ type: 'joined', doc: 'a', version: 2, text: 'abc' });
    const events = [];
    d.on('unsent', () => events.push(recordOf(d)));
    d.edit([3, 'd']);
    d.edit([4, 'e']);
    const seq = sentOf(sock, 'op')[0].seq;
    assert.deepEqual({ ...events.at(-1), updated: 0 }, { doc: 'a', client: 'client-aaaaaaaa', version: 2, seq, inflight: [3, 'd'], buffer: [4, 'e'], updated: 0 });
    sock.recv({ type: 'ack', doc: 'a', seq, version: 3 });
    const next = sentOf(sock, 'op')[1];
    assert.deepEqual({ ...events.at(-1), updated: 0 }, { doc: 'a', client: 'client-aaaaaaaa', version: 3, seq: next.seq, inflight: [4, 'e'], buffer: null, updated: 0 });
    sock.recv({ type: 'ack', doc: 'a', seq: next.seq, version: 4 });
    assert.equal(events.at(-1), null);
    conn.close();
});

test('checkRecord refuses what does not make a record', () => {
    assert.deepEqual(checkRecord(rec), rec);
    for (const bad of [null, 3, { ...rec, doc: 1 }, { ...rec, version: -1 }, { ...rec, seq: 0 }, { ...rec, inflight: [] },
        { ...rec, inflight: [3, 0] }, { ...rec, buffer: ['\ud800'] }]) assert.equal(checkRecord(bad), null, JSON.stringify(bad));
    assert.equal(checkRecord({ ...rec, buffer: [] }).buffer, null);
});

test('a restored Doc joins with its version; its op seen in the catch-up is acked, the buffer follows', () => {
    const { conn, sock } = connected();
    const d = conn.open('a', { restore: { rec, base: 'abcd' } });
    assert.ok(d.ready && d.restored && !d.saved);
    assert.equal(d.text, 'abcXYZd');
    assert.equal(conn.seq, 7, 'later seqs are higher than the restored one');
    assert.deepEqual(sentOf(sock, 'join').at(-1), { type: 'join', doc: 'a', version: 4 });
    /* The server had committed it: the catch-up holds it, with our seq. */
    sock.recv({ type: 'op', doc: 'a', version: 5, op: [3, 'X'], client: 'client-aaaaaaaa', seq: 7 },
        { type: 'op', doc: 'a', version: 6, op: ['Q'], client: 'other', seq: 1 },
        { type: 'joined', doc: 'a', version: 6 });
    assert.ok(!d.restored);
    const ops = sentOf(sock, 'op');
    assert.equal(ops.length, 1, 'the committed op is not sent again');
    assert.deepEqual(ops[0], { type: 'op', doc: 'a', version: 6, seq: 8, op: [5, 'YZ'] });
    assert.equal(d.text, 'QabcXYZd');
    conn.close();
});

test('a restored op the server never saw is resent under its own seq', () => {
    const { conn, sock } = connected();
    const d = conn.open('a', { restore: { rec: { ...rec, buffer: null }, base: 'abcd' } });
    sock.recv({ type: 'joined', doc: 'a', version: 4 });
    assert.deepEqual(sentOf(sock, 'op'), [{ type: 'op', doc: 'a', version: 4, seq: 7, op: [3, 'X'] }]);
    sock.recv({ type: 'ack', doc: 'a', seq: 7, version: 5 });
    assert.ok(d.saved);
    conn.close();
});

test('restored edits the server cannot take from there (too_old) are dropped, not moved', () => {
    const { conn, sock } = connected();
    const d = conn.open('a', { restore: { rec, base: 'abcd' } });
    const errors = [];
    d.on('error', (e) => errors.push([e.code, d.restored, d.text]));
    sock.recv({ type: 'error', doc: 'a', code: 'too_old', message: 'too old' });
    assert.deepEqual(errors, [['too_old', true, 'abcXYZd']], 'the page still has the text to offer');
    assert.equal(d.state, C.DocState.DISCARDING);
    sock.recv({ type: 'joined', doc: 'a', version: 90, text: 'new text' });
    assert.equal(d.text, 'new text');
    assert.ok(d.saved);
    assert.equal(sentOf(sock, 'op').length, 0);
    conn.close();
});

test('restore throws, and opens nothing, when the ops do not fit the text', () => {
    const { conn } = connected();
    assert.throws(() => conn.open('a', { restore: { rec, base: 'a' } }), (e) => e.code === 'OT_ERANGE');
    assert.equal(conn.docs.size, 0);
    conn.close();
});

test('without IndexedDB the outbox keeps nothing and every call succeeds', async () => {
    const box = new Outbox(undefined);
    assert.equal(await box.available(), false);
    await box.put(rec);
    await box.putBase({ doc: 'a', client: 'c', version: 1, text: 'x' });
    assert.deepEqual(await box.records('a'), []);
    assert.equal(await box.base('a', 'c', 1), null);
    await box.remove('a', 'c');
});
