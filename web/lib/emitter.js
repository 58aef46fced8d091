/* emitter.js -- the minimal event emitter Connection and Doc extend.
 *
 * A listener that throws does not stop the others nor the emitter: its
 * error is rethrown from a timer, where the page (or node) reports it.
 * Listeners run in the order they were added, on a copy of the set, so one
 * may unsubscribe itself or another while an event is being emitted. */

/** A minimal event emitter: on() returns a function that unsubscribes. */
export class Emitter {
    constructor() {
        /** @type {Map<string, Set<(...args: any[]) => void>>} */
        this.handlers = new Map();
    }

    /** Call 'fn' on every 'ev' from now on. Returns the unsubscriber.
     * @param {string} ev
     * @param {(...args: any[]) => void} fn
     * @returns {() => boolean} */
    on(ev, fn) {
        let set = this.handlers.get(ev);
        if (!set) { set = new Set(); this.handlers.set(ev, set); }
        set.add(fn);
        const s = set;
        return () => s.delete(fn);
    }

    /** Call every listener of 'ev' with 'args' (synchronously).
     * @param {string} ev
     * @param {...any} args */
    emit(ev, ...args) {
        for (const fn of [...(this.handlers.get(ev) || [])]) {
            try { fn(...args); } catch (e) { setTimeout(() => { throw e; }); }
        }
    }
}
