/* share.js -- the editor's sharing dialog (team mode, owners only): who has
 * which role on the document, giving and taking roles by user name, share
 * links for viewers or editors with an expiry, and revoking every link.
 *
 * The server enforces roles (docs/http.md); the dialog is shown only when
 * GET /api/docs/D/roles answers 200, i.e. to owners and admins. User names
 * and the title are written with textContent or as option values only. */

const $ = (id) => document.getElementById(id);
const ROLES = ['viewer', 'editor', 'owner'];

/** Offer the dialog when this user may manage 'docId'. 'ctx': {docId, api,
 * title() -> string}. Resolves to true when the Share button is shown. */
export async function initShare(ctx) {
    let r;
    try { r = await fetch(ctx.api('/roles')); } catch { return false; }
    if (!r.ok) return false; /* 403: not an owner; 401: not logged in */
    const dialog = $('share-dialog');
    const btn = $('share-toggle');
    btn.hidden = false;
    btn.addEventListener('click', () => open(ctx));
    $('share-give').addEventListener('click', () => give(ctx, $('share-user').value.trim(), $('share-user-role').value));
    $('link-create').addEventListener('click', () => createLink(ctx));
    $('link-copy').addEventListener('click', copyLink);
    $('link-revoke').addEventListener('click', () => revoke(ctx));
    $('share-close').addEventListener('click', () => dialog.close());
    return true;
}

function say(text, bad) {
    const el = $('share-msg');
    el.textContent = text;
    el.classList.toggle('error', !!bad);
}

async function json(r) {
    try { return await r.json(); } catch { return null; }
}

async function open(ctx) {
    $('share-doc').textContent = ctx.title();
    $('link-box').hidden = true;
    say('');
    $('share-dialog').showModal();
    await Promise.all([loadRoles(ctx), loadUsers()]);
}

async function loadRoles(ctx) {
    const r = await fetch(ctx.api('/roles'));
    const j = await json(r);
    if (!r.ok || !j) { say('Could not list the roles: the server answered ' + r.status, true); return; }
    const body = $('roles-body');
    body.replaceChildren();
    for (const { user, role } of j.roles || []) {
        const tr = document.createElement('tr');
        const name = document.createElement('td');
        name.className = 'user';
        name.textContent = user;
        const sel = document.createElement('select');
        sel.setAttribute('aria-label', 'Role of ' + user);
        for (const v of [...ROLES, 'none']) {
            const o = document.createElement('option');
            o.value = v;
            o.textContent = v === 'none' ? 'remove' : v;
            sel.appendChild(o);
        }
        sel.value = role;
        sel.addEventListener('change', () => give(ctx, user, sel.value));
        const cell = document.createElement('td');
        cell.appendChild(sel);
        tr.append(name, cell);
        body.appendChild(tr);
    }
    $('roles-empty').hidden = body.children.length > 0;
}

async function loadUsers() {
    const list = $('share-users');
    try {
        const r = await fetch('/api/users');
        const j = r.ok ? await json(r) : null;
        list.replaceChildren();
        for (const u of Array.isArray(j) ? j : []) {
            const o = document.createElement('option');
            o.value = u.name;
            list.appendChild(o);
        }
    } catch { /* names can still be typed */ }
}

async function give(ctx, user, role) {
    if (!user) { say('Type a user name first.', true); return; }
    const r = await fetch(ctx.api('/roles'), {
        method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, role }),
    });
    const j = await json(r);
    if (r.status === 404 && j && j.error === 'no_user') { say('There is no user named ' + user + '.', true); return; }
    if (!r.ok) { say('Could not change the role: ' + ((j && j.message) || r.status), true); return; }
    say(role === 'none' ? `${user} no longer has access.` : `${user} is now ${role}.`);
    $('share-user').value = '';
    await loadRoles(ctx);
}

async function createLink(ctx) {
    const role = $('link-role').value;
    const r = await fetch(ctx.api('/share'), {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ role, expires_in: Number($('link-expiry').value) }),
    });
    const j = await json(r);
    if (!r.ok || !j || typeof j.url !== 'string') { say('Could not create the link: ' + ((j && j.message) || r.status), true); return; }
    const url = new URL(j.url, location.origin).href;
    $('link-url').value = url;
    $('link-box').hidden = false;
    $('link-url').select();
    const until = new Date(j.expires).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
    say(`Anyone with this link ${role === 'editor' ? 'can edit' : 'can view'} until ${until}.`);
}

async function copyLink() {
    const input = $('link-url');
    try {
        await navigator.clipboard.writeText(input.value);
        say('Link copied.');
    } catch {
        input.select();
        say('Press Ctrl+C to copy the selected link.');
    }
}

async function revoke(ctx) {
    const r = await fetch(ctx.api('/share/revoke'), { method: 'POST' });
    if (!r.ok) { say('Could not revoke the links: the server answered ' + r.status, true); return; }
    $('link-box').hidden = true;
    say('Every share link made so far no longer works.');
}
