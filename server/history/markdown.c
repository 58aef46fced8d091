/* markdown.c -- Markdown to HTML for the html export (see markdown.h).
 *
 * Blocks are found line by line; a blockquote or a list item is rendered
 * again from a copy of its lines with the marker stripped, at most MAX_DEPTH
 * deep (deeper content is shown as plain paragraphs). Inline spans search
 * for their closing delimiter; each search remembers what it found (or that
 * nothing is there) so a later search from further on never rescans the
 * same bytes: the whole render is linear in the input times the depth. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/history/history.h"

#define MAX_DEPTH 8

typedef struct md {
    FILE *out;
} md;

static void put(md *m, const char *s)
{
    fputs(s, m->out);
}

int srv_md_escape(FILE *out, const char *s, size_t len)
{
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\t': case '\n': case '\r': break;
        default:
            if (c < 0x20 || c == 0x7f) rep = "\xEF\xBF\xBD"; /* U+FFFD */
        }
        if (!rep) continue;
        fwrite(s + from, 1, i - from, out);
        fputs(rep, out);
        from = i + 1;
    }
    fwrite(s + from, 1, len - from, out);
    return ferror(out) ? -1 : 0;
}

static void esc(md *m, const char *s, size_t len)
{
    srv_md_escape(m->out, s, len);
}

int srv_md_safe_url(const char *u, size_t len)
{
    if (len == 0 || len > 2048) return 0;
    size_t colon = len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' ||
            c == '\'' || c == '`' || c == '\\')
            return 0;
        if (colon == len && (c == '/' || c == '?' || c == '#')) colon = len + 1;
        if (colon == len && c == ':') colon = i;
    }
    if (colon >= len) return 1; /* relative: no scheme */
    return (colon == 4 && strncasecmp(u, "http", 4) == 0) ||
           (colon == 5 && strncasecmp(u, "https", 5) == 0) ||
           (colon == 6 && strncasecmp(u, "mailto", 6) == 0);
}

/* ---- inline spans */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static int is_punct(char c)
{
    return c > 0x20 && c < 0x7f && !is_alnum(c);
}

/* A memo for one kind of closing delimiter within one inline call: 'at' is
 * the first closer found at or after 'from', 'none' the position from
 * which there is none (SIZE_MAX: unknown). */
typedef struct memo {
    size_t from, at, none;
} memo;

/* Emphasis kinds: * _ ** __, then code spans of 1..8 backticks, ] and ). */
enum { K_STAR1, K_UND1, K_STAR2, K_UND2, K_TICK, K_BRACKET = K_TICK + 8,
       K_PAREN, K_N };

typedef struct span {
    const char *s;
    size_t len;
    memo mm[K_N];
} span;

/* Is s[k] a closer for kind 'kind' (delimiter char c, width w)? */
static int closer_at(const span *sp, size_t k, int kind, char c, size_t w)
{
    const char *s = sp->s;
    if (kind >= K_TICK && kind < K_BRACKET) {
        if (k + w > sp->len || (k > 0 && s[k - 1] == '`')) return 0;
        for (size_t j = 0; j < w; j++)
            if (s[k + j] != '`') return 0;
        return k + w == sp->len || s[k + w] != '`';
    }
    if (kind == K_BRACKET || kind == K_PAREN) return s[k] == c;
    if (k + w > sp->len || k == 0 || is_space(s[k - 1])) return 0;
    for (size_t j = 0; j < w; j++)
        if (s[k + j] != c) return 0;
    if (k + w < sp->len && s[k + w] == c) return 0;
    if (s[k - 1] == c) return 0;
    if (c == '_' && k + w < sp->len && is_alnum(s[k + w])) return 0;
    return 1;
}

/* The first closer of 'kind' at or after 'from', or SIZE_MAX. */
static size_t find_closer(span *sp, size_t from, int kind, char c, size_t w)
{
    memo *m = &sp->mm[kind];
    if (m->none != SIZE_MAX && from >= m->none) return SIZE_MAX;
    if (m->at != SIZE_MAX && from >= m->from && from <= m->at) return m->at;
    for (size_t k = from; k < sp->len; k++) {
        if (kind != K_BRACKET && kind != K_PAREN && kind < K_TICK &&
            sp->s[k] == '\\') {
            k++;
            continue;
        }
        if (closer_at(sp, k, kind, c, w)) {
            m->from = from;
            m->at = k;
            return k;
        }
    }
    m->none = from;
    return SIZE_MAX;
}

static void inlines(md *m, const char *s, size_t len, int depth, int in_link);

static size_t code_span(md *m, span *sp, size_t i)
{
    size_t w = 0;
    while (i + w < sp->len && sp->s[i + w] == '`') w++;
    size_t k = w <= 8 ? find_closer(sp, i + w, K_TICK + (int)w - 1, '`', w)
                      : SIZE_MAX;
    if (k == SIZE_MAX) {
        esc(m, sp->s + i, w);
        return i + w;
    }
    const char *c = sp->s + i + w;
    size_t n = k - (i + w);
    if (n >= 2 && c[0] == ' ' && c[n - 1] == ' ') {
        c++;
        n -= 2;
    }
    put(m, "<code>");
    esc(m, c, n);
    put(m, "</code>");
    return k + w;
}

static size_t emphasis(md *m, span *sp, size_t i, int depth, int in_link)
{
    const char *s = sp->s;
    char c = s[i];
    size_t run = 0;
    while (i + run < sp->len && s[i + run] == c) run++;
    int opener = i + run < sp->len && !is_space(s[i + run]) &&
                 !(c == '_' && i > 0 && is_alnum(s[i - 1]));
    for (size_t w = run >= 2 ? 2 : 1; opener && w >= 1 && run <= 3; w--) {
        int kind = c == '*' ? (w == 2 ? K_STAR2 : K_STAR1)
                            : (w == 2 ? K_UND2 : K_UND1);
        size_t k = find_closer(sp, i + w + 1, kind, c, w);
        if (k == SIZE_MAX) continue;
        put(m, w == 2 ? "<strong>" : "<em>");
        inlines(m, s + i + w, k - i - w, depth + 1, in_link);
        put(m, w == 2 ? "</strong>" : "</em>");
        return k + w;
    }
    esc(m, s + i, run);
    return i + run;
}

static size_t link(md *m, span *sp, size_t i, int depth)
{
    size_t close = find_closer(sp, i + 1, K_BRACKET, ']', 1);
    if (close == SIZE_MAX || close + 1 >= sp->len || sp->s[close + 1] != '(')
        goto literal;
    size_t paren = find_closer(sp, close + 2, K_PAREN, ')', 1);
    if (paren == SIZE_MAX) goto literal;
    const char *url = sp->s + close + 2;
    size_t ulen = paren - (close + 2);
    if (!srv_md_safe_url(url, ulen)) goto literal;
    put(m, "<a href=\"");
    esc(m, url, ulen);
    put(m, "\" rel=\"nofollow noopener noreferrer\">");
    inlines(m, sp->s + i + 1, close - i - 1, depth + 1, 1);
    put(m, "</a>");
    return paren + 1;
literal:
    esc(m, "[", 1);
    return i + 1;
}

static void inlines(md *m, const char *s, size_t len, int depth, int in_link)
{
    if (depth > MAX_DEPTH) {
        esc(m, s, len);
        return;
    }
    span sp = {.s = s, .len = len};
    for (int k = 0; k < K_N; k++) sp.mm[k].at = sp.mm[k].none = SIZE_MAX;
    size_t i = 0, from = 0;
    while (i < len) {
        char c = s[i];
        if (c != '\\' && c != '`' && c != '*' && c != '_' &&
            !(c == '[' && !in_link)) {
            i++;
            continue;
        }
        esc(m, s + from, i - from);
        if (c == '\\' && i + 1 < len && is_punct(s[i + 1])) {
            esc(m, s + i + 1, 1);
            i += 2;
        } else if (c == '\\' && i + 1 < len && s[i + 1] == '\n') {
            put(m, "<br>\n");
            i += 2;
        } else if (c == '\\') {
            esc(m, s + i, 1);
            i++;
        } else if (c == '`') {
            i = code_span(m, &sp, i);
        } else if (c == '[') {
            i = link(m, &sp, i, depth);
        } else {
            i = emphasis(m, &sp, i, depth, in_link);
        }
        from = i;
    }
    esc(m, s + from, len - from);
}

/* ---- blocks */

typedef struct line {
    const char *s;   /* start of the line */
    size_t len;      /* without the newline */
    size_t next;     /* offset of the next line */
    size_t ind;      /* leading spaces (a tab counts 4) */
    const char *t;   /* after the indentation */
    size_t tlen;
} line;

static void get_line(const char *s, size_t len, size_t pos, line *l)
{
    const char *nl = memchr(s + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - s) : len;
    l->s = s + pos;
    l->len = end - pos;
    if (l->len && l->s[l->len - 1] == '\r') l->len--;
    l->next = nl ? end + 1 : len;
    size_t i = 0;
    l->ind = 0;
    while (i < l->len && (l->s[i] == ' ' || l->s[i] == '\t'))
        l->ind += l->s[i++] == '\t' ? 4 : 1;
    l->t = l->s + i;
    l->tlen = l->len - i;
}

static int blank(const line *l)
{
    return l->tlen == 0;
}

static size_t run_of(const char *s, size_t n, char c)
{
    size_t i = 0;
    while (i < n && s[i] == c) i++;
    return i;
}

static int heading_level(const line *l)
{
    size_t h = run_of(l->t, l->tlen, '#');
    if (l->ind >= 4 || h == 0 || h > 6) return 0;
    return h == l->tlen || l->t[h] == ' ' || l->t[h] == '\t' ? (int)h : 0;
}

static int is_rule(const line *l)
{
    if (l->ind >= 4 || l->tlen < 3) return 0;
    char c = l->t[0];
    size_t n = 0;
    if (c != '-' && c != '*' && c != '_') return 0;
    for (size_t i = 0; i < l->tlen; i++) {
        if (l->t[i] == c) n++;
        else if (l->t[i] != ' ' && l->t[i] != '\t') return 0;
    }
    return n >= 3;
}

static size_t fence_len(const line *l)
{
    if (l->ind >= 4 || l->tlen < 3 || (l->t[0] != '`' && l->t[0] != '~'))
        return 0;
    size_t n = run_of(l->t, l->tlen, l->t[0]);
    if (n < 3) return 0;
    if (l->t[0] == '`' && memchr(l->t + n, '`', l->tlen - n)) return 0;
    return n;
}

/* A list marker: its width (marker plus one space) and kind ('-' for
 * bullets of any char, '1' for ordered), or 0. */
static size_t list_marker(const line *l, char *kind, long *start)
{
    if (l->ind >= 4 || l->tlen == 0) return 0;
    const char *t = l->t;
    size_t n = l->tlen, w = 0;
    if (t[0] == '-' || t[0] == '*' || t[0] == '+') {
        *kind = t[0];
        w = 1;
    } else {
        long v = 0;
        while (w < n && w < 9 && t[w] >= '0' && t[w] <= '9') v = v * 10 + (t[w++] - '0');
        if (w == 0 || w >= n || (t[w] != '.' && t[w] != ')')) return 0;
        *kind = t[w];
        *start = v;
        w++;
    }
    if (w < n && t[w] != ' ' && t[w] != '\t') return 0;
    return w < n ? w + 1 : w;
}

static int block_start(const line *l)
{
    char k;
    long st;
    return heading_level(l) || is_rule(l) || fence_len(l) ||
           (l->ind < 4 && l->tlen && l->t[0] == '>') ||
           list_marker(l, &k, &st);
}

static void blocks(md *m, const char *s, size_t len, int depth, int tight);

/* Append line content (after stripping 'strip' columns of indentation) to a
 * growing buffer. 0, or -1 on ENOMEM. */
typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static int buf_add(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static int add_stripped(buf *b, const line *l, size_t strip)
{
    size_t i = 0, col = 0;
    while (i < l->len && col < strip && (l->s[i] == ' ' || l->s[i] == '\t'))
        col += l->s[i++] == '\t' ? 4 : 1;
    return buf_add(b, l->s + i, l->len - i) | buf_add(b, "\n", 1);
}

/* Render a nested block from 'b' (or as text if memory ran out). */
static void nested(md *m, buf *b, int depth, int tight)
{
    if (b->p) blocks(m, b->p, b->n, depth + 1, tight);
    free(b->p);
}

static size_t code_block(md *m, const char *s, size_t len, size_t pos)
{
    line l;
    size_t end = pos, last = pos;
    put(m, "<pre><code>");
    while (end < len) {
        get_line(s, len, end, &l);
        if (!blank(&l) && l.ind < 4) break;
        end = l.next;
        if (!blank(&l)) last = end;
    }
    for (size_t p = pos; p < last; p = l.next) {
        get_line(s, len, p, &l);
        size_t i = 0, col = 0;
        while (i < l.len && col < 4 && (l.s[i] == ' ' || l.s[i] == '\t'))
            col += l.s[i++] == '\t' ? 4 : 1;
        esc(m, l.s + i, l.len - i);
        put(m, "\n");
    }
    put(m, "</code></pre>\n");
    return last;
}

static size_t fenced(md *m, const char *s, size_t len, const line *open)
{
    size_t n = fence_len(open), pos = open->next;
    char c = open->t[0];
    line l;
    put(m, "<pre><code>");
    while (pos < len) {
        get_line(s, len, pos, &l);
        pos = l.next;
        if (fence_len(&l) >= n && l.t[0] == c &&
            run_of(l.t, l.tlen, c) == l.tlen)
            break;
        size_t i = 0, col = 0;
        while (i < l.len && col < open->ind && l.s[i] == ' ') i++, col++;
        esc(m, l.s + i, l.len - i);
        put(m, "\n");
    }
    put(m, "</code></pre>\n");
    return pos;
}

static void heading(md *m, const line *l)
{
    int h = heading_level(l);
    const char *t = l->t + h;
    size_t n = l->tlen - (size_t)h;
    while (n && (*t == ' ' || *t == '\t')) t++, n--;
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
    size_t hashes = 0;
    while (hashes < n && t[n - 1 - hashes] == '#') hashes++;
    if (hashes == n) n = 0;
    else if (hashes && (t[n - 1 - hashes] == ' ' || t[n - 1 - hashes] == '\t')) {
        n -= hashes;
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
    }
    fprintf(m->out, "<h%d>", h);
    inlines(m, t, n, 0, 0);
    fprintf(m->out, "</h%d>\n", h);
}

static size_t quote(md *m, const char *s, size_t len, size_t pos, int depth)
{
    buf b = {0};
    line l;
    while (pos < len) {
        get_line(s, len, pos, &l);
        if (l.ind >= 4 || !l.tlen || l.t[0] != '>') break;
        line in = l;
        in.s = l.t + 1;
        in.len = l.tlen - 1;
        if (add_stripped(&b, &in, 1) < 0) break;
        pos = l.next;
    }
    put(m, "<blockquote>\n");
    nested(m, &b, depth, 0);
    put(m, "</blockquote>\n");
    return pos;
}

/* One list item from 'pos': its lines go to a buffer, rendered nested. */
static size_t list_item(md *m, const char *s, size_t len, size_t pos,
                        int depth, char kind)
{
    line l, n;
    char k2;
    long st;
    get_line(s, len, pos, &l);
    size_t w = list_marker(&l, &k2, &st);
    buf b = {0};
    int loose = 0;
    line first = l;
    first.s = l.t + w;
    first.len = l.tlen - w;
    if (add_stripped(&b, &first, 0) < 0) goto out;
    pos = l.next;
    while (pos < len) {
        get_line(s, len, pos, &l);
        if (blank(&l)) {
            if (l.next >= len) break;
            get_line(s, len, l.next, &n);
            if (n.ind < 2) break;
            loose = 1;
        } else if (l.ind < 2 && (list_marker(&l, &k2, &st) ||
                                 block_start(&l))) {
            break;
        }
        if (add_stripped(&b, &l, w) < 0) break;
        pos = l.next;
    }
out:
    (void)kind;
    put(m, "<li>");
    nested(m, &b, depth, !loose);
    put(m, "</li>\n");
    return pos;
}

static size_t list(md *m, const char *s, size_t len, size_t pos, int depth)
{
    line l;
    char kind = 0, k2 = 0;
    long start = 1, st;
    get_line(s, len, pos, &l);
    list_marker(&l, &kind, &start);
    int ordered = kind == '.' || kind == ')';
    if (ordered && start != 1) fprintf(m->out, "<ol start=\"%ld\">\n", start);
    else put(m, ordered ? "<ol>\n" : "<ul>\n");
    while (pos < len) {
        get_line(s, len, pos, &l);
        if (blank(&l)) {
            size_t p = l.next;
            line n;
            while (p < len && (get_line(s, len, p, &n), blank(&n))) p = n.next;
            if (p >= len || !list_marker(&n, &k2, &st) || k2 != kind) break;
            pos = p;
            continue;
        }
        if (is_rule(&l) || !list_marker(&l, &k2, &st) || k2 != kind) break;
        pos = list_item(m, s, len, pos, depth, kind);
    }
    put(m, ordered ? "</ol>\n" : "</ul>\n");
    return pos;
}

static size_t paragraph(md *m, const char *s, size_t len, size_t pos,
                        int tight)
{
    line l;
    size_t start, end;
    get_line(s, len, pos, &l);
    start = end = (size_t)(l.t - s);
    for (int first = 1; pos < len; first = 0) {
        get_line(s, len, pos, &l);
        if (blank(&l) || (!first && block_start(&l))) break;
        end = (size_t)(l.s - s) + l.len;
        pos = l.next;
    }
    if (!tight) put(m, "<p>");
    inlines(m, s + start, end - start, 0, 0);
    put(m, tight ? "\n" : "</p>\n");
    return pos;
}

static void blocks(md *m, const char *s, size_t len, int depth, int tight)
{
    size_t pos = 0;
    line l;
    while (pos < len && !ferror(m->out)) {
        get_line(s, len, pos, &l);
        if (blank(&l)) pos = l.next;
        else if (depth > MAX_DEPTH) pos = paragraph(m, s, len, pos, 0);
        else if (l.ind >= 4) pos = code_block(m, s, len, pos);
        else if (fence_len(&l)) pos = fenced(m, s, len, &l);
        else if (heading_level(&l)) heading(m, &l), pos = l.next;
        else if (is_rule(&l)) put(m, "<hr>\n"), pos = l.next;
        else if (l.t[0] == '>') pos = quote(m, s, len, pos, depth);
        else if (block_start(&l)) pos = list(m, s, len, pos, depth);
        else pos = paragraph(m, s, len, pos, tight);
    }
}

int srv_md_render(FILE *out, const char *text, size_t len)
{
    md m = {.out = out};
    blocks(&m, text, len, 0, 0);
    return ferror(out) ? -1 : 0;
}
