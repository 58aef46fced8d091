/* test_ot_trace.h -- load a recorded editing trace (tests/data/traces) for
 * the ot tests and benchmarks.
 *
 * A trace is gzip-compressed JSON (see tests/data/traces/README.md); it is
 * read through "gzip -dc" so the programs link only libot and jansson. The
 * patches point into the parsed JSON, which the trace owns. Positions and
 * counts are code points. Header-only: each program is one .c file. */
#ifndef CHORUS_TEST_OT_TRACE_H
#define CHORUS_TEST_OT_TRACE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"

#define TRACE_DIR "tests/data/traces"

static const char *const trace_names[] = {
    "automerge-paper",    "seph-blog1",      "rustcode",
    "friendsforever_flat", "clownschool_flat", "json-crdt-blog-post",
    "sveltecomponent",    "json-crdt-patch",
};
#define TRACE_COUNT (sizeof trace_names / sizeof trace_names[0])

typedef struct trace_patch {
    size_t pos, del;
    const char *ins;
    size_t ins_bytes;
} trace_patch;

typedef struct trace {
    json_t *root;
    trace_patch *p;
    size_t n;
    const char *end; /* endContent */
    size_t end_bytes;
} trace;

static inline void trace_free(trace *t)
{
    if (!t) return;
    json_decref(t->root);
    free(t->p);
    free(t);
}

/* Read all of 'f' into a malloc'd buffer. */
static inline char *trace_slurp(FILE *f, size_t *len)
{
    size_t cap = 1 << 20, n = 0, r;
    char *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    *len = n;
    return buf;
}

static inline int trace_add_patches(trace *t, json_t *patches)
{
    size_t i;
    json_t *p;
    json_array_foreach(patches, i, p) {
        json_t *pos = json_array_get(p, 0), *del = json_array_get(p, 1);
        json_t *ins = json_array_get(p, 2);
        if (!json_is_integer(pos) || !json_is_integer(del) ||
            !json_is_string(ins))
            return -1;
        trace_patch *tp = &t->p[t->n++];
        tp->pos = (size_t)json_integer_value(pos);
        tp->del = (size_t)json_integer_value(del);
        tp->ins = json_string_value(ins);
        tp->ins_bytes = json_string_length(ins);
    }
    return 0;
}

/* Load trace 'name' from TRACE_DIR (relative to the project root), or NULL
 * with a message on stderr. */
static inline trace *trace_load(const char *name)
{
    char cmd[512];
    size_t len, total = 0, i;
    json_error_t e;
    json_t *txn;
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/%s.json.gz'", TRACE_DIR, name);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    char *buf = trace_slurp(f, &len);
    if (pclose(f) != 0 || !buf) {
        fprintf(stderr, "trace %s: cannot read (run from the project root)\n",
                name);
        free(buf);
        return NULL;
    }
    trace *t = calloc(1, sizeof *t);
    t->root = json_loadb(buf, len, 0, &e);
    free(buf);
    json_t *txns = json_object_get(t->root, "txns");
    json_t *end = json_object_get(t->root, "endContent");
    if (!json_is_array(txns) || !json_is_string(end)) goto bad;
    json_array_foreach(txns, i, txn)
        total += json_array_size(json_object_get(txn, "patches"));
    t->p = malloc((total + 1) * sizeof *t->p);
    json_array_foreach(txns, i, txn)
        if (trace_add_patches(t, json_object_get(txn, "patches"))) goto bad;
    t->end = json_string_value(end);
    t->end_bytes = json_string_length(end);
    return t;
bad:
    fprintf(stderr, "trace %s: unexpected format\n", name);
    trace_free(t);
    return NULL;
}

/* Patch 'p' as an op: retain pos, delete del, insert text; NULL on error. */
static inline ot_op *trace_op(const trace_patch *p)
{
    ot_op *op = ot_op_new();
    if (op && (ot_op_retain(op, (uint32_t)p->pos) ||
               ot_op_delete(op, (uint32_t)p->del) ||
               ot_op_insert(op, p->ins, p->ins_bytes))) {
        ot_op_free(op);
        op = NULL;
    }
    return op;
}

#endif
