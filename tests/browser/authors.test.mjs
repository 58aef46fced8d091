// authors.test.mjs -- authorship colours in the editor against the real
// binary in team mode: two users (two logins, two pages) type; with the
// Authors toggle on, the tinted spans carry each user's presence colour
// (the caret's) and hold exactly what that user typed; a new remote edit is
// tinted live, without a reload; the history panel shows an older version
// with its authors; the legend lists both. Saves
// build/screenshots/authors.png.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Server, BIN, launch, buildDir } from './lib/harness.mjs';

const PASS = { ann: 'correct horse 1', bob: 'battery staple 2' };
let server, browser;
before(async () => {
    server = new Server(['--auth', 'on']);
    for (const [u, pw] of Object.entries(PASS))
        execFileSync(BIN, ['user', 'add', u, '--data', server.data], { input: pw + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
    await server.start();
    browser = await launch();
});
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

/* A logged-in context for 'user' (the session cookie set by /api/login). */
async function loginContext(user) {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 600 } });
    const r = await ctx.request.post(server.url + '/api/login', { data: { name: user, password: PASS[user] } });
    assert.equal(r.status(), 200);
    return ctx;
}

async function openDoc(ctx, doc) {
    const page = await ctx.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(String(e)));
    await page.goto(`${server.url}/d/${doc}`);
    await page.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    return page;
}

const saved = (p) => p.waitForFunction(() => window.chorus.doc.saved && document.getElementById('saved').textContent === 'all changes saved');

/* The tinted spans of the live layer: [{user, color, text}]. */
const liveSpans = (p) => p.$$eval('#authors-layer .author', (els) => els.map((e) => ({ user: e.dataset.user, color: e.dataset.color, text: e.textContent })));

/* Presence colours as this page knows them: its own, and its peers'. */
const colors = (p) => p.evaluate(() => {
    const c = window.chorus.conn, out = { [c.user.name]: c.user.color };
    for (const peer of window.chorus.doc.peers.values()) out[peer.name] = peer.color;
    return out;
});

test('authorship colours follow who typed, live and in the history panel', async () => {
    const actx = await loginContext('ann');
    const bctx = await loginContext('bob');
    assert.equal((await actx.request.post(server.url + '/api/docs', { data: { id: 'au' } })).status(), 201);
    assert.equal((await actx.request.put(server.url + '/api/docs/au/roles', { data: { user: 'bob', role: 'editor' } })).status(), 200);

    const ann = await openDoc(actx, 'au');
    await ann.click('#text');
    await ann.keyboard.type('Ann wrote this. ');
    await saved(ann);
    const annVersion = await ann.evaluate(() => window.chorus.doc.version);

    const bob = await openDoc(bctx, 'au');
    await bob.click('#text');
    await bob.keyboard.press('End');
    await bob.keyboard.type('Bob added 한국어 😀');
    await saved(bob);
    const both = 'Ann wrote this. Bob added 한국어 😀';
    await ann.waitForFunction((t) => document.getElementById('text').value === t, both);

    // Toggle on, on both pages: spans by user, in presence colours.
    for (const p of [ann, bob]) {
        assert.equal(await p.getAttribute('#authors-toggle', 'aria-pressed'), 'false');
        await p.click('#authors-toggle');
        assert.equal(await p.getAttribute('#authors-toggle', 'aria-pressed'), 'true');
        await p.waitForSelector('#authors-layer .author');
        /* presence may still be arriving: the tint follows it */
        await p.waitForFunction(() => {
            const c = window.chorus.conn, col = { [c.user.name]: c.user.color };
            for (const peer of window.chorus.doc.peers.values()) col[peer.name] = peer.color;
            const els = [...document.querySelectorAll('#authors-layer .author')];
            return els.length === 2 && els.every((e) => e.dataset.color === col[e.dataset.user]);
        });
        const spans = await liveSpans(p);
        const col = await colors(p);
        assert.deepEqual(spans.map((s) => [s.user, s.text]), [['ann', 'Ann wrote this. '], ['bob', 'Bob added 한국어 😀']]);
        for (const s of spans) assert.equal(s.color, col[s.user], `${s.user}'s tint is their presence colour`);
        const bg = await p.$eval('#authors-layer .author', (e) => getComputedStyle(e).backgroundColor);
        assert.notEqual(bg, 'rgba(0, 0, 0, 0)');
        const legend = await p.$$eval('#authors-legend li', (els) => els.map((e) => e.dataset.user));
        assert.deepEqual(legend.sort(), ['ann', 'bob']);
    }

    // Live: a remote edit is tinted on the other page, without a reload.
    await bob.evaluate(() => { const t = document.getElementById('text'); t.focus(); t.setSelectionRange(t.value.length, t.value.length); });
    await bob.keyboard.type('!!');
    await ann.waitForFunction(() => {
        const els = [...document.querySelectorAll('#authors-layer .author')];
        return els.length === 2 && els[1].textContent.endsWith('😀!!') && els[1].dataset.user === 'bob';
    });
    // Ann's own typing in the middle of Bob's text splits it.
    await ann.evaluate(() => { const t = document.getElementById('text'); t.focus(); t.setSelectionRange(20, 20); });
    await ann.keyboard.type('#');
    await ann.waitForFunction(() => [...document.querySelectorAll('#authors-layer .author')].map((e) => e.dataset.user).join() === 'ann,bob,ann,bob');
    const split = await liveSpans(ann);
    assert.deepEqual(split.map((s) => s.text), ['Ann wrote this. ', 'Bob ', '#', 'added 한국어 😀!!']);
    await saved(ann);
    await bob.waitForFunction(() => [...document.querySelectorAll('#authors-layer .author')].length === 4);
    assert.deepEqual((await liveSpans(bob)).map((s) => [s.user, s.text]), split.map((s) => [s.user, s.text]));

    const shots = path.join(buildDir(), 'screenshots');
    mkdirSync(shots, { recursive: true });
    await ann.screenshot({ path: path.join(shots, 'authors.png') });

    // The history panel at Ann's last version: only her text, tinted hers.
    await ann.click('#history-toggle');
    await ann.waitForSelector('#history-text[data-mode=authors]');
    await ann.evaluate((v) => {
        const s = document.getElementById('history-slider');
        s.value = String(v);
        s.dispatchEvent(new Event('input'));
    }, annVersion);
    await ann.waitForSelector(`#history-text[data-mode=authors][data-version="${annVersion}"]`);
    const old = await ann.$$eval('#history-text .author', (els) => els.map((e) => ({ user: e.dataset.user, color: e.dataset.color, text: e.textContent })));
    assert.deepEqual(old.map((s) => [s.user, s.text]), [['ann', 'Ann wrote this. ']]);
    assert.equal(old[0].color, (await colors(ann)).ann);
    // Off again: the panel shows plain text, the layer and legend go.
    await ann.click('#authors-toggle');
    await ann.waitForSelector('#history-text[data-mode=text]');
    assert.equal(await ann.isHidden('#authors-layer'), true);
    assert.equal(await ann.isHidden('#authors-legend'), true);
    assert.deepEqual(ann.errors, []);
    assert.deepEqual(bob.errors, []);
    await actx.close();
    await bctx.close();
});
