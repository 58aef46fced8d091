/* ot_int.h -- internals shared by the ot/ sources (never included outside).
 *
 * An op keeps its components in an array and the bytes of all its inserts
 * in one text buffer; small ops live entirely inside the ot_op allocation
 * (inline arrays), so transforming a short op costs one malloc. Invariant:
 * the component array is normalised (see ot.h) except that it may end with
 * a retain while being built; readers ignore that trailing retain. */
#ifndef CHORUS_OT_INT_H
#define CHORUS_OT_INT_H

#include <stdint.h>
#include <string.h>

#include "ot/ot.h"

#define OT__INLINE_COMPS 4
#define OT__INLINE_TEXT 32

typedef struct ot__comp {
    uint32_t kind;  /* OT_RETAIN, OT_INSERT, OT_DELETE */
    uint32_t n;     /* code points */
    uint32_t off;   /* OT_INSERT: offset of the text in op->text */
    uint32_t bytes; /* OT_INSERT: bytes of text */
} ot__comp;

struct ot_op {
    ot__comp *c;
    uint32_t n, cap;
    char *text;
    uint32_t tlen, tcap;
    size_t base;   /* retained + deleted, trailing retain included */
    size_t target; /* retained + inserted, trailing retain included */
    ot__comp ic[OT__INLINE_COMPS];
    char it[OT__INLINE_TEXT];
};

/* Number of components once a trailing retain is ignored. */
static inline uint32_t ot__op_len(const ot_op *op)
{
    return op->n - (op->n && op->c[op->n - 1].kind == OT_RETAIN);
}

/* ot_op_base_len(), inline. */
static inline size_t ot__op_base(const ot_op *op)
{
    return op->base - (op->n && op->c[op->n - 1].kind == OT_RETAIN
                           ? op->c[op->n - 1].n
                           : 0);
}

/* Unchecked appends for the algebra: the text is known valid and 'cps'
 * long. They keep the op normalised; 0 or OT_ENOMEM / OT_ELEN. The common
 * case (merge, or room left) is inline; the rest is in op.c. */
int ot__op_push_count(ot_op *op, uint32_t kind, size_t n);
int ot__op_push_insert_slow(ot_op *op, const char *s, size_t bytes,
                            size_t cps);

static inline int ot__op_push_insert(ot_op *op, const char *s, size_t bytes,
                                     size_t cps)
{
    /* the common case: a new insert after a retain (or first), with room */
    if (bytes && op->n < op->cap && bytes <= op->tcap - op->tlen &&
        (op->n == 0 || op->c[op->n - 1].kind == OT_RETAIN) &&
        cps <= OT_MAX_LEN) {
        memcpy(op->text + op->tlen, s, bytes);
        op->c[op->n++] =
            (ot__comp){OT_INSERT, (uint32_t)cps, op->tlen, (uint32_t)bytes};
        op->tlen += (uint32_t)bytes;
        op->target += cps;
        return 0;
    }
    return ot__op_push_insert_slow(op, s, bytes, cps);
}

static inline int ot__op_push_retain(ot_op *op, size_t n)
{
    ot__comp *c = op->n ? &op->c[op->n - 1] : NULL;
    if (n == 0) return 0;
    if (c && c->kind == OT_RETAIN && (size_t)c->n + n <= OT_MAX_LEN) {
        c->n += (uint32_t)n;
    } else if (!c || c->kind != OT_RETAIN) {
        if (op->n == op->cap || n > OT_MAX_LEN)
            return ot__op_push_count(op, OT_RETAIN, n);
        op->c[op->n++] = (ot__comp){OT_RETAIN, (uint32_t)n, 0, 0};
    } else {
        return OT_ELEN;
    }
    op->base += n;
    op->target += n;
    return 0;
}

static inline int ot__op_push_delete(ot_op *op, size_t n)
{
    ot__comp *c = op->n ? &op->c[op->n - 1] : NULL;
    if (n == 0) return 0;
    if (c && c->kind == OT_DELETE && (size_t)c->n + n <= OT_MAX_LEN) {
        c->n += (uint32_t)n;
    } else if (!c || c->kind != OT_DELETE) {
        if (op->n == op->cap || n > OT_MAX_LEN)
            return ot__op_push_count(op, OT_DELETE, n);
        op->c[op->n++] = (ot__comp){OT_DELETE, (uint32_t)n, 0, 0};
    } else {
        return OT_ELEN;
    }
    op->base += n;
    return 0;
}

/* UTF-8 helpers on valid text. */
size_t ot__utf8_count(const char *s, size_t bytes);
size_t ot__utf8_skip(const char *s, size_t bytes, size_t cps);

/* Copy code points [pos, pos+n) of 'doc' into 'op' as one insert. */
int ot__doc_insert_into(const ot_doc *doc, size_t pos, size_t n, ot_op *op);

#endif
