/* ids.js -- client ids and the colours derived from them.
 *
 * A client id names one page (tab) to the server, which deduplicates ops on
 * (client id, seq): so two open tabs must never share an id, while a reload
 * should keep its own. claimClientId() keeps ids in localStorage and holds
 * a Web Lock per id for the page's life to make both true. */

/** The part of Web Storage (localStorage) the library uses.
 * @typedef {{getItem(key: string): string | null, setItem(key: string, value: string): void}} KeyValueStorage */

/** The part of the Web Locks API (navigator.locks) claimClientId uses.
 * @typedef {{request(name: string, options: {ifAvailable: boolean},
 *     callback: (lock: unknown) => unknown): Promise<unknown>}} LockManagerLike */

/** A random client id (URL-safe, 22 characters, 132 random bits).
 * @returns {string} */
export function randomId() {
    const b = new Uint8Array(22);
    globalThis.crypto.getRandomValues(b);
    let s = '';
    for (const x of b) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[x & 63];
    return s;
}

/** A stable colour for 'id' when the server gave none.
 * @param {string} id
 * @returns {string} a CSS colour */
export function colorFor(id) {
    let h = 0;
    for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
    return `hsl(${h % 360} 70% 45%)`;
}

/** Pick this page's client id: ids live in 'storage' (localStorage) so a
 * reload reuses one, and a Web Lock per id keeps two open tabs from sharing
 * one. Resolves to the id (never rejects on bad stored data: it is
 * ignored). Without locks, the first stored id is used. 'prefer': ids to
 * try first (those with edits kept in the outbox for this page's
 * document), taken only if no live page holds them.
 * @param {KeyValueStorage} storage
 * @param {LockManagerLike | null | undefined} locks
 * @param {string[]} [prefer]
 * @returns {Promise<string>} */
export async function claimClientId(storage, locks, prefer = []) {
    /** @type {unknown} */
    let stored = [];
    try { stored = JSON.parse(storage.getItem('chorus.clients') || '[]'); } catch { stored = []; }
    /** @type {string[]} */
    let ids = Array.isArray(stored) ? stored : [];
    ids = ids.filter((x) => typeof x === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(x));
    const ok = prefer.filter((x) => ids.includes(x));
    ids = [...ok, ...ids.filter((x) => !ok.includes(x))];
    if (!locks) {
        if (!ids.length) { ids.push(randomId()); storage.setItem('chorus.clients', JSON.stringify(ids)); }
        return ids[0];
    }
    const lm = locks;
    /** @param {string} id @returns {Promise<boolean>} */
    const hold = (id) => new Promise((resolve) => {
        lm.request('chorus.client.' + id, { ifAvailable: true }, (lock) => {
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
