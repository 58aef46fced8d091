/* test_srv_authors.c -- authorship: the span algebra (ops applied to runs
 * of authors, in code points: Hangul, emoji, combining marks), a seeded
 * property test against a model that keeps one author per code point, the
 * replay from the op log and from a checkpoint, and the checkpoint cache
 * (nearest version, one per version, LRU by bytes, re-made ids). */
#include <ftw.h>
#include <unistd.h>

#include "server/history/history.h"
#include "tests/harness.h"

/* "user:len user:len ..." of a's runs, into a static buffer. */
static const char *dump(const srv_authors *a)
{
    static char buf[4096];
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < a->n && n < sizeof buf - 64; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s:%u", i ? " " : "",
                              srv_authors_user(a, &a->runs[i]),
                              a->runs[i].len);
    return buf;
}

/* Apply the wire op 'json' by 'user'; the result code. */
static int apply(srv_authors *a, const char *json, const char *user)
{
    ot_op *op = NULL;
    if (ot_op_parse(&op, json, strlen(json)) < 0) return -1000;
    int rc = srv_authors_apply(a, op, user);
    ot_op_free(op);
    return rc;
}

/* The invariant: runs non-empty, neighbours differ, lengths sum up. */
static int well_formed(const srv_authors *a)
{
    size_t sum = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->runs[i].len == 0 || a->runs[i].who >= a->nnames) return 0;
        if (i && a->runs[i].who == a->runs[i - 1].who) return 0;
        sum += a->runs[i].len;
    }
    return sum == a->length;
}

static void test_empty_document_has_no_spans_and_refuses_a_delete(void)
{
    srv_authors *a = srv_authors_new();
    REQUIRE(a);
    CHECK_EQ_INT(a->length, 0);
    CHECK_EQ_INT(a->n, 0);
    CHECK_EQ_INT(apply(a, "[-1]", "Ann"), STORE_ERANGE);
    CHECK_EQ_INT(apply(a, "[1,\"x\"]", "Ann"), STORE_ERANGE);
    CHECK_EQ_INT(a->length, 0);
    CHECK_EQ_INT(apply(a, "[\"hi\"]", "Ann"), 0);
    CHECK_EQ_STR(dump(a), "Ann:2");
    CHECK_EQ_INT(apply(a, "[-2]", "Bob"), 0);
    CHECK_EQ_INT(a->length, 0);
    CHECK_EQ_INT(a->n, 0);
    CHECK(well_formed(a));
    srv_authors_unref(a);
}

static void test_hangul_counts_code_points_not_bytes(void)
{
    srv_authors *a = srv_authors_new();
    REQUIRE(a);
    CHECK_EQ_INT(apply(a, "[\"\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\"]", "Ann"), 0); /* 한국어 */
    CHECK_EQ_INT(a->length, 3);
    CHECK_EQ_INT(apply(a, "[1,\"\xea\xb8\x80\"]", "Bob"), 0); /* 한글국어 */
    CHECK_EQ_STR(dump(a), "Ann:1 Bob:1 Ann:2");
    CHECK_EQ_INT(apply(a, "[3,-1]", "Bob"), 0);
    CHECK_EQ_STR(dump(a), "Ann:1 Bob:1 Ann:1");
    CHECK(well_formed(a));
    srv_authors_unref(a);
}

static void test_emoji_is_one_code_point(void)
{
    srv_authors *a = srv_authors_new();
    REQUIRE(a);
    CHECK_EQ_INT(apply(a, "[\"a\xf0\x9f\x98\x80z\"]", "Ann"), 0); /* a😀z */
    CHECK_EQ_INT(a->length, 3);
    CHECK_EQ_INT(apply(a, "[2,\"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\"]", "Bob"), 0); /* 👍🏽: 2 */
    CHECK_EQ_STR(dump(a), "Ann:2 Bob:2 Ann:1");
    CHECK_EQ_INT(apply(a, "[1,-1]", "Cy"), 0);
    CHECK_EQ_STR(dump(a), "Ann:1 Bob:2 Ann:1");
    srv_authors_unref(a);
}

static void test_combining_mark_is_its_own_code_point(void)
{
    srv_authors *a = srv_authors_new();
    REQUIRE(a);
    CHECK_EQ_INT(apply(a, "[\"e\"]", "Ann"), 0);
    CHECK_EQ_INT(apply(a, "[1,\"\xcc\x81\"]", "Bob"), 0); /* e + U+0301 */
    CHECK_EQ_STR(dump(a), "Ann:1 Bob:1");
    CHECK_EQ_INT(a->length, 2);
    CHECK_EQ_INT(apply(a, "[1,-1]", "Ann"), 0);
    CHECK_EQ_STR(dump(a), "Ann:1");
    srv_authors_unref(a);
}

static void test_delete_across_span_boundaries_merges_neighbours(void)
{
    srv_authors *a = srv_authors_new();
    REQUIRE(a);
    CHECK_EQ_INT(apply(a, "[\"aaaa\"]", "Ann"), 0);
    CHECK_EQ_INT(apply(a, "[4,\"bbbb\"]", "Bob"), 0);
    CHECK_EQ_INT(apply(a, "[8,\"ccc\"]", "Cy"), 0);
    CHECK_EQ_STR(dump(a), "Ann:4 Bob:4 Cy:3");
    CHECK_EQ_INT(apply(a, "[2,-8]", "Dee"), 0);    /* aa|aabbbbc|cc */
    CHECK_EQ_STR(dump(a), "Ann:2 Cy:1");
    CHECK_EQ_INT(apply(a, "[1,\"X\",1,\"Y\"]", "Bob"), 0);
    CHECK_EQ_STR(dump(a), "Ann:1 Bob:1 Ann:1 Bob:1 Cy:1");
    CHECK_EQ_INT(apply(a, "[1,-1,1,-1]", "Dee"), 0); /* Bob's go: Ann joins */
    CHECK_EQ_STR(dump(a), "Ann:2 Cy:1");
    CHECK(well_formed(a));
    srv_authors_unref(a);
}

static void test_short_op_keeps_the_rest_and_a_bad_one_changes_nothing(void)
{
    srv_authors *a = srv_authors_new();
    REQUIRE(a);
    CHECK_EQ_INT(apply(a, "[\"abcdef\"]", "Ann"), 0);
    CHECK_EQ_INT(apply(a, "[\"Z\"]", "Bob"), 0);    /* implicit retain 6 */
    CHECK_EQ_STR(dump(a), "Bob:1 Ann:6");
    CHECK_EQ_INT(apply(a, "[6,\"q\",-2]", "Cy"), STORE_ERANGE);
    CHECK_EQ_STR(dump(a), "Bob:1 Ann:6");
    CHECK_EQ_INT(a->length, 7);
    CHECK_EQ_INT(a->nnames, 2);                   /* Cy was not kept */
    srv_authors_unref(a);
}

/* ---- a property: random ops against one author per code point */

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void test_random_ops_agree_with_a_model_and_cover_the_text(void)
{
    static const char *pieces[] = {"a", "\xed\x95\x9c", "\xf0\x9f\x98\x80",
                                   "e\xcc\x81", "xy"};
    static const int piece_cp[] = {1, 1, 1, 2, 2};
    static const char *users[] = {"Ann", "Bob", "\xea\xb9\x80", "Dee"};
    rng = harness_seed() | 1;
    srv_authors *a = srv_authors_new();
    REQUIRE(a);
    int model[4096], next[4096 + 64];
    size_t len = 0;
    long iters = harness_iters(3000);
    for (long it = 0; it < iters; it++) {
        ot_op *op = ot_op_new();
        REQUIRE(op);
        int u = (int)rnd(4);
        size_t pos = 0, out = 0;
        while (pos < len || rnd(3) == 0) {
            uint32_t k = rnd(3);
            uint32_t n = 1 + rnd(len - pos + 1 > 8 ? 8 : (uint32_t)(len - pos + 1));
            if (k == 0 && pos < len) {
                if (n > len - pos) n = (uint32_t)(len - pos);
                ot_op_retain(op, n);
                for (uint32_t i = 0; i < n; i++) next[out++] = model[pos++];
            } else if (k == 1 && pos < len) {
                if (n > len - pos) n = (uint32_t)(len - pos);
                ot_op_delete(op, n);
                pos += n;
            } else if (len - pos + out < 4000) {
                int p = (int)rnd(5);
                ot_op_insert(op, pieces[p], strlen(pieces[p]));
                for (int i = 0; i < piece_cp[p]; i++) next[out++] = u;
            }
            if (rnd(4) == 0) break;
        }
        while (pos < len) next[out++] = model[pos++]; /* implicit retain */
        int rc = srv_authors_apply(a, op, users[u]);
        ot_op_free(op);
        REQUIRE(rc == 0);
        memcpy(model, next, out * sizeof *model);
        len = out;
        REQUIRE(well_formed(a));
        REQUIRE(a->length == len);
        size_t at = 0;
        for (size_t i = 0; i < a->n; i++)
            for (uint32_t k = 0; k < a->runs[i].len; k++, at++)
                REQUIRE(strcmp(srv_authors_user(a, &a->runs[i]),
                               users[model[at]]) == 0);
    }
    srv_authors *c = srv_authors_clone(a);
    REQUIRE(c);
    CHECK_EQ_STR(dump(c), dump(a));
    CHECK(srv_authors_bytes(c) > sizeof *c);
    srv_authors_unref(c);
    srv_authors_unref(a);
}

/* ---- the replay, against a real database */

static char dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static store *fresh_store(void)
{
    char path[128];
    store *s = NULL;
    snprintf(dir, sizeof dir, "/tmp/chorus-test-authors-XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    snprintf(path, sizeof path, "%s/chorus.db", dir);
    if (store_open(&s, path, NULL, NULL, 0) < 0) return NULL;
    return s;
}

static void drop_store(store *s)
{
    store_close(s);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Doc 'id': 'n' ops, Ann and Bob by turns each appending one letter. */
static int fill(store *s, const char *id, int n, int64_t created)
{
    if (store_doc_create(s, id, "Doc", "Ann", created) < 0) return -1;
    for (int i = 0; i < n; i++) {
        char op[32];
        if (i) snprintf(op, sizeof op, "[%d,\"%c\"]", i, i % 2 ? 'b' : 'a');
        else snprintf(op, sizeof op, "[\"a\"]");
        store_oprec r = {id, i + 1, op, "c1", i + 1, i % 2 ? "Bob" : "Ann",
                         1000 + i};
        if (store_append(s, &r, 1) < 0) return -1;
    }
    return 0;
}

static void test_build_replays_the_log_and_checkpoints_save_replays(void)
{
    store *s = fresh_store();
    REQUIRE(s && fill(s, "d", 2100, 500) == 0);
    srv_authors *a = NULL, *b = NULL, *keep[4];
    size_t nk = 0;
    int64_t replayed = 0;
    CHECK_EQ_INT(srv_authors_build(s, "d", 3, NULL, &a, keep, 4, &nk, &replayed), 0);
    REQUIRE(a);
    CHECK_EQ_STR(dump(a), "Ann:1 Bob:1 Ann:1");
    CHECK_EQ_INT(a->version, 3);
    CHECK_EQ_INT(replayed, 3);
    CHECK_EQ_INT(nk, 0);
    /* from the checkpoint at 3 to the current version: past 1024 and 2048 */
    CHECK_EQ_INT(srv_authors_build(s, "d", -1, a, &b, keep, 4, &nk, &replayed), 0);
    REQUIRE(b);
    CHECK_EQ_INT(b->version, 2100);
    CHECK_EQ_INT(b->length, 2100);
    CHECK_EQ_INT(b->n, 2100);
    CHECK_EQ_INT(replayed, 2097);
    CHECK_EQ_INT(nk, 2);
    CHECK_EQ_INT(keep[0]->version, 1024);
    CHECK_EQ_INT(keep[1]->version, 2048);
    CHECK_EQ_INT(keep[1]->length, 2048);
    while (nk) srv_authors_unref(keep[--nk]);
    srv_authors *c = NULL;
    CHECK_EQ_INT(srv_authors_build(s, "d", 2100, b, &c, keep, 4, &nk, &replayed), 0);
    CHECK_EQ_INT(replayed, 0);
    srv_authors_unref(c);
    /* a checkpoint past the version asked for is not used */
    CHECK_EQ_INT(srv_authors_build(s, "d", 2, b, &c, keep, 4, &nk, &replayed), 0);
    CHECK_EQ_INT(replayed, 2);
    CHECK_EQ_STR(dump(c), "Ann:1 Bob:1");
    srv_authors_unref(c);
    srv_authors_unref(a);
    srv_authors_unref(b);
    drop_store(s);
}

static void test_build_refuses_bad_versions_and_other_incarnations(void)
{
    store *s = fresh_store();
    REQUIRE(s && fill(s, "d", 5, 500) == 0 && fill(s, "e", 3, 600) == 0);
    srv_authors *a = NULL, *keep[1];
    size_t nk = 0;
    int64_t replayed = 0;
    CHECK_EQ_INT(srv_authors_build(s, "d", 6, NULL, &a, keep, 1, &nk, &replayed),
                 STORE_ERANGE);
    CHECK(!a);
    CHECK_EQ_INT(srv_authors_build(s, "nope", -1, NULL, &a, keep, 1, &nk, &replayed),
                 STORE_ENOTFOUND);
    CHECK_EQ_INT(srv_authors_build(s, "d", 0, NULL, &a, keep, 1, &nk, &replayed), 0);
    REQUIRE(a);
    CHECK_EQ_INT(a->length, 0);
    /* the empty checkpoint at 0 is a start too */
    srv_authors *b = NULL;
    CHECK_EQ_INT(srv_authors_build(s, "d", -1, a, &b, keep, 1, &nk, &replayed), 0);
    CHECK_EQ_INT(replayed, 5);
    CHECK_EQ_INT(b->length, 5);
    srv_authors_unref(b);
    srv_authors_unref(a);
    /* a checkpoint of "e" or of an older "d" is not a start for "d" */
    srv_authors *e = NULL, *d = NULL;
    REQUIRE(srv_authors_build(s, "e", -1, NULL, &e, keep, 1, &nk, &replayed) == 0);
    CHECK_EQ_INT(srv_authors_build(s, "d", -1, e, &d, keep, 1, &nk, &replayed), 0);
    CHECK_EQ_INT(replayed, 5);
    e->created_ms = 1;
    snprintf(e->doc, sizeof e->doc, "d");
    srv_authors_unref(d);
    CHECK_EQ_INT(srv_authors_build(s, "d", -1, e, &d, keep, 1, &nk, &replayed), 0);
    CHECK_EQ_INT(replayed, 5);
    CHECK_EQ_INT(d->created_ms, 500);
    srv_authors_unref(d);
    srv_authors_unref(e);
    drop_store(s);
}

/* ---- the cache */

/* A checkpoint of 'runs' runs of one code point, by Ann and Bob in turn. */
static srv_authors *checkpoint(const char *doc, int64_t version, int64_t created,
                               size_t runs)
{
    srv_authors *a = srv_authors_new();
    if (!a) return NULL;
    snprintf(a->doc, sizeof a->doc, "%s", doc);
    a->version = version;
    a->created_ms = created;
    for (size_t i = 0; i < runs; i++) {
        ot_op *op = ot_op_new();
        ot_op_retain(op, (uint32_t)i);
        ot_op_insert(op, "x", 1);
        srv_authors_apply(a, op, i % 2 ? "Bob" : "Ann");
        ot_op_free(op);
    }
    return a;
}

static void test_cache_finds_the_nearest_checkpoint_at_or_below(void)
{
    srv_authors_cache c;
    srv_authors_cache_init(&c, 1 << 20);
    srv_authors_cache_put(&c, checkpoint("d", 10, 1, 4));
    srv_authors_cache_put(&c, checkpoint("d", 50, 1, 4));
    srv_authors_cache_put(&c, checkpoint("e", 70, 1, 4));
    srv_authors *g = srv_authors_cache_get(&c, "d", 49);
    REQUIRE(g);
    CHECK_EQ_INT(g->version, 10);
    CHECK_EQ_INT(g->refs, 2);
    srv_authors_unref(g);
    g = srv_authors_cache_get(&c, "d", -1);
    REQUIRE(g);
    CHECK_EQ_INT(g->version, 50);
    srv_authors_unref(g);
    CHECK(!srv_authors_cache_get(&c, "d", 9));
    CHECK(!srv_authors_cache_get(&c, "x", -1));
    /* the same version again: one kept */
    srv_authors_cache_put(&c, checkpoint("d", 50, 1, 4));
    CHECK_EQ_INT(c.count, 3);
    /* another incarnation of "d": the old ones go */
    srv_authors_cache_put(&c, checkpoint("d", 3, 2, 4));
    CHECK_EQ_INT(c.count, 2);
    g = srv_authors_cache_get(&c, "d", -1);
    REQUIRE(g);
    CHECK_EQ_INT(g->version, 3);
    srv_authors_unref(g);
    srv_authors_cache_clear(&c);
    CHECK_EQ_INT(c.count, 0);
    CHECK_EQ_INT(c.bytes, 0);
}

static void test_cache_drops_least_recently_used_past_its_bytes(void)
{
    srv_authors *probe = checkpoint("d", 1, 1, 4);
    REQUIRE(probe);
    size_t one = srv_authors_bytes(probe);
    srv_authors_unref(probe);
    srv_authors_cache c;
    srv_authors_cache_init(&c, one * 3);
    srv_authors_cache_put(&c, checkpoint("d", 1, 1, 4));
    srv_authors_cache_put(&c, checkpoint("d", 2, 1, 4));
    srv_authors_cache_put(&c, checkpoint("d", 3, 1, 4));
    srv_authors *held = srv_authors_cache_get(&c, "d", 1); /* 1 is now fresh */
    REQUIRE(held);
    srv_authors_cache_put(&c, checkpoint("d", 4, 1, 4));  /* 2 goes */
    CHECK_EQ_INT(c.count, 3);
    CHECK(c.bytes <= one * 3);
    srv_authors *g = srv_authors_cache_get(&c, "d", 2);
    REQUIRE(g);
    CHECK_EQ_INT(g->version, 1);
    srv_authors_unref(g);
    /* one bigger than the whole cache is not kept */
    srv_authors_cache_put(&c, checkpoint("d", 9, 1, 2000));
    g = srv_authors_cache_get(&c, "d", -1);
    REQUIRE(g);
    CHECK_EQ_INT(g->version, 4);
    srv_authors_unref(g);
    srv_authors_cache_clear(&c);
    /* a reference held outlives the cache's */
    CHECK_EQ_INT(held->refs, 1);
    CHECK_EQ_INT(held->length, 4);
    srv_authors_unref(held);
}

int main(void)
{
    RUN(test_empty_document_has_no_spans_and_refuses_a_delete);
    RUN(test_hangul_counts_code_points_not_bytes);
    RUN(test_emoji_is_one_code_point);
    RUN(test_combining_mark_is_its_own_code_point);
    RUN(test_delete_across_span_boundaries_merges_neighbours);
    RUN(test_short_op_keeps_the_rest_and_a_bad_one_changes_nothing);
    RUN(test_random_ops_agree_with_a_model_and_cover_the_text);
    RUN(test_build_replays_the_log_and_checkpoints_save_replays);
    RUN(test_build_refuses_bad_versions_and_other_incarnations);
    RUN(test_cache_finds_the_nearest_checkpoint_at_or_below);
    RUN(test_cache_drops_least_recently_used_past_its_bytes);
    return harness_done();
}
