/* overlay.js -- the layer under the editor's textarea where the others'
 * carets and selections are drawn, kept cheap on big documents.
 *
 * It holds the same text as the textarea (transparent, same font and
 * wrapping) so that marks land under the right glyphs, cut into blocks of
 * BLOCK_LINES whole lines, one <div> each: an edit replaces only the
 * blocks it touched, and drawing a caret re-renders only the blocks that
 * hold a mark, so the browser lays out those again and reuses the layout
 * of every other block (a block per line would be a DOM node per line).
 * Built on the first draw with a mark (a page alone never lays it out).
 * Invariant, once built: the blocks' texts joined by "\n" are the text the
 * editor shows (its 'shown'); a block ending in an empty line, or empty,
 * carries a zero-width space so that the line has its height. */

const BLOCK_LINES = 64;

/** A mark: a selection [from, to) and a caret at 'head', UTF-16 indices.
 * @typedef {{from: number, to: number, head: number, color: string, caret: () => HTMLElement}} Mark */

export class Mirror {
    /** @param {HTMLElement} root the element the blocks go in */
    constructor(root) {
        this.root = root;
        this.built = false;
        /** @type {number[]} UTF-16 length of each block's text (no "\n" between blocks) */
        this.lens = [];
        /** @type {HTMLElement[]} */
        this.els = [];
        /** @type {Set<HTMLElement>} blocks drawn with marks */
        this.marked = new Set();
    }

    /** Forget the blocks (the next draw builds them again). */
    drop() {
        this.root.replaceChildren();
        this.built = false;
        this.lens = [];
        this.els = [];
        this.marked.clear();
    }

    /** @param {string} text @param {number} a @param {number} b
     * @param {number[]} lens @param {HTMLElement[]} els */
    blocks(text, a, b, lens, els) {
        for (;;) {
            let e = a;
            for (let n = 0; n < BLOCK_LINES; n++) {
                const nl = text.indexOf('\n', e);
                if (nl < 0 || nl >= b) { e = b; break; }
                e = nl + (n + 1 < BLOCK_LINES ? 1 : 0);
            }
            if (e > b) e = b;
            lens.push(e - a);
            els.push(plain(document.createElement('div'), text.slice(a, e)));
            if (e >= b) break;
            a = e + 1; /* past the "\n" between blocks */
        }
    }

    /** Build the blocks of 'text' (O(n), once). @param {string} text */
    build(text) {
        this.lens = [];
        this.els = [];
        this.marked.clear();
        this.blocks(text, 0, text.length, this.lens, this.els);
        this.root.replaceChildren(...this.els);
        this.built = true;
    }

    /** Index of the block holding UTF-16 index 'i' (a block's end counts
     * as in it) and that block's start.
     * @param {number} i @returns {[number, number]} */
    find(i) {
        let k = 0, start = 0;
        while (k < this.lens.length - 1 && start + this.lens[k] < i) { start += this.lens[k] + 1; k++; }
        return [k, start];
    }

    /** The text changed ('removed' units at 'at' became 'added' units;
     * 'text' is the new text): rebuild the blocks it touched.
     * @param {string} text @param {number} at @param {number} removed @param {number} added */
    splice(text, at, removed, added) {
        if (!this.built) return;
        const [k0, start] = this.find(at);
        let [k1, s1] = this.find(at + removed);
        const end = s1 + this.lens[k1] + added - removed;
        /** @type {number[]} */ const lens = [];
        /** @type {HTMLElement[]} */ const els = [];
        this.blocks(text, start, end, lens, els);
        for (let k = k0; k <= k1; k++) this.marked.delete(this.els[k]);
        const old = this.els.slice(k0, k1 + 1);
        old[0].before(...els);
        for (const el of old) el.remove();
        this.lens.splice(k0, k1 - k0 + 1, ...lens);
        this.els.splice(k0, k1 - k0 + 1, ...els);
    }

    /** Draw 'marks' on 'text' (the shown text): the blocks holding one are
     * rendered with selection spans and carets, those that held one
     * before and no longer do go back to plain text.
     * @param {string} text @param {Mark[]} marks */
    draw(text, marks) {
        if (!this.built) { if (!marks.length) return; this.build(text); }
        /** @type {Map<number, Mark[]>} block -> marks touching it */
        const per = new Map();
        for (const m of marks) {
            const [k0] = this.find(Math.min(m.from, m.head));
            const [k1] = this.find(Math.max(m.to, m.head));
            for (let k = k0; k <= k1; k++) {
                const l = per.get(k);
                if (l) l.push(m); else per.set(k, [m]);
            }
        }
        const now = new Set();
        let start = 0;
        for (let k = 0; k < this.els.length; k++) {
            const el = this.els[k];
            const ms = per.get(k);
            if (ms) { render(el, text, start, start + this.lens[k], ms); now.add(el); }
            else if (this.marked.has(el)) plain(el, text.slice(start, start + this.lens[k]));
            start += this.lens[k] + 1;
        }
        this.marked = now;
    }
}

/** @param {HTMLElement} el @param {string} s */
function plain(el, s) {
    el.textContent = s === '' || s.endsWith('\n') ? s + '\u200b' : s;
    return el;
}

/** Render text[a, b) into 'el' with the marks in it.
 * @param {HTMLElement} el @param {string} text @param {number} a @param {number} b @param {Mark[]} ms */
function render(el, text, a, b, ms) {
    const cuts = new Set([a, b]);
    const clip = (/** @type {number} */ x) => Math.max(a, Math.min(b, x));
    for (const m of ms) { cuts.add(clip(m.from)); cuts.add(clip(m.to)); if (m.head >= a && m.head <= b) cuts.add(m.head); }
    const points = [...cuts].sort((x, y) => x - y);
    const frag = document.createDocumentFragment();
    for (let k = 0; k < points.length; k++) {
        const at = points[k];
        for (const m of ms) if (m.head === at) frag.appendChild(m.caret());
        if (k + 1 >= points.length) break;
        const seg = text.slice(at, points[k + 1]);
        const cover = ms.filter((m) => m.from <= at && m.to > at);
        if (cover.length) {
            const span = document.createElement('span');
            span.className = 'sel';
            span.style.background = cover[cover.length - 1].color;
            span.textContent = seg;
            frag.appendChild(span);
        } else frag.appendChild(document.createTextNode(seg));
    }
    const s = text.slice(a, b);
    if (s === '' || s.endsWith('\n')) frag.appendChild(document.createTextNode('\u200b'));
    el.replaceChildren(frag);
}
