/* preview.js -- the editor's Markdown preview and its three views.
 *
 * The page shows the text (edit), the text beside its rendering (split) or
 * the rendering alone (preview); the choice is kept in localStorage
 * ('chorus.view'). The text is parsed by markdown-it (web/vendor/, loaded
 * the first time a view needs it) with raw HTML off, and its tokens are
 * built into DOM nodes here: nothing is ever parsed as HTML. Every piece of
 * the text becomes a text node; elements come from an allow-list of tags
 * and attributes, and a link or image URL must be http, https, mailto or
 * relative (an image only from this server: any other shows as a link).
 * Rendering follows the text without slowing typing: at most once a frame
 * on small documents, and after a pause in typing (scaled by how long the
 * last rendering took) on big ones. The preview scrolls with the textarea
 * (proportionally) and keeps the block being edited in view. */

export const VIEWS = ['edit', 'split', 'preview'];
const KEY = 'chorus.view';
/* Above BIG UTF-16 units the split view renders a window of about WINDOW
 * units around the part of the text in view: rendering a megabyte of
 * Markdown costs seconds of main thread, and typing must not wait. */
const BIG = 48 * 1024;
const WINDOW = 24 * 1024;

/* The part of 'text' to render around index 'at': about 'size' units,
 * cut at blank lines (a paragraph stays whole) and never inside a fenced
 * code block. Returns { from, to, line (newlines before from), margin
 * (how near an end 'at' may come before the window should move) }. */
export function sourceWindow(text, at, size) {
    let from = Math.max(0, Math.min(at - (size >> 1), text.length - size));
    let to = Math.min(text.length, from + size);
    if (from > 0) {
        const b = text.lastIndexOf('\n\n', from);
        from = b < 0 ? 0 : b + 2;
        const fence = /^ {0,3}(`{3,}|~{3,})/gm;
        let n = 0, last = 0;
        for (let m; (m = fence.exec(text)) && m.index < from;) { n++; last = m.index; }
        if (n % 2) from = last;
    }
    if (to < text.length) {
        const b = text.indexOf('\n\n', to);
        to = b < 0 ? text.length : b + 1;
    }
    let line = 0;
    for (let i = text.indexOf('\n'); i !== -1 && i < from; i = text.indexOf('\n', i + 1)) line++;
    return { from, to, line, margin: Math.min(size >> 2, (to - from) >> 2) };
}

/* Tags markdown-it makes with html off; anything else is never created. */
const TAGS = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li',
    'blockquote', 'pre', 'code', 'em', 'strong', 's', 'a', 'img', 'hr', 'br',
    'table', 'thead', 'tbody', 'tr', 'th', 'td']);
const ATTRS = new Set(['href', 'src', 'alt', 'title', 'start', 'style']);

/* A URL the preview may link to: http, https, mailto, or relative (no
 * scheme), checked the way the browser will read it (tabs and newlines
 * dropped, leading controls stripped) and then as the URL it resolves to.
 * It is markdown-it's validateLink too, and checked again on every href. */
export function safeUrl(url) {
    const u = String(url).replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+/, '');
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(u);
    if (m && !['http', 'https', 'mailto'].includes(m[1].toLowerCase())) return false;
    if (typeof location === 'undefined') return true;
    try { return ['http:', 'https:', 'mailto:'].includes(new URL(u, location.href).protocol); } catch { return false; }
}

/* Images load only from this server (no tracking pixels, no data: URLs;
 * the Content-Security-Policy says img-src 'self' too). */
function sameOrigin(url) {
    try { return new URL(url, location.href).origin === location.origin; } catch { return false; }
}

/* Task lists: "- [ ] x" and "- [x] x" become list items with a disabled
 * checkbox (core rule; markdown-it has none). The marker is removed from
 * the item's text; the item's token gets meta.task = checked. */
function taskLists(state) {
    const t = state.tokens;
    for (let i = 2; i < t.length; i++) {
        if (t[i].type !== 'inline' || t[i - 1].type !== 'paragraph_open' || t[i - 2].type !== 'list_item_open') continue;
        const m = /^\[([ xX])\][ \t]/.exec(t[i].content);
        const first = t[i].children && t[i].children[0];
        if (!m || !first || first.type !== 'text' || !first.content.startsWith(m[0])) continue;
        first.content = first.content.slice(m[0].length);
        t[i].content = t[i].content.slice(m[0].length);
        t[i - 2].meta = { task: m[1] !== ' ' };
    }
}

export function makeRenderer(markdownit) {
    const md = markdownit({ html: false, linkify: true, typographer: false });
    md.validateLink = safeUrl;
    md.core.ruler.push('chorus_tasks', taskLists);
    return md;
}

/* Build the DOM of 'tokens' (markdown-it's) into a fragment. */
export function buildDom(tokens, lineBase = 0) {
    const frag = document.createDocumentFragment();
    const stack = [frag];
    const top = () => stack[stack.length - 1];
    for (const tok of tokens) {
        if (tok.hidden && tok.nesting !== 0) continue; /* a tight list's <p> */
        if (tok.nesting === 1) {
            const el = element(tok);
            if (tok.map) el.dataset.line = String(tok.map[0] + lineBase);
            top().appendChild(el);
            stack.push(el);
            if (tok.type === 'list_item_open' && tok.meta && 'task' in tok.meta) taskBox(el, tok.meta.task);
        } else if (tok.nesting === -1) {
            if (stack.length > 1) stack.pop();
        } else leaf(top(), tok, lineBase);
    }
    return frag;
}

function element(tok) {
    const tag = TAGS.has(tok.tag) ? tok.tag : 'div';
    const el = document.createElement(tag);
    for (const [k, v] of tok.attrs || []) {
        if (!ATTRS.has(k)) continue;
        if (k === 'href' && !safeUrl(v)) continue;
        if (k === 'style') { /* tables: text-align only */
            const m = /^text-align:(left|right|center)$/.exec(v);
            if (m) el.style.textAlign = m[1];
            continue;
        }
        el.setAttribute(k, v);
    }
    if (tag === 'a' && /^https?:/i.test(el.getAttribute('href') || '')) el.rel = 'noopener noreferrer nofollow';
    return el;
}

function taskBox(li, checked) {
    li.classList.add('task');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.disabled = true;
    box.checked = checked;
    box.setAttribute('aria-label', checked ? 'done' : 'not done');
    li.appendChild(box);
}

function leaf(parent, tok, lineBase) {
    switch (tok.type) {
    case 'inline': {
        const frag = buildDom(tok.children || [], lineBase);
        parent.appendChild(frag);
        break;
    }
    case 'text': parent.appendChild(document.createTextNode(tok.content)); break;
    case 'softbreak': parent.appendChild(document.createTextNode('\n')); break;
    case 'hardbreak': parent.appendChild(document.createElement('br')); break;
    case 'hr': parent.appendChild(document.createElement('hr')); break;
    case 'code_inline': {
        const c = document.createElement('code');
        c.textContent = tok.content;
        parent.appendChild(c);
        break;
    }
    case 'fence': case 'code_block': {
        const pre = document.createElement('pre');
        if (tok.map) pre.dataset.line = String(tok.map[0] + lineBase);
        const code = document.createElement('code');
        const lang = (tok.info || '').trim().split(/\s+/)[0];
        if (/^[A-Za-z0-9_+-]{1,32}$/.test(lang)) code.className = 'language-' + lang;
        code.textContent = tok.content;
        pre.appendChild(code);
        parent.appendChild(pre);
        break;
    }
    case 'image': parent.appendChild(image(tok)); break;
    default: /* html_block / html_inline cannot occur with html off: text */
        if (tok.content) parent.appendChild(document.createTextNode(tok.content));
    }
}

/* An image from this server is shown; any other becomes a link to it
 * whose text is the image's description. */
function image(tok) {
    const src = tok.attrGet('src') || '';
    const alt = tok.children ? tok.children.map((c) => c.content).join('') : tok.content;
    if (src && safeUrl(src) && sameOrigin(src)) {
        const img = document.createElement('img');
        img.src = src;
        img.alt = alt;
        const title = tok.attrGet('title');
        if (title) img.title = title;
        img.loading = 'lazy';
        return img;
    }
    const a = document.createElement('a');
    a.className = 'image-link';
    a.textContent = alt || src;
    if (src && safeUrl(src)) { a.href = src; a.rel = 'noopener noreferrer nofollow'; }
    return a;
}

/* The page part: view switching, rendering on change, scrolling.
 * opts: { textarea, pane (the preview element), buttons ({edit, split,
 * preview}: elements with aria-pressed), storage }. Returns
 * { setView(v), get view(), attach(doc), rendered (a promise of the next
 * rendering, for tests) }. */
export function initPreview(opts) {
    const { textarea: ta, pane, buttons, storage } = opts;
    let md = null;
    let loading = null;
    let view = VIEWS.includes(storage.getItem(KEY)) ? storage.getItem(KEY) : 'edit';
    let timer = 0, frame = 0, firstPending = 0, cost = 0, lastText = null;
    let following = false;
    let win = { from: 0, to: 0, line: 0, margin: 0 };

    function load() {
        if (!loading) {
            loading = import('/vendor/markdown-it.mjs').then((m) => { md = makeRenderer(m.default); })
                .catch((e) => { loading = null; pane.textContent = 'The preview could not load: ' + e.message; throw e; });
        }
        return loading;
    }

    function setView(v, remember = true) {
        if (!VIEWS.includes(v)) return;
        view = v;
        document.body.dataset.view = v;
        for (const k of VIEWS) if (buttons[k]) buttons[k].setAttribute('aria-pressed', String(k === v));
        pane.hidden = v === 'edit';
        if (remember) { try { storage.setItem(KEY, v); } catch { /* private mode: not kept */ } }
        if (v !== 'edit') { lastText = null; schedule(true); }
        if (v !== 'preview' && !ta.disabled) ta.focus();
    }

    /* Render now, or soon: a frame on small documents; on those that
     * took longer than 8 ms to render, after a pause in the changes of 3x
     * the last rendering (120 ms to 10 s), and at most 4x (at least 2 s)
     * after the first change: the main thread stays mostly free. */
    function schedule(now) {
        if (view === 'edit') return;
        if (!md) { load().then(() => schedule(true), () => {}); return; }
        if (now || cost <= 8) {
            if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
            return;
        }
        const t = performance.now();
        if (!firstPending) firstPending = t;
        clearTimeout(timer);
        const wait = Math.min(10000, Math.max(120, 3 * cost));
        const most = Math.max(2000, 4 * cost);
        timer = setTimeout(() => { timer = 0; render(); }, Math.max(0, Math.min(wait, firstPending + most - t)));
    }

    function render() {
        firstPending = 0;
        if (view === 'edit' || !md) return;
        const text = ta.value;
        const part = view === 'split' && text.length > BIG;
        const at = !part ? 0 : following ? ta.selectionEnd : Math.round(scrollFraction() * text.length);
        if (text === lastText && (!part || inWindow(at, text.length))) return;
        lastText = text;
        const t0 = performance.now();
        win = part ? sourceWindow(text, at, WINDOW) : { from: 0, to: text.length, line: 0, margin: 0 };
        const src = part ? text.slice(win.from, win.to) : text;
        const frag = buildDom(md.parse(src, {}), win.line);
        if (part) frag.prepend(windowNote(text, win));
        pane.replaceChildren(frag);
        void pane.scrollHeight; /* the layout is part of the cost */
        cost = performance.now() - t0;
        pane.dataset.rendered = String((Number(pane.dataset.rendered) || 0) + 1);
        if (following) keepCaretInView(text);
        else followScroll(true);
        following = false;
        pane.dispatchEvent(new CustomEvent('chorus:rendered'));
    }

    /* Whether index 'at' of a text of 'len' units is well inside the
     * window rendered (or the window already reaches that end). */
    function inWindow(at, len) {
        return (at >= win.from + win.margin || win.from === 0) && (at <= win.to - win.margin || win.to >= len);
    }

    function windowNote(text, w) {
        const p = document.createElement('p');
        p.className = 'window-note';
        const kb = (n) => Math.round(n / 1024) + ' KB';
        p.textContent = `A long text: this shows ${kb(w.to - w.from)} around the part in view ` +
            `(from ${kb(w.from)} of ${kb(text.length)}) and moves as the text scrolls; the Preview view shows it all.`;
        return p;
    }

    function scrollFraction() {
        const range = ta.scrollHeight - ta.clientHeight;
        return range > 0 ? ta.scrollTop / range : 0;
    }

    /* The preview's block for the caret's source line comes into view. */
    function keepCaretInView(text) {
        if (view !== 'split' || document.activeElement !== ta) return;
        let line = 0;
        const end = ta.selectionEnd;
        for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) line++;
        let best = null;
        for (const el of pane.querySelectorAll('[data-line]')) {
            if (Number(el.dataset.line) > line) break;
            best = el;
        }
        if (!best) return;
        const r = best.getBoundingClientRect(), p = pane.getBoundingClientRect();
        if (r.top < p.top || r.top > p.bottom - 24) best.scrollIntoView({ block: 'nearest' });
    }

    /* The preview scrolls with the textarea, proportionally (within the
     * window shown, which moves when the text scrolls out of it). */
    function followScroll(fromRender) {
        if (view !== 'split') return;
        let f = scrollFraction();
        const len = ta.value.length;
        if (win.to - win.from < len) {
            const at = f * len;
            if (!fromRender && !inWindow(at, len)) schedule(false);
            f = Math.min(1, Math.max(0, (at - win.from) / Math.max(1, win.to - win.from)));
        }
        pane.scrollTop = f * (pane.scrollHeight - pane.clientHeight);
    }

    for (const k of VIEWS) if (buttons[k]) buttons[k].addEventListener('click', () => setView(k));
    ta.addEventListener('scroll', () => followScroll(false));
    ta.addEventListener('input', () => { following = true; schedule(false); });
    setView(view, false);

    return {
        setView,
        get view() { return view; },
        /* Follow 'doc': every change (local or remote) renders again. */
        attach(doc) {
            doc.on('change', () => schedule(false));
            doc.on('ready', () => schedule(true));
        },
        next() { return new Promise((res) => pane.addEventListener('chorus:rendered', () => res(), { once: true })); },
    };
}
