/* store_snap.c -- snapshots, and the text of a document at any version.
 *
 * The text at version V is rebuilt from the nearest snapshot at or below V
 * (or the empty text at version 0) by replaying the logged ops after it
 * with ot/. All reads of one rebuild happen in one transaction, so a
 * concurrent writer cannot slip ops in between. A stored op or snapshot
 * that does not replay is reported as STORE_ECORRUPT, never papered over. */
#include <stdlib.h>

#include "ot/ot.h"
#include "storage/pg/pg.h"
#include "storage/store_int.h"

static int ot_err(int err)
{
    return err == OT_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
}

/* A new ot_doc of the snapshot of 'doc' at or below 'version' (the empty
 * document if none); its version goes to *base. */
static int load_base(store *s, const char *doc, int64_t version,
                     ot_doc **d, int64_t *base)
{
    sqlite3_stmt *st = store__stmt(s, ST_SNAP_AT_OR_BELOW);
    const char *text = NULL;
    size_t bytes = 0;
    int rc;
    if (!st) return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    rc = sqlite3_step(st);
    *base = 0;
    if (rc == SQLITE_ROW) {
        *base = sqlite3_column_int64(st, 0);
        text = (const char *)sqlite3_column_text(st, 1);
        bytes = (size_t)sqlite3_column_bytes(st, 1);
        if (text && ot_utf8_validate(text, bytes, NULL)) rc = SQLITE_CORRUPT;
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *d = ot_doc_new(text, bytes);
        rc = *d ? STORE_OK : STORE_ENOMEM;
    } else {
        rc = store__err(rc);
    }
    sqlite3_reset(st);
    return rc;
}

/* Apply the ops (from, to] of 'doc' to 'd'; they must all be there. */
static int replay(store *s, const char *doc, ot_doc *d, int64_t from,
                  int64_t to)
{
    sqlite3_stmt *st = store__stmt(s, ST_OPS_RANGE);
    int64_t expect = from + 1;
    ot_op *op;
    int rc;
    if (!st) return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 0) != expect) break;
        rc = ot_op_parse(&op, (const char *)sqlite3_column_text(st, 1),
                         (size_t)sqlite3_column_bytes(st, 1));
        if (!rc) {
            rc = ot_doc_apply(d, op);
            ot_op_free(op);
        }
        if (rc) break;
        expect++;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_ECORRUPT; /* a gap in the log */
    if (rc < 0) return ot_err(rc);
    if (rc != SQLITE_DONE) return store__err(rc);
    return expect == to + 1 ? STORE_OK : STORE_ECORRUPT;
}

int store__text_at_tx(store *s, const char *doc, int64_t version,
                      char **text, size_t *bytes)
{
    ot_doc *d = NULL;
    int64_t cur, base = 0;
    if (s && s->pg) return store_pg__text_at_tx(s, doc, version, text, bytes);
    int rc = store__doc_version(s, doc, &cur);
    if (rc) return rc;
    if (version < 0 || version > cur) return STORE_ERANGE;
    if (!(rc = load_base(s, doc, version, &d, &base)))
        rc = replay(s, doc, d, base, version);
    if (!rc && !(*text = ot_doc_text(d, bytes))) rc = STORE_ENOMEM;
    ot_doc_free(d);
    return rc;
}

int store_text_at(store *s, const char *doc, int64_t version, char **text,
                  size_t *bytes)
{
    size_t ignored;
    int rc, began;
    if (!text) return STORE_EINVAL;
    *text = NULL;
    if (!s || !doc) return STORE_EINVAL;
    if (s && s->pg) return store_pg__text_at(s, doc, version, text, bytes);
    if ((rc = store__read_begin(s, &began))) return rc;
    rc = store__text_at_tx(s, doc, version, text, bytes ? bytes : &ignored);
    store__read_end(s, began);
    return rc;
}

int store_load(store *s, const char *doc, char **text, size_t *bytes,
               int64_t *version)
{
    size_t ignored;
    int64_t cur;
    int rc, began;
    if (!text) return STORE_EINVAL;
    *text = NULL;
    if (!s || !doc) return STORE_EINVAL;
    if (s && s->pg) return store_pg__load(s, doc, text, bytes, version);
    if ((rc = store__read_begin(s, &began))) return rc;
    rc = store__doc_version(s, doc, &cur);
    if (!rc)
        rc = store__text_at_tx(s, doc, cur, text, bytes ? bytes : &ignored);
    if (!rc && version) *version = cur;
    store__read_end(s, began);
    return rc;
}

int store__snapshot_put_tx(store *s, const char *doc, int64_t version,
                           const char *text, size_t bytes)
{
    sqlite3_stmt *st;
    int64_t cur;
    int rc;
    if (s && s->pg) return store_pg__snapshot_put_tx(s, doc, version, text, bytes);
    if (!doc || version < 0 || (!text && bytes) || bytes > INT32_MAX)
        return STORE_EINVAL;
    if (text && ot_utf8_validate(text, bytes, NULL)) return STORE_EINVAL;
    if ((rc = store__doc_version(s, doc, &cur))) return rc;
    if (version > cur) return STORE_ERANGE;
    if (!(st = store__stmt(s, ST_SNAP_PUT)))
        return store__err(sqlite3_errcode(s->db));
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_text(st, 3, text ? text : "", (int)bytes, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : store__err(rc);
}

int store_snapshot_put(store *s, const char *doc, int64_t version,
                       const char *text, size_t bytes)
{
    int rc;
    if (!s) return STORE_EINVAL;
    if (s && s->pg) return store_pg__snapshot_put(s, doc, version, text, bytes);
    if ((rc = store__begin(s, 1))) return rc;
    rc = store__snapshot_put_tx(s, doc, version, text, bytes);
    if (!rc) rc = store__commit(s);
    if (rc) store__rollback(s);
    return rc;
}
