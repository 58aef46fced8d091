/* test_ot_util.h -- small helpers shared by the ot test programs.
 *
 * Ops are written in their wire form ("[5, \"x\", -2]") and compared in it,
 * which keeps hand-checked cases short and their failures readable. The
 * helpers abort the program on malformed test data (a bug in the test, not
 * in the code under test). Header-only: each test is one .c file. */
#ifndef CHORUS_TEST_OT_UTIL_H
#define CHORUS_TEST_OT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"

/* The op written as wire JSON text; aborts if it does not decode. */
static inline ot_op *W(const char *json)
{
    ot_op *op;
    int rc = ot_op_parse(&op, json, strlen(json));
    if (rc) {
        fprintf(stderr, "bad test op %s: %s\n", json, ot_strerror(rc));
        abort();
    }
    return op;
}

/* The error ot_op_parse() gives for 'json' (0 when it decodes). */
static inline int parse_err(const char *json, size_t len)
{
    ot_op *op;
    int rc = ot_op_parse(&op, json, len);
    ot_op_free(op);
    return rc;
}

/* Wire text of 'op' in a static buffer (valid until the next call). */
static inline const char *S(const ot_op *op)
{
    static char buf[4][4096];
    static int k;
    char *s = ot_op_dumps(op);
    char *out = buf[k++ % 4];
    snprintf(out, 4096, "%s", s ? s : "(null)");
    free(s);
    return out;
}

/* Text of 'doc' in a static buffer (valid until the next call). */
static inline const char *T(const ot_doc *doc)
{
    static char buf[4][4096];
    static int k;
    size_t n;
    char *s = ot_doc_text(doc, &n);
    char *out = buf[k++ % 4];
    snprintf(out, 4096, "%s", s ? s : "(null)");
    free(s);
    return out;
}

/* 'json' decoded and encoded again (normalised), in a static buffer. */
static inline const char *N(const char *json)
{
    ot_op *op = W(json);
    const char *s = S(op);
    ot_op_free(op);
    return s;
}

static inline ot_doc *D(const char *s)
{
    return ot_doc_new(s, strlen(s));
}

/* Text of 'doc' after 'op' (wire) or an "ERR:<name>" string. */
static inline const char *apply_str(const char *doc, const char *op)
{
    static char buf[4096];
    ot_doc *d = D(doc);
    ot_op *o = W(op);
    int rc = ot_doc_apply(d, o);
    if (rc) snprintf(buf, sizeof buf, "ERR:%s", ot_strerror_name(rc));
    else snprintf(buf, sizeof buf, "%s", T(d));
    ot_op_free(o);
    ot_doc_free(d);
    return buf;
}

#endif
