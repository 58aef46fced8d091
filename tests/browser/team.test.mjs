// team.test.mjs -- the start page and editor against the real binary in team
// mode (--auth on): log in on the start page, create and edit a document;
// a guest with a viewer share link sees the text live but cannot change it;
// a guest with an editor share link edits. The editor's sharing dialog: an
// editor page reached without a session goes through the login form and
// back; the owner gives a role by user name and makes a viewer link that a
// guest opens read-only, then revokes it; a non-owner sees no dialog; a
// user name full of markup stays text; logging out from the editor works.
// Saves build/screenshot-share.png.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Server, BIN, launch, buildDir } from './lib/harness.mjs';

/* Account names may not hold < > or quotes: this one would turn into an
 * <img> tag if it were ever parsed as HTML (and says so when shown as text). */
const ODD = '&lt;img src=x onerror=window.__xss=1&gt; & Co';

let server, browser;
before(async () => {
    server = new Server(['--auth', 'on']);
    for (const [u, pw] of [['ann', 'correct horse 1'], [ODD, 'battery staple 2']]) {
        execFileSync(BIN, ['user', 'add', u, '--data', server.data], { input: pw + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
    }
    await server.start();
    browser = await launch();
});
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

const ready = (p) => p.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);

test('log in, create a document, edit it; share links for a viewer and an editor', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(server.url + '/');
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.isHidden('#create'), true);
    await page.fill('#login-name', 'ann');
    await page.fill('#login-password', 'wrong password');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.getElementById('login-error').textContent.includes('Wrong'));
    await page.fill('#login-password', 'correct horse 1');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#create:not([hidden])');
    assert.equal(await page.$eval('#me-name', (e) => e.textContent), 'Logged in as ann');
    await page.fill('#new-title', 'Team notes');
    await page.fill('#new-id', 'team-doc');
    await Promise.all([page.waitForURL(/\/d\/team-doc/), page.click('#create button[type=submit]')]);
    await ready(page);
    await page.click('#text');
    await page.keyboard.type('owner text');
    await page.waitForFunction(() => document.getElementById('saved').textContent === 'all changes saved');
    const share = async (role) => page.evaluate(async (r) => {
        const res = await fetch('/api/docs/team-doc/share', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ role: r }) });
        return (await res.json()).url;
    }, role);

    // A guest with a viewer link: sees the text and its changes, cannot edit.
    const vctx = await browser.newContext();
    const viewer = await vctx.newPage();
    await viewer.goto(server.url + await share('viewer'));
    await ready(viewer);
    assert.equal(await viewer.$eval('#text', (e) => e.value), 'owner text');
    await viewer.waitForFunction(() => document.getElementById('text').readOnly);
    assert.match(await viewer.$eval('#notice', (e) => e.textContent), /View only/);
    await viewer.click('#text');
    await viewer.keyboard.type('nope');
    await page.keyboard.type(' more');
    await viewer.waitForFunction(() => document.getElementById('text').value === 'owner text more');

    // A guest with an editor link edits, and the owner sees it.
    const ectx = await browser.newContext();
    const editor = await ectx.newPage();
    await editor.goto(server.url + await share('editor'));
    await ready(editor);
    await editor.click('#text');
    await editor.keyboard.press('End');
    await editor.keyboard.type('!');
    await page.waitForFunction(() => document.getElementById('text').value === 'owner text more!');
    await editor.waitForFunction(() => document.getElementById('saved').textContent === 'all changes saved');
    // The history view works through the share link too.
    await editor.click('#history-toggle');
    await editor.waitForFunction(() => document.getElementById('history-text').textContent === 'owner text more!');
    const text = await page.evaluate(() => fetch('/api/docs/team-doc/text').then((r) => r.text()));
    assert.equal(text, 'owner text more!');
    await vctx.close();
    await ectx.close();
    await ctx.close();
});

async function logIn(page, name, password) {
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.isVisible('#login-why'), true);
    await page.fill('#login-name', name);
    await page.fill('#login-password', password);
    await page.click('#login button[type=submit]');
}

test('sharing dialog: login round trip, roles by name, a viewer link, revoke, non-owners, logout', async () => {
    const doc = 'shared-doc';
    // No session: the editor sends us to the login form, which brings us back.
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const owner = await ctx.newPage();
    owner.on('pageerror', (e) => { owner.errors = (owner.errors || []).concat(String(e)); });
    await owner.goto(`${server.url}/d/${doc}`);
    await owner.waitForURL((u) => u.pathname === '/' && u.searchParams.get('next') === '/d/' + doc);
    await logIn(owner, 'ann', 'correct horse 1');
    await owner.waitForURL((u) => u.pathname === '/d/' + doc);
    await ready(owner);
    await owner.click('#text');
    await owner.keyboard.type('shared text');
    await owner.waitForFunction(() => window.chorus.doc.saved);

    // The owner's dialog: roles, give one by name, make a viewer link.
    await owner.waitForSelector('#share-toggle:not([hidden])');
    await owner.click('#share-toggle');
    await owner.waitForFunction(() => document.getElementById('share-dialog').open &&
        document.querySelectorAll('#roles-body tr').length === 1);
    assert.deepEqual(await owner.$$eval('#roles-body tr', (rs) => rs.map((r) => [r.cells[0].textContent, r.querySelector('select').value])), [['ann', 'owner']]);
    await owner.waitForFunction((n) => [...document.querySelectorAll('#share-users option')].some((o) => o.value === n), ODD);
    await owner.fill('#share-user', 'nobody-here');
    await owner.click('#share-give');
    await owner.waitForFunction(() => /no user named/.test(document.getElementById('share-msg').textContent));
    await owner.fill('#share-user', ODD);
    await owner.selectOption('#share-user-role', 'editor');
    await owner.click('#share-give');
    await owner.waitForFunction(() => document.querySelectorAll('#roles-body tr').length === 2);
    const rows = await owner.$$eval('#roles-body tr', (rs) => rs.map((r) => [r.cells[0].textContent, r.querySelector('select').value]));
    assert.ok(rows.some(([n, r]) => n === ODD && r === 'editor'), JSON.stringify(rows));
    assert.ok(await owner.isVisible(`#roles-body td >> text=${ODD}`));
    await owner.selectOption('#link-role', 'viewer');
    await owner.selectOption('#link-expiry', '86400');
    await owner.click('#link-create');
    await owner.waitForSelector('#link-box:not([hidden])');
    const link = await owner.$eval('#link-url', (e) => e.value);
    assert.ok(link.startsWith(`${server.url}/d/${doc}?share=`), link);
    await owner.screenshot({ path: path.join(buildDir(), 'screenshot-share.png') });

    // A browser without a login opens the link: it reads, it cannot type.
    const gctx = await browser.newContext();
    const guest = await gctx.newPage();
    await guest.goto(link);
    await ready(guest);
    assert.equal(await guest.$eval('#text', (e) => e.value), 'shared text');
    assert.equal(await guest.isHidden('#share-toggle'), true);
    await guest.click('#text');
    await guest.keyboard.type('x');
    await guest.waitForFunction(() => document.getElementById('text').readOnly &&
        !window.chorus.doc.resyncing && document.getElementById('text').value === 'shared text');
    await guest.keyboard.type('yz');
    assert.equal(await guest.$eval('#text', (e) => e.value), 'shared text');
    assert.equal(await owner.evaluate(() => fetch('/api/docs/shared-doc/text').then((r) => r.text())), 'shared text');

    // Revoke every link: the link no longer opens the document.
    await owner.click('#link-revoke');
    await owner.waitForFunction(() => /no longer works/.test(document.getElementById('share-msg').textContent));
    await owner.click('#share-close');
    await guest.reload();
    await guest.waitForFunction(() => /does not work any more/.test(document.getElementById('notice').textContent));
    assert.equal(await guest.evaluate(() => window.chorus.doc.ready), false);
    assert.equal(await guest.isVisible('#login-link'), true);

    // The other user (an editor, not an owner): logs in, edits, no dialog;
    // the owner sees the name as text in who is here and in the history.
    const octx = await browser.newContext();
    const other = await octx.newPage();
    await other.goto(`${server.url}/d/${doc}`);
    await logIn(other, ODD, 'battery staple 2');
    await other.waitForURL((u) => u.pathname === '/d/' + doc);
    await ready(other);
    await other.click('#text');
    await other.keyboard.press('End');
    await other.keyboard.type('!');
    await owner.waitForFunction(() => document.getElementById('text').value === 'shared text!');
    await owner.waitForFunction((n) => [...document.querySelectorAll('.person')].some((p) => p.textContent === n), ODD);
    assert.equal(await other.isHidden('#share-toggle'), true);
    await owner.click('#history-toggle');
    await owner.waitForFunction((n) => [...document.querySelectorAll('#sessions .name')].some((e) => e.textContent === n), ODD);
    for (const p of [owner, other, guest]) {
        assert.equal(await p.evaluate(() => window.__xss), undefined);
        assert.equal(await p.$$eval('img', (x) => x.length), 0);
    }

    // Log out from the editor: back to the start page's login form.
    await Promise.all([owner.waitForURL((u) => u.pathname === '/'), owner.click('#logout')]);
    await owner.waitForSelector('#login:not([hidden])');
    assert.deepEqual(owner.errors || [], []);
    await gctx.close();
    await octx.close();
    await ctx.close();
});
