/* store.c -- opening a Chorus database: pragmas, migrations, statements.
 *
 * store_open sets WAL mode, the synchronous level, busy_timeout and foreign
 * keys, then brings the schema up to date with the migrations compiled in
 * from the migrations/ directory. Each migration runs in its own BEGIN
 * IMMEDIATE transaction that re-reads PRAGMA user_version first, so two
 * processes opening one new file at once apply each migration exactly once.
 * A file whose user_version is beyond the last migration is refused
 * (STORE_ENEWER): this binary does not know its schema. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/migrations.h"
#include "storage/pg/pg.h"
#include "storage/store_int.h"

/* The internal number of the document named ?1. */
#define DOCNUM "(SELECT num FROM documents WHERE id = ?1)"

/* ST_OP_INSERT and ST_CLIENT_CLAIM take the document's number (from the
 * documents cache). */
static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_DOC_INSERT] = "INSERT INTO documents(id, title, creator, created_ms,"
                      " updated_ms, version) VALUES (?1, ?2, ?3, ?4, ?4, 0)",
    [ST_DOC_GET] = "SELECT id, title, creator, created_ms, updated_ms, version"
                   " FROM documents WHERE id = ?1 AND trashed_ms = 0",
    [ST_DOC_LIST] = "SELECT id, title, creator, created_ms, updated_ms,"
                    " version FROM documents WHERE trashed_ms = 0"
                    " ORDER BY updated_ms DESC, id",
    [ST_DOC_TITLE] = "UPDATE documents SET title = ?2,"
                     " updated_ms = max(updated_ms, ?3)"
                     " WHERE id = ?1 AND trashed_ms = 0",
    [ST_DOC_DELETE] = "DELETE FROM documents WHERE id = ?1",
    [ST_DOC_VERSION] = "SELECT version, num FROM documents WHERE id = ?1",
    [ST_DOC_BUMP] = "UPDATE documents SET version = ?2,"
                    " updated_ms = max(updated_ms, ?3) WHERE num = ?1",
    [ST_OP_INSERT] = "INSERT INTO ops(doc, version, op, client, seq, user,"
                     " time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_OPS_AFTER] = "SELECT version, op, client, seq, user, time_ms FROM ops"
                     " WHERE doc = " DOCNUM " AND version > ?2"
                     " ORDER BY version LIMIT ?3",
    [ST_OPS_RANGE] = "SELECT version, op FROM ops WHERE doc = " DOCNUM
                     " AND version > ?2 AND version <= ?3 ORDER BY version",
    [ST_FIND_SEQ] = "SELECT version FROM ops WHERE doc = " DOCNUM
                    " AND client = ?2 AND seq = ?3",
    [ST_CLIENT_LAST] = "SELECT seq, version FROM op_clients WHERE doc = "
                       DOCNUM " AND client = ?2",
    [ST_CLIENT_CLAIM] = "INSERT INTO op_clients(doc, client, seq, version)"
                        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(doc, client)"
                        " DO UPDATE SET seq = excluded.seq,"
                        " version = excluded.version"
                        " WHERE excluded.seq > op_clients.seq",
    [ST_SNAP_PUT] = "INSERT OR REPLACE INTO snapshots(doc, version, text)"
                    " VALUES (" DOCNUM ", ?2, ?3)",
    [ST_SNAP_AT_OR_BELOW] = "SELECT version, text FROM snapshots"
                            " WHERE doc = " DOCNUM " AND version <= ?2"
                            " ORDER BY version DESC LIMIT 1",
};

void store_options_init(store_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->sync = STORE_SYNC_FULL;
    opt->busy_timeout_ms = 5000;
    opt->snapshot_every = 200;
    opt->auto_snapshot = 1;
    opt->max_batch = 8192;
}

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "success";
    case STORE_EINVAL: return "invalid argument";
    case STORE_ENOMEM: return "out of memory";
    case STORE_ENOTFOUND: return "no such document";
    case STORE_EEXIST: return "already exists";
    case STORE_ECONFLICT: return "that version of the document is taken";
    case STORE_EDUP: return "op already stored (same client and seq)";
    case STORE_ERANGE: return "version out of range";
    case STORE_ENEWER: return "database schema is newer than this chorus";
    case STORE_EFULL: return "disk full: nothing was written";
    case STORE_EIO: return "disk I/O error: nothing was written";
    case STORE_EREADONLY: return "database is read-only";
    case STORE_EBUSY: return "database is locked by another process";
    case STORE_ECORRUPT: return "database is corrupt or inconsistent";
    case STORE_ECANTOPEN: return "cannot open the database file";
    case STORE_ESTOPPED: return "storage is shutting down";
    case STORE_ESQL: return "unexpected SQLite error";
    case STORE_ETRASHED: return "the document is in the trash";
    default: return "unknown storage error";
    }
}

int store__err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return STORE_OK;
    case SQLITE_FULL: return STORE_EFULL;
    case SQLITE_IOERR:
        return rc == SQLITE_IOERR_NOMEM ? STORE_ENOMEM : STORE_EIO;
    case SQLITE_READONLY: return STORE_EREADONLY;
    case SQLITE_BUSY: case SQLITE_LOCKED: return STORE_EBUSY;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: return STORE_ECORRUPT;
    case SQLITE_CANTOPEN: return STORE_ECANTOPEN;
    case SQLITE_NOMEM: return STORE_ENOMEM;
    case SQLITE_TOOBIG: return STORE_EINVAL;
    default: return STORE_ESQL;
    }
}

int store__fatal(int err)
{
    switch (err) {
    case STORE_OK: case STORE_EINVAL: case STORE_ENOTFOUND:
    case STORE_EEXIST: case STORE_ECONFLICT: case STORE_EDUP:
    case STORE_ERANGE:
        return 0;
    default:
        return 1;
    }
}

void store__seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char *store__strndup(const char *p, size_t len)
{
    char *r = malloc(len + 1);
    if (!r) return NULL;
    if (len) memcpy(r, p, len);
    r[len] = '\0';
    return r;
}

sqlite3_stmt *store__stmt(store *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    if (!st) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[which], -1,
                               SQLITE_PREPARE_PERSISTENT, &st, NULL))
            return NULL;
        s->st[which] = st;
    }
    sqlite3_reset(st);
    return st;
}

int store__exec(store *s, const char *sql)
{
    return store__err(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static int step_done(store *s, int which)
{
    sqlite3_stmt *st = store__stmt(s, which);
    int rc;
    if (!st) return store__err(sqlite3_errcode(s->db));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : store__err(rc);
}

int store__begin(store *s, int immediate)
{
    if (s->pg) return store_pg__begin(s, 0);
    if (immediate) store__dc_reset(s);
    return step_done(s, immediate ? ST_BEGIN_IMMEDIATE : ST_BEGIN);
}

int store__read_begin(store *s, int *began)
{
    if (s->pg) {
        *began = !s->pg_tx;
        return *began ? store_pg__begin(s, 1) : STORE_OK;
    }
    *began = sqlite3_get_autocommit(s->db) != 0;
    return *began ? store__begin(s, 0) : STORE_OK;
}

void store__read_end(store *s, int began)
{
    if (began) store__rollback(s);
}

int store__commit(store *s)
{
    if (s->pg) return store_pg__commit(s);
    int rc = s->dc_len ? store__dc_flush(s) : STORE_OK;
    if (!rc) rc = step_done(s, ST_COMMIT);
    if (!rc) store__dc_reset(s);
    return rc;
}

void store__rollback(store *s)
{
    if (s->pg) {
        store_pg__rollback(s);
        return;
    }
    store__dc_reset(s);
    if (!sqlite3_get_autocommit(s->db)) step_done(s, ST_ROLLBACK);
}

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the clock of a default cond */
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t store__release_after(void)
{
    return realtime_ms() + STORE__IDLE_MS;
}

void store__idle_wait(store *s, pthread_cond_t *cv, pthread_mutex_t *mu,
                      int (*empty)(void *arg), void *arg, uint64_t *release_ms)
{
    while (empty(arg)) {
        if (!*release_ms) {
            pthread_cond_wait(cv, mu);
            continue;
        }
        struct timespec ts = {(time_t)(*release_ms / 1000),
                              (long)(*release_ms % 1000) * 1000000L};
        if (pthread_cond_timedwait(cv, mu, &ts) == ETIMEDOUT && empty(arg)) {
            *release_ms = 0;
            pthread_mutex_unlock(mu);
            if (s->db) sqlite3_db_release_memory(s->db);
            pthread_mutex_lock(mu);
        }
    }
}

int store_schema_latest(void)
{
    return store__migrations_count
        ? store__migrations[store__migrations_count - 1].number : 0;
}

static int user_version(store *s, int *v)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc) return store__err(rc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? STORE_OK : store__err(rc);
}

int store_schema_version(store *s)
{
    int v = -1;
    if (s->pg) return store_pg__schema_version(s);
    return user_version(s, &v) ? -1 : v;
}

/* Apply migration 'm' unless another connection already did. */
static int migrate_one(store *s, const store__migration *m, char *err,
                       size_t errlen)
{
    char sql[64];
    int v = 0, rc = store__begin(s, 1);
    if (!rc) rc = user_version(s, &v);
    if (!rc && v < m->number) {
        rc = store__err(sqlite3_exec(s->db, m->sql, NULL, NULL, NULL));
        if (!rc) {
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->number);
            rc = store__exec(s, sql);
        }
    }
    if (!rc) rc = store__commit(s);
    if (rc) {
        store__seterr(err, errlen, "migration %04d_%s failed: %s (%s)",
                      m->number, m->name, sqlite3_errmsg(s->db),
                      store_strerror(rc));
        store__rollback(s);
    }
    return rc;
}

static int migrate(store *s, char *err, size_t errlen)
{
    int v = 0, rc = user_version(s, &v), latest = store_schema_latest();
    if (rc) {
        store__seterr(err, errlen, "cannot read the schema version: %s",
                      sqlite3_errmsg(s->db));
        return rc;
    }
    if (v > latest) {
        store__seterr(err, errlen, "database schema version %d is newer than"
                      " this chorus (%d); upgrade chorus", v, latest);
        return STORE_ENEWER;
    }
    for (int i = 0; i < store__migrations_count && !rc; i++)
        if (store__migrations[i].number > v)
            rc = migrate_one(s, &store__migrations[i], err, errlen);
    return rc;
}

static int set_pragmas(store *s, char *err, size_t errlen)
{
    char sql[160];
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st,
                                NULL);
    if (!rc) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_stricmp(
                (const char *)sqlite3_column_text(st, 0), "wal") != 0)
            rc = SQLITE_READONLY; /* WAL refused: read-only file or dir */
        else if (rc == SQLITE_ROW)
            rc = SQLITE_OK;
        sqlite3_finalize(st);
    }
    if (rc) {
        store__seterr(err, errlen, "cannot set WAL mode: %s",
                      rc == SQLITE_READONLY ? "database is read-only"
                                            : sqlite3_errmsg(s->db));
        return store__err(rc);
    }
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s; "
             "PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = %d; "
             "PRAGMA cache_size = -32768",
             s->opt.sync == STORE_SYNC_NORMAL ? "NORMAL" : "FULL",
             64 << 20);
    rc = store__exec(s, sql);
    if (rc) store__seterr(err, errlen, "cannot configure the database: %s",
                          sqlite3_errmsg(s->db));
    return rc;
}

/* Explain a failure to open 'path' in one line, naming the directory when
 * it is the problem; returns the error code that fits, else 'rc'. */
static int open_error(char *err, size_t errlen, const char *path,
                      const char *what, int rc)
{
    char *copy = strdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    if (access(dir, F_OK) != 0) {
        store__seterr(err, errlen, "cannot open database %s: directory %s"
                      " does not exist", path, dir);
        rc = STORE_ECANTOPEN;
    } else if (access(dir, W_OK) != 0) {
        store__seterr(err, errlen, "cannot open database %s: directory %s"
                      " is not writable (%s)", path, dir, strerror(errno));
        rc = STORE_EREADONLY;
    } else {
        store__seterr(err, errlen, "cannot open database %s: %s", path,
                      what);
    }
    free(copy);
    return rc;
}

int store_open(store **out, const char *path, const store_options *opt,
               char *err, size_t errlen)
{
    store *s;
    int rc;
    *out = NULL;
    if (!path || !*path) {
        store__seterr(err, errlen, "no database path given");
        return STORE_EINVAL;
    }
    if (!(s = calloc(1, sizeof *s))) {
        store__seterr(err, errlen, "out of memory");
        return STORE_ENOMEM;
    }
    if (opt) s->opt = *opt;
    else store_options_init(&s->opt);
    if (s->opt.snapshot_every <= 0) s->opt.snapshot_every = 200;
    if (s->opt.max_batch <= 0) s->opt.max_batch = 8192;
    if (store_pg__is_uri(path)) {
        if ((rc = store_pg__open(s, path, err, errlen))) {
            store_close(s);
            return rc;
        }
        *out = s;
        return STORE_OK;
    }
    /* Switching a new file to WAL, or WAL recovery in another connection,
     * answers SQLITE_BUSY without calling the busy handler: such an open is
     * tried again until busy_timeout has passed. */
    for (int waited_ms = 0;; waited_ms += 10) {
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             s->opt.sync == STORE_SYNC_FULL ? store__vfs()
                                                            : NULL);
        if (rc == SQLITE_OK) {
            sqlite3_extended_result_codes(s->db, 1);
            sqlite3_busy_timeout(s->db, s->opt.busy_timeout_ms);
            rc = set_pragmas(s, err, errlen);
            if (rc == STORE_ECANTOPEN)
                rc = open_error(err, errlen, path, sqlite3_errmsg(s->db), rc);
            if (!rc) rc = migrate(s, err, errlen);
        } else {
            rc = open_error(err, errlen, path, s->db ? sqlite3_errmsg(s->db)
                            : "out of memory", store__err(rc));
        }
        if (rc != STORE_EBUSY || waited_ms >= s->opt.busy_timeout_ms) break;
        for (int i = 0; i < ST__COUNT; i++) {
            sqlite3_finalize(s->st[i]);
            s->st[i] = NULL;
        }
        sqlite3_close(s->db);
        s->db = NULL;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc) {
        store_close(s);
        return rc;
    }
    *out = s;
    return STORE_OK;
}

int store_is_url(const char *path)
{
    return store_pg__is_uri(path);
}

void store_close(store *s)
{
    if (!s) return;
    store_pg__close(s);
    store__dc_free(s);
    for (int i = 0; i < ST__COUNT; i++) sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}
