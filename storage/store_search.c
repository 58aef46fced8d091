/* store_search.c -- the full-text index (migration 0006): FTS5 with the
 * trigram tokenizer over every document's title and current text.
 *
 * The index trails the log: documents.indexed_version says which version
 * is in it. The server's indexer (store_search_stale, then
 * store_search_put for each) brings quiet documents up to date on a pool
 * thread, never on the commit path; titles and purges reach the index
 * through triggers. Queries of 3 or more code points use the trigram index
 * (a phrase: the query as a substring); shorter ones scan the index's copy
 * of the texts with LIKE (docs/search.md says why and what it costs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

int store_search_stale(store *s, int64_t quiet_before_ms, size_t max,
                       store_docid **ids, size_t *n)
{
    int rc = 0, r;
    if (!s || !ids || !n || !max) return STORE_EINVAL;
    *ids = NULL;
    *n = 0;
    if (s && s->pg) return store_pg__search_stale(s, quiet_before_ms, max, ids, n);
    store_docid *arr = calloc(max, sizeof *arr);
    if (!arr) return STORE_ENOMEM;
    sqlite3_stmt *st = store__prep(
        s, &rc, "SELECT id FROM documents WHERE indexed_version <> version"
                " AND updated_ms < ?1 ORDER BY updated_ms LIMIT ?2",
        "ii", quiet_before_ms, (int64_t)max);
    if (!st) {
        free(arr);
        return rc;
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        snprintf(arr[(*n)++].id, sizeof arr->id, "%s", id ? id : "");
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE && r != SQLITE_ROW) {
        free(arr);
        *n = 0;
        return store__err(r);
    }
    *ids = arr;
    return STORE_OK;
}

/* Inside a write transaction: replace the row of 'id'. */
static int put_tx(store *s, const char *id, int64_t version, const char *text,
                  size_t bytes)
{
    int rc = 0;
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM search WHERE rowid ="
                                           " (SELECT num FROM documents"
                                           " WHERE id = ?1)", "s", id);
    if (!st || (rc = store__exec_done(s, st, 0))) return rc;
    st = store__prep(s, &rc, "INSERT INTO search(rowid, title, body) SELECT"
                             " num, title, ?2 FROM documents WHERE id = ?1",
                     "s", id);
    if (!st) return rc;
    sqlite3_bind_text(st, 2, text ? text : "", (int)bytes, SQLITE_STATIC);
    if ((rc = store__exec_done(s, st, 1))) return rc;
    st = store__prep(s, &rc, "UPDATE documents SET indexed_version = ?2"
                             " WHERE id = ?1", "si", id, version);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_search_put(store *s, const char *id, int64_t version,
                     const char *text, size_t bytes)
{
    int rc;
    if (!s || !id || version < 0 || bytes > INT32_MAX) return STORE_EINVAL;
    if (s && s->pg) return store_pg__search_put(s, id, version, text, bytes);
    if ((rc = store__begin(s, 1))) return rc;
    rc = put_tx(s, id, version, text, bytes);
    if (!rc) rc = store__commit(s);
    if (rc) store__rollback(s);
    return rc;
}

int store_search_index_one(store *s, const char *id)
{
    char *text = NULL;
    size_t bytes = 0;
    int64_t version = 0;
    int rc = store_load(s, id, &text, &bytes, &version);
    if (rc == 0) rc = store_search_put(s, id, version, text, bytes);
    free(text);
    return rc;
}

int store_search_reindex(store *s, int64_t *count)
{
    int rc = 0;
    int64_t done = 0;
    if (s && s->pg) return store_pg__search_reindex(s, count);
    sqlite3_stmt *st = store__prep(s, &rc, "UPDATE documents SET"
                                           " indexed_version = -1", "");
    if (!st || (rc = store__exec_done(s, st, 0))) return rc;
    st = store__prep(s, &rc, "DELETE FROM search", "");
    if (!st || (rc = store__exec_done(s, st, 0))) return rc;
    for (;;) {
        store_docid *ids = NULL;
        size_t n = 0;
        if ((rc = store_search_stale(s, INT64_MAX, 64, &ids, &n))) return rc;
        for (size_t i = 0; i < n && !rc; i++, done++)
            rc = store_search_index_one(s, ids[i].id);
        free(ids);
        if (rc || n == 0) break;
    }
    if (count) *count = done;
    return rc;
}

/* The code points of the UTF-8 s[0..len). */
static size_t cps(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* The FTS5 phrase of 'q' ("q" with quotes doubled), or the LIKE pattern
 * (%q% with %, _ and \ escaped by \). NULL on ENOMEM. */
static char *pattern(const char *q, int like)
{
    size_t len = strlen(q), j = 0;
    char *p = malloc(2 * len + 3);
    if (!p) return NULL;
    p[j++] = like ? '%' : '"';
    for (size_t i = 0; i < len; i++) {
        if (!like && q[i] == '"') p[j++] = '"';
        if (like && (q[i] == '%' || q[i] == '_' || q[i] == '\\')) p[j++] = '\\';
        p[j++] = q[i];
    }
    p[j++] = like ? '%' : '"';
    p[j] = 0;
    return p;
}

#define HIT_COLS "d.id, d.title, d.updated_ms, s.body"
#define HIT_FROM " FROM search s JOIN documents d ON d.num = s.rowid WHERE "
#define HIT_RIGHTS " AND d.trashed_ms = 0 AND (?2 = 0 OR EXISTS (SELECT 1" \
    " FROM roles WHERE doc = d.num AND user_id = ?2))"

static const char *const sql_match =
    "SELECT " HIT_COLS HIT_FROM "search MATCH ?1" HIT_RIGHTS
    " ORDER BY bm25(search, 10.0, 1.0), d.updated_ms DESC LIMIT ?3";
/* unary + keeps SQLite from handing LIKE to the trigram index, which
 * cannot answer fewer than 3 characters */
static const char *const sql_like =
    "SELECT " HIT_COLS HIT_FROM "(+s.title LIKE ?1 ESCAPE '\\' OR"
    " +s.body LIKE ?1 ESCAPE '\\')" HIT_RIGHTS
    " ORDER BY (+s.title LIKE ?1 ESCAPE '\\') DESC, d.updated_ms DESC"
    " LIMIT ?3";

static int read_hit(sqlite3_stmt *st, store_hit *h)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *title = (const char *)sqlite3_column_text(st, 1);
    const char *body = (const char *)sqlite3_column_text(st, 3);
    h->id = strdup(id ? id : "");
    h->title = strdup(title ? title : "");
    h->updated_ms = sqlite3_column_int64(st, 2);
    h->bytes = (size_t)sqlite3_column_bytes(st, 3);
    h->body = store__strndup(body ? body : "", h->bytes);
    return h->id && h->title && h->body ? STORE_OK : STORE_ENOMEM;
}

int store_search_query(store *s, const char *q, int64_t user_id, size_t limit,
                       store_hit **out, size_t *n)
{
    int rc = 0, r = SQLITE_DONE;
    if (!s || !q || !*q || !out || !n || !limit) return STORE_EINVAL;
    *out = NULL;
    *n = 0;
    if (s && s->pg) return store_pg__search_query(s, q, user_id, limit, out, n);
    int like = cps(q, strlen(q)) < 3;
    char *pat = pattern(q, like);
    store_hit *arr = calloc(limit, sizeof *arr);
    sqlite3_stmt *st = pat && arr ? store__prep(s, &rc, like ? sql_like : sql_match,
                                                "sii", pat, user_id,
                                                (int64_t)limit)
                                  : NULL;
    if (!pat || !arr) rc = STORE_ENOMEM;
    while (st && *n < limit && (r = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = read_hit(st, &arr[(*n)++]))) break;
    if (st && !rc && r != SQLITE_DONE && r != SQLITE_ROW) rc = store__err(r);
    sqlite3_finalize(st);
    free(pat);
    if (rc) {
        store_hits_free(arr, *n);
        *n = 0;
        return rc;
    }
    *out = arr;
    return STORE_OK;
}

void store_hits_free(store_hit *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].id);
        free(arr[i].title);
        free(arr[i].body);
    }
    free(arr);
}
