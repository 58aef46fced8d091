// web_editor.bench.mjs -- the editor on a big document, in headless Chromium
// against the real server on localhost. For a 1 MB and a 10 KB document
// (lines of Latin, Hangul and emoji), with two pages connected, both with
// the other's caret in view:
//   keystroke_local:  A's keydown to the animation frame after A's input
//                     handler ran (the text is on the typing page)
//   keystroke_remote: A's keydown to B's textarea holding the character
//   remote_apply:     main-thread time B spends on one incoming frame (the
//                     whole WebSocket message handler: model and textarea),
//                     while B is typing too
//   first_load:       navigation start to the text shown (doc ready + frame)
// and the page weight: the gzip size of the JS and CSS the editor page
// actually requested. Prints `name: value unit` lines (p95 over N keys).
import { gzipSync } from 'node:zlib';
import { Server, launch } from '../tests/browser/lib/harness.mjs';

const N = Number(process.env.WEB_EDITOR_KEYS || 100);
const pct = (xs, p) => { const s = [...xs].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const fmt = (x) => x.toFixed(2);

/* About 'bytes' of UTF-8: lines mixing ASCII, Hangul and emoji. */
function bigText(bytes) {
    const lines = [];
    let n = 0;
    for (let i = 0; n < bytes; i++) {
        const l = `${i} The quick brown fox 한국어 문장입니다 😀🎉 jumps over the lazy dog, line ${i % 97}.`;
        lines.push(l);
        n += Buffer.byteLength(l) + 1;
    }
    return lines.join('\n') + '\n';
}

/* The HTTP body limit is below 1 MB: append the text a piece at a time. */
async function putText(server, doc, text) {
    const c = await fetch(`${server.url}/api/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc }) });
    if (!c.ok) throw new Error(`create ${doc}: ${c.status}`);
    const lines = text.split(/(?<=\n)/);
    for (let i = 0; i < lines.length;) {
        let piece = '';
        while (i < lines.length && piece.length < 60000) piece += lines[i++];
        const r = await fetch(`${server.url}/api/docs/${doc}/append`, { method: 'POST', headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: piece });
        if (!r.ok) throw new Error(`append ${doc}: ${r.status} ${await r.text()}`);
    }
}

/* Open the editor on 'doc' in a fresh context; resolve with the page and
 * the time (ms since navigation start) at which the text was first shown. */
async function open(browser, server, doc, name) {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    await ctx.addInitScript((n) => {
        localStorage.setItem('chorus.name', n);
        const poll = () => {
            const c = window.chorus;
            const ta = document.getElementById('text');
            if (c && c.doc && c.doc.ready && ta && !ta.disabled && ta.value.length) {
                requestAnimationFrame(() => { window.loadedAt = performance.now(); });
                return;
            }
            requestAnimationFrame(poll);
        };
        requestAnimationFrame(poll);
    }, name);
    const page = await ctx.newPage();
    await page.goto(`${server.url}/d/${doc}`);
    await page.waitForFunction(() => window.loadedAt !== undefined, null, { timeout: 60000 });
    return { page, loaded: await page.evaluate(() => window.loadedAt) };
}

async function measure(browser, server, doc, label) {
    const loads = [];
    for (let i = 0; i < 3; i++) { /* first load, cold context each time */
        const { page, loaded } = await open(browser, server, doc, 'L');
        loads.push(loaded);
        await page.context().close();
    }
    const { page: a } = await open(browser, server, doc, 'A');
    const { page: b } = await open(browser, server, doc, 'B');
    /* Carets: A in the middle, B a little after, both visible to the other. */
    for (const [p, frac] of [[a, 0.5], [b, 0.5002]]) {
        await p.evaluate((f) => {
            const ta = document.getElementById('text');
            ta.focus();
            const at = Math.floor(ta.value.length * f);
            const nl = ta.value.indexOf('\n', at);
            ta.setSelectionRange(nl, nl);
            ta.blur(); ta.focus();
            document.dispatchEvent(new Event('selectionchange'));
        }, frac);
    }
    await a.evaluate(() => {
        window.local = [];
        const ta = document.getElementById('text');
        ta.addEventListener('keydown', (e) => {
            const rec = { key: performance.timeOrigin + e.timeStamp, shown: 0 };
            window.local.push(rec);
            ta.addEventListener('input', () => requestAnimationFrame(() => { rec.shown = performance.timeOrigin + performance.now(); }), { once: true });
        });
    });
    await b.evaluate(() => {
        window.lat = [];
        window.applies = [];
        window.addEventListener('chorus:remote', (e) => window.lat.push(e.detail.t));
        const conn = window.chorus.conn;
        const orig = conn.onFrame;
        conn.onFrame = function (d) {
            const t = performance.now();
            orig.call(this, d);
            if (String(d).includes('"type":"op"')) window.applies.push(performance.now() - t);
        };
    });
    /* B types now and then while A types (its own edits are in flight
     * when A's arrive, so they are transformed as in real use). */
    let typing = true;
    const bTypes = (async () => {
        let k = 0;
        while (typing) {
            await b.keyboard.press(String.fromCharCode(65 + (k++ % 26)));
            await b.waitForTimeout(37);
        }
    })();
    for (let i = 0; i < N; i++) {
        if (i % 25 === 0) process.stderr.write(`${label}: key ${i}/${N}\n`);
        const seen = b.evaluate((n) => new Promise((res) => {
            const check = () => (window.lat.length > n ? res() : setTimeout(check, 1));
            check();
        }), i);
        await a.keyboard.press(String.fromCharCode(97 + (i % 26)));
        if (process.env.DBG) console.error(await a.evaluate(() => [window.local.length, window.chorus.doc.saved, document.activeElement.id]), await b.evaluate(() => window.lat.length));
        await seen;
    }
    typing = false;
    await bTypes;
    await b.waitForTimeout(200);
    const local = await a.evaluate(() => window.local);
    const lat = await b.evaluate(() => window.lat);
    const applies = await b.evaluate(() => window.applies);
    const loc = local.filter((l) => l.shown).map((l) => l.shown - l.key);
    const rem = lat.slice(0, N).map((t, i) => t - local[i].key);
    console.log(`web_editor_${label}_keystroke_local_p95: ${fmt(pct(loc, 0.95))} ms (target < 16; median ${fmt(pct(loc, 0.5))})`);
    console.log(`web_editor_${label}_keystroke_remote_p95: ${fmt(pct(rem, 0.95))} ms (target < 50; median ${fmt(pct(rem, 0.5))})`);
    console.log(`web_editor_${label}_remote_apply_p95: ${fmt(pct(applies, 0.95))} ms (target < 8; median ${fmt(pct(applies, 0.5))}, ${applies.length} frames)`);
    console.log(`web_editor_${label}_first_load: ${fmt(pct(loads, 0.5))} ms (target < 1500; median of 3)`);
    await a.context().close();
    await b.context().close();
}

const server = await new Server().start();
const browser = await launch();
try {
    await putText(server, "big", bigText(Number(process.env.WEB_EDITOR_BIG || (1 << 20))));
    await putText(server, 'small', bigText(10 * 1024));

    /* Page weight: the JS and CSS the editor page requested, gzipped. */
    const ctx = await browser.newContext();
    const probe = await ctx.newPage();
    const bodies = [];
    probe.on('response', (r) => {
        const type = r.headers()['content-type'] || '';
        if (/javascript|css/.test(type)) bodies.push(r.body().catch(() => Buffer.alloc(0)));
    });
    await probe.goto(server.url + '/d/small', { waitUntil: 'networkidle' });
    const files = await Promise.all(bodies);
    const raw = files.reduce((n, b) => n + b.length, 0);
    const gz = files.reduce((n, b) => n + gzipSync(b).length, 0);
    await ctx.close();

    await measure(browser, server, 'big', '1mb');
    await measure(browser, server, 'small', '10kb');
    console.log(`web_editor_page_weight_gzip: ${(gz / 1024).toFixed(1)} KB (JS + CSS, ${files.length} files, ${(raw / 1024).toFixed(1)} KB raw)`);
} finally {
    await browser.close();
    await server.close();
}
