/* test_ot_op.c -- hand-checked cases for building and inspecting ops, the
 * error table and UTF-8 validation.
 *
 * Every expectation here was worked out by hand from the rules in ot/ot.h:
 * normalisation (merge, insert before delete, no trailing retain), code-point
 * counting, limits, and which error each bad input gets. */
#include "tests/harness.h"
#include "tests/test_ot_util.h"

static void test_new_op_is_the_identity(void)
{
    ot_op *op = ot_op_new();
    REQUIRE(op != NULL);
    CHECK_EQ_INT(ot_op_count(op), 0);
    CHECK(ot_op_is_noop(op));
    CHECK_EQ_INT(ot_op_base_len(op), 0);
    CHECK_EQ_INT(ot_op_target_len(op), 0);
    CHECK_EQ_STR(S(op), "[]");
    ot_op_free(op);
    ot_op_free(NULL);
}

static void test_builder_merges_adjacent_components_of_one_kind(void)
{
    ot_op *op = ot_op_new();
    CHECK_EQ_INT(ot_op_retain(op, 2), 0);
    CHECK_EQ_INT(ot_op_retain(op, 3), 0);
    CHECK_EQ_INT(ot_op_insert(op, "h\xc3\xa9", 3), 0);
    CHECK_EQ_INT(ot_op_insert(op, "llo", 3), 0);
    CHECK_EQ_INT(ot_op_delete(op, 1), 0);
    CHECK_EQ_INT(ot_op_delete(op, 2), 0);
    CHECK_EQ_STR(S(op), "[5,\"h\xc3\xa9llo\",-3]");
    CHECK_EQ_INT(ot_op_count(op), 3);
    ot_op_free(op);
}

static void test_insert_after_delete_is_moved_before_it(void)
{
    ot_op *op = ot_op_new();
    ot_op_retain(op, 1);
    ot_op_delete(op, 2);
    ot_op_insert(op, "ab", 2);
    CHECK_EQ_STR(S(op), "[1,\"ab\",-2]");
    ot_op_insert(op, "c", 1); /* joins the insert before the delete */
    ot_op_delete(op, 1);
    CHECK_EQ_STR(S(op), "[1,\"abc\",-3]");
    ot_op_free(op);
}

static void test_zero_counts_and_empty_inserts_are_no_ops_in_the_builder(void)
{
    ot_op *op = ot_op_new();
    CHECK_EQ_INT(ot_op_retain(op, 0), 0);
    CHECK_EQ_INT(ot_op_delete(op, 0), 0);
    CHECK_EQ_INT(ot_op_insert(op, "", 0), 0);
    CHECK_EQ_INT(ot_op_insert(op, NULL, 0), 0);
    CHECK_EQ_STR(S(op), "[]");
    ot_op_free(op);
}

static void test_trailing_retain_is_not_part_of_the_op(void)
{
    ot_op *op = ot_op_new();
    ot_op_retain(op, 4);
    ot_op_insert(op, "x", 1);
    ot_op_retain(op, 10);
    CHECK_EQ_STR(S(op), "[4,\"x\"]");
    CHECK_EQ_INT(ot_op_count(op), 2);
    CHECK_EQ_INT(ot_op_base_len(op), 4);
    CHECK_EQ_INT(ot_op_target_len(op), 5);
    ot_op *b = W("[4,\"x\"]");
    CHECK(ot_op_equal(op, b));
    ot_op_delete(op, 1); /* the retain comes back once something follows */
    CHECK_EQ_STR(S(op), "[4,\"x\",10,-1]");
    ot_op_free(b);
    ot_op_free(op);
}

static void test_components_are_inspected_by_index(void)
{
    ot_op *op = W("[3,\"\xed\x95\x9c\xf0\x9f\x91\x8b\",-2]");
    REQUIRE(ot_op_count(op) == 3);
    ot_comp c = ot_op_at(op, 0);
    CHECK_EQ_INT(c.kind, OT_RETAIN);
    CHECK_EQ_INT(c.n, 3);
    CHECK(c.text == NULL);
    c = ot_op_at(op, 1);
    CHECK_EQ_INT(c.kind, OT_INSERT);
    CHECK_EQ_INT(c.n, 2);
    CHECK_EQ_INT(c.bytes, 7);
    CHECK(memcmp(c.text, "\xed\x95\x9c\xf0\x9f\x91\x8b", 7) == 0);
    c = ot_op_at(op, 2);
    CHECK_EQ_INT(c.kind, OT_DELETE);
    CHECK_EQ_INT(c.n, 2);
    c = ot_op_at(op, 3); /* out of range: kind 0 */
    CHECK_EQ_INT(c.kind, 0);
    ot_op_free(op);
}

static void test_lengths_and_stats_count_code_points(void)
{
    /* "한👋e" + combining acute: 4 code points, 3+4+1+2 = 10 bytes */
    ot_op *op = W("[2,\"\xed\x95\x9c\xf0\x9f\x91\x8b" "e\xcc\x81\",-5,1,-1]");
    size_t ins, del;
    CHECK_EQ_INT(ot_op_base_len(op), 2 + 5 + 1 + 1);
    CHECK_EQ_INT(ot_op_target_len(op), 2 + 4 + 1);
    ot_op_stats(op, &ins, &del);
    CHECK_EQ_INT(ins, 4);
    CHECK_EQ_INT(del, 6);
    ot_op_stats(op, NULL, NULL);
    ot_op_free(op);
}

static void test_equal_compares_edits_not_spelling(void)
{
    ot_op *a = W("[1,1,\"a\",\"b\",-1,-1]"), *b = W("[2,\"ab\",-2]");
    ot_op *c = W("[2,-2,\"ab\",5]"), *d = W("[2,\"ac\",-2]");
    ot_op *e = W("[2,\"ab\",-3]");
    CHECK(ot_op_equal(a, b));
    CHECK(ot_op_equal(a, c));
    CHECK(!ot_op_equal(a, d));
    CHECK(!ot_op_equal(a, e));
    ot_op_free(a), ot_op_free(b), ot_op_free(c), ot_op_free(d), ot_op_free(e);
}

static void test_clone_is_deep_and_clear_empties(void)
{
    char big[200];
    memset(big, 'z', sizeof big);
    ot_op *a = ot_op_new();
    for (int i = 0; i < 20; i++) { /* past the inline storage */
        ot_op_retain(a, 1);
        ot_op_insert(a, big, sizeof big);
    }
    ot_op *b = ot_op_clone(a);
    REQUIRE(b != NULL);
    CHECK(ot_op_equal(a, b));
    CHECK_EQ_INT(ot_op_count(b), 40);
    ot_op_clear(a);
    CHECK(ot_op_is_noop(a));
    CHECK_EQ_INT(ot_op_count(b), 40);
    CHECK_EQ_INT(ot_op_target_len(b), 20 * 201);
    ot_op_insert(a, "q", 1);
    CHECK_EQ_STR(S(a), "[\"q\"]");
    ot_op_free(a);
    ot_op_free(b);
}

static void test_builder_rejects_bad_utf8_and_keeps_the_op(void)
{
    ot_op *op = W("[1,\"a\"]");
    CHECK_EQ_INT(ot_op_insert(op, "\xff", 1), OT_EUTF8);
    CHECK_EQ_INT(ot_op_insert(op, "\xed\xa0\x80", 3), OT_ESURROGATE);
    CHECK_EQ_INT(ot_op_insert(op, "\xc3", 1), OT_EUTF8);
    CHECK_EQ_STR(S(op), "[1,\"a\"]");
    ot_op_free(op);
}

static void test_builder_rejects_ops_spanning_more_than_2_to_the_31(void)
{
    ot_op *op = ot_op_new();
    CHECK_EQ_INT(ot_op_retain(op, 1u << 31), 0);
    CHECK_EQ_INT(ot_op_retain(op, 1), OT_EBIG);
    CHECK_EQ_INT(ot_op_delete(op, 1), OT_EBIG);
    CHECK_EQ_INT(ot_op_insert(op, "x", 1), OT_EBIG);
    CHECK_EQ_INT(ot_op_base_len(op), 0); /* only a trailing retain */
    ot_op_free(op);
    op = ot_op_new();
    CHECK_EQ_INT(ot_op_delete(op, (1u << 31) + 1), OT_EBIG);
    CHECK_EQ_INT(ot_op_delete(op, 1u << 31), 0);
    CHECK_EQ_INT(ot_op_base_len(op), (size_t)1 << 31);
    ot_op_free(op);
}

static void test_every_error_has_a_distinct_name_and_text(void)
{
    const int codes[] = {OT_ENOMEM, OT_EJSON,  OT_EZERO, OT_ENOTINT,
                         OT_EEMPTY, OT_EBIG,   OT_EUTF8, OT_ESURROGATE,
                         OT_ERANGE, OT_ELEN,   OT_EORDER};
    const int n = sizeof codes / sizeof codes[0];
    for (int i = 0; i < n; i++) {
        CHECK(codes[i] < 0);
        CHECK(strcmp(ot_strerror(codes[i]), "unknown error") != 0);
        for (int j = 0; j < i; j++) {
            CHECK(codes[i] != codes[j]);
            CHECK(strcmp(ot_strerror(codes[i]), ot_strerror(codes[j])) != 0);
        }
    }
    CHECK_EQ_STR(ot_strerror_name(OT_ESURROGATE), "OT_ESURROGATE");
    CHECK_EQ_STR(ot_strerror_name(OT_ERANGE), "OT_ERANGE");
    CHECK_EQ_STR(ot_strerror(12345), "unknown error");
    CHECK_EQ_STR(ot_strerror_name(0), "OT_EUNKNOWN");
}

static void test_utf8_validate_accepts_every_valid_length(void)
{
    size_t n = 99;
    const char *s = "a\xc3\xa9\xed\x95\x9c\xf0\x9f\x91\x8b\xef\xbf\xbf"
                    "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80";
    CHECK_EQ_INT(ot_utf8_validate(s, strlen(s), &n), 0);
    CHECK_EQ_INT(n, 8);
    CHECK_EQ_INT(ot_utf8_validate("", 0, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ot_utf8_validate("a\0b", 3, &n), 0); /* U+0000 is text */
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(ot_utf8_validate("0123456789abcdefgh", 18, NULL), 0);
}

static void test_utf8_validate_rejects_each_kind_of_bad_sequence(void)
{
    static const struct {
        const char *s;
        int err;
    } bad[] = {
        {"\x80", OT_EUTF8},             /* lone continuation */
        {"\xc0\xaf", OT_EUTF8},         /* overlong '/' */
        {"\xc1\xbf", OT_EUTF8},         /* overlong */
        {"\xe0\x80\xaf", OT_EUTF8},     /* overlong 3-byte */
        {"\xf0\x80\x80\xaf", OT_EUTF8}, /* overlong 4-byte */
        {"\xf4\x90\x80\x80", OT_EUTF8}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", OT_EUTF8}, /* bad lead byte */
        {"\xff", OT_EUTF8},
        {"\xc3", OT_EUTF8},             /* truncated */
        {"abc\xe2\x82", OT_EUTF8},      /* truncated at the end */
        {"\xe2\x28\xa1", OT_EUTF8},     /* bad continuation */
        {"\xed\xa0\x80", OT_ESURROGATE}, /* U+D800 */
        {"\xed\xbf\xbf", OT_ESURROGATE}, /* U+DFFF */
        {"\xed\xa0\xbd\xed\xb1\x8b", OT_ESURROGATE}, /* CESU-8 of U+1F44B */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ot_utf8_validate(bad[i].s, strlen(bad[i].s), NULL);
        if (rc != bad[i].err)
            fprintf(stderr, "  case %zu: got %d want %d\n", i, rc, bad[i].err);
        CHECK_EQ_INT(rc, bad[i].err);
    }
}

static void test_utf8_errors_are_found_after_a_long_ascii_run(void)
{
    char buf[64];
    memset(buf, 'a', sizeof buf);
    buf[37] = (char)0x80;
    CHECK_EQ_INT(ot_utf8_validate(buf, sizeof buf, NULL), OT_EUTF8);
}

int main(void)
{
    (void)harness_seed;
    (void)harness_iters;
    RUN(test_new_op_is_the_identity);
    RUN(test_builder_merges_adjacent_components_of_one_kind);
    RUN(test_insert_after_delete_is_moved_before_it);
    RUN(test_zero_counts_and_empty_inserts_are_no_ops_in_the_builder);
    RUN(test_trailing_retain_is_not_part_of_the_op);
    RUN(test_components_are_inspected_by_index);
    RUN(test_lengths_and_stats_count_code_points);
    RUN(test_equal_compares_edits_not_spelling);
    RUN(test_clone_is_deep_and_clear_empties);
    RUN(test_builder_rejects_bad_utf8_and_keeps_the_op);
    RUN(test_builder_rejects_ops_spanning_more_than_2_to_the_31);
    RUN(test_every_error_has_a_distinct_name_and_text);
    RUN(test_utf8_validate_accepts_every_valid_length);
    RUN(test_utf8_validate_rejects_each_kind_of_bad_sequence);
    RUN(test_utf8_errors_are_found_after_a_long_ascii_run);
    return harness_done();
}
