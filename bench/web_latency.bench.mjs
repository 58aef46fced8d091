// web_latency.bench.mjs -- the editor in headless Chromium against the real
// server on localhost: keystroke on page A to the text shown on page B
// (median and p99 over 500 keystrokes, one at a time), and the weight of
// everything the editor page loads. Prints `name: value unit` lines.
//   dom:   A's keydown event to B's textarea holding the character
//   frame: the same to the first animation frame after that on B (paint)
import { Server, launch, openEditor } from '../tests/browser/lib/harness.mjs';

const N = Number(process.env.WEB_BENCH_KEYS || 500);
const pct = (xs, p) => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const fmt = (x) => x.toFixed(2);

const server = await new Server().start();
const browser = await launch();
try {
    // Page weight: every response the editor page loads.
    const ctx = await browser.newContext();
    const probe = await ctx.newPage();
    const sizes = [];
    probe.on('response', async (r) => { if (r.url().startsWith(server.url)) sizes.push(r.body().then((b) => b.length).catch(() => 0)); });
    await probe.goto(server.url + '/d/weight', { waitUntil: 'networkidle' });
    const bytes = (await Promise.all(sizes)).reduce((x, y) => x + y, 0);
    await ctx.close();

    const a = await openEditor(browser, server, 'latency', 'A');
    const b = await openEditor(browser, server, 'latency', 'B');
    await b.evaluate(() => {
        window.lat = [];
        window.addEventListener('chorus:remote', (e) => {
            const rec = { dom: e.detail.t, frame: 0 };
            window.lat.push(rec);
            requestAnimationFrame(() => { rec.frame = performance.timeOrigin + performance.now(); });
        });
    });
    await a.evaluate(() => {
        window.keys = [];
        document.getElementById('text').addEventListener('keydown', (e) => window.keys.push(performance.timeOrigin + e.timeStamp));
    });
    await a.click('#text');
    for (let i = 0; i < N; i++) {
        const seen = b.evaluate((n) => new Promise((res) => {
            const check = () => (window.lat.length > n ? res() : setTimeout(check, 0));
            window.addEventListener('chorus:remote', function once() { window.removeEventListener('chorus:remote', once); setTimeout(check, 0); });
            check();
        }), i);
        await a.keyboard.press(String.fromCharCode(97 + (i % 26)));
        await seen;
    }
    await b.waitForTimeout(100);
    const keys = await a.evaluate(() => window.keys);
    const lat = await b.evaluate(() => window.lat);
    const dom = lat.slice(0, N).map((l, i) => l.dom - keys[i]);
    const frame = lat.slice(0, N).filter((l) => l.frame).map((l, i) => l.frame - keys[i]);
    console.log(`web_keystroke_to_remote_median: ${fmt(pct(dom, 0.5))} ms (target < 20)`);
    console.log(`web_keystroke_to_remote_p99: ${fmt(pct(dom, 0.99))} ms`);
    console.log(`web_keystroke_to_remote_painted_median: ${fmt(pct(frame, 0.5))} ms`);
    console.log(`web_keystroke_to_remote_painted_p99: ${fmt(pct(frame, 0.99))} ms`);
    console.log(`web_keystrokes_measured: ${dom.length} keys`);
    console.log(`web_page_weight: ${(bytes / 1024).toFixed(1)} KB (target < 200, uncompressed, ${sizes.length} files)`);
} finally {
    await browser.close();
    await server.close();
}
