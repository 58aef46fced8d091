/* pg_cache.c -- the documents a PostgreSQL write transaction appends to.
 *
 * Updating one row many times in one transaction costs PostgreSQL a new
 * row version each time, and each update walks the versions before it: a
 * batch of N ops on one document would cost O(N^2). So, as the SQLite
 * writer's documents cache does, the head of each document touched (and
 * the newest seq of each of its clients) is kept here and written once,
 * at commit. Correctness across nodes: the first append to a document in
 * a transaction locks its row (SELECT ... FOR UPDATE), so no other node
 * can append to it until this transaction ends; the write at commit is
 * conditional on the head read then (0 rows would be a bug: ECORRUPT).
 * The op rows wait here too and go to PostgreSQL in multi-row INSERTs at
 * the flush: after the first touch every check is answered from memory,
 * so a batch of N ops costs a few round trips, not N. Whatever reads the
 * log inside the transaction (an auto snapshot) flushes first.
 * Linear lists: a batch touches few documents and few clients of each. */
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"

typedef struct pgc_client {
    char *client;
    int64_t seq, version; /* newest op (seq < 0 with !known: none yet) */
    int known, dirty;
} pgc_client;

typedef struct pgc_doc {
    char *id;
    int64_t num, base, version, updated_ms;
    pgc_client *cl;
    size_t ncl, capcl;
} pgc_doc;

/* An op row waiting for the flush: its strings in one allocation. */
typedef struct pgc_op {
    int64_t num, version, seq, time_ms;
    char *op, *client, *user;
} pgc_op;

struct store_pg_cache {
    pgc_doc *d;
    size_t n, cap;
    pgc_op *ops;
    size_t nops, capops;
};

enum { ROWS_PER_INSERT = 1000 }; /* 7 parameters each: under 65535 */

void store_pg__cache_clear(store *s)
{
    struct store_pg_cache *c = s->pgc;
    if (!c) return;
    for (size_t i = 0; i < c->nops; i++) free(c->ops[i].op);
    c->nops = 0;
    for (size_t i = 0; i < c->n; i++) {
        for (size_t k = 0; k < c->d[i].ncl; k++) free(c->d[i].cl[k].client);
        free(c->d[i].cl);
        free(c->d[i].id);
    }
    c->n = 0;
}

void store_pg__cache_free(store *s)
{
    store_pg__cache_clear(s);
    if (s->pgc) free(s->pgc->d), free(s->pgc->ops);
    free(s->pgc);
    s->pgc = NULL;
}

static pgc_doc *find(store *s, const char *id)
{
    struct store_pg_cache *c = s->pgc;
    for (size_t i = c ? c->n : 0; i-- > 0;)
        if (!strcmp(c->d[i].id, id)) return &c->d[i];
    return NULL;
}

int store_pg__cache_version(store *s, const char *id, int64_t *version)
{
    pgc_doc *e = find(s, id);
    if (e) *version = e->version;
    return e != NULL;
}

/* The entry of 'id', locking its row on a miss. STORE_ENOTFOUND. */
static int get_doc(store *s, const char *id, pgc_doc **out)
{
    struct store_pg_cache *c = s->pgc;
    int rc;
    if ((*out = find(s, id))) return STORE_OK;
    if (!c && !(c = s->pgc = calloc(1, sizeof *c))) return STORE_ENOMEM;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        pgc_doc *d = realloc(c->d, cap * sizeof *d);
        if (!d) return STORE_ENOMEM;
        c->d = d;
        c->cap = cap;
    }
    PGresult *r = store_pg__q(s, &rc, "SELECT num, version, updated_ms FROM"
                              " documents WHERE id = $1 FOR UPDATE", "s", id);
    if (!r) return rc;
    if (!PQntuples(r)) {
        PQclear(r);
        return STORE_ENOTFOUND;
    }
    pgc_doc *e = &c->d[c->n];
    memset(e, 0, sizeof *e);
    e->num = store_pg__int(r, 0, 0);
    e->base = e->version = store_pg__int(r, 0, 1);
    e->updated_ms = store_pg__int(r, 0, 2);
    PQclear(r);
    if (!(e->id = strdup(id))) return STORE_ENOMEM;
    c->n++;
    *out = e;
    return STORE_OK;
}

/* The entry of 'client' on document 'e', read on a miss. */
static int get_client(store *s, pgc_doc *e, const char *client,
                      pgc_client **out)
{
    int rc;
    for (size_t k = 0; k < e->ncl; k++)
        if (!strcmp(e->cl[k].client, client)) return *out = &e->cl[k], 0;
    if (e->ncl == e->capcl) {
        size_t cap = e->capcl ? e->capcl * 2 : 4;
        pgc_client *cl = realloc(e->cl, cap * sizeof *cl);
        if (!cl) return STORE_ENOMEM;
        e->cl = cl;
        e->capcl = cap;
    }
    PGresult *r = store_pg__q(s, &rc, "SELECT seq, version FROM op_clients"
                              " WHERE doc = $1 AND client = $2", "is", e->num,
                              client);
    if (!r) return rc;
    pgc_client *c = &e->cl[e->ncl];
    memset(c, 0, sizeof *c);
    if ((c->known = PQntuples(r) > 0)) {
        c->seq = store_pg__int(r, 0, 0);
        c->version = store_pg__int(r, 0, 1);
    }
    PQclear(r);
    if (!(c->client = strdup(client))) return STORE_ENOMEM;
    e->ncl++;
    *out = c;
    return STORE_OK;
}

/* Keep the op row of 'r' for the flush. */
static int queue_op(struct store_pg_cache *c, int64_t num,
                    const store_oprec *r)
{
    size_t lo = strlen(r->op) + 1, lc = strlen(r->client) + 1;
    size_t lu = strlen(r->user) + 1;
    if (c->nops == c->capops) {
        size_t cap = c->capops ? c->capops * 2 : 64;
        pgc_op *ops = realloc(c->ops, cap * sizeof *ops);
        if (!ops) return STORE_ENOMEM;
        c->ops = ops;
        c->capops = cap;
    }
    pgc_op *o = &c->ops[c->nops];
    if (!(o->op = malloc(lo + lc + lu))) return STORE_ENOMEM;
    o->client = o->op + lo;
    o->user = o->client + lc;
    memcpy(o->op, r->op, lo);
    memcpy(o->client, r->client, lc);
    memcpy(o->user, r->user, lu);
    o->num = num;
    o->version = r->version;
    o->seq = r->seq;
    o->time_ms = r->time_ms;
    c->nops++;
    return STORE_OK;
}

/* INSERT the op rows [from, to) in one statement. A row refused by a key
 * means the log and the heads disagree: STORE_ECORRUPT. */
static int insert_ops(store *s, size_t from, size_t to)
{
    struct store_pg_cache *c = s->pgc;
    size_t rows = to - from, np = rows * 7;
    const char **vals = malloc(np * sizeof *vals);
    char (*nums)[24] = malloc(rows * 4 * sizeof *nums);
    char *sql = malloc(rows * 64 + 128);
    int rc = STORE_ENOMEM;
    if (vals && nums && sql) {
        char *at = sql + sprintf(sql, "INSERT INTO ops(doc, version, op,"
                                      " client, seq, \"user\", time_ms)"
                                      " VALUES ");
        for (size_t i = 0; i < rows; i++) {
            pgc_op *o = &c->ops[from + i];
            int64_t v[4] = {o->num, o->version, o->seq, o->time_ms};
            for (int k = 0; k < 4; k++)
                snprintf(nums[i * 4 + k], 24, "%lld", (long long)v[k]);
            const char *p[7] = {nums[i * 4], nums[i * 4 + 1], o->op,
                                o->client, nums[i * 4 + 2], o->user,
                                nums[i * 4 + 3]};
            memcpy(vals + i * 7, p, sizeof p);
            size_t b = i * 7;
            at += sprintf(at, "%s($%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu)",
                          i ? "," : "", b + 1, b + 2, b + 3, b + 4, b + 5,
                          b + 6, b + 7);
        }
        PGresult *r = PQexecParams(s->pg, sql, (int)np, NULL, vals, NULL,
                                   NULL, 0);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK
                                                     : store_pg__result_err(s, r);
        if (rc == STORE_EEXIST) rc = STORE_ECORRUPT;
        PQclear(r);
    }
    free(vals);
    free(nums);
    free(sql);
    return rc;
}

/* Record 'r' (valid) as its document's next version: the checks of
 * store_log.c in its order (version, then the client's seq), then the op
 * row. A refusal changes nothing. */
int store_pg__cache_append(store *s, const store_oprec *r)
{
    pgc_doc *e;
    pgc_client *c = NULL;
    int rc;
    if ((rc = get_doc(s, r->doc, &e))) return rc;
    if (r->version > e->version + 1) return STORE_ERANGE;
    if ((rc = get_client(s, e, r->client, &c))) return rc;
    if (r->version <= e->version)
        return c->known && r->seq <= c->seq ? STORE_EDUP : STORE_ECONFLICT;
    if (c->known && r->seq <= c->seq) return STORE_EDUP;
    if ((rc = queue_op(s->pgc, e->num, r))) return rc;
    c->seq = r->seq;
    c->version = r->version;
    c->known = c->dirty = 1;
    e->version = r->version;
    if (r->time_ms > e->updated_ms) e->updated_ms = r->time_ms;
    return STORE_OK;
}

/* Write the heads and clients that moved, then forget them all. */
int store_pg__cache_flush(store *s)
{
    struct store_pg_cache *c = s->pgc;
    int rc = STORE_OK;
    for (size_t i = 0; c && i < c->nops && !rc; i += ROWS_PER_INSERT)
        rc = insert_ops(s, i, i + ROWS_PER_INSERT < c->nops
                                  ? i + ROWS_PER_INSERT : c->nops);
    for (size_t i = 0; c && i < c->n && !rc; i++) {
        pgc_doc *e = &c->d[i];
        if (e->version != e->base) {
            rc = store_pg__exec(s, 1, "UPDATE documents SET version = $2,"
                                " updated_ms = GREATEST(updated_ms, $3)"
                                " WHERE num = $1 AND version = $4", "iiii",
                                e->num, e->version, e->updated_ms, e->base);
            if (rc == STORE_ENOTFOUND) rc = STORE_ECORRUPT;
        }
        for (size_t k = 0; k < e->ncl && !rc; k++) {
            pgc_client *cl = &e->cl[k];
            if (!cl->dirty) continue;
            rc = store_pg__exec(s, 0, "INSERT INTO op_clients(doc, client,"
                                " seq, version) VALUES ($1, $2, $3, $4)"
                                " ON CONFLICT (doc, client) DO UPDATE SET"
                                " seq = excluded.seq,"
                                " version = excluded.version", "isii",
                                e->num, cl->client, cl->seq, cl->version);
        }
    }
    store_pg__cache_clear(s);
    return rc;
}
