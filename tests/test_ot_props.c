/* test_ot_props.c -- seeded randomized properties of the OT algebra, and a
 * simulated server with Jupiter/Wave clients under random delivery orders.
 *
 * Documents and inserted text mix ASCII, Hangul, emoji outside the BMP and
 * combining marks. Properties: convergence of transform (both tie sides),
 * compose agrees with applying in turn, invert undoes, cursor transform
 * agrees with where each character actually went. The default run makes
 * well over 100,000 random cases; CHORUS_ITERS_SCALE=10 makes ten times as
 * many, and CHORUS_SEED repeats a run exactly (the seed is printed on
 * failure by the harness). */
#include "tests/harness.h"
#include "tests/test_ot_util.h"

static uint64_t rs;
static long cases;

static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static const char *const pieces[] = {
    "a", "b", "c", " ", "\n", "\xed\x95\x9c", "\xea\xb8\x80",
    "\xf0\x9f\x91\x8b", "\xf0\x9f\x98\x80", "e\xcc\x81", "\xcc\x88",
    "\xc3\xa9", "xyz"};
#define NPIECES (sizeof pieces / sizeof pieces[0])

/* Random text of about 'cps' code points into 'buf' (NUL-terminated). */
static size_t rtext(char *buf, size_t cps)
{
    size_t n = 0, c = 0;
    while (c < cps) {
        const char *p = pieces[rnd() % NPIECES];
        size_t k = strlen(p), pc;
        ot_utf8_validate(p, k, &pc);
        memcpy(buf + n, p, k);
        n += k;
        c += pc;
    }
    buf[n] = '\0';
    return n;
}

/* A random op on a document of 'len' code points. */
static ot_op *rop(size_t len)
{
    char buf[256];
    ot_op *op = ot_op_new();
    size_t pos = 0;
    int edits = (int)(rnd() % 4);
    for (int e = 0; e < edits; e++) {
        size_t skip = rnd() % (len - pos + 1);
        ot_op_retain(op, (uint32_t)skip);
        pos += skip;
        if (rnd() % 2 && pos < len) {
            size_t del = 1 + rnd() % (len - pos < 6 ? len - pos : 6);
            ot_op_delete(op, (uint32_t)del);
            pos += del;
        } else {
            size_t n = rtext(buf, 1 + rnd() % 5);
            ot_op_insert(op, buf, n);
        }
    }
    if (rnd() % 4 == 0) ot_op_retain(op, (uint32_t)(len - pos));
    return op;
}

static ot_doc *rdoc(void)
{
    char buf[1024];
    size_t n = rtext(buf, rnd() % 4 == 0 ? 0 : rnd() % 60);
    return ot_doc_new(buf, n);
}

/* 1 when the two documents hold the same text. */
static int same(const ot_doc *a, const ot_doc *b)
{
    size_t n, m;
    char *x = ot_doc_text(a, &n), *y = ot_doc_text(b, &m);
    int eq = x && y && n == m && memcmp(x, y, n) == 0;
    free(x);
    free(y);
    return eq;
}

/* A copy of 'd' with 'op' applied, or NULL when it does not apply. */
static ot_doc *after(const ot_doc *d, const ot_op *op)
{
    ot_doc *c = ot_doc_clone(d);
    if (c && ot_doc_apply(c, op)) {
        ot_doc_free(c);
        c = NULL;
    }
    return c;
}

static int converge_once(int side)
{
    ot_doc *d = rdoc();
    ot_op *a = rop(ot_doc_len(d)), *b = rop(ot_doc_len(d)), *a2, *b2;
    int ok = !ot_transform(&a2, a, b, side) &&
             !ot_transform(&b2, b, a, !side);
    ot_doc *da = after(d, a), *db = after(d, b);
    ot_doc *dab = da ? after(da, b2) : NULL, *dba = db ? after(db, a2) : NULL;
    ok = ok && dab && dba && same(dab, dba);
    if (!ok) fprintf(stderr, "  diverged: a=%s b=%s on %s\n", S(a), S(b), T(d));
    ot_op_free(a), ot_op_free(b), ot_op_free(a2), ot_op_free(b2);
    ot_doc_free(d), ot_doc_free(da), ot_doc_free(db);
    ot_doc_free(dab), ot_doc_free(dba);
    return ok;
}

static void test_concurrent_ops_converge_after_transform(void)
{
    rs = harness_seed() | 1;
    long n = harness_iters(40000), bad = 0;
    for (long i = 0; i < n && bad < 3; i++, cases++)
        bad += !converge_once((int)(i & 1));
    CHECK_EQ_INT(bad, 0);
}

static void test_compose_equals_applying_in_turn(void)
{
    rs = (harness_seed() * 3) | 1;
    long n = harness_iters(25000), bad = 0;
    for (long i = 0; i < n && bad < 3; i++, cases++) {
        ot_doc *d = rdoc();
        ot_op *a = rop(ot_doc_len(d)), *ab;
        ot_doc *da = after(d, a);
        ot_op *b = rop(ot_doc_len(da));
        ot_doc *dab = after(da, b);
        int ok = !ot_compose(&ab, a, b);
        ot_doc *dc = ok ? after(d, ab) : NULL;
        if (!dc || !same(dab, dc)) {
            fprintf(stderr, "  compose: a=%s b=%s\n", S(a), S(b));
            bad++;
        }
        ot_op_free(a), ot_op_free(b), ot_op_free(ab);
        ot_doc_free(d), ot_doc_free(da), ot_doc_free(dab), ot_doc_free(dc);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_invert_undoes_the_op(void)
{
    rs = (harness_seed() * 5) | 1;
    long n = harness_iters(25000), bad = 0;
    for (long i = 0; i < n && bad < 3; i++, cases++) {
        ot_doc *d = rdoc();
        ot_op *a = rop(ot_doc_len(d)), *inv;
        ot_doc *da = after(d, a);
        int ok = !ot_invert(&inv, a, d);
        ot_doc *back = ok ? after(da, inv) : NULL;
        if (!back || !same(back, d)) {
            fprintf(stderr, "  invert: a=%s on %s\n", S(a), T(d));
            bad++;
        }
        ot_op_free(a), ot_op_free(inv);
        ot_doc_free(d), ot_doc_free(da), ot_doc_free(back);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_ops_past_the_end_fail_and_change_nothing(void)
{
    rs = (harness_seed() * 17) | 1;
    long n = harness_iters(10000), bad = 0;
    for (long i = 0; i < n && bad < 3; i++, cases++) {
        ot_doc *d = rdoc();
        size_t len = ot_doc_len(d), extra = 1 + rnd() % 5;
        ot_op *op = rop(len + extra);
        ot_doc *c = ot_doc_clone(d);
        int rc = ot_doc_apply(c, op);
        int want = ot_op_base_len(op) > len ? OT_ERANGE : 0;
        if (rc != want || (rc && (!same(c, d) || ot_doc_check(c)))) bad++;
        ot_op_free(op);
        ot_doc_free(d);
        ot_doc_free(c);
    }
    CHECK_EQ_INT(bad, 0);
}

/* Decoding never crashes on mangled wire text, and whatever decodes
 * encodes to a text that decodes to the same op. */
static void test_mangled_wire_text_decodes_or_fails_cleanly(void)
{
    static const char alphabet[] = "[]-0123456789,\\\"ue.+ \xed\xa0\xc3\xa9\xf0";
    rs = (harness_seed() * 19) | 1;
    long n = harness_iters(30000), bad = 0;
    for (long i = 0; i < n && bad < 3; i++, cases++) {
        ot_op *op = rop(rnd() % 20), *back = NULL, *again = NULL;
        char *w = ot_op_dumps(op);
        size_t len = strlen(w);
        for (int m = (int)(rnd() % 3); m >= 0 && len; m--) {
            size_t at = rnd() % len;
            if (rnd() % 2) w[at] = alphabet[rnd() % (sizeof alphabet - 1)];
            else memmove(w + at, w + at + 1, len-- - at);
        }
        int rc = ot_op_parse(&back, w, len);
        if (rc == 0) {
            char *w2 = ot_op_dumps(back);
            if (ot_op_parse(&again, w2, strlen(w2)) || !ot_op_equal(back, again))
                bad++;
            free(w2);
        } else if (back || rc < OT_ELEN || rc > OT_ENOMEM) {
            bad++;
        }
        free(w);
        ot_op_free(op), ot_op_free(back), ot_op_free(again);
    }
    CHECK_EQ_INT(bad, 0);
}

/* ---- cursors ---- */

/* Code points of UTF-8 's' into 'out'; returns their number. */
static size_t decode(const char *s, size_t n, uint32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint32_t v = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
        for (int j = 1; j < len; j++) v = v << 6 | ((unsigned char)s[i + j] & 0x3F);
        out[k++] = v;
        i += (size_t)len;
    }
    return k;
}

/* A document of 'n' distinct private-use characters U+E000.., so each
 * character can be found again after an op. */
static ot_doc *tagged_doc(size_t n)
{
    char buf[64 * 3];
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0xE000 + (uint32_t)i;
        buf[3 * i] = (char)(0xE0 | v >> 12);
        buf[3 * i + 1] = (char)(0x80 | (v >> 6 & 0x3F));
        buf[3 * i + 2] = (char)(0x80 | (v & 0x3F));
    }
    return ot_doc_new(buf, 3 * n);
}

/* Code points inserted by 'op' exactly at old position p, for each p. */
static void inserts_at(const ot_op *op, size_t *ins, size_t len)
{
    size_t i = 0;
    memset(ins, 0, (len + 1) * sizeof *ins);
    for (size_t k = 0; k < ot_op_count(op); k++) {
        ot_comp c = ot_op_at(op, k);
        if (c.kind == OT_INSERT) ins[i] += c.n;
        else i += c.n;
    }
}

static int cursor_once(void)
{
    size_t len = rnd() % 40, ins[64];
    uint32_t cp[512];
    ot_doc *d = tagged_doc(len);
    ot_op *op = rop(len);
    ot_doc *da = after(d, op);
    size_t n;
    char *text = ot_doc_text(da, &n);
    size_t m = decode(text, n, cp);
    int ok = 1;
    inserts_at(op, ins, len);
    /* where each surviving character went; a deleted one leaves no trace,
     * and the next surviving one (or the end) bounds its cursor */
    size_t where[64];
    for (size_t p = 0; p <= len; p++) where[p] = SIZE_MAX;
    for (size_t j = 0; j < m; j++)
        if (cp[j] >= 0xE000 && cp[j] < 0xE000 + 64) where[cp[j] - 0xE000] = j;
    for (size_t p = 0; p < len; p++) {
        size_t r = ot_transform_pos(p, op, OT_RIGHT);
        size_t l = ot_transform_pos(p, op, OT_LEFT);
        if (where[p] != SIZE_MAX) {
            ok &= r == where[p];
            ok &= l == where[p] - ins[p];
        } else {
            ok &= l <= r && r <= m; /* deleted: a cursor still in range */
        }
    }
    ok &= ot_transform_pos(len, op, OT_RIGHT) == m;
    ok &= ot_transform_pos(len, op, OT_LEFT) == m - ins[len];
    if (!ok) fprintf(stderr, "  cursor: op=%s on %zu chars\n", S(op), len);
    free(text);
    ot_op_free(op);
    ot_doc_free(d);
    ot_doc_free(da);
    return ok;
}

static void test_cursor_transform_follows_the_text(void)
{
    rs = (harness_seed() * 7) | 1;
    long n = harness_iters(25000), bad = 0;
    for (long i = 0; i < n && bad < 3; i++, cases++) bad += !cursor_once();
    CHECK_EQ_INT(bad, 0);
}

/* ---- Jupiter/Wave: a server and clients over FIFO channels ---- */

#define CLIENTS 4
#define QMAX 4096

typedef struct msg {
    ot_op *op; /* NULL for an acknowledgement */
    size_t rev;
} msg;

typedef struct chan {
    msg q[QMAX];
    size_t head, tail;
} chan;

typedef struct client {
    ot_doc *doc;
    ot_op *inflight, *buffer;
    size_t rev;
    chan up, down; /* to the server, from the server */
} client;

typedef struct server {
    ot_doc *doc;
    ot_op **hist;
    size_t nhist;
} server;

static int push(chan *c, ot_op *op, size_t rev)
{
    if (c->tail - c->head == QMAX) return -1;
    c->q[c->tail++ % QMAX] = (msg){op, rev};
    return 0;
}

/* Replace *x by transform(*x, other, side). */
static int xf(ot_op **x, const ot_op *other, int side)
{
    ot_op *r;
    int rc = ot_transform(&r, *x, other, side);
    if (rc) return rc;
    ot_op_free(*x);
    *x = r;
    return 0;
}

static int client_edit(client *c)
{
    ot_op *op = rop(ot_doc_len(c->doc)), *r;
    if (ot_doc_apply(c->doc, op)) return -1;
    if (!c->inflight) {
        c->inflight = op;
        return push(&c->up, ot_op_clone(op), c->rev);
    }
    if (!c->buffer) {
        c->buffer = op;
        return 0;
    }
    if (ot_compose(&r, c->buffer, op)) return -1;
    ot_op_free(c->buffer), ot_op_free(op);
    c->buffer = r;
    return 0;
}

/* A message from the server: an ack of our inflight op, or another
 * client's op, which goes through inflight and buffer (the server put it
 * first, so it wins ties: our ops are on OT_RIGHT). */
static int client_recv(client *c, msg m)
{
    c->rev++;
    if (!m.op) {
        ot_op_free(c->inflight);
        c->inflight = c->buffer;
        c->buffer = NULL;
        return c->inflight ? push(&c->up, ot_op_clone(c->inflight), c->rev)
                           : 0;
    }
    ot_op *s = m.op, *s2;
    int rc = 0;
    if (c->inflight) {
        rc |= ot_transform(&s2, s, c->inflight, OT_LEFT);
        rc |= xf(&c->inflight, s, OT_RIGHT);
        ot_op_free(s);
        s = s2;
    }
    if (!rc && c->buffer) {
        rc |= ot_transform(&s2, s, c->buffer, OT_LEFT);
        rc |= xf(&c->buffer, s, OT_RIGHT);
        ot_op_free(s);
        s = s2;
    }
    rc = rc ? rc : ot_doc_apply(c->doc, s);
    ot_op_free(s);
    return rc;
}

static int server_recv(server *sv, client *cs, int from, msg m)
{
    ot_op *op = m.op;
    if (m.rev > sv->nhist) return -1;
    for (size_t r = m.rev; r < sv->nhist; r++)
        if (xf(&op, sv->hist[r], OT_RIGHT)) return -1;
    if (ot_doc_apply(sv->doc, op)) return -1;
    sv->hist[sv->nhist++] = op;
    for (int i = 0; i < CLIENTS; i++)
        if (push(&cs[i].down, i == from ? NULL : ot_op_clone(op), 0))
            return -1;
    return 0;
}

static int step(server *sv, client *cs, int edits_left)
{
    int i = (int)(rnd() % CLIENTS);
    client *c = &cs[i];
    switch (rnd() % 3) {
    case 0:
        return edits_left ? client_edit(c) : 0;
    case 1:
        if (c->up.head == c->up.tail) return 0;
        return server_recv(sv, cs, i, c->up.q[c->up.head++ % QMAX]);
    default:
        if (c->down.head == c->down.tail) return 0;
        return client_recv(c, c->down.q[c->down.head++ % QMAX]);
    }
}

static int quiet(const client *cs)
{
    for (int i = 0; i < CLIENTS; i++)
        if (cs[i].up.head != cs[i].up.tail ||
            cs[i].down.head != cs[i].down.tail || cs[i].inflight)
            return 0;
    return 1;
}

static int simulate(int edits)
{
    static client cs[CLIENTS];
    server sv = {D("Hello, \xec\x84\xb8\xea\xb3\x84 \xf0\x9f\x8c\x8d"),
                 calloc((size_t)edits + 1, sizeof(ot_op *)), 0};
    int rc = 0, e = edits;
    for (int i = 0; i < CLIENTS; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].doc = ot_doc_clone(sv.doc);
    }
    while (!rc && (e > 0 || !quiet(cs))) {
        rc = step(&sv, cs, e > 0);
        if (!rc && e > 0 && rnd() % 3 == 0) e--;
        cases++;
    }
    for (int i = 0; i < CLIENTS && !rc; i++)
        if (!same(cs[i].doc, sv.doc) || cs[i].buffer) rc = -1;
    for (int i = 0; i < CLIENTS; i++) {
        ot_doc_free(cs[i].doc);
        ot_op_free(cs[i].inflight);
        ot_op_free(cs[i].buffer);
        while (cs[i].up.head != cs[i].up.tail)
            ot_op_free(cs[i].up.q[cs[i].up.head++ % QMAX].op);
        while (cs[i].down.head != cs[i].down.tail)
            ot_op_free(cs[i].down.q[cs[i].down.head++ % QMAX].op);
    }
    for (size_t r = 0; r < sv.nhist; r++) ot_op_free(sv.hist[r]);
    free(sv.hist);
    ot_doc_free(sv.doc);
    return rc;
}

static void test_jupiter_clients_converge_with_the_server(void)
{
    rs = (harness_seed() * 11) | 1;
    long n = harness_iters(300), bad = 0;
    for (long i = 0; i < n && bad < 3; i++) {
        if (simulate(20 + (int)(rnd() % 60))) {
            fprintf(stderr, "  simulation %ld diverged\n", i);
            bad++;
        }
    }
    CHECK(bad == 0);
}

int main(void)
{
    RUN(test_concurrent_ops_converge_after_transform);
    RUN(test_compose_equals_applying_in_turn);
    RUN(test_invert_undoes_the_op);
    RUN(test_ops_past_the_end_fail_and_change_nothing);
    RUN(test_mangled_wire_text_decodes_or_fails_cleanly);
    RUN(test_cursor_transform_follows_the_text);
    RUN(test_jupiter_clients_converge_with_the_server);
    printf("random cases: %ld (seed %llu)\n", cases,
           (unsigned long long)harness_seed());
    return harness_done();
}
