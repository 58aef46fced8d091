/* store.h -- Chorus's storage: documents, the op log and snapshots in SQLite.
 *
 * This header is the whole public API of storage/; no SQLite type leaks out.
 * A 'store' is one SQLite connection (WAL mode), used by one thread at a
 * time. Writes from the server go through a 'store_writer' (a thread that
 * group-commits whatever is queued in one transaction, then hands the
 * completions back); slow reads go through a 'store_pool' (threads with
 * their own read connections). Key invariant: for every document the log
 * holds versions 1..documents.version with no gap, and version V is the op
 * that brought the text from V-1 to V; a snapshot at V equals the replay of
 * ops 1..V. An operation reported successful has been committed with the
 * configured synchronous level (FULL by default: durable across power loss).
 *
 * Errors: 0 on success, a negative STORE_E* code on failure (store_strerror);
 * on failure nothing changed unless the comment says otherwise. Strings are
 * UTF-8 and NUL-terminated; arguments are borrowed. */
#ifndef CHORUS_STORAGE_STORE_H
#define CHORUS_STORAGE_STORE_H

#include <stddef.h>
#include <stdint.h>

enum {
    STORE_OK = 0,
    STORE_EINVAL = -1,    /* bad argument (NULL, negative version, ...) */
    STORE_ENOMEM = -2,    /* out of memory */
    STORE_ENOTFOUND = -3, /* no such document (or op) */
    STORE_EEXIST = -4,    /* document or file already exists */
    STORE_ECONFLICT = -5, /* that version of the document is already taken */
    STORE_EDUP = -6,      /* a resend: that client's seq on the document is
                           * not above its newest stored one */
    STORE_ERANGE = -7,    /* version beyond the document / not the next one */
    STORE_ENEWER = -8,    /* database schema newer than this binary */
    STORE_EFULL = -9,     /* disk (or quota) full: nothing was committed */
    STORE_EIO = -10,      /* I/O error: nothing was committed */
    STORE_EREADONLY = -11,/* database or its directory is read-only */
    STORE_EBUSY = -12,    /* locked by another process beyond busy_timeout */
    STORE_ECORRUPT = -13, /* database or log inconsistent (see store_check) */
    STORE_ECANTOPEN = -14,/* cannot open or create the database file */
    STORE_ESTOPPED = -15, /* writer or pool is stopping: job not accepted */
    STORE_ESQL = -16,     /* any other SQLite error (a bug: please report) */
    STORE_ETRASHED = -17  /* the document is in the trash (store_doc_trash) */
};

/* Text of an error code; never NULL. */
const char *store_strerror(int err);

typedef enum store_sync {
    STORE_SYNC_FULL = 0,  /* fsync the WAL at every commit (default) */
    STORE_SYNC_NORMAL = 1 /* fsync only at checkpoints: a power loss (not a
                           * process crash) may lose the last commits, which
                           * clients were told are durable */
} store_sync;

typedef struct store_options {
    store_sync sync;       /* STORE_SYNC_FULL unless you accept the risk */
    int busy_timeout_ms;   /* wait this long for another process' lock */
    int snapshot_every;    /* snapshot period in ops (<= 0: 200) */
    int auto_snapshot;     /* nonzero: store_append and APPEND jobs write a
                            * snapshot themselves at every multiple of
                            * snapshot_every (for tools; the server, which
                            * submits its own SNAPSHOT jobs, turns it off) */
    int max_batch;         /* writer: most jobs in one transaction (<= 0:
                            * 8192) */
    int wal_prealloc_mib;  /* writer: an empty WAL is first filled with this
                            * many MiB of zeros (0: off, the default), so
                            * commits overwrite blocks instead of growing
                            * the file: an fdatasync that must also write
                            * the file's new size costs 2-3 times more */
} store_options;

/* Fill 'opt' with the defaults: FULL, 5000 ms, every 200 ops, auto_snapshot
 * on, batches up to 8192 jobs. A NULL options pointer means the same. */
void store_options_init(store_options *opt);

typedef struct store store;

/* Open (creating if needed) the database at 'path', set WAL mode, the
 * synchronous level, busy_timeout and foreign keys, and apply the compiled-in
 * migrations not yet applied (each in its own transaction, tracked by PRAGMA
 * user_version). On success *out is the new connection (store_close it).
 * On failure *out is NULL, 'err' (if not NULL) holds a one-line message, and
 * the result is STORE_ENEWER (schema newer than this binary), STORE_ECANTOPEN
 * (missing directory), STORE_EREADONLY (directory or filesystem not
 * writable), STORE_ECORRUPT (not a database, or damaged), STORE_EBUSY,
 * STORE_EIO, STORE_EFULL or STORE_ENOMEM. A read-only database file in a
 * writable directory opens, and then every write fails STORE_EREADONLY. */
int store_open(store **out, const char *path, const store_options *opt,
               char *err, size_t errlen);

/* Nonzero when 'path' names a PostgreSQL database rather than a file: a
 * "postgresql://" or "postgres://" URI (libpq's; a password is better
 * left to PGPASSWORD or ~/.pgpass than written in it). store_open, the
 * writer and the pool then connect to it: the same API, the whole state
 * in PostgreSQL (storage/pg/, docs/storage.md). */
int store_is_url(const char *path);

/* Close the connection. Accepts NULL. */
void store_close(store *s);

/* The schema version the database is at / this binary brings. */
int store_schema_version(store *s);
int store_schema_latest(void);

/* ---- Documents ---------------------------------------------------------- */

typedef struct store_docinfo {
    char *id;           /* owned by the docinfo */
    char *title;
    char *creator;
    int64_t created_ms;
    int64_t updated_ms; /* last op, title change or creation */
    int64_t version;    /* number of ops in the log */
} store_docinfo;

/* Free the strings of one docinfo and zero it. Accepts NULL. */
void store_docinfo_clear(store_docinfo *d);
/* Clear 'n' docinfos and free the array (from store_doc_list). */
void store_docinfo_free(store_docinfo *arr, size_t n);

/* Create document 'id' at version 0 with empty text. Returns STORE_EEXIST if
 * it exists, STORE_EINVAL if id is empty or NULL. title/creator may be NULL
 * (stored as ""). */
int store_doc_create(store *s, const char *id, const char *title,
                     const char *creator, int64_t now_ms);

/* Fill *out (clear it later). STORE_ENOTFOUND if no such document (or it
 * is in the trash). */
int store_doc_get(store *s, const char *id, store_docinfo *out);

/* Every document, most recently updated first. *out is a new array of *n
 * docinfos (store_docinfo_free(*out, *n)); NULL when *n is 0. */
int store_doc_list(store *s, store_docinfo **out, size_t *n);

/* Set the title. STORE_ENOTFOUND if no such document. */
int store_doc_set_title(store *s, const char *id, const char *title,
                        int64_t now_ms);

/* Delete the document with its log and snapshots. STORE_ENOTFOUND. */
int store_doc_delete(store *s, const char *id);

/* ---- The trash (store_trash.c) ------------------------------------------ */

/* A trashed document's row is kept (its log, snapshots and roles too) but
 * store_doc_get, store_doc_list and store_doc_set_title skip it. */

/* When 'id' went to the trash (*trashed_ms; 0: it is not trashed).
 * STORE_ENOTFOUND when there is no such row at all. */
int store_doc_trashed(store *s, const char *id, int64_t *trashed_ms);
/* Move 'id' to the trash at now_ms (> 0). STORE_ENOTFOUND when there is
 * no such document or it is in the trash already. */
int store_doc_trash(store *s, const char *id, int64_t now_ms);
/* Bring 'id' back as it was. STORE_ENOTFOUND when it is not in the trash. */
int store_doc_untrash(store *s, const char *id);
/* Delete the trashed 'id' with its ops, snapshots and roles; the id is
 * free again. STORE_ENOTFOUND when it is not in the trash. */
int store_doc_purge(store *s, const char *id);
/* Purge every document trashed before before_ms; *purged (may be NULL)
 * says how many. */
int store_trash_expire(store *s, int64_t before_ms, int64_t *purged);

typedef struct store_trashinfo {
    char *id, *title;   /* owned */
    int64_t updated_ms, trashed_ms, version;
} store_trashinfo;
/* The trashed documents, newest trashed first: all of them when user_id
 * is 0, else those 'user_id' owns. *out is a new array of *n
 * (store_trashinfo_free); it may be NULL when *n is 0. */
int store_trash_list(store *s, int64_t user_id, store_trashinfo **out,
                     size_t *n);
void store_trashinfo_free(store_trashinfo *arr, size_t n);

/* ---- Full-text search (store_search.c, migration 0006) ---------------- */

/* The index holds each document's title and the text of one version
 * (documents.indexed_version); titles and purges follow by triggers,
 * texts by store_search_put. Trashed documents stay indexed but are never
 * found. */

typedef struct store_docid {
    char id[65];
} store_docid;

/* Up to 'max' documents whose indexed text is not their current version
 * and whose last change is before quiet_before_ms, least recently changed
 * first: *ids is a new array of *n (free it; NULL when none). */
int store_search_stale(store *s, int64_t quiet_before_ms, size_t max,
                       store_docid **ids, size_t *n);
/* Index 'text' (bytes long) as the text of 'id' at 'version', with its
 * current title, in one transaction. STORE_ENOTFOUND: no such document. */
int store_search_put(store *s, const char *id, int64_t version,
                     const char *text, size_t bytes);
/* Load the current text of 'id' and index it (store_load's errors). */
int store_search_index_one(store *s, const char *id);
/* Empty the index and index every document again (chorus check
 * --reindex); *count (may be NULL) says how many. */
int store_search_reindex(store *s, int64_t *count);

typedef struct store_hit {
    char *id, *title, *body;   /* owned; body: the indexed text */
    size_t bytes;              /* of body */
    int64_t updated_ms;
} store_hit;

/* The documents whose title or indexed text holds 'q' (valid UTF-8, not
 * empty), case-folded, best first, at most 'limit' (> 0); not trashed;
 * user_id 0: every document, else those 'user_id' has a role on. 3 or
 * more code points: the trigram index, ranked by bm25 (the title weighs
 * more); fewer: a scan of the indexed texts (LIKE: case-folded for ASCII
 * only), titles first, then the most recently changed. *out is a new
 * array of *n (store_hits_free). */
int store_search_query(store *s, const char *q, int64_t user_id, size_t limit,
                       store_hit **out, size_t *n);
void store_hits_free(store_hit *arr, size_t n);

/* ---- Op log ------------------------------------------------------------- */

/* One op of the log. As input the strings are borrowed; as output (from
 * store_ops_after) they point into the same allocation as the array. */
typedef struct store_oprec {
    const char *doc;
    int64_t version;    /* 1-based: the op brought the doc from version-1 */
    const char *op;     /* wire JSON text of the op, stored as given */
    const char *client; /* client id */
    int64_t seq;        /* the client's sequence number (grows per document) */
    const char *user;   /* user name */
    int64_t time_ms;
} store_oprec;

/* Append 'n' records in one BEGIN IMMEDIATE transaction, all or nothing;
 * each must be its document's next version (documents.version is updated,
 * and updated_ms). Errors: STORE_ENOTFOUND (no such document),
 * STORE_ECONFLICT (version taken), STORE_EDUP (the client's seq is not
 * above its newest on that document: a resend; seqs of a client only grow),
 * STORE_ERANGE (version beyond the next one), STORE_EINVAL, or a disk error
 * (STORE_EFULL, STORE_EIO, STORE_EREADONLY, STORE_EBUSY). With auto_snapshot
 * it also writes the snapshots due. */
int store_append(store *s, const store_oprec *recs, size_t n);

/* Create document 'id', make user 'owner' (if > 0) its owner and append
 * its first 'n' ops (versions 1..n), all in one transaction: a crash leaves
 * either the whole document or nothing (import, fork). Errors as
 * store_doc_create and store_append. */
int store_doc_create_with(store *s, const char *id, const char *title,
                          const char *creator, int64_t now_ms, int64_t owner,
                          const store_oprec *recs, size_t n);

/* Free an array from store_ops_after. Accepts NULL. */
void store_oprecs_free(store_oprec *recs);

/* The ops of 'doc' with version > after_version, oldest first, at most
 * 'limit' (<= 0: no limit). *out is one allocation holding the array and
 * its strings (store_oprecs_free); NULL when *n is 0. STORE_ENOTFOUND if no
 * such document. */
int store_ops_after(store *s, const char *doc, int64_t after_version,
                    int64_t limit, store_oprec **out, size_t *n);

/* The version at which (doc, client, seq) was stored. STORE_ENOTFOUND if
 * it was not. The client's newest op is found at once (op_clients); an
 * older one is looked for in the document's log, a pass over its rows
 * (error paths and tools only). */
int store_find_seq(store *s, const char *doc, const char *client,
                   int64_t seq, int64_t *version);

/* The newest committed op of 'client' on 'doc': its seq and version.
 * STORE_ENOTFOUND if the client has none there. */
int store_client_last(store *s, const char *doc, const char *client,
                      int64_t *seq, int64_t *version);

/* ---- Snapshots and text ------------------------------------------------- */

/* Store the full text of 'doc' at 'version' (replacing one stored there).
 * STORE_ENOTFOUND, STORE_ERANGE (version beyond the log), STORE_EINVAL. */
int store_snapshot_put(store *s, const char *doc, int64_t version,
                       const char *text, size_t bytes);

/* The current text of 'doc': its latest snapshot plus the replay of the ops
 * after it, read in one transaction. *text is malloc'd and NUL-terminated
 * (free it), *bytes its length, *version the version it is at. Errors:
 * STORE_ENOTFOUND, STORE_ECORRUPT (a stored op or snapshot does not replay),
 * STORE_ENOMEM. */
int store_load(store *s, const char *doc, char **text, size_t *bytes,
               int64_t *version);

/* The text of 'doc' at 'version' (0 is the empty text): the nearest
 * snapshot at or below it plus replay. Same ownership and errors as
 * store_load, plus STORE_ERANGE when version < 0 or beyond the current. */
int store_text_at(store *s, const char *doc, int64_t version, char **text,
                  size_t *bytes);

/* ---- Maintenance -------------------------------------------------------- */

/* Online, consistent copy of the database to 'dest_path' (VACUUM INTO a
 * temporary file beside it, fsync, link into place, fsync the directory),
 * safe while other connections write. Refuses to overwrite: STORE_EEXIST.
 * On failure no file is left at dest_path and 'err' says why. */
int store_backup(store *s, const char *dest_path, char *err, size_t errlen);

/* Verify the database: PRAGMA integrity_check and foreign_key_check, then
 * for every document: versions contiguous 1..version, documents.version
 * matching the log, every op replaying, every snapshot equal to the replay
 * of the log up to it. Each problem found is passed to report(arg, line)
 * (report may be NULL); a last line summarises. Returns 0 if clean,
 * STORE_ECORRUPT if anything is wrong, or another error if it could not
 * read the database. */
int store_check(store *s, void (*report)(void *arg, const char *line),
                void *arg);

/* Copy everything in 'from' into the empty store 'to' (SQLite or
 * PostgreSQL, either way): users with their password hashes, documents
 * (titles, times, versions, share epochs, trash stamps) with their whole op
 * logs, dedup state and snapshots, tokens, roles and settings, keys kept;
 * then rebuild the search index of 'to' and store_check it. 'to' is
 * written in one transaction, so a failed copy leaves it as it was. Each
 * step and each problem is one line to report (may be NULL). Returns
 * store_check's result, STORE_EEXIST when 'to' holds any user or document,
 * STORE_EINVAL when the two are at different schemas, or the error that
 * stopped it. (store_copy.c) */
int store_copy(store *from, store *to,
               void (*report)(void *arg, const char *line), void *arg);

/* ---- Group-commit writer ------------------------------------------------ */

typedef enum store_job_kind {
    STORE_JOB_APPEND = 1, /* store_append of job->rec */
    STORE_JOB_SNAPSHOT,   /* store_snapshot_put of job->snap */
    STORE_JOB_DOC_CREATE, /* store_doc_create of job->doc */
    STORE_JOB_DOC_TITLE,  /* store_doc_set_title of job->doc */
    STORE_JOB_DOC_DELETE  /* store_doc_delete of job->doc.id */
} store_job_kind;

/* A unit of work for the writer, allocated by the caller. Between
 * store_writer_submit and its return by store_writer_drain the writer owns
 * it; everything it points to must stay valid until then. */
typedef struct store_job {
    struct store_job *next; /* the writer's link */
    store_job_kind kind;
    int result;             /* set by the writer: 0 or STORE_E* */
    void *ctx;              /* the caller's, untouched */
    store_oprec rec;        /* APPEND */
    int fresh;              /* APPEND: clears a refused document (below) */
    struct {
        const char *doc;
        int64_t version;
        const char *text;
        size_t bytes;
    } snap;                 /* SNAPSHOT */
    struct {
        const char *id;
        const char *title;   /* DOC_CREATE, DOC_TITLE */
        const char *creator; /* DOC_CREATE */
        int64_t now_ms;      /* DOC_CREATE, DOC_TITLE */
    } doc;                  /* DOC_* */
} store_job;

typedef struct store_writer store_writer;

typedef struct store_writer_stats {
    uint64_t commits;        /* transactions committed */
    uint64_t jobs_committed; /* jobs in them (including logical failures) */
    uint64_t jobs_failed;    /* jobs with result != 0 */
    uint64_t failed_commits; /* transactions that failed (disk trouble) */
    uint64_t last_batch;     /* jobs in the last transaction */
    uint64_t max_batch;
    uint64_t queued;         /* submitted, not yet done */
    uint64_t checkpoints;    /* WAL checkpoints by the background thread */
    uint64_t commit_us;      /* time spent in transactions (BEGIN to the
                              * end of COMMIT, its fsync included) */
    uint64_t snapshot_failures; /* auto snapshots skipped: log not replaying
                                 * (store_check tells more) */
} store_writer_stats;

/* Open two connections to 'path' (as store_open) and start the writer
 * thread and its checkpoint thread. After each transaction the writer
 * calls wake(arg) from its thread (wake may be NULL): it must only signal,
 * e.g. lws_cancel_service. Returns NULL on failure with 'err' set. */
store_writer *store_writer_new(const char *path, const store_options *opt,
                               void (*wake)(void *arg), void *arg, char *err,
                               size_t errlen);

/* Queue 'job' (thread-safe). Returns 0, STORE_EINVAL (NULL or bad kind), or
 * STORE_ESTOPPED after store_writer_stop; then the job stays the caller's.
 * Each kind does what the function it names does, with the same errors.
 * The writer commits every queued job in one transaction; a job's result is
 * its own logical error (STORE_ECONFLICT, STORE_EDUP, ...: it changed
 * nothing, the others commit), or, if the transaction failed, the disk error
 * (STORE_EFULL, STORE_EIO, STORE_EREADONLY, STORE_EBUSY) for every job in
 * it. A result of 0 means committed.
 *
 * Once an APPEND of a document is refused with STORE_ECONFLICT or
 * STORE_EDUP (another writer took that version: another process, or
 * another node on a shared store), every later APPEND of that document is
 * refused with STORE_ECONFLICT, writing nothing, until one comes with
 * 'fresh' set: the ops queued behind a refused one were made on top of it
 * and must not land on someone else's op. A session sets 'fresh' on its
 * first APPEND and on the first after it has caught up. */
int store_writer_submit(store_writer *w, store_job *job);

/* Take the completed jobs, in submission order, as a list linked by 'next'
 * (NULL if none). The caller owns them again. Thread-safe. */
store_job *store_writer_drain(store_writer *w);

/* Counters (thread-safe snapshot of them). */
void store_writer_stats_get(store_writer *w, store_writer_stats *out);

/* Refuse new jobs, commit everything queued, stop the thread. Completed
 * jobs stay available to store_writer_drain. Idempotent. */
void store_writer_stop(store_writer *w);

/* store_writer_stop, then close and free. Jobs not drained are forgotten
 * (they are the caller's memory). Accepts NULL. */
void store_writer_free(store_writer *w);

/* ---- Reader pool -------------------------------------------------------- */

typedef struct store_task {
    struct store_task *next;                   /* the pool's link */
    int (*run)(store *s, struct store_task *t); /* runs on a pool thread */
    int result;                                /* run's return value */
    void *ctx;                                 /* the caller's */
    int light;    /* 1: a small periodic task (a poll): it does not keep the
                     thread's idle page cache from being given back (read
                     after run, which may clear it once it did real work) */
} store_task;

typedef struct store_pool store_pool;

/* Start 'nthreads' threads (>= 1), each with its own connection to 'path'.
 * wake(arg) is called from a pool thread after each task finishes. NULL on
 * failure with 'err' set. */
store_pool *store_pool_new(const char *path, const store_options *opt,
                           int nthreads, void (*wake)(void *arg), void *arg,
                           char *err, size_t errlen);

/* Queue 'task' (thread-safe); the pool owns it until drained. Returns 0,
 * STORE_EINVAL (NULL task or run), STORE_ESTOPPED while stopping. A task's
 * run must use only the store it is given, and only during the call. */
int store_pool_submit(store_pool *p, store_task *task);

/* Take the finished tasks, in the order they finished (NULL if none). */
store_task *store_pool_drain(store_pool *p);

/* Refuse new tasks, run those queued, join the threads. Idempotent. */
void store_pool_stop(store_pool *p);

/* store_pool_stop, close the connections, free. Accepts NULL. */
void store_pool_free(store_pool *p);

/* ---- Accounts, tokens, roles (team mode; store_auth.c) --------------------
 * Storage keeps what it is given: password strings already hashed
 * (crypto_pwhash_str) and token hashes already keyed; the crypto lives in
 * server/auth.c. */

enum { STORE_ROLE_NONE = 0, STORE_ROLE_VIEWER = 1, STORE_ROLE_EDITOR = 2,
       STORE_ROLE_OWNER = 3 };

typedef struct store_user {
    int64_t id;
    char *name;          /* owned */
    int admin;
    int64_t created_ms;
} store_user;

/* Free the strings of one user and zero it / an array of 'n'. */
void store_user_clear(store_user *u);
void store_users_free(store_user *arr, size_t n);

/* Add a user. STORE_EEXIST if the name is taken, STORE_EINVAL for an empty
 * or over-long (64 bytes) name. *id (if not NULL) gets the new id. */
int store_user_add(store *s, const char *name, const char *pwhash, int admin,
                   int64_t now_ms, int64_t *id);
/* Look a user up by name (or by id with store_user_get_id). *pwhash, when
 * pwhash is not NULL, gets a malloc'd copy of the stored hash. */
int store_user_get(store *s, const char *name, store_user *out, char **pwhash);
int store_user_get_id(store *s, int64_t id, store_user *out);
/* Every user, by name. */
int store_user_list(store *s, store_user **out, size_t *n);
int store_user_set_password(store *s, const char *name, const char *pwhash);
/* Revoke every login session of a user (not their API tokens). */
int store_user_logout_all(store *s, const char *name);
/* Remove a user with their tokens and roles. STORE_ENOTFOUND. */
int store_user_remove(store *s, const char *name);

/* Tokens: 'hash' is the keyed hash of the secret ('len' bytes). kind is
 * "session" or "api"; expires_ms 0 never expires. */
int store_token_put(store *s, const unsigned char *hash, size_t len,
                    int64_t user_id, const char *kind, int64_t now_ms,
                    int64_t expires_ms);
/* The user of a live token: STORE_ENOTFOUND when unknown or expired. */
int store_token_user(store *s, const unsigned char *hash, size_t len,
                     int64_t now_ms, int64_t *user_id);
/* The same, and when the token expires (*expires_ms, if not NULL: 0 for
 * never), so a holder of it can be told when its login ends. */
int store_token_lookup(store *s, const unsigned char *hash, size_t len,
                       int64_t now_ms, int64_t *user_id, int64_t *expires_ms);
int store_token_delete(store *s, const unsigned char *hash, size_t len);
/* Delete expired tokens; *n (if not NULL) gets how many. */
int store_tokens_purge(store *s, int64_t now_ms, int64_t *n);

/* A user's role on a document (STORE_ROLE_NONE when none was given). */
int store_role_get(store *s, const char *doc, int64_t user_id, int *role);
/* Give (or with STORE_ROLE_NONE, take away) a role. STORE_ENOTFOUND when
 * the document does not exist. */
int store_role_set(store *s, const char *doc, int64_t user_id, int role);
/* Everyone with a role on 'doc': parallel arrays of *n users and roles. */
int store_role_list(store *s, const char *doc, store_user **users, int **roles,
                    size_t *n);

/* The share-link epoch of a document / bump it (revoking older links). */
int store_share_epoch(store *s, const char *doc, int64_t *epoch);
int store_share_rotate(store *s, const char *doc, int64_t *epoch);

/* The auth generation: a counter that grows in the same transaction as
 * every change that takes a right away (a token deleted, a user removed or
 * no longer admin, a role taken or changed, share links revoked), whichever
 * process made it (triggers of migration 0004). A server that saw it move
 * re-checks what its connections may still do. STORE_ENOTFOUND only on a
 * database from before that migration (store_open applies it). */
int store_auth_generation(store *s, int64_t *gen);

/* Small server settings. get: *value malloc'd (free it), STORE_ENOTFOUND.
 * put_new: STORE_EEXIST when the key is already set (so two processes agree
 * on one first value). */
int store_meta_get(store *s, const char *key, unsigned char **value,
                   size_t *len);
int store_meta_put_new(store *s, const char *key, const unsigned char *value,
                       size_t len);

#endif
