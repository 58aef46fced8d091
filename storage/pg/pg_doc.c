/* pg_doc.c -- documents, the op log, snapshots and texts on PostgreSQL.
 *
 * An append checks the document's head and its client's newest seq (kept
 * by pg_cache.c for the open transaction, the row locked at first touch)
 * and inserts the op, or changes nothing and says why (STORE_ECONFLICT,
 * EDUP, ERANGE, ENOTFOUND); the head is written at commit. Reads that need a consistent view of several
 * statements (a text rebuilt from a snapshot and the ops after it, a page
 * of the log) run in one REPEATABLE READ transaction, unless the caller
 * already holds one (the writer's, for auto snapshots). Texts are rebuilt
 * with ot/ exactly as on SQLite; snapshots are bytes (bytea). */
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"
#include "storage/pg/pg.h"

#define DOC_COLS "id, title, creator, created_ms, updated_ms, version"

static int read_docinfo(const PGresult *r, int row, store_docinfo *d)
{
    d->id = store_pg__dup(r, row, 0);
    d->title = store_pg__dup(r, row, 1);
    d->creator = store_pg__dup(r, row, 2);
    d->created_ms = store_pg__int(r, row, 3);
    d->updated_ms = store_pg__int(r, row, 4);
    d->version = store_pg__int(r, row, 5);
    if (d->id && d->title && d->creator) return STORE_OK;
    store_docinfo_clear(d);
    return STORE_ENOMEM;
}

int store_pg__doc_create(store *s, const char *id, const char *title,
                         const char *creator, int64_t now_ms)
{
    if (!id || !*id) return STORE_EINVAL;
    int rc = store_pg__exec(s, 1, "INSERT INTO documents(id, title, creator,"
                            " created_ms, updated_ms) VALUES ($1, $2, $3, $4,"
                            " $4) ON CONFLICT (id) DO NOTHING", "sssi", id,
                            title ? title : "", creator ? creator : "",
                            now_ms);
    return rc == STORE_ENOTFOUND ? STORE_EEXIST : rc;
}

int store_pg__doc_get(store *s, const char *id, store_docinfo *out)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT " DOC_COLS " FROM documents"
                              " WHERE id = $1 AND trashed_ms = 0", "s", id);
    if (!r) return rc;
    rc = PQntuples(r) ? read_docinfo(r, 0, out) : STORE_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg__doc_list(store *s, store_docinfo **out, size_t *n)
{
    int rc = 0;
    PGresult *r = store_pg__q(s, &rc, "SELECT " DOC_COLS " FROM documents"
                              " WHERE trashed_ms = 0"
                              " ORDER BY updated_ms DESC, id", "");
    if (!r) return rc;
    size_t rows = (size_t)PQntuples(r), i = 0;
    store_docinfo *arr = rows ? calloc(rows, sizeof *arr) : NULL;
    if (rows && !arr) rc = STORE_ENOMEM;
    for (; i < rows && !rc; i++) rc = read_docinfo(r, (int)i, &arr[i]);
    PQclear(r);
    if (rc) {
        store_docinfo_free(arr, rows);
        return rc;
    }
    *out = arr;
    *n = rows;
    return STORE_OK;
}

int store_pg__doc_set_title(store *s, const char *id, const char *title,
                            int64_t now_ms)
{
    return store_pg__exec(s, 1, "UPDATE documents SET title = $2, updated_ms"
                          " = GREATEST(updated_ms, $3) WHERE id = $1 AND"
                          " trashed_ms = 0", "ssi", id, title, now_ms);
}

int store_pg__doc_delete(store *s, const char *id)
{
    int rc = store_pg__cache_flush(s); /* no cached head outlives its row */
    if (rc) return rc;
    return store_pg__exec(s, 1, "DELETE FROM documents WHERE id = $1", "s",
                          id);
}

int store_pg__doc_version(store *s, const char *doc, int64_t *version)
{
    int rc;
    if (store_pg__cache_version(s, doc, version)) return STORE_OK;
    PGresult *r = store_pg__q(s, &rc, "SELECT version FROM documents WHERE"
                              " id = $1", "s", doc);
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) *version = store_pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

/* With auto_snapshot, the snapshot due at r->version (as store_log.c). */
static int auto_snapshot(store *s, const store_oprec *r)
{
    char *text;
    size_t bytes;
    int rc;
    if (!s->opt.auto_snapshot || r->version % s->opt.snapshot_every) return 0;
    rc = store_pg__text_at_tx(s, r->doc, r->version, &text, &bytes);
    if (rc == STORE_ECORRUPT) {
        s->snapshot_failures++;
        return STORE_OK;
    }
    if (rc) return rc;
    rc = store_pg__snapshot_put_tx(s, r->doc, r->version, text, bytes);
    free(text);
    return rc;
}

int store_pg__append_tx(store *s, const store_oprec *r)
{
    int rc;
    if (!r || !r->doc || !*r->doc || !r->op || !r->client || !r->user ||
        r->version < 1)
        return STORE_EINVAL;
    rc = store_pg__cache_append(s, r);
    return rc ? rc : auto_snapshot(s, r);
}

int store_pg__append(store *s, const store_oprec *recs, size_t n)
{
    int rc;
    if (!recs && n) return STORE_EINVAL;
    if (!n) return STORE_OK;
    if ((rc = store_pg__begin(s, 0))) return rc;
    for (size_t i = 0; i < n && !rc; i++) rc = store_pg__append_tx(s, &recs[i]);
    if (!rc) rc = store_pg__commit(s);
    if (rc) store_pg__rollback(s);
    return rc;
}

int store_pg__doc_create_with(store *s, const char *id, const char *title,
                              const char *creator, int64_t now_ms,
                              int64_t owner, const store_oprec *recs,
                              size_t n)
{
    int rc;
    if (!id || !*id || (!recs && n)) return STORE_EINVAL;
    if ((rc = store_pg__begin(s, 0))) return rc;
    rc = store_pg__doc_create(s, id, title, creator, now_ms);
    if (!rc && owner > 0)
        rc = store_pg__exec(s, 0, "INSERT INTO roles(doc, user_id, role)"
                            " SELECT num, $2, 3 FROM documents WHERE id = $1",
                            "si", id, owner);
    for (size_t i = 0; i < n && !rc; i++) rc = store_pg__append_tx(s, &recs[i]);
    if (!rc) rc = store_pg__commit(s);
    if (rc) store_pg__rollback(s);
    return rc;
}

/* One read transaction unless the caller holds one (*began says). */
static int read_begin(store *s, int *began)
{
    *began = !s->pg_tx;
    return *began ? store_pg__begin(s, 1) : STORE_OK;
}

static void read_end(store *s, int began)
{
    if (began) store_pg__rollback(s);
}

/* Lay the rows out as one block: the array, the doc id, the strings. */
static int ops_block(const PGresult *r, const char *doc, store_oprec **out,
                     size_t *n)
{
    size_t count = (size_t)PQntuples(r), bytes = strlen(doc) + 1;
    if (!count) return STORE_OK;
    for (size_t i = 0; i < count; i++)
        bytes += (size_t)PQgetlength(r, (int)i, 1) +
                 (size_t)PQgetlength(r, (int)i, 2) +
                 (size_t)PQgetlength(r, (int)i, 4) + 3;
    store_oprec *recs = malloc(count * sizeof *recs + bytes);
    if (!recs) return STORE_ENOMEM;
    char *at = (char *)(recs + count);
    memcpy(at, doc, strlen(doc) + 1);
    at += strlen(doc) + 1;
    for (size_t i = 0; i < count; i++) {
        store_oprec *o = &recs[i];
        int cols[3] = {1, 2, 4};
        const char **dst[3] = {&o->op, &o->client, &o->user};
        o->doc = (const char *)(recs + count);
        o->version = store_pg__int(r, (int)i, 0);
        o->seq = store_pg__int(r, (int)i, 3);
        o->time_ms = store_pg__int(r, (int)i, 5);
        for (int k = 0; k < 3; k++) {
            size_t len = (size_t)PQgetlength(r, (int)i, cols[k]);
            memcpy(at, PQgetvalue(r, (int)i, cols[k]), len);
            at[len] = '\0';
            *dst[k] = at;
            at += len + 1;
        }
    }
    *out = recs;
    *n = count;
    return STORE_OK;
}

int store_pg__ops_after(store *s, const char *doc, int64_t after_version,
                        int64_t limit, store_oprec **out, size_t *n)
{
    int64_t v;
    int rc, began;
    if ((rc = read_begin(s, &began))) return rc;
    rc = store_pg__doc_version(s, doc, &v);
    if (!rc) {
        PGresult *r = store_pg__q(
            s, &rc, "SELECT o.version, o.op, o.client, o.seq, o.\"user\","
            " o.time_ms FROM ops o JOIN documents d ON d.num = o.doc"
            " WHERE d.id = $1 AND o.version > $2 ORDER BY o.version"
            " LIMIT CASE WHEN $3::bigint > 0 THEN $3::bigint END",
            "sii", doc, after_version, limit);
        if (r) rc = ops_block(r, doc, out, n);
        PQclear(r);
    }
    read_end(s, began);
    return rc;
}

int store_pg__client_last(store *s, const char *doc, const char *client,
                          int64_t *seq, int64_t *version)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT c.seq, c.version FROM"
                              " op_clients c JOIN documents d ON d.num = c.doc"
                              " WHERE d.id = $1 AND c.client = $2", "ss", doc,
                              client);
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) {
        *seq = store_pg__int(r, 0, 0);
        *version = store_pg__int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int store_pg__find_seq(store *s, const char *doc, const char *client,
                       int64_t seq, int64_t *version)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT o.version FROM ops o JOIN"
                              " documents d ON d.num = o.doc WHERE d.id = $1"
                              " AND o.client = $2 AND o.seq = $3", "ssi", doc,
                              client, seq);
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) *version = store_pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_pg__snapshot_put_tx(store *s, const char *doc, int64_t version,
                              const char *text, size_t bytes)
{
    int64_t cur;
    int rc;
    if (!doc || version < 0 || (!text && bytes) || bytes > INT32_MAX)
        return STORE_EINVAL;
    if (text && ot_utf8_validate(text, bytes, NULL)) return STORE_EINVAL;
    if ((rc = store_pg__doc_version(s, doc, &cur))) return rc;
    if (version > cur) return STORE_ERANGE;
    return store_pg__exec(s, 0, "INSERT INTO snapshots(doc, version, text)"
                          " SELECT num, $2, $3 FROM documents WHERE id = $1"
                          " ON CONFLICT (doc, version) DO UPDATE"
                          " SET text = excluded.text", "sib", doc, version,
                          text, bytes);
}

int store_pg__snapshot_put(store *s, const char *doc, int64_t version,
                           const char *text, size_t bytes)
{
    int rc = store_pg__begin(s, 0);
    if (rc) return rc;
    rc = store_pg__snapshot_put_tx(s, doc, version, text, bytes);
    if (!rc) rc = store_pg__commit(s);
    if (rc) store_pg__rollback(s);
    return rc;
}

/* The snapshot at or below 'version' as a new ot_doc, its version in
 * *base (the empty text at 0 when there is none). */
static int load_base(store *s, const char *doc, int64_t version, ot_doc **d,
                     int64_t *base)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT s.version, s.text FROM"
                              " snapshots s JOIN documents d ON d.num = s.doc"
                              " WHERE d.id = $1 AND s.version <= $2"
                              " ORDER BY s.version DESC LIMIT 1", "si", doc,
                              version);
    if (!r) return rc;
    const char *text = NULL;
    size_t bytes = 0;
    unsigned char *raw = NULL;
    *base = 0;
    if (PQntuples(r)) {
        *base = store_pg__int(r, 0, 0);
        raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1),
                              &bytes);
        text = (const char *)raw;
    }
    PQclear(r);
    if (*base && !raw) return STORE_ENOMEM;
    if (text && ot_utf8_validate(text, bytes, NULL)) rc = STORE_ECORRUPT;
    else rc = (*d = ot_doc_new(text, bytes)) ? STORE_OK : STORE_ENOMEM;
    PQfreemem(raw);
    return rc;
}

/* Apply the ops (from, to] of 'doc' to 'd'; they must all be there. */
static int replay(store *s, const char *doc, ot_doc *d, int64_t from,
                  int64_t to)
{
    int rc;
    if (to <= from) return STORE_OK;
    PGresult *r = store_pg__q(s, &rc, "SELECT o.version, o.op FROM ops o"
                              " JOIN documents d ON d.num = o.doc"
                              " WHERE d.id = $1 AND o.version > $2 AND"
                              " o.version <= $3 ORDER BY o.version", "sii",
                              doc, from, to);
    if (!r) return rc;
    int rows = PQntuples(r);
    rc = rows == to - from ? STORE_OK : STORE_ECORRUPT;
    for (int i = 0; i < rows && !rc; i++) {
        ot_op *op;
        if (store_pg__int(r, i, 0) != from + 1 + i) {
            rc = STORE_ECORRUPT;
            break;
        }
        rc = ot_op_parse(&op, PQgetvalue(r, i, 1),
                         (size_t)PQgetlength(r, i, 1));
        if (!rc) {
            rc = ot_doc_apply(d, op);
            ot_op_free(op);
        }
        if (rc) rc = rc == OT_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
    }
    PQclear(r);
    return rc;
}

int store_pg__text_at_tx(store *s, const char *doc, int64_t version,
                         char **text, size_t *bytes)
{
    ot_doc *d = NULL;
    int64_t cur, base = 0;
    int rc = s->pg_tx ? store_pg__cache_flush(s) : 0; /* ops waiting */
    if (!rc) rc = store_pg__doc_version(s, doc, &cur);
    if (rc) return rc;
    if (version < 0 || version > cur) return STORE_ERANGE;
    if (!(rc = load_base(s, doc, version, &d, &base)))
        rc = replay(s, doc, d, base, version);
    if (!rc && !(*text = ot_doc_text(d, bytes))) rc = STORE_ENOMEM;
    ot_doc_free(d);
    return rc;
}

int store_pg__text_at(store *s, const char *doc, int64_t version, char **text,
                      size_t *bytes)
{
    size_t ignored;
    int began, rc = read_begin(s, &began);
    if (rc) return rc;
    rc = store_pg__text_at_tx(s, doc, version, text, bytes ? bytes : &ignored);
    read_end(s, began);
    return rc;
}

int store_pg__load(store *s, const char *doc, char **text, size_t *bytes,
                   int64_t *version)
{
    int64_t cur;
    size_t ignored;
    int began, rc = read_begin(s, &began);
    if (rc) return rc;
    rc = store_pg__doc_version(s, doc, &cur);
    if (!rc)
        rc = store_pg__text_at_tx(s, doc, cur, text, bytes ? bytes : &ignored);
    if (!rc && version) *version = cur;
    read_end(s, began);
    return rc;
}

/* ---- the trash (as store_trash.c) */

int store_pg__doc_trashed(store *s, const char *id, int64_t *trashed_ms)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "SELECT trashed_ms FROM documents"
                              " WHERE id = $1", "s", id);
    if (!r) return rc;
    rc = PQntuples(r) ? STORE_OK : STORE_ENOTFOUND;
    if (!rc) *trashed_ms = store_pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_pg__doc_trash(store *s, const char *id, int64_t now_ms)
{
    return store_pg__exec(s, 1, "UPDATE documents SET trashed_ms = $2"
                          " WHERE id = $1 AND trashed_ms = 0", "si", id,
                          now_ms);
}

int store_pg__doc_untrash(store *s, const char *id)
{
    return store_pg__exec(s, 1, "UPDATE documents SET trashed_ms = 0"
                          " WHERE id = $1 AND trashed_ms > 0", "s", id);
}

int store_pg__doc_purge(store *s, const char *id)
{
    return store_pg__exec(s, 1, "DELETE FROM documents WHERE id = $1 AND"
                          " trashed_ms > 0", "s", id);
}

int store_pg__trash_expire(store *s, int64_t before_ms, int64_t *purged)
{
    int rc;
    PGresult *r = store_pg__q(s, &rc, "DELETE FROM documents WHERE"
                              " trashed_ms > 0 AND trashed_ms < $1", "i",
                              before_ms);
    if (!r) return rc;
    if (purged) *purged = atoll(PQcmdTuples(r));
    PQclear(r);
    return STORE_OK;
}

int store_pg__trash_list(store *s, int64_t user_id, store_trashinfo **out,
                         size_t *n)
{
    int rc = 0;
    PGresult *r = store_pg__q(
        s, &rc, "SELECT id, title, updated_ms, trashed_ms, version FROM"
        " documents d WHERE trashed_ms > 0 AND ($1::bigint = 0 OR EXISTS"
        " (SELECT 1 FROM roles WHERE doc = d.num AND user_id = $1::bigint"
        " AND role >= 3)) ORDER BY trashed_ms DESC, id", "i", user_id);
    if (!r) return rc;
    size_t rows = (size_t)PQntuples(r), i = 0;
    store_trashinfo *arr = rows ? calloc(rows, sizeof *arr) : NULL;
    if (rows && !arr) rc = STORE_ENOMEM;
    for (; i < rows && !rc; i++) {
        store_trashinfo *t = &arr[i];
        t->id = store_pg__dup(r, (int)i, 0);
        t->title = store_pg__dup(r, (int)i, 1);
        t->updated_ms = store_pg__int(r, (int)i, 2);
        t->trashed_ms = store_pg__int(r, (int)i, 3);
        t->version = store_pg__int(r, (int)i, 4);
        if (!t->id || !t->title) rc = STORE_ENOMEM;
    }
    PQclear(r);
    if (rc) {
        store_trashinfo_free(arr, rows);
        return rc;
    }
    *out = arr;
    *n = rows;
    return STORE_OK;
}
