/* pg.h -- the PostgreSQL backend of storage/store.h, never included outside
 * storage/.
 *
 * A store opened on a "postgresql://" or "postgres://" URI holds a libpq
 * connection (store.pg) instead of an sqlite3 handle, and every public
 * store_* function hands over to its store_pg__* twin here, with the same
 * contract (storage/store.h). libpq calls block: a store is used by one
 * thread at a time, as on SQLite (the writer's and each pool thread's own
 * connection; never the server's event loop). Key invariant: PostgreSQL
 * orders each document: version V is appended only while the head is V-1,
 * in one statement that takes the document row's lock (chorus_append,
 * migrations/pg/0001), so two nodes can never both take a version. */
#ifndef CHORUS_STORAGE_PG_H
#define CHORUS_STORAGE_PG_H

#include "storage/store_int.h"

/* Does 'path' name a PostgreSQL database (a postgres[ql]:// URI)? */
int store_pg__is_uri(const char *path);

/* Connect 's' to 'uri', set synchronous_commit=on and apply the
 * migrations of migrations/pg/ not yet applied (one transaction under an
 * advisory lock). Errors as store_open; 'err' says why. */
int store_pg__open(store *s, const char *uri, char *err, size_t errlen);
void store_pg__close(store *s);
int store_pg__schema_version(store *s);

/* Run 'sql' with the parameters 'fmt' describes: 's' text (NUL-terminated),
 * 'i' int64, 'b' bytes (pointer, then size_t; bytea or text). Returns the
 * result (PQclear it) or NULL with *rc set to a STORE_E* code. A
 * connection found broken outside a transaction is reset first. */
PGresult *store_pg__q(store *s, int *rc, const char *sql, const char *fmt,
                      ...);
/* The same, for a statement whose rows are not wanted: 0, the error, or
 * STORE_ENOTFOUND when it changed no row and 'need_change'. */
int store_pg__exec(store *s, int need_change, const char *sql,
                   const char *fmt, ...);
/* The STORE_E* code of a failed result (a transaction open is then
 * aborted), for statements run with libpq directly. */
int store_pg__result_err(store *s, const PGresult *r);
/* Column helpers on a result: int64 value; malloc'd copy (NULL: ENOMEM). */
int64_t store_pg__int(const PGresult *r, int row, int col);
char *store_pg__dup(const PGresult *r, int row, int col);

/* Transactions. begin: 'read' opens a REPEATABLE READ snapshot for a
 * consistent read. rollback never fails; commit rolls back on failure. */
int store_pg__begin(store *s, int read);
int store_pg__commit(store *s);
void store_pg__rollback(store *s);
/* A savepoint around one job of the writer's batch, so a job refused
 * with an error does not take the batch's other jobs down. */
int store_pg__savepoint(store *s);
int store_pg__savepoint_end(store *s, int undo);

/* The open write transaction's documents (pg_cache.c): append 'r' (valid)
 * as its document's next version, the head kept in memory; the version of
 * a cached document (1 if cached, else 0); write the moved heads and
 * clients (commit does it first); forget them (begin, rollback); free. */
int store_pg__cache_append(store *s, const store_oprec *r);
int store_pg__cache_version(store *s, const char *id, int64_t *version);
int store_pg__cache_flush(store *s);
/* Before the writer runs 'batch': lock and read every document it appends
 * to in one round trip (in id order, so two nodes' batches cannot deadlock
 * on them) and the newest seqs of its clients in another. */
int store_pg__cache_prefetch(store *s, const store_job *batch);
void store_pg__cache_clear(store *s);
void store_pg__cache_free(store *s);

/* The public functions, same contracts as storage/store.h. */
int store_pg__doc_create(store *s, const char *id, const char *title,
                         const char *creator, int64_t now_ms);
int store_pg__doc_get(store *s, const char *id, store_docinfo *out);
int store_pg__doc_list(store *s, store_docinfo **out, size_t *n);
int store_pg__doc_set_title(store *s, const char *id, const char *title,
                            int64_t now_ms);
int store_pg__doc_delete(store *s, const char *id);
int store_pg__doc_create_with(store *s, const char *id, const char *title,
                              const char *creator, int64_t now_ms,
                              int64_t owner, const store_oprec *recs,
                              size_t n);
int store_pg__doc_version(store *s, const char *doc, int64_t *version);
int store_pg__append_tx(store *s, const store_oprec *r);
int store_pg__append(store *s, const store_oprec *recs, size_t n);
int store_pg__ops_after(store *s, const char *doc, int64_t after_version,
                        int64_t limit, store_oprec **out, size_t *n);
int store_pg__find_seq(store *s, const char *doc, const char *client,
                       int64_t seq, int64_t *version);
int store_pg__client_last(store *s, const char *doc, const char *client,
                          int64_t *seq, int64_t *version);
int store_pg__snapshot_put_tx(store *s, const char *doc, int64_t version,
                              const char *text, size_t bytes);
int store_pg__snapshot_put(store *s, const char *doc, int64_t version,
                           const char *text, size_t bytes);
int store_pg__text_at_tx(store *s, const char *doc, int64_t version,
                         char **text, size_t *bytes);
int store_pg__text_at(store *s, const char *doc, int64_t version, char **text,
                      size_t *bytes);
int store_pg__load(store *s, const char *doc, char **text, size_t *bytes,
                   int64_t *version);

int store_pg__doc_trashed(store *s, const char *id, int64_t *trashed_ms);
int store_pg__doc_trash(store *s, const char *id, int64_t now_ms);
int store_pg__doc_untrash(store *s, const char *id);
int store_pg__doc_purge(store *s, const char *id);
int store_pg__trash_expire(store *s, int64_t before_ms, int64_t *purged);
int store_pg__trash_list(store *s, int64_t user_id, store_trashinfo **out,
                         size_t *n);

int store_pg__search_stale(store *s, int64_t quiet_before_ms, size_t max,
                           store_docid **ids, size_t *n);
int store_pg__search_put(store *s, const char *id, int64_t version,
                         const char *text, size_t bytes);
int store_pg__search_reindex(store *s, int64_t *count);
int store_pg__search_query(store *s, const char *q, int64_t user_id,
                           size_t limit, store_hit **out, size_t *n);

int store_pg__user_add(store *s, const char *name, const char *pwhash,
                       int admin, int64_t now_ms, int64_t *id);
int store_pg__user_get(store *s, const char *name, store_user *out,
                       char **pwhash);
int store_pg__user_get_id(store *s, int64_t id, store_user *out);
int store_pg__user_list(store *s, store_user **out, size_t *n);
int store_pg__user_set_password(store *s, const char *name,
                                const char *pwhash);
int store_pg__user_logout_all(store *s, const char *name);
int store_pg__user_remove(store *s, const char *name);
int store_pg__token_put(store *s, const unsigned char *hash, size_t len,
                        int64_t user_id, const char *kind, int64_t now_ms,
                        int64_t expires_ms);
int store_pg__token_lookup(store *s, const unsigned char *hash, size_t len,
                           int64_t now_ms, int64_t *user_id,
                           int64_t *expires_ms);
int store_pg__token_delete(store *s, const unsigned char *hash, size_t len);
int store_pg__tokens_purge(store *s, int64_t now_ms, int64_t *n);
int store_pg__role_get(store *s, const char *doc, int64_t user_id, int *role);
int store_pg__role_set(store *s, const char *doc, int64_t user_id, int role);
int store_pg__role_list(store *s, const char *doc, store_user **users,
                        int **roles, size_t *n);
int store_pg__share_epoch(store *s, const char *doc, int64_t *epoch);
int store_pg__share_rotate(store *s, const char *doc, int64_t *epoch);
int store_pg__auth_generation(store *s, int64_t *gen);
int store_pg__meta_get(store *s, const char *key, unsigned char **value,
                       size_t *len);
int store_pg__meta_put_new(store *s, const char *key,
                           const unsigned char *value, size_t len);

int store_pg__check(store *s, void (*report)(void *arg, const char *line),
                    void *arg);

#endif
