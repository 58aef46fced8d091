/* otclient.js -- the client side of OT against one server-ordered document.
 *
 * At most one op is in flight; edits made meanwhile are composed into one
 * buffer op, sent when the ack comes (this is the keystroke batching).
 * Invariant: applying inflight then buffer to the server's text at
 * 'version' gives the local text. Pure: the caller sends what it returns
 * and applies what it is given; no sockets, no timers. */
import { ChorusError } from './error.js';
import { LEFT, RIGHT, compose, splitOp, transform } from './ops.js';

/** @typedef {import('./ops.js').Op} Op */

/** An op handed out to be sent: 'seq' is set by the caller, 'version' is
 * the server version it is based on (updated when it is resent).
 * @typedef {{op: Op, version: number, seq: number}} Outgoing */

/** The client side of OT against one server-ordered document: synchronized
 * (nothing unacknowledged), awaiting (one op in flight), or awaiting with a
 * buffer (edits made while an op is in flight, composed into one op that is
 * sent when the ack comes: this is how keystrokes are batched). Pure: the
 * caller sends what it returns and applies what it is given. */
export class OTClient {
    /**
     * @param {number} [version] the server version the local text is at
     * @param {number} [maxBytes] the largest wire op to send at once
     */
    constructor(version = 0, maxBytes = Infinity) {
        this.version = version;  /* server version the text is based on */
        /** @type {Outgoing | null} sent, not acked */
        this.inflight = null;
        /** @type {Op | null} composed behind the inflight one */
        this.buffer = null;
        this.maxBytes = maxBytes; /* largest wire op to send at once */
    }

    /** 'synchronized', 'awaiting' or 'buffering'.
     * @returns {'synchronized' | 'awaiting' | 'buffering'} */
    get state() {
        return this.inflight ? (this.buffer ? 'buffering' : 'awaiting') : 'synchronized';
    }

    /** A local edit 'op' was applied to the local text. Returns the op to
     * send now ({op, version}), or null when it joined the buffer. The
     * caller sets .seq on the returned object before sending it.
     * Throws ChorusError OT_ELEN when the buffer would grow too long.
     * @param {Op} op
     * @returns {Outgoing | null} */
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
     * not yet acknowledged. Throws ChorusError OT_ELEN (state unchanged
     * but for the version) when a transform result spans too much.
     * @param {Op} op
     * @returns {Op} */
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
     * next op to send (the buffer, as for local()) or null. Throws
     * ChorusError bad_state when nothing is in flight.
     * @param {number} version
     * @returns {Outgoing | null} */
    ack(version) {
        if (!this.inflight) throw new ChorusError('bad_state', 'ack with nothing in flight');
        this.version = Math.max(this.version + 1, version);
        this.inflight = null;
        const b = this.buffer;
        this.buffer = null;
        return b ? this.local(b) : null;
    }

    /** Every unacknowledged edit as one op (on the server's text), or [].
     * @returns {Op} */
    pending() {
        if (!this.inflight) return [];
        return this.buffer ? compose(this.inflight.op, this.buffer) : this.inflight.op;
    }
}

