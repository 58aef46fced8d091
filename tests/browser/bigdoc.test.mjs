// bigdoc.test.mjs -- the editor on a 1 MB document of Latin, Hangul and
// emoji: edits typed on one page land at the right place on the other,
// whose selection and scroll position stay on the same text (moved by what
// was inserted before them), without the textarea's whole value being set
// again; the overlay of carets holds exactly the textarea's text, in
// blocks; both pages and the server converge.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launch, openEditor } from './lib/harness.mjs';

let server, browser;
after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
});

function bigText(bytes) {
    const lines = [];
    let n = 0;
    for (let i = 0; n < bytes; i++) {
        const l = `${i} 한국어 문장 😀🎉 the quick brown fox ${'x'.repeat(i % 40)}`;
        lines.push(l);
        n += Buffer.byteLength(l) + 1;
    }
    return lines.join('\n') + '\n';
}

async function create(doc, text) {
    const c = await fetch(`${server.url}/api/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc }) });
    assert.equal(c.status, 201);
    const lines = text.split(/(?<=\n)/);
    for (let i = 0; i < lines.length;) {
        let piece = '';
        while (i < lines.length && piece.length < 60000) piece += lines[i++];
        const r = await fetch(`${server.url}/api/docs/${doc}/append`, { method: 'POST', body: piece, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
        assert.equal(r.status, 200);
    }
}

/* The overlay's text: its blocks joined by newlines, carets left out. */
const overlayText = (page) => page.evaluate(() => [...document.getElementById('overlay-inner').children]
    .map((el) => {
        const c = el.cloneNode(true);
        for (const k of c.querySelectorAll('.caret')) k.remove();
        return c.textContent.replace(/\u200b$/, '');
    }).join('\n'));

test('1 MB: remote edits land in place, the selection and scroll stay, pages converge', async () => {
    server = await new Server().start();
    browser = await launch();
    const doc = 'big';
    const text = bigText(1 << 20);
    await create(doc, text);
    assert.equal(await server.text(doc), text);
    const a = await openEditor(browser, server, doc, 'A');
    const b = await openEditor(browser, server, doc, 'B');
    assert.equal(await b.evaluate(() => document.getElementById('text').value.length), text.length);

    /* B selects a word in the middle and scrolls it into view; it counts
     * every assignment of the textarea's whole value from now on. */
    const mid = text.indexOf('\n', text.length >> 1) + 1;
    const selFrom = text.indexOf('quick', mid), selTo = selFrom + 'quick brown'.length;
    await b.evaluate(([f, t]) => {
        const ta = document.getElementById('text');
        ta.focus();
        ta.setSelectionRange(f, t);
        ta.blur(); ta.focus();
        ta.scrollTop = ta.scrollHeight / 2;
        document.dispatchEvent(new Event('selectionchange'));
        window.valueSets = 0;
        const d = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value');
        Object.defineProperty(ta, 'value', { get() { return d.get.call(this); }, set(v) { window.valueSets++; d.set.call(this, v); }, configurable: true });
    }, [selFrom, selTo]);
    const scroll = await b.evaluate(() => document.getElementById('text').scrollTop);

    /* A edits before B's selection (an insert with emoji and Hangul, a
     * delete of a line holding emoji), inside nothing of it, and after it. */
    const edit = async (at, fn) => {
        await a.evaluate((p) => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(p, p); }, at);
        await fn();
    };
    let expect = text;
    const p1 = text.indexOf('\n', 1000) + 1;
    await edit(p1, () => a.keyboard.type('새 줄 😀 new\n'));
    expect = expect.slice(0, p1) + '새 줄 😀 new\n' + expect.slice(p1);
    const p2 = expect.indexOf('\n', mid - 3000) + 1;
    const p2e = expect.indexOf('\n', p2) + 1;
    await a.evaluate(([f, t]) => { const ta = document.getElementById('text'); ta.focus(); ta.setSelectionRange(f, t); }, [p2, p2e]);
    await a.keyboard.press('Backspace');
    expect = expect.slice(0, p2) + expect.slice(p2e);
    const p3 = expect.indexOf('\n', mid + 5000);
    await edit(p3, () => a.keyboard.type(' 끝🎉'));
    expect = expect.slice(0, p3) + ' 끝🎉' + expect.slice(p3);
    const shift = '새 줄 😀 new\n'.length - (p2e - p2);

    await a.waitForFunction(() => window.chorus.doc.saved, null, { timeout: 20000 });
    assert.equal(await a.evaluate(() => document.getElementById('text').value), expect);
    await b.waitForFunction((n) => document.getElementById('text').value.length === n, expect.length, { timeout: 20000 });
    const st = await b.evaluate(() => {
        const ta = document.getElementById('text');
        return { value: ta.value, start: ta.selectionStart, end: ta.selectionEnd, scroll: ta.scrollTop, sets: window.valueSets };
    });
    assert.ok(st.value === expect, 'B converged');
    assert.equal(st.start, selFrom + shift);
    assert.equal(st.end, selTo + shift);
    assert.equal(st.value.slice(st.start, st.end), 'quick brown');
    assert.equal(st.scroll, scroll);
    assert.equal(st.sets, 0, 'remote ops never set the whole value');
    assert.equal(await server.text(doc), expect);

    /* A's caret is drawn on B in its block; the blocks hold B's text. */
    await b.waitForFunction(() => document.querySelector('#overlay-inner .caret'));
    assert.ok(await overlayText(b) === expect, 'the overlay holds the text');
    const blocks = await b.evaluate(() => document.getElementById('overlay-inner').children.length);
    assert.ok(blocks > 50, `${blocks} blocks`);
    const aCaret = await a.evaluate(() => window.chorus.doc.cursor.head);
    await b.waitForFunction((h) => { const c = document.querySelector('#overlay-inner .caret'); return c && Number(c.dataset.pos) === h; }, aCaret);

    /* B's own typing in its selection goes to the right place too. */
    await b.keyboard.type('слово');
    expect = expect.slice(0, selFrom + shift) + 'слово' + expect.slice(selTo + shift);
    await b.waitForFunction(() => window.chorus.doc.saved, null, { timeout: 20000 });
    await a.waitForFunction((t) => document.getElementById('text').value === t, expect, { timeout: 20000 });
    assert.equal(await server.text(doc), expect);
    assert.ok(await overlayText(a) === expect || !(await a.evaluate(() => document.querySelector('#overlay-inner div'))));
    assert.deepEqual([...(a.errors || []), ...(b.errors || [])], []);
});
