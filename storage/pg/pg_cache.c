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

struct store_pg_cache {
    pgc_doc *d;
    size_t n, cap;
};

void store_pg__cache_clear(store *s)
{
    struct store_pg_cache *c = s->pgc;
    if (!c) return;
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
    if (s->pgc) free(s->pgc->d);
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
    rc = store_pg__exec(s, 0, "INSERT INTO ops(doc, version, op, client, seq,"
                        " \"user\", time_ms) VALUES ($1, $2, $3, $4, $5, $6,"
                        " $7)", "iissisi", e->num, r->version, r->op,
                        r->client, r->seq, r->user, r->time_ms);
    if (rc) return rc == STORE_EEXIST ? STORE_ECORRUPT : rc;
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
