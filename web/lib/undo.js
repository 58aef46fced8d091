/* undo.js -- undo and redo of this client's own edits in a shared text.
 *
 * Each stack holds inverse ops, the top one applying to the current text.
 * A remote op that arrives meanwhile is transformed through both stacks
 * (so undo takes back only what this user did, where it now is, and never
 * others' edits); an entry the remote op made empty is dropped. Edits made
 * within 'groupMs' of the previous one form one undo step (typing a word is
 * undone at once). Invariant: after record(), remote(), undo() or redo(),
 * every entry applies to the text the stacks were last told about. */
import { LEFT, RIGHT, compose, invert, transform } from './ops.js';
import { cpLength } from './text.js';

/** @typedef {import('./ops.js').Op} Op */

/** Where the caret goes after 'op' was applied as an undo or redo: the end
 * of its last change (after its last insert, or where its last delete
 * was), in code points of the new text; 0 for an op that changes nothing.
 * @param {Op} op
 * @returns {number} */
export function caretAfter(op) {
    let cp = 0, end = 0;
    for (const c of op) {
        if (typeof c === 'string') { cp += cpLength(c); end = cp; }
        else if (c > 0) cp += c;
        else end = cp;
    }
    return end;
}

/** Undo and redo stacks of one user's edits. Options: groupMs (edits this
 * close in time form one step; default 800), limit (undo steps kept;
 * default 500), now (a clock in ms; default performance.now or Date.now). */
export class UndoStack {
    /** @param {{groupMs?: number, limit?: number, now?: () => number}} [opts] */
    constructor(opts = {}) {
        this.groupMs = opts.groupMs ?? 800;
        this.limit = opts.limit ?? 500;
        this.now = opts.now ?? (() => (globalThis.performance ? performance.now() : Date.now()));
        /** @type {Op[]} inverse ops; the last applies first */
        this.undoStack = [];
        /** @type {Op[]} */
        this.redoStack = [];
        this.lastAt = -Infinity; /* when the last step was recorded */
    }

    /** True when there is something to undo. */
    get canUndo() { return this.undoStack.length > 0; }
    /** True when there is something to redo. */
    get canRedo() { return this.redoStack.length > 0; }

    /** A local edit 'op' was applied to 'pre' (the text before it). It
     * joins the last step when made within groupMs of it, and clears the
     * redo stack. Throws ChorusError OT_ERANGE (nothing changed) when 'op'
     * does not fit 'pre'.
     * 'locate': see ops.invert (a big text is not walked).
     * @param {Op} op
     * @param {string} pre
     * @param {(cp: number) => number} [locate] */
    record(op, pre, locate) {
        const inv = invert(op, pre, locate);
        const now = this.now();
        const n = this.undoStack.length;
        if (n && now - this.lastAt < this.groupMs) this.undoStack[n - 1] = compose(inv, this.undoStack[n - 1]);
        else this.undoStack.push(inv);
        if (this.undoStack.length > this.limit) this.undoStack.shift();
        this.lastAt = now;
        this.redoStack = [];
    }

    /** A remote op was applied after everything the stacks know of: move
     * every entry over it.
     * @param {Op} op */
    remote(op) {
        transformStack(this.undoStack, op);
        transformStack(this.redoStack, op);
    }

    /** Undo the last step: pops it and calls apply(op) with the op to apply
     * to 'text' (the current text). When apply returns, the step's inverse
     * goes on the redo stack and the next edit starts a new step. When
     * apply throws, the step is dropped, nothing is pushed and the error
     * propagates. Returns the op applied, or null when there was none
     * (apply is not called).
     * @param {string} text
     * @param {(op: Op) => void} apply
     * @returns {Op | null} */
    undo(text, apply) {
        return move(this, this.undoStack, this.redoStack, text, apply);
    }

    /** Redo the last undone step: as undo(), the other way round.
     * @param {string} text
     * @param {(op: Op) => void} apply
     * @returns {Op | null} */
    redo(text, apply) {
        return move(this, this.redoStack, this.undoStack, text, apply);
    }

    /** Forget everything (the text was replaced, e.g. by the server's). */
    clear() {
        this.undoStack = [];
        this.redoStack = [];
        this.lastAt = -Infinity;
    }
}

/** @param {UndoStack} u @param {Op[]} from @param {Op[]} to
 * @param {string} text @param {(op: Op) => void} apply
 * @returns {Op | null} */
function move(u, from, to, text, apply) {
    const op = from.pop();
    if (!op) return null;
    apply(op);
    to.push(invert(op, text));
    u.lastAt = -Infinity;
    return op;
}

/** Transform a stack of inverse ops (the last applies first) over 'op',
 * dropping entries that became empty.
 * @param {Op[]} stack
 * @param {Op} op */
function transformStack(stack, op) {
    for (let i = stack.length - 1; i >= 0; i--) {
        const e = stack[i];
        stack[i] = transform(e, op, RIGHT);
        op = transform(op, e, LEFT);
    }
    for (let i = stack.length - 1; i >= 0; i--) if (stack[i].length === 0) stack.splice(i, 1);
}
