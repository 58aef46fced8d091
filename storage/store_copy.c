/* store_copy.c -- a whole deployment from one store into another, SQLite
 * or PostgreSQL either way (`chorus copy --from A --to B`).
 *
 * Both backends hold the same tables under the same names (migrations/ and
 * migrations/pg/ at the same schema number), so the copy moves rows, table
 * by table, keys kept (users.id and documents.num too, so tokens, roles
 * and the log still point at the right rows): users with their password
 * hashes, documents with their titles, times, versions, share epochs and
 * trash stamps, the whole op log, op_clients, every snapshot, tokens,
 * roles, and the settings (the server key). The search index is rebuilt
 * on the target, then the target is checked (store_check). The source is
 * read in one read transaction, the target written in one transaction:
 * a failed copy leaves the target as it was. A target holding any user or
 * document is refused (STORE_EEXIST). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

enum { MAXCOL = 9 };

/* One row: each value as bytes ('b' marks the columns that are blobs). */
typedef struct row {
    const char *v[MAXCOL];
    int len[MAXCOL];
} row;

typedef struct table {
    const char *name;
    const char *cols;       /* as in SQL (PostgreSQL quotes "user") */
    const char *types;      /* per column: 'i' integer, 't' text, 'b' bytes */
    const char *order;
    const char *where;      /* rows left out, or "" */
} table;

static const table tables[] = {
    {"users", "id, name, pwhash, admin, created_ms", "ittii", "id", ""},
    {"documents", "num, id, title, creator, created_ms, updated_ms, version,"
     " share_epoch, trashed_ms", "itttiiiii", "num", ""},
    {"ops", "doc, version, op, client, seq, \"user\", time_ms", "iittiti",
     "doc, version", ""},
    {"op_clients", "doc, client, seq, version", "itii", "doc, client", ""},
    {"snapshots", "doc, version, text", "iib", "doc, version", ""},
    {"tokens", "hash, user_id, kind, created_ms, expires_ms", "bitii", "hash",
     ""},
    {"roles", "doc, user_id, role", "iii", "doc, user_id", ""},
    {"meta", "key, value", "tb", "key", " WHERE key <> 'auth_generation'"},
};

typedef int (*row_fn)(void *arg, const row *r);

/* SQLite: every row of 'sql', in order, to fn. */
static int rows_sqlite(store *s, const char *sql, int ncol, row_fn fn,
                       void *arg)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc) return store__err(rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row r;
        for (int i = 0; i < ncol; i++) {
            r.len[i] = sqlite3_column_bytes(st, i);
            r.v[i] = sqlite3_column_type(st, i) == SQLITE_BLOB
                ? (const char *)sqlite3_column_blob(st, i)
                : (const char *)sqlite3_column_text(st, i);
            if (!r.v[i]) r.v[i] = "";
        }
        if ((rc = fn(arg, &r))) break;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return STORE_OK;
    return rc < 0 ? rc : store__err(rc);
}

/* PostgreSQL: the same through a cursor, 1000 rows at a time (inside the
 * caller's read transaction); bytea columns come back as bytes. */
static int rows_pg(store *s, const char *sql, const char *types, row_fn fn,
                   void *arg)
{
    int rc, ncol = (int)strlen(types);
    char *decl = malloc(strlen(sql) + 64);
    if (!decl) return STORE_ENOMEM;
    sprintf(decl, "DECLARE copy_rows NO SCROLL CURSOR FOR %s", sql);
    rc = store_pg__exec(s, 0, decl, "");
    free(decl);
    while (!rc) {
        PGresult *r = store_pg__q(s, &rc, "FETCH 1000 FROM copy_rows", "");
        if (!r) break;
        int n = PQntuples(r);
        for (int i = 0; i < n && !rc; i++) {
            row w;
            unsigned char *raw[MAXCOL] = {0};
            for (int k = 0; k < ncol; k++) {
                w.v[k] = PQgetvalue(r, i, k);
                w.len[k] = PQgetlength(r, i, k);
                if (types[k] == 'b') {
                    size_t len = 0;
                    raw[k] = PQunescapeBytea((const unsigned char *)w.v[k],
                                             &len);
                    if (!raw[k]) rc = STORE_ENOMEM;
                    w.v[k] = raw[k] ? (const char *)raw[k] : "";
                    w.len[k] = (int)len;
                }
            }
            if (!rc) rc = fn(arg, &w);
            for (int k = 0; k < ncol; k++) PQfreemem(raw[k]);
        }
        PQclear(r);
        if (n == 0) break;
    }
    if (!rc) rc = store_pg__exec(s, 0, "CLOSE copy_rows", "");
    return rc;
}

typedef struct sink {
    store *to;
    const table *t;
    char sql[512];
    sqlite3_stmt *st;   /* SQLite target: prepared once per table */
    long rows;
} sink;

static int put_row(void *arg, const row *r)
{
    sink *k = arg;
    int n = (int)strlen(k->t->types), rc;
    k->rows++;
    if (k->to->pg) {
        int fmts[MAXCOL];
        for (int i = 0; i < n; i++) fmts[i] = k->t->types[i] == 'b';
        PGresult *res = PQexecParams(k->to->pg, k->sql, n, NULL, r->v,
                                     r->len, fmts, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK
            ? STORE_OK : store_pg__result_err(k->to, res);
        PQclear(res);
        return rc;
    }
    sqlite3_reset(k->st);
    for (int i = 0; i < n; i++) {
        char c = k->t->types[i];
        if (c == 'i')
            sqlite3_bind_int64(k->st, i + 1, strtoll(r->v[i], NULL, 10));
        else if (c == 'b')
            sqlite3_bind_blob(k->st, i + 1, r->v[i], r->len[i],
                              SQLITE_TRANSIENT);
        else
            sqlite3_bind_text(k->st, i + 1, r->v[i], r->len[i],
                              SQLITE_TRANSIENT);
    }
    rc = sqlite3_step(k->st);
    return rc == SQLITE_DONE ? STORE_OK : store__err(rc);
}

/* The columns for SQLite, where "user" needs no quotes but takes them. */
static int copy_table(store *from, store *to, const table *t, long *rows)
{
    char sel[512];
    sink k = {to, t, "", NULL, 0};
    int n = (int)strlen(t->types), rc;
    char *at = k.sql + sprintf(k.sql, "INSERT INTO %s (%s) VALUES (",
                               t->name, t->cols);
    for (int i = 0; i < n; i++)
        at += to->pg ? sprintf(at, "%s$%d", i ? ", " : "", i + 1)
                     : sprintf(at, "%s?%d", i ? ", " : "", i + 1);
    strcpy(at, ")");
    snprintf(sel, sizeof sel, "SELECT %s FROM %s%s ORDER BY %s", t->cols,
             t->name, t->where, t->order);
    if (!to->pg && (rc = sqlite3_prepare_v2(to->db, k.sql, -1, &k.st, NULL)))
        return store__err(rc);
    rc = from->pg ? rows_pg(from, sel, t->types, put_row, &k)
                  : rows_sqlite(from, sel, n, put_row, &k);
    sqlite3_finalize(k.st);
    *rows = k.rows;
    return rc;
}

static int count(store *s, const char *sql, int64_t *n)
{
    if (s->pg) {
        int rc;
        PGresult *r = store_pg__q(s, &rc, sql, "");
        if (!r) return rc;
        *n = store_pg__int(r, 0, 0);
        PQclear(r);
        return STORE_OK;
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc) return store__err(rc);
    rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? STORE_OK : store__err(rc);
}

/* PostgreSQL: the key sequences continue after the copied keys. */
static int advance_sequences(store *to)
{
    if (!to->pg) return STORE_OK;
    int rc = store_pg__exec(to, 0, "SELECT setval(pg_get_serial_sequence("
                            "'users', 'id'), coalesce(max(id), 0) + 1, false)"
                            " FROM users", "");
    if (!rc)
        rc = store_pg__exec(to, 0, "SELECT setval(pg_get_serial_sequence("
                            "'documents', 'num'), coalesce(max(num), 0) + 1,"
                            " false) FROM documents", "");
    return rc;
}

static void say(void (*report)(void *, const char *), void *arg,
                const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(void (*report)(void *, const char *), void *arg,
                const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (report) report(arg, line);
}

int store_copy(store *from, store *to,
               void (*report)(void *arg, const char *line), void *arg)
{
    int64_t have = 0, n = 0, began = 0;
    int rc;
    if (!from || !to || from == to) return STORE_EINVAL;
    if (store_schema_version(from) != store_schema_version(to)) {
        say(report, arg, "the two stores are at different schemas (%d, %d)",
            store_schema_version(from), store_schema_version(to));
        return STORE_EINVAL;
    }
    if ((rc = count(to, "SELECT (SELECT count(*) FROM users) +"
                        " (SELECT count(*) FROM documents)", &have)))
        return rc;
    if (have) {
        say(report, arg, "the target is not empty (%lld users and documents);"
            " copy only into a new store", (long long)have);
        return STORE_EEXIST;
    }
    int rbegan;
    if ((rc = store__read_begin(from, &rbegan))) return rc;
    rc = store__begin(to, 1);
    began = rc == 0;
    for (size_t i = 0; !rc && i < sizeof tables / sizeof tables[0]; i++) {
        long rows = 0;
        rc = copy_table(from, to, &tables[i], &rows);
        if (!rc) say(report, arg, "%s: %ld rows", tables[i].name, rows);
        else say(report, arg, "%s: failed: %s", tables[i].name,
                 store_strerror(rc));
    }
    if (!rc) rc = advance_sequences(to);
    if (!rc) rc = store__commit(to);
    if (rc && began) store__rollback(to);
    store__read_end(from, rbegan);
    if (rc) return rc;
    if ((rc = store_search_reindex(to, &n))) return rc;
    say(report, arg, "search index: %lld documents", (long long)n);
    return store_check(to, report, arg);
}
