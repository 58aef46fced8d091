// workspace.test.mjs -- rename, trash and restore in headless Chromium
// against the real chorus binary (issue 19): a rename typed in one page's
// header is seen live by a second page; the start page deletes with an undo
// notice, and the Trash view restores; an editor open on a document moved
// to the trash is told so and made read-only; the search box shows results
// as one types, hostile text as text, matches in <mark>, and opens the
// selected result with the keyboard.
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

test('the search box: results as you type, marks, hostile text, keyboard', async () => {
    const editor = await openEditor(browser, server, 'srch', 'Sam');
    await editor.click('#text');
    await editor.keyboard.type('<img src=x onerror="window.pwned=1"> 배포일정 배포 "quoted"');
    await editor.waitForFunction(() => window.chorus.doc.saved);
    await api('PATCH', '/api/docs/srch', { title: '<b>배포</b> plan' });
    await api('POST', '/api/docs', { id: 'other', title: 'Unrelated' });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(server.url + '/');
    // the index catches up once the document is quiet (about 2.5 s)
    let n = 0;
    for (let i = 0; i < 40 && n === 0; i++) {
        await page.fill('#search', '');
        await page.type('#search', '배포');
        await page.waitForTimeout(400);
        n = await page.$$eval('#search-results li', (x) => x.length);
    }
    assert.equal(n, 1);
    const marks = await page.$$eval('#search-results mark', (m) => m.map((x) => x.textContent));
    assert.ok(marks.length >= 3 && marks.every((m) => m === '배포'), JSON.stringify(marks));
    const text = await page.textContent('#search-results li');
    assert.ok(text.includes('onerror="window.pwned=1"> 배포일정'), text);
    assert.ok(text.includes('<b>배포</b> plan'), text);
    assert.equal(await page.$$eval('#search-results img, #search-results b', (x) => x.length), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    await page.fill('#search', 'zzzz');
    await page.waitForSelector('#search-none:not([hidden])');
    await page.fill('#search', '');
    await page.type('#search', 'quoted');
    await page.waitForSelector('#search-results li[aria-selected="true"]');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/d/srch');
    assert.equal(page.errors, undefined);
    await ctx.close();
    await editor.context().close();
});
