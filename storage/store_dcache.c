/* store_dcache.c -- the documents touched by the open write transaction.
 *
 * Appending an op needs the document's current version (is this the next
 * one?) and must move it on. Doing that with a documents-row UPDATE per op
 * costs a B-tree write per op; instead the first append to a document in a
 * write transaction reads its row into this small hash table, later appends
 * check and bump the entry, and store__commit writes each changed row once
 * just before COMMIT. Invariant: the table is empty outside a write
 * transaction (begin and rollback reset it), so it never outlives the lock
 * that makes it true. */
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

static uint64_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211ULL;
    return h;
}

void store__dc_reset(store *s)
{
    for (size_t i = 0; i < s->dc_cap; i++) {
        free(s->dc[i].id);
        s->dc[i].id = NULL;
    }
    s->dc_len = 0;
}

void store__dc_free(store *s)
{
    store__dc_reset(s);
    free(s->dc);
    s->dc = NULL;
    s->dc_cap = 0;
}

static store__dent *slot(store__dent *tab, size_t cap, const char *id,
                         uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (tab[i].id && (tab[i].hash != h || strcmp(tab[i].id, id) != 0))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static int grow(store *s)
{
    size_t cap = s->dc_cap ? s->dc_cap * 2 : 16;
    store__dent *tab = calloc(cap, sizeof *tab);
    if (!tab) return STORE_ENOMEM;
    for (size_t i = 0; i < s->dc_cap; i++)
        if (s->dc[i].id)
            *slot(tab, cap, s->dc[i].id, s->dc[i].hash) = s->dc[i];
    free(s->dc);
    s->dc = tab;
    s->dc_cap = cap;
    return STORE_OK;
}

/* Read the documents row of 'doc' into 'e'. */
static int load(store *s, const char *doc, store__dent *e)
{
    sqlite3_stmt *st = store__stmt(s, ST_DOC_VERSION);
    int rc;
    if (!st) return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        e->version = sqlite3_column_int64(st, 0);
        e->num = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_ENOTFOUND;
    return rc == SQLITE_ROW ? STORE_OK : store__err(rc);
}

store__dent *store__dc_find(store *s, const char *doc)
{
    if (!s->dc_len) return NULL;
    store__dent *e = slot(s->dc, s->dc_cap, doc, hash_id(doc));
    return e->id ? e : NULL;
}

int store__dc_get(store *s, const char *doc, store__dent **out)
{
    uint64_t h = hash_id(doc);
    store__dent *e, tmp = { NULL, h, 0, 0, INT64_MIN, 0 };
    int rc;
    if (s->dc_cap && (e = slot(s->dc, s->dc_cap, doc, h))->id) {
        *out = e;
        return STORE_OK;
    }
    if ((rc = load(s, doc, &tmp))) return rc;
    if ((s->dc_len + 1) * 2 > s->dc_cap && (rc = grow(s))) return rc;
    if (!(tmp.id = strdup(doc))) return STORE_ENOMEM;
    e = slot(s->dc, s->dc_cap, doc, h);
    *e = tmp;
    s->dc_len++;
    *out = e;
    return STORE_OK;
}

int store__dc_flush(store *s)
{
    sqlite3_stmt *st;
    int rc;
    for (size_t i = 0; i < s->dc_cap; i++) {
        store__dent *e = &s->dc[i];
        if (!e->id || !e->dirty) continue;
        if (!(st = store__stmt(s, ST_DOC_BUMP)))
            return store__err(sqlite3_errcode(s->db));
        sqlite3_bind_int64(st, 1, e->num);
        sqlite3_bind_int64(st, 2, e->version);
        sqlite3_bind_int64(st, 3, e->updated_ms);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return store__err(rc);
        if (sqlite3_changes(s->db) != 1) return STORE_ESQL;
        e->dirty = 0;
    }
    return STORE_OK;
}
