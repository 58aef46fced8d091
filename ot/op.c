/* op.c -- building, copying and inspecting ops; the error table.
 *
 * Every append keeps the op normalised (see ot.h): counts merge with a
 * component of the same kind; an insert that follows a delete goes before
 * it (delete-then-insert and insert-then-delete at one place are the same
 * edit, and one order makes them compare equal). Small ops use the inline
 * arrays inside struct ot_op and never touch the heap again. */
#include <stdlib.h>
#include <string.h>

#include "ot/ot_int.h"

static const struct {
    int code;
    const char *name, *text;
} errors[] = {
    {OT_ENOMEM, "OT_ENOMEM", "out of memory"},
    {OT_EJSON, "OT_EJSON", "op is not a JSON array of numbers and strings"},
    {OT_EZERO, "OT_EZERO", "zero retain or delete"},
    {OT_ENOTINT, "OT_ENOTINT", "count is not an integer"},
    {OT_EEMPTY, "OT_EEMPTY", "empty insert"},
    {OT_EBIG, "OT_EBIG", "count or op too large"},
    {OT_EUTF8, "OT_EUTF8", "invalid UTF-8"},
    {OT_ESURROGATE, "OT_ESURROGATE", "lone or encoded surrogate"},
    {OT_ERANGE, "OT_ERANGE", "op spans past the end of the document"},
    {OT_ELEN, "OT_ELEN", "result would be too long"},
    {OT_EORDER, "OT_EORDER",
     "a delete directly followed by an insert: inserts go before deletes at "
     "the same place"},
};

const char *ot_strerror(int err)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == err) return errors[i].text;
    return "unknown error";
}

const char *ot_strerror_name(int err)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == err) return errors[i].name;
    return "OT_EUNKNOWN";
}

ot_op *ot_op_new(void)
{
    ot_op *op = malloc(sizeof *op);
    if (!op) return NULL;
    op->c = op->ic;
    op->n = 0;
    op->cap = OT__INLINE_COMPS;
    op->text = op->it;
    op->tlen = 0;
    op->tcap = OT__INLINE_TEXT;
    op->base = op->target = 0;
    return op;
}

void ot_op_free(ot_op *op)
{
    if (!op) return;
    if (op->c != op->ic) free(op->c);
    if (op->text != op->it) free(op->text);
    free(op);
}

void ot_op_clear(ot_op *op)
{
    op->n = 0;
    op->tlen = 0;
    op->base = op->target = 0;
}

ot_op *ot_op_clone(const ot_op *src)
{
    ot_op *op = ot_op_new();
    if (!op) return NULL;
    if (src->n > op->cap) {
        op->c = malloc(src->n * sizeof *op->c);
        if (!op->c) goto err;
        op->cap = src->n;
    }
    if (src->tlen > op->tcap) {
        op->text = malloc(src->tlen);
        if (!op->text) goto err;
        op->tcap = src->tlen;
    }
    memcpy(op->c, src->c, src->n * sizeof *op->c);
    if (src->tlen) memcpy(op->text, src->text, src->tlen);
    op->n = src->n;
    op->tlen = src->tlen;
    op->base = src->base;
    op->target = src->target;
    return op;
err:
    if (op->c == NULL) op->c = op->ic;
    ot_op_free(op);
    return NULL;
}

/* Room for one more component. */
static int grow_comps(ot_op *op)
{
    if (op->n < op->cap) return 0;
    if (op->cap >= (1u << 30)) return OT_ENOMEM;
    uint32_t cap = op->cap * 2;
    ot__comp *c = op->c == op->ic ? malloc(cap * sizeof *c)
                                  : realloc(op->c, cap * sizeof *c);
    if (!c) return OT_ENOMEM;
    if (op->c == op->ic) memcpy(c, op->ic, op->n * sizeof *c);
    op->c = c;
    op->cap = cap;
    return 0;
}

/* Room for 'bytes' more bytes of text (the caller checked the total). */
static int grow_text(ot_op *op, size_t bytes)
{
    size_t need = (size_t)op->tlen + bytes;
    if (need <= op->tcap) return 0;
    size_t cap = (size_t)op->tcap * 2;
    if (cap < need) cap = need;
    if (cap > OT_MAX_LEN) cap = OT_MAX_LEN;
    char *t = op->text == op->it ? malloc(cap) : realloc(op->text, cap);
    if (!t) return OT_ENOMEM;
    if (op->text == op->it) memcpy(t, op->it, op->tlen);
    op->text = t;
    op->tcap = (uint32_t)cap;
    return 0;
}

/* Slow path of ot__op_push_retain/delete: a new component that needs
 * room, or a count beyond the limit. */
int ot__op_push_count(ot_op *op, uint32_t kind, size_t n)
{
    if (n > OT_MAX_LEN) return OT_ELEN;
    if (grow_comps(op)) return OT_ENOMEM;
    op->c[op->n++] = (ot__comp){kind, (uint32_t)n, 0, 0};
    op->base += n;
    if (kind == OT_RETAIN) op->target += n;
    return 0;
}

/* Append text to the insert 'c', whose text ends the text buffer. */
static void extend_insert(ot_op *op, ot__comp *c, const char *s,
                          size_t bytes, size_t cps)
{
    memcpy(op->text + op->tlen, s, bytes);
    op->tlen += (uint32_t)bytes;
    c->n += (uint32_t)cps;
    c->bytes += (uint32_t)bytes;
}

/* The general case of ot__op_push_insert (merging, moving before a delete,
 * growing the arrays). */
int ot__op_push_insert_slow(ot_op *op, const char *s, size_t bytes,
                            size_t cps)
{
    if (bytes == 0) return 0;
    if (bytes > OT_MAX_LEN - op->tlen) return OT_ELEN;
    if (grow_text(op, bytes)) return OT_ENOMEM;
    ot__comp *last = op->n ? &op->c[op->n - 1] : NULL;
    ot__comp *prev = op->n > 1 ? &op->c[op->n - 2] : NULL;
    ot__comp *ins = NULL;
    if (last && last->kind == OT_INSERT) ins = last;
    else if (last && last->kind == OT_DELETE && prev &&
             prev->kind == OT_INSERT)
        ins = prev;
    if (ins) {
        if ((size_t)ins->n + cps > OT_MAX_LEN) return OT_ELEN;
        extend_insert(op, ins, s, bytes, cps);
    } else {
        if (grow_comps(op)) return OT_ENOMEM;
        ot__comp c = {OT_INSERT, 0, op->tlen, 0};
        extend_insert(op, &c, s, bytes, cps);
        if (op->n && op->c[op->n - 1].kind == OT_DELETE) {
            op->c[op->n] = op->c[op->n - 1]; /* the insert goes first */
            op->c[op->n - 1] = c;
        } else {
            op->c[op->n] = c;
        }
        op->n++;
    }
    op->target += cps;
    return 0;
}

/* The limits of the public builders: nothing may pass OT_MAX_LEN. */
int ot_op_retain(ot_op *op, uint32_t n)
{
    if ((size_t)n > OT_MAX_LEN - op->base || (size_t)n > OT_MAX_LEN -
        op->target)
        return OT_EBIG;
    return ot__op_push_retain(op, n);
}

int ot_op_delete(ot_op *op, uint32_t n)
{
    if ((size_t)n > OT_MAX_LEN - op->base) return OT_EBIG;
    return ot__op_push_delete(op, n);
}

int ot_op_insert(ot_op *op, const char *s, size_t bytes)
{
    size_t cps;
    if (bytes == 0) return 0;
    int rc = ot_utf8_validate(s, bytes, &cps);
    if (rc) return rc;
    if (bytes > OT_MAX_LEN - op->tlen || cps > OT_MAX_LEN - op->target)
        return OT_EBIG;
    rc = ot__op_push_insert(op, s, bytes, cps);
    return rc == OT_ELEN ? OT_EBIG : rc;
}

size_t ot_op_count(const ot_op *op)
{
    return ot__op_len(op);
}

ot_comp ot_op_at(const ot_op *op, size_t i)
{
    ot_comp out = {0, 0, NULL, 0};
    if (i >= ot__op_len(op)) return out;
    const ot__comp *c = &op->c[i];
    out.kind = (ot_kind)c->kind;
    out.n = c->n;
    if (c->kind == OT_INSERT) {
        out.text = op->text + c->off;
        out.bytes = c->bytes;
    }
    return out;
}

static size_t trailing(const ot_op *op)
{
    return op->n && op->c[op->n - 1].kind == OT_RETAIN ? op->c[op->n - 1].n
                                                       : 0;
}

size_t ot_op_base_len(const ot_op *op)
{
    return op->base - trailing(op);
}

size_t ot_op_target_len(const ot_op *op)
{
    return op->target - trailing(op);
}

void ot_op_stats(const ot_op *op, size_t *inserted, size_t *deleted)
{
    size_t ins = 0, del = 0;
    for (uint32_t i = 0; i < op->n; i++) {
        if (op->c[i].kind == OT_INSERT) ins += op->c[i].n;
        else if (op->c[i].kind == OT_DELETE) del += op->c[i].n;
    }
    if (inserted) *inserted = ins;
    if (deleted) *deleted = del;
}

int ot_op_equal(const ot_op *a, const ot_op *b)
{
    uint32_t n = ot__op_len(a);
    if (n != ot__op_len(b)) return 0;
    for (uint32_t i = 0; i < n; i++) {
        const ot__comp *x = &a->c[i], *y = &b->c[i];
        if (x->kind != y->kind || x->n != y->n) return 0;
        if (x->kind == OT_INSERT &&
            (x->bytes != y->bytes ||
             memcmp(a->text + x->off, b->text + y->off, x->bytes) != 0))
            return 0;
    }
    return 1;
}

int ot_op_is_noop(const ot_op *op)
{
    return ot__op_len(op) == 0;
}
