/* authors.js -- the editor's authorship view: the "Authors" toggle tints
 * the text by who wrote it, live and in the history panel, with a legend.
 *
 * A textarea cannot colour ranges, so the tint is a layer under the
 * (transparent) textarea holding the same text, in transparent glyphs,
 * with the same font and wrapping (as the caret overlay does): typing
 * works as ever while it is on. The runs come once from GET
 * /api/docs/D/authors?version=V (V: the server version the page holds),
 * then follow every change: the page's own edits are the user's (the name
 * the server gave in welcome, which it records for them), a remote op is
 * its message's user, so no further request is made. Colours are the
 * presence colours (the caret's); an author who is not here gets the
 * server's palette colour for their name. Every name and text is written
 * as a text node, never as HTML. */
import * as C from '/chorus.js';

const $ = (id) => document.getElementById(id);

/** Wire the toggle. 'ctx': {api(rest, params), doc() -> Doc,
 * conn() -> Connection, textarea, history() -> {refresh} | null}.
 * Returns {on(), paint(pre, text, version)}: paint() draws a version's
 * text tinted into 'pre' (the history panel) and resolves once it did. */
export function initAuthors(ctx) {
    const button = $('authors-toggle');
    const legend = $('authors-legend');
    const ta = ctx.textarea;
    const layer = document.createElement('div');
    layer.className = 'overlay authors-layer';
    layer.id = 'authors-layer';
    layer.setAttribute('aria-hidden', 'true');
    layer.hidden = true;
    const inner = document.createElement('div');
    inner.className = 'inner';
    layer.appendChild(inner);
    ta.parentElement.insertBefore(layer, ta.parentElement.firstChild);

    let on = false;
    /** @type {Array<[number, string]> | null} runs over doc.text, or null
     * while they are being fetched */
    let runs = null;
    /** @type {Array<[Array<number|string>, string]> | null} changes seen
     * while the runs were fetched */
    let queue = null;
    let loadSeq = 0, queued = false;
    /** @type {Map<string, number>} the history panel's authors (legend) */
    let shownOld = new Map();

    const myName = () => {
        const c = ctx.conn();
        return (c && c.user && c.user.name) || '';
    };

    /* The colour of 'user': the caret colour of one of their pages here,
     * else the palette colour of their name. */
    function colorOf(user) {
        const c = ctx.conn(), d = ctx.doc();
        if (c && c.user && c.user.name === user) return c.user.color || C.colorFor(c.clientId);
        for (const p of d ? d.peers.values() : []) if (p.name === user && p.color) return p.color;
        return C.paletteColor(user);
    }

    function toggle() {
        on = !on;
        button.setAttribute('aria-pressed', String(on));
        layer.hidden = !on;
        legend.hidden = !on;
        document.body.classList.toggle('authors-on', on);
        if (on) load(); else { runs = null; queue = null; inner.replaceChildren(); }
        const h = ctx.history();
        if (h) h.refresh();
    }

    /* Fetch the runs at the server version we hold, then bring them up to
     * the text shown: our unacknowledged edits, then whatever changed
     * while the request was out. */
    async function load() {
        const d = ctx.doc();
        if (!d || !d.ready) return;
        const seq = ++loadSeq;
        runs = null;
        queue = [];
        const v = d.version;
        const ot = d.ot;
        const pend = [ot.inflight && ot.inflight.op, ot.buffer].filter(Boolean);
        try {
            const r = await fetch(ctx.api('/authors', { version: v }));
            if (!r.ok) throw new Error('the server answered ' + r.status);
            let next = C.runsFromSpans(await r.json());
            if (seq !== loadSeq || !on) return;
            for (const op of pend) next = C.applyAuthors(next, op, myName());
            for (const [op, user] of queue) next = C.applyAuthors(next, op, user);
            runs = next;
            queue = null;
            if (C.runsLength(runs) !== C.cpLength(d.text)) throw new Error('the authors do not match the text');
            schedule();
        } catch (e) {
            if (seq !== loadSeq || !on) return;
            runs = null;
            queue = null;
            legend.replaceChildren(note('Authors unavailable: ' + e.message));
        }
    }

    function note(text) {
        const li = document.createElement('li');
        li.className = 'muted';
        li.textContent = text;
        return li;
    }

    /* A change of the document (doc 'change'): keep the runs in step. */
    function onChange(op, info) {
        if (!on) return;
        const user = !info.remote ? myName() : info.user && typeof info.user.name === 'string' ? info.user.name : null;
        if (user === null) { load(); return; } /* replaced by the server's text */
        if (queue) { queue.push([op, user]); return; }
        if (!runs) return;
        try { runs = C.applyAuthors(runs, op, user); } catch { load(); return; }
        schedule();
    }

    function schedule() {
        if (queued) return;
        queued = true;
        requestAnimationFrame(() => { queued = false; draw(); });
    }

    /* The tinted spans of 'text' over 'rs' into 'box' (a fragment). */
    function spans(box, text, rs, count) {
        let i = 0;
        for (const [n, user] of rs) {
            const j = C.cpToUtf16(text.slice(i), n) + i;
            const s = document.createElement('span');
            s.className = 'author';
            const color = colorOf(user);
            s.dataset.user = user;
            s.dataset.color = color;
            s.style.setProperty('--c', color);
            s.textContent = text.slice(i, j);
            box.appendChild(s);
            count.set(user, (count.get(user) || 0) + n);
            i = j;
        }
        if (i < text.length) box.appendChild(document.createTextNode(text.slice(i)));
    }

    function draw() {
        if (!on || !runs) return;
        const text = ta.value;
        const frag = document.createDocumentFragment();
        const count = new Map();
        spans(frag, text, runs, count);
        frag.appendChild(document.createTextNode('\u200b'));
        inner.replaceChildren(frag);
        layer.style.width = ta.clientWidth + 'px';
        sync();
        showLegend(count);
    }

    function showLegend(count) {
        const all = new Map(count);
        for (const [u, n] of shownOld) if (!all.has(u)) all.set(u, 0);
        legend.replaceChildren();
        const items = [...all].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
        for (const [user, n] of items) {
            const li = document.createElement('li');
            li.dataset.user = user;
            const dot = document.createElement('span');
            dot.className = 'dot';
            dot.style.background = colorOf(user);
            const name = document.createElement('span');
            name.textContent = (user || 'anonymous') + (user === myName() ? ' (you)' : '');
            const num = document.createElement('span');
            num.className = 'muted';
            num.textContent = n ? ` ${n} ${n === 1 ? 'character' : 'characters'}` : '';
            num.title = 'characters in the text now';
            li.append(dot, name, num);
            legend.appendChild(li);
        }
        if (!items.length) legend.appendChild(note('No text yet.'));
    }

    function sync() {
        inner.style.transform = `translate(${-ta.scrollLeft}px, ${-ta.scrollTop}px)`;
    }

    /* The history panel: 'text' at 'version' tinted into 'pre'. */
    async function paint(pre, text, version) {
        const r = await fetch(ctx.api('/authors', { version }));
        if (!r.ok) throw new Error(`the authors of version ${version} are not available (${r.status})`);
        const rs = C.runsFromSpans(await r.json());
        if (C.runsLength(rs) !== C.cpLength(text)) throw new Error('the authors do not match the text');
        const frag = document.createDocumentFragment();
        const count = new Map();
        spans(frag, text, rs, count);
        pre.replaceChildren(frag);
        pre.dataset.mode = 'authors';
        shownOld = count;
        if (runs) draw(); else showLegend(count);
    }

    button.addEventListener('click', toggle);
    ta.addEventListener('scroll', sync);
    new ResizeObserver(schedule).observe(ta);
    return {
        on: () => on,
        paint,
        /** Wire to the Doc once it exists. @param {any} d */
        attach(d) {
            d.on('change', onChange);
            d.on('presence', () => { if (on) schedule(); });
            d.on('ready', () => { if (on) load(); });
        },
    };
}
