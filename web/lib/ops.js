/* ops.js -- the op algebra of chorus.v1, mirroring the C engine in ot/.
 *
 * Ops use the wire form directly: an array whose positive integers retain,
 * strings insert and negative integers delete; counts are Unicode code
 * points. Invariant: every op this module returns is normalised exactly as
 * the C engine normalises (no zero or empty components, adjacent components
 * of one kind merged, an insert before a delete at one place, no trailing
 * retain), so equal edits are equal arrays. Pure: no I/O, no state; errors
 * are thrown as ChorusError with the C engine's OT_E* names. */
import { ChorusError } from './error.js';
import { advance, cpLength, isHigh, isLow, isWellFormed, jsonBytes, splitCp, utf8Length } from './text.js';

/** An op in wire form: retain (> 0), insert (string), delete (< 0).
 * @typedef {Array<number | string>} Op */

/** A tie-break side for transform(): LEFT (0) or RIGHT (1).
 * @typedef {0 | 1} Side */

/** Tie-break sides for transform(), as in ot.h: the side names the first
 * argument. LEFT: its insert goes first; RIGHT: the other op's goes first. */
/** @type {Side} */
export const LEFT = 0;
/** @type {Side} */
export const RIGHT = 1;

/** The largest count a wire component may carry (OT_MAX_LEN in ot.h). */
export const MAX_LEN = 2 ** 31;

/* ---- Building ops --------------------------------------------------- */

/** Append a retain of 'n' to 'op' (mutated), keeping it normalised.
 * @param {Op} op
 * @param {number} n
 * @returns {Op} 'op' */
export function pushRetain(op, n) {
    if (n <= 0) return op;
    const l = op.length, last = op[l - 1];
    if (typeof last === 'number' && last > 0) op[l - 1] = last + n;
    else op.push(n);
    return op;
}

/** Append an insert of 's' to 'op' (mutated): an insert right after a
 * delete goes before it, as the C engine orders them.
 * @param {Op} op
 * @param {string} s
 * @returns {Op} 'op' */
export function pushInsert(op, s) {
    if (!s) return op;
    const l = op.length, last = op[l - 1], prev = op[l - 2];
    if (typeof last === 'string') op[l - 1] = last + s;
    else if (typeof last === 'number' && last < 0) {
        if (typeof prev === 'string') op[l - 2] = prev + s;
        else op.splice(l - 1, 0, s);
    } else op.push(s);
    return op;
}

/** Append a delete of 'n' code points to 'op' (mutated).
 * @param {Op} op
 * @param {number} n
 * @returns {Op} 'op' */
export function pushDelete(op, n) {
    if (n <= 0) return op;
    const l = op.length, last = op[l - 1];
    if (typeof last === 'number' && last < 0) op[l - 1] = last - n;
    else op.push(-n);
    return op;
}

/** Drop a trailing retain (normal form).
 * @param {Op} op
 * @returns {Op} 'op' */
function trim(op) {
    const last = op[op.length - 1];
    if (typeof last === 'number' && last > 0) op.pop();
    return op;
}

/** Results of transform and compose may span at most MAX_LEN code points.
 * @param {Op} op
 * @returns {Op} 'op' */
function checkLen(op) {
    let base = 0, target = 0, units = 0;
    for (const c of op) {
        if (typeof c === 'string') units += c.length;
        else if (c > 0) { base += c; target += c; } else base -= c;
    }
    if (base > MAX_LEN) throw new ChorusError('OT_ELEN', 'result spans too much');
    if (target + units > MAX_LEN) {
        for (const c of op) if (typeof c === 'string') target += cpLength(c);
        if (target > MAX_LEN) throw new ChorusError('OT_ELEN', 'result spans too much');
    }
    return op;
}

/** Append one component of any kind.
 * @param {Op} op
 * @param {number | string} c
 * @returns {Op} 'op' */
function append(op, c) {
    if (typeof c === 'string') return pushInsert(op, c);
    return c > 0 ? pushRetain(op, c) : pushDelete(op, -c);
}

/** Validate and normalise a wire op. Returns a new normalised op; throws
 * ChorusError with the C engine's code: OT_EJSON (not an array, or a
 * component that is neither number nor string), OT_EZERO, OT_ENOTINT,
 * OT_EEMPTY, OT_EBIG (a count above MAX_LEN, or spans beyond it),
 * OT_ESURROGATE (a lone surrogate in an insert).
 * @param {unknown} wire
 * @returns {Op} */
export function normalize(wire) {
    if (!Array.isArray(wire)) throw new ChorusError('OT_EJSON', 'an op is a JSON array');
    /** @type {Op} */
    const op = [];
    let base = 0, target = 0, bytes = 0;
    for (const c of wire) {
        if (typeof c === 'string') {
            if (c === '') throw new ChorusError('OT_EEMPTY', 'empty insert');
            if (!isWellFormed(c)) throw new ChorusError('OT_ESURROGATE', 'lone surrogate in insert');
            target += cpLength(c);
            bytes += utf8Length(c);
            pushInsert(op, c);
        } else if (typeof c === 'number') {
            if (!Number.isFinite(c)) throw new ChorusError('OT_EBIG', 'count out of range');
            if (!Number.isInteger(c)) throw new ChorusError('OT_ENOTINT', 'count is not an integer');
            if (c === 0) throw new ChorusError('OT_EZERO', 'zero retain or delete');
            if (Math.abs(c) > MAX_LEN) throw new ChorusError('OT_EBIG', 'count out of range');
            if (c > 0) { base += c; target += c; pushRetain(op, c); } else { base -= c; pushDelete(op, -c); }
        } else throw new ChorusError('OT_EJSON', 'a component is a number or a string');
        if (base > MAX_LEN || target > MAX_LEN || bytes > MAX_LEN)
            throw new ChorusError('OT_EBIG', 'op spans too much');
    }
    return trim(op);
}

/** Decode a wire op from JSON text: as normalize(), and OT_EJSON for text
 * that is not JSON.
 * @param {string} json
 * @returns {Op} */
export function parseOp(json) {
    let v;
    try { v = JSON.parse(json); } catch { throw new ChorusError('OT_EJSON', 'not JSON'); }
    return normalize(v);
}

/** Decode a wire op from UTF-8 bytes (a Uint8Array): as parseOp(), and
 * OT_EUTF8 for invalid UTF-8, OT_ESURROGATE for an encoded surrogate
 * (CESU-8), as the C decoder reports them.
 * @param {Uint8Array} bytes
 * @returns {Op} */
export function parseOpBytes(bytes) {
    for (let i = 0; i < bytes.length;) {
        const b = bytes[i];
        let n = 0, min = 0;
        if (b < 0x80) { i++; continue; } else if (b >= 0xc2 && b <= 0xdf) { n = 1; min = 0x80; }
        else if (b >= 0xe0 && b <= 0xef) { n = 2; min = 0x800; } else if (b >= 0xf0 && b <= 0xf4) { n = 3; min = 0x10000; }
        else throw new ChorusError('OT_EUTF8', 'invalid UTF-8');
        let cp = b & (0x3f >> n);
        for (let k = 1; k <= n; k++) {
            const c = bytes[i + k];
            if (c === undefined || (c & 0xc0) !== 0x80) throw new ChorusError('OT_EUTF8', 'invalid UTF-8');
            cp = (cp << 6) | (c & 0x3f);
        }
        if (cp < min || cp > 0x10ffff) throw new ChorusError('OT_EUTF8', 'overlong or out of range UTF-8');
        if (cp >= 0xd800 && cp <= 0xdfff) throw new ChorusError('OT_ESURROGATE', 'encoded surrogate');
        i += n + 1;
    }
    return parseOp(new TextDecoder().decode(bytes));
}

/** The op that deletes 'del' code points at 'pos' and inserts 'ins' there.
 * @param {number} pos
 * @param {number} del
 * @param {string} [ins]
 * @returns {Op} */
export function splice(pos, del, ins) {
    /** @type {Op} */
    const op = [];
    pushRetain(op, pos);
    pushInsert(op, ins || '');
    pushDelete(op, del);
    return trim(op);
}

/** Code points the op spans before it is applied (retained + deleted).
 * @param {Op} op
 * @returns {number} */
export function baseLen(op) {
    let n = 0;
    for (const c of op) if (typeof c === 'number') n += Math.abs(c);
    return n;
}

/** Code points the op spans after it is applied (retained + inserted).
 * @param {Op} op
 * @returns {number} */
export function targetLen(op) {
    let n = 0;
    for (const c of op) n += typeof c === 'string' ? cpLength(c) : c > 0 ? c : 0;
    return n;
}

/** True when the op changes nothing.
 * @param {Op} op
 * @returns {boolean} */
export function isNoop(op) {
    return op.length === 0;
}

/** True when 'a' and 'b' are the same (normalised) edit.
 * @param {Op} a
 * @param {Op} b
 * @returns {boolean} */
export function opEqual(a, b) {
    return a.length === b.length && a.every((c, i) => c === b[i]);
}

/* ---- Applying ------------------------------------------------------- */

/** Apply 'op' to 'text' and return the new text. Throws ChorusError
 * OT_ERANGE when the op spans more than the text holds.
 * @param {string} text
 * @param {Op} op
 * @returns {string} */
export function apply(text, op) {
    /** @type {Op} */
    const out = [];
    let i = 0;
    for (const c of op) {
        if (typeof c === 'string') { out.push(c); continue; }
        const j = advance(text, i, Math.abs(c));
        if (j < 0) throw new ChorusError('OT_ERANGE', 'op spans past the end of the document');
        if (c > 0) out.push(text.slice(i, j));
        i = j;
    }
    out.push(text.slice(i));
    return out.join('');
}

/* ---- Algebra -------------------------------------------------------- */

/* Walks an op a component at a time, handing out parts of components. */
class Iter {
    /** @param {Op} op */
    constructor(op) { this.op = op; this.i = 0; this.off = 0; /* code points used */ }
    /** @returns {number | string | null} */
    peek() { return this.i < this.op.length ? this.op[this.i] : null; }
    /** Take up to n code points of the next component; 'whole' names the
     * kind handed out entire ('string' or 'delete'). null at the end.
     * @param {number} n
     * @param {'string' | 'delete'} whole
     * @returns {number | string | null} */
    take(n, whole) {
        const c = this.peek();
        if (c === null) return null;
        if (typeof c === 'string') {
            const rest = this.off ? splitCp(c, this.off)[1] : c;
            if (whole === 'string') { this.i++; this.off = 0; return rest; }
            const [head, tail] = splitCp(rest, n);
            if (tail) this.off += n; else { this.i++; this.off = 0; }
            return head;
        }
        const left = Math.abs(c) - this.off;
        const sign = c > 0 ? 1 : -1;
        if ((whole === 'delete' && c < 0) || left <= n) { this.i++; this.off = 0; return sign * left; }
        this.off += n;
        return sign * n;
    }
}

/** Transform 'a' against the concurrent 'b' (both made on one document):
 * returns a', to apply after b. 'side' breaks ties between inserts at one
 * place: RIGHT means b's insert goes first (b is the op the server already
 * committed), LEFT means a's goes first. Throws ChorusError OT_ELEN when
 * a' would span more than MAX_LEN code points.
 * @param {Op} a
 * @param {Op} b
 * @param {Side} side
 * @returns {Op} */
export function transform(a, b, side) {
    /** @type {Op} */
    const out = [];
    const ia = new Iter(a);
    for (const cb of b) {
        if (typeof cb === 'string') {
            if (side === LEFT) while (typeof ia.peek() === 'string') pushInsert(out, /** @type {string} */ (ia.take(0, 'string')));
            pushRetain(out, cpLength(cb));
            continue;
        }
        let n = Math.abs(cb);
        while (n > 0) {
            const c = ia.take(n, 'string');
            if (c === null) { if (cb > 0) pushRetain(out, n); break; }
            if (typeof c === 'string') { pushInsert(out, c); continue; }
            if (cb > 0) append(out, c); /* b retains: a's retain or delete stays */
            n -= Math.abs(c);           /* b deleted it: a's part vanishes */
        }
    }
    for (let c; (c = ia.take(Infinity, 'string')) !== null;) append(out, c);
    return checkLen(trim(out));
}

/** One op with the effect of 'a' then 'b'. Throws ChorusError OT_ELEN when
 * the result would span more than MAX_LEN code points.
 * @param {Op} a
 * @param {Op} b
 * @returns {Op} */
export function compose(a, b) {
    /** @type {Op} */
    const out = [];
    const ia = new Iter(a);
    for (const cb of b) {
        if (typeof cb === 'string') { pushInsert(out, cb); continue; }
        let n = Math.abs(cb);
        while (n > 0) {
            const c = ia.take(n, 'delete');
            if (c === null) { append(out, cb > 0 ? n : -n); break; }
            if (typeof c === 'number' && c < 0) { pushDelete(out, -c); continue; }
            const len = typeof c === 'string' ? cpLength(c) : c;
            if (cb > 0) append(out, c);           /* b keeps a's insert or retain */
            else if (typeof c === 'number') pushDelete(out, c); /* b deletes a retain */
            n -= len;                              /* b deleting a's insert: gone */
        }
    }
    for (let c; (c = ia.take(Infinity, 'delete')) !== null;) append(out, c);
    return checkLen(trim(out));
}

/** The op that undoes 'op' after it was applied to 'pre' (the text before
 * 'op'). Throws ChorusError OT_ERANGE when 'op' spans more than 'pre'.
 * 'locate' (optional: a code point of 'pre' -> its UTF-16 index, e.g. a
 * TextIndex's) finds the deleted text without walking 'pre' from its
 * start; the caller then vouches that 'op' fits 'pre' (it was applied).
 * @param {Op} op
 * @param {string} pre
 * @param {(cp: number) => number} [locate]
 * @returns {Op} */
export function invert(op, pre, locate) {
    /** @type {Op} */
    const out = [];
    let i = 0, cp = 0, at = 0; /* pre's UTF-16 index 'i' is code point 'at' */
    /** @param {number} n a code point of pre @returns {number} its UTF-16 index */
    const find = (n) => {
        const j = locate ? locate(n) : advance(pre, i, n - at);
        if (j < 0) throw new ChorusError('OT_ERANGE', 'op spans past the end of the document');
        i = j; at = n;
        return j;
    };
    for (const c of op) {
        if (typeof c === 'string') { pushDelete(out, cpLength(c)); continue; }
        if (c > 0) { pushRetain(out, c); cp += c; continue; }
        const from = find(cp);
        cp -= c;
        pushInsert(out, pre.slice(from, find(cp)));
    }
    if (!locate && advance(pre, i, cp - at) < 0) throw new ChorusError('OT_ERANGE', 'op spans past the end of the document');
    return trim(out);
}

/** Where a cursor at code point 'pos' (before 'op') is after 'op'. An insert
 * exactly at the cursor moves it along with RIGHT (the op's text goes
 * before the cursor) and leaves it before the text with LEFT; a cursor in
 * deleted text goes to the start of the deletion.
 * @param {number} pos
 * @param {Op} op
 * @param {Side} side
 * @returns {number} */
export function transformPos(pos, op, side) {
    let res = pos, at = 0;
    for (const c of op) {
        if (at > pos) break;
        if (typeof c === 'string') {
            if (at < pos || side === RIGHT) res += cpLength(c);
        } else if (c > 0) {
            at += c;
        } else {
            if (at < pos) res -= Math.min(-c, pos - at);
            at -= c;
        }
    }
    return res;
}

/** Where a position 'pos' after 'op' was before it: the inverse map that
 * sends a position inside inserted text to where the insert happened.
 * @param {number} pos
 * @param {Op} op
 * @returns {number} */
export function untransformPos(pos, op) {
    let nw = 0, old = 0;
    for (const c of op) {
        if (typeof c === 'string') {
            const n = cpLength(c);
            if (nw + n >= pos) return old;
            nw += n;
        } else if (c > 0) {
            if (nw + c >= pos) return old + (pos - nw);
            nw += c; old += c;
        } else old -= c;
    }
    return old + (pos - nw);
}

/** The op turning 'before' into 'after' (one replaced range: the common
 * prefix and suffix are kept), never splitting a surrogate pair. 'caret',
 * when given, is the UTF-16 index in 'after' where the change ends (the
 * caret after typing): it settles which of several equal characters was
 * typed or deleted, so "a" typed after "a" inserts where the caret is.
 * @param {string} before
 * @param {string} after
 * @param {number} [caret]
 * @returns {Op} */
export function diff(before, after, caret) {
    const max = Math.min(before.length, after.length);
    let maxs = max;
    if (caret !== undefined && caret >= 0 && caret <= after.length) maxs = Math.min(max, after.length - caret);
    let s = 0;
    while (s < maxs && before.charCodeAt(before.length - 1 - s) === after.charCodeAt(after.length - 1 - s)) s++;
    if (s > 0 && isLow(before.charCodeAt(before.length - s))) s--;
    let p = 0;
    const maxp = max - s;
    while (p < maxp && before.charCodeAt(p) === after.charCodeAt(p)) p++;
    if (p > 0 && isHigh(before.charCodeAt(p - 1))) p--;
    /** @type {Op} */
    const op = [];
    pushRetain(op, cpLength(before.slice(0, p)));
    pushInsert(op, after.slice(p, after.length - s));
    pushDelete(op, cpLength(before.slice(p, before.length - s)));
    return trim(op);
}

/** Split 'op' into [first, rest] with compose(first, rest) equal to 'op'
 * and first's wire JSON at most about 'maxBytes' (only inserts are ever
 * large: a long one is cut between code points). rest is [] when 'op'
 * fits. This is how a paste larger than the server's message limit is sent
 * as several ops.
 * @param {Op} op
 * @param {number} maxBytes
 * @returns {[Op, Op]} */
export function splitOp(op, maxBytes) {
    if (!(maxBytes < Infinity)) return [op, []];
    const budget = Math.max(64, maxBytes);
    let used = 2;
    for (let i = 0; i < op.length; i++) {
        const c = op[i];
        const size = (typeof c === 'string' ? jsonBytes(c) + 2 : String(c).length) + 1;
        if (used + size <= budget) { used += size; continue; }
        const first = op.slice(0, i);
        if (typeof c === 'string') {
            let room = budget - used - 3, k = 0, j = 0;
            while (j < c.length) {
                const step = isHigh(c.charCodeAt(j)) && j + 1 < c.length && isLow(c.charCodeAt(j + 1)) ? 2 : 1;
                const cost = jsonBytes(c.slice(j, j + step));
                if (cost > room) break;
                room -= cost; j += step; k++;
            }
            if (k > 0) pushInsert(first, c.slice(0, j));
            /** @type {Op} */
            const rest = [];
            pushRetain(rest, targetLen(first));
            pushInsert(rest, c.slice(j));
            for (const x of op.slice(i + 1)) append(rest, x);
            if (first.length === 0) return [op, []]; /* cannot make progress */
            return [trim(first), trim(rest)];
        }
        if (first.length === 0) return [op, []];
        /** @type {Op} */
        const rest = [];
        pushRetain(rest, targetLen(first));
        for (const x of op.slice(i)) append(rest, x);
        return [trim(first), trim(rest)];
    }
    return [op, []];
}

