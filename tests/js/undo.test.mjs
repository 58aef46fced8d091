// undo.test.mjs -- web/chorus.js's UndoStack, as the editor uses it: undo
// and redo of local edits, moved over remote edits that arrive between,
// typing grouped by time, redo cleared by a new edit, the caret placed at
// the end of an undone change. A small model stands in for the editor: the
// text, local edits recorded with the text before them, remote edits
// applied and handed to remote().
import test from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../web/chorus.js';

/* An editor model on a fake clock: local(op) records, remote(op) moves. */
function editor(text = '', groupMs = 800) {
    const clock = { t: 1000 };
    const u = new C.UndoStack({ groupMs, now: () => clock.t });
    const m = {
        text, u, clock,
        local(op) { u.record(op, m.text); m.text = C.apply(m.text, op); },
        type(pos, s) { m.local(C.splice(pos, 0, s)); },
        remote(op) { m.text = C.apply(m.text, op); u.remote(op); },
        undo() { return u.undo(m.text, (op) => { m.text = C.apply(m.text, op); }); },
        redo() { return u.redo(m.text, (op) => { m.text = C.apply(m.text, op); }); },
        later(ms = 10000) { clock.t += ms; },
    };
    return m;
}

test('undo takes back a local edit and redo puts it back', () => {
    const e = editor('hello');
    e.local(C.splice(5, 0, ' world'));
    assert.equal(e.text, 'hello world');
    assert.ok(e.u.canUndo && !e.u.canRedo);
    assert.deepEqual(e.undo(), [5, -6]);
    assert.equal(e.text, 'hello');
    assert.ok(!e.u.canUndo && e.u.canRedo);
    e.redo();
    assert.equal(e.text, 'hello world');
    assert.equal(e.undo() !== null, true);
    assert.equal(e.text, 'hello');
});

test('undo and redo with nothing on the stack return null and do not call apply', () => {
    const u = new C.UndoStack();
    let called = 0;
    assert.equal(u.undo('x', () => { called++; }), null);
    assert.equal(u.redo('x', () => { called++; }), null);
    assert.equal(called, 0);
});

test('deletes are undone with the deleted text, astral characters included', () => {
    const e = editor('a😀b😀c');
    e.local(C.splice(1, 2, '')); /* code points: the first 😀 and b */
    assert.equal(e.text, 'a😀c');
    e.undo();
    assert.equal(e.text, 'a😀b😀c');
});

test('typing within the group interval is one step; a pause starts another', () => {
    const e = editor('');
    e.type(0, 'a'); e.clock.t += 100;
    e.type(1, 'b'); e.clock.t += 799;
    e.type(2, 'c');
    e.later(801);
    e.type(3, ' d');
    assert.equal(e.text, 'abc d');
    e.undo();
    assert.equal(e.text, 'abc');
    e.undo();
    assert.equal(e.text, '');
    assert.ok(!e.u.canUndo);
    e.redo();
    assert.equal(e.text, 'abc');
});

test('an edit right after an undo starts a new step', () => {
    const e = editor('');
    e.type(0, 'one');
    e.later(); e.type(3, ' two');
    e.undo();
    e.type(3, '!'); /* no time passed, yet not grouped with what came before */
    assert.equal(e.text, 'one!');
    e.undo();
    assert.equal(e.text, 'one');
});

test('a new edit clears the redo stack', () => {
    const e = editor('abc');
    e.local(C.splice(3, 0, 'd'));
    e.undo();
    assert.ok(e.u.canRedo);
    e.later();
    e.local(C.splice(0, 0, 'x'));
    assert.ok(!e.u.canRedo);
    assert.equal(e.redo(), null);
    assert.equal(e.text, 'xabc');
});

test('undo after a remote edit takes back only the local edit, where it now is', () => {
    const e = editor('hello');
    e.local(C.splice(5, 0, ' world'));
    e.remote(C.splice(0, 0, '>> '));      /* before ours */
    e.remote(C.splice(14, 0, '!'));       /* after ours */
    assert.equal(e.text, '>> hello world!');
    e.undo();
    assert.equal(e.text, '>> hello!');
    e.remote(C.splice(3, 1, 'H'));
    e.redo();
    assert.equal(e.text, '>> Hello world!');
});

test('a remote edit inside the local insert is kept by undo', () => {
    const e = editor('');
    e.type(0, 'abcd');
    e.remote(C.splice(2, 0, 'XY'));
    assert.equal(e.text, 'abXYcd');
    e.undo();
    assert.equal(e.text, 'XY');
});

test('a step whose text a remote edit deleted is dropped from the stack', () => {
    const e = editor('keep ');
    e.type(5, 'gone');
    e.later();
    e.type(9, '!');
    e.remote([5, -4]); /* someone deleted "gone" */
    assert.equal(e.text, 'keep !');
    e.undo();
    assert.equal(e.text, 'keep ');
    /* the step that typed "gone" is empty now (its text is deleted): */
    assert.equal(e.undo(), null);
    assert.equal(e.text, 'keep ');
});

test('several steps through interleaved remote edits converge back to the remote-only text', () => {
    const e = editor('0123456789');
    e.type(10, 'A'); e.later();
    e.remote(C.splice(0, 2, ''));
    e.type(0, 'B'); e.later();
    e.remote(C.splice(5, 0, 'rr'));
    e.local(C.splice(3, 2, '')); e.later();
    e.remote(C.splice(1, 0, 'q'));
    assert.equal(e.text, 'Bq23rr6789A');
    while (e.undo() !== null) { /* all of them */ }
    assert.equal(e.text, 'q2345rr6789'); /* the remote edits alone */
    while (e.redo() !== null) { /* and back */ }
    assert.equal(e.text, 'Bq23rr6789A');
});

test('when apply throws, the step is dropped, nothing goes on the other stack, the error propagates', () => {
    const e = editor('ab');
    e.type(2, 'c');
    assert.throws(() => e.u.undo(e.text, () => { throw new C.ChorusError('forbidden'); }), { code: 'forbidden' });
    assert.ok(!e.u.canUndo && !e.u.canRedo);
    assert.equal(e.text, 'abc');
});

test('at most limit steps are kept, the oldest go first', () => {
    const u = new C.UndoStack({ limit: 3, groupMs: 0 });
    let text = '';
    for (const s of ['a', 'b', 'c', 'd', 'e']) {
        const op = C.splice(text.length, 0, s);
        u.record(op, text);
        text = C.apply(text, op);
    }
    const apply = (op) => { text = C.apply(text, op); };
    while (u.undo(text, apply) !== null) { /* undo what is kept */ }
    assert.equal(text, 'ab');
});

test('clear forgets both stacks', () => {
    const e = editor('x');
    e.type(1, 'y'); e.later(); e.type(2, 'z');
    e.undo();
    e.u.clear();
    assert.ok(!e.u.canUndo && !e.u.canRedo);
});

test('caretAfter: the end of the last change, in code points of the new text', () => {
    assert.equal(C.caretAfter([3, 'ab']), 5);           /* after an insert */
    assert.equal(C.caretAfter([3, -2]), 3);             /* where a delete was */
    assert.equal(C.caretAfter(['😀x', 4, -1, 2]), 6);   /* last change wins */
    assert.equal(C.caretAfter([2, 'y', -3]), 3);        /* a replace: after its insert */
    assert.equal(C.caretAfter([]), 0);
});
