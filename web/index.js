/* index.js -- the start page: list the documents, create one, open one,
 * move one to the trash (with an undo notice), the Trash view (restore),
 * and search as you type (debounced; matches marked with DOM nodes, never
 * HTML; arrow keys move through the results, Enter opens one).
 * Titles and ids come from users: they are only ever set as textContent. */
const $ = (id) => document.getElementById(id);

function when(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    const ago = (Date.now() - ms) / 1000;
    if (ago < 60) return 'just now';
    if (ago < 3600) return Math.floor(ago / 60) + ' min ago';
    if (ago < 86400) return Math.floor(ago / 3600) + ' h ago';
    return d.toLocaleString();
}

function docUrl(id) {
    return '/d/' + encodeURIComponent(id);
}

async function load() {
    let docs;
    try {
        const r = await fetch('/api/docs');
        if (!r.ok) throw new Error('the server answered ' + r.status);
        docs = await r.json();
    } catch (e) {
        $('list-error').textContent = 'Could not list the documents: ' + e.message;
        return;
    }
    docs.sort((a, b) => (b.updated || 0) - (a.updated || 0));
    const body = $('docs-body');
    body.replaceChildren();
    for (const d of docs) {
        const tr = document.createElement('tr');
        const title = document.createElement('td');
        const a = document.createElement('a');
        a.href = docUrl(d.id);
        a.textContent = d.title || d.id;
        title.appendChild(a);
        const id = document.createElement('td');
        id.className = 'muted';
        id.textContent = d.id;
        const ver = document.createElement('td');
        ver.textContent = String(d.version ?? '');
        const upd = document.createElement('td');
        upd.textContent = when(d.updated);
        if (d.updated) upd.title = new Date(d.updated).toLocaleString();
        const act = document.createElement('td');
        act.className = 'actions';
        const del = document.createElement('button');
        del.type = 'button';
        del.className = 'link delete';
        del.textContent = 'Delete';
        del.setAttribute('aria-label', 'Delete ' + (d.title || d.id));
        del.addEventListener('click', () => trash(d));
        act.appendChild(del);
        tr.append(title, id, ver, upd, act);
        body.appendChild(tr);
    }
    $('docs').hidden = docs.length === 0;
    $('empty').hidden = docs.length !== 0;
}

/* The error text of a failed answer. */
async function why(r) {
    try { const j = await r.json(); if (j && j.message) return j.message; } catch { /* not JSON */ }
    return 'the server answered ' + r.status;
}

let undoTimer = 0;

function showUndo(text, action) {
    clearTimeout(undoTimer);
    $('undo-text').textContent = text;
    $('undo').hidden = false;
    $('undo-button').onclick = async () => { hideUndo(); await action(); };
    undoTimer = setTimeout(hideUndo, 10000);
}

function hideUndo() {
    clearTimeout(undoTimer);
    $('undo').hidden = true;
}

async function restore(id) {
    const r = await fetch('/api/trash/' + encodeURIComponent(id) + '/restore', { method: 'POST' });
    if (!r.ok) { $('list-error').textContent = 'Could not restore it: ' + await why(r); return false; }
    return true;
}

async function trash(d) {
    $('list-error').textContent = '';
    const r = await fetch('/api/docs/' + encodeURIComponent(d.id), { method: 'DELETE' });
    if (!r.ok) { $('list-error').textContent = 'Could not delete it: ' + await why(r); return; }
    showUndo('“' + (d.title || d.id) + '” moved to the trash.', async () => { if (await restore(d.id)) load(); });
    load();
}

async function loadTrash() {
    const r = await fetch('/api/trash');
    if (!r.ok) { $('list-error').textContent = 'Could not list the trash: ' + await why(r); return; }
    const docs = await r.json();
    const body = $('trash-body');
    body.replaceChildren();
    for (const d of docs) {
        const tr = document.createElement('tr');
        const cells = [d.title || d.id, d.id, when(d.trashed)].map((t) => {
            const td = document.createElement('td');
            td.textContent = t;
            return td;
        });
        cells[1].className = 'muted';
        const act = document.createElement('td');
        act.className = 'actions';
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.className = 'link restore';
        btn.textContent = 'Restore';
        btn.setAttribute('aria-label', 'Restore ' + (d.title || d.id));
        btn.addEventListener('click', async () => { if (await restore(d.id)) loadTrash(); });
        act.appendChild(btn);
        tr.append(...cells, act);
        body.appendChild(tr);
    }
    $('trash-table').hidden = docs.length === 0;
    $('trash-empty').hidden = docs.length !== 0;
}

function showView(trashView) {
    $('show-docs').setAttribute('aria-pressed', String(!trashView));
    $('show-trash').setAttribute('aria-pressed', String(trashView));
    $('trash').hidden = !trashView;
    $('docs').hidden = trashView || $('docs-body').children.length === 0;
    $('empty').hidden = trashView || $('docs-body').children.length !== 0;
    if (trashView) loadTrash();
    else load();
}

/* ---- search */

/* 'text' as text nodes, with the code point spans of 'match' in <mark>. */
function marked(text, match) {
    const cps = [...text];
    const out = [];
    let at = 0;
    for (const [a, b] of match || []) {
        if (a < at || b > cps.length || a >= b) continue;
        if (a > at) out.push(document.createTextNode(cps.slice(at, a).join('')));
        const m = document.createElement('mark');
        m.textContent = cps.slice(a, b).join('');
        out.push(m);
        at = b;
    }
    if (at < cps.length) out.push(document.createTextNode(cps.slice(at).join('')));
    return out;
}

/* Where 'q' is in 'text', case-folded (code point spans). */
function spans(text, q) {
    const t = [...text].map((c) => c.toLowerCase());
    const k = [...q].map((c) => c.toLowerCase());
    const out = [];
    for (let i = 0; k.length && i + k.length <= t.length; i++) {
        if (k.every((c, j) => t[i + j] === c)) { out.push([i, i + k.length]); i += k.length - 1; }
    }
    return out;
}

let searchSeq = 0;
let searchTimer = 0;
let selected = -1;

function select(i) {
    const items = [...$('search-results').children];
    selected = items.length ? Math.max(0, Math.min(i, items.length - 1)) : -1;
    items.forEach((li, j) => li.setAttribute('aria-selected', String(j === selected)));
    if (selected >= 0) items[selected].scrollIntoView({ block: 'nearest' });
}

function showResults(q, hits) {
    const list = $('search-results');
    list.replaceChildren();
    for (const h of hits) {
        const li = document.createElement('li');
        li.setAttribute('role', 'option');
        li.dataset.id = h.id;
        const title = document.createElement('div');
        title.className = 'title';
        title.append(...marked(h.title || h.id, h.title ? spans(h.title, q) : []));
        li.appendChild(title);
        for (const sn of h.snippets || []) {
            const p = document.createElement('div');
            p.className = 'snippet';
            p.append(...marked(sn.text, sn.match));
            li.appendChild(p);
        }
        li.addEventListener('click', () => { location.href = docUrl(h.id); });
        list.appendChild(li);
    }
    $('search-none').hidden = !q || hits.length !== 0;
    select(0);
}

async function runSearch() {
    const q = $('search').value.trim();
    const seq = ++searchSeq;
    if (!q) { showResults('', []); return; }
    try {
        const r = await fetch('/api/search?' + new URLSearchParams({ q, limit: '20' }));
        if (seq !== searchSeq) return; /* a newer query went out */
        if (!r.ok) { $('list-error').textContent = 'Search failed: ' + await why(r); return; }
        const hits = await r.json();
        if (seq === searchSeq) showResults(q, hits);
    } catch (e) {
        if (seq === searchSeq) $('list-error').textContent = 'Search failed: ' + e.message;
    }
}

$('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 150);
});
$('search').addEventListener('keydown', (e) => {
    const items = $('search-results').children;
    if (e.key === 'ArrowDown') { e.preventDefault(); select(selected + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); select(selected - 1); }
    else if (e.key === 'Enter' && selected >= 0 && items[selected]) {
        e.preventDefault();
        location.href = docUrl(/** @type {HTMLElement} */ (items[selected]).dataset.id || '');
    } else if (e.key === 'Escape') { $('search').value = ''; showResults('', []); }
});

$('show-docs').addEventListener('click', () => showView(false));
$('show-trash').addEventListener('click', () => showView(true));

$('create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const err = $('create-error');
    err.textContent = '';
    const body = {};
    const title = $('new-title').value.trim();
    const id = $('new-id').value.trim();
    if (title) body.title = title;
    if (id) {
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id) || id[0] === '.') {
            err.textContent = 'An id is 1-64 of A-Z a-z 0-9 _ . - and does not start with a dot.';
            return;
        }
        body.id = id;
    }
    try {
        const r = await fetch('/api/docs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        if (r.status === 409) { err.textContent = 'That id is taken.'; return; }
        if (!r.ok) {
            let msg = 'the server answered ' + r.status;
            try { const j = await r.json(); if (j && j.message) msg = j.message; } catch { /* not JSON */ }
            err.textContent = 'Could not create it: ' + msg;
            return;
        }
        const d = await r.json();
        location.href = docUrl(d.id);
    } catch (ex) {
        err.textContent = 'Could not create it: ' + ex.message;
    }
});

/* Where to go after logging in: ?next= names an editor page of this
 * server (nothing else, so the parameter cannot send anyone elsewhere). */
function nextPage() {
    const n = new URLSearchParams(location.search).get('next') || '';
    return /^\/d\/[A-Za-z0-9_.%-]+(\?share=[A-Za-z0-9_.~%-]*)?$/.test(n) ? n : '';
}

/* Team mode: who is logged in; a login form when nobody is. */
async function start() {
    let me = { mode: 'open', user: null };
    try {
        const r = await fetch('/api/me');
        if (r.ok) me = await r.json();
    } catch { /* an older server: open mode */ }
    const team = me && me.mode === 'team';
    const user = me && me.user;
    $('login').hidden = !team || !!user;
    $('create').hidden = team && !user;
    $('me').hidden = !team || !user;
    $('views').hidden = team && !user;
    $('search-box').hidden = team && !user;
    if (user) $('me-name').textContent = 'Logged in as ' + user.name;
    if (user && nextPage()) { location.replace(nextPage()); return; }
    if (team && !user) {
        $('list-error').textContent = '';
        $('login-why').hidden = !nextPage();
        $('login-name').focus();
        return;
    }
    load();
}

$('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const err = $('login-error');
    err.textContent = '';
    try {
        const r = await fetch('/api/login', {
            method: 'POST', headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ name: $('login-name').value, password: $('login-password').value }),
        });
        if (r.status === 401) { err.textContent = 'Wrong name or password.'; return; }
        if (r.status === 429) { err.textContent = 'Too many attempts: wait a few minutes.'; return; }
        if (!r.ok) { err.textContent = 'Could not log in: the server answered ' + r.status; return; }
        $('login-password').value = '';
        start();
    } catch (ex) {
        err.textContent = 'Could not log in: ' + ex.message;
    }
});

$('logout').addEventListener('click', async () => {
    await fetch('/api/logout', { method: 'POST' }).catch(() => {});
    $('docs-body').replaceChildren();
    $('docs').hidden = true;
    start();
});

start();
