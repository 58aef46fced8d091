/* xform.c -- the algebra of ops: transform, compose, invert, cursors.
 *
 * All of it walks two ops at once with a cursor that can stop inside a
 * component ("take k code points"); past its last component an op goes on
 * retaining for ever, which is what lets the wire omit a trailing retain.
 * Results are built with the normalising appends, so they are normalised.
 * Tie rule: of two inserts at one place, the op on OT_LEFT goes first. */
#include <stdlib.h>

#include "ot/ot_int.h"

enum { END = 0 }; /* kind of an exhausted op: an endless retain */

typedef struct iter {
    const ot_op *op;
    uint32_t i, n;  /* current component, count (trailing retain dropped) */
    uint32_t used;  /* code points of component i already taken */
    uint32_t bused; /* bytes of its text already taken (inserts) */
} iter;

static void iter_init(iter *it, const ot_op *op)
{
    it->op = op;
    it->i = 0;
    it->n = ot__op_len(op);
    it->used = it->bused = 0;
}

static inline uint32_t kind(const iter *it)
{
    return it->i < it->n ? it->op->c[it->i].kind : END;
}

/* Code points left in the current component (SIZE_MAX past the end). */
static inline size_t rem(const iter *it)
{
    return it->i < it->n ? it->op->c[it->i].n - it->used : SIZE_MAX;
}

static inline void next(iter *it)
{
    it->i++;
    it->used = it->bused = 0;
}

/* Take 'k' code points (k <= rem) of a retain or delete. */
static inline void take(iter *it, size_t k)
{
    if (it->i >= it->n) return;
    it->used += (uint32_t)k;
    if (it->used == it->op->c[it->i].n) next(it);
}

/* Take 'k' code points of an insert and append them to 'out'. */
static int take_text(iter *it, size_t k, ot_op *out)
{
    const ot__comp *c = &it->op->c[it->i];
    const char *s = it->op->text + c->off + it->bused;
    size_t left = c->bytes - it->bused, bytes = left;
    if (k < c->n - it->used) bytes = ot__utf8_skip(s, left, k);
    int rc = ot__op_push_insert(out, s, bytes, k);
    it->used += (uint32_t)k;
    it->bused += (uint32_t)bytes;
    if (it->used == c->n) next(it);
    return rc;
}

/* Hand back 'op' as *out after the final length check. */
static int finish(ot_op **out, ot_op *op, int rc)
{
    if (!rc && (op->base > OT_MAX_LEN || op->target > OT_MAX_LEN) &&
        (ot_op_base_len(op) > OT_MAX_LEN || ot_op_target_len(op) > OT_MAX_LEN))
        rc = OT_ELEN;
    if (rc) {
        ot_op_free(op);
        op = NULL;
    }
    *out = op;
    return rc;
}

/* One step of transform(a, b): consume from a and/or b, append to out. */
static int xstep(iter *a, iter *b, int side, ot_op *out)
{
    uint32_t ka = kind(a), kb = kind(b);
    if (ka == OT_INSERT && (side == OT_LEFT || kb != OT_INSERT))
        return take_text(a, rem(a), out);
    if (kb == OT_INSERT) {
        size_t k = rem(b);
        next(b);
        return ot__op_push_retain(out, k);
    }
    size_t k = rem(a) < rem(b) ? rem(a) : rem(b);
    take(a, k);
    take(b, k);
    if (kb == OT_DELETE) return 0; /* b already removed it */
    return ka == OT_RETAIN ? ot__op_push_retain(out, k)
                           : ot__op_push_delete(out, k);
}

int ot_transform(ot_op **out, const ot_op *a, const ot_op *b, int side)
{
    iter ia, ib;
    int rc = 0;
    ot_op *op = ot_op_new();
    *out = NULL;
    if (!op) return OT_ENOMEM;
    iter_init(&ia, a);
    iter_init(&ib, b);
    while (!rc && kind(&ia) != END) rc = xstep(&ia, &ib, side, op);
    return finish(out, op, rc);
}

/* One step of compose(a, b); returns 1 when both are exhausted. */
static int cstep(iter *a, iter *b, ot_op *out)
{
    uint32_t ka = kind(a), kb = kind(b);
    if (kb == OT_INSERT) return take_text(b, rem(b), out);
    if (ka == OT_DELETE) {
        size_t k = rem(a);
        next(a);
        return ot__op_push_delete(out, k);
    }
    if (ka == END && kb == END) return 1;
    size_t k = rem(a) < rem(b) ? rem(a) : rem(b);
    if (ka == OT_INSERT) {
        if (kb != OT_DELETE) {
            take(b, k);
            return take_text(a, k, out);
        }
        /* inserted by a, deleted by b: skip the text */
        const ot__comp *c = &a->op->c[a->i];
        size_t left = c->bytes - a->bused;
        if (k < rem(a))
            a->bused += (uint32_t)ot__utf8_skip(
                a->op->text + c->off + a->bused, left, k);
        take(a, k);
        take(b, k);
        return 0;
    }
    take(a, k);
    take(b, k);
    return kb == OT_DELETE ? ot__op_push_delete(out, k)
                           : ot__op_push_retain(out, k);
}

int ot_compose(ot_op **out, const ot_op *a, const ot_op *b)
{
    iter ia, ib;
    int rc = 0;
    ot_op *op = ot_op_new();
    *out = NULL;
    if (!op) return OT_ENOMEM;
    iter_init(&ia, a);
    iter_init(&ib, b);
    while (rc == 0) rc = cstep(&ia, &ib, op);
    return finish(out, op, rc == 1 ? 0 : rc);
}

int ot_invert(ot_op **out, const ot_op *src, const ot_doc *pre)
{
    int rc = 0;
    size_t pos = 0;
    *out = NULL;
    if (ot_op_base_len(src) > ot_doc_len(pre)) return OT_ERANGE;
    ot_op *op = ot_op_new();
    if (!op) return OT_ENOMEM;
    uint32_t n = ot__op_len(src);
    for (uint32_t i = 0; i < n && !rc; i++) {
        const ot__comp *c = &src->c[i];
        if (c->kind == OT_RETAIN) {
            rc = ot__op_push_retain(op, c->n);
        } else if (c->kind == OT_INSERT) {
            rc = ot__op_push_delete(op, c->n);
            continue;
        } else {
            rc = ot__doc_insert_into(pre, pos, c->n, op);
        }
        pos += c->n;
    }
    return finish(out, op, rc);
}

size_t ot_transform_pos(size_t pos, const ot_op *op, int side)
{
    size_t i = 0, j = 0; /* position before and after the op */
    uint32_t n = ot__op_len(op);
    for (uint32_t k = 0; k < n; k++) {
        const ot__comp *c = &op->c[k];
        if (c->kind == OT_RETAIN) {
            if (pos < i + c->n) return j + (pos - i);
            i += c->n;
            j += c->n;
        } else if (c->kind == OT_INSERT) {
            if (i == pos && side == OT_LEFT) return j;
            j += c->n;
        } else {
            if (pos < i + c->n) return j;
            i += c->n;
        }
    }
    return j + (pos - i);
}
