/* authors.js -- authorship runs: who wrote each code point of a text, kept
 * current as ops apply (the client's half of GET /api/docs/D/authors).
 *
 * Runs are [length, user] pairs in text order, lengths in code points.
 * Invariant: every run is non-empty, neighbours have different users, and
 * the lengths sum to the text's length; an op's inserts belong to the user
 * it is applied for, retains keep, deletes remove, exactly as the server's
 * server/history/authors.c does. Pure: no I/O, no state. */
import { ChorusError } from './error.js';
import { cpLength } from './text.js';

/** One run: [code points, user name].
 * @typedef {[number, string]} Run */

/** Append 'n' code points of 'user' to 'runs' (mutated), merged with the
 * last run when it is the same user.
 * @param {Run[]} runs @param {number} n @param {string} user */
function push(runs, n, user) {
    if (n <= 0) return;
    const last = runs[runs.length - 1];
    if (last && last[1] === user) last[0] += n;
    else runs.push([n, user]);
}

/** Total length of 'runs' in code points.
 * @param {Run[]} runs
 * @returns {number} */
export function runsLength(runs) {
    let n = 0;
    for (const r of runs) n += r[0];
    return n;
}

/** The runs after applying 'op' (wire form, code points) written by
 * 'user'; an op shorter than the text keeps the rest. Throws ChorusError
 * OT_ERANGE (and changes nothing) when the op spans more than the runs.
 * @param {Run[]} runs
 * @param {Array<number | string>} op
 * @param {string} user
 * @returns {Run[]} new runs ('runs' is not changed) */
export function applyAuthors(runs, op, user) {
    /** @type {Run[]} */
    const out = [];
    let i = 0, off = 0;
    /** @param {number} n @param {boolean} keep */
    const take = (n, keep) => {
        while (n > 0) {
            if (i >= runs.length) throw new ChorusError('OT_ERANGE', 'op longer than the text');
            const r = runs[i];
            const k = Math.min(n, r[0] - off);
            if (keep) push(out, k, r[1]);
            n -= k;
            off += k;
            if (off === r[0]) { i++; off = 0; }
        }
    };
    for (const c of op) {
        if (typeof c === 'string') push(out, cpLength(c), user);
        else take(Math.abs(c), c > 0);
    }
    if (off) { push(out, runs[i][0] - off, runs[i][1]); i++; }
    for (; i < runs.length; i++) push(out, runs[i][0], runs[i][1]);
    return out;
}

/** Runs from a GET .../authors answer ({length, spans: [[start, end,
 * user], ...]}). Throws ChorusError bad_message when the spans do not
 * cover 0..length in order.
 * @param {any} answer
 * @returns {Run[]} */
export function runsFromSpans(answer) {
    const bad = () => new ChorusError('bad_message', 'authors: spans do not cover the text');
    if (!answer || !Array.isArray(answer.spans) || typeof answer.length !== 'number') throw bad();
    /** @type {Run[]} */
    const runs = [];
    let at = 0;
    for (const s of answer.spans) {
        if (!Array.isArray(s) || s[0] !== at || !(s[1] > s[0]) || typeof s[2] !== 'string') throw bad();
        push(runs, s[1] - s[0], s[2]);
        at = s[1];
    }
    if (at !== answer.length) throw bad();
    return runs;
}

const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#008080',
    '#f032e6', '#9a6324', '#800000', '#808000', '#000075', '#469990'];

/** The server's presence colour rule (srv_wire_color: FNV-1a of the
 * UTF-8 bytes into a palette of 12), applied to 'key': the colour of an
 * author who is not present, so it is stable and from the same palette.
 * @param {string} key
 * @returns {string} a CSS colour */
export function paletteColor(key) {
    let h = 2166136261;
    for (const b of new TextEncoder().encode(key)) h = Math.imul(h ^ b, 16777619) >>> 0;
    return PALETTE[h % PALETTE.length];
}
