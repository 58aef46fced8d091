/* test_ot_xform.c -- hand-checked transform, compose, invert and cursor
 * transform.
 *
 * Each expected op below was worked out on paper from the rules in ot/ot.h
 * (the tie rule: of two inserts at one place the op on OT_LEFT goes first;
 * past its last component an op retains). Transform cases also check that
 * both orders converge on a concrete document. */
#include "tests/harness.h"
#include "tests/test_ot_util.h"

/* transform(a, b, side) as wire text. */
static const char *XF(const char *a, const char *b, int side)
{
    ot_op *oa = W(a), *ob = W(b), *r = NULL;
    int rc = ot_transform(&r, oa, ob, side);
    const char *s = rc ? ot_strerror_name(rc) : S(r);
    ot_op_free(oa), ot_op_free(ob), ot_op_free(r);
    return s;
}

static const char *CO(const char *a, const char *b)
{
    ot_op *oa = W(a), *ob = W(b), *r = NULL;
    int rc = ot_compose(&r, oa, ob);
    const char *s = rc ? ot_strerror_name(rc) : S(r);
    ot_op_free(oa), ot_op_free(ob), ot_op_free(r);
    return s;
}

static const char *INV(const char *doc, const char *op)
{
    ot_doc *d = D(doc);
    ot_op *o = W(op), *r = NULL;
    int rc = ot_invert(&r, o, d);
    const char *s = rc ? ot_strerror_name(rc) : S(r);
    ot_op_free(o), ot_op_free(r), ot_doc_free(d);
    return s;
}

/* Both orders of a and b on 'doc' give 'want'. */
static int converges(const char *doc, const char *a, const char *b,
                     const char *want)
{
    ot_doc *d1 = D(doc), *d2 = D(doc);
    ot_op *oa = W(a), *ob = W(b), *a2, *b2;
    int ok = ot_transform(&a2, oa, ob, OT_RIGHT) == 0 &&
             ot_transform(&b2, ob, oa, OT_LEFT) == 0;
    ok = ok && !ot_doc_apply(d1, oa) && !ot_doc_apply(d1, b2) &&
         !ot_doc_apply(d2, ob) && !ot_doc_apply(d2, a2);
    char t1[256], t2[256];
    snprintf(t1, sizeof t1, "%s", T(d1));
    snprintf(t2, sizeof t2, "%s", T(d2));
    if (!ok || strcmp(t1, t2) || strcmp(t1, want))
        fprintf(stderr, "  converge %s|%s on %s: %s / %s (want %s)\n", a, b,
                doc, t1, t2, want), ok = 0;
    ot_op_free(oa), ot_op_free(ob), ot_op_free(a2), ot_op_free(b2);
    ot_doc_free(d1), ot_doc_free(d2);
    return ok;
}

static void test_inserts_at_one_place_put_the_right_sides_other_op_first(void)
{
    CHECK_EQ_STR(XF("[1,\"x\"]", "[1,\"y\"]", OT_RIGHT), "[2,\"x\"]");
    CHECK_EQ_STR(XF("[1,\"x\"]", "[1,\"y\"]", OT_LEFT), "[1,\"x\"]");
    CHECK(converges("ab", "[1,\"x\"]", "[1,\"y\"]", "ayxb"));
}

static void test_insert_after_a_deletion_moves_back(void)
{
    CHECK_EQ_STR(XF("[3,\"x\"]", "[-2]", OT_RIGHT), "[1,\"x\"]");
    CHECK(converges("abcd", "[3,\"x\"]", "[-2]", "cxd"));
}

static void test_insert_inside_a_deleted_range_survives_at_its_start(void)
{
    CHECK_EQ_STR(XF("[1,\"x\"]", "[-3]", OT_RIGHT), "[\"x\"]");
    CHECK(converges("abcd", "[1,\"x\"]", "[-3]", "xd"));
}

static void test_overlapping_deletes_delete_once(void)
{
    CHECK_EQ_STR(XF("[-3]", "[1,-1]", OT_RIGHT), "[-2]");
    CHECK_EQ_STR(XF("[1,-1]", "[-3]", OT_RIGHT), "[]");
    CHECK(converges("abcde", "[-3]", "[1,-3]", "e"));
}

static void test_delete_spanning_a_concurrent_insert_keeps_the_insert(void)
{
    CHECK_EQ_STR(XF("[2,-3]", "[3,\"zz\"]", OT_RIGHT), "[2,-1,2,-2]");
    CHECK(converges("abcdefg", "[2,-3]", "[3,\"zz\"]", "abzzfg"));
}

static void test_insert_with_delete_at_a_tie_keeps_its_delete(void)
{
    CHECK_EQ_STR(XF("[\"ab\",-2]", "[\"c\"]", OT_RIGHT), "[1,\"ab\",-2]");
    CHECK_EQ_STR(XF("[\"ab\",-2]", "[\"c\"]", OT_LEFT), "[\"ab\",1,-2]");
    CHECK(converges("xyz", "[\"ab\",-2]", "[\"c\"]", "cabz"));
}

static void test_identity_transforms_to_itself_both_ways(void)
{
    CHECK_EQ_STR(XF("[5,\"x\"]", "[]", OT_RIGHT), "[5,\"x\"]");
    CHECK_EQ_STR(XF("[]", "[2,\"q\",-1]", OT_RIGHT), "[]");
}

static void test_transform_counts_code_points_not_bytes(void)
{
    /* doc "한글x": b inserts "é" at 0, a inserts an emoji at 2 */
    CHECK_EQ_STR(XF("[2,\"\xf0\x9f\x91\x8b\"]", "[\"\xc3\xa9\"]", OT_RIGHT),
                 "[3,\"\xf0\x9f\x91\x8b\"]");
    CHECK(converges("\xed\x95\x9c\xea\xb8\x80x", "[2,\"\xf0\x9f\x91\x8b\"]",
                    "[\"\xc3\xa9\",1,-1]",
                    "\xc3\xa9\xed\x95\x9c\xf0\x9f\x91\x8bx"));
}

static void test_transform_result_too_long_is_an_error(void)
{
    CHECK_EQ_STR(XF("[2147483647,\"x\"]", "[\"y\"]", OT_RIGHT), "OT_ELEN");
}

static void test_compose_merges_consecutive_typing(void)
{
    CHECK_EQ_STR(CO("[1,\"x\"]", "[2,\"y\"]"), "[1,\"xy\"]");
    CHECK_EQ_STR(CO("[-2]", "[-1]"), "[-3]");
}

static void test_compose_cancels_text_inserted_then_deleted(void)
{
    CHECK_EQ_STR(CO("[\"abc\"]", "[1,-1]"), "[\"ac\"]");
    CHECK_EQ_STR(CO("[2,\"x\"]", "[-4]"), "[-3]");
    CHECK_EQ_STR(CO("[\"h\xc3\xa9llo\"]", "[1,-3,\"E\"]"), "[\"hEo\"]");
    CHECK_EQ_STR(CO("[\"ab\"]", "[-2]"), "[]");
}

static void test_compose_reaches_into_the_implicit_retain(void)
{
    CHECK_EQ_STR(CO("[1,\"x\"]", "[5,-1]"), "[1,\"x\",3,-1]");
    CHECK_EQ_STR(apply_str("abcdefg", "[1,\"x\",3,-1]"), "axbcdfg");
    CHECK_EQ_STR(CO("[]", "[2,\"q\"]"), "[2,\"q\"]");
    CHECK_EQ_STR(CO("[2,\"q\"]", "[]"), "[2,\"q\"]");
}

static void test_compose_result_too_long_is_an_error(void)
{
    CHECK_EQ_STR(CO("[-2147483648]", "[-2147483648]"), "OT_ELEN");
}

static void test_invert_restores_deleted_text_and_removes_inserts(void)
{
    CHECK_EQ_STR(INV("abcdef", "[1,\"XY\",-2,1,-1]"),
                 "[1,\"bc\",-2,1,\"e\"]");
    CHECK_EQ_STR(apply_str("aXYdf", "[1,\"bc\",-2,1,\"e\"]"), "abcdef");
    CHECK_EQ_STR(INV("\xed\x95\x9c\xf0\x9f\x91\x8b", "[-1,1,\"z\"]"),
                 "[\"\xed\x95\x9c\",1,-1]");
    CHECK_EQ_STR(INV("abc", "[]"), "[]");
}

static void test_invert_of_an_op_longer_than_the_document_fails(void)
{
    CHECK_EQ_STR(INV("abcde", "[5,-1]"), "OT_ERANGE");
    CHECK_EQ_STR(INV("abcde", "[6]"), "[]"); /* only a trailing retain */
}

static void test_cursor_moves_with_text_around_it(void)
{
    /* "abcdef" -> "abxyef" by [2,"xy",-2] */
    ot_op *op = W("[2,\"xy\",-2]");
    CHECK_EQ_INT(ot_transform_pos(0, op, OT_RIGHT), 0);
    CHECK_EQ_INT(ot_transform_pos(1, op, OT_LEFT), 1);
    CHECK_EQ_INT(ot_transform_pos(2, op, OT_LEFT), 2);
    CHECK_EQ_INT(ot_transform_pos(2, op, OT_RIGHT), 4);
    CHECK_EQ_INT(ot_transform_pos(3, op, OT_LEFT), 4);  /* was in "cd" */
    CHECK_EQ_INT(ot_transform_pos(4, op, OT_RIGHT), 4); /* at 'e' */
    CHECK_EQ_INT(ot_transform_pos(6, op, OT_RIGHT), 6);
    CHECK_EQ_INT(ot_transform_pos(60, op, OT_LEFT), 60);
    ot_op_free(op);
}

static void test_cursor_at_an_insert_point_follows_the_side(void)
{
    ot_op *op = W("[6,\"z\"]");
    CHECK_EQ_INT(ot_transform_pos(6, op, OT_LEFT), 6);
    CHECK_EQ_INT(ot_transform_pos(6, op, OT_RIGHT), 7);
    CHECK_EQ_INT(ot_transform_pos(5, op, OT_RIGHT), 5);
    ot_op_free(op);
    op = W("[-3]");
    CHECK_EQ_INT(ot_transform_pos(1, op, OT_RIGHT), 0);
    CHECK_EQ_INT(ot_transform_pos(3, op, OT_RIGHT), 0);
    CHECK_EQ_INT(ot_transform_pos(5, op, OT_RIGHT), 2);
    ot_op_free(op);
}

int main(void)
{
    (void)harness_seed;
    (void)harness_iters;
    RUN(test_inserts_at_one_place_put_the_right_sides_other_op_first);
    RUN(test_insert_after_a_deletion_moves_back);
    RUN(test_insert_inside_a_deleted_range_survives_at_its_start);
    RUN(test_overlapping_deletes_delete_once);
    RUN(test_delete_spanning_a_concurrent_insert_keeps_the_insert);
    RUN(test_insert_with_delete_at_a_tie_keeps_its_delete);
    RUN(test_identity_transforms_to_itself_both_ways);
    RUN(test_transform_counts_code_points_not_bytes);
    RUN(test_transform_result_too_long_is_an_error);
    RUN(test_compose_merges_consecutive_typing);
    RUN(test_compose_cancels_text_inserted_then_deleted);
    RUN(test_compose_reaches_into_the_implicit_retain);
    RUN(test_compose_result_too_long_is_an_error);
    RUN(test_invert_restores_deleted_text_and_removes_inserts);
    RUN(test_invert_of_an_op_longer_than_the_document_fails);
    RUN(test_cursor_moves_with_text_around_it);
    RUN(test_cursor_at_an_insert_point_follows_the_side);
    return harness_done();
}
