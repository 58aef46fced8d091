/* history.js -- the editor's history panel: a slider over versions, the
 * document's edit sessions (newest first, paged) with their authors, the
 * diff of a selected session, restore, fork and the download menu.
 *
 * Everything comes from the HTTP API (docs/history.md): /text?version=N,
 * /sessions?order=desc, /restore, /fork, /export. A session's diff is
 * chorus.js's diff() of the text before and after it, drawn as <del>/<ins>
 * spans. Invariant: user-supplied strings (names, texts) are only ever
 * written as text nodes or textContent, never parsed as HTML. */
import * as C from '/chorus.js';

const $ = (id) => document.getElementById(id);
const EXPORTS = [['txt', 'Text'], ['md', 'Markdown'], ['html', 'HTML page'], ['json', 'History (JSON)'], ['git', 'git fast-import']];
const PAGE = 30;

/** Wire the panel. 'ctx': {docId, api(rest, params), doc() -> Doc,
 * conn() -> Connection, me() -> {mode, user}, authors() -> the authorship
 * view (authors.js) or null}. Returns {toggle, follow, refresh}:
 * toggle() opens or closes the panel, follow() is called on every change
 * of the document (keeps the slider's range and the session list fresh),
 * refresh() draws the version shown again (the Authors toggle changed). */
export function initHistory(ctx) {
    const slider = $('history-slider');
    const pre = $('history-text');
    let timer = null, refreshTimer = null, listedAt = -1;
    let selected = null;   /* the session shown as a diff, or null */
    let next = null;       /* before= of the next (older) page of sessions */
    let loadSeq = 0;

    const isOpen = () => !$('history').hidden;
    const version = () => Number(slider.value);

    function message(text, bad) {
        const el = $('history-msg');
        el.textContent = text;
        el.classList.toggle('error', !!bad);
    }

    function toggle() {
        const panel = $('history');
        panel.hidden = !panel.hidden;
        $('history-toggle').setAttribute('aria-pressed', String(!panel.hidden));
        if (panel.hidden) return;
        slider.max = String(ctx.doc().version);
        slider.value = slider.max;
        selected = null;
        message('');
        showVersion();
        loadSessions(false);
    }

    function follow() {
        if (!isOpen()) return;
        const atEnd = slider.value === slider.max && !selected;
        slider.max = String(ctx.doc().version);
        $('history-of').textContent = 'of ' + slider.max;
        if (atEnd && slider.value !== slider.max) {
            slider.value = slider.max;
            clearTimeout(timer);
            timer = setTimeout(showVersion, 250);
        }
        if (ctx.doc().version !== listedAt) {
            clearTimeout(refreshTimer);
            refreshTimer = setTimeout(() => loadSessions(false), 1500);
        }
        $('restore').hidden = ctx.doc().readOnly;
    }

    /* ---- Versions and downloads --------------------------------------- */

    function showDownloads(v) {
        const box = $('downloads');
        box.replaceChildren();
        const link = (href, text) => {
            const a = document.createElement('a');
            a.href = href;
            a.download = ''; /* the server names the file */
            a.textContent = text;
            return a;
        };
        for (const [f, label] of EXPORTS) {
            const row = document.createElement('div');
            row.className = 'dl';
            const name = document.createElement('span');
            name.textContent = label;
            const cur = link(ctx.api('/export', { format: f }), 'current');
            cur.dataset.current = '1';
            row.append(name, link(ctx.api('/export', { format: f, version: v }), 'version ' + v), cur);
            box.appendChild(row);
        }
    }

    function header(v) {
        $('history-version').textContent = String(v);
        $('history-of').textContent = 'of ' + slider.max;
        showDownloads(v);
        $('restore').hidden = ctx.doc().readOnly;
    }

    async function fetchText(v) {
        const r = await fetch(ctx.api('/text', { version: v }));
        if (!r.ok) throw new Error(`version ${v} is not available (${r.status})`);
        return r.text();
    }

    /* The plain text at the slider's version. */
    async function showVersion() {
        const v = version();
        const seq = ++loadSeq;
        selected = null;
        markSelected();
        header(v);
        try {
            const text = await fetchText(v);
            if (seq !== loadSeq) return;
            const au = ctx.authors ? ctx.authors() : null;
            if (au && au.on()) {
                /* tinted by who wrote it: authors.js */
                const tinted = document.createElement('pre');
                await au.paint(tinted, text, v);
                if (seq !== loadSeq) return;
                pre.replaceChildren(...tinted.childNodes);
                pre.dataset.mode = 'authors';
            } else {
                pre.replaceChildren(document.createTextNode(text));
                pre.dataset.mode = 'text';
            }
            pre.dataset.version = String(v);
        } catch (e) {
            if (seq === loadSeq) pre.textContent = '(' + e.message + ')';
        }
    }

    /* ---- Sessions ------------------------------------------------------ */

    async function loadSessions(more) {
        const params = { order: 'desc', limit: PAGE };
        if (more && next !== null) params.before = next;
        const list = $('sessions');
        try {
            const r = await fetch(ctx.api('/sessions', params));
            if (!r.ok) throw new Error('the server answered ' + r.status);
            const j = await r.json();
            if (!more) { list.replaceChildren(); listedAt = j.version; }
            for (const s of j.sessions || []) list.appendChild(sessionItem(s));
            next = j.next ?? null;
            $('sessions-more').hidden = next === null;
            $('sessions-empty').hidden = list.children.length > 0;
            markSelected();
        } catch (e) {
            message('Could not load the edit sessions: ' + e.message, true);
        }
    }

    function when(ms) {
        const d = new Date(ms);
        const today = new Date().toDateString() === d.toDateString();
        return today ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
    }

    function sessionItem(s) {
        const li = document.createElement('li');
        li.className = 'session';
        li.dataset.from = String(s.from);
        li.dataset.to = String(s.to);
        const b = document.createElement('button');
        b.type = 'button';
        const who = document.createElement('span');
        who.className = 'who';
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.style.background = C.colorFor(String(s.user));
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = s.user || 'anonymous';
        who.append(dot, name);
        const meta = document.createElement('span');
        meta.className = 'meta';
        const add = document.createElement('span');
        add.className = 'add';
        add.textContent = '+' + s.added;
        const del = document.createElement('span');
        del.className = 'del';
        del.textContent = '\u2212' + s.removed;
        meta.append(document.createTextNode(when(s.start) + ' \u00b7 '), add, document.createTextNode(' '), del,
            document.createTextNode(` \u00b7 v${s.from + 1}\u2013${s.to}`));
        b.append(who, meta);
        b.title = `${s.ops} edits by ${s.user}, versions ${s.from + 1} to ${s.to}`;
        b.addEventListener('click', () => showSession(s));
        li.appendChild(b);
        return li;
    }

    function markSelected() {
        for (const li of $('sessions').children) {
            const on = !!selected && li.dataset.from === String(selected.from) && li.dataset.to === String(selected.to);
            li.classList.toggle('selected', on);
            li.firstChild.setAttribute('aria-pressed', String(on));
        }
    }

    /* The diff of session 's': the text before it against the text after. */
    async function showSession(s) {
        const seq = ++loadSeq;
        slider.value = String(s.to);
        header(s.to);
        selected = s;
        markSelected();
        try {
            const [before, after] = await Promise.all([fetchText(s.from), fetchText(s.to)]);
            if (seq !== loadSeq) return;
            drawDiff(before, after);
            pre.dataset.mode = 'diff';
            pre.dataset.version = String(s.to);
            pre.dataset.from = String(s.from);
        } catch (e) {
            if (seq === loadSeq) pre.textContent = '(' + e.message + ')';
        }
    }

    function drawDiff(before, after) {
        const op = C.diff(before, after);
        const frag = document.createDocumentFragment();
        let i = 0, ins = '', first = null;
        const span = (tag, text) => {
            const el = document.createElement(tag);
            el.textContent = text;
            frag.appendChild(el);
            first = first || el;
        };
        for (const c of op) {
            if (typeof c === 'string') { ins += c; continue; }
            const j = C.cpToUtf16(before.slice(i), Math.abs(c)) + i;
            if (c > 0) frag.appendChild(document.createTextNode(before.slice(i, j)));
            else span('del', before.slice(i, j));
            i = j;
        }
        if (ins) span('ins', ins);
        frag.appendChild(document.createTextNode(before.slice(i)));
        pre.replaceChildren(frag);
        if (!first) {
            const none = document.createElement('span');
            none.className = 'muted';
            none.textContent = '(no change to the text)';
            pre.prepend(none);
        } else first.scrollIntoView({ block: 'center' });
    }

    /* ---- Restore and fork ---------------------------------------------- */

    /* In open mode the server records the name sent; in team mode, the login. */
    function body(v) {
        const b = { version: v };
        const c = ctx.conn();
        const me = ctx.me();
        const name = c && c.user && c.user.name;
        if (me.mode !== 'team' && name) b.user = name.slice(0, 64);
        return JSON.stringify(b);
    }

    async function post(rest, v) {
        const r = await fetch(ctx.api(rest), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body(v) });
        let j = null;
        try { j = await r.json(); } catch { /* not JSON */ }
        return { r, j };
    }

    function failure(r, j, what) {
        if (r.status === 401) return `Log in to ${what}.`;
        if (r.status === 403) return `You may not ${what} (your role on this document does not allow it).`;
        return `Could not ${what}: ${(j && j.message) || 'the server answered ' + r.status}`;
    }

    async function restore() {
        const v = version();
        message('Restoring version ' + v + '…');
        try {
            const { r, j } = await post('/restore', v);
            if (!r.ok) { message(failure(r, j, 'restore'), true); return; }
            message(j.changed ? `Version ${v} restored: it is now version ${j.version}.` : `The text already equals version ${v}.`);
        } catch (e) { message('Could not restore: ' + e.message, true); }
    }

    async function fork() {
        const v = version();
        message('Forking from version ' + v + '…');
        try {
            const { r, j } = await post('/fork', v);
            if (!r.ok || !j || typeof j.id !== 'string') { message(failure(r, j, 'fork this document'), true); return; }
            location.assign('/d/' + encodeURIComponent(j.id));
        } catch (e) { message('Could not fork: ' + e.message, true); }
    }

    slider.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(showVersion, 60); });
    $('restore').addEventListener('click', restore);
    $('fork').addEventListener('click', fork);
    $('sessions-more').addEventListener('click', () => loadSessions(true));
    function refresh() {
        if (isOpen() && !selected) showVersion();
    }

    return { toggle, follow, refresh };
}
