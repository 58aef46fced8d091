/* test_ot_traces.c -- every recorded editing trace replays exactly.
 *
 * Each patch of each trace in tests/data/traces goes through the wire codec
 * (as [pos, -del, "text"]) and ot_doc_apply(); the final text must equal the
 * trace's endContent byte for byte. The traces hold non-ASCII text, so a
 * buffer that mixes code points and bytes fails here. One trace is also
 * checked against a flat reference after every patch, with the tree's
 * self-check at intervals. */
#include "tests/harness.h"
#include "tests/test_ot_trace.h"

/* The wire form of patch 'p', decoded with ot_op_from_json(). */
static ot_op *wire_op(const trace_patch *p)
{
    json_t *a = json_array();
    ot_op *op = NULL;
    if (p->pos) json_array_append_new(a, json_integer((json_int_t)p->pos));
    if (p->del) json_array_append_new(a, json_integer(-(json_int_t)p->del));
    if (p->ins_bytes)
        json_array_append_new(a, json_stringn(p->ins, p->ins_bytes));
    int rc = ot_op_from_json(&op, a);
    json_decref(a);
    return rc ? NULL : op;
}

static int replay(const char *name)
{
    trace *t = trace_load(name);
    if (!t) return -1;
    ot_doc *d = ot_doc_new(NULL, 0);
    int ok = d != NULL;
    for (size_t i = 0; ok && i < t->n; i++) {
        ot_op *op = wire_op(&t->p[i]);
        ok = op && ot_doc_apply(d, op) == 0;
        if (!ok) fprintf(stderr, "  %s: patch %zu failed\n", name, i);
        ot_op_free(op);
    }
    size_t bytes = 0;
    char *text = ok ? ot_doc_text(d, &bytes) : NULL;
    ok = ok && text && bytes == t->end_bytes &&
         memcmp(text, t->end, bytes) == 0 && ot_doc_check(d) == 0;
    if (!ok) fprintf(stderr, "  %s: final text differs\n", name);
    free(text);
    ot_doc_free(d);
    trace_free(t);
    return ok ? 0 : -1;
}

#define TRACE_TEST(fn, name)                                                 \
    static void fn(void) { CHECK(replay(name) == 0); }

TRACE_TEST(test_automerge_paper_replays_to_its_end_content, "automerge-paper")
TRACE_TEST(test_seph_blog1_replays_to_its_end_content, "seph-blog1")
TRACE_TEST(test_rustcode_replays_to_its_end_content, "rustcode")
TRACE_TEST(test_friendsforever_replays_to_its_end_content,
           "friendsforever_flat")
TRACE_TEST(test_clownschool_replays_to_its_end_content, "clownschool_flat")
TRACE_TEST(test_json_crdt_blog_post_replays_to_its_end_content,
           "json-crdt-blog-post")
TRACE_TEST(test_sveltecomponent_replays_to_its_end_content,
           "sveltecomponent")
TRACE_TEST(test_json_crdt_patch_replays_to_its_end_content,
           "json-crdt-patch")

/* Flat reference: code point -> byte offset by scanning. */
static size_t flat_offset(const char *s, size_t bytes, size_t cp)
{
    size_t i = 0;
    for (; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && cp-- == 0) return i;
    return bytes;
}

static void test_non_ascii_trace_matches_a_flat_buffer_after_every_patch(void)
{
    trace *t = trace_load("json-crdt-patch");
    REQUIRE(t != NULL);
    ot_doc *d = ot_doc_new(NULL, 0);
    size_t cap = t->end_bytes * 4 + (1 << 20), len = 0, bad = 0;
    char *flat = malloc(cap);
    for (size_t i = 0; i < t->n && !bad; i++) {
        const trace_patch *p = &t->p[i];
        ot_op *op = trace_op(p);
        REQUIRE(op && ot_doc_apply(d, op) == 0);
        ot_op_free(op);
        size_t a = flat_offset(flat, len, p->pos);
        size_t b = flat_offset(flat, len, p->pos + p->del);
        REQUIRE(len - (b - a) + p->ins_bytes <= cap);
        memmove(flat + a + p->ins_bytes, flat + b, len - b);
        memcpy(flat + a, p->ins, p->ins_bytes);
        len = len - (b - a) + p->ins_bytes;
        if (ot_doc_bytes(d) != len) bad = i + 1;
        if (i % 997 == 0 || i + 1 == t->n) {
            size_t n;
            char *text = ot_doc_text(d, &n);
            if (n != len || memcmp(text, flat, n) || ot_doc_check(d))
                bad = i + 1;
            free(text);
        }
    }
    CHECK_EQ_INT(bad, 0);
    free(flat);
    ot_doc_free(d);
    trace_free(t);
}

int main(void)
{
    (void)harness_seed; /* unused here */
    (void)harness_iters;
    RUN(test_automerge_paper_replays_to_its_end_content);
    RUN(test_seph_blog1_replays_to_its_end_content);
    RUN(test_rustcode_replays_to_its_end_content);
    RUN(test_friendsforever_replays_to_its_end_content);
    RUN(test_clownschool_replays_to_its_end_content);
    RUN(test_json_crdt_blog_post_replays_to_its_end_content);
    RUN(test_sveltecomponent_replays_to_its_end_content);
    RUN(test_json_crdt_patch_replays_to_its_end_content);
    RUN(test_non_ascii_trace_matches_a_flat_buffer_after_every_patch);
    return harness_done();
}
