/* chorus.js -- the Chorus client library (protocol chorus.v1), one ES module.
 *
 * Usable without the editor UI, in a browser or under node: the op algebra
 * (mirroring the C engine in ot/), conversion between UTF-16 indices and
 * code points, the OT client state machine, and a Connection that speaks
 * chorus.v1 over a WebSocket with presence and reconnection. See docs/web.md.
 *
 * Ops use the wire form directly: an array whose positive integers retain,
 * strings insert and negative integers delete; counts are Unicode code
 * points. Invariant: every op this module returns is normalised exactly as
 * the C engine normalises (no zero or empty components, adjacent components
 * of one kind merged, an insert before a delete at one place, no trailing
 * retain), so equal edits are equal arrays. */

/* ---- Errors --------------------------------------------------------- */

/** An error with a symbolic code: the C engine's names for op errors
 * ("OT_EZERO", "OT_ERANGE", ...) or the protocol's error codes. */
export class ChorusError extends Error {
    constructor(code, message) {
        super(message || code);
        this.name = 'ChorusError';
        this.code = code;
    }
}

/** Tie-break sides for transform(), as in ot.h: the side names the first
 * argument. LEFT: its insert goes first; RIGHT: the other op's goes first. */
export const LEFT = 0;
export const RIGHT = 1;

/** The largest count a wire component may carry (OT_MAX_LEN in ot.h). */
export const MAX_LEN = 2 ** 31;

/* ---- Code points and UTF-16 ----------------------------------------- */

const isHigh = (u) => u >= 0xd800 && u <= 0xdbff;
const isLow = (u) => u >= 0xdc00 && u <= 0xdfff;

/** Number of code points in string 's'. */
export function cpLength(s) {
    let n = s.length;
    for (let i = 0; i < s.length - 1; i++) {
        if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) { n--; i++; }
    }
    return n;
}

/** True when 's' holds no lone surrogate (so it encodes to valid UTF-8). */
export function isWellFormed(s) {
    for (let i = 0; i < s.length; i++) {
        const u = s.charCodeAt(i);
        if (isHigh(u)) {
            if (i + 1 >= s.length || !isLow(s.charCodeAt(i + 1))) return false;
            i++;
        } else if (isLow(u)) return false;
    }
    return true;
}

/* UTF-16 index 'n' code points after index 'i' of 's', or -1 past the end. */
function advance(s, i, n) {
    while (n > 0) {
        if (i >= s.length) return -1;
        if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i += 2;
        else i++;
        n--;
    }
    return i;
}

/** The UTF-16 index of code point 'cp' in 's' (clamped to s.length). */
export function cpToUtf16(s, cp) {
    const i = advance(s, 0, cp);
    return i < 0 ? s.length : i;
}

/** The code point index of UTF-16 index 'i' in 's'. An index inside a
 * surrogate pair counts as the pair's start. */
export function utf16ToCp(s, i) {
    let cp = 0;
    const end = Math.min(i, s.length);
    for (let k = 0; k < end; k++) {
        if (isHigh(s.charCodeAt(k)) && k + 1 < s.length && isLow(s.charCodeAt(k + 1))) {
            if (k + 1 >= end) break;
            k++;
        }
        cp++;
    }
    return cp;
}

/* The first 'n' code points of 's' and the rest. */
function splitCp(s, n) {
    const i = advance(s, 0, n);
    return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i)];
}

/* ---- Building ops --------------------------------------------------- */

/** Append a retain of 'n' to 'op' (mutated), keeping it normalised. */
export function pushRetain(op, n) {
    if (n <= 0) return op;
    const l = op.length;
    if (l && typeof op[l - 1] === 'number' && op[l - 1] > 0) op[l - 1] += n;
    else op.push(n);
    return op;
}

/** Append an insert of 's' to 'op' (mutated): an insert right after a
 * delete goes before it, as the C engine orders them. */
export function pushInsert(op, s) {
    if (!s) return op;
    const l = op.length;
    if (l && typeof op[l - 1] === 'string') op[l - 1] += s;
    else if (l && typeof op[l - 1] === 'number' && op[l - 1] < 0) {
        if (l >= 2 && typeof op[l - 2] === 'string') op[l - 2] += s;
        else op.splice(l - 1, 0, s);
    } else op.push(s);
    return op;
}

/** Append a delete of 'n' code points to 'op' (mutated). */
export function pushDelete(op, n) {
    if (n <= 0) return op;
    const l = op.length;
    if (l && typeof op[l - 1] === 'number' && op[l - 1] < 0) op[l - 1] -= n;
    else op.push(-n);
    return op;
}

function trim(op) {
    if (op.length && typeof op[op.length - 1] === 'number' && op[op.length - 1] > 0) op.pop();
    return op;
}

/* Results of transform and compose may span at most MAX_LEN code points. */
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

function append(op, c) {
    if (typeof c === 'string') return pushInsert(op, c);
    return c > 0 ? pushRetain(op, c) : pushDelete(op, -c);
}

/** Validate and normalise a wire op. Returns a new normalised op; throws
 * ChorusError with the C engine's code: OT_EJSON (not an array, or a
 * component that is neither number nor string), OT_EZERO, OT_ENOTINT,
 * OT_EEMPTY, OT_EBIG (a count above MAX_LEN, or spans beyond it),
 * OT_ESURROGATE (a lone surrogate in an insert). */
export function normalize(wire) {
    if (!Array.isArray(wire)) throw new ChorusError('OT_EJSON', 'an op is a JSON array');
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
 * that is not JSON. */
export function parseOp(json) {
    let v;
    try { v = JSON.parse(json); } catch { throw new ChorusError('OT_EJSON', 'not JSON'); }
    return normalize(v);
}

/** Decode a wire op from UTF-8 bytes (a Uint8Array): as parseOp(), and
 * OT_EUTF8 for invalid UTF-8, OT_ESURROGATE for an encoded surrogate
 * (CESU-8), as the C decoder reports them. */
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

/** Bytes of 's' in UTF-8 (lone surrogates count 3, as U+FFFD would). */
export function utf8Length(s) {
    let b = 0;
    for (let i = 0; i < s.length; i++) {
        const u = s.charCodeAt(i);
        if (u < 0x80) b += 1;
        else if (u < 0x800) b += 2;
        else if (isHigh(u) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) { b += 4; i++; } else b += 3;
    }
    return b;
}

/** The op that deletes 'del' code points at 'pos' and inserts 'ins' there. */
export function splice(pos, del, ins) {
    const op = [];
    pushRetain(op, pos);
    pushInsert(op, ins || '');
    pushDelete(op, del);
    return trim(op);
}

/** Code points the op spans before it is applied (retained + deleted). */
export function baseLen(op) {
    let n = 0;
    for (const c of op) if (typeof c === 'number') n += Math.abs(c);
    return n;
}

/** Code points the op spans after it is applied (retained + inserted). */
export function targetLen(op) {
    let n = 0;
    for (const c of op) n += typeof c === 'string' ? cpLength(c) : c > 0 ? c : 0;
    return n;
}

/** True when the op changes nothing. */
export function isNoop(op) {
    return op.length === 0;
}

/** True when 'a' and 'b' are the same (normalised) edit. */
export function opEqual(a, b) {
    return a.length === b.length && a.every((c, i) => c === b[i]);
}

/* ---- Applying ------------------------------------------------------- */

/** Apply 'op' to 'text' and return the new text. Throws ChorusError
 * OT_ERANGE when the op spans more than the text holds. */
export function apply(text, op) {
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
    constructor(op) { this.op = op; this.i = 0; this.off = 0; /* code points used */ }
    peek() { return this.i < this.op.length ? this.op[this.i] : null; }
    /* Take up to n code points of the next component; 'whole' names the
     * kind handed out entire ('string' or 'delete'). null at the end. */
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
 * a' would span more than MAX_LEN code points. */
export function transform(a, b, side) {
    const out = [];
    const ia = new Iter(a);
    for (const cb of b) {
        if (typeof cb === 'string') {
            if (side === LEFT) while (typeof ia.peek() === 'string') pushInsert(out, ia.take(0, 'string'));
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
 * the result would span more than MAX_LEN code points. */
export function compose(a, b) {
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
 * 'op'). Throws ChorusError OT_ERANGE when 'op' spans more than 'pre'. */
export function invert(op, pre) {
    const out = [];
    let i = 0;
    for (const c of op) {
        if (typeof c === 'string') { pushDelete(out, cpLength(c)); continue; }
        const j = advance(pre, i, Math.abs(c));
        if (j < 0) throw new ChorusError('OT_ERANGE', 'op spans past the end of the document');
        if (c > 0) pushRetain(out, c); else pushInsert(out, pre.slice(i, j));
        i = j;
    }
    return trim(out);
}

/** Where a cursor at code point 'pos' (before 'op') is after 'op'. An insert
 * exactly at the cursor moves it along with RIGHT (the op's text goes
 * before the cursor) and leaves it before the text with LEFT; a cursor in
 * deleted text goes to the start of the deletion. */
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

/* Where a position 'pos' after 'op' was before it: the inverse map that
 * sends a position inside inserted text to where the insert happened. */
function untransformPos(pos, op) {
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
 * typed or deleted, so "a" typed after "a" inserts where the caret is. */
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
    const op = [];
    pushRetain(op, cpLength(before.slice(0, p)));
    pushInsert(op, after.slice(p, after.length - s));
    pushDelete(op, cpLength(before.slice(p, before.length - s)));
    return trim(op);
}

/* Bytes of 's' as a JSON string body (escapes counted). */
function jsonBytes(s) {
    let b = 0;
    for (let i = 0; i < s.length; i++) {
        const u = s.charCodeAt(i);
        if (u < 0x20) b += 6;
        else if (u === 0x22 || u === 0x5c) b += 2;
        else if (u < 0x80) b += 1;
        else if (u < 0x800) b += 2;
        else if (isHigh(u) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) { b += 4; i++; } else b += 3;
    }
    return b;
}

/** Split 'op' into [first, rest] with compose(first, rest) equal to 'op'
 * and first's wire JSON at most about 'maxBytes' (only inserts are ever
 * large: a long one is cut between code points). rest is [] when 'op'
 * fits. This is how a paste larger than the server's message limit is sent
 * as several ops. */
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
            const rest = [];
            pushRetain(rest, targetLen(first));
            pushInsert(rest, c.slice(j));
            for (const x of op.slice(i + 1)) append(rest, x);
            if (first.length === 0) return [op, []]; /* cannot make progress */
            return [trim(first), trim(rest)];
        }
        if (first.length === 0) return [op, []];
        const rest = [];
        pushRetain(rest, targetLen(first));
        for (const x of op.slice(i)) append(rest, x);
        return [trim(first), trim(rest)];
    }
    return [op, []];
}

/* ---- The OT client state machine ------------------------------------ */

/** The client side of OT against one server-ordered document: synchronized
 * (nothing unacknowledged), awaiting (one op in flight), or awaiting with a
 * buffer (edits made while an op is in flight, composed into one op that is
 * sent when the ack comes: this is how keystrokes are batched). Pure: the
 * caller sends what it returns and applies what it is given. */
export class OTClient {
    constructor(version = 0, maxBytes = Infinity) {
        this.version = version;  /* server version the text is based on */
        this.inflight = null;    /* {op, seq, version} sent, not acked */
        this.buffer = null;      /* op composed behind the inflight one */
        this.maxBytes = maxBytes; /* largest wire op to send at once */
    }

    /** 'synchronized', 'awaiting' or 'buffering'. */
    get state() {
        return this.inflight ? (this.buffer ? 'buffering' : 'awaiting') : 'synchronized';
    }

    /** A local edit 'op' was applied to the local text. Returns the op to
     * send now ({op, version}), or null when it joined the buffer. The
     * caller sets .seq on the returned object before sending it. */
    local(op) {
        if (op.length === 0) return null;
        if (this.inflight) {
            this.buffer = this.buffer ? compose(this.buffer, op) : op;
            return null;
        }
        const [first, rest] = splitOp(op, this.maxBytes);
        this.inflight = { op: first, version: this.version, seq: 0 };
        if (rest.length) this.buffer = rest;
        return this.inflight;
    }

    /** A server op (at version this.version + 1) arrived. Returns the op to
     * apply to the local text: the server's op transformed over the edits
     * not yet acknowledged. */
    remote(op) {
        this.version++;
        if (!this.inflight) return op;
        const inf = transform(this.inflight.op, op, RIGHT);
        let op1 = transform(op, this.inflight.op, LEFT);
        this.inflight.op = inf;
        if (this.buffer) {
            const buf = transform(this.buffer, op1, RIGHT);
            op1 = transform(op1, this.buffer, LEFT);
            this.buffer = buf;
        }
        return op1;
    }

    /** The server acknowledged the in-flight op at 'version'. Returns the
     * next op to send (the buffer, as for local()) or null. */
    ack(version) {
        if (!this.inflight) throw new ChorusError('bad_state', 'ack with nothing in flight');
        this.version = Math.max(this.version + 1, version);
        this.inflight = null;
        const b = this.buffer;
        this.buffer = null;
        return b ? this.local(b) : null;
    }

    /** Every unacknowledged edit as one op (on the server's text), or []. */
    pending() {
        if (!this.inflight) return [];
        return this.buffer ? compose(this.inflight.op, this.buffer) : this.inflight.op;
    }
}

/* ---- Small helpers ---------------------------------------------------- */

/** A random client id (URL-safe, 22 characters). */
export function randomId() {
    const b = new Uint8Array(22);
    globalThis.crypto.getRandomValues(b);
    let s = '';
    for (const x of b) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[x & 63];
    return s; /* 132 random bits */
}

/** A stable colour for 'id' when the server gave none. */
export function colorFor(id) {
    let h = 0;
    for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
    return `hsl(${h % 360} 70% 45%)`;
}

/** Pick this page's client id: ids live in 'storage' (localStorage) so a
 * reload reuses one, and a Web Lock per id keeps two open tabs from sharing
 * one. Resolves to the id. Without locks, the first stored id is used. */
export async function claimClientId(storage, locks) {
    let ids = [];
    try { ids = JSON.parse(storage.getItem('chorus.clients') || '[]'); } catch { ids = []; }
    if (!Array.isArray(ids)) ids = [];
    ids = ids.filter((x) => typeof x === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(x));
    if (!locks) {
        if (!ids.length) { ids.push(randomId()); storage.setItem('chorus.clients', JSON.stringify(ids)); }
        return ids[0];
    }
    const hold = (id) => new Promise((resolve) => {
        locks.request('chorus.client.' + id, { ifAvailable: true }, (lock) => {
            if (!lock) { resolve(false); return undefined; }
            resolve(true);
            return new Promise(() => {}); /* held for the page's life */
        });
    });
    for (const id of ids) if (await hold(id)) return id;
    const id = randomId();
    ids.push(id);
    storage.setItem('chorus.clients', JSON.stringify(ids.slice(-16)));
    await hold(id);
    return id;
}

/* A minimal event emitter: on() returns a function that unsubscribes. */
class Emitter {
    constructor() { this.handlers = new Map(); }
    on(ev, fn) {
        if (!this.handlers.has(ev)) this.handlers.set(ev, new Set());
        this.handlers.get(ev).add(fn);
        return () => this.handlers.get(ev).delete(fn);
    }
    emit(ev, ...args) {
        for (const fn of [...(this.handlers.get(ev) || [])]) {
            try { fn(...args); } catch (e) { setTimeout(() => { throw e; }); }
        }
    }
}

/* ---- A document over the protocol ----------------------------------- */

/** One joined document: its text (with local edits applied), the server
 * version, the OT state and the other clients present. Made by
 * Connection.open(); events: 'ready' (joined: text is the server's),
 * 'change' (op, info) after the text changed (info.remote, info.client,
 * info.user), 'presence' (peers), 'saved' (bool), 'error' (ChorusError),
 * 'reset' (the local state was replaced by the server's). */
export class Doc extends Emitter {
    constructor(conn, id) {
        super();
        this.conn = conn;
        this.id = id;
        this.text = '';
        this.base = '';          /* the server's text at ot.version */
        this.ot = null;          /* OTClient once joined */
        this.joined = false;     /* joined on the current socket */
        this.ready = false;      /* has had a first join */
        this.peers = new Map();  /* client -> {client, name, color, cursor} */
        this.cursor = null;      /* own {anchor, head} in code points */
        this.presenceTimer = null;
        this.presenceStale = false;
        this.left = false;
        this.resyncing = false;  /* waiting for a full text (see Connection.fail) */
        this.discard = false;    /* ... and then drop the unacknowledged edits */
        this.readOnly = false;   /* the server refused our edits (a viewer) */
        this.share = null;       /* share link token for joins */
        this.denied = null;      /* 'forbidden' | 'unauthorized' when a join was refused,
                                    'access_revoked' when the server took it away */
        this.errorAttempts = 0;  /* server_errors since the last ack (backoff) */
        this.rejoinTimer = null;
        this.rejoining = false;  /* rejoined after server_error, catch-up under way */
    }

    get version() { return this.ot ? this.ot.version : 0; }

    /** True when every local edit has been acknowledged by the server. */
    get saved() { return !this.ot || !this.ot.inflight; }

    /** Apply a local edit 'op' (code points, on this.text). Throws
     * ChorusError OT_ERANGE (and changes nothing) when it does not fit, or
     * 'not_ready' before the first join. */
    edit(op) {
        if (!this.ready) throw new ChorusError('not_ready', 'the document is not joined yet');
        if (this.readOnly) throw new ChorusError('forbidden', 'this document is read-only here');
        op = normalize(op);
        const text = apply(this.text, op);
        if (op.length === 0) return;
        const wasSaved = this.saved;
        this.text = text;
        for (const p of this.peers.values()) if (p.cursor) p.cursor = mapCursor(p.cursor, op, LEFT);
        if (this.cursor) this.cursor = mapCursor(this.cursor, op, RIGHT);
        const send = this.ot.local(op);
        if (send) this.sendOp(send, true);
        this.emit('change', op, { remote: false });
        if (wasSaved) this.emit('saved', false);
    }

    /** Set this client's selection ({anchor, head} in code points of
     * this.text, or null) and tell the others, throttled. */
    setCursor(cursor) {
        this.cursor = cursor ? { anchor: cursor.anchor, head: cursor.head } : null;
        if (this.presenceTimer) return;
        this.presenceTimer = setTimeout(() => { this.presenceTimer = null; this.sendPresence(); },
            this.conn.opts.presenceDelay);
    }

    /** Leave the document: the server stops sending its messages. */
    leave() {
        this.left = true;
        this.conn.send({ type: 'leave', doc: this.id });
        this.conn.docs.delete(this.id);
    }

    sendOp(inf, fresh) {
        if (fresh) inf.seq = this.conn.nextSeq();
        if (!this.joined) return; /* resent after the next join */
        inf.version = this.ot.version;
        this.conn.send({ type: 'op', doc: this.id, version: inf.version, seq: inf.seq, op: inf.op });
    }

    sendPresence() {
        if (!this.joined || this.readOnly) return;
        let cur = this.cursor;
        const pend = this.ot.pending();
        if (cur && pend.length) {
            cur = { anchor: untransformPos(cur.anchor, pend), head: untransformPos(cur.head, pend) };
            this.presenceStale = true;
        }
        this.conn.send({ type: 'presence', doc: this.id, version: this.ot.version, cursor: cur });
    }

    joinMessage() {
        const m = { type: 'join', doc: this.id };
        if (this.ready && !this.resyncing) m.version = this.ot.version;
        if (this.share) m.share = this.share;
        return m;
    }

    /* Handlers for server messages about this document. */
    onJoined(msg) {
        if (this.resyncing) {
            if (typeof msg.text !== 'string') return; /* a join sent before the failure */
            this.resyncing = false;
        }
        if (typeof msg.text === 'string') {
            if (this.ready && this.ot) this.rebase(msg.text, msg.version);
            else { this.text = this.base = msg.text; this.ot = new OTClient(msg.version, this.conn.maxOpBytes()); }
        } else if (typeof msg.version === 'number' && this.ot && msg.version !== this.ot.version) {
            this.conn.fail(this, 'bad_message', 'catch-up ended at an unexpected version');
            return;
        }
        this.joined = true;
        this.rejoining = false;
        this.denied = null;
        if (!this.ot.inflight) this.errorAttempts = 0;
        const first = !this.ready;
        this.ready = true;
        if (this.ot.inflight) this.sendOp(this.ot.inflight, false);
        this.sendPresence();
        if (first) this.emit('ready');
        this.emit('saved', this.saved);
    }

    /* A full text arrived for a document with local state (a rejoin after
     * too_old or a broken catch-up): keep the unacknowledged edits, moved
     * onto the new text. They are sent again under a new seq, so the server
     * and this client converge; only if the op in flight had in fact been
     * committed before the drop does its edit appear twice. */
    rebase(text, version) {
        const discard = this.discard;
        this.discard = false;
        if (!discard && text === this.base && version === this.ot.version) return;
        const d = diff(this.base, text);
        const pend = discard ? [] : this.ot.pending();
        const p2 = transform(pend, d, RIGHT);
        const dl = discard ? diff(this.text, text) : transform(d, pend, LEFT);
        this.text = apply(this.text, dl);
        this.base = text;
        this.ot = new OTClient(version, this.conn.maxOpBytes());
        if (p2.length) this.ot.local(p2).seq = this.conn.nextSeq();
        for (const p of this.peers.values()) if (p.cursor) p.cursor = mapCursor(p.cursor, dl, LEFT);
        if (this.cursor) this.cursor = mapCursor(this.cursor, dl, LEFT);
        this.emit('change', dl, { remote: true, client: null, user: null });
        this.emit('reset');
    }

    onOp(msg) {
        if (!this.ot || this.resyncing) return;
        const inf = this.ot.inflight;
        if (inf && msg.client === this.conn.clientId && msg.seq === inf.seq) {
            this.onAck(msg); /* our own op, seen in a catch-up */
            return;
        }
        /* A rejoin after server_error while the server still had us joined:
         * its catch-up may repeat ops that reached us meanwhile. */
        if (this.rejoining && typeof msg.version === 'number' && msg.version <= this.ot.version) return;
        if (msg.version !== this.ot.version + 1) {
            this.conn.fail(this, 'bad_message', `op at version ${msg.version}, expected ${this.ot.version + 1}`);
            return;
        }
        let op;
        try { op = normalize(msg.op); } catch (e) { this.conn.fail(this, 'bad_message', e.message); return; }
        let base, text, local;
        try {
            base = apply(this.base, op);
            local = this.ot.remote(op);
            text = apply(this.text, local);
        } catch (e) { this.conn.fail(this, 'bad_message', e.message); return; }
        this.base = base;
        this.text = text;
        for (const p of this.peers.values()) {
            if (p.cursor) p.cursor = mapCursor(p.cursor, local, p.client === msg.client ? RIGHT : LEFT);
        }
        if (this.cursor) this.cursor = mapCursor(this.cursor, local, LEFT);
        if (msg.client && msg.user) this.notePeer(msg.client, msg.user);
        this.emit('change', local, { remote: true, client: msg.client, user: msg.user });
    }

    onAck(msg) {
        if (!this.ot || this.resyncing || !this.ot.inflight || msg.seq !== this.ot.inflight.seq) return;
        this.errorAttempts = 0;
        this.base = apply(this.base, this.ot.inflight.op);
        const next = this.ot.ack(msg.version);
        if (next) this.sendOp(next, true);
        if (this.saved) {
            if (this.presenceStale) { this.presenceStale = false; this.sendPresence(); }
            this.emit('saved', true);
        }
    }

    /* A presence with left:true means the client left; cursor null without
     * it means present without a cursor (listed, no caret drawn). */
    onPresence(msg) {
        if (msg.client === this.conn.clientId || typeof msg.client !== 'string' || this.resyncing) return;
        if (msg.left === true) {
            if (this.peers.delete(msg.client)) this.emit('presence', this.peers);
            return;
        }
        if (msg.cursor === null || msg.cursor === undefined) {
            this.notePeer(msg.client, msg.user).cursor = null;
            this.emit('presence', this.peers);
            return;
        }
        const c = msg.cursor;
        if (!c || typeof c !== 'object') return;
        if (!Number.isInteger(c.anchor) || !Number.isInteger(c.head)) return;
        let cur = { anchor: c.anchor, head: c.head };
        const pend = this.ot ? this.ot.pending() : [];
        if (pend.length) cur = mapCursor(cur, pend, LEFT);
        const len = cpLength(this.text);
        cur = { anchor: Math.min(cur.anchor, len), head: Math.min(cur.head, len) };
        const p = this.notePeer(msg.client, msg.user);
        p.cursor = cur;
        this.emit('presence', this.peers);
    }

    notePeer(client, user) {
        let p = this.peers.get(client);
        if (!p) { p = { client, name: '', color: '', cursor: null }; this.peers.set(client, p); }
        if (user && typeof user.name === 'string') p.name = user.name;
        p.color = (user && typeof user.color === 'string' && user.color) || p.color || colorFor(client);
        return p;
    }

    /* The server dropped our join (server_error naming this document: it
     * could not load it or commit to it). Rejoin with our version after a
     * backoff; onJoined then resends the op in flight with its same seq, so
     * it is applied exactly once. */
    scheduleRejoin() {
        this.joined = false;
        this.errorAttempts++;
        const o = this.conn.opts;
        const exp = Math.min(o.backoffMax, o.backoffMin * 2 ** (this.errorAttempts - 1));
        clearTimeout(this.rejoinTimer);
        this.rejoinTimer = setTimeout(() => {
            this.rejoinTimer = null;
            if (this.joined || this.left || this.conn.status !== 'connected') return;
            this.rejoining = true;
            this.conn.send(this.joinMessage());
        }, Math.round(exp * (0.5 + this.conn.random() / 2)));
    }

    onDisconnect() {
        clearTimeout(this.rejoinTimer);
        this.rejoinTimer = null;
        this.rejoining = false;
        this.joined = false;
        if (this.peers.size) { this.peers.clear(); this.emit('presence', this.peers); }
    }
}

function mapCursor(c, op, side) {
    return { anchor: transformPos(c.anchor, op, side), head: transformPos(c.head, op, side) };
}

/* ---- The connection ------------------------------------------------- */

const DEFAULTS = {
    backoffMin: 250,      /* ms before the first reconnect attempt */
    backoffMax: 10000,    /* ms cap of the exponential backoff */
    offlineAfter: 4,      /* failed attempts before the status says offline */
    presenceDelay: 40,    /* ms presence updates are coalesced over */
    rateLimitDelay: 1000, /* ms before an op refused as rate_limited is resent */
};

/** One WebSocket to a Chorus server, shared by every open document, kept
 * up by reconnecting with exponential backoff and jitter. Options: url
 * (ws://host/ws), clientId (kept across reconnects), name, token,
 * WebSocket (a constructor; defaults to the global one), storage (for the
 * seq counter, e.g. localStorage), random (() => [0,1)), and the timing
 * DEFAULTS above. Events: 'status' (connecting | connected | reconnecting
 * | offline | closed), 'welcome' (msg), 'error' (ChorusError, doc or null). */
export class Connection extends Emitter {
    constructor(opts) {
        super();
        this.opts = { ...DEFAULTS, ...opts };
        this.url = opts.url;
        this.clientId = opts.clientId || randomId();
        this.name = opts.name || '';
        this.WS = opts.WebSocket || globalThis.WebSocket;
        this.storage = opts.storage || null;
        this.random = opts.random || Math.random;
        this.docs = new Map();
        this.ws = null;
        this.status = 'connecting';
        this.user = null;
        this.limits = null;
        this.attempts = 0;
        this.timer = null;
        this.closed = false;
        const stored = this.storage ? Number(this.storage.getItem('chorus.seq.' + this.clientId)) : 0;
        this.seq = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
        this.connect();
    }

    /** Open (join) document 'id'; returns its Doc (the same one if open).
     * opts.share: a share link's token, sent with every join (team mode). */
    open(id, opts = {}) {
        let d = this.docs.get(id);
        if (d) return d;
        d = new Doc(this, id);
        if (typeof opts.share === 'string' && opts.share) d.share = opts.share;
        this.docs.set(id, d);
        if (this.status === 'connected') this.send(d.joinMessage());
        return d;
    }

    /** Change the name others see. The protocol carries it in hello, so the
     * connection is renewed (edits in flight are resent as on any drop). */
    setName(name) {
        this.name = name;
        if (this.ws && this.status === 'connected') this.restart();
    }

    /** Close for good (no reconnect). */
    close() {
        this.closed = true;
        clearTimeout(this.timer);
        for (const d of this.docs.values()) clearTimeout(d.rejoinTimer);
        if (this.ws) this.ws.close(1000);
        this.setStatus('closed');
    }

    /** Reconnect now (e.g. the browser came back online), skipping the wait. */
    retryNow() {
        if (this.closed || this.status === 'connected' || this.status === 'connecting') return;
        clearTimeout(this.timer);
        this.connect();
    }

    /** The largest wire op to put in one message: the server's max_message
     * (from welcome) less room for the envelope, or Infinity. */
    maxOpBytes() {
        const m = this.limits && Number(this.limits.max_message);
        return m > 0 ? Math.max(256, Math.floor(m * 0.9) - 512) : Infinity;
    }

    /** The next op seq: increasing, and kept in 'storage' so a reload that
     * reuses the client id never reuses a seq the server may have seen. */
    nextSeq() {
        this.seq++;
        if (this.storage) this.storage.setItem('chorus.seq.' + this.clientId, String(this.seq));
        return this.seq;
    }

    send(msg) {
        if (!this.ws || this.ws.readyState !== 1) return false;
        this.ws.send(JSON.stringify(msg));
        return true;
    }

    setStatus(s) {
        if (this.status === s) return;
        this.status = s;
        this.emit('status', s);
    }

    connect() {
        if (this.closed) return;
        if (this.attempts === 0) this.setStatus('connecting');
        let ws;
        try { ws = new this.WS(this.url, 'chorus.v1'); } catch (e) { this.dropped(null); return; }
        this.ws = ws;
        ws.onopen = () => {
            if (ws !== this.ws) return;
            const hello = { type: 'hello', client: this.clientId };
            if (this.name) hello.name = this.name;
            if (this.opts.token) hello.token = this.opts.token;
            this.send(hello);
        };
        ws.onmessage = (ev) => { if (ws === this.ws) this.onFrame(ev.data); };
        ws.onclose = (ev) => this.dropped(ws, ev && ev.code);
        ws.onerror = () => {};
    }

    /* Restart the socket at once (a rename). */
    restart() {
        const old = this.ws;
        this.ws = null;
        if (old) { old.onclose = null; old.close(1000); }
        for (const d of this.docs.values()) d.onDisconnect();
        this.attempts = 0;
        this.connect();
    }

    dropped(ws, code) {
        if (ws && ws !== this.ws) return;
        this.ws = null;
        for (const d of this.docs.values()) d.onDisconnect();
        if (this.closed) return;
        if (code === 1009) this.emit('error', new ChorusError('too_large', 'a message was too large'), null);
        this.attempts++;
        const exp = Math.min(this.opts.backoffMax, this.opts.backoffMin * 2 ** (this.attempts - 1));
        const delay = Math.round(exp * (0.5 + this.random() / 2));
        const offline = this.attempts > this.opts.offlineAfter ||
            (globalThis.navigator && globalThis.navigator.onLine === false);
        this.setStatus(offline ? 'offline' : 'reconnecting');
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.connect(), delay);
    }

    /* A frame holds one message or an array of them, handled in order. */
    onFrame(data) {
        let msgs;
        try { msgs = JSON.parse(data); } catch { this.emit('error', new ChorusError('bad_json', 'server sent bad JSON'), null); return; }
        if (!Array.isArray(msgs)) msgs = [msgs];
        for (const m of msgs) if (m && typeof m === 'object') this.onMessage(m);
    }

    onMessage(m) {
        const d = typeof m.doc === 'string' ? this.docs.get(m.doc) : null;
        switch (m.type) {
        case 'welcome':
            this.user = m.user || null;
            this.limits = m.limits || null;
            this.attempts = 0;
            for (const doc of this.docs.values()) if (doc.ot) doc.ot.maxBytes = this.maxOpBytes();
            this.setStatus('connected');
            this.emit('welcome', m);
            for (const doc of this.docs.values()) this.send(doc.joinMessage());
            break;
        case 'joined': if (d) d.onJoined(m); break;
        case 'op': if (d) d.onOp(m); break;
        case 'ack': if (d) d.onAck(m); break;
        case 'presence': if (d) d.onPresence(m); break;
        case 'error': this.onError(m, d); break;
        default: break; /* unknown types are ignored: the protocol may grow */
        }
    }

    onError(m, d) {
        const err = new ChorusError(m.code || 'server_error', m.message || m.code);
        const inf = d && d.ot && d.ot.inflight;
        if (!d) { this.emit('error', err, null); return; }
        /* Act first, so that 'error' listeners see the resulting state. */
        if (m.code === 'rate_limited' && inf && m.seq === inf.seq) {
            setTimeout(() => { if (d.ot.inflight === inf) d.sendOp(inf, false); }, this.opts.rateLimitDelay);
        } else if (m.code === 'too_old' || m.code === 'version_ahead' || m.code === 'bad_op') {
            this.fail(d, m.code, m.message);
        } else if (m.code === 'too_large' && inf && m.seq === inf.seq) {
            /* the document would pass its size limit: the edit is dropped */
            this.fail(d, m.code, m.message, true);
        } else if (m.code === 'forbidden' && inf && m.seq === inf.seq) {
            d.readOnly = true; /* a viewer: back to the server's text */
            this.fail(d, m.code, m.message, true);
        } else if (m.code === 'forbidden' && d.joined) {
            d.readOnly = true; /* a viewer's presence was refused */
        } else if ((m.code === 'forbidden' || m.code === 'unauthorized') && !d.joined) {
            d.denied = m.code; /* the join was refused: no role, or not logged in */
        } else if (m.code === 'access_revoked') {
            d.joined = false;  /* the server took the document away */
            d.denied = m.code;
        } else if (m.code === 'server_error') {
            d.scheduleRejoin();
        }
        this.emit('error', err, d);
        d.emit('error', err);
    }

    /* Our state for 'd' cannot continue from where it is: rejoin from the
     * server's full text and move the unacknowledged edits onto it (see
     * Doc.rebase). Nothing typed is dropped, unless 'discard' (the server
     * refused our edits: we are a viewer). */
    fail(d, code, message, discard = false) {
        if (d.resyncing) { d.discard = d.discard || discard; return; }
        this.emit('error', new ChorusError(code, message), d);
        d.resyncing = true;
        d.discard = discard;
        d.joined = false;
        this.send({ type: 'leave', doc: d.id });
        this.send(d.joinMessage()); /* no version while resyncing */
    }
}
