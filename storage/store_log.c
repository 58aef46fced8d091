/* store_log.c -- the op log: append, catch-up/history pages, dedup lookups.
 *
 * An append checks the version against the document's current one (held in
 * the write transaction's documents cache, written back at commit), then
 * claims the op's seq for its client in op_clients (refused unless it is
 * above the client's newest: a resend) and inserts the op row, whose key
 * refuses a taken version. A refused op leaves the open transaction exactly
 * as it was, which lets the writer refuse one job and still commit the
 * others of its batch. */
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

static int valid_rec(const store_oprec *r)
{
    return r && r->doc && *r->doc && r->op && r->client && r->user &&
           r->version >= 1;
}

/* Is r a resend, its seq not above its client's newest? For the reason
 * an op was refused (no pass over the log, unlike store_find_seq). */
static int resent(store *s, const store_oprec *r)
{
    int64_t last, v;
    return store_client_last(s, r->doc, r->client, &last, &v) == 0 &&
           r->seq <= last;
}

/* Make r->seq its client's newest on document 'num': STORE_EDUP (nothing
 * changed) unless it is above the one stored. */
static int claim_seq(store *s, const store_oprec *r, int64_t num)
{
    sqlite3_stmt *st = store__stmt(s, ST_CLIENT_CLAIM);
    int rc;
    if (!st) return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_int64(st, 1, num);
    sqlite3_bind_text(st, 2, r->client, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->seq);
    sqlite3_bind_int64(st, 4, r->version);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return STORE_ENOTFOUND;
    if (rc != SQLITE_DONE) return store__err(rc);
    return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_EDUP;
}

/* Insert the op row. Called after next_version and claim_seq agreed, so a
 * refusal here means the documents row and the log disagree: the
 * transaction (which claimed the seq) must not commit. */
static int insert_op(store *s, const store_oprec *r, int64_t num)
{
    sqlite3_stmt *st = store__stmt(s, ST_OP_INSERT);
    int rc;
    if (!st) return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_int64(st, 1, num);
    sqlite3_bind_int64(st, 2, r->version);
    sqlite3_bind_text(st, 3, r->op, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->client, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->seq);
    sqlite3_bind_text(st, 6, r->user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->time_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_OK;
    return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_ECORRUPT : store__err(rc);
}

/* With auto_snapshot, write the snapshot due at r->version. A log that does
 * not replay is not this op's fault and is left for store_check to report:
 * the op still commits, the snapshot is skipped and counted. */
static int auto_snapshot(store *s, const store_oprec *r)
{
    char *text;
    size_t bytes;
    int rc;
    if (!s->opt.auto_snapshot || r->version % s->opt.snapshot_every) return 0;
    rc = store__text_at_tx(s, r->doc, r->version, &text, &bytes);
    if (rc == STORE_ECORRUPT) {
        s->snapshot_failures++;
        return STORE_OK;
    }
    if (rc) return rc;
    rc = store__snapshot_put_tx(s, r->doc, r->version, text, bytes);
    free(text);
    return rc;
}

/* Is r->version the next one of its document? The reason if not. */
static int next_version(store *s, const store_oprec *r, store__dent *e)
{
    if (r->version == e->version + 1) return STORE_OK;
    if (r->version > e->version) return STORE_ERANGE;
    return resent(s, r) ? STORE_EDUP : STORE_ECONFLICT;
}

int store__append_tx(store *s, const store_oprec *r)
{
    store__dent *e;
    int rc;
    if (!valid_rec(r)) return STORE_EINVAL;
    if (s && s->pg) return store_pg__append_tx(s, r);
    if ((rc = store__dc_get(s, r->doc, &e))) return rc;
    if ((rc = next_version(s, r, e))) return rc;
    if ((rc = claim_seq(s, r, e->num))) return rc;
    if ((rc = insert_op(s, r, e->num))) return rc;
    e->version = r->version;
    if (r->time_ms > e->updated_ms) e->updated_ms = r->time_ms;
    e->dirty = 1;
    return auto_snapshot(s, r);
}

int store_append(store *s, const store_oprec *recs, size_t n)
{
    int rc;
    if (!s || (!recs && n)) return STORE_EINVAL;
    if (s && s->pg) return store_pg__append(s, recs, n);
    if (!n) return STORE_OK;
    if ((rc = store__begin(s, 1))) return rc;
    for (size_t i = 0; i < n && !rc; i++) rc = store__append_tx(s, &recs[i]);
    if (!rc) rc = store__commit(s);
    if (rc) store__rollback(s);
    return rc;
}

void store_oprecs_free(store_oprec *recs)
{
    free(recs);
}

/* Bytes of the strings of one ST_OPS_AFTER row, NULs included. */
static size_t row_bytes(sqlite3_stmt *st)
{
    return (size_t)sqlite3_column_bytes(st, 1) +
           (size_t)sqlite3_column_bytes(st, 2) +
           (size_t)sqlite3_column_bytes(st, 4) + 3;
}

static char *put_col(char **at, sqlite3_stmt *st, int i)
{
    char *p = *at;
    size_t len = (size_t)sqlite3_column_bytes(st, i);
    if (len) memcpy(p, sqlite3_column_text(st, i), len);
    p[len] = '\0';
    *at = p + len + 1;
    return p;
}

/* Lay the rows out as one block: the array, then the doc id, then the
 * strings of each record. Two passes over the rows of one transaction. */
static int ops_block(sqlite3_stmt *st, const char *doc,
                     store_oprec **out, size_t *n)
{
    size_t count = 0, bytes = strlen(doc) + 1, i = 0;
    store_oprec *recs;
    char *at;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        count++;
        bytes += row_bytes(st);
    }
    if (rc != SQLITE_DONE) return store__err(rc);
    if (!count) return STORE_OK;
    if (!(recs = malloc(count * sizeof *recs + bytes))) return STORE_ENOMEM;
    at = (char *)(recs + count);
    memcpy(at, doc, strlen(doc) + 1);
    at += strlen(doc) + 1;
    sqlite3_reset(st);
    while (i < count && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_oprec *r = &recs[i++];
        r->doc = (const char *)(recs + count);
        r->version = sqlite3_column_int64(st, 0);
        r->op = put_col(&at, st, 1);
        r->client = put_col(&at, st, 2);
        r->seq = sqlite3_column_int64(st, 3);
        r->user = put_col(&at, st, 4);
        r->time_ms = sqlite3_column_int64(st, 5);
    }
    if (i < count) {
        free(recs);
        return rc == SQLITE_DONE ? STORE_ESQL : store__err(rc);
    }
    *out = recs;
    *n = count;
    return STORE_OK;
}

int store_ops_after(store *s, const char *doc, int64_t after_version,
                    int64_t limit, store_oprec **out, size_t *n)
{
    sqlite3_stmt *st;
    int64_t v;
    int rc, began;
    if (!out || !n) return STORE_EINVAL;
    *out = NULL;
    *n = 0;
    if (!s || !doc) return STORE_EINVAL;
    if (s && s->pg) return store_pg__ops_after(s, doc, after_version, limit, out, n);
    if ((rc = store__read_begin(s, &began))) return rc;
    rc = store__doc_version(s, doc, &v);
    if (!rc && !(st = store__stmt(s, ST_OPS_AFTER)))
        rc = store__err(sqlite3_errcode(s->db));
    if (!rc) {
        sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, after_version);
        sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
        rc = ops_block(st, doc, out, n);
        sqlite3_reset(st);
    }
    store__read_end(s, began);
    return rc;
}

int store_find_seq(store *s, const char *doc, const char *client,
                   int64_t seq, int64_t *version)
{
    sqlite3_stmt *st;
    int64_t last, v;
    int rc;
    if (!s || !doc || !client || !version) return STORE_EINVAL;
    if (s && s->pg) return store_pg__find_seq(s, doc, client, seq, version);
    rc = store_client_last(s, doc, client, &last, &v);
    if (rc || seq > last) return rc ? rc : STORE_ENOTFOUND;
    if (seq == last) {
        *version = v;
        return STORE_OK;
    }
    /* an older op of the client: read the document's log for it */
    if (!(st = store__stmt(s, ST_FIND_SEQ)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    return rc == SQLITE_DONE ? STORE_ENOTFOUND : store__err(rc);
}

int store_client_last(store *s, const char *doc, const char *client,
                      int64_t *seq, int64_t *version)
{
    sqlite3_stmt *st;
    int rc;
    if (!s || !doc || !client || !seq || !version) return STORE_EINVAL;
    if (s && s->pg) return store_pg__client_last(s, doc, client, seq, version);
    if (!(st = store__stmt(s, ST_CLIENT_LAST)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        *version = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    return rc == SQLITE_DONE ? STORE_ENOTFOUND : store__err(rc);
}
