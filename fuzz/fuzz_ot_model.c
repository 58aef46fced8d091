/* fuzz_ot_model.c -- ot/ against a naive model: a document is a flat array
 * of code points, an op an "expanded" edit (for each gap, the code points
 * inserted there; for each code point, deleted or not).
 *
 * The input is read as a little program: an initial text (small or, to grow
 * the B-tree, long), then rounds of random edits drawn from the bytes. Each
 * round checks, against the model: ot_doc_apply (text, lengths, slices,
 * ot_doc_check), an op reaching past the end is refused with OT_ERANGE and
 * changes nothing; ot_transform equals the model's transform (ties: the
 * OT_LEFT op's insert first) and converges (TP1); ot_compose applied equals
 * the two ops applied; ot_invert undoes; ot_transform_pos stays in range
 * and follows the model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "fuzz_ot_model: %s (line %d)\n", #x, __LINE__); abort(); } } while (0)
#define MAXCP 3000

typedef struct rd { const uint8_t *p; size_t n, i; } rd;
static unsigned byte(rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static int more(const rd *r) { return r->i < r->n; }

static const uint32_t alphabet[] = {'a', 'b', '\n', 0xe9, 0x301, 0x20ac,
                                    0xd55c, 0x1f600, 0, 0x10ffff};
#define NALPHA (sizeof alphabet / sizeof alphabet[0])

typedef struct model { uint32_t *cp; size_t n; } model;

/* An expanded op over a base of 'n' code points. */
typedef struct xop {
    size_t n;
    uint32_t **ins;   /* n + 1 gaps */
    size_t *nins;
    uint8_t *del;     /* n */
} xop;

static size_t utf8_put(char *o, uint32_t c)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xc0 | c >> 6); o[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) { o[0] = (char)(0xe0 | c >> 12); o[1] = (char)(0x80 | (c >> 6 & 63)); o[2] = (char)(0x80 | (c & 63)); return 3; }
    o[0] = (char)(0xf0 | c >> 18); o[1] = (char)(0x80 | (c >> 12 & 63));
    o[2] = (char)(0x80 | (c >> 6 & 63)); o[3] = (char)(0x80 | (c & 63));
    return 4;
}

static char *encode(const uint32_t *cp, size_t n, size_t *bytes)
{
    char *s = malloc(n * 4 + 1);
    size_t b = 0;
    CHECK(s);
    for (size_t i = 0; i < n; i++) b += utf8_put(s + b, cp[i]);
    s[b] = 0;
    *bytes = b;
    return s;
}

static xop *xop_new(size_t n)
{
    xop *x = calloc(1, sizeof *x);
    CHECK(x);
    x->n = n;
    x->ins = calloc(n + 1, sizeof *x->ins);
    x->nins = calloc(n + 1, sizeof *x->nins);
    x->del = calloc(n ? n : 1, 1);
    CHECK(x->ins && x->nins && x->del);
    return x;
}

static void xop_free(xop *x)
{
    if (!x) return;
    for (size_t i = 0; i <= x->n; i++) free(x->ins[i]);
    free(x->ins);
    free(x->nins);
    free(x->del);
    free(x);
}

static void xins(xop *x, size_t gap, const uint32_t *cp, size_t k)
{
    x->ins[gap] = realloc(x->ins[gap], (x->nins[gap] + k) * sizeof(uint32_t));
    CHECK(x->ins[gap]);
    memcpy(x->ins[gap] + x->nins[gap], cp, k * sizeof(uint32_t));
    x->nins[gap] += k;
}

/* Normal form: text inserted right after deleted code points goes to the
 * start of the deletion (the library keeps an insert before a delete). */
static void xnormalise(xop *x)
{
    for (size_t g = 1; g <= x->n; g++) {
        if (!x->nins[g] || !x->del[g - 1]) continue;
        size_t to = g;
        while (to > 0 && x->del[to - 1]) to--;
        xins(x, to, x->ins[g], x->nins[g]);
        free(x->ins[g]);
        x->ins[g] = NULL;
        x->nins[g] = 0;
    }
}

/* Build an ot_op from an expanded op (the library normalises). */
static ot_op *xop_build(const xop *x)
{
    ot_op *op = ot_op_new();
    CHECK(op);
    for (size_t i = 0; i <= x->n; i++) {
        if (x->nins[i]) {
            size_t b;
            char *s = encode(x->ins[i], x->nins[i], &b);
            CHECK(ot_op_insert(op, s, b) == 0);
            free(s);
        }
        if (i < x->n) CHECK((x->del[i] ? ot_op_delete(op, 1) : ot_op_retain(op, 1)) == 0);
    }
    return op;
}

/* Draw an edit of a text of 'n' code points; also built directly through
 * the builder API in the drawn order (not normal form), into *direct. */
static xop *draw(rd *r, size_t n, ot_op **direct)
{
    xop *x = xop_new(n);
    ot_op *op = ot_op_new();
    CHECK(op);
    size_t p = 0;
    while (more(r) && p <= n) {
        unsigned k = byte(r);
        if (k % 8 == 7) break;
        if (k % 3 == 0 && p < n) {          /* retain */
            size_t m = 1 + (k / 3 % 4 == 3 ? (byte(r) | byte(r) << 8) : byte(r) % 6);
            if (m > n - p) m = n - p;
            CHECK(ot_op_retain(op, (uint32_t)m) == 0);
            p += m;
        } else if (k % 3 == 1) {            /* insert */
            uint32_t cps[4];
            size_t m = 1 + byte(r) % 4, b;
            for (size_t i = 0; i < m; i++) cps[i] = alphabet[byte(r) % NALPHA];
            char *s = encode(cps, m, &b);
            CHECK(ot_op_insert(op, s, b) == 0);
            free(s);
            xins(x, p, cps, m);
        } else if (p < n) {                 /* delete */
            size_t m = 1 + byte(r) % 5;
            if (m > n - p) m = n - p;
            CHECK(ot_op_delete(op, (uint32_t)m) == 0);
            memset(x->del + p, 1, m);
            p += m;
        }
    }
    xnormalise(x);
    *direct = op;
    return x;
}

static void xapply(model *out, const model *in, const xop *x)
{
    size_t cap = in->n + 1;
    for (size_t i = 0; i <= x->n; i++) cap += x->nins[i];
    out->cp = malloc(cap * sizeof(uint32_t));
    CHECK(out->cp);
    out->n = 0;
    for (size_t i = 0; i <= x->n; i++) {
        if (x->nins[i]) memcpy(out->cp + out->n, x->ins[i], x->nins[i] * sizeof(uint32_t));
        out->n += x->nins[i];
        if (i < x->n && !x->del[i]) out->cp[out->n++] = in->cp[i];
    }
}

/* a' over b's result; OT_LEFT: a's text first at a shared gap. */
static xop *xtransform(const xop *a, const xop *b, int side)
{
    size_t out = 0;
    for (size_t i = 0; i <= b->n; i++) out += b->nins[i] + (i < b->n && !b->del[i]);
    xop *x = xop_new(out);
    size_t p = 0;
    for (size_t i = 0; i <= a->n; i++) {
        if (side == OT_LEFT) {
            if (a->nins[i]) xins(x, p, a->ins[i], a->nins[i]);
            p += b->nins[i];
        } else {
            p += b->nins[i];
            if (a->nins[i]) xins(x, p, a->ins[i], a->nins[i]);
        }
        if (i < a->n && !b->del[i]) x->del[p++] = a->del[i];
    }
    CHECK(p == out);
    xnormalise(x);
    return x;
}

static size_t xpos(const xop *x, size_t pos, int side)
{
    size_t q = 0;
    for (size_t i = 0; i < pos && i < x->n; i++) q += x->nins[i] + !x->del[i];
    if (side == OT_RIGHT && pos <= x->n) q += x->nins[pos];
    return q;
}

static void same_text(const ot_doc *d, const model *m)
{
    size_t b, mb;
    char *t = ot_doc_text(d, &b), *e = encode(m->cp, m->n, &mb);
    CHECK(t && ot_doc_len(d) == m->n && ot_doc_bytes(d) == mb);
    CHECK(b == mb && memcmp(t, e, b) == 0);
    CHECK(ot_doc_check(d) == 0);
    free(t);
    free(e);
}

static ot_doc *doc_of(const model *m)
{
    size_t b;
    char *s = encode(m->cp, m->n, &b);
    ot_doc *d = ot_doc_new(s, b);
    CHECK(d);
    free(s);
    return d;
}

static void one_round(rd *r, ot_doc *doc, model *m)
{
    ot_op *da, *db, *dc;
    xop *a = draw(r, m->n, &da), *b = draw(r, m->n, &db);
    ot_op *oa = xop_build(a), *ob = xop_build(b);
    CHECK(ot_op_equal(oa, da) && ot_op_equal(ob, db));
    CHECK(ot_op_base_len(oa) <= m->n);

    /* transform: equal to the model, and convergent */
    ot_op *a1 = NULL, *b1 = NULL;
    CHECK(ot_transform(&a1, oa, ob, OT_LEFT) == 0);
    CHECK(ot_transform(&b1, ob, oa, OT_RIGHT) == 0);
    xop *xa1 = xtransform(a, b, OT_LEFT), *xb1 = xtransform(b, a, OT_RIGHT);
    ot_op *ra1 = xop_build(xa1), *rb1 = xop_build(xb1);
    CHECK(ot_op_equal(a1, ra1) && ot_op_equal(b1, rb1));
    model ma, mab, mb, mba;
    xapply(&ma, m, a);
    xapply(&mab, &ma, xb1);
    xapply(&mb, m, b);
    xapply(&mba, &mb, xa1);
    CHECK(mab.n == mba.n && (!mab.n || memcmp(mab.cp, mba.cp, mab.n * sizeof(uint32_t)) == 0));
    ot_doc *d2 = ot_doc_clone(doc);
    CHECK(d2 && ot_doc_apply(d2, ob) == 0 && ot_doc_apply(d2, a1) == 0);
    same_text(d2, &mba);
    ot_doc_free(d2);

    /* transform_pos follows the model */
    for (size_t pos = 0; pos <= m->n; pos += 1 + m->n / 16)
        for (int side = 0; side < 2; side++)
            CHECK(ot_transform_pos(pos, oa, side) == xpos(a, pos, side));

    /* apply a; invert undoes it */
    ot_op *inv = NULL;
    CHECK(ot_invert(&inv, oa, doc) == 0);
    CHECK(ot_doc_apply(doc, oa) == 0);
    same_text(doc, &ma);
    d2 = ot_doc_clone(doc);
    CHECK(d2 && ot_doc_apply(d2, inv) == 0);
    same_text(d2, m);
    ot_doc_free(d2);

    /* compose a with an edit c of its result */
    xop *c = draw(r, ma.n, &dc);
    ot_op *oc = xop_build(c), *ac = NULL;
    CHECK(ot_compose(&ac, oa, oc) == 0);
    model mc;
    xapply(&mc, &ma, c);
    d2 = ot_doc_clone(doc);
    CHECK(d2 && ot_doc_apply(d2, oc) == 0);
    same_text(d2, &mc);
    ot_doc_free(d2);
    ot_doc *d0 = doc_of(m);
    CHECK(ot_doc_apply(d0, ac) == 0);
    same_text(d0, &mc);

    /* an op past the end is refused and changes nothing */
    ot_op *past = ot_op_new();
    CHECK(past && ot_op_retain(past, (uint32_t)mc.n) == 0 && ot_op_delete(past, 1) == 0);
    CHECK(ot_doc_apply(d0, past) == OT_ERANGE);
    same_text(d0, &mc);
    ot_doc_free(d0);

    /* a slice agrees */
    if (ma.n) {
        size_t at = byte(r) % ma.n, k = byte(r) % (ma.n - at + 1), sb, eb;
        char *s = ot_doc_slice(doc, at, k, &sb), *e = encode(ma.cp + at, k, &eb);
        CHECK(s && sb == eb && memcmp(s, e, sb) == 0);
        free(s);
        free(e);
    }

    free(m->cp);
    *m = ma;
    free(mab.cp), free(mb.cp), free(mba.cp), free(mc.cp);
    ot_op *ops[] = {da, db, dc, oa, ob, oc, a1, b1, ra1, rb1, inv, ac, past};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) ot_op_free(ops[i]);
    xop_free(a), xop_free(b), xop_free(c), xop_free(xa1), xop_free(xb1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = {data, size, 0};
    model m;
    unsigned k = byte(&r);
    m.n = (k & 0xc0) == 0xc0 ? (size_t)(byte(&r) | byte(&r) << 8) % MAXCP : k % 24;
    m.cp = malloc((m.n + 1) * sizeof(uint32_t));
    CHECK(m.cp);
    for (size_t i = 0; i < m.n; i++)
        m.cp[i] = alphabet[(i * 7 + k) % NALPHA] ;
    ot_doc *doc = doc_of(&m);
    same_text(doc, &m);
    for (int round = 0; round < 8 && more(&r); round++) one_round(&r, doc, &m);
    ot_doc_free(doc);
    free(m.cp);
    return 0;
}
