/* outbox.js -- edits not yet acknowledged, kept in IndexedDB so that they
 * survive a reload or a closed tab and are resent on the next visit.
 *
 * One record per (document, client id): the server version the edits are
 * based on, the op in flight with its seq, and the edits typed behind it
 * (not yet given a seq). It is written as ops are made and sent (Doc's
 * 'unsent' event), and removed once everything is acknowledged. When the
 * socket drops with edits pending, the server's text at that version is
 * kept too ('base'), so a page reloaded offline can show them. The record
 * keeps the client id and seq: resent under them, an op the server already
 * committed is recognised (acked again), never applied twice. Invariant:
 * a stored record describes the unacknowledged edits of some moment of its
 * Doc, consistently (version, inflight, buffer of that moment). Without an
 * IndexedDB (node, a private window refusing it) nothing is kept and every
 * call succeeds doing nothing. */
import { normalize } from './ops.js';

/** @typedef {import('./ops.js').Op} Op */
/** @typedef {import('./doc.js').Doc} Doc */

/** What is kept of one document's unacknowledged edits.
 * @typedef {{doc: string, client: string, version: number, seq: number,
 *     inflight: Op, buffer: Op | null, updated: number}} OutboxRecord */

/** The server's text at a version, kept for a page reloaded offline.
 * @typedef {{doc: string, client: string, version: number, text: string}} OutboxBase */

const DB_VERSION = 1;

/** @param {IDBRequest} req @returns {Promise<any>} */
function done(req) {
    return new Promise((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
    });
}

/** The record of 'd' now, or null when everything is acknowledged.
 * @param {Doc} d
 * @returns {OutboxRecord | null} */
export function recordOf(d) {
    const ot = d.ot;
    if (!ot || !ot.inflight) return null;
    return {
        doc: d.id, client: d.conn.clientId, version: ot.version, seq: ot.inflight.seq,
        inflight: ot.inflight.op, buffer: ot.buffer, updated: Date.now(),
    };
}

/** Check a record read back from storage (it may be from an older page or
 * damaged): returns it with normalized ops, or null when unusable.
 * @param {any} r
 * @returns {OutboxRecord | null} */
export function checkRecord(r) {
    if (!r || typeof r !== 'object' || typeof r.doc !== 'string' || typeof r.client !== 'string') return null;
    if (!Number.isSafeInteger(r.version) || r.version < 0 || !Number.isSafeInteger(r.seq) || r.seq < 1) return null;
    try {
        const inflight = normalize(r.inflight);
        const buffer = r.buffer ? normalize(r.buffer) : null;
        if (!inflight.length) return null;
        return { ...r, inflight, buffer: buffer && buffer.length ? buffer : null };
    } catch { return null; }
}

/** The IndexedDB store of unacknowledged edits (see the file comment). */
export class Outbox {
    /** @param {IDBFactory | null | undefined} idb e.g. globalThis.indexedDB;
     * none: nothing is kept @param {string} [name] the database name */
    constructor(idb, name = 'chorus-outbox') {
        this.idb = idb || null;
        this.name = name;
        /** @type {Promise<IDBDatabase | null> | null} */
        this.dbp = null;
        /** @type {Map<string, Writer>} */
        this.writers = new Map();
    }

    /** True when edits are kept (an IndexedDB could be opened). */
    async available() { return (await this.db()) !== null; }

    /** @returns {Promise<IDBDatabase | null>} null when there is none */
    db() {
        if (!this.dbp) {
            const idb = this.idb;
            this.dbp = !idb ? Promise.resolve(null) : new Promise((resolve) => {
                let req;
                try { req = idb.open(this.name, DB_VERSION); } catch { resolve(null); return; }
                req.onupgradeneeded = () => {
                    const db = req.result;
                    if (!db.objectStoreNames.contains('pending')) db.createObjectStore('pending', { keyPath: ['doc', 'client'] });
                    if (!db.objectStoreNames.contains('base')) db.createObjectStore('base', { keyPath: ['doc', 'client'] });
                };
                req.onsuccess = () => resolve(req.result);
                req.onerror = () => resolve(null);
                req.onblocked = () => resolve(null);
            });
        }
        return this.dbp;
    }

    /** Run 'fn' on the object store 'store' in one transaction; resolves
     * with its result once the transaction committed (undefined without a
     * database). Rejects when the transaction fails.
     * @param {'pending' | 'base'} store
     * @param {'readonly' | 'readwrite'} mode
     * @param {(s: IDBObjectStore) => IDBRequest | void} fn
     * @returns {Promise<any>} */
    async tx(store, mode, fn) {
        const db = await this.db();
        if (!db) return undefined;
        const t = db.transaction(store, mode);
        const req = fn(t.objectStore(store));
        const result = req ? done(req) : Promise.resolve(undefined);
        await new Promise((resolve, reject) => {
            t.oncomplete = () => resolve(undefined);
            t.onerror = () => reject(t.error);
            t.onabort = () => reject(t.error);
        });
        return result;
    }

    /** Every usable record of document 'doc' (one per client id), [] when
     * none or without a database.
     * @param {string} doc
     * @returns {Promise<OutboxRecord[]>} */
    async records(doc) {
        const range = globalThis.IDBKeyRange ? IDBKeyRange.bound([doc, ''], [doc, '\uffff']) : null;
        if (!range) return [];
        const all = await this.tx('pending', 'readonly', (s) => s.getAll(range));
        return (all || []).map(checkRecord).filter((/** @type {OutboxRecord | null} */ r) => r !== null);
    }

    /** The kept server text of (doc, client) at 'version', or null.
     * @param {string} doc @param {string} client @param {number} version
     * @returns {Promise<string | null>} */
    async base(doc, client, version) {
        const b = await this.tx('base', 'readonly', (s) => s.get([doc, client]));
        return b && b.version === version && typeof b.text === 'string' ? b.text : null;
    }

    /** @param {OutboxRecord} rec */
    async put(rec) { await this.tx('pending', 'readwrite', (s) => s.put(rec)); }

    /** @param {OutboxBase} base */
    async putBase(base) { await this.tx('base', 'readwrite', (s) => s.put(base)); }

    /** Drop what is kept of (doc, client).
     * @param {string} doc @param {string} client */
    async remove(doc, client) {
        await this.tx('pending', 'readwrite', (s) => s.delete([doc, client]));
        await this.tx('base', 'readwrite', (s) => s.delete([doc, client]));
    }

    /** Keep 'd's unacknowledged edits from now on: written on every
     * 'unsent' event (coalesced: one write at a time, the newest state
     * next), the base text when the socket drops with edits pending or
     * when edits are made while it is down.
     * Returns the Writer (hold() stops writing).
     * @param {Doc} d
     * @returns {Writer} */
    track(d) {
        const w = new Writer(this, d);
        this.writers.set(d.id, w);
        d.on('unsent', () => w.want(recordOf(d)));
        d.conn.on('status', (/** @type {string} */ s) => { if (s !== 'connected') w.keepBase(); });
        return w;
    }
}

/** Writes one Doc's record, one IndexedDB write at a time. */
export class Writer {
    /** @param {Outbox} box @param {Doc} d */
    constructor(box, d) {
        this.box = box;
        this.doc = d;
        /** @type {OutboxRecord | null | undefined} the state to write next (null: remove) */
        this.next = undefined;
        this.busy = false;
        this.held = false;
        this.baseVersion = -1; /* the version of the base text kept */
        /** @type {Promise<void>} */
        this.flushed = Promise.resolve();
    }

    /** True when the newest state is written (nothing waits or runs). */
    get idle() { return !this.busy && this.next === undefined; }

    /** Stop writing (the record stays as it is until remove()). */
    hold() { this.held = true; this.next = undefined; }

    /** @param {OutboxRecord | null} rec */
    want(rec) {
        if (this.held) return;
        this.next = rec;
        if (!rec) this.baseVersion = -1;
        else if (this.doc.conn.status !== 'connected') this.keepBase(); /* typed offline */
        if (!this.busy) this.flushed = this.flush();
    }

    /** Keep the server text the edits are based on (the socket dropped). */
    keepBase() {
        const d = this.doc;
        const rec = recordOf(d);
        if (this.held || !rec || this.baseVersion === rec.version) return;
        this.baseVersion = rec.version;
        const base = { doc: d.id, client: rec.client, version: rec.version, text: d.base };
        this.box.putBase(base).catch(() => { this.baseVersion = -1; });
    }

    async flush() {
        this.busy = true;
        while (this.next !== undefined) {
            const rec = this.next;
            this.next = undefined;
            try {
                if (rec) await this.box.put(rec);
                else await this.box.remove(this.doc.id, this.doc.conn.clientId);
            } catch { /* full or refused: the edits still live in the page */ }
        }
        this.busy = false;
    }
}
