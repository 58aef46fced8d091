/* authors.c -- who wrote each code point of a document: the span algebra
 * (an op applied to runs of authors), the replay of the op log from a
 * checkpoint, and the in-memory cache of checkpoints.
 *
 * Invariant of an srv_authors: runs are non-empty, adjacent runs have
 * different users, and their lengths sum to 'length'. Applying an op costs
 * O(runs + components); a replay costs that per op, so the cache keeps
 * checkpoints and a request replays only the ops after the nearest one
 * (docs/history.md). The cache belongs to the lws thread; pool threads
 * only read checkpoints, which never change once made. */
#include <stdlib.h>
#include <string.h>

#include "server/history/history.h"

srv_authors *srv_authors_new(void)
{
    srv_authors *a = calloc(1, sizeof *a);
    if (a) a->refs = 1;
    return a;
}

static void authors_free(srv_authors *a)
{
    for (size_t i = 0; i < a->nnames; i++) free(a->names[i]);
    free(a->names);
    free(a->runs);
    free(a);
}

void srv_authors_unref(srv_authors *a)
{
    if (a && --a->refs <= 0) authors_free(a);
}

srv_authors *srv_authors_clone(const srv_authors *a)
{
    srv_authors *c = srv_authors_new();
    if (!c) return NULL;
    memcpy(c->doc, a->doc, sizeof c->doc);
    c->created_ms = a->created_ms;
    c->version = a->version;
    c->length = a->length;
    c->runs = malloc((a->n ? a->n : 1) * sizeof *c->runs);
    c->names = calloc(a->nnames ? a->nnames : 1, sizeof *c->names);
    if (!c->runs || !c->names) goto err;
    if (a->n) memcpy(c->runs, a->runs, a->n * sizeof *c->runs);
    c->n = c->cap = a->n;
    c->names_cap = a->nnames;
    for (; c->nnames < a->nnames; c->nnames++)
        if (!(c->names[c->nnames] = strdup(a->names[c->nnames]))) goto err;
    return c;
err:
    authors_free(c);
    return NULL;
}

const char *srv_authors_user(const srv_authors *a, const srv_author_run *r)
{
    return r->who < a->nnames ? a->names[r->who] : "";
}

size_t srv_authors_bytes(const srv_authors *a)
{
    size_t b = sizeof *a + a->cap * sizeof *a->runs +
               a->names_cap * sizeof *a->names;
    for (size_t i = 0; i < a->nnames; i++) b += strlen(a->names[i]) + 1;
    return b;
}

/* ---- the span algebra */

/* The index of 'user' in a's names, added when new. 0, or STORE_ENOMEM. */
static int intern(srv_authors *a, const char *user, uint32_t *who)
{
    for (size_t i = a->nnames; i-- > 0;)
        if (strcmp(a->names[i], user) == 0) {
            *who = (uint32_t)i;
            return 0;
        }
    if (a->nnames == a->names_cap) {
        size_t cap = a->names_cap ? a->names_cap * 2 : 4;
        char **nn = realloc(a->names, cap * sizeof *nn);
        if (!nn) return STORE_ENOMEM;
        a->names = nn;
        a->names_cap = cap;
    }
    if (!(a->names[a->nnames] = strdup(user))) return STORE_ENOMEM;
    *who = (uint32_t)a->nnames++;
    return 0;
}

/* The runs being built by one apply. */
typedef struct runs_out {
    srv_author_run *runs;
    size_t n, cap;
    int failed;
} runs_out;

/* Room for 'more' runs in 'o': 0, or -1 (and o->failed set). */
static int reserve(runs_out *o, size_t more)
{
    if (o->failed) return -1;
    if (o->n + more <= o->cap) return 0;
    size_t cap = o->cap ? o->cap * 2 : 8;
    while (cap < o->n + more) cap *= 2;
    srv_author_run *nr = realloc(o->runs, cap * sizeof *nr);
    if (!nr) {
        o->failed = 1;
        return -1;
    }
    o->runs = nr;
    o->cap = cap;
    return 0;
}

/* Append 'len' code points of 'who', merged with the last run when it is
 * the same user (and the sum fits). */
static void push(runs_out *o, uint32_t len, uint32_t who)
{
    if (len == 0 || o->failed) return;
    if (o->n && o->runs[o->n - 1].who == who &&
        o->runs[o->n - 1].len <= UINT32_MAX - len) {
        o->runs[o->n - 1].len += len;
        return;
    }
    if (reserve(o, 1) < 0) return;
    o->runs[o->n++] = (srv_author_run){len, who};
}

/* Where a walk over the old runs stands: run i, 'off' code points in. */
typedef struct cursor {
    size_t i;
    uint32_t off;
} cursor;

/* Move 'n' code points on over a's runs, copying them to 'o' (or, when 'o'
 * is NULL, dropping them). The caller checked that they exist. Whole runs
 * are copied in one memcpy: the runs a retain passes are most of the cost
 * of an op (bench/bench_srv_authors.c). */
static void take(const srv_authors *a, cursor *at, size_t n, runs_out *o)
{
    while (n > 0 && at->i < a->n) {
        const srv_author_run *r = &a->runs[at->i];
        uint32_t here = r->len - at->off;
        if (at->off == 0 && n >= here) {
            size_t j = at->i, sum = 0;
            while (j < a->n && sum + a->runs[j].len <= n) sum += a->runs[j++].len;
            if (o) {
                size_t more = j - at->i - 1;
                push(o, r->len, r->who);
                if (more && reserve(o, more) == 0) {
                    memcpy(o->runs + o->n, r + 1, more * sizeof *r);
                    o->n += more;
                }
            }
            n -= sum;
            at->i = j;
            continue;
        }
        uint32_t k = n < here ? (uint32_t)n : here;
        if (o) push(o, k, r->who);
        n -= k;
        at->off += k;
        if (at->off == r->len) {
            at->i++;
            at->off = 0;
        }
    }
}

int srv_authors_apply(srv_authors *a, const ot_op *op, const char *user)
{
    size_t base = ot_op_base_len(op), ins = 0, del = 0;
    if (base > a->length) return STORE_ERANGE;
    ot_op_stats(op, &ins, &del);
    size_t nnames0 = a->nnames;
    uint32_t who = 0;
    if (ins && intern(a, user, &who) < 0) return STORE_ENOMEM;
    /* each component adds at most two runs (a split and its own) */
    runs_out o = {NULL, 0, a->n + 2 * ot_op_count(op) + 2, 0};
    if (!(o.runs = malloc(o.cap * sizeof *o.runs))) o.failed = 1;
    cursor at = {0, 0};
    for (size_t i = 0; i < ot_op_count(op); i++) {
        ot_comp c = ot_op_at(op, i);
        if (c.kind == OT_RETAIN) take(a, &at, c.n, &o);
        else if (c.kind == OT_DELETE) take(a, &at, c.n, NULL);
        else push(&o, c.n, who);
    }
    take(a, &at, a->length - base, &o);
    if (o.failed) {
        free(o.runs);
        while (a->nnames > nnames0) free(a->names[--a->nnames]);
        return STORE_ENOMEM;
    }
    free(a->runs);
    a->runs = o.runs;
    a->n = o.n;
    a->cap = o.cap;
    a->length = a->length - del + ins;
    return 0;
}

/* ---- the replay */

/* Put a copy of 'a' into the ring keep[nkeep], *nkept of them so far,
 * dropping the oldest when it is full. No memory: no copy, no harm. */
static void keep_copy(const srv_authors *a, srv_authors **keep, size_t nkeep,
                      size_t *nkept)
{
    if (nkeep == 0) return;
    srv_authors *c = srv_authors_clone(a);
    if (!c) return;
    if (*nkept == nkeep) {
        srv_authors_unref(keep[0]);
        memmove(keep, keep + 1, (nkeep - 1) * sizeof *keep);
        (*nkept)--;
    }
    keep[(*nkept)++] = c;
}

/* The starting point: a copy of 'from' when it may serve, else empty. */
static srv_authors *start(const srv_authors *from, const store_docinfo *d,
                          int64_t version)
{
    srv_authors *a;
    if (from && strcmp(from->doc, d->id) == 0 &&
        from->created_ms == d->created_ms && from->version <= version)
        return srv_authors_clone(from);
    if (!(a = srv_authors_new())) return NULL;
    snprintf(a->doc, sizeof a->doc, "%s", d->id);
    a->created_ms = d->created_ms;
    return a;
}

int srv_authors_build(store *st, const char *doc, int64_t version,
                      const srv_authors *from, srv_authors **out,
                      srv_authors **keep, size_t nkeep, size_t *nkept,
                      int64_t *replayed)
{
    store_docinfo d;
    srv_walk w;
    const store_oprec *r;
    memset(&d, 0, sizeof d);
    *nkept = 0;
    *replayed = 0;
    if (strlen(doc) >= sizeof w.doc) return STORE_EINVAL;
    int rc = store_doc_get(st, doc, &d);
    if (rc < 0) return rc;
    if (version < 0) version = d.version;
    srv_authors *a = version <= d.version ? start(from, &d, version) : NULL;
    rc = version > d.version ? STORE_ERANGE : a ? 0 : STORE_ENOMEM;
    store_docinfo_clear(&d);
    if (rc == 0) rc = srv_walk_init(&w, st, doc, a->version, version, 0);
    if (rc < 0) {
        srv_authors_unref(a);
        return rc;
    }
    while ((rc = srv_walk_next(&w, &r)) == 1) {
        if ((rc = srv_authors_apply(a, w.op, r->user)) < 0) break;
        a->version = r->version;
        ++*replayed;
        if (r->version % SRV_AUTHORS_EVERY == 0 && r->version < version)
            keep_copy(a, keep, nkeep, nkept);
    }
    srv_walk_clear(&w);
    if (rc < 0) {
        while (*nkept) srv_authors_unref(keep[--*nkept]);
        srv_authors_unref(a);
        return rc == STORE_ERANGE ? STORE_ECORRUPT : rc;
    }
    *out = a;
    return 0;
}

/* ---- the cache */

void srv_authors_cache_init(srv_authors_cache *c, size_t max_bytes)
{
    memset(c, 0, sizeof *c);
    c->max_bytes = max_bytes;
}

static void unlink_entry(srv_authors_cache *c, srv_authors *a)
{
    if (a->prev) a->prev->next = a->next;
    else c->head = a->next;
    if (a->next) a->next->prev = a->prev;
    else c->tail = a->prev;
    a->prev = a->next = NULL;
}

static void push_front(srv_authors_cache *c, srv_authors *a)
{
    a->prev = NULL;
    a->next = c->head;
    if (c->head) c->head->prev = a;
    c->head = a;
    if (!c->tail) c->tail = a;
}

static void drop(srv_authors_cache *c, srv_authors *a)
{
    unlink_entry(c, a);
    c->bytes -= srv_authors_bytes(a);
    c->count--;
    srv_authors_unref(a);
}

void srv_authors_cache_clear(srv_authors_cache *c)
{
    while (c->head) drop(c, c->head);
}

srv_authors *srv_authors_cache_get(srv_authors_cache *c, const char *doc,
                                   int64_t version)
{
    srv_authors *best = NULL;
    for (srv_authors *a = c->head; a; a = a->next)
        if (strcmp(a->doc, doc) == 0 && (version < 0 || a->version <= version) &&
            (!best || a->version > best->version))
            best = a;
    if (!best) return NULL;
    unlink_entry(c, best);
    push_front(c, best);
    best->refs++;
    return best;
}

void srv_authors_cache_put(srv_authors_cache *c, srv_authors *a)
{
    if (!a) return;
    for (srv_authors *e = c->head, *next; e; e = next) {
        next = e->next;
        if (strcmp(e->doc, a->doc) != 0) continue;
        if (e->created_ms != a->created_ms) {
            drop(c, e);
        } else if (e->version == a->version) {
            unlink_entry(c, e);
            push_front(c, e);
            srv_authors_unref(a);
            return;
        }
    }
    size_t b = srv_authors_bytes(a);
    if (b > c->max_bytes) {
        srv_authors_unref(a);
        return;
    }
    push_front(c, a);
    c->bytes += b;
    c->count++;
    while (c->bytes > c->max_bytes && c->tail) drop(c, c->tail);
}
