/* test_ot_wire.c -- the JSON wire codec: decoding, normalising, encoding,
 * and the distinct error of every kind of bad input.
 *
 * Hand-checked: each rejection named in ot/ot.h has a case here, through
 * both ot_op_parse() (JSON text) and, where jansson can hold it, through
 * ot_op_from_json() (an already parsed value). */
#include "tests/harness.h"
#include "tests/test_ot_util.h"

#define PERR(text) parse_err(text, strlen(text))

static void test_wire_example_decodes_to_three_components(void)
{
    ot_op *op = W("[5, \"h\xc3\xa9llo \xf0\x9f\x91\x8b\", -3]");
    CHECK_EQ_INT(ot_op_count(op), 3);
    CHECK_EQ_INT(ot_op_base_len(op), 8);
    CHECK_EQ_INT(ot_op_target_len(op), 12);
    CHECK_EQ_STR(S(op), "[5,\"h\xc3\xa9llo \xf0\x9f\x91\x8b\",-3]");
    ot_op_free(op);
}

static void test_decoding_normalises_so_equal_edits_compare_equal(void)
{
    CHECK_EQ_STR(N("[1,2,\"a\",\"b\",-1,-2]"), "[3,\"ab\",-3]");
    CHECK_EQ_STR(N("[-2,\"ab\"]"), "[\"ab\",-2]");
    CHECK_EQ_STR(N("[3,\"x\",5]"), "[3,\"x\"]");
    CHECK_EQ_STR(N("[5]"), "[]");
    CHECK_EQ_STR(N("[]"), "[]");
    CHECK_EQ_STR(N("[\"a\",-1,\"b\",-1,2]"), "[\"ab\",-2]");
}

static void test_escaped_surrogate_pair_decodes_to_one_code_point(void)
{
    ot_op *op = W("[\"\\ud83d\\udc4b\"]");
    CHECK_EQ_INT(ot_op_target_len(op), 1);
    CHECK_EQ_STR(S(op), "[\"\xf0\x9f\x91\x8b\"]");
    ot_op_free(op);
}

static void test_nul_character_is_text_and_round_trips(void)
{
    ot_op *op = W("[\"a\\u0000b\"]");
    CHECK_EQ_INT(ot_op_target_len(op), 3);
    CHECK_EQ_STR(S(op), "[\"a\\u0000b\"]");
    ot_op_free(op);
}

static void test_integral_reals_are_counts_and_other_reals_are_not(void)
{
    CHECK_EQ_STR(N("[2.0,\"x\",-1e0]"), "[2,\"x\",-1]");
    CHECK_EQ_INT(PERR("[1.5]"), OT_ENOTINT);
    CHECK_EQ_INT(PERR("[-0.25]"), OT_ENOTINT);
    CHECK_EQ_INT(PERR("[1e-3]"), OT_ENOTINT);
    CHECK_EQ_INT(PERR("[0.0]"), OT_EZERO);
    CHECK_EQ_INT(PERR("[-0.0]"), OT_EZERO);
    CHECK_EQ_INT(PERR("[1e300]"), OT_EBIG);
}

static void test_zero_is_rejected(void)
{
    CHECK_EQ_INT(PERR("[0]"), OT_EZERO);
    CHECK_EQ_INT(PERR("[-0]"), OT_EZERO);
    CHECK_EQ_INT(PERR("[3,\"a\",0]"), OT_EZERO);
}

static void test_empty_string_is_rejected(void)
{
    CHECK_EQ_INT(PERR("[\"\"]"), OT_EEMPTY);
    CHECK_EQ_INT(PERR("[1,\"\",2]"), OT_EEMPTY);
}

static void test_counts_beyond_2_to_the_31_are_rejected(void)
{
    CHECK_EQ_INT(PERR("[2147483648]"), 0);
    CHECK_EQ_INT(PERR("[-2147483648]"), 0);
    CHECK_EQ_INT(PERR("[2147483649]"), OT_EBIG);
    CHECK_EQ_INT(PERR("[-2147483649]"), OT_EBIG);
    CHECK_EQ_INT(PERR("[99999999999999999999]"), OT_EBIG);
    CHECK_EQ_INT(PERR("[1e400]"), OT_EBIG);
    /* each count is fine, the sum is not */
    CHECK_EQ_INT(PERR("[2147483648,-1]"), OT_EBIG);
    CHECK_EQ_INT(PERR("[2147483648,\"x\"]"), OT_EBIG);
}

static void test_wire_text_longer_than_the_bound_is_rejected(void)
{
    size_t n = OT_MAX_WIRE + 1;
    char *s = malloc(n);
    REQUIRE(s != NULL);
    memset(s, ' ', n);
    s[0] = '[';
    s[n - 1] = ']';
    CHECK_EQ_INT(parse_err(s, n), OT_EBIG);
    free(s);
}

static void test_non_arrays_and_bad_components_are_json_errors(void)
{
    CHECK_EQ_INT(PERR("{}"), OT_EJSON);
    CHECK_EQ_INT(PERR("{\"a\":1}"), OT_EJSON);
    CHECK_EQ_INT(PERR("5"), OT_EJSON);
    CHECK_EQ_INT(PERR("\"abc\""), OT_EJSON);
    CHECK_EQ_INT(PERR("null"), OT_EJSON);
    CHECK_EQ_INT(PERR("[null]"), OT_EJSON);
    CHECK_EQ_INT(PERR("[true]"), OT_EJSON);
    CHECK_EQ_INT(PERR("[[1]]"), OT_EJSON);
    CHECK_EQ_INT(PERR("[{\"retain\":1}]"), OT_EJSON);
    CHECK_EQ_INT(PERR("[1,"), OT_EJSON);
    CHECK_EQ_INT(PERR(""), OT_EJSON);
    CHECK_EQ_INT(PERR("[1] [2]"), OT_EJSON);
    CHECK_EQ_INT(PERR("[1,]"), OT_EJSON);
}

static void test_invalid_utf8_in_the_text_is_rejected(void)
{
    CHECK_EQ_INT(PERR("[\"\xff\"]"), OT_EUTF8);
    CHECK_EQ_INT(PERR("[\"\xc0\xaf\"]"), OT_EUTF8);
    CHECK_EQ_INT(PERR("[\"a\xe2\x82\"]"), OT_EUTF8);
    CHECK_EQ_INT(PERR("[\"\xf4\x90\x80\x80\"]"), OT_EUTF8);
}

static void test_lone_and_encoded_surrogates_are_rejected(void)
{
    CHECK_EQ_INT(PERR("[\"\\ud800\"]"), OT_ESURROGATE);
    CHECK_EQ_INT(PERR("[\"\\udfff\"]"), OT_ESURROGATE);
    CHECK_EQ_INT(PERR("[\"x\\ud83d\"]"), OT_ESURROGATE);
    CHECK_EQ_INT(PERR("[\"\\udc4b\\ud83d\"]"), OT_ESURROGATE);
    CHECK_EQ_INT(PERR("[\"\\ud83dx\"]"), OT_ESURROGATE);
    CHECK_EQ_INT(PERR("[\"\xed\xa0\x80\"]"), OT_ESURROGATE);
    CHECK_EQ_INT(PERR("[\"\xed\xa0\xbd\xed\xb1\x8b\"]"), OT_ESURROGATE);
}

static void test_from_json_checks_values_built_without_the_parser(void)
{
    ot_op *op = (ot_op *)1;
    json_t *a = json_array();
    json_array_append_new(a, json_integer(3));
    json_array_append_new(a, json_stringn_nocheck("\xed\xa0\x80", 3));
    CHECK_EQ_INT(ot_op_from_json(&op, a), OT_ESURROGATE);
    CHECK(op == NULL);
    json_array_clear(a);
    json_array_append_new(a, json_stringn_nocheck("\xfe", 1));
    CHECK_EQ_INT(ot_op_from_json(&op, a), OT_EUTF8);
    json_array_clear(a);
    json_array_append_new(a, json_real(2.5));
    CHECK_EQ_INT(ot_op_from_json(&op, a), OT_ENOTINT);
    json_array_clear(a);
    json_array_append_new(a, json_integer(-7));
    CHECK_EQ_INT(ot_op_from_json(&op, a), 0);
    CHECK_EQ_STR(S(op), "[-7]");
    ot_op_free(op);
    json_decref(a);
    json_t *o = json_object();
    CHECK_EQ_INT(ot_op_from_json(&op, o), OT_EJSON);
    CHECK_EQ_INT(ot_op_from_json(&op, NULL), OT_EJSON);
    json_decref(o);
}

static void test_to_json_omits_the_trailing_retain_and_round_trips(void)
{
    ot_op *op = ot_op_new(), *back = NULL;
    ot_op_retain(op, 7);
    ot_op_insert(op, "\"q\"\n", 4);
    ot_op_delete(op, 2);
    ot_op_retain(op, 9);
    json_t *j = ot_op_to_json(op);
    REQUIRE(j != NULL);
    CHECK_EQ_INT(json_array_size(j), 3);
    CHECK_EQ_INT(json_integer_value(json_array_get(j, 0)), 7);
    CHECK_EQ_STR(json_string_value(json_array_get(j, 1)), "\"q\"\n");
    CHECK_EQ_INT(json_integer_value(json_array_get(j, 2)), -2);
    CHECK_EQ_INT(ot_op_from_json(&back, j), 0);
    CHECK(ot_op_equal(op, back));
    char *s = ot_op_dumps(op);
    CHECK_EQ_STR(s, "[7,\"\\\"q\\\"\\n\",-2]");
    free(s);
    json_decref(j);
    ot_op_free(back);
    ot_op_free(op);
}

/* ot_op_from_json_strict() on JSON text: its result, the op's wire form
 * in 'norm' (when it decodes). */
static int strict(const char *text, char *norm, size_t cap)
{
    ot_op *op = (ot_op *)1;
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    int rc = ot_op_from_json_strict(&op, j);
    if (rc == 0) {
        char *s = ot_op_dumps(op);
        snprintf(norm, cap, "%s", s ? s : "?");
        free(s);
    } else {
        CHECK(op == NULL);
    }
    ot_op_free(op);
    json_decref(j);
    return rc;
}

static void test_strict_decoding_refuses_a_delete_followed_by_an_insert(void)
{
    char n[64];
    CHECK_EQ_INT(strict("[-1,\"x\"]", n, sizeof n), OT_EORDER);
    CHECK_EQ_INT(strict("[3,-2,\"ab\",1]", n, sizeof n), OT_EORDER);
    CHECK_EQ_INT(strict("[\"a\",-1,\"b\"]", n, sizeof n), OT_EORDER);
    CHECK_EQ_INT(strict("[-1,-1,\"p\"]", n, sizeof n), OT_EORDER);
    CHECK_EQ_INT(strict("[-1.0,\"p\"]", n, sizeof n), OT_EORDER);
    CHECK(strstr(ot_strerror(OT_EORDER), "inserts go before deletes") != NULL);
}

static void test_strict_decoding_takes_every_other_canonical_op(void)
{
    char n[64];
    CHECK_EQ_INT(strict("[\"x\",-1]", n, sizeof n), 0);
    CHECK_EQ_STR(n, "[\"x\",-1]");
    CHECK_EQ_INT(strict("[1,2,\"a\",\"b\",-1,-2,4]", n, sizeof n), 0);
    CHECK_EQ_STR(n, "[3,\"ab\",-3]");
    CHECK_EQ_INT(strict("[-1,2,\"x\"]", n, sizeof n), 0);
    CHECK_EQ_STR(n, "[-1,2,\"x\"]");
    CHECK_EQ_INT(strict("[]", n, sizeof n), 0);
}

static void test_strict_decoding_reports_other_faults_first(void)
{
    char n[8];
    CHECK_EQ_INT(strict("[-1,\"\"]", n, sizeof n), OT_EEMPTY);
    CHECK_EQ_INT(strict("[0,\"x\"]", n, sizeof n), OT_EZERO);
    CHECK_EQ_INT(strict("{}", n, sizeof n), OT_EJSON);
    CHECK_EQ_INT(strict("[-1,\"x\",true]", n, sizeof n), OT_EJSON);
}

static void test_whitespace_around_components_is_fine(void)
{
    CHECK_EQ_STR(N(" \n[ 1 ,\t\"a\" ]\n"), "[1,\"a\"]");
}

int main(void)
{
    (void)harness_seed;
    (void)harness_iters;
    RUN(test_wire_example_decodes_to_three_components);
    RUN(test_decoding_normalises_so_equal_edits_compare_equal);
    RUN(test_escaped_surrogate_pair_decodes_to_one_code_point);
    RUN(test_nul_character_is_text_and_round_trips);
    RUN(test_integral_reals_are_counts_and_other_reals_are_not);
    RUN(test_zero_is_rejected);
    RUN(test_empty_string_is_rejected);
    RUN(test_counts_beyond_2_to_the_31_are_rejected);
    RUN(test_wire_text_longer_than_the_bound_is_rejected);
    RUN(test_non_arrays_and_bad_components_are_json_errors);
    RUN(test_invalid_utf8_in_the_text_is_rejected);
    RUN(test_lone_and_encoded_surrogates_are_rejected);
    RUN(test_from_json_checks_values_built_without_the_parser);
    RUN(test_to_json_omits_the_trailing_retain_and_round_trips);
    RUN(test_whitespace_around_components_is_fine);
    RUN(test_strict_decoding_refuses_a_delete_followed_by_an_insert);
    RUN(test_strict_decoding_takes_every_other_canonical_op);
    RUN(test_strict_decoding_reports_other_faults_first);
    return harness_done();
}
