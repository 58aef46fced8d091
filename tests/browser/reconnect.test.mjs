// reconnect.test.mjs -- a page keeps typing while the real server is killed
// and started again on the same port and data directory: nothing typed is
// lost, the page shows that it is reconnecting, reconnects by itself, and
// "all changes saved" returns; a second page ends with the same text.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launch, openEditor } from './lib/harness.mjs';

let server, browser;
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

const state = (page) => page.evaluate(() => ({
    text: document.getElementById('text').value,
    saved: window.chorus.doc.saved,
    status: document.getElementById('status').textContent,
    label: document.getElementById('saved').textContent,
}));

async function typeLine(page, prefix, n) {
    let s = '';
    for (let i = 0; i < n; i++) {
        const ch = i % 7 === 6 ? '한' : i % 11 === 10 ? '😀' : String.fromCharCode(97 + (i % 26));
        await page.keyboard.type(ch);
        s += ch;
        await page.waitForTimeout(15);
    }
    await page.keyboard.press('Enter');
    return prefix + s + '\n';
}

for (const signal of ['SIGKILL', 'SIGTERM']) {
    test(`typing goes on while the server is stopped (${signal}) and restarted: nothing is lost`, async () => {
        server = server || await new Server().start();
        browser = browser || await launch();
        const doc = 'reconnect-' + signal;
        const a = await openEditor(browser, server, doc, 'Typist');
        const b = await openEditor(browser, server, doc, 'Watcher');
        await a.click('#text');
        let expect = await typeLine(a, '', 30);
        const stopped = server.stop(signal);
        expect = await typeLine(a, expect, 30);
        await stopped;
        await a.waitForFunction(() => ['reconnecting', 'offline'].includes(document.getElementById('status').textContent));
        const down = await state(a);
        assert.equal(down.saved, false);
        assert.match(down.label, /unsaved/);
        expect = await typeLine(a, expect, 20);
        await server.start();
        expect = await typeLine(a, expect, 30);
        await a.waitForFunction(() => document.getElementById('status').textContent === 'connected' &&
            document.getElementById('saved').textContent === 'all changes saved', null, { timeout: 20000 });
        const st = await state(a);
        assert.equal(st.text, expect);
        assert.equal(await server.text(doc), expect);
        await b.waitForFunction((t) => document.getElementById('text').value === t, expect, { timeout: 20000 });
        assert.equal((await state(b)).status, 'connected');
        assert.deepEqual(a.errors || [], []);
        await a.context().close();
        await b.context().close();
    });
}
