/* test_ot_nomem.c -- out-of-memory: every allocation of every ot function
 * is made to fail in turn; the function must report OT_ENOMEM (or NULL),
 * never crash, and ot_doc_apply() must leave the document unchanged.
 *
 * The program replaces malloc/calloc/realloc with wrappers around glibc's
 * __libc_* functions that fail once a countdown reaches zero. Sanitizer
 * builds own malloc themselves, so there the cases are skipped (and pass). */
#include "tests/harness.h"
#include "tests/test_ot_util.h"

#include "tests/nomem.h"
#define countdown nomem_countdown /* every allocation fails once it is 0 */

static char big[300000];

static void fill_big(void)
{
    for (size_t i = 0; i + 3 <= sizeof big; i += 3)
        memcpy(big + i, i % 2 ? "\xed\x95\x9c" : "ab ", 3);
}

/* Apply 'op' to 'd' with the k-th allocation failing, k = 0, 1, ...: each
 * failure must leave the text and the tree as they were. Returns the final
 * result and the number of failures seen. */
static int apply_until_success(ot_doc *d, const ot_op *op, int *failures)
{
    char *before = ot_doc_text(d, NULL);
    int rc = OT_ENOMEM;
    *failures = 0;
    for (long k = 0; rc == OT_ENOMEM && k < 100000; k++) {
        countdown = k;
        rc = ot_doc_apply(d, op);
        countdown = -1;
        if (rc == OT_ENOMEM) {
            char *now = ot_doc_text(d, NULL);
            ++*failures;
            if (!now || strcmp(now, before) || ot_doc_check(d)) rc = -999;
            free(now);
        }
    }
    free(before);
    return rc;
}

static void test_apply_that_cannot_allocate_changes_nothing(void)
{
    int failures;
    fill_big();
    ot_doc *d = ot_doc_new(big, sizeof big / 2);
    REQUIRE(d != NULL);
    /* a big op: applied by rebuilding the text */
    ot_op *op = ot_op_new();
    ot_op_retain(op, 1000);
    ot_op_insert(op, big, sizeof big);
    ot_op_delete(op, 10);
    ot_op_retain(op, 5000);
    ot_op_insert(op, "x", 1);
    CHECK_EQ_INT(apply_until_success(d, op, &failures), 0);
#ifndef NOMEM_SKIP
    CHECK(failures > 0);
#endif
    CHECK_EQ_INT(ot_doc_len(d), sizeof big / 2 / 3 * 2 + sizeof big / 3 * 2 -
                                    10 + 1);
    /* a middling insert: applied in place after reserving the nodes */
    ot_op_clear(op);
    ot_op_retain(op, 77777);
    ot_op_insert(op, big, 30000);
    CHECK_EQ_INT(apply_until_success(d, op, &failures), 0);
#ifndef NOMEM_SKIP
    CHECK(failures > 0);
#endif
    CHECK_EQ_INT(ot_doc_check(d), 0);
    ot_op_free(op);
    ot_doc_free(d);
}

/* Run 'fn' with the k-th allocation failing for k = 0, 1, ... until it
 * succeeds; every failure must be a clean OT_ENOMEM (or 'also'). */
static int until_success(int (*fn)(void), int also)
{
    int rc = OT_ENOMEM;
    for (long k = 0; (rc == OT_ENOMEM || rc == also) && k < 10000; k++) {
        countdown = k;
        rc = fn();
        countdown = -1;
    }
    return rc;
}

static ot_op *A, *B;
static ot_doc *PRE;

static int do_transform(void)
{
    ot_op *r;
    int rc = ot_transform(&r, A, B, OT_RIGHT);
    ot_op_free(r);
    return rc;
}

static int do_compose(void)
{
    ot_op *r;
    int rc = ot_compose(&r, A, B);
    ot_op_free(r);
    return rc;
}

static int do_invert(void)
{
    ot_op *r;
    int rc = ot_invert(&r, A, PRE);
    ot_op_free(r);
    return rc;
}

static int do_parse(void)
{
    static const char wire[] =
        "[3,\"\xed\x95\x9c\xea\xb8\x80 some longer text to leave the inline "
        "buffer of the op behind\",-2,4,\"q\",-1,1,\"r\",-1,1,\"s\"]";
    ot_op *r;
    int rc = ot_op_parse(&r, wire, sizeof wire - 1);
    ot_op_free(r);
    return rc;
}

static int do_encode(void)
{
    char *s = ot_op_dumps(A);
    json_t *j = ot_op_to_json(A);
    ot_op *c = ot_op_clone(A);
    int ok = s && j && c;
    free(s);
    json_decref(j);
    ot_op_free(c);
    return ok ? 0 : OT_ENOMEM;
}

static int do_doc(void)
{
    ot_doc *d = ot_doc_new(big, 30000);
    ot_doc *c = d ? ot_doc_clone(d) : NULL;
    char *s = c ? ot_doc_slice(c, 5, 100, NULL) : NULL;
    int ok = d && c && s;
    ot_doc_free(d);
    ot_doc_free(c);
    free(s);
    return ok ? 0 : OT_ENOMEM;
}

static void test_every_function_fails_cleanly_without_memory(void)
{
    fill_big();
    char text[4000];
    memcpy(text, big, sizeof text);
    A = ot_op_new();
    B = ot_op_new();
    for (uint32_t i = 0; i < 30; i++) {
        ot_op_retain(A, 2);
        ot_op_insert(A, text, 60);
        ot_op_delete(A, 1);
        ot_op_retain(B, 3);
        ot_op_insert(B, text + 300, 90);
        ot_op_delete(B, 2);
    }
    PRE = ot_doc_new(big, 3000);
    CHECK_EQ_INT(until_success(do_transform, OT_ENOMEM), 0);
    CHECK_EQ_INT(until_success(do_compose, OT_ENOMEM), 0);
    CHECK_EQ_INT(until_success(do_invert, OT_ENOMEM), 0);
    /* jansson reports some of its allocation failures as syntax errors */
    CHECK_EQ_INT(until_success(do_parse, OT_EJSON), 0);
    CHECK_EQ_INT(until_success(do_encode, OT_ENOMEM), 0);
    CHECK_EQ_INT(until_success(do_doc, OT_ENOMEM), 0);
    ot_op_free(A);
    ot_op_free(B);
    ot_doc_free(PRE);
}

int main(void)
{
    (void)harness_seed;
    (void)harness_iters;
    RUN(test_apply_that_cannot_allocate_changes_nothing);
    RUN(test_every_function_fails_cleanly_without_memory);
    return harness_done();
}
