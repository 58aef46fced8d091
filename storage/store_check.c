/* store_check.c -- verify a database: `chorus check`.
 *
 * Everything derivable is re-derived: SQLite's own integrity and foreign-key
 * checks, then for each document a replay of its whole log from the empty
 * text, in one pass, comparing every snapshot against the replayed text at
 * its version, and documents.version against the last logged version. All
 * of it reads in one transaction, so it is safe against a running server.
 * Each problem becomes one report line; nothing is ever repaired here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"
#include "storage/pg/pg.h"
#include "storage/store_int.h"

typedef struct check_ctx {
    store *s;
    void (*report)(void *arg, const char *line);
    void *arg;
    long problems;
    long docs, ops, snapshots;
} check_ctx;

/* One document's walk: the log and its snapshots, both by version. */
typedef struct doc_walk {
    check_ctx *c;
    const char *id;
    sqlite3_stmt *snaps;
    int snap_rc;  /* SQLITE_ROW while a snapshot is current */
    ot_doc *d;    /* the replayed text */
    int broken;   /* replay stopped: later snapshots cannot be verified */
} doc_walk;

static void say(check_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(check_ctx *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->report) c->report(c->arg, line);
}

/* Run a PRAGMA whose rows are problems (or, for integrity_check, "ok"). */
static int check_pragma(check_ctx *c, const char *sql, int ok_row)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(c->s->db, sql, -1, &st, NULL);
    if (rc) return store__err(rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (ok_row && t && strcmp(t, "ok") == 0) continue;
        c->problems++;
        if (ok_row) say(c, "integrity_check: %s", t ? t : "");
        else say(c, "foreign_key_check: a row of %s references a missing"
                 " row of %s", t ? t : "?", sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STORE_OK : store__err(rc);
}

static void next_snap(doc_walk *w)
{
    w->snap_rc = sqlite3_step(w->snaps);
    if (w->snap_rc == SQLITE_ROW) w->c->snapshots++;
}

/* Compare the snapshots at or below 'version' with the replayed text. */
static int match_snaps(doc_walk *w, int64_t version)
{
    while (w->snap_rc == SQLITE_ROW &&
           sqlite3_column_int64(w->snaps, 0) <= version) {
        int64_t sv = sqlite3_column_int64(w->snaps, 0);
        const void *st = sqlite3_column_text(w->snaps, 1);
        size_t sb = (size_t)sqlite3_column_bytes(w->snaps, 1), bytes;
        char *text;
        if (!w->broken) {
            if (!(text = ot_doc_text(w->d, &bytes))) return STORE_ENOMEM;
            if (bytes != sb || (sb && memcmp(text, st, sb) != 0)) {
                w->c->problems++;
                say(w->c, "document %s: the snapshot at version %lld differs"
                    " from the replay of the log", w->id, (long long)sv);
            }
            free(text);
        }
        next_snap(w);
    }
    return STORE_OK;
}

/* Replay op 'v' (JSON 'op'); a failure breaks the walk, with a report. */
static int replay_op(doc_walk *w, int64_t v, const char *op, size_t bytes)
{
    ot_op *o;
    int rc = ot_op_parse(&o, op, bytes);
    if (!rc) {
        rc = ot_doc_apply(w->d, o);
        ot_op_free(o);
    }
    if (rc == OT_ENOMEM) return STORE_ENOMEM;
    if (rc) {
        w->c->problems++;
        w->broken = 1;
        say(w->c, "document %s: op %lld does not replay (%s); later"
            " snapshots not verified", w->id, (long long)v, ot_strerror(rc));
    }
    return STORE_OK;
}

/* Walk the log rows of 'ops'; *last gets the last logged version. */
static int walk_log(doc_walk *w, sqlite3_stmt *ops, int64_t *last)
{
    int64_t expect = 1, v;
    int rc;
    while ((rc = sqlite3_step(ops)) == SQLITE_ROW) {
        v = sqlite3_column_int64(ops, 0);
        w->c->ops++;
        if (v != expect && !w->broken) {
            w->c->problems++;
            w->broken = 1;
            say(w->c, "document %s: the log jumps from version %lld to %lld;"
                " later snapshots not verified", w->id,
                (long long)expect - 1, (long long)v);
        }
        if (!w->broken &&
            (rc = replay_op(w, v, (const char *)sqlite3_column_text(ops, 1),
                            (size_t)sqlite3_column_bytes(ops, 1))))
            return rc;
        expect = v + 1;
        if ((rc = match_snaps(w, v))) return rc;
    }
    *last = expect - 1;
    return rc == SQLITE_DONE ? STORE_OK : store__err(rc);
}

static int check_doc(check_ctx *c, sqlite3_stmt *ops, sqlite3_stmt *snaps,
                     const char *id, int64_t num, int64_t version)
{
    doc_walk w = { c, id, snaps, SQLITE_DONE, NULL, 0 };
    int64_t last = 0;
    int rc;
    sqlite3_reset(ops);
    sqlite3_reset(snaps);
    sqlite3_bind_int64(ops, 1, num);
    sqlite3_bind_int64(snaps, 1, num);
    if (!(w.d = ot_doc_new(NULL, 0))) return STORE_ENOMEM;
    next_snap(&w);
    rc = match_snaps(&w, 0);
    if (!rc) rc = walk_log(&w, ops, &last);
    ot_doc_free(w.d);
    if (rc) return rc;
    if (last != version) {
        c->problems++;
        say(c, "document %s: its version is %lld but the log ends at %lld",
            id, (long long)version, (long long)last);
    }
    for (; w.snap_rc == SQLITE_ROW; next_snap(&w)) {
        c->problems++;
        say(c, "document %s: a snapshot at version %lld is beyond the log",
            id, (long long)sqlite3_column_int64(snaps, 0));
    }
    return w.snap_rc == SQLITE_DONE ? STORE_OK : store__err(w.snap_rc);
}

static int check_docs(check_ctx *c)
{
    sqlite3_stmt *docs = NULL, *ops = NULL, *snaps = NULL;
    sqlite3 *db = c->s->db;
    int rc = sqlite3_prepare_v2(db, "SELECT id, num, version FROM documents"
                                " ORDER BY id", -1, &docs, NULL);
    if (!rc) rc = sqlite3_prepare_v2(db, "SELECT version, op FROM ops"
                                     " WHERE doc = ?1 ORDER BY version", -1,
                                     &ops, NULL);
    if (!rc) rc = sqlite3_prepare_v2(db, "SELECT version, text FROM"
                                     " snapshots WHERE doc = ?1"
                                     " ORDER BY version", -1, &snaps, NULL);
    rc = store__err(rc);
    while (!rc && (rc = sqlite3_step(docs)) == SQLITE_ROW) {
        c->docs++;
        rc = check_doc(c, ops, snaps,
                       (const char *)sqlite3_column_text(docs, 0),
                       sqlite3_column_int64(docs, 1),
                       sqlite3_column_int64(docs, 2));
    }
    if (rc == SQLITE_DONE) rc = STORE_OK;
    else if (rc > 0) rc = store__err(rc);
    sqlite3_finalize(docs);
    sqlite3_finalize(ops);
    sqlite3_finalize(snaps);
    return rc;
}

/* op_clients must name, for every client of every document, the seq and
 * version of its newest op in the log, and nothing else: resends are
 * recognised by it. */
static int check_op_clients(check_ctx *c)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->s->db,
        "SELECT d.id, x.client FROM"
        " (SELECT doc, client, max(seq) AS seq, version FROM ops"
        "  GROUP BY doc, client) x"
        " LEFT JOIN op_clients o ON o.doc = x.doc AND o.client = x.client"
        " JOIN documents d ON d.num = x.doc"
        " WHERE o.seq IS NOT x.seq OR o.version IS NOT x.version"
        " UNION ALL"
        " SELECT d.id, o.client FROM op_clients o"
        " JOIN documents d ON d.num = o.doc"
        " WHERE NOT EXISTS (SELECT 1 FROM ops WHERE doc = o.doc AND"
        "  client = o.client AND seq = o.seq AND version = o.version)",
        -1, &st, NULL);
    if (rc) return store__err(rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        c->problems++;
        say(c, "document %s: the newest op of client %s is not recorded as"
            " such (op_clients)", (const char *)sqlite3_column_text(st, 0),
            (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STORE_OK : store__err(rc);
}

int store_check(store *s, void (*report)(void *arg, const char *line),
                void *arg)
{
    check_ctx c = { s, report, arg, 0, 0, 0, 0 };
    int rc, began;
    if (!s) return STORE_EINVAL;
    if (s->pg) return store_pg__check(s, report, arg);
    if ((rc = store__read_begin(s, &began))) return rc;
    rc = check_pragma(&c, "PRAGMA integrity_check", 1);
    if (!rc) rc = check_pragma(&c, "PRAGMA foreign_key_check", 0);
    if (!rc) rc = check_docs(&c);
    if (!rc) rc = check_op_clients(&c);
    store__read_end(s, began);
    if (rc) {
        say(&c, "check stopped: %s (%s)", store_strerror(rc),
            sqlite3_errmsg(s->db));
        return rc;
    }
    if (c.problems)
        say(&c, "%ld documents, %ld ops, %ld snapshots: %ld problems",
            c.docs, c.ops, c.snapshots, c.problems);
    else
        say(&c, "%ld documents, %ld ops, %ld snapshots: ok", c.docs, c.ops,
            c.snapshots);
    return c.problems ? STORE_ECORRUPT : STORE_OK;
}
