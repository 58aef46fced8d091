// history.test.mjs -- the editor's history panel and escaping, in headless
// Chromium against the real binary (open mode): two pages whose user names
// and document title hold HTML/JS payloads show them as text everywhere
// (start page, who is here, remote carets, edit sessions) and no script
// runs; the history lists edit sessions with their authors, shows a
// session's diff, restores an old version (both pages end on its text),
// forks from it (a new document opens with the old text), and its downloads
// answer 200. Saves build/screenshot-history.png.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, launch, openEditor, buildDir } from './lib/harness.mjs';

const XSS_A = '<img src=x onerror=window.__xss=1>';
const XSS_B = '"><script>window.__xss=1</script>';
const TITLE = '<svg onload=window.__xss=1> & "T"';
let server, browser;

before(async () => {
    server = await new Server().start();
    browser = await launch();
});
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

const saved = (p) => p.waitForFunction(() => window.chorus.doc.saved && document.getElementById('saved').textContent === 'all changes saved');
const textIs = (p, t) => p.waitForFunction((x) => document.getElementById('text').value === x, t);
const noScript = async (p) => {
    assert.equal(await p.evaluate(() => window.__xss), undefined, 'no injected script ran');
    assert.equal(await p.$$eval('img[src=x], svg, script:not([src])', (x) => x.length), 0, 'no injected element');
};

test('payload names and titles are text; history sessions, diff, restore, fork and downloads', async () => {
    const doc = 'hist-view';
    const made = await fetch(server.url + '/api/docs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc, title: TITLE }) });
    assert.equal(made.status, 201);
    const a = await openEditor(browser, server, doc, XSS_A, { width: 1100, height: 640 });
    const b = await openEditor(browser, server, doc, XSS_B, { width: 1100, height: 640 });
    assert.equal(await a.$eval('#title', (e) => e.textContent), TITLE);
    assert.equal(await a.isHidden('#share-toggle'), true, 'no sharing dialog in open mode');

    // Three edit sessions: A, then B, then A again (a new user starts one).
    await a.click('#text');
    await a.keyboard.type('Shopping list:\nmilk\n');
    await saved(a);
    await textIs(b, 'Shopping list:\nmilk\n');
    const v1 = await a.evaluate(() => window.chorus.doc.version);
    await b.click('#text');
    await b.keyboard.press('Control+End');
    await b.keyboard.type('bread\n');
    await saved(b);
    await textIs(a, 'Shopping list:\nmilk\nbread\n');
    await a.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(15, 19); });
    await a.keyboard.type('oat milk');
    await saved(a);
    const final = 'Shopping list:\noat milk\nbread\n';
    await textIs(b, final);

    // Names as text: who is here, the remote caret label.
    await b.waitForFunction((n) => [...document.querySelectorAll('.person')].some((p) => p.textContent === n), XSS_A);
    const aId = await a.evaluate(() => window.chorus.conn.clientId);
    await b.waitForFunction((id) => document.querySelector(`.caret[data-client="${id}"] .label`), aId);
    assert.equal(await b.$eval(`.caret[data-client="${aId}"] .label`, (e) => e.textContent), XSS_A);
    await a.waitForFunction((n) => [...document.querySelectorAll('.person')].some((p) => p.textContent === n), XSS_B);

    // The history: sessions newest first, with their authors as text.
    await b.click('#history-toggle');
    await b.waitForFunction(() => document.querySelectorAll('#sessions .session').length === 3);
    const names = await b.$$eval('#sessions .session .name', (els) => els.map((e) => e.textContent));
    assert.deepEqual(names, [XSS_A, XSS_B, XSS_A]);
    assert.ok(await b.isVisible(`#sessions .name >> text=${XSS_B}`));

    // B's session as a diff: "bread\n" inserted, nothing deleted.
    await b.click('#sessions .session:nth-child(2) button');
    await b.waitForFunction(() => document.getElementById('history-text').dataset.mode === 'diff' &&
        document.querySelector('#history-text ins'));
    // (an insert next to an equal character may be drawn at either place)
    assert.ok(['bread\n', '\nbread'].includes(await b.$eval('#history-text ins', (e) => e.textContent)));
    assert.equal(await b.$$eval('#history-text del', (e) => e.length), 0);
    assert.equal(await b.$eval('#history-text', (e) => e.textContent), 'Shopping list:\nmilk\nbread\n');
    // A's last session: "milk" replaced by "oat milk".
    await b.click('#sessions .session:nth-child(1) button');
    await b.waitForFunction(() => document.querySelector('#history-text ins')?.textContent.includes('oat'));
    await b.screenshot({ path: path.join(buildDir(), 'screenshot-history.png') });
    assert.equal(await b.$eval('#history-text', (e) => e.textContent.includes('Shopping list:\n')), true);

    // Downloads of the selected version and of the current one answer 200.
    const hrefs = await b.$$eval('#downloads a', (as) => as.map((x) => x.getAttribute('href')));
    assert.equal(hrefs.length, 10);
    for (const h of hrefs) {
        const r = await fetch(server.url + h);
        assert.equal(r.status, 200, h);
        await r.arrayBuffer();
    }
    assert.ok(hrefs.some((h) => /format=git/.test(h) && /version=/.test(h)));

    // The oldest session selected: restore its version.
    await b.click('#sessions .session:nth-child(3) button');
    await b.waitForFunction((v) => document.getElementById('history-text').dataset.version === String(v), v1);
    await noScript(a);
    await noScript(b);

    const old = await server.text(doc, v1);
    assert.equal(old, 'Shopping list:\nmilk\n');
    await b.click('#restore');
    await b.waitForFunction(() => /restored/.test(document.getElementById('history-msg').textContent));
    await textIs(a, old);
    await textIs(b, old);
    assert.equal(await server.text(doc), old);
    // A keeps editing after the restore arrived live.
    await a.click('#text');
    await a.keyboard.press('Control+End');
    await a.keyboard.type('eggs');
    await textIs(b, old + 'eggs');

    // Fork from version v1: a new document with the old text opens.
    await b.$eval('#history-slider', (e, x) => { e.value = String(x); e.dispatchEvent(new Event('input')); }, v1);
    await b.waitForFunction((v) => document.getElementById('history-text').dataset.version === String(v), v1);
    await Promise.all([b.waitForURL((u) => /\/d\//.test(u.pathname) && !u.pathname.endsWith('/' + doc)), b.click('#fork')]);
    await b.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    assert.equal(await b.$eval('#text', (e) => e.value), old);
    const forkId = await b.evaluate(() => window.chorus.doc.id);
    assert.equal(await server.text(forkId), old);
    assert.equal(await server.text(doc), old + 'eggs', 'the original is untouched');

    // The start page shows the payload title as text, and runs nothing.
    await b.goto(server.url + '/');
    await b.waitForSelector('#docs-body a');
    const titles = await b.$$eval('#docs-body a', (as) => as.map((x) => x.textContent));
    assert.ok(titles.includes(TITLE), JSON.stringify(titles));
    assert.ok(titles.some((t) => t.startsWith(TITLE + ' (fork')), JSON.stringify(titles));
    assert.ok(await b.isVisible(`#docs-body a >> text=${TITLE}`));
    await noScript(b);
    assert.deepEqual(a.errors || [], []);
    assert.deepEqual(b.errors || [], []);
    await a.context().close();
    await b.context().close();
});
