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
#include <stdio.h>
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

/* Room for one more document entry (creating the cache). */
static int doc_room(store *s)
{
    struct store_pg_cache *c = s->pgc;
    if (!c && !(c = s->pgc = calloc(1, sizeof *c))) return STORE_ENOMEM;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        pgc_doc *d = realloc(c->d, cap * sizeof *d);
        if (!d) return STORE_ENOMEM;
        c->d = d;
        c->cap = cap;
    }
    return STORE_OK;
}

/* The entry of 'id', locking its row on a miss. STORE_ENOTFOUND. */
static int get_doc(store *s, const char *id, pgc_doc **out)
{
    struct store_pg_cache *c;
    int rc;
    if ((*out = find(s, id))) return STORE_OK;
    if ((rc = doc_room(s))) return rc;
    c = s->pgc;
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

/* ---- prefetch: a batch over many documents in a few round trips */

/* Append 'v' to the PostgreSQL array literal in *buf as a quoted element. */
static int lit_add(char **buf, size_t *len, size_t *cap, const char *v)
{
    size_t need = *len + 2 * strlen(v) + 4;
    if (need > *cap) {
        size_t ncap = 2 * need + 64;
        char *n = realloc(*buf, ncap);
        if (!n) return STORE_ENOMEM;
        *buf = n;
        *cap = ncap;
    }
    char *p = *buf + *len;
    *p++ = *len == 0 ? '{' : ',';
    *p++ = '"';
    for (; *v; v++) {
        if (*v == '"' || *v == '\\') *p++ = '\\';
        *p++ = *v;
    }
    *p++ = '"';
    *p = 0;
    *len = (size_t)(p - *buf);
    return STORE_OK;
}

static int lit_close(char **buf, size_t *len, size_t *cap)
{
    if (*len + 2 > *cap) {
        char *n = realloc(*buf, *len + 2);
        if (!n) return STORE_ENOMEM;
        *buf = n;
        *cap = *len + 2;
    }
    if (*len == 0) (*buf)[(*len)++] = '{';
    (*buf)[(*len)++] = '}';
    (*buf)[*len] = 0;
    return STORE_OK;
}

static int lock_docs(store *s, const store_job *batch)
{
    char *ids = NULL;
    size_t len = 0, cap = 0, n = 0;
    int rc = STORE_OK;
    for (const store_job *j = batch; j && !rc; j = j->next) {
        if (j->kind != STORE_JOB_APPEND || find(s, j->rec.doc)) continue;
        int seen = 0;
        for (const store_job *k = batch; k != j && !seen; k = k->next)
            seen = k->kind == STORE_JOB_APPEND && !strcmp(k->rec.doc, j->rec.doc);
        if (!seen) rc = lit_add(&ids, &len, &cap, j->rec.doc), n++;
    }
    if (rc || n < 2) { /* one document: the per-append path is as cheap */
        free(ids);
        return rc;
    }
    if ((rc = lit_close(&ids, &len, &cap))) {
        free(ids);
        return rc;
    }
    PGresult *r = store_pg__q(s, &rc, "SELECT id, num, version, updated_ms"
                              " FROM documents WHERE id = ANY($1::text[])"
                              " ORDER BY id FOR UPDATE", "s", ids);
    free(ids);
    if (!r) return rc;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        if ((rc = doc_room(s))) break;
        struct store_pg_cache *c = s->pgc;
        pgc_doc *e = &c->d[c->n];
        memset(e, 0, sizeof *e);
        e->num = store_pg__int(r, i, 1);
        e->base = e->version = store_pg__int(r, i, 2);
        e->updated_ms = store_pg__int(r, i, 3);
        if (!(e->id = store_pg__dup(r, i, 0))) rc = STORE_ENOMEM;
        else c->n++;
    }
    PQclear(r);
    return rc;
}

static int read_clients(store *s, const store_job *batch)
{
    char *docs = NULL, *clients = NULL;
    size_t dl = 0, dc = 0, cl = 0, cc = 0, n = 0;
    int rc = STORE_OK;
    char num[24];
    for (const store_job *j = batch; j && !rc; j = j->next) {
        if (j->kind != STORE_JOB_APPEND) continue;
        pgc_doc *e = find(s, j->rec.doc);
        int have = 0;
        for (size_t k = 0; e && k < e->ncl && !have; k++)
            have = !strcmp(e->cl[k].client, j->rec.client);
        if (!e || have) continue;
        if (e->ncl == e->capcl) {
            size_t ncap = e->capcl ? e->capcl * 2 : 4;
            pgc_client *ncl = realloc(e->cl, ncap * sizeof *ncl);
            if (!ncl) {
                rc = STORE_ENOMEM;
                break;
            }
            e->cl = ncl;
            e->capcl = ncap;
        }
        pgc_client *c = &e->cl[e->ncl];
        memset(c, 0, sizeof *c);
        if (!(c->client = strdup(j->rec.client))) {
            rc = STORE_ENOMEM;
            break;
        }
        c->seq = -1;
        e->ncl++;
        snprintf(num, sizeof num, "%lld", (long long)e->num);
        rc = lit_add(&docs, &dl, &dc, num);
        if (!rc) rc = lit_add(&clients, &cl, &cc, j->rec.client);
        n++;
    }
    if (!rc && n) rc = lit_close(&docs, &dl, &dc);
    if (!rc && n) rc = lit_close(&clients, &cl, &cc);
    PGresult *r = !rc && n ? store_pg__q(
        s, &rc, "SELECT o.doc, o.client, o.seq, o.version FROM op_clients o"
        " JOIN unnest($1::bigint[], $2::text[]) AS p(doc, client)"
        " ON o.doc = p.doc AND o.client = p.client", "ss", docs, clients)
                            : NULL;
    free(docs);
    free(clients);
    for (int i = 0; r && i < PQntuples(r); i++) {
        int64_t d = store_pg__int(r, i, 0);
        const char *client = PQgetvalue(r, i, 1);
        struct store_pg_cache *c = s->pgc;
        for (size_t k = 0; k < c->n; k++) {
            if (c->d[k].num != d) continue;
            for (size_t m = 0; m < c->d[k].ncl; m++)
                if (!strcmp(c->d[k].cl[m].client, client)) {
                    c->d[k].cl[m].known = 1;
                    c->d[k].cl[m].seq = store_pg__int(r, i, 2);
                    c->d[k].cl[m].version = store_pg__int(r, i, 3);
                }
        }
    }
    if (r) PQclear(r);
    return rc;
}

int store_pg__cache_prefetch(store *s, const store_job *batch)
{
    int rc = lock_docs(s, batch);
    return rc ? rc : read_clients(s, batch);
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

/* Append the decimal 'v' to the array literal in *buf. */
static int lit_add_int(char **buf, size_t *len, size_t *cap, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return lit_add(buf, len, cap, num);
}

/* The moved heads, one UPDATE for all (each still conditional on the head
 * read under its lock: a row not updated is a bug, ECORRUPT). */
static int flush_heads(store *s)
{
    struct store_pg_cache *c = s->pgc;
    char *a[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0}, cap[4] = {0}, n = 0;
    int rc = STORE_OK;
    for (size_t i = 0; i < c->n && !rc; i++) {
        pgc_doc *e = &c->d[i];
        if (e->version == e->base) continue;
        int64_t v[4] = {e->num, e->version, e->updated_ms, e->base};
        for (int k = 0; k < 4 && !rc; k++)
            rc = lit_add_int(&a[k], &len[k], &cap[k], v[k]);
        n++;
    }
    for (int k = 0; k < 4 && !rc && n; k++) rc = lit_close(&a[k], &len[k], &cap[k]);
    PGresult *r = !rc && n ? store_pg__q(
        s, &rc, "UPDATE documents d SET version = u.v,"
        " updated_ms = GREATEST(d.updated_ms, u.t) FROM unnest($1::bigint[],"
        " $2::bigint[], $3::bigint[], $4::bigint[]) AS u(num, v, t, base)"
        " WHERE d.num = u.num AND d.version = u.base", "ssss", a[0], a[1],
        a[2], a[3]) : NULL;
    for (int k = 0; k < 4; k++) free(a[k]);
    if (r && strtoull(PQcmdTuples(r), NULL, 10) != n) rc = STORE_ECORRUPT;
    if (r) PQclear(r);
    return rc;
}

/* The clients' newest ops, one upsert for all. */
static int flush_clients(store *s)
{
    struct store_pg_cache *c = s->pgc;
    char *a[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0}, cap[4] = {0}, n = 0;
    int rc = STORE_OK;
    for (size_t i = 0; i < c->n && !rc; i++) {
        pgc_doc *e = &c->d[i];
        for (size_t k = 0; k < e->ncl && !rc; k++) {
            pgc_client *cl = &e->cl[k];
            if (!cl->dirty) continue;
            rc = lit_add_int(&a[0], &len[0], &cap[0], e->num);
            if (!rc) rc = lit_add(&a[1], &len[1], &cap[1], cl->client);
            if (!rc) rc = lit_add_int(&a[2], &len[2], &cap[2], cl->seq);
            if (!rc) rc = lit_add_int(&a[3], &len[3], &cap[3], cl->version);
            n++;
        }
    }
    for (int k = 0; k < 4 && !rc && n; k++) rc = lit_close(&a[k], &len[k], &cap[k]);
    if (!rc && n)
        rc = store_pg__exec(s, 0, "INSERT INTO op_clients(doc, client, seq,"
                            " version) SELECT * FROM unnest($1::bigint[],"
                            " $2::text[], $3::bigint[], $4::bigint[])"
                            " ON CONFLICT (doc, client) DO UPDATE SET"
                            " seq = excluded.seq, version = excluded.version",
                            "ssss", a[0], a[1], a[2], a[3]);
    for (int k = 0; k < 4; k++) free(a[k]);
    return rc;
}

/* Write the ops, then the heads and clients that moved; forget them all. */
int store_pg__cache_flush(store *s)
{
    struct store_pg_cache *c = s->pgc;
    int rc = STORE_OK;
    for (size_t i = 0; c && i < c->nops && !rc; i += ROWS_PER_INSERT)
        rc = insert_ops(s, i, i + ROWS_PER_INSERT < c->nops
                                  ? i + ROWS_PER_INSERT : c->nops);
    if (!rc && c) rc = flush_heads(s);
    if (!rc && c) rc = flush_clients(s);
    store_pg__cache_clear(s);
    return rc;
}
