// python_client.test.mjs -- two Python clients (clients/python, run by
// Debian's /usr/bin/python3 through tests/browser/python_driver.py) and a
// Chromium page edit one document at once: all end with the server's text.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { Server, launch, openEditor, ROOT } from './lib/harness.mjs';

const SEED = Number(process.env.CHORUS_SEED || 0) || (Date.now() % 1e9);
let server, browser;

before(async () => {
    server = await new Server().start();
    browser = await launch();
});
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

const PIECES = ['a', 'b', ' ', '한', '😀', '\n'];

test('two Python clients and a Chromium page converge', async () => {
    const doc = 'py-' + SEED;
    const page = await openEditor(browser, server, doc, 'Page');
    const py = spawn('/usr/bin/python3', [path.join(ROOT, 'tests/browser/python_driver.py'),
        server.url, doc, String(SEED), '60'], { stdio: ['pipe', 'pipe', 'inherit'] });
    /* listened for now: the driver may exit before the end of the test */
    const exited = new Promise((res) => py.on('exit', res));
    const lines = readline.createInterface({ input: py.stdout })[Symbol.asyncIterator]();
    assert.equal((await lines.next()).value, 'ready');
    let r = SEED >>> 0;
    const rnd = () => ((r = (r * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    for (let k = 0; k < 40; k++) {
        await page.evaluate((f) => {
            const ta = document.getElementById('text');
            const cps = [...ta.value];
            const i = cps.slice(0, Math.floor(f * (cps.length + 1))).join('').length;
            ta.focus();
            ta.setSelectionRange(i, i);
        }, rnd());
        const ch = PIECES[Math.floor(rnd() * PIECES.length)];
        if (ch === '\n') await page.keyboard.press('Enter');
        else await page.keyboard.type(ch);
    }
    let st;
    for (let i = 0; i < 200; i++) {
        st = await page.evaluate(() => ({ text: document.getElementById('text').value,
            saved: window.chorus.doc.saved }));
        if (st.saved) break;
        await new Promise((res) => setTimeout(res, 100));
    }
    py.stdin.write('done\n');
    const out = JSON.parse((await lines.next()).value);
    const srv = await server.text(doc);
    st = await page.evaluate(() => ({ text: document.getElementById('text').value,
        saved: window.chorus.doc.saved }));
    assert.ok(st.saved);
    assert.equal(out.a, srv);
    assert.equal(out.b, srv);
    assert.equal(st.text, srv);
    assert.equal(out.va, out.vb);
    assert.ok([...srv].length > 40, 'everyone typed: ' + JSON.stringify(srv));
    py.stdin.end();
    await exited;
    await page.context().close();
});
