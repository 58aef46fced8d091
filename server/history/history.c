/* history.c -- page through a document's op log (optionally replaying it)
 * and group the ops into edit sessions.
 *
 * Pages come from store_ops_after with a limit, each a fresh read; the walk
 * checks that versions follow each other, so a gap or a concurrent delete
 * surfaces as STORE_ECORRUPT / STORE_ENOTFOUND instead of a wrong text.
 * Memory: one page plus (when replaying) one text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/history/history.h"

int srv_walk_init(srv_walk *w, store *st, const char *doc, int64_t after,
                  int64_t end, int replay)
{
    store_docinfo d;
    memset(w, 0, sizeof *w);
    memset(&d, 0, sizeof d);
    if (strlen(doc) >= sizeof w->doc) return STORE_EINVAL;
    int rc = store_doc_get(st, doc, &d);
    if (rc < 0) return rc;
    int64_t cur = d.version;
    store_docinfo_clear(&d);
    if (end < 0) end = cur;
    if (after < 0 || end > cur || after > end) return STORE_ERANGE;
    w->st = st;
    snprintf(w->doc, sizeof w->doc, "%s", doc);
    w->after = after;
    w->end = end;
    if (replay) {
        char *text = NULL;
        size_t bytes = 0;
        if ((rc = store_text_at(st, doc, after, &text, &bytes)) < 0) return rc;
        w->text = ot_doc_new(text, bytes);
        free(text);
        if (!w->text) return STORE_ECORRUPT;
    }
    return 0;
}

static int next_page(srv_walk *w)
{
    store_oprecs_free(w->page);
    w->page = NULL;
    w->n = w->i = 0;
    int64_t want = w->end - w->after;
    if (want > SRV_WALK_PAGE) want = SRV_WALK_PAGE;
    int rc = store_ops_after(w->st, w->doc, w->after, want, &w->page, &w->n);
    if (rc < 0) return rc;
    return w->n ? 0 : STORE_ECORRUPT; /* the log ends before 'end' */
}

int srv_walk_next(srv_walk *w, const store_oprec **rec)
{
    int rc;
    if (w->after >= w->end) return 0;
    if (w->i == w->n && (rc = next_page(w)) < 0) return rc;
    const store_oprec *r = &w->page[w->i];
    if (r->version != w->after + 1) return STORE_ECORRUPT;
    ot_op_free(w->op);
    w->op = NULL;
    rc = ot_op_parse(&w->op, r->op, strlen(r->op));
    if (rc == OT_ENOMEM) return STORE_ENOMEM;
    if (rc < 0) return STORE_ECORRUPT;
    if (w->text && (rc = ot_doc_apply(w->text, w->op)) < 0)
        return rc == OT_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
    w->i++;
    w->after = r->version;
    *rec = r;
    return 1;
}

void srv_walk_clear(srv_walk *w)
{
    store_oprecs_free(w->page);
    ot_op_free(w->op);
    ot_doc_free(w->text);
    memset(w, 0, sizeof *w);
}

/* ---- edit sessions */

void srv_sessions_init(srv_sessions *g, int64_t gap_ms)
{
    memset(g, 0, sizeof *g);
    g->gap_ms = gap_ms > 0 ? gap_ms : SRV_SESSION_GAP_MS;
}

static void start_session(srv_sessions *g, const store_oprec *rec)
{
    srv_edit_session *s = &g->cur;
    memset(s, 0, sizeof *s);
    snprintf(s->user, sizeof s->user, "%s", rec->user);
    snprintf(s->client, sizeof s->client, "%s", rec->client);
    s->from = rec->version - 1;
    s->start_ms = rec->time_ms;
    g->open = 1;
}

int srv_sessions_feed(srv_sessions *g, const store_oprec *rec,
                      const ot_op *op, srv_edit_session *done)
{
    int closed = 0;
    srv_edit_session *s = &g->cur;
    if (g->open && (strncmp(s->user, rec->user, sizeof s->user - 1) != 0 ||
                    rec->time_ms - s->end_ms > g->gap_ms)) {
        *done = *s;
        closed = 1;
        g->open = 0;
    }
    if (!g->open) start_session(g, rec);
    size_t ins = 0, del = 0;
    ot_op_stats(op, &ins, &del);
    s->to = rec->version;
    s->end_ms = rec->time_ms;
    s->ops++;
    s->added += ins;
    s->removed += del;
    return closed;
}

int srv_sessions_flush(srv_sessions *g, srv_edit_session *done)
{
    if (!g->open) return 0;
    *done = g->cur;
    g->open = 0;
    return 1;
}
