/* textindex.js -- code point <-> UTF-16 index conversion on a big text
 * without walking it from the start, and the changed range of an edit
 * found near where it happened.
 *
 * A TextIndex cuts a text into chunks of about CHUNK UTF-16 units and keeps
 * each chunk's length and code point count, so a conversion walks the chunk
 * table (n / CHUNK entries) and at most one chunk of text; an edit recounts
 * only the chunks it touched (and one on each side). It does not hold the
 * text: every call is given the string the index describes. Invariant: no
 * chunk boundary splits a surrogate pair, and the chunk lengths add up to
 * the text's length. Pure: no DOM, usable under node. */
import { ChorusError } from './error.js';
import { advance, isHigh, isLow } from './text.js';

export const CHUNK = 4096;

/** Code points starting in text[a, b): every unit but the low half of a
 * pair whose high half precedes it.
 * @param {string} text @param {number} a @param {number} b
 * @returns {number} */
function starts(text, a, b) {
    let n = b - a;
    for (let j = a; j < b; j++) {
        if (isLow(text.charCodeAt(j)) && j > 0 && isHigh(text.charCodeAt(j - 1))) n--;
    }
    return n;
}

/** Where the chunk starting at 'a' should end (before 'end'): about 'size'
 * units on, moved one on so as not to split a pair.
 * @param {string} text @param {number} a @param {number} end @param {number} size */
function cut(text, a, end, size) {
    let b = Math.min(end, a + size);
    if (b < end && end - b < size / 2) b = end; /* no small tail chunk */
    if (b < end && isLow(text.charCodeAt(b)) && isHigh(text.charCodeAt(b - 1))) b++;
    return b;
}

/** The chunk table of one text (see the file comment). */
export class TextIndex {
    /** @param {string} [text] @param {number} [size] units per chunk */
    constructor(text = '', size = CHUNK) {
        this.size = size;
        /** @type {number[]} UTF-16 length of each chunk */
        this.units = [];
        /** @type {number[]} code points starting in each chunk */
        this.cps = [];
        this.reset(text);
    }

    /** Index 'text' from scratch (O(n)).
     * @param {string} text */
    reset(text) {
        this.units = [];
        this.cps = [];
        this.build(text, 0, text.length, this.units, this.cps);
    }

    /** @param {string} text @param {number} a @param {number} b
     * @param {number[]} units @param {number[]} cps */
    build(text, a, b, units, cps) {
        while (a < b) {
            const e = cut(text, a, b, this.size);
            units.push(e - a);
            cps.push(starts(text, a, e));
            a = e;
        }
    }

    /** The text's length in UTF-16 units. */
    get length() {
        let n = 0;
        for (const u of this.units) n += u;
        return n;
    }

    /** The text's length in code points. */
    get cpLength() {
        let n = 0;
        for (const c of this.cps) n += c;
        return n;
    }

    /** The UTF-16 index of code point 'cp' of 'text' (clamped to its end),
     * as cpToUtf16 in text.js.
     * @param {string} text the indexed text
     * @param {number} cp
     * @returns {number} */
    cpToUtf16(text, cp) {
        let pos = 0, c = 0, k = 0;
        const n = this.units.length;
        while (k < n && c + this.cps[k] <= cp) { c += this.cps[k]; pos += this.units[k]; k++; }
        if (k === n) return text.length;
        const i = advance(text, pos, cp - c);
        return i < 0 ? text.length : i;
    }

    /** The code point index of UTF-16 index 'i' of 'text' (an index inside
     * a pair counts as the pair's start), as utf16ToCp in text.js.
     * @param {string} text the indexed text
     * @param {number} i
     * @returns {number} */
    utf16ToCp(text, i) {
        i = Math.max(0, Math.min(i, text.length));
        let pos = 0, c = 0, k = 0;
        const n = this.units.length;
        while (k < n && pos + this.units[k] <= i) { c += this.cps[k]; pos += this.units[k]; k++; }
        c += starts(text, pos, i);
        if (i > 0 && i < text.length && isLow(text.charCodeAt(i)) && isHigh(text.charCodeAt(i - 1))) c--;
        return c;
    }

    /** The text changed: 'removed' units at 'at' were replaced by 'added'
     * units; 'text' is the new text. Recounts the chunks touched and their
     * neighbours (O(chunk + edit) units, O(n / chunk) table work).
     * @param {string} text the text after the edit
     * @param {number} at @param {number} removed @param {number} added */
    splice(text, at, removed, added) {
        const n = this.units.length;
        let k0 = 0, pos = 0;
        while (k0 < n && pos + this.units[k0] < at) { pos += this.units[k0]; k0++; }
        if (k0 > 0) { k0--; pos -= this.units[k0]; }
        let k1 = k0, end = pos;
        while (k1 < n && end <= at + removed) { end += this.units[k1]; k1++; }
        if (k1 < n) { end += this.units[k1]; k1++; }
        /** @type {number[]} */ const units = [];
        /** @type {number[]} */ const cps = [];
        this.build(text, pos, end + added - removed, units, cps);
        this.units.splice(k0, k1 - k0, ...units);
        this.cps.splice(k0, k1 - k0, ...cps);
    }
}

/** A change of a text: 'removed' UTF-16 units at 'at' replaced by 'inserted'.
 * @typedef {{at: number, removed: number, inserted: string}} Change */

/** The change that turns 'before' into 'after', looked for near where the
 * edit happened: 'lo' is a UTF-16 index before which both texts are
 * believed equal, 'hi' one of 'after' from which on they are believed equal
 * (shifted by the length change), 'caret' settles ties as in ops.diff
 * (the change ends at or before it). The belief is checked by comparing
 * the untouched parts as whole strings (native compares, no loop over
 * them); if it is wrong the whole texts are scanned. Only the window
 * [lo, hi] is scanned unit by unit. Never splits a surrogate pair.
 * @param {string} before
 * @param {string} after
 * @param {number} lo
 * @param {number} hi
 * @param {number} [caret] a UTF-16 index of 'after'
 * @returns {Change | null} null when the texts are equal */
export function changedRange(before, after, lo, hi, caret) {
    const delta = after.length - before.length;
    lo = Math.max(0, Math.min(lo, before.length, after.length));
    hi = Math.min(after.length, Math.max(hi, lo, lo + delta));
    let ok = hi - delta >= lo && hi - delta <= before.length;
    if (ok && lo > 0) ok = before.slice(0, lo) === after.slice(0, lo);
    if (ok && hi < after.length) ok = before.slice(hi - delta) === after.slice(hi);
    if (!ok) { lo = 0; hi = after.length; }
    const bhi = hi - delta;
    const room = Math.min(hi, bhi) - lo;
    let maxs = room;
    if (caret !== undefined && caret >= lo && caret <= hi) maxs = Math.min(room, hi - caret);
    let s = 0;
    while (s < maxs && before.charCodeAt(bhi - 1 - s) === after.charCodeAt(hi - 1 - s)) s++;
    if (s > 0 && isLow(before.charCodeAt(bhi - s))) s--;
    let p = lo;
    const maxp = Math.min(hi, bhi) - s;
    while (p < maxp && before.charCodeAt(p) === after.charCodeAt(p)) p++;
    if (p > 0 && isHigh(before.charCodeAt(p - 1))) p--;
    const removed = bhi - s - p;
    const inserted = after.slice(p, hi - s);
    if (removed === 0 && inserted === '') return null;
    return { at: p, removed, inserted };
}

/** The UTF-16 ranges of 'text' that 'op' (code points) replaces, in order:
 * [from, to, inserted]. Found through 'ix' (which describes 'text'), so
 * the text is not walked. Throws ChorusError OT_ERANGE when 'op' spans
 * past the end of the text.
 * @param {string} text
 * @param {import('./ops.js').Op} op
 * @param {TextIndex} ix
 * @returns {[number, number, string][]} */
export function opRanges(text, op, ix) {
    /** @type {[number, number, string][]} */
    const out = [];
    const total = ix.cpLength;
    let cp = 0, ins = '';
    for (const c of op) {
        if (typeof c === 'string') { ins += c; continue; }
        const n = Math.abs(c);
        if (cp + n > total) throw new ChorusError('OT_ERANGE', 'op spans past the end of the document');
        const at = ix.cpToUtf16(text, cp);
        if (c < 0) out.push([at, ix.cpToUtf16(text, cp + n), ins]);
        else if (ins) out.push([at, at, ins]);
        cp += n;
        ins = '';
    }
    if (ins) { const at = ix.cpToUtf16(text, cp); out.push([at, at, ins]); }
    return out;
}

/** apply() of ops.js through an index: 'text' after 'op', with 'ix'
 * updated to describe it. Only the changed ranges are visited (and the
 * new string is made of slices of the old one). Throws as opRanges (and
 * changes nothing).
 * @param {string} text
 * @param {import('./ops.js').Op} op
 * @param {TextIndex} ix
 * @returns {string} */
export function applyIndexed(text, op, ix) {
    const edits = opRanges(text, op, ix);
    for (let k = edits.length - 1; k >= 0; k--) {
        const [from, to, s] = edits[k];
        text = text.slice(0, from) + s + text.slice(to);
        ix.splice(text, from, to - from, s.length);
    }
    return text;
}

/** A locate function for ops.invert(op, text): the UTF-16 index of every
 * code point where 'op' deletes, found now through 'ix' (which describes
 * 'text'), so it stays right after 'ix' moves on to the next text.
 * @param {string} text
 * @param {import('./ops.js').Op} op
 * @param {TextIndex} ix
 * @returns {(cp: number) => number} -1 for a code point it was not made for */
export function locator(text, op, ix) {
    /** @type {Map<number, number>} */
    const at = new Map();
    let cp = 0;
    for (const c of op) {
        if (typeof c === 'string') continue;
        if (c < 0) { at.set(cp, ix.cpToUtf16(text, cp)); at.set(cp - c, ix.cpToUtf16(text, cp - c)); cp -= c; } else cp += c;
    }
    return (n) => { const i = at.get(n); return i === undefined ? -1 : i; };
}
