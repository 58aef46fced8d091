// textindex.test.mjs -- the chunk index of code points (web/lib/textindex.js)
// agrees with the plain conversions of text.js after random edits of a text
// full of emoji and Hangul, and changedRange finds the same change as a
// whole-text diff, whatever the window it is given (seeded; the seed is
// printed when a case fails).
import test from 'node:test';
import assert from 'node:assert/strict';
import { TextIndex, changedRange } from '../../web/lib/textindex.js';
import { cpToUtf16, utf16ToCp, cpLength } from '../../web/lib/text.js';
import { diff, apply, pushRetain, pushInsert, pushDelete } from '../../web/lib/ops.js';

function rng(seed) {
    let s = seed >>> 0 || 1;
    return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}
const PIECES = ['a', 'b', '\n', '한', '글', '😀', '🎉', 'xyz', '👍🏽', ' '];
function randText(r, n) {
    let s = '';
    while (s.length < n) s += PIECES[Math.floor(r() * PIECES.length)];
    return s;
}
/* A random UTF-16 index of 's' that does not split a pair. */
function boundary(r, s) {
    let i = Math.floor(r() * (s.length + 1));
    if (i > 0 && i < s.length && s.charCodeAt(i) >= 0xdc00 && s.charCodeAt(i) <= 0xdfff) i--;
    return i;
}

test('conversions agree with text.js after random splices (small chunks)', () => {
    const seed = Date.now() % 100000;
    const r = rng(seed);
    let text = randText(r, 3000);
    const idx = new TextIndex(text, 64);
    try {
        for (let round = 0; round < 400; round++) {
            const at = boundary(r, text);
            let end = boundary(r, text.slice(0, Math.min(text.length, at + Math.floor(r() * 200))) + '');
            end = Math.max(at, end);
            const ins = r() < 0.6 ? randText(r, Math.floor(r() * 150)) : '';
            text = text.slice(0, at) + ins + text.slice(end);
            idx.splice(text, at, end - at, ins.length);
            assert.equal(idx.length, text.length);
            assert.equal(idx.cpLength, cpLength(text));
            for (let q = 0; q < 20; q++) {
                const i = Math.floor(r() * (text.length + 2));
                assert.equal(idx.utf16ToCp(text, i), utf16ToCp(text, i), `utf16ToCp(${i})`);
                const c = Math.floor(r() * (cpLength(text) + 2));
                assert.equal(idx.cpToUtf16(text, c), cpToUtf16(text, c), `cpToUtf16(${c})`);
            }
        }
        text = '';
        idx.splice(text, 0, idx.length, 0);
        assert.equal(idx.cpToUtf16(text, 3), 0);
        assert.equal(idx.utf16ToCp(text, 3), 0);
    } catch (e) { console.log('seed', seed); throw e; }
});

test('a 1 MB text: a conversion near the end does not walk the text', () => {
    const text = randText(rng(7), 1 << 20);
    const idx = new TextIndex(text);
    assert.equal(idx.cpLength, cpLength(text));
    const cp = cpLength(text) - 5;
    assert.equal(idx.cpToUtf16(text, cp), cpToUtf16(text, cp));
    const t0 = performance.now();
    for (let k = 0; k < 1000; k++) idx.utf16ToCp(text, text.length - 3 - (k % 7));
    const each = (performance.now() - t0) / 1000;
    /* not a timing assertion of the product: a gross check that the chunk
     * table, not the text, is walked (a walk of 1 MB takes milliseconds) */
    assert.ok(each < 0.5, `a conversion took ${each} ms`);
});

function opOf(before, ch) {
    const op = [];
    pushRetain(op, cpLength(before.slice(0, ch.at)));
    pushInsert(op, ch.inserted);
    pushDelete(op, cpLength(before.slice(ch.at, ch.at + ch.removed)));
    return op;
}

test('changedRange gives the change diff gives, with right, wrong and no hints', () => {
    const seed = Date.now() % 100000;
    const r = rng(seed);
    try {
        for (let round = 0; round < 500; round++) {
            const before = randText(r, 1 + Math.floor(r() * 400));
            const at = boundary(r, before);
            const end = Math.max(at, boundary(r, before.slice(0, Math.min(before.length, at + Math.floor(r() * 10)))));
            const ins = r() < 0.7 ? PIECES[Math.floor(r() * PIECES.length)].repeat(1 + Math.floor(r() * 3)) : '';
            const after = before.slice(0, at) + ins + before.slice(end);
            const caret = at + ins.length;
            const kind = round % 3;
            const lo = kind === 0 ? Math.max(0, at - 2) : kind === 1 ? boundary(r, after) : 0;
            const hi = kind === 0 ? Math.min(after.length, caret + 2) : kind === 1 ? boundary(r, after) : after.length;
            const ch = changedRange(before, after, lo, hi, caret);
            if (before === after) { assert.equal(ch, null); continue; }
            assert.ok(ch);
            assert.equal(before.slice(0, ch.at) + ch.inserted + before.slice(ch.at + ch.removed), after);
            /* right hints (or none) place it as diff does; wrong ones
             * that pass the check may place an ambiguous one elsewhere */
            if (kind !== 1) assert.deepEqual(opOf(before, ch), diff(before, after, caret), `round ${round} kind ${kind}`);
            assert.equal(apply(before, opOf(before, ch)), after);
        }
    } catch (e) { console.log('seed', seed); throw e; }
});
