/* pg.c -- a PostgreSQL store: connecting, migrations, statements, errors.
 *
 * store_open hands a postgres[ql]:// URI here. The connection runs with
 * synchronous_commit=on (a commit returns once its WAL is flushed: an ack
 * after it is durable). The migrations of migrations/pg/ are applied at
 * open in ONE transaction holding a transaction-level advisory lock, which
 * re-reads the schema version under the lock: two nodes starting together
 * apply each migration once. A connection that broke (server restarted,
 * pg_terminate_backend) fails what ran on it with STORE_EIO and is reset
 * before the next statement outside a transaction, so the next job runs on
 * a fresh connection. Errors map to STORE_E* by SQLSTATE class. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/migrations.h"
#include "storage/pg/pg.h"

/* pg_advisory_xact_lock key of the migrations: "chorus" in ASCII */
#define MIGRATE_LOCK "63686f727573"

enum { MAX_PARAMS = 16 };

int store_pg__is_uri(const char *path)
{
    return path && (strncmp(path, "postgresql://", 13) == 0 ||
                    strncmp(path, "postgres://", 11) == 0);
}

/* Map a failed result (or a broken connection) to STORE_E*. */
static int pg_err(store *s, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(s->pg) != CONNECTION_OK || !st) return STORE_EIO;
    if (!strcmp(st, "23505")) return STORE_EEXIST;
    if (!strcmp(st, "23503")) return STORE_ENOTFOUND;
    if (!strncmp(st, "23", 2) || !strncmp(st, "22", 2)) return STORE_EINVAL;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01") ||
        !strcmp(st, "55P03") || !strcmp(st, "57014"))
        return STORE_EBUSY;
    if (!strcmp(st, "53200")) return STORE_ENOMEM;
    if (!strncmp(st, "53", 2)) return STORE_EFULL;
    if (!strcmp(st, "25006")) return STORE_EREADONLY;
    if (!strncmp(st, "08", 2) || !strncmp(st, "57", 2) ||
        !strncmp(st, "58", 2))
        return STORE_EIO;
    if (!strcmp(st, "XX001") || !strcmp(st, "XX002")) return STORE_ECORRUPT;
    return STORE_ESQL;
}

int store_pg__result_err(store *s, const PGresult *r)
{
    int rc = pg_err(s, r);
    if (s->pg_tx) s->pg_aborted = 1;
    return rc;
}

/* Settings of every (re)connected session. */
static int session_setup(store *s)
{
    PGresult *r = PQexec(s->pg, "SET synchronous_commit = on;"
                                " SET client_min_messages = warning");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? STORE_OK : STORE_EIO;
}

/* Outside a transaction, bring a broken connection back. */
static int ready(store *s)
{
    if (PQstatus(s->pg) == CONNECTION_OK) return STORE_OK;
    if (s->pg_tx) return STORE_EIO;
    PQreset(s->pg);
    if (PQstatus(s->pg) != CONNECTION_OK) return STORE_EIO;
    return session_setup(s);
}

static PGresult *vq(store *s, int *rc, const char *sql, const char *fmt,
                    va_list ap)
{
    const char *vals[MAX_PARAMS];
    int lens[MAX_PARAMS], fmts[MAX_PARAMS], n = 0;
    char nums[MAX_PARAMS][24];
    for (; fmt[n] && n < MAX_PARAMS; n++) {
        lens[n] = 0;
        fmts[n] = 0;
        if (fmt[n] == 's') {
            vals[n] = va_arg(ap, const char *);
        } else if (fmt[n] == 'i') {
            snprintf(nums[n], sizeof nums[n], "%lld",
                     (long long)va_arg(ap, int64_t));
            vals[n] = nums[n];
        } else {
            vals[n] = va_arg(ap, const char *);
            lens[n] = (int)va_arg(ap, size_t);
            fmts[n] = 1;
            if (!vals[n]) vals[n] = "";
        }
    }
    if ((*rc = ready(s))) return NULL;
    PGresult *r = PQexecParams(s->pg, sql, n, NULL, vals, lens, fmts, 0);
    ExecStatusType st = PQresultStatus(r);
    if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) return r;
    *rc = pg_err(s, r);
    PQclear(r);
    if (s->pg_tx) s->pg_aborted = 1;
    return NULL;
}

PGresult *store_pg__q(store *s, int *rc, const char *sql, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = vq(s, rc, sql, fmt, ap);
    va_end(ap);
    return r;
}

int store_pg__exec(store *s, int need_change, const char *sql,
                   const char *fmt, ...)
{
    int rc = 0;
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = vq(s, &rc, sql, fmt, ap);
    va_end(ap);
    if (!r) return rc;
    if (need_change && atoll(PQcmdTuples(r)) == 0) rc = STORE_ENOTFOUND;
    PQclear(r);
    return rc;
}

int64_t store_pg__int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : atoll(PQgetvalue(r, row, col));
}

char *store_pg__dup(const PGresult *r, int row, int col)
{
    return store__strndup(PQgetvalue(r, row, col),
                          (size_t)PQgetlength(r, row, col));
}

/* BEGIN, once more on a fresh connection when the old one was found
 * broken: nothing ran on it yet, so trying again is safe. */
int store_pg__begin(store *s, int read)
{
    const char *sql = read ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                           : "BEGIN";
    int rc = 0;
    for (int tries = 0; tries < 2; tries++) {
        rc = store_pg__exec(s, 0, sql, "");
        if (rc != STORE_EIO) break;
    }
    if (!rc) {
        s->pg_tx = 1;
        s->pg_aborted = 0;
    }
    store_pg__cache_clear(s);
    return rc;
}

/* A COMMIT whose connection broke may have committed or not (the backend
 * can die after writing its commit record), and the commit may become
 * visible only later. So the transaction's id is read before COMMIT, and
 * when COMMIT fails with the connection lost, a new connection asks
 * txid_status() until it is no longer in progress: "committed" is a
 * success like any other, anything else (or no connection) STORE_EIO. */
static int commit_outcome(store *s, const char *xid)
{
    for (int tries = 0; tries < 500; tries++) {
        int rc;
        PGresult *r = store_pg__q(s, &rc, "SELECT txid_status($1::bigint)",
                                  "s", xid);
        if (!r) {
            if (rc != STORE_EIO || tries >= 2) return STORE_EIO;
            continue; /* the first try may find the old connection dead */
        }
        const char *st = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
        rc = !strcmp(st, "committed") ? STORE_OK
           : !strcmp(st, "in progress") ? 1 : STORE_EIO;
        PQclear(r);
        if (rc <= 0) return rc;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return STORE_EIO;
}

int store_pg__commit(store *s)
{
    int rc;
    char xid[32] = "";
    if (s->pg_aborted) {
        store_pg__rollback(s);
        return STORE_ESQL;
    }
    if ((rc = store_pg__cache_flush(s))) {
        store_pg__rollback(s);
        return rc;
    }
    PGresult *r = store_pg__q(s, &rc, "SELECT txid_current()", "");
    if (!r) {
        store_pg__rollback(s);
        return rc;
    }
    snprintf(xid, sizeof xid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    /* COMMIT of a failed transaction answers ROLLBACK without an error */
    r = store_pg__q(s, &rc, "COMMIT", "");
    if (r && strcmp(PQcmdStatus(r), "COMMIT") != 0) rc = STORE_ESQL;
    PQclear(r);
    s->pg_tx = 0;
    s->pg_aborted = 0;
    if (rc == STORE_EIO && PQstatus(s->pg) != CONNECTION_OK)
        rc = commit_outcome(s, xid);
    return rc;
}

void store_pg__rollback(store *s)
{
    store_pg__cache_clear(s);
    if (!s->pg_tx) return;
    s->pg_tx = 0;
    s->pg_aborted = 0;
    if (PQstatus(s->pg) == CONNECTION_OK)
        PQclear(PQexec(s->pg, "ROLLBACK"));
}

int store_pg__savepoint(store *s)
{
    return store_pg__exec(s, 0, "SAVEPOINT job", "");
}

int store_pg__savepoint_end(store *s, int undo)
{
    int rc = store_pg__exec(s, 0, undo ? "ROLLBACK TO SAVEPOINT job"
                                       : "RELEASE SAVEPOINT job", "");
    if (!rc && undo) s->pg_aborted = 0;
    return rc;
}

static int schema_version(store *s, int *v)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT coalesce(max(version), 0)"
                                      " FROM schema_version", "");
    if (!r) return rc;
    *v = (int)store_pg__int(r, 0, 0);
    PQclear(r);
    return STORE_OK;
}

int store_pg__schema_version(store *s)
{
    int v = 0;
    return schema_version(s, &v) ? -1 : v;
}

static int migrate_tx(store *s, char *err, size_t errlen)
{
    int rc, v = 0;
    if ((rc = store_pg__exec(s, 0, "SELECT pg_advisory_xact_lock(x'"
                             MIGRATE_LOCK "'::bigint)", "")) ||
        (rc = store_pg__exec(s, 0, "CREATE TABLE IF NOT EXISTS schema_version"
                             " (version INTEGER PRIMARY KEY,"
                             " name TEXT NOT NULL,"
                             " applied_ms BIGINT NOT NULL)", "")) ||
        (rc = schema_version(s, &v)))
        return rc;
    int latest = store__pg_migrations_count
        ? store__pg_migrations[store__pg_migrations_count - 1].number : 0;
    if (v > latest) {
        store__seterr(err, errlen, "database schema %d is newer than this"
                      " chorus (%d)", v, latest);
        return STORE_ENEWER;
    }
    for (int i = 0; i < store__pg_migrations_count; i++) {
        const store__migration *m = &store__pg_migrations[i];
        if (m->number <= v) continue;
        PGresult *r = PQexec(s->pg, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK &&
            PQresultStatus(r) != PGRES_TUPLES_OK) {
            store__seterr(err, errlen, "migration pg/%04d_%s: %s", m->number,
                          m->name, PQerrorMessage(s->pg));
            rc = pg_err(s, r);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        rc = store_pg__exec(s, 0, "INSERT INTO schema_version VALUES"
                            " ($1, $2, (extract(epoch FROM now()) * 1000)"
                            "::bigint)", "is", (int64_t)m->number, m->name);
        if (rc) return rc;
    }
    return STORE_OK;
}

static int migrate(store *s, char *err, size_t errlen)
{
    int rc = store_pg__begin(s, 0);
    if (!rc) rc = migrate_tx(s, err, errlen);
    if (!rc) rc = store_pg__commit(s);
    else store_pg__rollback(s);
    if (rc && err && !*err)
        store__seterr(err, errlen, "cannot bring the schema up to date: %s",
                      PQerrorMessage(s->pg));
    return rc;
}

int store_pg__open(store *s, const char *uri, char *err, size_t errlen)
{
    s->pg = PQconnectdb(uri);
    if (!s->pg) {
        store__seterr(err, errlen, "out of memory");
        return STORE_ENOMEM;
    }
    if (PQstatus(s->pg) != CONNECTION_OK) {
        char *msg = PQerrorMessage(s->pg), *nl;
        store__seterr(err, errlen, "cannot connect to PostgreSQL: %s", msg);
        if (err && (nl = strchr(err, '\n'))) *nl = '\0';
        return STORE_ECANTOPEN;
    }
    if (session_setup(s)) {
        store__seterr(err, errlen, "cannot set up the session: %s",
                      PQerrorMessage(s->pg));
        return STORE_EIO;
    }
    return migrate(s, err, errlen);
}

void store_pg__close(store *s)
{
    store_pg__cache_free(s);
    if (s->pg) PQfinish(s->pg);
    s->pg = NULL;
}
