/* store_int.h -- what the files of storage/ share, never included outside.
 *
 * A store is one sqlite3 connection plus its lazily prepared statements.
 * Every statement is reset as soon as its rows are read, so no connection
 * keeps a read transaction open by accident (that would pin the WAL and
 * hide newer commits). Functions named store__*_tx run inside a transaction
 * the caller opened; a logical failure (STORE_ECONFLICT, ...) leaves the
 * transaction as it was, a disk failure means the caller must roll back. */
#ifndef CHORUS_STORAGE_STORE_INT_H
#define CHORUS_STORAGE_STORE_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>

#include "storage/store.h"

enum store__st {
    ST_BEGIN,
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_DOC_INSERT,
    ST_DOC_GET,
    ST_DOC_LIST,
    ST_DOC_TITLE,
    ST_DOC_DELETE,
    ST_DOC_VERSION,
    ST_DOC_BUMP,
    ST_OP_INSERT,
    ST_OPS_AFTER,
    ST_OPS_RANGE,
    ST_FIND_SEQ,
    ST_CLIENT_LAST,
    ST_CLIENT_CLAIM,
    ST_SNAP_PUT,
    ST_SNAP_AT_OR_BELOW,
    ST__COUNT
};

/* A document touched by the open write transaction (store_dcache.c). */
typedef struct store__dent {
    char *id;           /* NULL: free slot */
    uint64_t hash;
    int64_t num;        /* documents.num */
    int64_t version;    /* current, this transaction's appends included */
    int64_t updated_ms; /* newest op time appended (INT64_MIN: none) */
    int dirty;          /* version moved: the row needs writing */
} store__dent;

struct store {
    sqlite3 *db;                     /* NULL on PostgreSQL */
    PGconn *pg;                      /* NULL on SQLite (storage/pg/) */
    int pg_tx;                       /* PostgreSQL: a transaction is open */
    int pg_aborted;                  /* ... and a statement in it failed */
    struct store_pg_cache *pgc;      /* its documents and clients appended
                                      * to (storage/pg/pg_cache.c) */
    store_options opt;
    sqlite3_stmt *st[ST__COUNT];
    unsigned long snapshot_failures; /* auto snapshots that did not replay */
    store__dent *dc;                 /* open-addressing table, dc_cap slots */
    size_t dc_cap, dc_len;
};

/* The prepared statement 'which', reset and unbound, or NULL (out of
 * memory or a schema problem: store__err(s, ...) tells). Borrowed. */
sqlite3_stmt *store__stmt(store *s, int which);

/* The documents cache of the open write transaction: find (NULL if not
 * cached), get (reading the row on a miss: STORE_ENOTFOUND), write the
 * changed rows (store__commit does it), reset (begin/rollback), free. */
store__dent *store__dc_find(store *s, const char *doc);
int store__dc_get(store *s, const char *doc, store__dent **out);
int store__dc_flush(store *s);
void store__dc_reset(store *s);
void store__dc_free(store *s);

/* Prepare 'sql' and bind the arguments described by 'fmt': 's' text,
 * 'i' int64, 'b' blob (pointer, then size_t). NULL on error (*rc set).
 * The caller finalizes it. (store_auth.c) */
sqlite3_stmt *store__prep(store *s, int *rc, const char *sql, const char *fmt,
                          ...);
/* Step a statement that returns no rows and finalize it: 0,
 * STORE_EEXIST (a constraint), STORE_ENOTFOUND when it changed no row and
 * 'need_change', or another STORE_E* code. (store_auth.c) */
int store__exec_done(store *s, sqlite3_stmt *st, int need_change);

/* Map an SQLite result code to STORE_E*. */
int store__err(int sqlite_rc);

/* Nonzero for errors after which a write transaction must be abandoned
 * (disk trouble, not a logical refusal of one op). */
int store__fatal(int store_err);

/* Transactions: BEGIN (deferred, for consistent reads) or BEGIN IMMEDIATE
 * (resets the documents cache); COMMIT (writing the cached documents rows
 * first); ROLLBACK if one is still open (never fails). */
int store__begin(store *s, int immediate);
int store__commit(store *s);
void store__rollback(store *s);

/* A worker thread gives its connection's page cache back (cache_size is
 * large for busy times) once it has had no work for STORE__IDLE_MS:
 * store__idle_wait waits on 'cv' while empty(arg) holds; when *release_ms
 * (CLOCK_REALTIME ms, 0: nothing to give back) passes first, it releases
 * 's''s cache and sets it to 0. After work, the caller sets *release_ms to
 * store__release_after(). Called and returns with 'mu' held. */
#define STORE__IDLE_MS 2000
void store__idle_wait(store *s, pthread_cond_t *cv, pthread_mutex_t *mu,
                      int (*empty)(void *arg), void *arg, uint64_t *release_ms);
uint64_t store__release_after(void);

/* A read transaction for a consistent view, unless one is already open
 * (then *began is 0 and store__read_end leaves it alone). */
int store__read_begin(store *s, int *began);
void store__read_end(store *s, int began);

/* Run 'sql' (no rows expected). */
int store__exec(store *s, const char *sql);

/* Append one record inside a write transaction; with auto_snapshot, also
 * the snapshot due at its version. */
int store__append_tx(store *s, const store_oprec *r);

/* Put a snapshot inside a write transaction. */
int store__snapshot_put_tx(store *s, const char *doc, int64_t version,
                           const char *text, size_t bytes);

/* The text at 'version' inside an open transaction (see store_text_at). */
int store__text_at_tx(store *s, const char *doc, int64_t version,
                      char **text, size_t *bytes);

/* Delete a document inside a write transaction: the documents cache is
 * written back and emptied first, so no cached row outlives it. */
int store__doc_delete_tx(store *s, const char *id);

/* documents.version of 'doc', or STORE_ENOTFOUND. */
int store__doc_version(store *s, const char *doc, int64_t *version);

/* Copy 'len' bytes into a new NUL-terminated string; NULL if out of
 * memory. */
char *store__strndup(const char *p, size_t len);

/* snprintf into err (if err and errlen), always NUL-terminated. */
void store__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The VFS that gathers a commit's WAL writes into one (store_vfs.c): its
 * name, registering it on first use, or NULL if it could not be (then the
 * default VFS serves). Only for connections with synchronous=FULL. */
#define STORE__VFS "chorus-wal"
const char *store__vfs(void);

/* Writes SQLite asked of WAL files through that VFS, writes it made, and
 * runs it dropped as abandoned (drops may be NULL). */
void store__vfs_counts(uint64_t *in, uint64_t *out, uint64_t *drops);

#endif
