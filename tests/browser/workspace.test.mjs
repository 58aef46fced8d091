// workspace.test.mjs -- rename, trash and restore in headless Chromium
// against the real chorus binary (issue 19): a rename typed in one page's
// header is seen live by a second page; the start page deletes with an undo
// notice, and the Trash view restores; an editor open on a document moved
// to the trash is told so and made read-only.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launch, openEditor } from './lib/harness.mjs';

let server, browser;

before(async () => {
    server = await new Server().start();
    browser = await launch();
});
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

async function api(method, path, body) {
    const r = await fetch(server.url + path, {
        method, headers: body ? { 'Content-Type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: await r.json() };
}

test('a rename in one page header is seen live by a second page', async () => {
    const a = await openEditor(browser, server, 'ren', 'Ann');
    const b = await openEditor(browser, server, 'ren', 'Ben');
    await a.click('#title');
    await a.fill('#title-input', '<b>회의록</b> "notes"');
    await a.press('#title-input', 'Enter');
    const want = '<b>회의록</b> "notes"';
    await b.waitForFunction((t) => document.getElementById('title').textContent === t, want);
    assert.equal(await b.title(), want + ' - Chorus');
    assert.equal(await b.$$eval('#title b', (x) => x.length), 0, 'the title is text, never HTML');
    assert.equal((await api('GET', '/api/docs/ren')).body.title, want);
    // Escape cancels
    await b.click('#title');
    await b.fill('#title-input', 'nope');
    await b.press('#title-input', 'Escape');
    assert.equal(await b.textContent('#title'), want);
    assert.deepEqual([a.errors, b.errors], [undefined, undefined]);
    await a.context().close();
    await b.context().close();
});

test('delete with undo on the start page, then restore from the Trash view', async () => {
    await api('POST', '/api/docs', { id: 'gone', title: 'To be deleted' });
    await api('POST', '/api/docs', { id: 'kept', title: 'Kept' });
    const editor = await openEditor(browser, server, 'gone', 'Eve');
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(server.url + '/');
    await page.click('button[aria-label="Delete To be deleted"]');
    await page.waitForSelector('#undo:not([hidden])');
    await page.waitForFunction(() => ![...document.querySelectorAll('#docs-body a')].some((a) => a.textContent === 'To be deleted'));
    // the open editor is told and made read-only
    await editor.waitForFunction(() => document.getElementById('notice').textContent.includes('trash'));
    assert.equal(await editor.$eval('#text', (t) => t.readOnly), true);
    await page.click('#undo-button');
    await page.waitForFunction(() => [...document.querySelectorAll('#docs-body a')].some((a) => a.textContent === 'To be deleted'));
    assert.equal((await api('GET', '/api/docs/gone')).status, 200);
    // delete again, let the notice be, restore from the Trash view
    await page.click('button[aria-label="Delete To be deleted"]');
    await page.waitForFunction(() => ![...document.querySelectorAll('#docs-body a')].some((a) => a.textContent === 'To be deleted'));
    await page.click('#show-trash');
    await page.waitForSelector('button[aria-label="Restore To be deleted"]');
    assert.equal(await page.isHidden('#docs'), true);
    await page.click('button[aria-label="Restore To be deleted"]');
    await page.waitForSelector('#trash-empty:not([hidden])');
    await page.click('#show-docs');
    await page.waitForFunction(() => [...document.querySelectorAll('#docs-body a')].some((a) => a.textContent === 'To be deleted'));
    assert.equal(page.errors, undefined);
    await ctx.close();
    await editor.context().close();
});
