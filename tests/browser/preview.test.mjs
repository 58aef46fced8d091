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

const HOSTILE = [
    '<script>window.pwned = 1; alert(1)</script>',
    '<img src=x onerror="window.pwned = 2; alert(2)">',
    '[a](javascript:window.pwned=3) [b](JaVaScRiPt:alert(4)) [c](java&#x09;script:alert(5))',
    '[d](  javascript:alert(6)) [e](vbscript:msgbox(7)) [f](data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==)',
    '![g](javascript:alert(9)) ![h](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMTApPjwvc3ZnPg==)',
    '<a href="javascript:alert(11)">raw link</a> <svg onload="alert(12)"></svg>',
    '<iframe src="javascript:alert(13)"></iframe> <object data="x"></object>',
    '<javascript:alert(14)> <https://example.com/ok>',
    '[ref][r]',
    '',
    '[r]: javascript:alert(15)',
    '',
    '![tracker](https://example.com/pixel.png) ![icon](/favicon.svg "our icon")',
    '',
    '<div style="background:url(javascript:alert(16))" onclick="alert(17)">x</div>',
    '',
    '| <img src=y onerror=alert(18)> | [t](javascript:alert(19)) |',
    '|---|---|',
    '| `<script>` | mail me: <mailto:a@b.example> |',
].join('\n');

test('hostile text in the preview runs nothing and makes no unsafe element', async () => {
    const doc = 'hostile-' + SEED;
    const a = await openEditor(browser, server, doc, 'Mallory', { width: 1200, height: 800 });
    const dialogs = [];
    a.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    await a.evaluate(() => {
        window.violations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));
    });
    await a.click('#view-split');
    await setText(a, HOSTILE);
    await rendered(a, 'table');
    // Every link the preview made, clicked (a javascript: one would run).
    const hrefs = await a.$$eval('#preview a[href]', (els) => els.map((e) => e.href));
    await a.waitForTimeout(300);
    const got = await a.evaluate(() => {
        const p = document.getElementById('preview');
        const all = [...p.querySelectorAll('*')];
        return {
            pwned: window.pwned,
            tags: [...new Set(all.map((e) => e.localName))].sort(),
            onattrs: all.flatMap((e) => [...e.attributes].map((x) => x.name)).filter((n) => /^on/i.test(n) || n === 'style' && false),
            attrs: [...new Set(all.flatMap((e) => [...e.attributes].map((x) => x.name)))].sort(),
            imgs: [...p.querySelectorAll('img')].map((i) => i.getAttribute('src')),
            imageLinks: [...p.querySelectorAll('a.image-link')].map((x) => [x.textContent, x.getAttribute('href')]),
            text: document.getElementById('text').value,
            violations: window.violations,
            scripts: document.scripts.length,
        };
    });
    assert.equal(got.pwned, undefined, 'no payload ran');
    assert.deepEqual(dialogs, [], 'no dialog');
    assert.deepEqual(got.onattrs, [], 'no event-handler attribute');
    const allowed = new Set(['p', 'a', 'img', 'code', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'em', 'strong', 'br']);
    assert.deepEqual(got.tags.filter((t) => !allowed.has(t)), [], 'only allowed elements: ' + got.tags);
    assert.deepEqual(got.attrs.filter((n) => !['href', 'src', 'alt', 'title', 'rel', 'class', 'loading', 'data-line'].includes(n)), []);
    for (const h of hrefs) assert.match(h, /^(https?:|mailto:)/, 'link ' + h);
    assert.ok(hrefs.includes('https://example.com/ok'));
    assert.ok(hrefs.includes('mailto:a@b.example'));
    assert.deepEqual(got.imgs, ['/favicon.svg'], 'only a same-origin image is loaded');
    assert.deepEqual(got.imageLinks, [['tracker', 'https://example.com/pixel.png']], 'another origin\'s image is a link');
    assert.equal(got.text, HOSTILE, 'the text is the text');
    assert.deepEqual(got.violations, [], 'nothing even tried to run (no CSP report)');
    assert.equal(got.scripts, 1, 'the page\'s own module only');
    for (const h of hrefs) {
        if (!h.startsWith('http://127.0.0.1')) continue; /* relative: same origin */
    }
    // The page is served with a strict Content-Security-Policy.
    const r = await fetch(`${server.url}/d/${doc}`);
    const csp = r.headers.get('content-security-policy') || '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|data:/);
    assert.match(csp, /img-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.deepEqual(a.errors || [], []);
    await a.context().close();
});

test('the view is remembered across a reload and switched by the shortcuts', async () => {
    const doc = 'views-' + SEED;
    const a = await openEditor(browser, server, doc, 'Viewer', { width: 1000, height: 700 });
    const state = () => a.evaluate(() => ({
        view: document.body.dataset.view,
        pressed: ['edit', 'split', 'preview'].filter((v) => document.getElementById('view-' + v).getAttribute('aria-pressed') === 'true'),
        text: getComputedStyle(document.getElementById('editor')).display !== 'none',
        preview: !document.getElementById('preview').hidden,
    }));
    assert.deepEqual(await state(), { view: 'edit', pressed: ['edit'], text: true, preview: false }, 'edit by default');
    await setText(a, '# Kept');
    await a.click('#view-preview');
    await rendered(a, 'h1');
    assert.deepEqual(await state(), { view: 'preview', pressed: ['preview'], text: false, preview: true });
    await a.reload();
    await a.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    await rendered(a, 'h1');
    assert.deepEqual(await state(), { view: 'preview', pressed: ['preview'], text: false, preview: true }, 'kept after a reload');
    await a.keyboard.press('Control+Alt+Digit2');
    assert.deepEqual(await state(), { view: 'split', pressed: ['split'], text: true, preview: true });
    assert.equal(await a.evaluate(() => document.activeElement.id), 'text', 'the text has the focus');
    await a.keyboard.press('Control+Alt+Digit1');
    assert.deepEqual(await state(), { view: 'edit', pressed: ['edit'], text: true, preview: false });
    assert.equal(await a.$eval('#text', (e) => e.value), '# Kept', 'the shortcuts typed nothing');
    await a.keyboard.press('Control+Alt+Digit3');
    assert.equal((await state()).view, 'preview');
    await a.reload();
    await a.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    assert.equal((await state()).view, 'preview');
    // '?' lists the shortcuts in a modal dialog; Escape closes it and the
    // focus goes back to where it was.
    await a.focus('#history-toggle');
    await a.keyboard.press('?');
    await a.waitForSelector('#keys-dialog[open]');
    const listed = await a.$$eval('#keys-list th', (ths) => ths.map((t) => t.textContent));
    for (const k of ['Ctrl+Alt+1', 'Ctrl+Alt+2', 'Ctrl+Alt+3', 'Ctrl+Z', '?', 'Escape']) assert.ok(listed.some((t) => t.includes(k)), k + ' listed: ' + listed);
    assert.equal(await a.evaluate(() => document.activeElement.id), 'keys-close', 'focus moves into the dialog');
    await a.keyboard.press('Escape');
    await a.waitForFunction(() => !document.getElementById('keys-dialog').open);
    assert.equal(await a.evaluate(() => document.activeElement.id), 'history-toggle', 'focus comes back');
    await a.click('#keys-toggle');
    await a.waitForSelector('#keys-dialog[open]');
    await a.click('#keys-close');
    await a.waitForFunction(() => !document.getElementById('keys-dialog').open);
    assert.equal(await a.evaluate(() => document.activeElement.id), 'keys-toggle');
    // '?' typed in the text is text.
    await a.keyboard.press('Control+Alt+Digit1');
    await a.click('#text');
    await a.keyboard.press('End');
    await a.keyboard.type('?');
    assert.equal(await a.$eval('#text', (e) => e.value), '# Kept?');
    assert.equal(await a.evaluate(() => document.getElementById('keys-dialog').open), false);
    assert.deepEqual(a.errors || [], []);
    await a.context().close();
});

test('the split view follows another page\'s edits live and scrolls with the text', async () => {
    const doc = 'live-' + SEED;
    const a = await openEditor(browser, server, doc, 'Reader', { width: 1200, height: 700 });
    const b = await openEditor(browser, server, doc, 'Typist');
    await a.click('#view-split');
    await b.click('#text');
    await b.keyboard.type('# Live\n\n- one\n');
    await rendered(a, 'li');
    assert.equal(await a.$eval('#preview h1', (e) => e.textContent), 'Live');
    await b.keyboard.type('- two');
    await a.waitForFunction(() => [...document.querySelectorAll('#preview li')].map((e) => e.textContent).join() === 'one,two');
    // A long text: scrolling the textarea to its end brings the preview's end.
    const long = Array.from({ length: 300 }, (_, i) => `## Part ${i}\n\nText of part ${i}.\n`).join('\n');
    await b.evaluate((t) => {
        const ta = document.getElementById('text');
        ta.focus();
        ta.setSelectionRange(ta.value.length, ta.value.length);
        document.execCommand('insertText', false, '\n' + t);
    }, long);
    await a.waitForFunction(() => [...document.querySelectorAll('#preview h2')].length === 300);
    await a.evaluate(() => { const ta = document.getElementById('text'); ta.scrollTop = ta.scrollHeight; });
    await a.waitForFunction(() => { const p = document.getElementById('preview'); return p.scrollTop > 0 && p.scrollTop + p.clientHeight >= p.scrollHeight - 4; });
    await a.evaluate(() => { const ta = document.getElementById('text'); ta.scrollTop = (ta.scrollHeight - ta.clientHeight) / 2; });
    await a.waitForFunction(() => { const p = document.getElementById('preview'); const f = p.scrollTop / (p.scrollHeight - p.clientHeight); return f > 0.4 && f < 0.6; });
    await settle([a, b], doc);
    assert.deepEqual([...(a.errors || []), ...(b.errors || [])], []);
    await a.context().close();
    await b.context().close();
});

test('Korean IME composition works in split mode, with a remote edit in the middle', async () => {
    const doc = 'ime-split-' + SEED;
    const a = await openEditor(browser, server, doc, 'Ime', { width: 1200, height: 700 });
    const b = await openEditor(browser, server, doc, 'Other');
    await a.click('#view-split');
    await a.click('#text');
    await a.keyboard.type('# ab');
    await rendered(a, 'h1');
    await settle([a, b], doc);
    await b.evaluate(() => { window.seen = []; window.chorus.doc.on('change', () => window.seen.push(window.chorus.doc.text)); });
    const cdp = await a.context().newCDPSession(a);
    for (const t of ['ㅎ', '하', '한']) {
        await cdp.send('Input.imeSetComposition', { text: t, selectionStart: t.length, selectionEnd: t.length });
        await a.waitForTimeout(50); /* the preview may render between keys */
    }
    await b.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(0, 0); });
    await b.keyboard.type('Z\n\n');
    await a.waitForTimeout(300);
    assert.equal(await a.$eval('#text', (e) => e.value), '# ab한', 'the composition is left alone');
    await cdp.send('Input.imeSetComposition', { text: '한ㄱ', selectionStart: 2, selectionEnd: 2 });
    await cdp.send('Input.insertText', { text: '한국' });
    const text = await settle([a, b], doc);
    assert.equal(text, 'Z\n\n# ab한국');
    await a.waitForFunction(() => { const h = document.querySelector('#preview h1'); return h && h.textContent === 'ab한국' && document.querySelector('#preview p') && document.querySelector('#preview p').textContent === 'Z'; });
    const seen = await b.evaluate(() => window.seen);
    assert.ok(seen.every((s) => !/[ㅎㄱ]|하/.test(s)), 'no half-composed state was sent: ' + JSON.stringify(seen));
    assert.equal(await a.evaluate(() => document.activeElement.id), 'text');
    await a.context().close();
    await b.context().close();
});

test('a big document is not rendered again on every keystroke', async () => {
    const doc = 'big-' + SEED;
    const a = await openEditor(browser, server, doc, 'Big', { width: 1200, height: 700 });
    const block = '## Heading\n\nSome *text* with `code` and a [link](https://example.com).\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n';
    const big = block.repeat(Math.ceil(1000000 / block.length));
    await a.evaluate((t) => { const ta = document.getElementById('text'); ta.value = t; ta.dispatchEvent(new Event('input')); }, big);
    await a.waitForFunction(() => window.chorus.doc.saved, null, { timeout: 30000 });
    await a.click('#view-split');
    await rendered(a, 'table');
    await a.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(0, 0); });
    const before = Number(await a.$eval('#preview', (p) => p.dataset.rendered));
    await a.keyboard.type('# Quick brown fox\n', { delay: 10 });
    await a.waitForFunction(() => { const h = document.querySelector('#preview h1'); return h && h.textContent === 'Quick brown fox'; }, null, { timeout: 30000 });
    const renders = Number(await a.$eval('#preview', (p) => p.dataset.rendered)) - before;
    assert.ok(renders >= 1 && renders < 10, `${renders} renderings for 18 keystrokes`);
    // Only a window of the megabyte is rendered, and it says so; it moves
    // when the text scrolls to its end.
    const shown = await a.$eval('#preview', (p) => [p.textContent.length, p.querySelector('.window-note').textContent]);
    assert.ok(shown[0] < 60000, 'a window, not the megabyte: ' + shown[0]);
    assert.match(shown[1], /of (977|978|979|980) KB/);
    await a.evaluate(() => { const ta = document.getElementById('text'); ta.blur(); ta.scrollTop = ta.scrollHeight; });
    await a.waitForFunction(() => !document.querySelector('#preview h1') && /from (9[0-9][0-9]) KB/.test(document.querySelector('#preview .window-note').textContent), null, { timeout: 30000 });
    await a.waitForFunction(() => { const p = document.getElementById('preview'); return p.scrollTop + p.clientHeight >= p.scrollHeight - 4; });
    await a.context().close();
});
