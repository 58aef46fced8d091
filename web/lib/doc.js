/* doc.js -- one document joined over chorus.v1: text, OT state, presence.
 *
 * Made by Connection.open() and driven by it (onJoined, onOp, onAck,
 * onPresence, onDisconnect). Where the document stands with the server is
 * one explicit state (DocState; allowed moves in TRANSITIONS); readOnly,
 * denied and presenceStale are not lifecycle and stay apart. Invariant:
 * this.base is the server's text at this.ot.version, and applying
 * this.ot.pending() to it gives this.text; textIx and baseIx are their
 * code point indexes (textindex.js), so that an op on a big text costs
 * what it changes, not the text's length. */
import { ChorusError } from './error.js';
import { Emitter } from './emitter.js';
import { colorFor } from './ids.js';
import { LEFT, RIGHT, apply, diff, normalize, transform, transformPos, untransformPos } from './ops.js';
import { OTClient } from './otclient.js';
import { TextIndex, applyIndexed } from './textindex.js';

/** @typedef {import('./ops.js').Op} Op */
/** @typedef {import('./ops.js').Side} Side */
/** @typedef {import('./otclient.js').Outgoing} Outgoing */
/** @typedef {import('./connection.js').Connection} Connection */

/** A selection in code points of the text: anchor (where it started) and
 * head (where the caret is).
 * @typedef {{anchor: number, head: number}} Cursor */

/** Another client present on the document.
 * @typedef {{client: string, name: string, color: string, cursor: Cursor | null}} Peer */

/** Where a Doc stands with the server. Transitions (TRANSITIONS below):
 * - DETACHED: not joined on the current socket (the initial state; a join
 *   is sent on every welcome, with our version once ready). -> JOINED on
 *   'joined'; -> REJOINING when the rejoin after a server_error is sent.
 * - JOINED: joined on the current socket; ops and presence flow. ->
 *   DETACHED when the socket drops, on server_error (the server dropped our
 *   join) or access_revoked.
 * - REJOINING: a join with our version was sent after a server_error; its
 *   catch-up may repeat ops we have, which are skipped. -> JOINED, or
 *   DETACHED when the socket drops.
 * - RESYNCING: our state cannot continue (too_old, a broken catch-up...):
 *   a join without version was sent and everything but its full text is
 *   ignored; the socket dropping does not end it. -> JOINED on the text,
 *   with the unacknowledged edits moved onto it (rebase).
 * - DISCARDING: as RESYNCING, but the unacknowledged edits are dropped (the
 *   server refused them: forbidden as a viewer, too_large).
 * - LEFT: leave() was called. Terminal: nothing is sent any more.
 * Any state but LEFT goes to RESYNCING or DISCARDING (Connection.fail), and
 * any to LEFT. Whether a first join ever succeeded is 'ready' (this.ot). */
export const DocState = Object.freeze({
    DETACHED: 'detached',
    JOINED: 'joined',
    REJOINING: 'rejoining',
    RESYNCING: 'resyncing',
    DISCARDING: 'discarding',
    LEFT: 'left',
});

/** @typedef {'detached' | 'joined' | 'rejoining' | 'resyncing' | 'discarding' | 'left'} DocStateName */

/** The states each state may move to (a move to the same state is none).
 * @type {Readonly<Record<DocStateName, readonly DocStateName[]>>} */
export const TRANSITIONS = Object.freeze({
    detached: ['joined', 'rejoining', 'resyncing', 'discarding', 'left'],
    joined: ['detached', 'resyncing', 'discarding', 'left'],
    rejoining: ['joined', 'detached', 'resyncing', 'discarding', 'left'],
    resyncing: ['joined', 'discarding', 'left'],
    discarding: ['joined', 'left'],
    left: [],
});

/** One joined document: its text (with local edits applied), the server
 * version, the OT state and the other clients present. Made by
 * Connection.open(); events: 'ready' (joined: text is the server's),
 * 'change' (op, info) after the text changed (info.remote, info.client,
 * info.user), 'presence' (peers), 'saved' (bool), 'title' (the new title,
 * someone renamed it), 'error' (ChorusError),
 * 'reset' (the local state was replaced by the server's), 'unsent' (the
 * unacknowledged edits changed: a local edit, an ack, a rebase; see
 * outbox.js, which keeps them). */
export class Doc extends Emitter {
    /**
     * @param {Connection} conn the connection that owns this Doc
     * @param {string} id the document id
     */
    constructor(conn, id) {
        super();
        this.conn = conn;
        this.id = id;
        /** @type {DocStateName} see DocState */
        this.state = DocState.DETACHED;
        this.text = '';
        this.base = '';          /* the server's text at ot.version */
        this.textIx = new TextIndex();
        this.baseIx = new TextIndex();
        /** @type {OTClient | null} set by the first join, never unset */
        this.ot = null;
        /** @type {Map<string, Peer>} client -> peer */
        this.peers = new Map();
        /** @type {Cursor | null} own selection in code points */
        this.cursor = null;
        /** @type {ReturnType<typeof setTimeout> | null} */
        this.presenceTimer = null;
        this.presenceStale = false; /* the cursor sent was mapped back: resend when saved */
        this.readOnly = false;   /* the server refused our edits (a viewer) */
        /** @type {string | null} share link token for joins */
        this.share = null;
        /** @type {string | null} 'forbidden' | 'unauthorized' when a join was
         * refused, 'access_revoked' when the server took it away */
        this.denied = null;
        this.errorAttempts = 0;  /* server_errors since the last ack (backoff) */
        /** @type {ReturnType<typeof setTimeout> | null} */
        this.rejoinTimer = null;
        /** True from restore() until a join succeeds: the edits came from
         * storage and may not apply any more (see Connection.onError). */
        this.restored = false;
    }

    /** Move to state 'next'. Throws ChorusError bad_state (and changes
     * nothing) when TRANSITIONS does not allow it: a bug, never input.
     * @param {DocStateName} next */
    to(next) {
        if (next === this.state) return;
        if (!TRANSITIONS[this.state].includes(next))
            throw new ChorusError('bad_state', `doc ${this.state} -> ${next}`);
        this.state = next;
    }

    /** True once a first join succeeded (the text is the server's). */
    get ready() { return this.ot !== null; }
    /** True when joined on the current socket. */
    get joined() { return this.state === DocState.JOINED; }
    /** True while waiting for a full text (RESYNCING or DISCARDING). */
    get resyncing() { return this.state === DocState.RESYNCING || this.state === DocState.DISCARDING; }
    /** True after leave(). */
    get left() { return this.state === DocState.LEFT; }

    /** The server version the text is based on (0 before the first join). */
    get version() { return this.ot ? this.ot.version : 0; }

    /** True when every local edit has been acknowledged by the server. */
    get saved() { return !this.ot || !this.ot.inflight; }

    /** The OT client; only called where the document is ready. */
    get client() {
        if (!this.ot) throw new ChorusError('not_ready', 'the document is not joined yet');
        return this.ot;
    }

    /** Apply a local edit 'op' (code points, on this.text). Throws
     * ChorusError (and changes nothing): 'not_ready' before the first join,
     * 'forbidden' when read-only, the OT_E* codes of normalize() and
     * OT_ERANGE when it does not fit the text.
     * @param {unknown} wire the op, in wire form */
    edit(wire) {
        if (!this.ready) throw new ChorusError('not_ready', 'the document is not joined yet');
        if (this.readOnly) throw new ChorusError('forbidden', 'this document is read-only here');
        const op = normalize(wire);
        if (op.length === 0) return;
        const wasSaved = this.saved;
        this.text = applyIndexed(this.text, op, this.textIx);
        for (const p of this.peers.values()) if (p.cursor) p.cursor = mapCursor(p.cursor, op, LEFT);
        if (this.cursor) this.cursor = mapCursor(this.cursor, op, RIGHT);
        const send = this.client.local(op);
        if (send) this.sendOp(send, true);
        this.emit('unsent');
        this.emit('change', op, { remote: false });
        if (wasSaved) this.emit('saved', false);
    }

    /** Set this client's selection ({anchor, head} in code points of
     * this.text, or null) and tell the others, throttled.
     * @param {Cursor | null} cursor borrowed: copied */
    setCursor(cursor) {
        this.cursor = cursor ? { anchor: cursor.anchor, head: cursor.head } : null;
        if (this.presenceTimer) return;
        this.presenceTimer = setTimeout(() => { this.presenceTimer = null; this.sendPresence(); },
            this.conn.opts.presenceDelay);
    }

    /** Leave the document: the server stops sending its messages, and this
     * Doc sends nothing more (state LEFT). */
    leave() {
        this.conn.send({ type: 'leave', doc: this.id });
        this.to(DocState.LEFT);
        this.conn.docs.delete(this.id);
    }

    /** Set base and text at once, indexing them (O(n)).
     * @param {string} base @param {string} text */
    setTexts(base, text) {
        this.base = base;
        this.baseIx.reset(base);
        this.text = text;
        this.textIx.reset(text);
    }

    /** Take back edits kept from an earlier page (outbox.js) before the
     * first join: 'base' is the server's text at rec.version, the op in
     * flight keeps its seq (so the server recognises it if it committed
     * it) and the buffer follows it. The next join asks for the ops since
     * rec.version, as after any reconnect. Throws ChorusError (and changes
     * nothing): bad_state once joined, OT_* when the ops do not fit 'base'.
     * @param {{version: number, seq: number, inflight: Op, buffer: Op | null}} rec
     * @param {string} base */
    restore(rec, base) {
        if (this.ready) throw new ChorusError('bad_state', 'restore after the first join');
        const inflight = normalize(rec.inflight);
        const buffer = rec.buffer ? normalize(rec.buffer) : [];
        const text = apply(apply(base, inflight), buffer);
        const ot = new OTClient(rec.version, this.conn.maxOpBytes());
        ot.inflight = { op: inflight, version: rec.version, seq: rec.seq };
        ot.buffer = buffer.length ? buffer : null;
        this.ot = ot;
        this.setTexts(base, text);
        this.restored = true;
        this.conn.noteSeq(rec.seq);
    }

    /** @param {Outgoing} inf @param {boolean} fresh a new op: give it a seq */
    sendOp(inf, fresh) {
        if (fresh) inf.seq = this.conn.nextSeq();
        if (!this.joined) return; /* resent after the next join */
        inf.version = this.client.version;
        this.conn.send({ type: 'op', doc: this.id, version: inf.version, seq: inf.seq, op: inf.op });
    }

    sendPresence() {
        if (!this.joined || this.readOnly) return;
        let cur = this.cursor;
        const pend = this.client.pending();
        if (cur && pend.length) {
            cur = { anchor: untransformPos(cur.anchor, pend), head: untransformPos(cur.head, pend) };
            this.presenceStale = true;
        }
        this.conn.send({ type: 'presence', doc: this.id, version: this.client.version, cursor: cur });
    }

    /** The join message for this document: with our version when we have
     * a text to continue from, without it (asking for the full text) while
     * resyncing or before the first join.
     * @returns {{type: 'join', doc: string, version?: number, share?: string}} */
    joinMessage() {
        /** @type {{type: 'join', doc: string, version?: number, share?: string}} */
        const m = { type: 'join', doc: this.id };
        if (this.ot && !this.resyncing) m.version = this.ot.version;
        if (this.share) m.share = this.share;
        return m;
    }

    /** Our state cannot continue: wait for a full text (RESYNCING), and
     * drop the unacknowledged edits then if 'discard' (DISCARDING).
     * Returns false when already waiting (a discard is remembered).
     * @param {boolean} discard
     * @returns {boolean} */
    startResync(discard) {
        if (this.resyncing) {
            if (discard) this.to(DocState.DISCARDING);
            return false;
        }
        this.to(discard ? DocState.DISCARDING : DocState.RESYNCING);
        return true;
    }

    /** The server took the document away (access_revoked): no longer joined. */
    onRevoked() {
        if (this.joined) this.to(DocState.DETACHED);
    }

    /* Handlers for server messages about this document. */

    /** @param {any} msg a 'joined' message */
    onJoined(msg) {
        const discard = this.state === DocState.DISCARDING;
        if (this.resyncing && typeof msg.text !== 'string') return; /* a join sent before the failure */
        const first = !this.ready;
        if (typeof msg.text === 'string') {
            if (this.ot) this.rebase(msg.text, msg.version, discard);
            else { this.setTexts(msg.text, msg.text); this.ot = new OTClient(msg.version, this.conn.maxOpBytes()); }
        } else if (typeof msg.version === 'number' && this.ot && msg.version !== this.ot.version) {
            this.conn.fail(this, 'bad_message', 'catch-up ended at an unexpected version');
            return;
        }
        const ot = this.client;
        this.to(DocState.JOINED);
        this.denied = null;
        this.restored = false;
        if (!ot.inflight) this.errorAttempts = 0;
        if (ot.inflight) this.sendOp(ot.inflight, false);
        this.sendPresence();
        if (first) this.emit('ready');
        this.emit('saved', this.saved);
    }

    /** A full text arrived for a document with local state (a rejoin after
     * too_old or a broken catch-up): keep the unacknowledged edits, moved
     * onto the new text, unless 'discard'. They are sent again under a new
     * seq, so the server and this client converge; only if the op in flight
     * had in fact been committed before the drop does its edit appear twice.
     * @param {string} text @param {number} version @param {boolean} discard */
    rebase(text, version, discard) {
        const ot = this.client;
        if (!discard && text === this.base && version === ot.version) return;
        const d = diff(this.base, text);
        const pend = discard ? [] : ot.pending();
        const p2 = transform(pend, d, RIGHT);
        const dl = discard ? diff(this.text, text) : transform(d, pend, LEFT);
        this.setTexts(text, apply(this.text, dl));
        this.ot = new OTClient(version, this.conn.maxOpBytes());
        const sent = p2.length ? this.ot.local(p2) : null;
        if (sent) sent.seq = this.conn.nextSeq();
        for (const p of this.peers.values()) if (p.cursor) p.cursor = mapCursor(p.cursor, dl, LEFT);
        if (this.cursor) this.cursor = mapCursor(this.cursor, dl, LEFT);
        this.emit('unsent');
        this.emit('change', dl, { remote: true, client: null, user: null });
        this.emit('reset');
    }

    /** @param {any} msg an 'op' message */
    onOp(msg) {
        const ot = this.ot;
        if (!ot || this.resyncing) return;
        const inf = ot.inflight;
        if (inf && msg.client === this.conn.clientId && msg.seq === inf.seq) {
            this.onAck(msg); /* our own op, seen in a catch-up */
            return;
        }
        /* A rejoin after server_error while the server still had us joined:
         * its catch-up may repeat ops that reached us meanwhile. */
        if (this.state === DocState.REJOINING && typeof msg.version === 'number' && msg.version <= ot.version) return;
        if (msg.version !== ot.version + 1) {
            this.conn.fail(this, 'bad_message', `op at version ${msg.version}, expected ${ot.version + 1}`);
            return;
        }
        let op, local;
        try { op = normalize(msg.op); } catch (e) { this.conn.fail(this, 'bad_message', errText(e)); return; }
        try {
            this.base = applyIndexed(this.base, op, this.baseIx);
            local = ot.remote(op);
            this.text = applyIndexed(this.text, local, this.textIx);
        } catch (e) {
            /* half done: the indexes may be off; the resync rebuilds them */
            this.conn.fail(this, 'bad_message', errText(e));
            return;
        }
        for (const p of this.peers.values()) {
            if (p.cursor) p.cursor = mapCursor(p.cursor, local, p.client === msg.client ? RIGHT : LEFT);
        }
        if (this.cursor) this.cursor = mapCursor(this.cursor, local, LEFT);
        if (msg.client && msg.user) this.notePeer(msg.client, msg.user);
        this.emit('change', local, { remote: true, client: msg.client, user: msg.user });
    }

    /** @param {any} msg an 'ack' (or our own 'op' seen in a catch-up) */
    onAck(msg) {
        const ot = this.ot;
        if (!ot || this.resyncing || !ot.inflight || msg.seq !== ot.inflight.seq) return;
        this.errorAttempts = 0;
        this.base = applyIndexed(this.base, ot.inflight.op, this.baseIx);
        const next = ot.ack(msg.version);
        if (next) this.sendOp(next, true);
        this.emit('unsent');
        if (this.saved) {
            if (this.presenceStale) { this.presenceStale = false; this.sendPresence(); }
            this.emit('saved', true);
        }
    }

    /** A presence with left:true means the client left; cursor null without
     * it means present without a cursor (listed, no caret drawn).
     * @param {any} msg a 'presence' message */
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
        const len = this.textIx.cpLength;
        cur = { anchor: Math.min(cur.anchor, len), head: Math.min(cur.head, len) };
        const p = this.notePeer(msg.client, msg.user);
        p.cursor = cur;
        this.emit('presence', this.peers);
    }

    /** The peer 'client' (made on first sight), its name and colour updated
     * from 'user' when it carries them.
     * @param {string} client
     * @param {any} user
     * @returns {Peer} */
    notePeer(client, user) {
        let p = this.peers.get(client);
        if (!p) { p = { client, name: '', color: '', cursor: null }; this.peers.set(client, p); }
        if (user && typeof user.name === 'string') p.name = user.name;
        p.color = (user && typeof user.color === 'string' && user.color) || p.color || colorFor(client);
        return p;
    }

    /** The server dropped our join (server_error naming this document: it
     * could not load it or commit to it). Rejoin with our version after a
     * backoff; onJoined then resends the op in flight with its same seq, so
     * it is applied exactly once. */
    scheduleRejoin() {
        if (this.joined) this.to(DocState.DETACHED);
        this.errorAttempts++;
        const o = this.conn.opts;
        const exp = Math.min(o.backoffMax, o.backoffMin * 2 ** (this.errorAttempts - 1));
        if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
        this.rejoinTimer = setTimeout(() => {
            this.rejoinTimer = null;
            if (this.joined || this.left || this.conn.status !== 'connected') return;
            if (this.state === DocState.DETACHED) this.to(DocState.REJOINING);
            this.conn.send(this.joinMessage());
        }, Math.round(exp * (0.5 + this.conn.random() / 2)));
    }

    /** The socket dropped: no longer joined (a resync goes on). */
    onDisconnect() {
        if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
        this.rejoinTimer = null;
        if (this.joined || this.state === DocState.REJOINING) this.to(DocState.DETACHED);
        if (this.peers.size) { this.peers.clear(); this.emit('presence', this.peers); }
    }
}

/** A selection moved over 'op'.
 * @param {Cursor} c
 * @param {Op} op
 * @param {Side} side
 * @returns {Cursor} */
export function mapCursor(c, op, side) {
    return { anchor: transformPos(c.anchor, op, side), head: transformPos(c.head, op, side) };
}

/** @param {unknown} e @returns {string} */
function errText(e) {
    return e instanceof Error ? e.message : String(e);
}
