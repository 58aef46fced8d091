// ot_vectors.test.mjs -- web/chorus.js passes every OT conformance vector in
// tests/vectors/ (the same files the C engine is checked against; see
// tests/vectors/README.md): apply, transform, compose, invert, cursor,
// normalise and reject, results compared exactly as JSON values. The
// wire_hex reject cases (raw bytes) go through parseOpBytes(), the
// library's byte decoder, so none is skipped.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as C from '../../web/chorus.js';

const DIR = new URL('../vectors/', import.meta.url);
const load = (f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8'));
const side = (s) => (s === 'left' ? C.LEFT : s === 'right' ? C.RIGHT : assert.fail('bad side ' + s));

function errorCode(fn) {
    try { fn(); } catch (e) { if (e instanceof C.ChorusError) return e.code; throw e; }
    return null;
}

function each(file, check) {
    const v = load(file);
    assert.equal(v.format, 1);
    assert.ok(v.cases.length > 0);
    v.cases.forEach((c, i) => check(c, `${file} case ${i}: ${JSON.stringify(c).slice(0, 300)}`));
    return v.cases.length;
}

test('apply vectors', () => {
    each('apply.json', (c, msg) => {
        if (c.error) assert.equal(errorCode(() => C.apply(c.doc, C.normalize(c.op))), c.error, msg);
        else assert.equal(C.apply(c.doc, C.normalize(c.op)), c.result, msg);
    });
});

test('transform vectors', () => {
    each('transform.json', (c, msg) => {
        const f = () => C.transform(C.normalize(c.a), C.normalize(c.b), side(c.side));
        if (c.error) { assert.equal(errorCode(f), c.error, msg); return; }
        const r = f();
        assert.deepEqual(r, c.result, msg);
        assert.equal(C.apply(C.apply(c.doc, C.normalize(c.b)), r), c.doc_result, msg);
    });
});

test('compose vectors', () => {
    each('compose.json', (c, msg) => {
        const f = () => C.compose(C.normalize(c.a), C.normalize(c.b));
        if (c.error) { assert.equal(errorCode(f), c.error, msg); return; }
        const r = f();
        assert.deepEqual(r, c.result, msg);
        assert.equal(C.apply(c.doc, r), c.doc_result, msg);
        assert.equal(C.apply(C.apply(c.doc, C.normalize(c.a)), C.normalize(c.b)), c.doc_result, msg);
    });
});

test('invert vectors', () => {
    each('invert.json', (c, msg) => {
        const f = () => C.invert(C.normalize(c.op), c.doc);
        if (c.error) { assert.equal(errorCode(f), c.error, msg); return; }
        assert.deepEqual(f(), c.result, msg);
    });
});

test('cursor vectors', () => {
    each('cursor.json', (c, msg) => {
        assert.equal(C.transformPos(c.pos, C.normalize(c.op), side(c.side)), c.result, msg);
    });
});

test('normalise vectors', () => {
    each('normalise.json', (c, msg) => {
        assert.deepEqual(C.parseOp(c.wire), c.result, msg);
        assert.deepEqual(C.parseOpBytes(Buffer.from(c.wire, 'utf8')), c.result, msg);
    });
});

test('reject vectors, including raw-byte cases', () => {
    let bytes = 0;
    each('reject.json', (c, msg) => {
        if (c.wire_hex !== undefined) {
            bytes++;
            assert.equal(errorCode(() => C.parseOpBytes(Buffer.from(c.wire_hex, 'hex'))), c.error, msg);
        } else {
            assert.equal(errorCode(() => C.parseOp(c.wire)), c.error, msg);
            assert.equal(errorCode(() => C.parseOpBytes(Buffer.from(c.wire, 'utf8'))), c.error, msg);
        }
    });
    assert.ok(bytes > 0, 'the raw-byte cases were checked');
});
