// preview.test.mjs -- the parts of web/preview.js that need no page: the
// URL rule (http, https, mailto, relative; tricks that hide a scheme),
// task lists on markdown-it's tokens, the window of a long text, and the
// vendored markdown-it: web/vendor/ holds exactly what `make vendor` makes
// from the version pinned in package-lock.json, with every licence.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { safeUrl, sourceWindow, makeRenderer } from '../../web/preview.js';
import markdownit from '../../web/vendor/markdown-it.mjs';

test('links: only http, https, mailto and relative URLs pass', () => {
    for (const u of ['https://example.com/x', 'http://a.b', 'HTTPS://A.B', 'mailto:a@b.c', '/d/x', 'x.md', '#top', '?q=1', '//example.com/x', ''])
        assert.equal(safeUrl(u), true, u);
    for (const u of ['javascript:alert(1)', 'JaVaScRiPt:x', ' javascript:x', '\u0001javascript:x', 'java\tscript:x', 'java\nscript:x',
        'data:text/html,x', 'data:image/png;base64,AAAA', 'vbscript:x', 'file:///etc/passwd', 'blob:https://a/b', 'ftp://a'])
        assert.equal(safeUrl(u), false, JSON.stringify(u));
});

test('markdown-it with the preview rules: no raw HTML, bad links are text, task lists marked', () => {
    const md = makeRenderer(markdownit);
    const toks = md.parse('- [ ] a\n- [x] b\n- [y] c\n\n<script>x</script> [j](javascript:x) [h](https://e.x)\n', {});
    const items = toks.filter((t) => t.type === 'list_item_open').map((t) => (t.meta ? t.meta.task : undefined));
    assert.deepEqual(items, [false, true, undefined]);
    const texts = toks.filter((t) => t.type === 'inline').map((t) => t.content);
    assert.deepEqual(texts.slice(0, 3), ['a', 'b', '[y] c']);
    const kinds = toks.flatMap((t) => (t.children || []).map((c) => c.type));
    assert.ok(!kinds.includes('html_inline') && !toks.some((t) => t.type === 'html_block'), 'no HTML token');
    const hrefs = toks.flatMap((t) => (t.children || []).filter((c) => c.type === 'link_open').map((c) => c.attrGet('href')));
    assert.deepEqual(hrefs, ['https://e.x']);
});

test('the window of a long text is cut at blank lines and keeps a fence whole', () => {
    const text = 'para\n\n'.repeat(1000) + '```\ncode\n\nmore\n```\n\n' + 'tail\n\n'.repeat(1000);
    const fence = text.indexOf('```');
    for (const at of [0, 100, fence + 8, 6000, text.length - 1, text.length]) {
        const w = sourceWindow(text, at, 600);
        assert.ok(w.from <= at || w.from === 0, 'covers ' + at);
        assert.ok(w.to >= Math.min(at, text.length), 'covers ' + at);
        assert.ok(w.from === 0 || text.slice(w.from - 2, w.from) === '\n\n' || text.startsWith('```', w.from), 'cut at a paragraph: ' + w.from);
        const part = text.slice(w.from, w.to);
        assert.equal((part.match(/^```/gm) || []).length % 2, 0, 'no half fence at ' + at);
        assert.equal(w.line, text.slice(0, w.from).split('\n').length - 1);
        assert.ok(w.to - w.from < 1400);
    }
    assert.deepEqual(sourceWindow('short', 3, 600), { from: 0, to: 5, line: 0, margin: 1 });
});

test('web/vendor holds markdown-it as pinned, with its licences', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
    const pinned = lock.packages['node_modules/markdown-it'].version;
    assert.equal(JSON.parse(readFileSync('package.json', 'utf8')).devDependencies['markdown-it'], pinned, 'pinned exactly');
    const vendored = readFileSync('web/vendor/markdown-it.mjs', 'utf8');
    const fresh = readFileSync('node_modules/markdown-it/dist/browser/markdown-it.esm.min.mjs', 'utf8').replace(/^\/\/# sourceMappingURL=.*\n?/m, '');
    assert.ok(vendored.startsWith(`/*! markdown-it ${pinned} `), 'the pinned version');
    assert.equal(vendored, fresh, 'web/vendor/markdown-it.mjs is stale: run make vendor');
    const lic = readFileSync('web/vendor/markdown-it.LICENSE.txt', 'utf8');
    for (const p of ['markdown-it', 'entities', 'linkify-it', 'mdurl', 'punycode.js', 'uc.micro']) {
        const v = lock.packages['node_modules/' + p].version;
        assert.ok(lic.includes(`==== ${p} ${v} `), `licence of ${p} ${v}`);
    }
});
