/* index.js -- the start page: list the documents, create one, open one.
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
        tr.append(title, id, ver, upd);
        body.appendChild(tr);
    }
    $('docs').hidden = docs.length === 0;
    $('empty').hidden = docs.length !== 0;
}

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
