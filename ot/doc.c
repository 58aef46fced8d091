/* doc.c -- ot_doc: applying ops to the B+tree text buffer, reading it back.
 *
 * Applying walks the op once: a retain moves the position, an insert or a
 * delete seeks its leaf (through the cache first, then one descent) and
 * edits it in place, splitting or merging leaves only when they overflow or
 * run low. Before any change, ot_doc_apply() checks the op's span and
 * reserves every node the op could need, so an error leaves the document
 * exactly as it was. Cost per component: O(log n + leaf size). An op whose
 * reserve would be large (many or big inserts) is applied by rebuilding
 * the text instead, O(n), so no op can make the reserve outgrow the text. */
#include <stdlib.h>

#include "ot/doc_int.h"

/* In-place reserves above this (plus a quarter of the text) rebuild. */
#define REBUILD_MIN ((size_t)64 << 10)

/* Find the leaf for 'pos' through the cache; its start goes to d->cstart.
 * 'strict' wants the leaf holding code point 'pos' (for deleting); else the
 * end of a leaf will do (for inserting). */
static leaf *seek(ot_doc *d, size_t pos, int strict)
{
    leaf *l = d->cl;
    if (l && pos >= d->cstart &&
        (pos < d->cstart + l->cps || (!strict && pos == d->cstart + l->cps)))
        return l;
    l = ot__tree_find(d, pos, &d->cstart, d->path);
    d->cl = l;
    d->ccp = d->cb = 0;
    return l;
}

/* Add a change in the cached leaf to its ancestors, along the cached path
 * (no search for the leaf's place in each parent). */
static void add_up_cached(ot_doc *d, long long dcps, long long dbytes)
{
    for (inner *p = d->cl->parent; p; p = p->parent) {
        p->cps[d->path[p->height - 1]] += (size_t)dcps;
        p->bytes[d->path[p->height - 1]] += (size_t)dbytes;
    }
}

/* Byte offset of code point 'off' in the cached leaf 'l'. */
static size_t leaf_byte(ot_doc *d, const leaf *l, size_t off)
{
    size_t b;
    if (l->bytes == l->cps) { /* ASCII: keep the cached offset true too */
        d->ccp = d->cb = (uint32_t)off;
        return off;
    }
    if (off >= d->ccp) {
        b = d->cb +
            ot__utf8_skip(l->data + d->cb, l->bytes - d->cb, off - d->ccp);
    } else if (d->ccp - off <= 32) {
        size_t k = d->ccp - off;
        b = d->cb;
        while (k) {
            b--;
            if (((unsigned char)l->data[b] & 0xC0) != 0x80) k--;
        }
    } else {
        b = ot__utf8_skip(l->data, l->bytes, off);
    }
    d->ccp = (uint32_t)off;
    d->cb = (uint32_t)b;
    return b;
}

static void insert_at(ot_doc *d, size_t pos, const char *s, size_t bytes,
                      size_t cps)
{
    leaf *l = seek(d, pos, 0);
    size_t off = pos - d->cstart;
    size_t b = leaf_byte(d, l, off);
    if (l->bytes + bytes <= LEAF_CAP) {
        memmove(l->data + b + bytes, l->data + b, l->bytes - b);
        memcpy(l->data + b, s, bytes);
        l->bytes += (uint32_t)bytes;
        l->cps += (uint32_t)cps;
        add_up_cached(d, (long long)cps, (long long)bytes);
        d->ccp = (uint32_t)(off + cps);
        d->cb = (uint32_t)(b + bytes);
    } else {
        ot__tree_split_insert(d, l, b, s, bytes);
    }
    d->cps += cps;
    d->bytes += bytes;
}

static void delete_at(ot_doc *d, size_t pos, size_t n)
{
    while (n) {
        leaf *l = seek(d, pos, 1);
        size_t off = pos - d->cstart;
        size_t k = l->cps - off < n ? l->cps - off : n;
        size_t b0 = leaf_byte(d, l, off), b1 = l->bytes;
        if (off + k < l->cps)
            b1 = b0 + ot__utf8_skip(l->data + b0, l->bytes - b0, k);
        memmove(l->data + b0, l->data + b1, l->bytes - b1);
        l->bytes -= (uint32_t)(b1 - b0);
        l->cps -= (uint32_t)k;
        add_up_cached(d, -(long long)k, -(long long)(b1 - b0));
        d->cps -= k;
        d->bytes -= b1 - b0;
        n -= k;
        if (l->cps == 0 && d->cps) ot__tree_remove_leaf(d, l);
        else if (l->bytes < LEAF_LOW) ot__tree_merge_small(d, l);
    }
}

/* A document holding 'bytes' bytes of valid UTF-8 ('cps' code points). */
static ot_doc *build(const char *utf8, size_t bytes, size_t cps)
{
    ot_doc *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    if (ot__tree_init(d)) goto err;
    if (bytes) {
        size_t k = ot__tree_split_leaves(bytes);
        if (ot__tree_reserve(d, k, 2 * (k / (FAN / 2) + 1) + 16)) goto err;
        insert_at(d, 0, utf8, bytes, cps);
        ot__tree_trim(d);
    }
    return d;
err:
    ot__tree_free_all(d);
    free(d);
    return NULL;
}

ot_doc *ot_doc_new(const char *utf8, size_t bytes)
{
    size_t cps = 0;
    if (bytes && ot_utf8_validate(utf8, bytes, &cps)) return NULL;
    return build(utf8, bytes, cps);
}

void ot_doc_free(ot_doc *d)
{
    if (!d) return;
    ot__tree_free_all(d);
    free(d);
}

size_t ot_doc_len(const ot_doc *d)
{
    return d->cps;
}

size_t ot_doc_bytes(const ot_doc *d)
{
    return d->bytes;
}

/* Call 'fn' on each piece of code points [pos, pos + n) in order. */
typedef int (*piece_fn)(void *ctx, const char *s, size_t bytes, size_t cps);

static int walk(const ot_doc *d, size_t pos, size_t n, piece_fn fn, void *ctx)
{
    size_t start;
    const leaf *l = ot__tree_find(d, pos, &start, NULL);
    size_t off = pos - start;
    while (n && l) {
        size_t k = l->cps - off < n ? l->cps - off : n;
        size_t b0 = ot__utf8_skip(l->data, l->bytes, off);
        size_t b1 = b0 + ot__utf8_skip(l->data + b0, l->bytes - b0, k);
        int rc = k ? fn(ctx, l->data + b0, b1 - b0, k) : 0;
        if (rc) return rc;
        n -= k;
        off = 0;
        l = ot__tree_next(l);
    }
    return 0;
}

static int push_piece(void *ctx, const char *s, size_t bytes, size_t cps)
{
    return ot__op_push_insert(ctx, s, bytes, cps);
}

int ot__doc_insert_into(const ot_doc *d, size_t pos, size_t n, ot_op *op)
{
    return walk(d, pos, n, push_piece, op);
}

typedef struct sink {
    char *buf;
    size_t len;
} sink;

static int count_piece(void *ctx, const char *s, size_t bytes, size_t cps)
{
    (void)s;
    (void)cps;
    ((sink *)ctx)->len += bytes;
    return 0;
}

static int copy_piece(void *ctx, const char *s, size_t bytes, size_t cps)
{
    sink *k = ctx;
    (void)cps;
    memcpy(k->buf + k->len, s, bytes);
    k->len += bytes;
    return 0;
}

char *ot_doc_slice(const ot_doc *d, size_t pos, size_t n, size_t *bytes)
{
    sink k = {NULL, 0};
    if (pos > d->cps || n > d->cps - pos) return NULL;
    if (pos == 0 && n == d->cps) k.len = d->bytes;
    else walk(d, pos, n, count_piece, &k);
    k.buf = malloc(k.len + 1);
    if (!k.buf) return NULL;
    k.len = 0;
    walk(d, pos, n, copy_piece, &k);
    k.buf[k.len] = '\0';
    if (bytes) *bytes = k.len;
    return k.buf;
}

char *ot_doc_text(const ot_doc *d, size_t *bytes)
{
    return ot_doc_slice(d, 0, d->cps, bytes);
}

ot_doc *ot_doc_clone(const ot_doc *d)
{
    size_t bytes;
    char *text = ot_doc_text(d, &bytes);
    if (!text) return NULL;
    ot_doc *c = ot_doc_new(text, bytes);
    free(text);
    return c;
}

/* ---- applying ---- */

/* Nodes 'op' could need when applied in place (bounds in tree.c): per
 * insert of k new leaves, a split at every level plus 2 per 16 leaves; the
 * height may grow by 'grow' levels meanwhile. */
static void need(const ot_doc *d, const ot_op *op, size_t *leaves,
                 size_t *inners)
{
    size_t m = 0, ins = 0, per = 0, grow = 2;
    uint32_t n = ot__op_len(op);
    for (uint32_t i = 0; i < n; i++) {
        if (op->c[i].kind != OT_INSERT) continue;
        size_t k = ot__tree_split_leaves(op->c[i].bytes);
        m += k;
        per += 2 * (k / (FAN / 2) + 1);
        ins++;
    }
    for (size_t x = m; x; x /= FAN / 2) grow++;
    *leaves = m;
    *inners = per + ins * (d->root->height + grow + 2);
}

/* Apply 'op' by writing the new text out whole and building a new tree,
 * then swapping it in: for ops whose in-place reserve would be large (many
 * or big inserts), so memory stays proportional to the text. */
static int rebuild(ot_doc *d, const ot_op *op)
{
    size_t ins = 0, pos = 0;
    uint32_t n = ot__op_len(op);
    for (uint32_t i = 0; i < n; i++)
        if (op->c[i].kind == OT_INSERT) ins += op->c[i].bytes;
    sink k = {malloc(d->bytes + ins + 1), 0};
    if (!k.buf) return OT_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const ot__comp *c = &op->c[i];
        if (c->kind == OT_INSERT) {
            memcpy(k.buf + k.len, op->text + c->off, c->bytes);
            k.len += c->bytes;
            continue;
        }
        if (c->kind == OT_RETAIN) walk(d, pos, c->n, copy_piece, &k);
        pos += c->n;
    }
    walk(d, pos, d->cps - pos, copy_piece, &k);
    ot_doc *nd = build(k.buf, k.len, d->cps - op->base + op->target);
    free(k.buf);
    if (!nd) return OT_ENOMEM;
    ot__tree_free_all(d);
    *d = *nd; /* nodes never point at the ot_doc itself */
    free(nd);
    return 0;
}

int ot_doc_apply(ot_doc *d, const ot_op *op)
{
    size_t pos = 0, leaves, inners;
    if (ot__op_base(op) > d->cps) return OT_ERANGE;
    need(d, op, &leaves, &inners);
    if ((leaves + inners) * sizeof(leaf) > REBUILD_MIN + d->bytes / 4)
        return rebuild(d, op);
    if ((d->nfl < leaves || d->nfi < inners) &&
        ot__tree_reserve(d, leaves, inners))
        return OT_ENOMEM;
    uint32_t n = ot__op_len(op);
    for (uint32_t i = 0; i < n; i++) {
        const ot__comp *c = &op->c[i];
        if (c->kind == OT_RETAIN) {
            pos += c->n;
        } else if (c->kind == OT_INSERT) {
            insert_at(d, pos, op->text + c->off, c->bytes, c->n);
            pos += c->n;
        } else {
            delete_at(d, pos, c->n);
        }
    }
    if (d->nfl > 4 || d->nfi > d->root->height + 16) ot__tree_trim(d);
    return 0;
}
