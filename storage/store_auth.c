/* store_auth.c -- accounts, tokens, roles, share epochs and settings.
 *
 * Plain one-statement reads and writes, each prepared per call: these run a
 * few times per login or request, never per keystroke. Each write is one
 * autocommit statement (atomic on its own); removing a user cascades to
 * their tokens and roles through the foreign keys. Every statement that
 * takes a right away also bumps the auth generation, through the triggers
 * of migration 0004, in its own transaction. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

#define DOCNUM "(SELECT num FROM documents WHERE id = ?1)"

/* Prepare 'sql' and bind the arguments described by 'fmt': 's' text,
 * 'i' int64, 'b' blob (pointer, then size_t). NULL on error (*rc set). */
sqlite3_stmt *store__prep(store *s, int *rc, const char *sql, const char *fmt,
                           ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int r = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (r != SQLITE_OK) {
        *rc = store__err(r);
        return NULL;
    }
    va_start(ap, fmt);
    for (int i = 0; fmt[i] && r == SQLITE_OK; i++) {
        if (fmt[i] == 's') {
            r = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
                                  SQLITE_TRANSIENT);
        } else if (fmt[i] == 'i') {
            r = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            r = sqlite3_bind_blob(st, i + 1, p, (int)n, SQLITE_TRANSIENT);
        }
    }
    va_end(ap);
    if (r != SQLITE_OK) {
        sqlite3_finalize(st);
        *rc = store__err(r);
        return NULL;
    }
    return st;
}

/* Run a statement that returns no rows; STORE_ENOTFOUND when it changed
 * none and 'need_change'. */
int store__exec_done(store *s, sqlite3_stmt *st, int need_change)
{
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if ((r & 0xff) == SQLITE_CONSTRAINT) return STORE_EEXIST;
    if (r != SQLITE_DONE) return store__err(r);
    if (need_change && sqlite3_changes(s->db) == 0) return STORE_ENOTFOUND;
    return STORE_OK;
}

void store_user_clear(store_user *u)
{
    if (!u) return;
    free(u->name);
    memset(u, 0, sizeof *u);
}

void store_users_free(store_user *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) store_user_clear(&arr[i]);
    free(arr);
}

int store_user_add(store *s, const char *name, const char *pwhash, int admin,
                   int64_t now_ms, int64_t *id)
{
    int rc = 0;
    if (!name || !*name || strlen(name) > 64 || !pwhash) return STORE_EINVAL;
    if (s && s->pg) return store_pg__user_add(s, name, pwhash, admin, now_ms, id);
    sqlite3_stmt *st = store__prep(s, &rc,
                            "INSERT INTO users(name, pwhash, admin, created_ms)"
                            " VALUES (?1, ?2, ?3, ?4)",
                            "ssii", name, pwhash, (int64_t)(admin != 0), now_ms);
    if (!st) return rc;
    rc = store__exec_done(s, st, 0);
    if (rc == 0 && id) *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int read_user(sqlite3_stmt *st, store_user *out, char **pwhash)
{
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? STORE_ENOTFOUND : store__err(r);
    }
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->name = strdup((const char *)sqlite3_column_text(st, 1));
    out->admin = sqlite3_column_int(st, 2);
    out->created_ms = sqlite3_column_int64(st, 3);
    if (pwhash) *pwhash = strdup((const char *)sqlite3_column_text(st, 4));
    sqlite3_finalize(st);
    if (!out->name || (pwhash && !*pwhash)) {
        store_user_clear(out);
        if (pwhash) free(*pwhash), *pwhash = NULL;
        return STORE_ENOMEM;
    }
    return STORE_OK;
}

int store_user_get(store *s, const char *name, store_user *out, char **pwhash)
{
    int rc = 0;
    if (s && s->pg) return store_pg__user_get(s, name, out, pwhash);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT id, name, admin, created_ms, pwhash"
                                    " FROM users WHERE name = ?1", "s", name);
    return st ? read_user(st, out, pwhash) : rc;
}

int store_user_get_id(store *s, int64_t id, store_user *out)
{
    int rc = 0;
    if (s && s->pg) return store_pg__user_get_id(s, id, out);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT id, name, admin, created_ms, pwhash"
                                    " FROM users WHERE id = ?1", "i", id);
    return st ? read_user(st, out, NULL) : rc;
}

int store_user_list(store *s, store_user **out, size_t *n)
{
    int rc = 0, r;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    if (s && s->pg) return store_pg__user_list(s, out, n);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT id, name, admin, created_ms"
                                    " FROM users ORDER BY name", "");
    if (!st) return rc;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            store_user *nu = realloc(*out, (cap = cap ? cap * 2 : 8) * sizeof *nu);
            if (!nu) break;
            *out = nu;
        }
        store_user *u = &(*out)[*n];
        u->id = sqlite3_column_int64(st, 0);
        u->name = strdup((const char *)sqlite3_column_text(st, 1));
        u->admin = sqlite3_column_int(st, 2);
        u->created_ms = sqlite3_column_int64(st, 3);
        if (!u->name) break;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        store_users_free(*out, *n);
        *out = NULL;
        *n = 0;
        return r == SQLITE_ROW ? STORE_ENOMEM : store__err(r);
    }
    return STORE_OK;
}

int store_user_set_password(store *s, const char *name, const char *pwhash)
{
    int rc = 0;
    if (s && s->pg) return store_pg__user_set_password(s, name, pwhash);
    sqlite3_stmt *st = store__prep(s, &rc, "UPDATE users SET pwhash = ?2 WHERE name = ?1",
                            "ss", name, pwhash);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_user_logout_all(store *s, const char *name)
{
    int rc = 0;
    if (s && s->pg) return store_pg__user_logout_all(s, name);
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM tokens WHERE kind = 'session'"
                                    " AND user_id = (SELECT id FROM users"
                                    " WHERE name = ?1)", "s", name);
    return st ? store__exec_done(s, st, 0) : rc;
}

int store_user_remove(store *s, const char *name)
{
    int rc = 0;
    if (s && s->pg) return store_pg__user_remove(s, name);
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM users WHERE name = ?1", "s", name);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_token_put(store *s, const unsigned char *hash, size_t len,
                    int64_t user_id, const char *kind, int64_t now_ms,
                    int64_t expires_ms)
{
    int rc = 0;
    if (s && s->pg) return store_pg__token_put(s, hash, len, user_id, kind, now_ms, expires_ms);
    sqlite3_stmt *st = store__prep(s, &rc,
                            "INSERT INTO tokens(hash, user_id, kind, created_ms,"
                            " expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                            "bisii", hash, len, user_id, kind, now_ms, expires_ms);
    return st ? store__exec_done(s, st, 0) : rc;
}

int store_token_user(store *s, const unsigned char *hash, size_t len,
                     int64_t now_ms, int64_t *user_id)
{
    return store_token_lookup(s, hash, len, now_ms, user_id, NULL);
}

int store_token_lookup(store *s, const unsigned char *hash, size_t len,
                       int64_t now_ms, int64_t *user_id, int64_t *expires_ms)
{
    int rc = 0;
    if (s && s->pg) return store_pg__token_lookup(s, hash, len, now_ms, user_id, expires_ms);
    sqlite3_stmt *st = store__prep(s, &rc,
                            "SELECT user_id, expires_ms FROM tokens WHERE"
                            " hash = ?1 AND (expires_ms = 0 OR expires_ms > ?2)",
                            "bi", hash, len, now_ms);
    if (!st) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *user_id = sqlite3_column_int64(st, 0);
    if (r == SQLITE_ROW && expires_ms) *expires_ms = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? STORE_OK
         : r == SQLITE_DONE ? STORE_ENOTFOUND : store__err(r);
}

int store_token_delete(store *s, const unsigned char *hash, size_t len)
{
    int rc = 0;
    if (s && s->pg) return store_pg__token_delete(s, hash, len);
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM tokens WHERE hash = ?1", "b",
                            hash, len);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_tokens_purge(store *s, int64_t now_ms, int64_t *n)
{
    int rc = 0;
    if (s && s->pg) return store_pg__tokens_purge(s, now_ms, n);
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM tokens WHERE expires_ms > 0"
                                    " AND expires_ms <= ?1", "i", now_ms);
    if (!st) return rc;
    rc = store__exec_done(s, st, 0);
    if (rc == 0 && n) *n = sqlite3_changes(s->db);
    return rc;
}

int store_role_get(store *s, const char *doc, int64_t user_id, int *role)
{
    int rc = 0;
    if (s && s->pg) return store_pg__role_get(s, doc, user_id, role);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT role FROM roles WHERE doc = " DOCNUM
                                    " AND user_id = ?2", "si", doc, user_id);
    if (!st) return rc;
    int r = sqlite3_step(st);
    *role = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : STORE_ROLE_NONE;
    sqlite3_finalize(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? STORE_OK : store__err(r);
}

int store_role_set(store *s, const char *doc, int64_t user_id, int role)
{
    int rc = 0;
    int64_t v;
    if (role < STORE_ROLE_NONE || role > STORE_ROLE_OWNER) return STORE_EINVAL;
    if (s && s->pg) return store_pg__role_set(s, doc, user_id, role);
    rc = store__doc_version(s, doc, &v);
    if (rc < 0) return rc;
    sqlite3_stmt *st =
        role == STORE_ROLE_NONE
            ? store__prep(s, &rc, "DELETE FROM roles WHERE doc = " DOCNUM
                           " AND user_id = ?2", "si", doc, user_id)
            /* an upsert, not INSERT OR REPLACE: a changed role is an
             * UPDATE, which the auth generation's trigger sees */
            : store__prep(s, &rc, "INSERT INTO roles(doc, user_id, role)"
                           " VALUES (" DOCNUM ", ?2, ?3)"
                           " ON CONFLICT(doc, user_id) DO UPDATE"
                           " SET role = excluded.role",
                   "sii", doc, user_id, (int64_t)role);
    return st ? store__exec_done(s, st, 0) : rc;
}

int store_role_list(store *s, const char *doc, store_user **users, int **roles,
                    size_t *n)
{
    int rc = 0, r;
    size_t cap = 0;
    *users = NULL;
    *roles = NULL;
    *n = 0;
    if (s && s->pg) return store_pg__role_list(s, doc, users, roles, n);
    sqlite3_stmt *st = store__prep(s, &rc,
                            "SELECT u.id, u.name, u.admin, u.created_ms, r.role"
                            " FROM roles r JOIN users u ON u.id = r.user_id"
                            " WHERE r.doc = " DOCNUM " ORDER BY r.role DESC, u.name",
                            "s", doc);
    if (!st) return rc;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            store_user *nu = realloc(*users, cap * sizeof *nu);
            if (nu) *users = nu;
            int *nr = realloc(*roles, cap * sizeof *nr);
            if (nr) *roles = nr;
            if (!nu || !nr) break;
        }
        store_user *u = &(*users)[*n];
        u->id = sqlite3_column_int64(st, 0);
        u->name = strdup((const char *)sqlite3_column_text(st, 1));
        u->admin = sqlite3_column_int(st, 2);
        u->created_ms = sqlite3_column_int64(st, 3);
        (*roles)[*n] = sqlite3_column_int(st, 4);
        if (!u->name) break;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        store_users_free(*users, *n);
        free(*roles);
        *users = NULL;
        *roles = NULL;
        *n = 0;
        return r == SQLITE_ROW ? STORE_ENOMEM : store__err(r);
    }
    return STORE_OK;
}

int store_share_epoch(store *s, const char *doc, int64_t *epoch)
{
    int rc = 0;
    if (s && s->pg) return store_pg__share_epoch(s, doc, epoch);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT share_epoch FROM documents WHERE id = ?1",
                            "s", doc);
    if (!st) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *epoch = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? STORE_OK
         : r == SQLITE_DONE ? STORE_ENOTFOUND : store__err(r);
}

int store_share_rotate(store *s, const char *doc, int64_t *epoch)
{
    int rc = 0;
    if (s && s->pg) return store_pg__share_rotate(s, doc, epoch);
    sqlite3_stmt *st = store__prep(s, &rc, "UPDATE documents SET share_epoch ="
                                    " share_epoch + 1 WHERE id = ?1", "s", doc);
    if (!st) return rc;
    rc = store__exec_done(s, st, 1);
    return rc < 0 ? rc : store_share_epoch(s, doc, epoch);
}

int store_meta_get(store *s, const char *key, unsigned char **value,
                   size_t *len)
{
    int rc = 0;
    if (s && s->pg) return store_pg__meta_get(s, key, value, len);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT value FROM meta WHERE key = ?1", "s", key);
    if (!st) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *len = (size_t)sqlite3_column_bytes(st, 0);
        *value = malloc(*len + 1);
        if (*value) memcpy(*value, sqlite3_column_blob(st, 0), *len);
        else rc = STORE_ENOMEM;
    }
    sqlite3_finalize(st);
    if (rc < 0) return rc;
    return r == SQLITE_ROW ? STORE_OK
         : r == SQLITE_DONE ? STORE_ENOTFOUND : store__err(r);
}

int store_meta_put_new(store *s, const char *key, const unsigned char *value,
                       size_t len)
{
    int rc = 0;
    if (s && s->pg) return store_pg__meta_put_new(s, key, value, len);
    sqlite3_stmt *st = store__prep(s, &rc, "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                            "sb", key, value, len);
    return st ? store__exec_done(s, st, 0) : rc;
}

int store_auth_generation(store *s, int64_t *gen)
{
    int rc = 0;
    if (s && s->pg) return store_pg__auth_generation(s, gen);
    sqlite3_stmt *st = store__prep(s, &rc, "SELECT value FROM meta WHERE key ="
                                    " 'auth_generation'", "");
    if (!st) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *gen = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? STORE_OK
         : r == SQLITE_DONE ? STORE_ENOTFOUND : store__err(r);
}
