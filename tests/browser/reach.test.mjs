// reach.test.mjs -- look and reach of both pages in headless Chromium
// against the real chorus binary: zero serious or critical axe-core
// violations on the start page and the editor (edit and split views, the
// shortcuts dialog, the history panel), light and dark; dark mode follows
// prefers-color-scheme; a 390 px wide phone: nothing overflows sideways,
// the text can be typed in, split stacks; emoji and CJK fonts are in the
// font stacks and loaded. axe-core (pinned in package.json) is read from
// node_modules and evaluated in the page: it is never served.
// Saves build/screenshots/phone-split.png and phone-split-dark.png.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Server, launch, openEditor, buildDir, ROOT } from './lib/harness.mjs';

const SEED = Date.now() % 1e9;
const AXE = readFileSync(createRequire(path.join(ROOT, 'package.json')).resolve('axe-core/axe.min.js'), 'utf8');
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

/* Serious and critical axe violations on the page as it is now, as
 * "rule: target" strings (empty: none). */
async function axe(page) {
    if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE);
    const res = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} ${n.failureSummary || ''}`));
    });
    return res;
}

async function openIn(scheme, url, viewport = { width: 1100, height: 700 }) {
    const ctx = await browser.newContext({ viewport, colorScheme: scheme });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(String(e)); });
    await page.goto(url);
    return page;
}

const TEXT = '# Notes 한글 😀\n\n- [ ] task\n- [x] done\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```\n\n[link](https://example.com) and `x`.\n';

for (const scheme of ['light', 'dark']) {
    test(`zero serious or critical axe violations, ${scheme}`, async () => {
        const doc = `axe-${scheme}-${SEED}`;
        // The start page, with a document listed.
        const seed = await openEditor(browser, server, doc, 'Seeder');
        await seed.evaluate((t) => { const ta = document.getElementById('text'); ta.value = t; ta.dispatchEvent(new Event('input')); }, TEXT);
        await seed.waitForFunction(() => window.chorus.doc.saved);
        const start = await openIn(scheme, server.url + '/');
        await start.waitForSelector('#docs:not([hidden])');
        assert.deepEqual(await axe(start), [], 'start page');
        const bg = await start.evaluate(() => getComputedStyle(document.body).backgroundColor);
        if (scheme === 'dark') assert.equal(bg, 'rgb(21, 24, 29)', 'dark background');
        else assert.equal(bg, 'rgb(255, 255, 255)');
        await start.context().close();
        // The editor: edit view, split view, the shortcuts dialog, history.
        const ed = await openIn(scheme, `${server.url}/d/${doc}`);
        await ed.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
        assert.deepEqual(await axe(ed), [], 'editor, edit view');
        await ed.click('#view-split');
        await ed.waitForSelector('#preview table');
        assert.deepEqual(await axe(ed), [], 'editor, split view');
        await ed.click('#keys-toggle');
        await ed.waitForSelector('#keys-dialog[open]');
        assert.deepEqual(await axe(ed), [], 'shortcuts dialog');
        await ed.keyboard.press('Escape');
        await ed.click('#history-toggle');
        await ed.waitForSelector('#history:not([hidden])');
        await ed.waitForFunction(() => document.querySelectorAll('#sessions li').length > 0);
        assert.deepEqual(await axe(ed), [], 'history panel');
        const colors = await ed.evaluate(() => ['#text', '#preview', '#history-text'].map((s) => getComputedStyle(document.querySelector(s)).color));
        if (scheme === 'dark') assert.deepEqual(colors, ['rgb(228, 232, 238)', 'rgb(228, 232, 238)', 'rgb(228, 232, 238)'], 'light text in the dark');
        assert.deepEqual([...(ed.errors || []), ...(seed.errors || [])], []);
        await ed.context().close();
        await seed.context().close();
    });
}

test('a 390 px phone: the toolbar wraps, nothing overflows sideways, split stacks, typing works', async () => {
    const doc = 'phone-' + SEED;
    for (const scheme of ['light', 'dark']) {
        const page = await openIn(scheme, `${server.url}/d/${doc}`, { width: 390, height: 844 });
        await page.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
        const overflow = () => page.evaluate(() => {
            const w = document.documentElement.clientWidth;
            const out = [...document.querySelectorAll('header.bar *, .main, .editor, #text, #preview')]
                .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > w + 0.5)
                .map((e) => (e.id || e.className || e.localName) + ' ' + Math.round(e.getBoundingClientRect().right));
            return { w, scroll: document.documentElement.scrollWidth, out };
        });
        let o = await overflow();
        assert.equal(o.w, 390);
        assert.deepEqual(o.out, [], 'nothing past the right edge');
        assert.ok(o.scroll <= 390, 'no sideways scrolling: ' + o.scroll);
        if (scheme === 'light') {
            await page.click('#text');
            await page.keyboard.type('# Phone 📱\n\nTyped on a phone.');
            assert.equal(await page.$eval('#text', (e) => e.value), '# Phone 📱\n\nTyped on a phone.');
        }
        await page.click('#view-split');
        await page.waitForSelector('#preview h1');
        const box = await page.evaluate(() => ['#text', '#preview'].map((s) => { const r = document.querySelector(s).getBoundingClientRect(); return { top: r.top, bottom: r.bottom, left: r.left, width: r.width, height: r.height }; }));
        assert.ok(box[1].top >= box[0].bottom - 1, 'the preview is below the text: ' + JSON.stringify(box));
        assert.ok(box[0].width > 350 && box[1].width > 350, 'each is full width');
        assert.ok(box[0].height > 150 && box[1].height > 150, 'each is tall enough to use');
        o = await overflow();
        assert.deepEqual(o.out, [], 'nothing past the right edge in split');
        assert.deepEqual(await axe(page), [], 'phone, split, ' + scheme);
        await page.screenshot({ path: path.join(shots(), scheme === 'light' ? 'phone-split.png' : 'phone-split-dark.png') });
        assert.deepEqual(page.errors || [], []);
        await page.context().close();
    }
    // The start page on a phone.
    const start = await openIn('light', server.url + '/', { width: 390, height: 844 });
    await start.waitForSelector('#docs:not([hidden])');
    assert.ok(await start.evaluate(() => document.documentElement.scrollWidth <= 390), 'the start page does not scroll sideways');
    await start.context().close();
});

test('emoji and CJK fonts: in the stacks and loaded, emoji drawn in colour', async () => {
    const doc = 'emoji-' + SEED;
    const page = await openEditor(browser, server, doc, 'Emo', { width: 1000, height: 600 });
    await page.click('#view-split');
    await page.click('#text');
    await page.keyboard.type('😀 한국어 漢字 👍🏽');
    await page.waitForFunction(() => document.querySelector('#preview p'));
    const got = await page.evaluate(async () => {
        const fam = (s) => getComputedStyle(document.querySelector(s)).fontFamily;
        await document.fonts.ready;
        /* A colour glyph: draw the emoji on a canvas with the page's stack
         * and look for a pixel that is neither grey nor blank. */
        const c = document.createElement('canvas');
        c.width = c.height = 40;
        const g = c.getContext('2d');
        g.font = '32px ' + fam('#text');
        g.fillText('😀', 2, 34);
        const px = g.getImageData(0, 0, 40, 40).data;
        let colour = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && Math.abs(px[i] - px[i + 2]) > 60) colour++;
        return {
            text: fam('#text'), preview: fam('#preview'), body: fam('body'),
            emoji: document.fonts.check('16px "Chorus Emoji"', '😀'),
            noto: document.fonts.check('16px "Noto Color Emoji"', '😀'),
            cjk: document.fonts.check('16px "Noto Sans CJK SC"', '漢字한국'),
            colour,
            width: (() => { g.font = '16px ' + fam('#text'); return g.measureText('😀').width; })(),
        };
    });
    for (const f of ['text', 'preview', 'body']) {
        assert.match(got[f], /Noto Color Emoji/, f + ' font stack has the emoji font');
        assert.match(got[f], /Noto Sans (Mono )?CJK/, f + ' font stack has a CJK font');
    }
    assert.ok(got.emoji && got.noto && got.cjk, 'fonts available: ' + JSON.stringify(got));
    assert.ok(got.width > 8, 'the emoji has a glyph with width');
    assert.ok(got.colour > 20, 'the emoji is drawn in colour: ' + got.colour);
    await page.context().close();
});
