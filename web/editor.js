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
 * (transparent) textarea with the same font and wrapping (overlay.js).
 * Big documents: code point positions are converted through a chunk index
 * of 'shown' (lib/textindex.js), a local change is looked for near the
 * caret (changedRange), a remote op becomes setRangeText calls on the
 * ranges it touches. Unacknowledged edits are kept in IndexedDB
 * (lib/outbox.js) and taken back by the next page of this document. The
 * history panel lives in history.js, the sharing dialog in share.js, the
 * Markdown preview and the views in preview.js, the shortcuts in keys.js,
 * the authorship colours in authors.js. Everything a user supplied is
 * written with textContent, never as HTML. */
import * as C from '/chorus.js';
import { Outbox } from '/lib/outbox.js';
import { TextIndex, changedRange, locator, opRanges } from '/lib/textindex.js';
import { cpLength } from '/lib/text.js';
import { initHistory } from '/history.js';
import { initShare } from '/share.js';
import { initPreview } from '/preview.js';
import { initKeys } from '/keys.js';
import { initAuthors } from '/authors.js';
import { Mirror } from '/overlay.js';

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
const index = new TextIndex();   /* code points of 'shown' */
const mirror = new Mirror(overlay);
const outbox = new Outbox(window.indexedDB);
/** @type {import('/lib/outbox.js').Writer | null} */
let writer = null;
let hint = null;         /* selection before the input being handled, UTF-16 */
let compStart = -1;      /* where the running composition started */

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
    const kept = await outbox.records(docId).catch(() => []);
    const clientId = await C.claimClientId(storage, navigator.locks, kept.map((r) => r.client));
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    /* ?doc= is for a proxy in front of a cluster: it keeps one document's
     * editors on one node (docs/cluster.md); the server ignores it */
    const wsUrl = `${proto}//${location.host}/ws?doc=${encodeURIComponent(docId)}`;
    conn = new C.Connection({ url: wsUrl, clientId, name: nameInput.value.trim(), storage });
    window.chorus = { conn, outbox, get doc() { return doc; } }; /* for tests and the curious */
    const mine = kept.find((r) => r.client === clientId) || null;
    const base = mine ? await keptBase(mine) : null;
    history = initHistory({ docId, api, doc: () => doc, conn: () => conn, me: () => me, authors: () => authors });
    /* Authorship colours: the toggle, the tinted layer, the legend. */
    authors = initAuthors({ api, doc: () => doc, conn: () => conn, textarea: ta, history: () => history });
    conn.on('status', showStatus);
    conn.on('error', (e, d) => { if (!d && (e.code === 'unauthorized' || e.code === 'forbidden')) accessProblem(e.code); });
    conn.on('welcome', (m) => { if (!nameInput.value && m.user && m.user.name) nameInput.placeholder = m.user.name; showPeople(); });
    window.addEventListener('online', () => conn.retryNow());
    let lost = mine && base === null ? 'The document could not be read to put them back.' : '';
    try {
        doc = conn.open(docId, { share, restore: mine && base !== null ? { rec: mine, base } : undefined });
    } catch {
        lost = 'They do not fit the document they were made on.';
        doc = conn.open(docId, { share });
    }
    writer = outbox.track(doc);
    if (lost) unsent(mine, null, lost);
    else if (doc.ready) onReady();
    doc.on('ready', onReady);
    authors.attach(doc);
    /* After the first join: joining may have just created the document. */
    if (me.mode === 'team' && me.user) {
        if (doc.ready) initShare({ docId, api, title: () => title }); /* restored */
        else doc.on('ready', () => initShare({ docId, api, title: () => title }));
    }
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
        if (doc.restored && RESTORE_FAILS[e.code]) unsent(mine, doc.text, RESTORE_FAILS[e.code]);
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
    /* Unsaved edits are kept in IndexedDB once written: no need to ask. */
    const keeps = await outbox.available();
    window.addEventListener('beforeunload', (e) => {
        if (doc && !doc.saved && !(keeps && writer && writer.idle && !writer.held)) { e.preventDefault(); e.returnValue = ''; }
    });
    showStatus(conn.status);
}

/* ---- Edits kept from an earlier page (lib/outbox.js) ------------------- */

/* Why restored edits could not be applied, by the server's error code. */
const RESTORE_FAILS = {
    doc_trashed: 'The document was moved to the trash.',
    forbidden: 'You no longer have access to the document.',
    unauthorized: 'You are not logged in any more.',
    access_revoked: 'Your access to the document was taken away.',
    too_old: 'The document changed too much since they were made.',
    version_ahead: 'The document is not the one they were made on (it was deleted and made again).',
    bad_op: 'The server refused them.',
};

/* The server text the kept edits were made on: kept with them when the
 * page went offline, else read from the server. Resolves null when it
 * cannot be had (the document is gone or not ours to read); waits for the
 * network otherwise. */
async function keptBase(rec) {
    const local = await outbox.base(rec.doc, rec.client, rec.version).catch(() => null);
    if (local !== null) return local;
    for (let wait = 500; ; wait = Math.min(wait * 2, 10000)) {
        try {
            const r = await fetch(api('/text', { version: String(rec.version) }));
            if (r.ok) return await r.text();
            if (r.status >= 400 && r.status < 500) return null;
        } catch { /* offline: try again */ }
        notice('Waiting for the server to put back your unsaved changes…', 'retry');
        await new Promise((res) => setTimeout(res, wait));
    }
}

/* Kept edits cannot be applied: say so, offer the text as it was with
 * them for copying, and drop them only when the user says so. */
function unsent(rec, text, why) {
    if (writer) writer.hold();
    const box = $('unsent');
    if (!box || !box.hidden) return;
    const typed = [rec.inflight, rec.buffer || []].flat().filter((c) => typeof c === 'string').join('');
    $('unsent-why').textContent = 'Changes you made earlier on this document were never saved, and cannot be now. ' + why +
        ' Copy them below before you dismiss this.';
    $('unsent-text').value = text === null ? typed : text;
    box.hidden = false;
    $('unsent-copy').onclick = () => { $('unsent-text').select(); navigator.clipboard.writeText($('unsent-text').value).catch(() => document.execCommand('copy')); };
    $('unsent-dismiss').onclick = async () => {
        await outbox.remove(rec.doc, rec.client).catch(() => {});
        box.hidden = true;
        /* Edits made since on the server's text are kept again; a document
         * that is gone keeps the dropped ones in the page only. */
        if (writer && doc.joined && !doc.restored) { writer.held = false; doc.emit('unsent'); }
    };
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
    index.reset(shown);
    mirror.drop();
    ta.value = shown;
    ta.disabled = false;
    ta.focus();
    ta.setSelectionRange(0, 0);
    sendCursor();
    scheduleOverlay();
    showSaved(doc.saved);
}

/* ---- Local edits ----------------------------------------------------- */

/* The change is looked for between the selection before the input (and
 * the start of a composition) and the caret after it; changedRange checks
 * that guess and scans everything only if it was wrong. */
function onInput() {
    if (applying || composing || !doc || !doc.ready) return;
    const value = ta.value;
    const caret = ta.selectionEnd;
    let lo = 0, hi = value.length;
    if (hint) {
        const delta = value.length - shown.length;
        lo = Math.min(hint.start, caret, compStart < 0 ? Infinity : compStart) - 16;
        hi = Math.max(caret, hint.end + delta) + 16;
    }
    hint = null;
    compStart = -1;
    const ch = changedRange(shown, value, lo, hi, caret);
    if (!ch) return;
    const op = [];
    C.pushRetain(op, index.utf16ToCp(shown, ch.at));
    C.pushInsert(op, ch.inserted);
    C.pushDelete(op, cpLength(shown.slice(ch.at, ch.at + ch.removed)));
    setShown(value, ch.at, ch.removed, ch.inserted.length);
    localEdit(op);
}

/* 'shown' becomes 'text': 'removed' units at 'at' became 'added' units. */
function setShown(text, at, removed, added) {
    shown = text;
    index.splice(text, at, removed, added);
    mirror.splice(text, at, removed, added);
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
    if (op.length === 0) return;
    let locate;
    try {
        locate = locator(pre, op, doc.textIx);
        doc.edit(op);
    } catch (e) { /* refused (read-only): show the document as it is */
        revertTextarea();
        notice(e.message);
        return;
    }
    undo.record(op, pre, locate);
    sendCursor();
    if (doc.peers.size) scheduleOverlay();
}

function revertTextarea() {
    const at = Math.min(ta.selectionStart, doc.text.length);
    ta.value = shown = doc.text;
    index.reset(shown);
    mirror.drop();
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
    window.dispatchEvent(new CustomEvent('chorus:remote', { detail: { t: performance.timeOrigin + performance.now() } }));
}

/* Apply 'op' (code points, on 'shown', which the textarea holds) in place:
 * each range it changes becomes one setRangeText, last first so that the
 * earlier positions hold, and the rest of the text is not touched. The
 * selection stays where the user's text moved to, the scroll position
 * stays. 'own' (undo/redo): the selection goes to the end of the change. */
function applyToTextarea(op, own) {
    const dir = ta.selectionDirection;
    let a = index.utf16ToCp(shown, ta.selectionStart), b = index.utf16ToCp(shown, ta.selectionEnd);
    const scroll = ta.scrollTop, left = ta.scrollLeft;
    const edits = opRanges(shown, op, index);
    for (let k = edits.length - 1; k >= 0; k--) {
        const [from, to, s] = edits[k];
        replaceRange(from, to, s);
        setShown(shown.slice(0, from) + s + shown.slice(to), from, to - from, s.length);
    }
    /* The browser's editing may have put the text elsewhere than asked (it
     * keeps grapheme clusters whole: see clusterEdge): then the model wins.
     * Comparing is a memcmp of strings the page holds anyway. */
    if (ta.value !== shown) ta.value = shown;
    if (own) { a = b = C.caretAfter(op); } else {
        a = C.transformPos(a, op, C.LEFT);
        b = C.transformPos(b, op, C.LEFT);
    }
    ta.setSelectionRange(index.cpToUtf16(shown, a), index.cpToUtf16(shown, b), own ? 'none' : dir);
    if (!own) { ta.scrollTop = scroll; ta.scrollLeft = left; }
    scheduleOverlay();
}

/* Replace textarea units [from, to) with 's'. Focused, through the
 * browser's editing (execCommand): it changes the text node in place and
 * lays out again only the lines around, where setRangeText assigns the
 * whole value and lays the whole text out again (half a second on 1 MB).
 * The input events this fires are ours ('applying'); the caller puts the
 * selection and scroll position back. Unfocused, or for a long insert
 * (Chromium inserts line breaks one command each, quadratic in their
 * number: a 500 KB paste would take minutes), setRangeText. */
let applying = false;
const EXEC_MAX = 4096, EXEC_MAX_LINES = 32;
/* Characters that join the one before them into one grapheme cluster
 * (combining marks, ZWJ, variation selectors, skin tones, a low
 * surrogate): Chromium's editing moves a selection that splits a cluster
 * to the cluster's edge, so a change there goes through setRangeText. */
const JOINS = /[\p{M}\u200D\uFE0E\uFE0F\uDC00-\uDFFF]/u;
function clusterEdge(text, i) {
    return i > 0 && i < text.length && (JOINS.test(text[i]) || text[i - 1] === '\u200D');
}
function replaceRange(from, to, s) {
    const v = shown;
    if (document.activeElement === ta && s.length <= EXEC_MAX && s.split('\n').length <= EXEC_MAX_LINES &&
        !clusterEdge(v, from) && !clusterEdge(v, to) && !JOINS.test(s[0] || '') &&
        !(s && JOINS.test(v[to] || ''))) {
        const ro = ta.readOnly;
        applying = true;
        try {
            ta.readOnly = false; /* a viewer's page too */
            ta.setSelectionRange(from, to);
            const ok = s ? document.execCommand('insertText', false, s) : document.execCommand('delete');
            if (ok) return;
        } finally { applying = false; ta.readOnly = ro; }
    }
    ta.setRangeText(s, from, to, 'preserve');
}

/* ---- Presence -------------------------------------------------------- */

function sendCursor() {
    if (!doc || !doc.ready || composing) return;
    const s = index.utf16ToCp(shown, ta.selectionStart), e = index.utf16ToCp(shown, ta.selectionEnd);
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
 * (transparent) so its spans land exactly under the textarea's glyphs;
 * only the blocks holding a mark are drawn again (overlay.js). */
function drawOverlay() {
    const marks = [];
    for (const p of doc ? doc.peers.values() : []) {
        if (!p.cursor) continue;
        const a = index.cpToUtf16(shown, p.cursor.anchor), h = index.cpToUtf16(shown, p.cursor.head);
        marks.push({ from: Math.min(a, h), to: Math.max(a, h), head: h, color: tint(p.color), caret: () => caretEl(p) });
    }
    const w = ta.clientWidth + 'px';
    if (overlay.style.width !== w) overlay.style.width = w;
    mirror.draw(shown, marks);
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
ta.addEventListener('compositionstart', () => { composing = true; compStart = ta.selectionStart; });
ta.addEventListener('compositionend', () => {
    composing = false;
    /* Chrome fires 'input' before compositionend: sync here as well. */
    onInput();
    if (held) { /* nothing typed in the end: just catch up */
        const h = held;
        held = null;
        applyToTextarea(h);
    }
    sendCursor();
});
ta.addEventListener('beforeinput', (e) => {
    if (applying) return;
    if (!hint) hint = { start: ta.selectionStart, end: ta.selectionEnd };
    else hint = { start: Math.min(hint.start, ta.selectionStart), end: Math.max(hint.end, ta.selectionEnd) };
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
