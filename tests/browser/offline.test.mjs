// offline.test.mjs -- edits made offline survive a reload (web/lib/outbox.js):
// the page's WebSocket goes through a route the test controls (cut: every
// socket is closed at once; acks can be dropped), the HTTP server stays up
// so that the page itself reloads. Checked: typed offline, reloaded
// offline, the text is back from IndexedDB; a second tab of the same
// browser does not resend them; back online, the text is on every page and
// on the server exactly once. An op committed whose ack was lost before the
// reload is not applied twice. A document trashed meanwhile: the page says
// so and offers the text, and drops it only when the user dismisses it.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launch, openEditor } from './lib/harness.mjs';

let server, browser;
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

/* A context whose WebSockets go through 'net': net.offline closes them all
 * (and refuses new ones), net.dropAcks throws the server's acks away. */
async function routedContext() {
    const ctx = await browser.newContext({ viewport: { width: 900, height: 560 } });
    const net = { offline: false, dropAcks: false, socks: [] };
    await ctx.routeWebSocket(/\/ws(\?|$)/, (ws) => {
        if (net.offline) { ws.close(); return; }
        const up = ws.connectToServer();
        ws.onMessage((m) => up.send(m));
        up.onMessage((m) => { if (!(net.dropAcks && /"type":"ack"/.test(String(m)))) ws.send(m); });
        ws.onClose(() => up.close());
        up.onClose(() => ws.close());
        net.socks.push(ws);
    });
    /* Offline, the server's texts cannot be read either: a page reloaded
     * offline has only what it kept. */
    await ctx.route(/\/api\/docs\/[^/]+\/text/, (r) => (net.offline ? r.abort() : r.continue()));
    net.cut = async () => { net.offline = true; for (const s of net.socks.splice(0)) await s.close().catch(() => {}); };
    return { ctx, net };
}

async function openIn(ctx, doc) {
    const page = await ctx.newPage();
    page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(String(e)); });
    page.on('dialog', (d) => d.accept());
    await page.goto(`${server.url}/d/${doc}`);
    return page;
}

const value = (page) => page.evaluate(() => document.getElementById('text').value);
const status = (page) => page.evaluate(() => document.getElementById('status').textContent);

/* Until what the page made is written to IndexedDB. */
async function kept(page, doc) {
    await page.waitForFunction((d) => {
        const w = window.chorus && window.chorus.outbox.writers.get(d);
        return w && w.idle;
    }, doc);
    return page.evaluate((d) => window.chorus.outbox.records(d), doc);
}

async function online(net, page) {
    net.offline = false;
    await page.evaluate(() => window.chorus.conn.retryNow());
}

async function typeAtEnd(page, s) {
    await page.click('#text');
    await page.keyboard.press('Control+End');
    await page.keyboard.type(s, { delay: 10 });
}

test('typed offline, reloaded offline: the text is back, and lands once everywhere', async () => {
    server = server || await new Server().start();
    browser = browser || await launch();
    const doc = 'offline-reload';
    const { ctx, net } = await routedContext();
    const a = await openIn(ctx, doc);
    await a.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    const b = await openEditor(browser, server, doc, 'Watcher');
    await typeAtEnd(a, 'online line\n');
    await a.waitForFunction(() => window.chorus.doc.saved);
    await net.cut();
    await a.waitForFunction(() => document.getElementById('status').textContent !== 'connected');
    const offlineText = 'typed offline 한글 😀\nsecond line';
    await typeAtEnd(a, offlineText);
    const expect = 'online line\n' + offlineText;
    assert.equal(await value(a), expect);
    const recs = await kept(a, doc);
    assert.equal(recs.length, 1);
    const client = await a.evaluate(() => window.chorus.conn.clientId);
    assert.equal(recs[0].client, client);

    await a.reload();
    await a.waitForFunction((t) => document.getElementById('text').value === t && !document.getElementById('text').disabled, expect);
    assert.notEqual(await status(a), 'connected');
    assert.equal(await a.evaluate(() => window.chorus.conn.clientId), client, 'the reload reuses its client id');
    /* The page may be typed on while still offline. */
    await typeAtEnd(a, '!');

    /* A second tab of the same browser: it cannot take the first one's
     * client id (held by a lock), so it does not resend its edits. */
    const a2 = await openIn(ctx, doc);
    await a2.waitForFunction(() => window.chorus && window.chorus.conn);
    assert.notEqual(await a2.evaluate(() => window.chorus.conn.clientId), client);

    await online(net, a);
    await a2.evaluate(() => window.chorus.conn.retryNow());
    const final = expect + '!';
    await a.waitForFunction(() => window.chorus.doc.saved && document.getElementById('status').textContent === 'connected', null, { timeout: 20000 });
    assert.equal(await server.text(doc), final);
    assert.equal(await value(a), final);
    await b.waitForFunction((t) => document.getElementById('text').value === t, final, { timeout: 20000 });
    await a2.waitForFunction((t) => window.chorus.doc && window.chorus.doc.ready && document.getElementById('text').value === t, final, { timeout: 20000 });
    assert.deepEqual(await kept(a, doc), [], 'nothing is kept once acknowledged');
    assert.deepEqual([...(a.errors || []), ...(a2.errors || [])], []);
    await ctx.close();
    await b.context().close();
});

test('an op committed whose ack was lost before the reload is not applied twice', async () => {
    server = server || await new Server().start();
    browser = browser || await launch();
    const doc = 'offline-lost-ack';
    const { ctx, net } = await routedContext();
    const a = await openIn(ctx, doc);
    await a.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    await typeAtEnd(a, 'base text\n');
    await a.waitForFunction(() => window.chorus.doc.saved);
    net.dropAcks = true;
    await typeAtEnd(a, 'X');
    /* The server committed it (others see it), the page never heard. */
    for (let i = 0; i < 100 && (await server.text(doc)) !== 'base text\nX'; i++) await a.waitForTimeout(50);
    assert.equal(await server.text(doc), 'base text\nX');
    await typeAtEnd(a, 'YZ');
    assert.equal(await a.evaluate(() => window.chorus.doc.saved), false);
    const recs = await kept(a, doc);
    assert.equal(recs.length, 1);
    net.dropAcks = false;
    await a.reload();
    await a.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready && window.chorus.doc.saved &&
        document.getElementById('status').textContent === 'connected', null, { timeout: 20000 });
    assert.equal(await value(a), 'base text\nXYZ');
    assert.equal(await server.text(doc), 'base text\nXYZ');
    assert.deepEqual(await kept(a, doc), []);
    assert.deepEqual(a.errors || [], []);
    await ctx.close();
});

test('a document trashed meanwhile: the page says so, offers the text, drops it when dismissed', async () => {
    server = server || await new Server().start();
    browser = browser || await launch();
    const doc = 'offline-trashed';
    const { ctx, net } = await routedContext();
    const a = await openIn(ctx, doc);
    await a.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    await typeAtEnd(a, 'kept\n');
    await a.waitForFunction(() => window.chorus.doc.saved);
    await net.cut();
    await a.waitForFunction(() => document.getElementById('status').textContent !== 'connected');
    await typeAtEnd(a, 'words nobody saved');
    await kept(a, doc);
    await a.reload();
    await a.waitForFunction(() => document.getElementById('text').value === 'kept\nwords nobody saved');
    const r = await fetch(`${server.url}/api/docs/${doc}`, { method: 'DELETE' });
    assert.equal(r.status, 200);
    await online(net, a);
    await a.waitForSelector('#unsent:not([hidden])', { timeout: 20000 });
    assert.match(await a.textContent('#unsent-why'), /trash/);
    assert.equal(await a.inputValue('#unsent-text'), 'kept\nwords nobody saved');
    assert.equal((await kept(a, doc)).length, 1, 'kept until the user dismisses it');
    await a.click('#unsent-dismiss');
    await a.waitForSelector('#unsent', { state: 'hidden' });
    assert.deepEqual(await kept(a, doc), []);
    assert.deepEqual(a.errors || [], []);
    await ctx.close();
});
