// op_order.test.mjs -- the browser client never sends an op with a delete
// directly followed by an insert: the server refuses those with bad_op
// (inserts go before deletes at one place, docs/protocol.md). Every op the
// client sends comes out of diff, compose, transform or splitOp; seeded
// random runs of each are checked for the canonical order.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../web/chorus.js';

const SEED = Number(process.env.SEED || 20261202);

function rng(seed) {
    let s = seed >>> 0;
    return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function canonical(op) {
    for (let i = 1; i < op.length; i++)
        if (typeof op[i - 1] === 'number' && op[i - 1] < 0 && typeof op[i] === 'string') return false;
    return true;
}

function randomText(r, n) {
    const chars = ['a', 'b', ' ', '\n', '한', '👋'];
    let s = '';
    for (let i = 0; i < n; i++) s += chars[Math.floor(r() * chars.length)];
    return s;
}

/* A random edit of 'text' made the way the editor makes one: by diff. */
function randomEdit(r, text) {
    const cps = Array.from(text);
    const pos = Math.floor(r() * (cps.length + 1));
    const del = Math.floor(r() * Math.min(4, cps.length - pos + 1));
    const ins = r() < 0.7 ? randomText(r, 1 + Math.floor(r() * 3)) : '';
    const after = cps.slice(0, pos).join('') + ins + cps.slice(pos + del).join('');
    return [C.diff(text, after), after];
}

test('diff, compose, transform and splitOp keep inserts before deletes', () => {
    const r = rng(SEED);
    for (let i = 0; i < 2000; i++) {
        const base = randomText(r, Math.floor(r() * 12));
        const [a, mid] = randomEdit(r, base);
        const [b] = randomEdit(r, base);
        const [c] = randomEdit(r, mid);
        const msg = `seed ${SEED} case ${i}: ${JSON.stringify([base, a, b, c])}`;
        for (const op of [a, b, c, C.compose(a, c), C.transform(a, b, C.LEFT), C.transform(b, a, C.RIGHT),
                          ...C.splitOp(C.compose(a, c), 64)])
            assert.ok(canonical(op), msg + ' gave ' + JSON.stringify(op));
    }
});
