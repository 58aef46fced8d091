/* pg_auth.c -- accounts, tokens, roles, share epochs, settings and the
 * search index on PostgreSQL (as store_auth.c and store_search.c).
 *
 * One autocommit statement each; the triggers of migrations/pg/0001 move
 * the auth generation in the statement that takes a right away, so a node
 * polling it notices a change made by any other node. Search: pg_trgm's
 * trigram indexes answer ILIKE '%q%' (case-folded in every script PostgreSQL
 * folds); the result shape is SQLite's: titles that match first, then the
 * most recently changed (PostgreSQL has no bm25: see docs/storage.md). */
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"

#define DOCNUM "(SELECT num FROM documents WHERE id = $1)"

int store_pg__user_add(store *s, const char *name, const char *pwhash,
                       int admin, int64_t now_ms, int64_t *id)
{
    int rc;
    if (!name || !*name || strlen(name) > 64 || !pwhash) return STORE_EINVAL;
    PGresult *r = store_pg__q(s, &rc, "INSERT INTO users(name, pwhash, admin,"
                              " created_ms) VALUES ($1, $2, $3, $4)"
                              " RETURNING id", "ssii", name, pwhash,
                              (int64_t)(admin != 0), now_ms);
    if (!r) return rc;
    if (id) *id = store_pg__int(r, 0, 0);
    PQclear(r);
    return STORE_OK;
}

static int read_user(PGresult *r, int rc, store_user *out, char **pwhash)
{
    if (!r) return rc;
    if (!PQntuples(r)) {
        PQclear(r);
        return STORE_ENOTFOUND;
    }
    memset(out, 0, sizeof *out);
    out->id = store_pg__int(r, 0, 0);
    out->name = store_pg__dup(r, 0, 1);
    out->admin = (int)store_pg__int(r, 0, 2);
    out->created_ms = store_pg__int(r, 0, 3);
    if (pwhash) *pwhash = store_pg__dup(r, 0, 4);
    PQclear(r);
    if (!out->name || (pwhash && !*pwhash)) {
        store_user_clear(out);
        if (pwhash) free(*pwhash), *pwhash = NULL;
        return STORE_ENOMEM;
    }
    return STORE_OK;
}

int store_pg__user_get(store *s, const char *name, store_user *out,
                       char **pwhash)
{
    int rc = 0;
    PGresult *r = store_pg__q(s, &rc, "SELECT id, name, admin, created_ms,"
                              " pwhash FROM users WHERE name = $1", "s", name);
    return read_user(r, rc, out, pwhash);
}

int store_pg__user_get_id(store *s, int64_t id, store_user *out)
{
    int rc = 0;
    PGresult *r = store_pg__q(s, &rc, "SELECT id, name, admin, created_ms,"
                              " pwhash FROM users WHERE id = $1", "i", id);
    return read_user(r, rc, out, NULL);
}

/* Rows of (id, name, admin, created_ms[, role]) into new arrays. */
static int read_users(PGresult *r, store_user **out, int **roles, size_t *n)
{
    size_t rows = (size_t)PQntuples(r);
    int rc = STORE_OK;
    *out = rows ? calloc(rows, sizeof **out) : NULL;
    if (roles) *roles = rows ? calloc(rows, sizeof **roles) : NULL;
    if (rows && (!*out || (roles && !*roles))) rc = STORE_ENOMEM;
    for (size_t i = 0; i < rows && !rc; i++) {
        store_user *u = &(*out)[i];
        u->id = store_pg__int(r, (int)i, 0);
        u->name = store_pg__dup(r, (int)i, 1);
        u->admin = (int)store_pg__int(r, (int)i, 2);
        u->created_ms = store_pg__int(r, (int)i, 3);
        if (roles) (*roles)[i] = (int)store_pg__int(r, (int)i, 4);
        if (!u->name) rc = STORE_ENOMEM;
    }
    PQclear(r);
    if (rc) {
        store_users_free(*out, rows);
        *out = NULL;
        if (roles) free(*roles), *roles = NULL;
        return rc;
    }
    *n = rows;
    return STORE_OK;
}

int store_pg__user_list(store *s, store_user **out, size_t *n)
{
    int rc;
    *out = NULL;
    *n = 0;
    PGresult *r = store_pg__q(s, &rc, "SELECT id, name, admin, created_ms"
                              " FROM users ORDER BY name", "");
    return r ? read_users(r, out, NULL, n) : rc;
}

int store_pg__user_set_password(store *s, const char *name,
                                const char *pwhash)
{
    return store_pg__exec(s, 1, "UPDATE users SET pwhash = $2 WHERE"
                          " name = $1", "ss", name, pwhash);
}

int store_pg__user_logout_all(store *s, const char *name)
{
    return store_pg__exec(s, 0, "DELETE FROM tokens WHERE kind = 'session'"
                          " AND user_id = (SELECT id FROM users WHERE"
                          " name = $1)", "s", name);
}

int store_pg__user_remove(store *s, const char *name)
{
    return store_pg__exec(s, 1, "DELETE FROM users WHERE name = $1", "s",
                          name);
}

int store_pg__token_put(store *s, const unsigned char *hash, size_t len,
                        int64_t user_id, const char *kind, int64_t now_ms,
                        int64_t expires_ms)
{
    int rc = store_pg__exec(s, 0, "INSERT INTO tokens(hash, user_id, kind,"
                            " created_ms, expires_ms) VALUES ($1, $2, $3, $4,"
                            " $5)", "bisii", (const char *)hash, len, user_id,
                            kind, now_ms, expires_ms);
    /* SQLite answers a constraint (an unknown user too) with EEXIST */
    return rc == STORE_ENOTFOUND || rc == STORE_EINVAL ? STORE_EEXIST : rc;
}

int store_pg__token_lookup(store *s, const unsigned char *hash, size_t len,
                           int64_t now_ms, int64_t *user_id,
                           int64_t *expires_ms)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT user_id, expires_ms FROM tokens"
                              " WHERE hash = $1 AND (expires_ms = 0 OR"
                              " expires_ms > $2)", "bi", (const char *)hash,
                              len, now_ms);
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) *user_id = store_pg__int(r, 0, 0);
    if (!rc && expires_ms) *expires_ms = store_pg__int(r, 0, 1);
    PQclear(r);
    return rc;
}

int store_pg__token_delete(store *s, const unsigned char *hash, size_t len)
{
    return store_pg__exec(s, 1, "DELETE FROM tokens WHERE hash = $1", "b",
                          (const char *)hash, len);
}

int store_pg__tokens_purge(store *s, int64_t now_ms, int64_t *n)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "DELETE FROM tokens WHERE expires_ms > 0"
                              " AND expires_ms <= $1", "i", now_ms);
    if (!r) return rc;
    if (n) *n = atoll(PQcmdTuples(r));
    PQclear(r);
    return STORE_OK;
}

int store_pg__role_get(store *s, const char *doc, int64_t user_id, int *role)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT role FROM roles WHERE doc = "
                              DOCNUM " AND user_id = $2", "si", doc, user_id);
    if (!r) return rc;
    *role = PQntuples(r) ? (int)store_pg__int(r, 0, 0) : STORE_ROLE_NONE;
    PQclear(r);
    return STORE_OK;
}

int store_pg__role_set(store *s, const char *doc, int64_t user_id, int role)
{
    int64_t v;
    int rc;
    if (role < STORE_ROLE_NONE || role > STORE_ROLE_OWNER) return STORE_EINVAL;
    if ((rc = store_pg__doc_version(s, doc, &v))) return rc;
    if (role == STORE_ROLE_NONE)
        return store_pg__exec(s, 0, "DELETE FROM roles WHERE doc = " DOCNUM
                              " AND user_id = $2", "si", doc, user_id);
    rc = store_pg__exec(s, 0, "INSERT INTO roles(doc, user_id, role) VALUES ("
                        DOCNUM ", $2, $3) ON CONFLICT (doc, user_id) DO UPDATE"
                        " SET role = excluded.role", "sii", doc, user_id,
                        (int64_t)role);
    return rc == STORE_ENOTFOUND || rc == STORE_EINVAL ? STORE_EEXIST : rc;
}

int store_pg__role_list(store *s, const char *doc, store_user **users,
                        int **roles, size_t *n)
{
    int rc;
    *users = NULL;
    *roles = NULL;
    *n = 0;
    PGresult *r = store_pg__q(s, &rc, "SELECT u.id, u.name, u.admin,"
                              " u.created_ms, r.role FROM roles r JOIN users u"
                              " ON u.id = r.user_id WHERE r.doc = " DOCNUM
                              " ORDER BY r.role DESC, u.name", "s", doc);
    return r ? read_users(r, users, roles, n) : rc;
}

int store_pg__share_epoch(store *s, const char *doc, int64_t *epoch)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT share_epoch FROM documents"
                              " WHERE id = $1", "s", doc);
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) *epoch = store_pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_pg__share_rotate(store *s, const char *doc, int64_t *epoch)
{
    int rc = store_pg__exec(s, 1, "UPDATE documents SET share_epoch ="
                            " share_epoch + 1 WHERE id = $1", "s", doc);
    return rc ? rc : store_pg__share_epoch(s, doc, epoch);
}

int store_pg__auth_generation(store *s, int64_t *gen)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT value FROM auth_generation",
                              "");
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) *gen = store_pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_pg__meta_get(store *s, const char *key, unsigned char **value,
                       size_t *len)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT value FROM meta WHERE key = $1",
                              "s", key);
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) {
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea(
            (const unsigned char *)PQgetvalue(r, 0, 0), &n);
        *value = raw ? malloc(n + 1) : NULL;
        if (*value) {
            memcpy(*value, raw, n);
            *len = n;
        } else {
            rc = STORE_ENOMEM;
        }
        PQfreemem(raw);
    }
    PQclear(r);
    return rc;
}

int store_pg__meta_put_new(store *s, const char *key,
                           const unsigned char *value, size_t len)
{
    return store_pg__exec(s, 0, "INSERT INTO meta(key, value) VALUES ($1,"
                          " $2)", "sb", key, (const char *)value, len);
}

/* ---- search */

int store_pg__search_stale(store *s, int64_t quiet_before_ms, size_t max,
                           store_docid **ids, size_t *n)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT id FROM documents WHERE"
                              " indexed_version <> version AND updated_ms < $1"
                              " ORDER BY updated_ms LIMIT $2", "ii",
                              quiet_before_ms, (int64_t)max);
    if (!r) return rc;
    size_t rows = (size_t)PQntuples(r);
    store_docid *arr = calloc(max, sizeof *arr);
    if (!arr) {
        PQclear(r);
        return STORE_ENOMEM;
    }
    for (size_t i = 0; i < rows && i < max; i++)
        snprintf(arr[i].id, sizeof arr->id, "%s", PQgetvalue(r, (int)i, 0));
    PQclear(r);
    *ids = arr;
    *n = rows < max ? rows : max;
    return STORE_OK;
}

int store_pg__search_put(store *s, const char *id, int64_t version,
                         const char *text, size_t bytes)
{
    /* text may hold U+0000, which a PostgreSQL text cannot: a space */
    char *body = store__strndup(text ? text : "", bytes);
    int rc;
    if (!body) return STORE_ENOMEM;
    for (size_t i = 0; i < bytes; i++)
        if (!body[i]) body[i] = ' ';
    if ((rc = store_pg__begin(s, 0))) {
        free(body);
        return rc;
    }
    rc = store_pg__exec(s, 1, "INSERT INTO search(doc, body) SELECT num, $2"
                        " FROM documents WHERE id = $1 ON CONFLICT (doc)"
                        " DO UPDATE SET body = excluded.body", "ss", id, body);
    if (!rc)
        rc = store_pg__exec(s, 1, "UPDATE documents SET indexed_version = $2"
                            " WHERE id = $1", "si", id, version);
    if (!rc) rc = store_pg__commit(s);
    if (rc) store_pg__rollback(s);
    free(body);
    return rc;
}

int store_pg__search_reindex(store *s, int64_t *count)
{
    int64_t done = 0;
    int rc = store_pg__exec(s, 0, "UPDATE documents SET indexed_version = -1",
                            "");
    if (!rc) rc = store_pg__exec(s, 0, "DELETE FROM search", "");
    while (!rc) {
        store_docid *ids = NULL;
        size_t n = 0;
        if ((rc = store_pg__search_stale(s, INT64_MAX, 64, &ids, &n))) break;
        for (size_t i = 0; i < n && !rc; i++, done++)
            rc = store_search_index_one(s, ids[i].id);
        free(ids);
        if (n == 0) break;
    }
    if (count) *count = done;
    return rc;
}

/* %q% with %, _ and \ escaped by \ (ILIKE's default escape). */
static char *like_pattern(const char *q)
{
    size_t len = strlen(q), j = 0;
    char *p = malloc(2 * len + 3);
    if (!p) return NULL;
    p[j++] = '%';
    for (size_t i = 0; i < len; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\') p[j++] = '\\';
        p[j++] = q[i];
    }
    p[j++] = '%';
    p[j] = 0;
    return p;
}

int store_pg__search_query(store *s, const char *q, int64_t user_id,
                           size_t limit, store_hit **out, size_t *n)
{
    int rc = 0;
    char *pat = like_pattern(q);
    if (!pat) return STORE_ENOMEM;
    PGresult *r = store_pg__q(
        s, &rc, "SELECT d.id, d.title, d.updated_ms, s.body FROM search s"
        " JOIN documents d ON d.num = s.doc WHERE (d.title ILIKE $1 OR"
        " s.body ILIKE $1) AND d.trashed_ms = 0 AND ($2::bigint = 0 OR"
        " EXISTS (SELECT 1 FROM roles WHERE doc = d.num AND"
        " user_id = $2::bigint)) ORDER BY (d.title ILIKE $1) DESC,"
        " d.updated_ms DESC, d.id LIMIT $3", "sii", pat, user_id,
        (int64_t)limit);
    free(pat);
    if (!r) return rc;
    size_t rows = (size_t)PQntuples(r);
    store_hit *arr = calloc(limit, sizeof *arr);
    if (!arr) rc = STORE_ENOMEM;
    for (size_t i = 0; i < rows && !rc; i++) {
        store_hit *h = &arr[i];
        h->id = store_pg__dup(r, (int)i, 0);
        h->title = store_pg__dup(r, (int)i, 1);
        h->updated_ms = store_pg__int(r, (int)i, 2);
        h->bytes = (size_t)PQgetlength(r, (int)i, 3);
        h->body = store_pg__dup(r, (int)i, 3);
        if (!h->id || !h->title || !h->body) rc = STORE_ENOMEM;
    }
    PQclear(r);
    if (rc) {
        store_hits_free(arr, rows);
        return rc;
    }
    *out = arr;
    *n = rows;
    return STORE_OK;
}
