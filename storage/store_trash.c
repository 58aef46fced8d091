/* store_trash.c -- the trash: documents moved out of sight, and back.
 *
 * A trashed document keeps its row, log, snapshots and roles, with
 * documents.trashed_ms set (migration 0005); store_doc_get, store_doc_list
 * and store_doc_set_title skip it, so every route and join that reads a
 * document sees none. Restoring clears the stamp: the document comes back
 * as it was, same id, history intact. Purging deletes the row, which
 * cascades to ops, snapshots and roles, so the id may be taken again. */
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

int store_doc_trashed(store *s, const char *id, int64_t *trashed_ms)
{
    int rc = 0;
    if (!s || !id || !trashed_ms) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_trashed(s, id, trashed_ms);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT trashed_ms FROM documents"
                                           " WHERE id = ?1", "s", id);
    if (!st) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *trashed_ms = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return STORE_OK;
    return r == SQLITE_DONE ? STORE_ENOTFOUND : store__err(r);
}

int store_doc_trash(store *s, const char *id, int64_t now_ms)
{
    int rc = 0;
    if (!s || !id || now_ms <= 0) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_trash(s, id, now_ms);
    sqlite3_stmt *st = store__prep(s, &rc, "UPDATE documents SET trashed_ms = ?2"
                                           " WHERE id = ?1 AND trashed_ms = 0",
                                   "si", id, now_ms);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_doc_untrash(store *s, const char *id)
{
    int rc = 0;
    if (!s || !id) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_untrash(s, id);
    sqlite3_stmt *st = store__prep(s, &rc, "UPDATE documents SET trashed_ms = 0"
                                           " WHERE id = ?1 AND trashed_ms > 0",
                                   "s", id);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_doc_purge(store *s, const char *id)
{
    int rc = 0;
    if (!s || !id) return STORE_EINVAL;
    if (s && s->pg) return store_pg__doc_purge(s, id);
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM documents"
                                           " WHERE id = ?1 AND trashed_ms > 0",
                                   "s", id);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_trash_expire(store *s, int64_t before_ms, int64_t *purged)
{
    int rc = 0;
    if (!s) return STORE_EINVAL;
    if (s && s->pg) return store_pg__trash_expire(s, before_ms, purged);
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM documents WHERE"
                                           " trashed_ms > 0 AND trashed_ms < ?1",
                                   "i", before_ms);
    if (!st) return rc;
    rc = store__exec_done(s, st, 0);
    if (rc == 0 && purged) *purged = sqlite3_changes(s->db);
    return rc;
}

/* One row of the list into t[0]; 0 or STORE_ENOMEM. */
static int read_row(sqlite3_stmt *st, store_trashinfo *t)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *title = (const char *)sqlite3_column_text(st, 1);
    t->id = strdup(id ? id : "");
    t->title = strdup(title ? title : "");
    t->updated_ms = sqlite3_column_int64(st, 2);
    t->trashed_ms = sqlite3_column_int64(st, 3);
    t->version = sqlite3_column_int64(st, 4);
    return t->id && t->title ? STORE_OK : STORE_ENOMEM;
}

int store_trash_list(store *s, int64_t user_id, store_trashinfo **out,
                     size_t *n)
{
    int rc = 0, r;
    size_t cap = 0, len = 0;
    store_trashinfo *arr = NULL, *grown;
    if (!s || !out || !n) return STORE_EINVAL;
    *out = NULL;
    *n = 0;
    if (s && s->pg) return store_pg__trash_list(s, user_id, out, n);
    sqlite3_stmt *st = store__prep(
        s, &rc,
        "SELECT id, title, updated_ms, trashed_ms, version FROM documents d"
        " WHERE trashed_ms > 0 AND (?1 = 0 OR EXISTS (SELECT 1 FROM roles"
        " WHERE doc = d.num AND user_id = ?1 AND role >= 3))"
        " ORDER BY trashed_ms DESC, id", "i", user_id);
    if (!st) return rc;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            if (!(grown = realloc(arr, cap * sizeof *arr))) break;
            arr = grown;
        }
        memset(&arr[len], 0, sizeof arr[len]);
        if (read_row(st, &arr[len++])) break;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        store_trashinfo_free(arr, len);
        return r == SQLITE_ROW ? STORE_ENOMEM : store__err(r);
    }
    *out = arr;
    *n = len;
    return STORE_OK;
}

void store_trashinfo_free(store_trashinfo *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].id);
        free(arr[i].title);
    }
    free(arr);
}
