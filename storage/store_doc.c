/* store_doc.c -- the documents table: create, get, list, retitle, delete.
 *
 * A document row carries its current version (the number of ops in its
 * log), kept equal to the highest logged version by store__append_tx in the
 * same transaction as each op. Deleting a document cascades to its ops and
 * snapshots (foreign keys are on for every connection). */
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

void store_docinfo_clear(store_docinfo *d)
{
    if (!d) return;
    free(d->id);
    free(d->title);
    free(d->creator);
    memset(d, 0, sizeof *d);
}

void store_docinfo_free(store_docinfo *arr, size_t n)
{
    if (!arr) return;
    for (size_t i = 0; i < n; i++) store_docinfo_clear(&arr[i]);
    free(arr);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const char *p = (const char *)sqlite3_column_text(st, i);
    return store__strndup(p ? p : "", (size_t)sqlite3_column_bytes(st, i));
}

/* Fill 'd' from a row of ST_DOC_GET / ST_DOC_LIST. */
static int read_docinfo(sqlite3_stmt *st, store_docinfo *d)
{
    d->id = col_dup(st, 0);
    d->title = col_dup(st, 1);
    d->creator = col_dup(st, 2);
    d->created_ms = sqlite3_column_int64(st, 3);
    d->updated_ms = sqlite3_column_int64(st, 4);
    d->version = sqlite3_column_int64(st, 5);
    if (d->id && d->title && d->creator) return STORE_OK;
    store_docinfo_clear(d);
    return STORE_ENOMEM;
}

int store_doc_create(store *s, const char *id, const char *title,
                     const char *creator, int64_t now_ms)
{
    sqlite3_stmt *st;
    int rc;
    if (!s || !id || !*id) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_create(s, id, title, creator, now_ms);
    if (!(st = store__stmt(s, ST_DOC_INSERT)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, title ? title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, creator ? creator : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_OK;
    if (rc == SQLITE_CONSTRAINT_UNIQUE) return STORE_EEXIST;
    return store__err(rc);
}

int store_doc_create_with(store *s, const char *id, const char *title,
                          const char *creator, int64_t now_ms, int64_t owner,
                          const store_oprec *recs, size_t n)
{
    int rc;
    if (!s || !id || !*id || (!recs && n)) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_create_with(s, id, title, creator, now_ms, owner, recs, n);
    if ((rc = store__begin(s, 1))) return rc;
    rc = store_doc_create(s, id, title, creator, now_ms);
    if (rc == 0 && owner > 0) {
        sqlite3_stmt *st = NULL;
        int r = sqlite3_prepare_v2(s->db,
                                   "INSERT INTO roles(doc, user_id, role) VALUES"
                                   " ((SELECT num FROM documents WHERE id = ?1),"
                                   " ?2, 3)", -1, &st, NULL);
        if (r == SQLITE_OK) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, owner);
            r = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (r != SQLITE_DONE) rc = store__err(r);
    }
    for (size_t i = 0; i < n && !rc; i++) rc = store__append_tx(s, &recs[i]);
    if (!rc) rc = store__commit(s);
    if (rc) store__rollback(s);
    return rc;
}

int store_doc_get(store *s, const char *id, store_docinfo *out)
{
    sqlite3_stmt *st;
    int rc;
    if (!out) return STORE_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !id) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_get(s, id, out);
    if (!(st = store__stmt(s, ST_DOC_GET)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) rc = read_docinfo(st, out);
    else rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : store__err(rc);
    sqlite3_reset(st);
    return rc;
}

int store_doc_list(store *s, store_docinfo **out, size_t *n)
{
    store_docinfo *arr = NULL, *grown;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st;
    int rc = STORE_OK, step;
    if (!out || !n) return STORE_EINVAL;
    *out = NULL;
    *n = 0;
    if (!s) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_list(s, out, n);
    if (!(st = store__stmt(s, ST_DOC_LIST)))
        return store__err(sqlite3_errcode(s->db));
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            if (!(grown = realloc(arr, cap * sizeof *arr))) {
                rc = STORE_ENOMEM;
                break;
            }
            arr = grown;
        }
        if ((rc = read_docinfo(st, &arr[len]))) break;
        len++;
    }
    if (!rc && step != SQLITE_DONE) rc = store__err(step);
    sqlite3_reset(st);
    if (rc) {
        store_docinfo_free(arr, len);
        return rc;
    }
    if (len) *out = arr;
    else free(arr);
    *n = len;
    return STORE_OK;
}

int store_doc_set_title(store *s, const char *id, const char *title,
                        int64_t now_ms)
{
    sqlite3_stmt *st;
    int rc;
    if (!s || !id || !title) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_set_title(s, id, title, now_ms);
    if (!(st = store__stmt(s, ST_DOC_TITLE)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return store__err(rc);
    return sqlite3_changes(s->db) ? STORE_OK : STORE_ENOTFOUND;
}

int store_doc_delete(store *s, const char *id)
{
    sqlite3_stmt *st;
    int rc;
    if (!s || !id) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_delete(s, id);
    if (!(st = store__stmt(s, ST_DOC_DELETE)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return store__err(rc);
    return sqlite3_changes(s->db) ? STORE_OK : STORE_ENOTFOUND;
}

int store__doc_delete_tx(store *s, const char *id)
{
    int rc = s->dc_len ? store__dc_flush(s) : STORE_OK;
    if (rc) return rc;
    store__dc_reset(s);
    return store_doc_delete(s, id);
}

int store__doc_version(store *s, const char *doc, int64_t *version)
{
    if (s && s->pg) return store_pg__doc_version(s, doc, version);
    store__dent *e = store__dc_find(s, doc);
    sqlite3_stmt *st;
    int rc;
    if (e) {
        *version = e->version;
        return STORE_OK;
    }
    if (!(st = store__stmt(s, ST_DOC_VERSION)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    return rc == SQLITE_DONE ? STORE_ENOTFOUND : store__err(rc);
}
