/* test_ot_vectors.c -- the C engine against the conformance vectors.
 *
 * The files in tests/vectors/ were generated once by tests/vectors/generate.py
 * from an independent reference model (see tests/vectors/README.md for the
 * format); the browser client's OT checks the same files. Every result must
 * match exactly: ops compare in normalised wire form, documents byte for
 * byte, errors by name. */
#include "tests/harness.h"
#include "tests/test_ot_util.h"

static json_t *load(const char *name)
{
    char path[256];
    json_error_t e;
    snprintf(path, sizeof path, "tests/vectors/%s.json", name);
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &e);
    if (!j) fprintf(stderr, "  %s: %s (line %d)\n", path, e.text, e.line);
    return json_object_get(j, "cases") ? j : NULL;
}

static ot_op *op_of(const json_t *c, const char *key)
{
    ot_op *op = NULL;
    if (ot_op_from_json(&op, json_object_get(c, key))) return NULL;
    return op;
}

static ot_doc *doc_of(const json_t *c, const char *key)
{
    const json_t *s = json_object_get(c, key);
    return ot_doc_new(json_string_value(s), json_string_length(s));
}

/* 'op' is exactly the expected wire value (already normalised). */
static int op_is(const ot_op *op, const json_t *want)
{
    json_t *got = op ? ot_op_to_json(op) : NULL;
    int eq = got && json_equal(got, want);
    json_decref(got);
    return eq;
}

static int text_is(const ot_doc *d, const json_t *want)
{
    size_t n;
    char *t = d ? ot_doc_text(d, &n) : NULL;
    int eq = t && n == json_string_length(want) &&
             memcmp(t, json_string_value(want), n) == 0;
    free(t);
    return eq;
}

static int side_of(const json_t *c)
{
    return strcmp(json_string_value(json_object_get(c, "side")), "left") == 0
               ? OT_LEFT
               : OT_RIGHT;
}

static int err_is(int rc, const json_t *c)
{
    const char *want = json_string_value(json_object_get(c, "error"));
    return want ? rc != 0 && strcmp(ot_strerror_name(rc), want) == 0 : rc == 0;
}

static int check_apply(const json_t *c)
{
    ot_doc *d = doc_of(c, "doc");
    ot_op *op = op_of(c, "op");
    int ok = d && op && err_is(ot_doc_apply(d, op), c);
    if (ok && json_object_get(c, "result"))
        ok = text_is(d, json_object_get(c, "result"));
    ot_doc_free(d);
    ot_op_free(op);
    return ok;
}

static int check_transform(const json_t *c)
{
    ot_op *a = op_of(c, "a"), *b = op_of(c, "b"), *r = NULL;
    int ok = a && b && err_is(ot_transform(&r, a, b, side_of(c)), c);
    if (ok && r) {
        ok = op_is(r, json_object_get(c, "result"));
        ot_doc *d = doc_of(c, "doc");
        ok = ok && d && !ot_doc_apply(d, b) && !ot_doc_apply(d, r) &&
             text_is(d, json_object_get(c, "doc_result"));
        ot_doc_free(d);
    }
    ot_op_free(a), ot_op_free(b), ot_op_free(r);
    return ok;
}

static int check_compose(const json_t *c)
{
    ot_op *a = op_of(c, "a"), *b = op_of(c, "b"), *r = NULL;
    int ok = a && b && err_is(ot_compose(&r, a, b), c);
    if (ok && r) {
        ok = op_is(r, json_object_get(c, "result"));
        ot_doc *d = doc_of(c, "doc");
        ok = ok && d && !ot_doc_apply(d, r) &&
             text_is(d, json_object_get(c, "doc_result"));
        ot_doc_free(d);
    }
    ot_op_free(a), ot_op_free(b), ot_op_free(r);
    return ok;
}

static int check_invert(const json_t *c)
{
    ot_doc *d = doc_of(c, "doc");
    ot_op *op = op_of(c, "op"), *r = NULL;
    int ok = d && op && err_is(ot_invert(&r, op, d), c);
    if (ok && r) ok = op_is(r, json_object_get(c, "result"));
    ot_doc_free(d);
    ot_op_free(op), ot_op_free(r);
    return ok;
}

static int check_cursor(const json_t *c)
{
    ot_op *op = op_of(c, "op");
    size_t pos = (size_t)json_integer_value(json_object_get(c, "pos"));
    int ok = op && (json_int_t)ot_transform_pos(pos, op, side_of(c)) ==
                       json_integer_value(json_object_get(c, "result"));
    ot_op_free(op);
    return ok;
}

static int check_normalise(const json_t *c)
{
    const char *w = json_string_value(json_object_get(c, "wire"));
    ot_op *op = NULL;
    int ok = ot_op_parse(&op, w, json_string_length(json_object_get(c, "wire"))) == 0 &&
             op_is(op, json_object_get(c, "result"));
    ot_op_free(op);
    return ok;
}

static int unhex(const char *h, char *out)
{
    int n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1) return -1;
        out[n++] = (char)v;
    }
    return n;
}

static int check_reject(const json_t *c)
{
    char raw[256];
    const json_t *w = json_object_get(c, "wire");
    ot_op *op = NULL;
    int rc;
    if (w) {
        rc = ot_op_parse(&op, json_string_value(w), json_string_length(w));
    } else {
        int n = unhex(json_string_value(json_object_get(c, "wire_hex")), raw);
        rc = n < 0 ? 0 : ot_op_parse(&op, raw, (size_t)n);
    }
    ot_op_free(op);
    return err_is(rc, c) && json_object_get(c, "error");
}

/* Run 'check' on every case of vector file 'name': the number failed (or
 * -1 if the file is missing). */
static long run_file(const char *name, int (*check)(const json_t *))
{
    json_t *j = load(name), *c;
    size_t i;
    long bad = 0;
    if (!j) return -1;
    json_array_foreach(json_object_get(j, "cases"), i, c) {
        if (check(c)) continue;
        if (++bad <= 3) {
            char *s = json_dumps(c, JSON_COMPACT);
            fprintf(stderr, "  %s case %zu fails: %.300s\n", name, i, s);
            free(s);
        }
    }
    if (json_array_size(json_object_get(j, "cases")) < 10) bad++;
    json_decref(j);
    return bad;
}

#define VECTOR_TEST(fn, name, check)                                         \
    static void fn(void) { CHECK_EQ_INT(run_file(name, check), 0); }

VECTOR_TEST(test_apply_vectors_match, "apply", check_apply)
VECTOR_TEST(test_transform_vectors_match, "transform", check_transform)
VECTOR_TEST(test_compose_vectors_match, "compose", check_compose)
VECTOR_TEST(test_invert_vectors_match, "invert", check_invert)
VECTOR_TEST(test_cursor_vectors_match, "cursor", check_cursor)
VECTOR_TEST(test_normalise_vectors_match, "normalise", check_normalise)
VECTOR_TEST(test_reject_vectors_give_their_errors, "reject", check_reject)

int main(void)
{
    (void)harness_seed;
    (void)harness_iters;
    (void)harness_fail;
    RUN(test_apply_vectors_match);
    RUN(test_transform_vectors_match);
    RUN(test_compose_vectors_match);
    RUN(test_invert_vectors_match);
    RUN(test_cursor_vectors_match);
    RUN(test_normalise_vectors_match);
    RUN(test_reject_vectors_give_their_errors);
    return harness_done();
}
