/* connection.js -- one WebSocket to a Chorus server, shared by every open
 * document, kept up by reconnecting with exponential backoff and jitter.
 *
 * It speaks the connection-level part of chorus.v1 (hello, welcome, frames
 * of one message or an array of them, errors) and routes the messages about
 * a document to its Doc. The WebSocket constructor, storage and randomness
 * are options, so node tests drive it against a fake server. */
import { Doc } from './doc.js';
import { ChorusError } from './error.js';
import { Emitter } from './emitter.js';
import { randomId } from './ids.js';

/** @typedef {import('./ids.js').KeyValueStorage} KeyValueStorage */

/** The part of a WebSocket the connection uses.
 * @typedef {{readyState: number, send(data: string): void, close(code?: number): void,
 *     onopen: ((ev?: any) => void) | null, onmessage: ((ev: {data: any}) => void) | null,
 *     onclose: ((ev?: {code?: number}) => void) | null, onerror: ((ev?: any) => void) | null}} SocketLike */

/** A WebSocket constructor (the global one, or a test's fake).
 * @typedef {new (url: string, protocol: string) => SocketLike} SocketClass */

/** Connection options: see the class comment.
 * @typedef {{url: string, clientId?: string, name?: string, token?: string,
 *     WebSocket?: SocketClass, storage?: KeyValueStorage | null, random?: () => number,
 *     backoffMin?: number, backoffMax?: number, offlineAfter?: number,
 *     presenceDelay?: number, rateLimitDelay?: number}} ConnectionOptions */

/** @typedef {'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed'} Status */

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
    /** Connects at once (the constructor starts the first attempt).
     * @param {ConnectionOptions} opts */
    constructor(opts) {
        super();
        this.opts = { ...DEFAULTS, ...opts };
        this.url = opts.url;
        this.clientId = opts.clientId || randomId();
        this.name = opts.name || '';
        /** @type {SocketClass} */
        this.WS = opts.WebSocket || /** @type {any} */ (globalThis).WebSocket;
        this.storage = opts.storage || null;
        this.random = opts.random || Math.random;
        /** @type {Map<string, Doc>} open documents by id */
        this.docs = new Map();
        /** @type {SocketLike | null} */
        this.ws = null;
        /** @type {Status} */
        this.status = 'connecting';
        /** @type {any} the user from welcome */
        this.user = null;
        /** @type {any} the limits from welcome */
        this.limits = null;
        this.attempts = 0;
        /** @type {ReturnType<typeof setTimeout> | undefined} */
        this.timer = undefined;
        this.closed = false;
        const stored = this.storage ? Number(this.storage.getItem('chorus.seq.' + this.clientId)) : 0;
        this.seq = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
        this.connect();
    }

    /** Open (join) document 'id'; returns its Doc (the same one if open).
     * opts.share: a share link's token, sent with every join (team mode).
     * opts.restore: edits kept from an earlier page and the text they were
     * made on (see Doc.restore), taken back before the first join; throws
     * what Doc.restore throws (and opens nothing) when they do not fit.
     * @param {string} id
     * @param {{share?: string, restore?: {rec: {version: number, seq: number,
     *     inflight: import('./ops.js').Op, buffer: import('./ops.js').Op | null}, base: string}}} [opts]
     * @returns {Doc} owned by the connection until its leave() */
    open(id, opts = {}) {
        let d = this.docs.get(id);
        if (d) return d;
        d = new Doc(this, id);
        if (opts.restore) d.restore(opts.restore.rec, opts.restore.base);
        if (typeof opts.share === 'string' && opts.share) d.share = opts.share;
        this.docs.set(id, d);
        if (this.status === 'connected') this.send(d.joinMessage());
        return d;
    }

    /** Change the name others see. The protocol carries it in hello, so the
     * connection is renewed (edits in flight are resent as on any drop).
     * @param {string} name */
    setName(name) {
        this.name = name;
        if (this.ws && this.status === 'connected') this.restart();
    }

    /** Close for good (no reconnect). */
    close() {
        this.closed = true;
        clearTimeout(this.timer);
        for (const d of this.docs.values()) if (d.rejoinTimer) clearTimeout(d.rejoinTimer);
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
     * (from welcome) less room for the envelope, or Infinity.
     * @returns {number} */
    maxOpBytes() {
        const m = this.limits && Number(this.limits.max_message);
        return m > 0 ? Math.max(256, Math.floor(m * 0.9) - 512) : Infinity;
    }

    /** The next op seq: increasing, and kept in 'storage' so a reload that
     * reuses the client id never reuses a seq the server may have seen.
     * @returns {number} */
    nextSeq() {
        this.seq++;
        if (this.storage) this.storage.setItem('chorus.seq.' + this.clientId, String(this.seq));
        return this.seq;
    }

    /** An op kept from an earlier page used seq 'seq' of this client id:
     * later ones must be higher.
     * @param {number} seq */
    noteSeq(seq) {
        if (seq <= this.seq) return;
        this.seq = seq;
        if (this.storage) this.storage.setItem('chorus.seq.' + this.clientId, String(this.seq));
    }

    /** Send 'msg' as JSON now; false (nothing sent) when not open.
     * @param {object} msg
     * @returns {boolean} */
    send(msg) {
        if (!this.ws || this.ws.readyState !== 1) return false;
        this.ws.send(JSON.stringify(msg));
        return true;
    }

    /** @param {Status} s */
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
            /** @type {{type: string, client: string, name?: string, token?: string}} */
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

    /** @param {SocketLike | null} ws @param {number} [code] */
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

    /** A frame holds one message or an array of them, handled in order.
     * @param {string} data */
    onFrame(data) {
        let msgs;
        try { msgs = JSON.parse(data); } catch { this.emit('error', new ChorusError('bad_json', 'server sent bad JSON'), null); return; }
        if (!Array.isArray(msgs)) msgs = [msgs];
        for (const m of msgs) if (m && typeof m === 'object') this.onMessage(m);
    }

    /** @param {any} m one server message */
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
        case 'title': if (d && typeof m.title === 'string') d.emit('title', m.title); break;
        default: break; /* unknown types are ignored: the protocol may grow */
        }
    }

    /** @param {any} m an 'error' message @param {Doc | null | undefined} d */
    onError(m, d) {
        const err = new ChorusError(m.code || 'server_error', m.message || m.code);
        const inf = d && d.ot && d.ot.inflight;
        if (!d) { this.emit('error', err, null); return; }
        /* Act first, so that 'error' listeners see the resulting state. */
        if (m.code === 'rate_limited' && inf && m.seq === inf.seq) {
            setTimeout(() => { if (d.ot && d.ot.inflight === inf) d.sendOp(inf, false); }, this.opts.rateLimitDelay);
        } else if (m.code === 'too_old' || m.code === 'version_ahead' || m.code === 'bad_op') {
            /* Edits restored from storage that the server cannot take from
             * where they were made: moving them onto today's text under a
             * new seq could apply one the server already has a second time,
             * so they are dropped here and the page offers them as text. */
            this.fail(d, m.code, m.message, d.restored);
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
        } else if (m.code === 'access_revoked' || m.code === 'doc_trashed') {
            d.onRevoked();     /* the server took the document away */
            d.denied = m.code;
        } else if (m.code === 'server_error') {
            d.scheduleRejoin();
        }
        this.emit('error', err, d);
        d.emit('error', err);
    }

    /** Our state for 'd' cannot continue from where it is: rejoin from the
     * server's full text and move the unacknowledged edits onto it (see
     * Doc.rebase). Nothing typed is dropped, unless 'discard' (the server
     * refused our edits: we are a viewer).
     * @param {Doc} d
     * @param {string} code
     * @param {string} [message]
     * @param {boolean} [discard] */
    fail(d, code, message, discard = false) {
        if (d.resyncing) { d.startResync(discard); return; }
        this.emit('error', new ChorusError(code, message), d);
        d.startResync(discard);
        this.send({ type: 'leave', doc: d.id });
        this.send(d.joinMessage()); /* no version while resyncing */
    }
}
