// preview.test.mjs -- the editor's Markdown preview in headless Chromium
// against the real chorus binary: headings, lists, task lists, tables and
// code render; hostile text (script, javascript: links, img onerror, data:
// URLs, raw HTML) runs nothing and makes no element outside the allow-list;
// the view is remembered across a reload; the split view follows another
// page's edits live; Korean IME composition works in split mode; the
// shortcuts switch views. Saves build/screenshots/split-view.png (light)
// and split-view-dark.png.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { Server, launch, openEditor, buildDir } from './lib/harness.mjs';

const SEED = Date.now() % 1e9;
let server, browser;

before(async () => {
    server = await new Server().start();
    browser = await launch();
});
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

function shots() {
    const d = path.join(buildDir(), 'screenshots');
    mkdirSync(d, { recursive: true });
    return d;
}

/* Replace the whole text through the textarea (one input event). */
async function setText(page, text) {
    await page.evaluate((t) => {
        const ta = document.getElementById('text');
        ta.focus();
        ta.select();
        document.execCommand('insertText', false, t);
    }, text);
}

/* Wait until the preview is shown, rendered, and holds 'selector'. */
async function rendered(page, selector) {
    await page.waitForFunction((sel) => {
        const p = document.getElementById('preview');
        return !p.hidden && p.dataset.rendered && p.querySelector(sel);
    }, selector);
}

async function settle(pages, doc) {
    for (let i = 0; i < 200; i++) {
        const texts = await Promise.all(pages.map((p) => p.evaluate(() => window.chorus.doc.saved && document.getElementById('text').value)));
        const server_ = await server.text(doc);
        if (texts.every((t) => t === server_)) return server_;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('pages did not converge');
}

const SAMPLE = [
    '# Title one',
    '',
    '## Second level',
    '',
    'Some *emphasis*, **strong** and `code`, a [link](https://example.com/x) and <b>raw</b>.',
    '',
    '- apples',
    '- pears',
    '',
    '1. first',
    '2. second',
    '',
    '- [ ] to do',
    '- [x] done',
    '',
    '| Name | Qty |',
    '|:-----|----:|',
    '| tea  |   2 |',
    '| 한글 😀 | 3 |',
    '',
    '```js',
    'const x = "<script>1</script>";',
    '```',
    '',
    '> quoted',
].join('\n');

test('the preview renders headings, lists, task lists, tables and code', async () => {
    const doc = 'md-' + SEED;
    const a = await openEditor(browser, server, doc, 'Writer', { width: 1200, height: 800 });
    await a.click('#view-split');
    await setText(a, SAMPLE);
    await rendered(a, 'blockquote');
    const got = await a.evaluate(() => {
        const p = document.getElementById('preview');
        const q = (s) => [...p.querySelectorAll(s)];
        return {
            h1: q('h1').map((e) => e.textContent), h2: q('h2').map((e) => e.textContent),
            ul: q('ul:not(:has(.task)) > li').map((e) => e.textContent),
            ol: q('ol > li').map((e) => e.textContent),
            tasks: q('li.task').map((e) => [e.textContent.trim(), e.querySelector('input').checked, e.querySelector('input').disabled]),
            th: q('th').map((e) => e.textContent), td: q('td').map((e) => e.textContent),
            align: q('th').map((e) => e.style.textAlign),
            code: q('pre > code').map((e) => [e.className, e.textContent]),
            inline: q('p > code').map((e) => e.textContent),
            em: q('em').length, strong: q('strong').length,
            link: q('a').map((e) => [e.getAttribute('href'), e.rel]),
            raw: p.querySelector('b') === null && p.textContent.includes('<b>raw</b>'),
            pressed: ['edit', 'split', 'preview'].map((v) => document.getElementById('view-' + v).getAttribute('aria-pressed')),
        };
    });
    assert.deepEqual(got.h1, ['Title one']);
    assert.deepEqual(got.h2, ['Second level']);
    assert.deepEqual(got.ul, ['apples', 'pears']);
    assert.deepEqual(got.ol, ['first', 'second']);
    assert.deepEqual(got.tasks, [['to do', false, true], ['done', true, true]]);
    assert.deepEqual(got.th, ['Name', 'Qty']);
    assert.deepEqual(got.td, ['tea', '2', '한글 😀', '3']);
    assert.deepEqual(got.align, ['left', 'right']);
    assert.deepEqual(got.code, [['language-js', 'const x = "<script>1</script>";\n']]);
    assert.deepEqual(got.inline, ['code']);
    assert.equal(got.em, 1);
    assert.equal(got.strong, 1);
    assert.deepEqual(got.link, [['https://example.com/x', 'noopener noreferrer nofollow']]);
    assert.ok(got.raw, 'raw HTML is shown as text');
    assert.deepEqual(got.pressed, ['false', 'true', 'false']);
    await a.screenshot({ path: path.join(shots(), 'split-view.png') });
    const dark = await browser.newContext({ viewport: { width: 1200, height: 800 }, colorScheme: 'dark' });
    const d = await dark.newPage();
    await d.goto(`${server.url}/d/${doc}`);
    await d.evaluate(() => localStorage.setItem('chorus.view', 'split'));
    await d.reload();
    await d.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    await rendered(d, 'blockquote');
    await d.screenshot({ path: path.join(shots(), 'split-view-dark.png') });
    await dark.close();
    assert.deepEqual(a.errors || [], []);
    await a.context().close();
});
