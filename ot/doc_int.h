/* doc_int.h -- the document buffer's tree, shared by doc.c and tree.c.
 *
 * A B+tree: leaves hold up to LEAF_CAP bytes of UTF-8 (whole code points
 * only), inner nodes up to FAN children with the code-point and byte count
 * of each child's subtree, so finding a code point costs one scan per level.
 * Invariants: every leaf is at depth root->height; a leaf is empty only when
 * it is the single leaf of an empty document; an inner node has >= 1 child;
 * each inner entry's counts equal its subtree's totals. The cache remembers
 * the last leaf touched, its first code point and one (code point, byte)
 * offset inside it, so sequential typing never walks the tree.
 *
 * Memory: nodes come from per-document free lists that ot_doc_apply() fills
 * before it changes anything, which is how a failed allocation leaves the
 * document unchanged. */
#ifndef CHORUS_OT_DOC_INT_H
#define CHORUS_OT_DOC_INT_H

#include "ot/ot_int.h"

#define LEAF_CAP 1024               /* bytes of text in a leaf, at most */
#define LEAF_FILL (LEAF_CAP - 128)  /* target when text is split into leaves */
#define LEAF_LOW (LEAF_CAP / 4)     /* a smaller leaf tries to merge */
#define FAN 32                      /* children of an inner node, at most */

typedef struct inner inner;

typedef struct leaf {
    inner *parent; /* first member in both node types */
    uint32_t bytes, cps;
    char data[LEAF_CAP];
} leaf;

struct inner {
    inner *parent;
    uint32_t n;      /* children */
    uint32_t height; /* 1: the children are leaves */
    size_t cps[FAN];
    size_t bytes[FAN];
    void *kid[FAN];
};

struct ot_doc {
    inner *root;
    size_t cps, bytes;
    /* cache: last leaf touched, its first code point, an offset inside it */
    leaf *cl;
    size_t cstart;
    uint32_t ccp, cb;
    uint8_t path[32]; /* path[h]: index in its parent of cl's ancestor at
                         height h (path[0]: cl itself) */
    /* free lists (linked through 'parent') and their lengths */
    leaf *fl;
    inner *fi;
    size_t nfl, nfi;
};

/* tree.c */
int ot__tree_reserve(ot_doc *doc, size_t leaves, size_t inners);
void ot__tree_trim(ot_doc *doc);
void ot__tree_free_all(ot_doc *doc);
int ot__tree_init(ot_doc *doc);
leaf *ot__tree_find(const ot_doc *doc, size_t pos, size_t *start,
                    uint8_t *path);
leaf *ot__tree_next(const leaf *l);
void ot__tree_add_up(void *node, inner *p, long long dcps, long long dbytes);
void ot__tree_split_insert(ot_doc *doc, leaf *l, size_t b, const char *s,
                           size_t bytes);
void ot__tree_remove_leaf(ot_doc *doc, leaf *l);
void ot__tree_merge_small(ot_doc *doc, leaf *l);

/* New leaves at most needed to insert 'bytes' bytes into a full leaf. */
static inline size_t ot__tree_split_leaves(size_t bytes)
{
    return (LEAF_CAP + bytes) / LEAF_FILL + 1;
}

#endif
