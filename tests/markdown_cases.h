/* markdown_cases.h -- the pathological Markdown inputs of libcmark's own
 * suite (commonmark/cmark, test/pathological_tests.py), built at any size
 * n, for tests/test_srv_export.c (safe, whole output) and
 * bench/bench_srv_markdown.c (time at n and at 10n: linear or not).
 *
 * Most are pre + unit * n + mid + unit2 * n; three are built by a
 * function. 'mark' is a character that only the input's text brings, and
 * 'per_n', 'plus' say how many of it the output must still hold (as text:
 * nothing may be lost); per_n < 0 skips that check. md_well_formed()
 * checks any output of srv_md_render (also for fuzz/fuzz_markdown.c). */
#ifndef CHORUS_TESTS_MARKDOWN_CASES_H
#define CHORUS_TESTS_MARKDOWN_CASES_H

#include <stdlib.h>
#include <string.h>

#include "server/history/history.h"

typedef struct md_case {
    const char *name;
    const char *pre, *unit, *mid, *unit2;
    char *(*build)(size_t n, size_t *len);  /* instead of the four above */
    char mark;
    long per_n, plus;
} md_case;

typedef struct md_buf {
    char *p;
    size_t n, cap;
} md_buf;

static inline void md_put(md_buf *b, const char *s, size_t k)
{
    if (!b->p && b->cap) return; /* out of memory earlier */
    if (b->n + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + k + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            free(b->p);
            b->p = NULL;
            b->cap = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k);
    b->n += k;
    b->p[b->n] = 0;
}

static inline void md_puts(md_buf *b, const char *s)
{
    md_put(b, s, strlen(s));
}

/* "deeply nested lists": n lines, line x indented 2x: "* a". */
static inline char *md_nested_lists(size_t n, size_t *len)
{
    md_buf b = {0};
    for (size_t x = 0; x < n; x++) {
        for (size_t i = 0; i < x; i++) md_puts(&b, "  ");
        md_puts(&b, "* a\n");
    }
    *len = b.n;
    return b.p;
}

/* "backticks": "e" then x backticks, for x = 1..n: no two runs match. */
static inline char *md_backticks(size_t n, size_t *len)
{
    md_buf b = {0};
    for (size_t x = 1; x <= n; x++) {
        md_puts(&b, "e");
        for (size_t i = 0; i < x; i++) md_puts(&b, "`");
    }
    *len = b.n;
    return b.p;
}

/* "many references": 16n definitions "[x]: u", then "[0] " n times. */
static inline char *md_references(size_t n, size_t *len)
{
    md_buf b = {0};
    char line[32];
    for (size_t x = 1; x < 16 * n; x++) {
        snprintf(line, sizeof line, "[%zu]: u\n", x);
        md_puts(&b, line);
    }
    for (size_t x = 0; x < n; x++) md_puts(&b, "[0] ");
    *len = b.n;
    return b.p;
}

static const md_case md_cases[] = {
    {"nested_strong_emph", "", "*a **a ", "b", " a** a*", NULL, 'b', 0, 1},
    {"emph_closers_no_openers", "", "a_ ", "", "", NULL, '_', 1, 0},
    {"emph_openers_no_closers", "", "_a ", "", "", NULL, '_', 1, 0},
    {"link_closers_no_openers", "", "a]", "", "", NULL, ']', 1, 0},
    {"link_openers_no_closers", "", "[a", "", "", NULL, '[', 1, 0},
    {"mismatched_openers_closers", "", "*a_ ", "", "", NULL, '_', 1, 0},
    {"openers_closers_multiple_of_3", "a**b", "c* ", "", "", NULL, 'c', 1, 0},
    {"link_openers_emph_closers", "", "[ a_", "", "", NULL, '[', 1, 0},
    {"nested_brackets", "", "[", "a", "]", NULL, '[', 1, 0},
    {"nested_block_quotes", "", "> ", "a", "", NULL, 'a', 0, 1},
    {"unclosed_links_a", "", "[a](<b", "", "", NULL, 'b', 1, 0},
    {"unclosed_links_b", "", "[a](b", "", "", NULL, 'b', 1, 0},
    {"deeply_nested_lists", NULL, NULL, NULL, NULL, md_nested_lists, 'a', -1, 0},
    {"backticks", NULL, NULL, NULL, NULL, md_backticks, 'e', 1, 0},
    {"many_references", NULL, NULL, NULL, NULL, md_references, 'u', -1, 0},
};

/* Case 'c' at size n (malloc'd, NUL-terminated, its length in *len), or
 * NULL when memory ran out. */
static inline char *md_case_build(const md_case *c, size_t n, size_t *len)
{
    if (c->build) return c->build(n, len);
    md_buf b = {0};
    md_puts(&b, c->pre);
    for (size_t i = 0; i < n; i++) md_puts(&b, c->unit);
    md_puts(&b, c->mid);
    for (size_t i = 0; i < n && c->unit2[0]; i++) md_puts(&b, c->unit2);
    *len = b.n;
    return b.p;
}

/* ---- checking an output */

/* The tags the renderer may emit; every '<' of the output starts one. */
static const char *const md_tags[] = {
    "<p>", "</p>", "<em>", "</em>", "<strong>", "</strong>", "<code>",
    "</code>", "<pre>", "</pre>", "<h1>", "</h1>", "<h2>", "</h2>", "<h3>",
    "</h3>", "<h4>", "</h4>", "<h5>", "</h5>", "<h6>", "</h6>", "<ul>",
    "</ul>", "<ol>", "<ol start=\"", "</ol>", "<li>", "</li>",
    "<blockquote>", "</blockquote>", "<hr />", "<br />", "<a href=\"", "</a>"};

/* The href starting at 'v' (up to its closing quote), with &amp; read
 * back as &, is one srv_md_safe_url accepts. */
static inline int md_href_safe(const char *v)
{
    char url[4096];
    size_t n = 0;
    for (; *v && *v != '"'; v++) {
        if (n + 1 >= sizeof url) return 0;
        url[n++] = *v;
        if (*v == '&' && strncmp(v, "&amp;", 5) == 0) v += 4;
    }
    return *v == '"' && srv_md_safe_url(url, n);
}

/* 0 when every tag is known, balanced, and every href is safe (after
 * the attribute's one escape, &amp;, is undone). */
static inline int md_well_formed(const char *h)
{
    const char *stack[4096];
    int depth = 0;
    for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
        size_t k = 0, nt = sizeof md_tags / sizeof *md_tags;
        while (k < nt && strncmp(p, md_tags[k], strlen(md_tags[k])) != 0) k++;
        if (k == nt) return -1;
        const char *t = md_tags[k];
        if (strcmp(t, "<a href=\"") == 0 && !md_href_safe(p + 9)) return -2;
        if (t[1] == '/') {
            size_t nl = strcspn(t + 2, ">");
            const char *o = depth ? stack[depth - 1] + 1 : "";
            if (depth == 0 || strcspn(o, " >") != nl || strncmp(o, t + 2, nl))
                return -3;
            depth--;
        } else if (strcmp(t, "<hr />") && strcmp(t, "<br />")) {
            if (depth == 4096) return -4;
            stack[depth++] = t;
        }
    }
    return depth == 0 ? 0 : -5;
}

#endif
