/* test_ot_doc.c -- the document buffer: hand-checked applies, errors that
 * change nothing, reading text back, and randomized edits of large
 * documents checked against a flat reference with the tree's self-check.
 *
 * The large cases push the B+tree through leaf splits, merges, removals,
 * root growth and collapse, with text that mixes ASCII, Hangul, emoji and
 * combining marks so that code points and bytes always differ. */
#include "tests/harness.h"
#include "tests/test_ot_util.h"

static void test_apply_inserts_deletes_and_retains(void)
{
    CHECK_EQ_STR(apply_str("hello", "[5,\" world\"]"), "hello world");
    CHECK_EQ_STR(apply_str("hello", "[\"oh, \"]"), "oh, hello");
    CHECK_EQ_STR(apply_str("hello", "[1,-3]"), "ho");
    CHECK_EQ_STR(apply_str("hello", "[1,\"ELL\",-3]"), "hELLo");
    CHECK_EQ_STR(apply_str("", "[\"x\"]"), "x");
    CHECK_EQ_STR(apply_str("abc", "[]"), "abc");
    CHECK_EQ_STR(apply_str("abc", "[-3]"), "");
}

static void test_apply_counts_code_points(void)
{
    /* "한👋e\u0301z": positions 0 한, 1 👋, 2 e, 3 U+0301, 4 z */
    const char *doc = "\xed\x95\x9c\xf0\x9f\x91\x8b" "e\xcc\x81z";
    CHECK_EQ_STR(apply_str(doc, "[1,-1]"), "\xed\x95\x9c" "e\xcc\x81z");
    CHECK_EQ_STR(apply_str(doc, "[3,-1]"),
                 "\xed\x95\x9c\xf0\x9f\x91\x8b" "ez");
    CHECK_EQ_STR(apply_str(doc, "[4,\"\xea\xb8\x80\"]"),
                 "\xed\x95\x9c\xf0\x9f\x91\x8b" "e\xcc\x81\xea\xb8\x80z");
    CHECK_EQ_STR(apply_str(doc, "[6]"), doc); /* trailing retain: ignored */
}

static void test_op_longer_than_the_document_fails_and_changes_nothing(void)
{
    CHECK_EQ_STR(apply_str("abc", "[4,\"x\"]"), "ERR:OT_ERANGE");
    CHECK_EQ_STR(apply_str("abc", "[2,-2]"), "ERR:OT_ERANGE");
    CHECK_EQ_STR(apply_str("", "[-1]"), "ERR:OT_ERANGE");
    ot_doc *d = D("abc");
    ot_op *op = W("[\"zz\",3,-1]");
    CHECK_EQ_INT(ot_doc_apply(d, op), OT_ERANGE);
    CHECK_EQ_STR(T(d), "abc"); /* the insert before the fault is not done */
    CHECK_EQ_INT(ot_doc_len(d), 3);
    CHECK_EQ_INT(ot_doc_check(d), 0);
    ot_op_free(op);
    ot_doc_free(d);
}

static void test_new_document_rejects_bad_utf8(void)
{
    CHECK(ot_doc_new("\xff", 1) == NULL);
    CHECK(ot_doc_new("a\xed\xa0\x80", 4) == NULL);
    ot_doc *d = ot_doc_new(NULL, 0);
    REQUIRE(d != NULL);
    CHECK_EQ_INT(ot_doc_len(d), 0);
    CHECK_EQ_INT(ot_doc_bytes(d), 0);
    CHECK_EQ_STR(T(d), "");
    ot_doc_free(d);
    ot_doc_free(NULL);
}

static void test_lengths_text_and_slices(void)
{
    ot_doc *d = D("a\xc3\xa9\xf0\x9f\x91\x8b\xed\x95\x9c");
    size_t n = 0;
    CHECK_EQ_INT(ot_doc_len(d), 4);
    CHECK_EQ_INT(ot_doc_bytes(d), 10);
    char *s = ot_doc_slice(d, 1, 2, &n);
    CHECK_EQ_STR(s, "\xc3\xa9\xf0\x9f\x91\x8b");
    CHECK_EQ_INT(n, 6);
    free(s);
    s = ot_doc_slice(d, 4, 0, &n);
    CHECK_EQ_STR(s, "");
    free(s);
    CHECK(ot_doc_slice(d, 3, 2, &n) == NULL);
    CHECK(ot_doc_slice(d, 5, 0, &n) == NULL);
    ot_doc_free(d);
}

static void test_text_may_hold_nul_characters(void)
{
    ot_doc *d = ot_doc_new("a\0b", 3);
    size_t n;
    REQUIRE(d != NULL);
    char *s = ot_doc_text(d, &n);
    CHECK_EQ_INT(n, 3);
    CHECK(memcmp(s, "a\0b", 4) == 0);
    free(s);
    ot_doc_free(d);
}

static void test_clone_is_independent(void)
{
    ot_doc *d = D("shared"), *c = ot_doc_clone(d);
    ot_op *op = W("[\"not \"]");
    REQUIRE(c != NULL);
    CHECK_EQ_INT(ot_doc_apply(c, op), 0);
    CHECK_EQ_STR(T(d), "shared");
    CHECK_EQ_STR(T(c), "not shared");
    ot_op_free(op);
    ot_doc_free(d);
    ot_doc_free(c);
}

/* ---- randomized, against a flat reference ---- */

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static const char *const pieces[] = {
    "a", "bc", " ", "\n", "\xed\x95\x9c", "\xea\xb8\x80",
    "\xf0\x9f\x91\x8b", "\xf0\x9f\x98\x80", "e\xcc\x81", "\xcc\x88",
    "xyz", "\xc3\xa9"};

/* Append random mixed text of about 'cps' code points to 'buf'. */
static size_t random_text(char *buf, size_t cps)
{
    size_t n = 0, c = 0;
    while (c < cps) {
        const char *p = pieces[rnd() % 12];
        size_t k = strlen(p), pc;
        ot_utf8_validate(p, k, &pc);
        memcpy(buf + n, p, k);
        n += k;
        c += pc;
    }
    return n;
}

/* Byte offset of code point 'cp' in flat text: a word at a time while the
 * target is further on (counting bytes that start a code point), then one
 * byte at a time. */
static size_t flat_off(const char *s, size_t bytes, size_t cp)
{
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w, m;
        memcpy(&w, s + i, 8);
        m = (w & ~(w << 1) & 0x8080808080808080ULL) >> 7; /* 10xxxxxx */
        size_t starts = 8 - (size_t)((m * 0x0101010101010101ULL) >> 56);
        if (cp < starts) break;
        cp -= starts;
    }
    for (; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && cp-- == 0) return i;
    return bytes;
}

/* 'rounds' random ops (each up to 3 edits, sizes up to 'big' code points)
 * on a document that starts with 'start' code points. */
static int random_edits(size_t start, size_t big, long rounds)
{
    size_t cap = 64 << 20, len;
    char *flat = malloc(cap), *ins = malloc(big * 4 + 16);
    len = random_text(flat, start);
    ot_doc *d = ot_doc_new(flat, len);
    size_t cps = ot_doc_len(d);
    int bad = 0;
    for (long r = 0; r < rounds && !bad; r++) {
        /* pos: code points of the old document the op has passed;
         * at: the same place in the flat copy being edited alongside */
        ot_op *op = ot_op_new();
        size_t old = cps, pos = 0, at = 0, k = 1 + rnd() % 3;
        for (size_t e = 0; e < k; e++) {
            size_t skip = rnd() % (old - pos + 1);
            ot_op_retain(op, (uint32_t)skip);
            pos += skip;
            at += skip;
            size_t n = rnd() % 4 == 0 ? rnd() % (big + 1) : rnd() % 8;
            size_t a = flat_off(flat, len, at);
            if (rnd() % 2) {
                size_t del = n < old - pos ? n : old - pos;
                size_t b = flat_off(flat, len, at + del);
                memmove(flat + a, flat + b, len - b);
                len -= b - a;
                ot_op_delete(op, (uint32_t)del);
                pos += del;
                cps -= del;
            } else {
                size_t bytes = random_text(ins, n), c;
                ot_utf8_validate(ins, bytes, &c);
                memmove(flat + a + bytes, flat + a, len - a);
                memcpy(flat + a, ins, bytes);
                len += bytes;
                ot_op_insert(op, ins, bytes);
                at += c;
                cps += c;
            }
        }
        if (ot_doc_apply(d, op)) bad = 1;
        ot_op_free(op);
        if (ot_doc_bytes(d) != len || ot_doc_len(d) != cps) bad = 2;
        if (r % 64 == 0 || r + 1 == rounds) {
            size_t n;
            char *t = ot_doc_text(d, &n);
            if (n != len || memcmp(t, flat, n)) bad = 3;
            if (ot_doc_check(d)) bad = 4;
            free(t);
        }
    }
    if (bad) fprintf(stderr, "  random_edits: failure kind %d\n", bad);
    free(flat);
    free(ins);
    ot_doc_free(d);
    return bad;
}

static void test_random_small_edits_of_a_1mb_document_match_a_flat_copy(void)
{
    rs = harness_seed() | 1;
    CHECK_EQ_INT(random_edits(400000, 20, harness_iters(1500)), 0);
}

static void test_random_large_edits_split_and_merge_many_leaves(void)
{
    rs = (harness_seed() * 7) | 1;
    CHECK_EQ_INT(random_edits(2000, 30000, harness_iters(400)), 0);
}

static void test_random_edits_of_a_tiny_document_keep_the_tree_valid(void)
{
    rs = (harness_seed() * 13) | 1;
    CHECK_EQ_INT(random_edits(0, 5, harness_iters(20000)), 0);
}

static void test_deleting_everything_then_typing_works(void)
{
    static char big[3 << 20];
    rs = 42;
    size_t n = random_text(big, 1 << 20);
    ot_doc *d = ot_doc_new(big, n);
    REQUIRE(d != NULL);
    CHECK_EQ_INT(ot_doc_check(d), 0);
    ot_op *op = ot_op_new();
    ot_op_delete(op, (uint32_t)ot_doc_len(d));
    CHECK_EQ_INT(ot_doc_apply(d, op), 0);
    CHECK_EQ_INT(ot_doc_len(d), 0);
    CHECK_EQ_INT(ot_doc_bytes(d), 0);
    CHECK_EQ_INT(ot_doc_check(d), 0);
    ot_op_free(op);
    op = W("[\"again\"]");
    CHECK_EQ_INT(ot_doc_apply(d, op), 0);
    CHECK_EQ_STR(T(d), "again");
    CHECK_EQ_INT(ot_doc_check(d), 0);
    ot_op_free(op);
    ot_doc_free(d);
}

static void test_sequential_typing_builds_a_large_document(void)
{
    ot_doc *d = ot_doc_new(NULL, 0);
    ot_op *op = ot_op_new();
    for (uint32_t i = 0; i < 200000; i++) {
        ot_op_clear(op);
        ot_op_retain(op, i);
        ot_op_insert(op, i % 3 ? "x" : "\xed\x95\x9c", i % 3 ? 1 : 3);
        if (ot_doc_apply(d, op)) break;
    }
    CHECK_EQ_INT(ot_doc_len(d), 200000);
    CHECK_EQ_INT(ot_doc_bytes(d), 200000 + 2 * 66667);
    CHECK_EQ_INT(ot_doc_check(d), 0);
    for (uint32_t i = 200000; i > 0; i--) { /* then backspace it all */
        ot_op_clear(op);
        ot_op_retain(op, i - 1);
        ot_op_delete(op, 1);
        if (ot_doc_apply(d, op)) break;
    }
    CHECK_EQ_INT(ot_doc_len(d), 0);
    CHECK_EQ_INT(ot_doc_check(d), 0);
    ot_op_free(op);
    ot_doc_free(d);
}

/* Many inserts in one op take the rebuild path (the in-place reserve
 * would be large); the result must be the same as editing a flat copy. */
static void test_op_with_thousands_of_inserts_applies_exactly(void)
{
    static char flat[1 << 20], out[1 << 20];
    rs = (harness_seed() * 29) | 1;
    size_t len = random_text(flat, 50000), o = 0, at = 0;
    ot_doc *d = ot_doc_new(flat, len);
    ot_op *op = ot_op_new();
    size_t cps = ot_doc_len(d), pos = 0;
    for (int i = 0; i < 5000 && pos + 20 < cps; i++) {
        size_t skip = rnd() % 10, a = flat_off(flat, len, pos);
        size_t b = flat_off(flat, len, pos + skip);
        memcpy(out + o, flat + a, b - a); /* retained */
        o += b - a;
        pos += skip;
        const char *p = pieces[rnd() % 12];
        ot_op_retain(op, (uint32_t)skip);
        ot_op_insert(op, p, strlen(p));
        memcpy(out + o, p, strlen(p));
        o += strlen(p);
        if (rnd() % 3 == 0) { /* and delete one */
            ot_op_delete(op, 1);
            pos++;
        }
    }
    at = flat_off(flat, len, pos);
    memcpy(out + o, flat + at, len - at);
    o += len - at;
    CHECK_EQ_INT(ot_doc_apply(d, op), 0);
    size_t n;
    char *t = ot_doc_text(d, &n);
    CHECK(n == o && memcmp(t, out, n) == 0);
    CHECK_EQ_INT(ot_doc_check(d), 0);
    free(t);
    ot_op *typ = W("[3,\"\xed\x95\x9c\"]");
    CHECK_EQ_INT(ot_doc_apply(d, typ), 0);
    CHECK_EQ_INT(ot_doc_check(d), 0);
    ot_op_free(typ);
    ot_op_free(op);
    ot_doc_free(d);
}

int main(void)
{
    RUN(test_apply_inserts_deletes_and_retains);
    RUN(test_apply_counts_code_points);
    RUN(test_op_longer_than_the_document_fails_and_changes_nothing);
    RUN(test_new_document_rejects_bad_utf8);
    RUN(test_lengths_text_and_slices);
    RUN(test_text_may_hold_nul_characters);
    RUN(test_clone_is_independent);
    RUN(test_random_small_edits_of_a_1mb_document_match_a_flat_copy);
    RUN(test_random_large_edits_split_and_merge_many_leaves);
    RUN(test_random_edits_of_a_tiny_document_keep_the_tree_valid);
    RUN(test_deleting_everything_then_typing_works);
    RUN(test_sequential_typing_builds_a_large_document);
    RUN(test_op_with_thousands_of_inserts_applies_exactly);
    return harness_done();
}
