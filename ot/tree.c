/* tree.c -- the B+tree under ot_doc: node pools, splits, removals, checks.
 *
 * Counts flow by deltas: a leaf edit adds its change to each ancestor entry
 * (ot__tree_add_up), a structural change (split, removal) moves entries and
 * keeps every sum exact. Nodes are taken from the free lists that
 * ot__tree_reserve() filled beforehand, so nothing here can fail; that is
 * what keeps ot_doc_apply() all-or-nothing. See doc_int.h for invariants. */
#include <assert.h>
#include <stdlib.h>

#include "ot/doc_int.h"

static inline void set_parent(void *node, inner *p)
{
    *(inner **)node = p;
}

static uint32_t index_of(const inner *p, const void *kid)
{
    uint32_t i = 0;
    while (p->kid[i] != kid) i++;
    assert(i < p->n);
    return i;
}

static void sum(const inner *p, size_t *cps, size_t *bytes)
{
    size_t c = 0, b = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        c += p->cps[i];
        b += p->bytes[i];
    }
    *cps = c;
    *bytes = b;
}

/* ---- pools ---- */

static leaf *get_leaf(ot_doc *d)
{
    leaf *l = d->fl;
    assert(l != NULL);
    d->fl = (leaf *)(void *)l->parent;
    d->nfl--;
    l->parent = NULL;
    l->bytes = l->cps = 0;
    return l;
}

static void put_leaf(ot_doc *d, leaf *l)
{
    l->parent = (inner *)(void *)d->fl;
    d->fl = l;
    d->nfl++;
}

static inner *get_inner(ot_doc *d, uint32_t height)
{
    inner *p = d->fi;
    assert(p != NULL);
    d->fi = p->parent;
    d->nfi--;
    p->parent = NULL;
    p->n = 0;
    p->height = height;
    return p;
}

static void put_inner(ot_doc *d, inner *p)
{
    p->parent = d->fi;
    d->fi = p;
    d->nfi++;
}

int ot__tree_reserve(ot_doc *d, size_t leaves, size_t inners)
{
    while (d->nfl < leaves) {
        leaf *l = malloc(sizeof *l);
        if (!l) return OT_ENOMEM;
        put_leaf(d, l);
    }
    while (d->nfi < inners) {
        inner *p = malloc(sizeof *p);
        if (!p) return OT_ENOMEM;
        put_inner(d, p);
    }
    return 0;
}

/* Keep enough spare nodes that typing never calls malloc; free the rest. */
void ot__tree_trim(ot_doc *d)
{
    size_t keep_inner = d->root->height + 16;
    while (d->nfl > 4) {
        leaf *l = get_leaf(d);
        free(l);
    }
    while (d->nfi > keep_inner) free(get_inner(d, 0));
}

static void free_node(void *node, uint32_t height)
{
    if (height > 0) {
        inner *p = node;
        for (uint32_t i = 0; i < p->n; i++) free_node(p->kid[i], height - 1);
    }
    free(node);
}

void ot__tree_free_all(ot_doc *d)
{
    if (d->root) free_node(d->root, d->root->height);
    while (d->fl) free(get_leaf(d));
    while (d->fi) free(get_inner(d, 0));
    d->root = NULL;
}

int ot__tree_init(ot_doc *d)
{
    if (ot__tree_reserve(d, 1, 1)) return OT_ENOMEM;
    inner *root = get_inner(d, 1);
    leaf *l = get_leaf(d);
    root->kid[0] = l;
    root->cps[0] = root->bytes[0] = 0;
    root->n = 1;
    l->parent = root;
    d->root = root;
    return 0;
}

/* ---- navigation ---- */

/* The leaf holding code point 'pos' (the last leaf when pos == length) and
 * its first code point in *start; when 'path' is not NULL, the child index
 * taken at each height goes to path[height - 1]. Does not touch the cache. */
leaf *ot__tree_find(const ot_doc *d, size_t pos, size_t *start,
                    uint8_t *path)
{
    const inner *p = d->root;
    size_t s = 0;
    for (;;) {
        uint32_t i = 0;
        while (i + 1 < p->n && pos >= s + p->cps[i]) s += p->cps[i++];
        if (path) path[p->height - 1] = (uint8_t)i;
        if (p->height == 1) {
            *start = s;
            return p->kid[i];
        }
        p = p->kid[i];
    }
}

/* The leaf after 'l', or NULL. */
leaf *ot__tree_next(const leaf *l)
{
    const void *node = l;
    const inner *p = l->parent;
    while (p) {
        uint32_t i = index_of(p, node);
        if (i + 1 < p->n) {
            void *k = p->kid[i + 1];
            for (uint32_t h = p->height; h > 1; h--) k = ((inner *)k)->kid[0];
            return k;
        }
        node = p;
        p = p->parent;
    }
    return NULL;
}

/* Add a change of 'dcps'/'dbytes' in 'node' (child of 'p') to every
 * ancestor's entry. */
void ot__tree_add_up(void *node, inner *p, long long dcps, long long dbytes)
{
    while (p) {
        uint32_t i = index_of(p, node);
        p->cps[i] += (size_t)dcps;
        p->bytes[i] += (size_t)dbytes;
        node = p;
        p = p->parent;
    }
}

/* ---- structure ---- */

/* Split full 'p': its upper half moves to a new sibling, which is returned
 * already linked into the parent (or a new root). */
static inner *split(ot_doc *d, inner *p);

/* Put 'kid' (with those totals) at 'idx' of 'p', splitting 'p' if full. */
static void insert_kid(ot_doc *d, inner *p, uint32_t idx, void *kid,
                       size_t cps, size_t bytes)
{
    if (p->n == FAN) {
        inner *q = split(d, p);
        if (idx > FAN / 2) {
            idx -= FAN / 2;
            p = q;
        }
    }
    uint32_t m = p->n - idx;
    memmove(&p->kid[idx + 1], &p->kid[idx], m * sizeof p->kid[0]);
    memmove(&p->cps[idx + 1], &p->cps[idx], m * sizeof p->cps[0]);
    memmove(&p->bytes[idx + 1], &p->bytes[idx], m * sizeof p->bytes[0]);
    p->kid[idx] = kid;
    p->cps[idx] = 0;
    p->bytes[idx] = 0;
    p->n++;
    set_parent(kid, p);
    ot__tree_add_up(kid, p, (long long)cps, (long long)bytes);
}

static inner *split(ot_doc *d, inner *p)
{
    const uint32_t half = FAN / 2;
    inner *q = get_inner(d, p->height);
    size_t qc, qb, pc, pb;
    q->n = p->n - half;
    memcpy(q->kid, &p->kid[half], q->n * sizeof q->kid[0]);
    memcpy(q->cps, &p->cps[half], q->n * sizeof q->cps[0]);
    memcpy(q->bytes, &p->bytes[half], q->n * sizeof q->bytes[0]);
    for (uint32_t i = 0; i < q->n; i++) set_parent(q->kid[i], q);
    p->n = half;
    sum(q, &qc, &qb);
    if (!p->parent) {
        inner *r = get_inner(d, p->height + 1);
        sum(p, &pc, &pb);
        r->kid[0] = p;
        r->cps[0] = pc;
        r->bytes[0] = pb;
        r->kid[1] = q;
        r->cps[1] = qc;
        r->bytes[1] = qb;
        r->n = 2;
        p->parent = q->parent = r;
        d->root = r;
    } else {
        ot__tree_add_up(p, p->parent, -(long long)qc, -(long long)qb);
        insert_kid(d, p->parent, index_of(p->parent, p) + 1, q, qc, qb);
    }
    return q;
}

/* Remove child 'idx' of 'p' (its counts leave every ancestor), and 'p'
 * itself when it empties. The child is not freed. */
static void remove_kid(ot_doc *d, inner *p, uint32_t idx)
{
    ot__tree_add_up(p, p->parent, -(long long)p->cps[idx],
                    -(long long)p->bytes[idx]);
    uint32_t m = p->n - idx - 1;
    memmove(&p->kid[idx], &p->kid[idx + 1], m * sizeof p->kid[0]);
    memmove(&p->cps[idx], &p->cps[idx + 1], m * sizeof p->cps[0]);
    memmove(&p->bytes[idx], &p->bytes[idx + 1], m * sizeof p->bytes[0]);
    p->n--;
    if (p->n == 0 && p->parent) {
        remove_kid(d, p->parent, index_of(p->parent, p));
        put_inner(d, p);
    }
}

/* Remove leaf 'l' (never the last one) and shrink the root while it has a
 * single inner child. */
void ot__tree_remove_leaf(ot_doc *d, leaf *l)
{
    remove_kid(d, l->parent, index_of(l->parent, l));
    put_leaf(d, l);
    while (d->root->n == 1 && d->root->height > 1) {
        inner *r = d->root;
        d->root = r->kid[0];
        d->root->parent = NULL;
        put_inner(d, r);
    }
    d->cl = NULL;
}

/* Merge 'l' into a sibling (or a sibling into it) when it is small and the
 * two fit in one leaf. */
void ot__tree_merge_small(ot_doc *d, leaf *l)
{
    inner *p = l->parent;
    uint32_t i = index_of(p, l);
    leaf *a = NULL, *b = NULL;
    if (l->bytes >= LEAF_LOW) return;
    if (i + 1 < p->n && l->bytes + ((leaf *)p->kid[i + 1])->bytes <= LEAF_CAP)
        a = l, b = p->kid[i + 1];
    else if (i > 0 && l->bytes + ((leaf *)p->kid[i - 1])->bytes <= LEAF_CAP)
        a = p->kid[i - 1], b = l;
    if (!a) return;
    memcpy(a->data + a->bytes, b->data, b->bytes);
    a->bytes += b->bytes;
    a->cps += b->cps;
    ot__tree_add_up(a, p, b->cps, b->bytes);
    ot__tree_remove_leaf(d, b);
}

/* ---- splitting text into leaves ---- */

/* The text a split lays out: the head of the leaf, the insert, the tail. */
typedef struct stream {
    const char *p[3];
    size_t len[3];
} stream;

static unsigned char sbyte(const stream *st, size_t at)
{
    for (int i = 0; i < 3; i++) {
        if (at < st->len[i]) return (unsigned char)st->p[i][at];
        at -= st->len[i];
    }
    return 0;
}

static void scopy(const stream *st, size_t from, size_t to, char *dst)
{
    size_t base = 0;
    for (int i = 0; i < 3 && from < to; i++) {
        size_t end = base + st->len[i];
        if (from < end) {
            size_t n = (to < end ? to : end) - from;
            memcpy(dst, st->p[i] + (from - base), n);
            dst += n;
            from += n;
        }
        base = end;
    }
}

/* Where chunk 'i' of 'k' starts: near i/k of the way, on a code point. */
static size_t cut(const stream *st, size_t total, size_t k, size_t i)
{
    size_t at = (size_t)((uint64_t)total * i / k); /* < 2^62 */
    while (at > 0 && (sbyte(st, at) & 0xC0) == 0x80) at--;
    return at;
}

/* Insert 's' at byte 'b' of 'l' when it does not fit: the head, the text
 * and the tail are laid out evenly over 'l' and new leaves after it. */
void ot__tree_split_insert(ot_doc *d, leaf *l, size_t b, const char *s,
                           size_t bytes)
{
    char tail[LEAF_CAP];
    stream st = {{l->data, s, tail}, {b, bytes, l->bytes - b}};
    size_t total = l->bytes + bytes;
    size_t k = (total + LEAF_FILL - 1) / LEAF_FILL;
    long long oldc = l->cps, oldb = l->bytes;
    memcpy(tail, l->data + b, st.len[2]);
    leaf *prev = l;
    for (size_t i = 1; i < k; i++) {
        size_t from = cut(&st, total, k, i);
        size_t to = i + 1 < k ? cut(&st, total, k, i + 1) : total;
        leaf *n = get_leaf(d);
        scopy(&st, from, to, n->data);
        n->bytes = (uint32_t)(to - from);
        n->cps = (uint32_t)ot__utf8_count(n->data, n->bytes);
        insert_kid(d, prev->parent, index_of(prev->parent, prev) + 1, n,
                   n->cps, n->bytes);
        prev = n;
    }
    size_t c1 = cut(&st, total, k, 1);
    if (c1 > b) scopy(&st, b, c1, l->data + b);
    l->bytes = (uint32_t)c1;
    l->cps = (uint32_t)ot__utf8_count(l->data, c1);
    ot__tree_add_up(l, l->parent, (long long)l->cps - oldc,
                    (long long)l->bytes - oldb);
    d->cl = NULL;
}

/* ---- self-check ---- */

static int check_node(const void *node, uint32_t height, const inner *parent,
                      size_t *cps, size_t *bytes, size_t *leaves)
{
    if (*(inner *const *)node != parent) return -1;
    if (height == 0) {
        const leaf *l = node;
        size_t c;
        if (l->bytes > LEAF_CAP) return -1;
        if (ot_utf8_validate(l->data, l->bytes, &c) || c != l->cps) return -1;
        *cps = l->cps;
        *bytes = l->bytes;
        (*leaves)++;
        return 0;
    }
    const inner *p = node;
    if (p->height != height || p->n == 0 || p->n > FAN) return -1;
    *cps = *bytes = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        size_t c, b;
        if (check_node(p->kid[i], height - 1, p, &c, &b, leaves)) return -1;
        if (c != p->cps[i] || b != p->bytes[i]) return -1;
        if (height == 1 && c == 0 && !(parent == NULL && p->n == 1))
            return -1;
        *cps += c;
        *bytes += b;
    }
    return 0;
}

int ot_doc_check(const ot_doc *d)
{
    size_t c, b, leaves = 0, start;
    if (check_node(d->root, d->root->height, NULL, &c, &b, &leaves))
        return -1;
    if (c != d->cps || b != d->bytes) return -1;
    if (d->cl) {
        if (ot__tree_find(d, d->cstart, &start, NULL) != d->cl && d->cl->cps)
            return -1;
        const void *node = d->cl;
        for (const inner *p = d->cl->parent; p; node = p, p = p->parent)
            if (p->kid[d->path[p->height - 1]] != node) return -1;
        if (d->cb > d->cl->bytes || d->ccp > d->cl->cps) return -1;
        if (ot__utf8_skip(d->cl->data, d->cl->bytes, d->ccp) != d->cb)
            return -1;
    }
    return 0;
}
