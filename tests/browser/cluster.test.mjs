// cluster.test.mjs -- two editor pages through HAProxy in front of two
// chorus nodes that share one store, with Redis between them (issue 17):
// the editor connects to /ws?doc=<id>, so both pages land on one node; they
// type at once and end equal to each other and to the store. A third page
// on the other node directly (as if the proxy had sent it there) still
// converges with them: correctness does not depend on the routing. The
// HAProxy configuration is the one in docs/cluster.md.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { Server, launch, openEditor, freePort, ROOT } from './lib/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];
let redisPort, proxy, n1, n2, n2own, browser, tmp;

function redisUp(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
        s.once('data', (d) => { s.destroy(); resolve(String(d).startsWith('+PONG')); });
        s.once('error', () => resolve(false));
    });
}

async function until(what, fn, ms = 10000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (await fn().catch(() => false)) return;
        await sleep(50);
    }
    throw new Error(what + ' did not come up');
}

const connections = async (node) => {
    const m = await (await fetch(node.url + '/metrics')).text();
    return Number(/^chorus_connections (\d+)$/m.exec(m)[1]);
};

before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'chorus-cluster-web-'));
    redisPort = await freePort();
    procs.push(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1',
        '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' }));
    await until('redis', () => redisUp(redisPort));
    const [proxyPort, p1, p2] = [await freePort(), await freePort(), await freePort()];
    /* the proxy's origin, and each node's own (the third page) */
    const flags = ['--bus', `redis://127.0.0.1:${redisPort}`];
    for (const p of [proxyPort, p1, p2]) flags.push('--allow-origin', `http://127.0.0.1:${p}`);
    n1 = new Server(flags);
    n1.port = p1;
    await n1.start();
    n2 = new Server(flags);
    n2.port = p2;
    n2own = n2.data;
    n2.data = n1.data;
    await n2.start();
    const doc = readFileSync(path.join(ROOT, 'docs/cluster.md'), 'utf8');
    const cfg = doc.split('```haproxy\n')[1].split('```')[0]
        .replace('127.0.0.1:8080', `127.0.0.1:${proxyPort}`)
        .replace('127.0.0.1:8081', `127.0.0.1:${n1.port}`)
        .replace('127.0.0.1:8082', `127.0.0.1:${n2.port}`);
    writeFileSync(path.join(tmp, 'haproxy.cfg'), cfg);
    procs.push(spawn('haproxy', ['-f', path.join(tmp, 'haproxy.cfg'), '-db'], { stdio: 'ignore' }));
    proxy = {
        url: `http://127.0.0.1:${proxyPort}`,
        text: async (d) => (await fetch(`${n1.url}/api/docs/${d}/text`)).text(),
    };
    await until('haproxy', async () => (await fetch(proxy.url + '/readyz')).ok);
    browser = await launch();
});

after(async () => {
    if (browser) await browser.close();
    for (const p of procs) p.kill('SIGKILL');
    if (n2) await n2.stop();
    if (n2own) rmSync(n2own, { recursive: true, force: true });
    if (n1) await n1.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const state = (page) => page.evaluate(() => ({
    text: document.getElementById('text').value,
    saved: window.chorus.doc.saved,
}));

async function settle(pages, doc) {
    const end = Date.now() + 20000;
    let last;
    while (Date.now() < end) {
        const st = await Promise.all(pages.map(state));
        const srv = await proxy.text(doc);
        last = { st, srv };
        if (st.every((s) => s.saved && s.text === srv)) return srv;
        await sleep(100);
    }
    throw new Error('pages did not settle: ' + JSON.stringify(last));
}

test('two pages through the proxy land on one node and converge, and a third on the other node too', async () => {
    const doc = 'cluster-' + Date.now();
    const a = await openEditor(browser, proxy, doc, 'Ann');
    const b = await openEditor(browser, proxy, doc, 'Bob');
    const counts = [await connections(n1), await connections(n2)].sort();
    assert.deepEqual(counts, [0, 2], 'both pages on one node');
    const other = (await connections(n1)) ? n2 : n1;
    const c = await openEditor(browser, other, doc, 'Cy');
    const pieces = ['a', '한', '😀', ' ', 'e\u0301', 'x'];
    await Promise.all([a, b, c].map(async (p, i) => {
        await p.click('#text');
        for (let k = 0; k < 12; k++) await p.keyboard.type(pieces[(k + i) % pieces.length]);
    }));
    const text = await settle([a, b, c], doc);
    assert.equal([...text.normalize('NFC')].length >= 30, true, text);
    for (const p of [a, b, c]) assert.deepEqual(p.errors || [], []);
});
