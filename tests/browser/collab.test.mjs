// collab.test.mjs -- the editor in headless Chromium against the real chorus
// binary: pages typing at once (Hangul and emoji, random places) end equal
// to each other and to the server's text; remote carets are drawn where the
// other page's cursor is; an IME composition is never sent half-done nor
// broken by remote edits; undo/redo of one's own edits through remote ones;
// the start page and the history view. Saves build/screenshot-two-pages.png.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, launch, openEditor, buildDir } from './lib/harness.mjs';

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

function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const PIECES = ['a', 'b', 'c', ' ', 'x', '한', '글', '😀', '👍🏽', 'ok', '\n', 'e\u0301'];

/* Put the caret of 'page' at a random code point (never inside a pair). */
async function caretAt(page, frac) {
    await page.evaluate((f) => {
        const ta = document.getElementById('text');
        const cps = [...ta.value];
        const cp = Math.floor(f * (cps.length + 1));
        const i = cps.slice(0, cp).join('').length;
        ta.focus();
        ta.setSelectionRange(i, i);
    }, frac);
}

async function typeRandomly(page, r, rounds) {
    for (let k = 0; k < rounds; k++) {
        await caretAt(page, r());
        if (r() < 0.2) await page.keyboard.press('Backspace');
        let s = '';
        for (let j = 1 + Math.floor(r() * 4); j > 0; j--) s += PIECES[Math.floor(r() * PIECES.length)];
        for (const ch of s) {
            if (ch === '\n') await page.keyboard.press('Enter');
            else await page.keyboard.type(ch);
        }
    }
}

const state = (page) => page.evaluate(() => ({
    text: document.getElementById('text').value,
    model: window.chorus.doc.text,
    saved: window.chorus.doc.saved,
    status: window.chorus.conn.status,
    label: document.getElementById('saved').textContent,
}));

/* Wait until every page is saved and all show the server's text. */
async function settle(pages, doc, ms = 20000) {
    const end = Date.now() + ms;
    let last;
    while (Date.now() < end) {
        const st = await Promise.all(pages.map(state));
        /* The document may not be stored yet right after the first join. */
        const srv = await server.text(doc).catch((e) => 'unavailable: ' + e.message);
        last = { st, srv };
        if (st.every((s) => s.saved && s.text === srv && s.model === srv)) return srv;
        await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('pages did not settle: ' + JSON.stringify(last));
}

async function concurrent(n, doc, rounds) {
    const pages = [];
    for (let i = 0; i < n; i++) pages.push(await openEditor(browser, server, doc, 'Writer ' + i));
    await Promise.all(pages.map((p, i) => typeRandomly(p, rng(SEED + i * 7919), rounds)));
    const text = await settle(pages, doc);
    for (const p of pages) {
        assert.deepEqual(p.errors || [], []);
        assert.equal((await state(p)).label, 'all changes saved');
    }
    for (const p of pages) await p.context().close();
    return text;
}

test('two pages typing at once end equal to each other and to the server', async () => {
    const text = await concurrent(2, 'two-' + SEED, 40);
    assert.ok([...text].length > 20, 'the pages typed something: ' + JSON.stringify(text));
});

test('three pages typing at once (Hangul, emoji) end equal to the server', async () => {
    const text = await concurrent(3, 'three-' + SEED, 30);
    assert.ok([...text].length > 20);
});

test('a remote caret appears where the other page cursor is', async () => {
    const doc = 'caret-' + SEED;
    const a = await openEditor(browser, server, doc, 'Ann');
    const b = await openEditor(browser, server, doc, 'Bob');
    await a.click('#text');
    await a.keyboard.type('first line\nsecond line here\nthird');
    await settle([a, b], doc);
    // Ann's caret after "second" (line 1, column 6).
    const pos = 'first line\nsecond'.length;
    await a.evaluate((p) => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(p, p); }, pos);
    const annId = await a.evaluate(() => window.chorus.conn.clientId);
    const sel = `.caret[data-client="${annId}"][data-pos="${pos}"]`;
    await b.waitForSelector(sel, { state: 'attached', timeout: 5000 });
    const geo = await b.evaluate((s) => {
        const ta = document.getElementById('text');
        const cs = getComputedStyle(ta);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = cs.font;
        const cw = ctx.measureText('x').width;
        const lh = parseFloat(cs.lineHeight);
        const tr = ta.getBoundingClientRect();
        const cr = document.querySelector(s).getBoundingClientRect();
        return {
            x: cr.left, y: cr.top,
            wantX: tr.left + parseFloat(cs.paddingLeft) + 6 * cw,
            wantY: tr.top + parseFloat(cs.paddingTop) + lh - ta.scrollTop,
            label: document.querySelector(s + ' .label').textContent,
        };
    }, sel);
    assert.ok(Math.abs(geo.x - geo.wantX) < 3, JSON.stringify(geo));
    assert.ok(Math.abs(geo.y - geo.wantY) < 4, JSON.stringify(geo));
    assert.equal(geo.label, 'Ann');
    // A selection is drawn too, and the caret follows Bob's edits before it.
    await a.evaluate(() => { const ta = document.getElementById('text'); ta.setSelectionRange(0, 5); });
    await b.waitForSelector(`.caret[data-client="${annId}"][data-pos="5"]`, { state: 'attached' });
    assert.equal(await b.$eval('.sel', (e) => e.textContent), 'first');
    await b.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(0, 0); });
    await b.keyboard.type('>> ');
    await b.waitForSelector(`.caret[data-client="${annId}"][data-pos="8"]`, { state: 'attached' });
    // Ann renames herself: Bob sees the new name on her caret and in the list.
    await a.fill('#name', 'Annie <b>');
    await a.press('#name', 'Enter');
    await b.waitForFunction((id) => document.querySelector(`.caret[data-client="${id}"] .label`)?.textContent === 'Annie <b>', annId);
    assert.ok((await b.$$eval('.person', (ps) => ps.map((p) => p.textContent))).includes('Annie <b>'));
    assert.equal(await a.evaluate(() => localStorage.getItem('chorus.name')), 'Annie <b>');
    await a.context().close();
    await b.context().close();
});

test('screenshot of two pages editing together is saved under build/', async () => {
    const doc = 'shot-' + SEED;
    const a = await openEditor(browser, server, doc, 'Ann', { width: 720, height: 420 });
    const b = await openEditor(browser, server, doc, 'Bob', { width: 720, height: 420 });
    await a.click('#text');
    await a.keyboard.type('Meeting notes\n\n- ship the editor 😀\n- write the docs\n');
    await settle([a, b], doc);
    await b.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(15, 34); });
    await b.keyboard.press('End');
    await b.keyboard.type(' (today)');
    await a.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(0, 7); });
    await settle([a, b], doc);
    await a.waitForSelector('.caret', { state: 'attached' });
    await b.waitForSelector('.caret .label', { state: 'attached' });
    await a.waitForTimeout(150);
    const [ia, ib] = await Promise.all([a.screenshot(), b.screenshot()]);
    // Side by side in one picture: draw both into a page of its own.
    const page = await browser.newPage({ viewport: { width: 1452, height: 420 } });
    await page.setContent(`<body style="margin:0;display:flex;gap:12px;background:#888">
        <img src="data:image/png;base64,${ia.toString('base64')}"><img src="data:image/png;base64,${ib.toString('base64')}"></body>`);
    const out = path.join(buildDir(), 'screenshot-two-pages.png');
    await page.screenshot({ path: out });
    await page.close();
    await a.context().close();
    await b.context().close();
});

test('an IME composition is sent only when committed and survives remote edits', async () => {
    const doc = 'ime-' + SEED;
    const a = await openEditor(browser, server, doc, 'Ime');
    const b = await openEditor(browser, server, doc, 'Other');
    await a.click('#text');
    await a.keyboard.type('ab');
    await settle([a, b], doc);
    await b.evaluate(() => { window.seen = []; window.chorus.doc.on('change', () => window.seen.push(window.chorus.doc.text)); });
    const cdp = await a.context().newCDPSession(a);
    for (const t of ['ㅎ', '하', '한']) {
        await cdp.send('Input.imeSetComposition', { text: t, selectionStart: t.length, selectionEnd: t.length });
    }
    // B edits while A is composing; A's composition must not be disturbed.
    await b.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(0, 0); });
    await b.keyboard.type('Z');
    await a.waitForTimeout(300);
    assert.equal(await a.$eval('#text', (e) => e.value), 'ab한', 'the composition is left alone');
    await cdp.send('Input.imeSetComposition', { text: '한ㄱ', selectionStart: 2, selectionEnd: 2 });
    await cdp.send('Input.insertText', { text: '한국' });
    let text = await settle([a, b], doc);
    assert.equal(text, 'Zab한국');
    // Japanese: romaji to kana, then a conversion replaces the whole reading.
    for (const t of ['ｋ', 'か', 'かｎ', 'かん', 'かんじ']) {
        await cdp.send('Input.imeSetComposition', { text: t, selectionStart: t.length, selectionEnd: t.length });
    }
    await cdp.send('Input.imeSetComposition', { text: '漢字', selectionStart: 2, selectionEnd: 2 });
    await cdp.send('Input.insertText', { text: '漢字' });
    text = await settle([a, b], doc);
    assert.equal(text, 'Zab한국漢字');
    const seen = await b.evaluate(() => window.seen);
    assert.ok(seen.every((s) => !/[ㅎㄱｋｎかんじ]|하/.test(s)), 'no half-composed state was sent: ' + JSON.stringify(seen));
    await a.context().close();
    await b.context().close();
});

test('undo and redo take back only the user own edits, through remote ones', async () => {
    const doc = 'undo-' + SEED;
    const a = await openEditor(browser, server, doc, 'Undoer');
    const b = await openEditor(browser, server, doc, 'Other');
    await a.click('#text');
    await a.keyboard.type('hello');
    await settle([a, b], doc);
    await b.evaluate(() => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(0, 0); });
    await b.keyboard.type('XY ');
    await settle([a, b], doc);
    await a.keyboard.press('Control+z');
    assert.equal(await settle([a, b], doc), 'XY ');
    await a.keyboard.press('Control+Shift+z');
    assert.equal(await settle([a, b], doc), 'XY hello');
    await a.context().close();
    await b.context().close();
});

test('a 500 KB paste reaches the other page', async () => {
    const doc = 'paste-' + SEED;
    const a = await openEditor(browser, server, doc, 'Paster');
    const b = await openEditor(browser, server, doc, 'Reader');
    const big = ('All work and no play 한글 😀.\n').repeat(14700); // 500 KB of UTF-8
    // A real clipboard paste (Ctrl+V): Chromium's insertText path is
    // quadratic in line breaks and would take minutes for this text.
    await a.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await a.click('#text');
    await a.evaluate((t) => navigator.clipboard.writeText(t), big);
    await a.keyboard.press('Control+V');
    const text = await settle([a, b], doc, 30000);
    assert.equal(text, big);
    await a.context().close();
    await b.context().close();
});

test('start page lists, creates and opens documents, showing titles as text', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(server.url + '/');
    const evil = '<img src=x onerror="window.pwned=1"> & "quotes"';
    await page.fill('#new-title', evil);
    await page.fill('#new-id', 'start-' + SEED);
    await Promise.all([page.waitForURL(/\/d\/start-/), page.click('#create button[type=submit]')]);
    await page.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    assert.equal(await page.$eval('#title', (e) => e.textContent), evil);
    await page.goto(server.url + '/');
    await page.waitForSelector('#docs-body a');
    const row = await page.$$eval('#docs-body a', (as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
    assert.ok(row.some(([t, h]) => t === evil && h === '/d/start-' + SEED), JSON.stringify(row));
    assert.equal(await page.$$eval('#docs-body img', (x) => x.length), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    await page.fill('#new-id', 'start-' + SEED);
    await page.click('#create button[type=submit]');
    await page.waitForFunction(() => document.getElementById('create-error').textContent.includes('taken'));
    await page.fill('#new-id', '.bad');
    await page.click('#create button[type=submit]');
    await page.waitForFunction(() => document.getElementById('create-error').textContent.includes('dot'));
    await ctx.close();
});

test('the history slider shows the text at each version and offers a download', async () => {
    const doc = 'hist-' + SEED;
    const a = await openEditor(browser, server, doc, 'Historian');
    await a.click('#text');
    for (const w of ['one', ' two', ' three']) { await a.keyboard.type(w); await settle([a], doc); }
    const version = await a.evaluate(() => window.chorus.doc.version);
    await a.click('#history-toggle');
    await a.waitForFunction((v) => document.getElementById('history-text').dataset.version === String(v), version);
    assert.equal(await a.$eval('#history-text', (e) => e.textContent), 'one two three');
    for (const v of [0, 1, Math.floor(version / 2)]) {
        await a.$eval('#history-slider', (e, x) => { e.value = String(x); e.dispatchEvent(new Event('input')); }, v);
        await a.waitForFunction((x) => document.getElementById('history-text').dataset.version === String(x), v);
        assert.equal(await a.$eval('#history-text', (e) => e.textContent), await server.text(doc, v));
        const href = await a.$eval('#downloads a', (e) => e.getAttribute('href'));
        assert.match(href, new RegExp(`version=${v}`));
        const r = await fetch(server.url + href);
        assert.equal(r.status, 200);
    }
    await a.context().close();
});

test('a reload keeps the client id; a second tab of the same browser gets its own', async () => {
    const doc = 'ids-' + SEED;
    const ctx = await browser.newContext();
    const open = async () => {
        const p = await ctx.newPage();
        await p.goto(`${server.url}/d/${doc}`);
        await p.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
        return p;
    };
    const one = await open();
    const two = await open();
    const id1 = await one.evaluate(() => window.chorus.conn.clientId);
    const id2 = await two.evaluate(() => window.chorus.conn.clientId);
    assert.notEqual(id1, id2);
    await one.click('#text');
    await one.keyboard.type('before reload ');
    await one.waitForFunction(() => window.chorus.doc.saved);
    await one.reload();
    await one.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    assert.equal(await one.evaluate(() => window.chorus.conn.clientId), id1);
    // The seq counter went on: the first edit after the reload is applied.
    await one.click('#text');
    await one.keyboard.press('End');
    await one.keyboard.type('after');
    await two.waitForFunction(() => document.getElementById('text').value === 'before reload after');
    assert.equal(await server.text(doc), 'before reload after');
    await ctx.close();
});
