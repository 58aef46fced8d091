/* editor.js -- the Chorus editor page: a textarea bound to a chorus.js Doc.
 *
 * The textarea is the editor (native typing, selection, paste, IME); local
 * changes are found by diffing its value against 'shown', the text it held
 * when it last matched the model (doc.text), with the caret settling ties.
 * Invariant: outside an IME composition, textarea.value === shown ===
 * doc.text. During a composition nothing is sent and remote ops are held
 * (composed into 'held') so the IME is never disturbed; at compositionend
 * the composed text is transformed over them and both sides catch up.
 * Undo/redo is the library's UndoStack (inverse ops of the user's own
 * edits, moved over remote ops, typing grouped over UNDO_GROUP_MS).
 * Remote carets and selections are drawn in an overlay under the
 * (transparent) textarea with the same font and wrapping. The history
 * panel lives in history.js, the sharing dialog in share.js, the Markdown
 * preview and the views in preview.js, the shortcuts in keys.js. Everything a
 * user supplied is written with textContent, never as HTML. */
import * as C from '/chorus.js';
import { initHistory } from '/history.js';
import { initShare } from '/share.js';
import { initPreview } from '/preview.js';
import { initKeys } from '/keys.js';
import { initAuthors } from '/authors.js';

const $ = (id) => document.getElementById(id);
const ta = $('text');
const overlay = $('overlay-inner');
const docId = decodeURIComponent(location.pathname.replace(/^\/d\//, ''));
const share = new URLSearchParams(location.search).get('share') || '';
const UNDO_GROUP_MS = 800;

let conn = null;
let doc = null;
let shown = '';          /* what the textarea shows, in the model's terms */
let composing = false;
let held = null;         /* remote ops held during a composition (on 'shown') */
const undo = new C.UndoStack({ groupMs: UNDO_GROUP_MS, limit: 500 });

/* ---- Page setup ------------------------------------------------------ */

function validId(id) {
    return /^[A-Za-z0-9_.-]{1,64}$/.test(id) && id[0] !== '.';
}

function fatal(msg) {
    const p = $('fatal');
    p.textContent = msg;
    p.hidden = false;
}

let me = { mode: 'open', user: null };
let title = docId;
let history = null;
let authors = null;       /* the authorship view (authors.js) */

/* Where the start page's login form sends the user back to. */
function loginUrl() {
    return '/?next=' + encodeURIComponent(location.pathname + location.search);
}

async function whoAmI() {
    try {
        const r = await fetch('/api/me');
        if (r.ok) { const j = await r.json(); if (j && typeof j === 'object') me = j; }
    } catch { /* offline: open mode until the server says otherwise */ }
}

/* Team mode: a page reached without a session (and without a share link)
 * goes to the login form, which brings the user back here. */
function teamControls() {
    if (me.mode !== 'team') return true;
    if (!me.user && !share) { location.replace(loginUrl()); return false; }
    const link = $('login-link');
    link.href = loginUrl();
    link.hidden = !!me.user;
    const out = $('logout');
    out.hidden = !me.user;
    out.title = me.user ? 'Logged in as ' + me.user.name : '';
    out.addEventListener('click', async () => {
        await fetch('/api/logout', { method: 'POST' }).catch(() => {});
        location.assign('/');
    });
    return true;
}

async function start() {
    if (!validId(docId)) { fatal('This is not a valid document id: ' + docId); return; }
    $('title').textContent = docId;
    document.title = docId + ' - Chorus';
    await whoAmI();
    if (!teamControls()) return;
    loadTitle();
    const storage = window.localStorage;
    const nameInput = $('name');
    nameInput.value = storage.getItem('chorus.name') || '';
    const clientId = await C.claimClientId(storage, navigator.locks);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    /* ?doc= is for a proxy in front of a cluster: it keeps one document's
     * editors on one node (docs/cluster.md); the server ignores it */
    const wsUrl = `${proto}//${location.host}/ws?doc=${encodeURIComponent(docId)}`;
    conn = new C.Connection({ url: wsUrl, clientId, name: nameInput.value.trim(), storage });
    window.chorus = { conn, get doc() { return doc; } }; /* for tests and the curious */
    history = initHistory({ docId, api, doc: () => doc, conn: () => conn, me: () => me, authors: () => authors });
    /* Authorship colours: the toggle, the tinted layer, the legend. */
    authors = initAuthors({ api, doc: () => doc, conn: () => conn, textarea: ta, history: () => history });
    conn.on('status', showStatus);
    conn.on('error', (e, d) => { if (!d && (e.code === 'unauthorized' || e.code === 'forbidden')) accessProblem(e.code); });
    conn.on('welcome', (m) => { if (!nameInput.value && m.user && m.user.name) nameInput.placeholder = m.user.name; showPeople(); });
    window.addEventListener('online', () => conn.retryNow());
    doc = conn.open(docId, { share });
    doc.on('ready', onReady);
    authors.attach(doc);
    /* After the first join: joining may have just created the document. */
    if (me.mode === 'team' && me.user) doc.on('ready', () => initShare({ docId, api, title: () => title }));
    doc.on('change', onChange);
    preview.attach(doc);
    doc.on('title', showTitle);
    initRename();
    doc.on('presence', () => { showPeople(); scheduleOverlay(); });
    doc.on('saved', (saved) => {
        showSaved(saved);
        history.follow();
        if (saved && $('notice').dataset.kind === 'retry') notice('');
    });
    doc.on('reset', () => undo.clear());
    doc.on('error', (e) => {
        if (doc.readOnly) { ta.readOnly = true; notice('View only: you cannot edit this document.'); }
        else if (e.code === 'forbidden' || e.code === 'unauthorized') accessProblem(e.code);
        else if (e.code === 'access_revoked') { ta.readOnly = true; notice('Your access to this document was taken away.'); }
        else if (e.code === 'doc_trashed') { ta.readOnly = true; notice('This document was moved to the trash: restore it from the start page.'); }
        else if (e.code === 'too_large') notice('That edit is too large for the server.');
        else if (e.code === 'server_error') notice('The server could not save: retrying…', 'retry');
    });
    nameInput.addEventListener('change', () => {
        const n = nameInput.value.trim().slice(0, 64);
        storage.setItem('chorus.name', n);
        conn.setName(n);
    });
    $('history-toggle').addEventListener('click', () => history.toggle());
    window.addEventListener('beforeunload', (e) => { if (doc && !doc.saved) { e.preventDefault(); e.returnValue = ''; } });
    showStatus(conn.status);
}

/* The server refused us: no role on the document, or no valid login or
 * share link. Say so plainly, with a way to log in. */
function accessProblem(code) {
    if (code === 'unauthorized') {
        notice(share ? 'This share link does not work any more (it was revoked or has expired). Log in, or ask the owner for a new link.'
            : 'You are not logged in (or your session has expired): log in to open this document.');
        $('login-link').href = loginUrl();
        $('login-link').hidden = false;
    } else if (!doc || !doc.ready) {
        notice('You have no access to this document: ask its owner to share it with you.');
    } else notice('You may not do that here: your role on this document does not allow it.');
}

/* The header shows the title, or the id while there is none. */
function showTitle(t) {
    title = t || docId;
    $('title').textContent = title;
    document.title = title + ' - Chorus';
}

async function loadTitle() {
    try {
        const r = await fetch(api(''));
        if (!r.ok) return;
        const d = await r.json();
        if (d && typeof d.title === 'string' && d.title) showTitle(d.title);
    } catch { /* the title is a nicety; the id is shown already */ }
}

/* Rename: editors and owners click the title (or press Enter on it) and
 * edit it in place; Enter saves (PATCH), Escape or leaving the field
 * without a change cancels. Every open editor sees the new title through
 * the server's "title" message, this page too. */
function initRename() {
    const el = $('title');
    el.tabIndex = 0;
    el.setAttribute('role', 'button');
    el.title = 'Rename';
    const begin = () => {
        if (!doc || !doc.ready || doc.readOnly || el.querySelector('input')) return;
        const input = document.createElement('input');
        input.type = 'text';
        input.maxLength = 200;
        input.id = 'title-input';
        input.setAttribute('aria-label', 'Title');
        input.value = title === docId ? '' : title;
        const shown = el.textContent;
        el.replaceChildren(input);
        input.focus();
        input.select();
        let done = false;
        const end = async (save) => {
            if (done) return;
            done = true;
            const t = input.value.trim();
            el.textContent = shown;
            if (save && t && t !== title) await rename(t);
        };
        input.addEventListener('keydown', (e) => {
            if (e.key === 'Enter') { e.preventDefault(); end(true); }
            else if (e.key === 'Escape') { e.preventDefault(); end(false); }
        });
        input.addEventListener('blur', () => end(true));
    };
    el.addEventListener('click', begin);
    el.addEventListener('keydown', (e) => { if (e.key === 'Enter' && e.target === el) { e.preventDefault(); begin(); } });
}

async function rename(t) {
    try {
        const r = await fetch(api(''), { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ title: t }) });
        if (r.ok) { showTitle((await r.json()).title); return; }
        let msg = 'the server answered ' + r.status;
        try { const j = await r.json(); if (j && j.message) msg = j.message; } catch { /* not JSON */ }
        notice('Could not rename it: ' + msg);
    } catch (ex) {
        notice('Could not rename it: ' + ex.message);
    }
}

/* A document API URL; a share link's token goes along (team mode). */
function api(rest, params = {}) {
    const q = new URLSearchParams(params);
    if (share) q.set('share', share);
    const qs = q.toString();
    return '/api/docs/' + encodeURIComponent(docId) + rest + (qs ? '?' + qs : '');
}

function onReady() {
    shown = doc.text;
    ta.value = shown;
    ta.disabled = false;
    ta.focus();
    ta.setSelectionRange(0, 0);
    sendCursor();
    scheduleOverlay();
    showSaved(doc.saved);
}

/* ---- Local edits ----------------------------------------------------- */

function onInput() {
    if (composing || !doc || !doc.ready) return;
    const value = ta.value;
    if (value === shown) return;
    const op = C.diff(shown, value, ta.selectionEnd);
    localEdit(op);
}

/* 'op' was made on 'shown' and the textarea already holds its result. */
function localEdit(op) {
    const pre = doc.text;
    if (held) {
        /* Remote ops arrived during a composition: move ours over them. */
        const mine = C.transform(op, held, C.RIGHT);
        const theirs = C.transform(held, op, C.LEFT);
        held = null;
        applyToTextarea(theirs);
        op = mine;
    }
    shown = ta.value;
    if (op.length === 0) return;
    try {
        doc.edit(op);
    } catch (e) { /* refused (read-only): show the document as it is */
        revertTextarea();
        notice(e.message);
        return;
    }
    undo.record(op, pre);
    sendCursor();
    if (doc.peers.size) scheduleOverlay();
}

function revertTextarea() {
    const at = Math.min(ta.selectionStart, doc.text.length);
    ta.value = shown = doc.text;
    ta.setSelectionRange(at, at);
    scheduleOverlay();
}

function notice(msg, kind = '') {
    const el = $('notice');
    el.textContent = msg;
    el.dataset.kind = kind;
    el.hidden = !msg;
}

/* Undo (or redo, when 'back' is false) the user's last step: the textarea
 * changes first, the caret goes to the end of the change, then the model. */
function undoRedo(back) {
    if (composing || !(back ? undo.canUndo : undo.canRedo) || !doc.ready) return;
    if (doc.readOnly) return;
    const apply = (op) => {
        applyToTextarea(op, true);
        shown = ta.value;
        doc.edit(op);
    };
    if (back) undo.undo(doc.text, apply);
    else undo.redo(doc.text, apply);
    sendCursor();
}

/* ---- Remote edits ---------------------------------------------------- */

function onChange(op, info) {
    history.follow();
    if (!info.remote) return;
    undo.remote(op);
    if (composing) { held = held ? C.compose(held, op) : op; return; }
    applyToTextarea(op);
    shown = ta.value;
    window.dispatchEvent(new CustomEvent('chorus:remote', { detail: { t: performance.timeOrigin + performance.now() } }));
}

/* Apply 'op' (code points, on the textarea's value) in place with
 * setRangeText, keeping the selection where the user's text moved to.
 * 'own' (undo/redo): the selection goes to the end of the change. */
function applyToTextarea(op, own) {
    const v = ta.value;
    const dir = ta.selectionDirection;
    let a = C.utf16ToCp(v, ta.selectionStart), b = C.utf16ToCp(v, ta.selectionEnd);
    const scroll = ta.scrollTop;
    let i = 0;
    for (const c of op) {
        const cur = ta.value;
        if (typeof c === 'string') {
            ta.setRangeText(c, i, i, 'preserve');
            i += c.length;
        } else if (c > 0) {
            i = C.cpToUtf16(cur.slice(i), c) + i;
        } else {
            const j = C.cpToUtf16(cur.slice(i), -c) + i;
            ta.setRangeText('', i, j, 'preserve');
        }
    }
    if (own) { a = b = C.caretAfter(op); } else {
        a = C.transformPos(a, op, C.LEFT);
        b = C.transformPos(b, op, C.LEFT);
    }
    const nv = ta.value;
    ta.setSelectionRange(C.cpToUtf16(nv, a), C.cpToUtf16(nv, b), own ? 'none' : dir);
    if (!own) ta.scrollTop = scroll;
    scheduleOverlay();
}

/* ---- Presence -------------------------------------------------------- */

function sendCursor() {
    if (!doc || !doc.ready || composing) return;
    const v = ta.value;
    const s = C.utf16ToCp(v, ta.selectionStart), e = C.utf16ToCp(v, ta.selectionEnd);
    const back = ta.selectionDirection === 'backward';
    const cur = { anchor: back ? e : s, head: back ? s : e };
    if (doc.cursor && doc.cursor.anchor === cur.anchor && doc.cursor.head === cur.head) return;
    doc.setCursor(cur);
}

let overlayQueued = false;
function scheduleOverlay() {
    if (overlayQueued) return;
    overlayQueued = true;
    requestAnimationFrame(() => { overlayQueued = false; drawOverlay(); });
}

/* Draw the others' selections and carets: the overlay holds the same text
 * (transparent) so its spans land exactly under the textarea's glyphs. */
function drawOverlay() {
    const text = ta.value;
    const marks = [];
    for (const p of doc ? doc.peers.values() : []) {
        if (!p.cursor) continue;
        const a = C.cpToUtf16(text, p.cursor.anchor), h = C.cpToUtf16(text, p.cursor.head);
        marks.push({ p, from: Math.min(a, h), to: Math.max(a, h), head: h });
    }
    overlay.replaceChildren();
    overlay.style.width = ta.clientWidth + 'px';
    if (!marks.length) return;
    const cuts = new Set([0, text.length]);
    for (const m of marks) { cuts.add(m.from); cuts.add(m.to); cuts.add(m.head); }
    const points = [...cuts].sort((x, y) => x - y);
    const frag = document.createDocumentFragment();
    for (let k = 0; k < points.length; k++) {
        const at = points[k];
        for (const m of marks) if (m.head === at) frag.appendChild(caretEl(m.p));
        if (k + 1 >= points.length) break;
        const seg = text.slice(at, points[k + 1]);
        const cover = marks.filter((m) => m.from <= at && m.to > at);
        if (cover.length) {
            const span = document.createElement('span');
            span.className = 'sel';
            span.style.background = tint(cover[cover.length - 1].p.color);
            span.textContent = seg;
            frag.appendChild(span);
        } else frag.appendChild(document.createTextNode(seg));
    }
    frag.appendChild(document.createTextNode('\u200b'));
    overlay.appendChild(frag);
    syncScroll();
}

function caretEl(p) {
    const c = document.createElement('span');
    c.className = 'caret';
    c.dataset.client = p.client;
    c.dataset.pos = String(p.cursor.head);
    c.style.setProperty('--c', p.color);
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = p.name || 'anonymous';
    c.appendChild(label);
    return c;
}

function tint(color) {
    return `color-mix(in srgb, ${color} 25%, transparent)`;
}

function syncScroll() {
    overlay.style.transform = `translate(${-ta.scrollLeft}px, ${-ta.scrollTop}px)`;
}

/* ---- Status bar ------------------------------------------------------ */

function showStatus(s) {
    const el = $('status');
    el.dataset.state = s;
    el.textContent = s;
    showSaved(doc ? doc.saved : true);
}

function showSaved(saved) {
    const el = $('saved');
    if (!doc || !doc.ready) { el.textContent = ''; return; }
    if (saved) el.textContent = 'all changes saved';
    else el.textContent = conn.status === 'connected' ? 'saving…' : 'unsaved changes: will send when back online';
    el.dataset.saved = saved ? 'yes' : 'no';
}

function showPeople() {
    const box = $('people');
    box.replaceChildren();
    const me = { name: ($('name').value.trim() || (conn.user && conn.user.name) || 'you') + ' (you)', color: (conn.user && conn.user.color) || C.colorFor(conn.clientId) };
    for (const p of [me, ...(doc ? doc.peers.values() : [])]) {
        const chip = document.createElement('span');
        chip.className = 'person';
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.style.background = p.color;
        const name = document.createElement('span');
        name.textContent = p.name || 'anonymous';
        chip.append(dot, name);
        box.appendChild(chip);
    }
}

/* ---- Views and shortcuts (preview.js, keys.js) ------------------------ */

const preview = initPreview({
    textarea: ta, pane: $('preview'), storage: window.localStorage,
    buttons: { edit: $('view-edit'), split: $('view-split'), preview: $('view-preview') },
});
initKeys({ button: $('keys-toggle'), dialog: $('keys-dialog'), list: $('keys-list'), close: $('keys-close'), setView: preview.setView });

/* ---- Wiring ---------------------------------------------------------- */

ta.addEventListener('input', onInput);
ta.addEventListener('compositionstart', () => { composing = true; });
ta.addEventListener('compositionend', () => {
    composing = false;
    /* Chrome fires 'input' before compositionend: sync here as well. */
    onInput();
    if (held) { /* nothing typed in the end: just catch up */
        const h = held;
        held = null;
        applyToTextarea(h);
        shown = ta.value;
    }
    sendCursor();
});
ta.addEventListener('beforeinput', (e) => {
    if (e.inputType === 'historyUndo') { e.preventDefault(); undoRedo(true); }
    else if (e.inputType === 'historyRedo') { e.preventDefault(); undoRedo(false); }
});
ta.addEventListener('keydown', (e) => {
    if (e.isComposing || !(e.ctrlKey || e.metaKey) || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === 'z' && !e.shiftKey) { e.preventDefault(); undoRedo(true); }
    else if ((k === 'z' && e.shiftKey) || k === 'y') { e.preventDefault(); undoRedo(false); }
});
for (const ev of ['select', 'keyup', 'mouseup', 'focus', 'selectionchange']) ta.addEventListener(ev, sendCursor);
document.addEventListener('selectionchange', sendCursor);
ta.addEventListener('scroll', syncScroll);
new ResizeObserver(scheduleOverlay).observe(ta);

start().catch((e) => fatal('The editor could not start: ' + e.message));
