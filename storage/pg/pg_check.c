/* pg_check.c -- `chorus check` on PostgreSQL.
 *
 * What SQLite's integrity_check and foreign_key_check cover is
 * PostgreSQL's own business (constraints are enforced, pages checksummed
 * if the cluster was initialised so); everything Chorus derives is
 * re-derived as in store_check.c: for each document a replay of its whole
 * log from the empty text, versions 1..version with no gap, every snapshot
 * equal to the replay at its version, no (client, seq) twice, and
 * op_clients naming each client's newest op. One REPEATABLE READ
 * transaction: safe against running nodes. Nothing is repaired. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"
#include "storage/pg/pg.h"

typedef struct pg_check {
    store *s;
    void (*report)(void *arg, const char *line);
    void *arg;
    long problems, docs, ops, snapshots;
} pg_check;

static void say(pg_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(pg_check *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->report) c->report(c->arg, line);
}

/* Does the snapshot in row 'i' of 'snaps' equal the text of 'd'? */
static int snap_matches(const PGresult *snaps, int i, ot_doc *d)
{
    size_t want_len = 0, got_len = 0;
    unsigned char *want = PQunescapeBytea(
        (const unsigned char *)PQgetvalue(snaps, i, 1), &want_len);
    char *got = ot_doc_text(d, &got_len);
    int ok = want && got && want_len == got_len &&
             memcmp(want, got, got_len) == 0;
    PQfreemem(want);
    free(got);
    return ok;
}

/* Replay the log of document 'num' ('id', head 'version'). */
static int check_doc(pg_check *c, const char *num, const char *id,
                     int64_t version)
{
    int rc;
    PGresult *ops = store_pg__q(c->s, &rc, "SELECT version, op FROM ops WHERE"
                                " doc = $1 ORDER BY version", "s", num);
    if (!ops) return rc;
    PGresult *snaps = store_pg__q(c->s, &rc, "SELECT version, text FROM"
                                  " snapshots WHERE doc = $1 ORDER BY version",
                                  "s", num);
    if (!snaps) {
        PQclear(ops);
        return rc;
    }
    int nops = PQntuples(ops), nsnaps = PQntuples(snaps), si = 0, broken = 0;
    ot_doc *d = ot_doc_new("", 0);
    if (!d) rc = STORE_ENOMEM;
    c->docs++;
    c->ops += nops;
    c->snapshots += nsnaps;
    for (int64_t v = 0; !rc && v <= nops; v++) {
        if (v > 0 && !broken) {
            ot_op *op;
            int64_t got = store_pg__int(ops, (int)v - 1, 0);
            if (got != v) {
                c->problems++;
                say(c, "document %s: version %lld missing from the log (next"
                    " is %lld)", id, (long long)v, (long long)got);
                broken = 1;
            } else if (ot_op_parse(&op, PQgetvalue(ops, (int)v - 1, 1),
                                   (size_t)PQgetlength(ops, (int)v - 1, 1)) ||
                       (ot_doc_apply(d, op) ? (ot_op_free(op), 1)
                                            : (ot_op_free(op), 0))) {
                c->problems++;
                say(c, "document %s: op %lld does not replay", id,
                    (long long)v);
                broken = 1;
            }
        }
        for (; si < nsnaps && store_pg__int(snaps, si, 0) <= v; si++) {
            if (store_pg__int(snaps, si, 0) < v || broken) continue;
            if (!snap_matches(snaps, si, d)) {
                c->problems++;
                say(c, "document %s: snapshot at %lld differs from the"
                    " replay of the log", id, (long long)v);
            }
        }
    }
    for (; si < nsnaps; si++) {
        c->problems++;
        say(c, "document %s: snapshot at %lld is beyond the log", id,
            (long long)store_pg__int(snaps, si, 0));
    }
    if (!rc && nops != version) {
        c->problems++;
        say(c, "document %s: version is %lld but the log holds %d ops", id,
            (long long)version, nops);
    }
    ot_doc_free(d);
    PQclear(ops);
    PQclear(snaps);
    return rc;
}

static int check_docs(pg_check *c)
{
    int rc;
    PGresult *r = store_pg__q(c->s, &rc, "SELECT num, id, version FROM"
                              " documents ORDER BY num", "");
    if (!r) return rc;
    for (int i = 0; i < PQntuples(r) && !rc; i++)
        rc = check_doc(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                       store_pg__int(r, i, 2));
    PQclear(r);
    return rc;
}

/* Rows of 'sql' (doc id, client) are problems described by 'what'. */
static int check_rows(pg_check *c, const char *sql, const char *what)
{
    int rc;
    PGresult *r = store_pg__q(c->s, &rc, sql, "");
    if (!r) return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        c->problems++;
        say(c, "document %s: client %s: %s", PQgetvalue(r, i, 0),
            PQgetvalue(r, i, 1), what);
    }
    PQclear(r);
    return STORE_OK;
}

int store_pg__check(store *s, void (*report)(void *arg, const char *line),
                    void *arg)
{
    pg_check c = {s, report, arg, 0, 0, 0, 0};
    int rc = store_pg__begin(s, 1);
    if (rc) return rc;
    rc = check_docs(&c);
    if (!rc)
        rc = check_rows(&c, "SELECT d.id, o.client FROM ops o JOIN documents d"
                        " ON d.num = o.doc GROUP BY d.id, o.client, o.seq"
                        " HAVING count(*) > 1", "a seq stored twice");
    if (!rc)
        rc = check_rows(
            &c, "SELECT d.id, x.client FROM (SELECT DISTINCT ON (doc, client)"
            " doc, client, seq, version FROM ops ORDER BY doc, client,"
            " seq DESC) x LEFT JOIN op_clients o ON o.doc = x.doc AND"
            " o.client = x.client JOIN documents d ON d.num = x.doc"
            " WHERE o.seq IS DISTINCT FROM x.seq OR o.version IS DISTINCT"
            " FROM x.version UNION ALL SELECT d.id, o.client FROM op_clients o"
            " JOIN documents d ON d.num = o.doc WHERE NOT EXISTS (SELECT 1"
            " FROM ops WHERE doc = o.doc AND client = o.client AND"
            " seq = o.seq AND version = o.version)",
            "the newest op is not recorded as such (op_clients)");
    store_pg__rollback(s);
    if (rc) {
        say(&c, "check stopped: %s (%s)", store_strerror(rc),
            PQerrorMessage(s->pg));
        return rc;
    }
    if (c.problems)
        say(&c, "%ld documents, %ld ops, %ld snapshots: %ld problems", c.docs,
            c.ops, c.snapshots, c.problems);
    else
        say(&c, "%ld documents, %ld ops, %ld snapshots: ok", c.docs, c.ops,
            c.snapshots);
    return c.problems ? STORE_ECORRUPT : STORE_OK;
}
