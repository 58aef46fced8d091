// harness.mjs -- shared by the browser tests and bench/web_*.bench.mjs:
// start the real chorus binary on a free port with a temporary data
// directory (and stop / restart it on the same port and data), and launch
// Debian's chromium through playwright-core exactly as this machine needs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.CHORUS_BIN || path.join(ROOT, 'build/chorus');
export const WEB = path.join(ROOT, 'web');

/* A port free now, below the kernel's ephemeral range (32768 and up), so
 * that no outgoing connection of a test or of another process on this
 * shared machine takes it before the server binds it. */
function tryPort(port) {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.unref();
        s.once('error', () => resolve(false));
        s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
}

export async function freePort() {
    for (let i = 0; i < 200; i++) {
        const port = 20000 + Math.floor(Math.random() * 12000);
        if (await tryPort(port)) return port;
    }
    throw new Error('no free port in 20000-32000');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Servers still running when this process exits (a test that crashed or
 * was interrupted) are killed with it. */
const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));

/* A chorus server: start() / stop() / restart() keep the port and data. */
export class Server {
    constructor(extraArgs = []) {
        this.data = mkdtempSync(path.join(tmpdir(), 'chorus-web-'));
        this.extra = extraArgs;
        this.proc = null;
        this.log = '';
    }
    get url() { return `http://127.0.0.1:${this.port}`; }
    /* A port chosen here may still be taken by another process before the
     * server binds it: then choose again (a restart keeps its port). */
    async start() {
        const chosen = !this.port;
        for (let attempt = 0; ; attempt++) {
            if (!this.port) this.port = await freePort();
            try {
                return await this.startOn();
            } catch (e) {
                if (!chosen || attempt === 4 || !/cannot start the server/.test(String(e))) throw e;
                this.port = 0;
            }
        }
    }
    async startOn() {
        const args = ['serve', '--bind', '127.0.0.1', '--port', String(this.port), '--data', this.data, '--web', WEB, ...this.extra];
        this.proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        const proc = this.proc;
        live.add(proc);
        proc.once('exit', () => live.delete(proc));
        const keep = (d) => { this.log = (this.log + d).slice(-20000); };
        this.proc.stdout.on('data', keep);
        this.proc.stderr.on('data', keep);
        const exited = new Promise((res) => this.proc.once('exit', (code) => res(code)));
        this.exited = exited;
        for (let i = 0; i < 200; i++) {
            const code = await Promise.race([exited, sleep(25).then(() => undefined)]);
            if (code !== undefined) throw new Error(`chorus exited (${code}): ${this.log}`);
            try {
                await fetch(this.url + '/api/me'); /* any answer: it listens */
                return this;
            } catch { /* not listening yet */ }
        }
        throw new Error('chorus did not start: ' + this.log);
    }
    async stop(signal = 'SIGTERM') {
        if (!this.proc) return;
        const p = this.proc;
        this.proc = null;
        p.kill(signal);
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        await this.exited;
        clearTimeout(t);
    }
    async restart() { await this.stop(); await this.start(); }
    async close() { await this.stop(); rmSync(this.data, { recursive: true, force: true }); }
    async text(doc, version) {
        const q = version === undefined ? '' : `?version=${version}`;
        const r = await fetch(`${this.url}/api/docs/${encodeURIComponent(doc)}/text${q}`);
        if (!r.ok) throw new Error(`GET text: ${r.status}`);
        return r.text();
    }
}

export function launch() {
    return chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
}

/* Open the editor for 'doc' in a new context (its own localStorage, so its
 * own client id) and wait until it is joined. */
export async function openEditor(browser, server, doc, name, viewport = { width: 900, height: 560 }) {
    const ctx = await browser.newContext({ viewport });
    if (name) await ctx.addInitScript((n) => { if (!localStorage.getItem('chorus.name')) localStorage.setItem('chorus.name', n); }, name);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(String(e)); });
    await page.goto(`${server.url}/d/${encodeURIComponent(doc)}`);
    await page.waitForFunction(() => window.chorus && window.chorus.doc && window.chorus.doc.ready);
    return page;
}

export function buildDir() {
    const d = path.join(ROOT, 'build');
    mkdirSync(d, { recursive: true });
    return d;
}
