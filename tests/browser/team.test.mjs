// team.test.mjs -- the start page and editor against the real binary in team
// mode (--auth on): log in on the start page, create and edit a document;
// a guest with a viewer share link sees the text live but cannot change it;
// a guest with an editor share link edits.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Server, BIN, launch } from './lib/harness.mjs';

let server, browser;
before(async () => {
    server = new Server(['--auth', 'on']);
    execFileSync(BIN, ['user', 'add', 'ann', '--data', server.data], { input: 'correct horse 1\n', stdio: ['pipe', 'ignore', 'pipe'] });
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
