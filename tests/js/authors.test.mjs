// authors.test.mjs -- web/lib/authors.js: authorship runs under ops (code
// points: Hangul, emoji, combining marks), the spans of the server's answer,
// a seeded property against one author per code point, and the palette
// colour, which must equal the server's srv_wire_color for the same key.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../web/chorus.js';

const SEED = Number(process.env.CHORUS_SEED || 0) || (Date.now() % 1e9);

test('inserts, retains and deletes move authors by code points', () => {
    let r = C.applyAuthors([], ['Hello '], 'Ann');
    r = C.applyAuthors(r, [6, '한국어 😀'], 'Bob');
    assert.deepEqual(r, [[6, 'Ann'], [5, 'Bob']]);
    r = C.applyAuthors(r, [11, ' e\u0301'], 'Ann');
    assert.deepEqual(r, [[6, 'Ann'], [5, 'Bob'], [3, 'Ann']]);
    r = C.applyAuthors(r, [4, -6], 'Cy');           /* across a border */
    assert.deepEqual(r, [[4, 'Ann'], [1, 'Bob'], [3, 'Ann']]);
    r = C.applyAuthors(r, [4, -1], 'Cy');           /* Bob's last goes: Ann joins */
    assert.deepEqual(r, [[7, 'Ann']]);
    assert.equal(C.runsLength(r), 7);
    assert.throws(() => C.applyAuthors(r, [7, -1], 'Cy'), (e) => e.code === 'OT_ERANGE');
    assert.deepEqual(C.applyAuthors([], [], 'x'), []);
});

test('the server\'s spans become runs, and bad spans are refused', () => {
    const ok = { length: 5, spans: [[0, 2, 'Ann'], [2, 5, 'Bob']] };
    assert.deepEqual(C.runsFromSpans(ok), [[2, 'Ann'], [3, 'Bob']]);
    assert.deepEqual(C.runsFromSpans({ length: 0, spans: [] }), []);
    for (const bad of [null, {}, { length: 3, spans: [[0, 2, 'a']] }, { length: 2, spans: [[1, 2, 'a']] },
        { length: 2, spans: [[0, 0, 'a'], [0, 2, 'b']] }, { length: 1, spans: [[0, 1, 7]] }])
        assert.throws(() => C.runsFromSpans(bad), (e) => e.code === 'bad_message');
});

test('random ops agree with one author per code point', () => {
    let a = SEED >>> 0;
    const rnd = (n) => { a = (Math.imul(a, 1103515245) + 12345) >>> 0; return (a >>> 8) % n; };
    const pieces = ['a', '한', '😀', 'e\u0301', 'xy'];
    const users = ['Ann', 'Bob', '김', 'Dee'];
    let text = '', model = [], runs = [];
    for (let it = 0; it < 2000; it++) {
        const cps = [...text];
        const u = users[rnd(4)];
        const op = [], next = [], nextText = [];
        let pos = 0;
        while (pos < cps.length || rnd(3) === 0) {
            const k = rnd(3), n = 1 + rnd(Math.min(8, cps.length - pos + 1));
            if (k === 0 && pos < cps.length) {
                const m = Math.min(n, cps.length - pos);
                C.pushRetain(op, m);
                for (let i = 0; i < m; i++) { next.push(model[pos]); nextText.push(cps[pos++]); }
            } else if (k === 1 && pos < cps.length) {
                const m = Math.min(n, cps.length - pos);
                C.pushDelete(op, m);
                pos += m;
            } else if (cps.length < 3000) {
                const p = pieces[rnd(5)];
                C.pushInsert(op, p);
                for (const ch of p) { next.push(u); nextText.push(ch); }
            }
            if (rnd(4) === 0) break;
        }
        while (pos < cps.length) { next.push(model[pos]); nextText.push(cps[pos++]); }
        runs = C.applyAuthors(runs, op, u);
        text = nextText.join('');
        model = next;
        assert.equal(C.runsLength(runs), C.cpLength(text), `seed ${SEED}`);
        const flat = runs.flatMap(([n, who]) => Array(n).fill(who));
        assert.deepEqual(flat, model, `seed ${SEED}`);
        for (let i = 1; i < runs.length; i++) assert.notEqual(runs[i][1], runs[i - 1][1]);
    }
});

test('the palette colour is the server\'s rule', () => {
    /* FNV-1a of the UTF-8 bytes, mod 12, as srv_wire_color computes it
     * (worked out by hand for these two keys). */
    assert.equal(C.paletteColor('k3J9x'), '#000075');
    assert.equal(C.paletteColor('김'), '#911eb4');
    assert.match(C.paletteColor(''), /^#[0-9a-f]{6}$/);
});
