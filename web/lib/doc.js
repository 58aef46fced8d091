/* doc.js -- one document joined over chorus.v1: text, OT state, presence.
 *
 * A Doc is made by Connection.open() and driven by it: the connection hands
 * it the server's messages about the document (onJoined, onOp, onAck,
 * onPresence) and tells it when the socket drops. See docs/web.md. */
import { ChorusError } from './error.js';
import { Emitter } from './emitter.js';
import { colorFor } from './ids.js';
import { LEFT, RIGHT, apply, diff, normalize, transform, transformPos, untransformPos } from './ops.js';
import { OTClient } from './otclient.js';
import { cpLength } from './text.js';

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

export function mapCursor(c, op, side) {
    return { anchor: transformPos(c.anchor, op, side), head: transformPos(c.head, op, side) };
}

