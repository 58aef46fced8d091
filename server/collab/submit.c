/* submit.c -- ops that reach a document session without a member: made
 * by the server itself (restore, tools: srv_docs_submit) or sent by a
 * client over HTTP (api/writes.c: srv_docs_submit_op). Both wait in the
 * session's submit list until it is loaded, then go the way of a
 * member's op (srv__sess_rebase, srv__sess_queue_op) and are answered
 * through their done callback after the commit. An HTTP op with a client
 * id has the member's (doc, client, seq) dedup; a resend of one still
 * committing waits in s->waiters for that commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/collab/session.h"

/* ---- ops made by the server itself (restore, tools) */

static int submit_now(srv_session *s, sess_submit *sub)
{
    if (s->state != SESS_READY) return STORE_EIO;
    if (sub->version > s->committed) return STORE_ERANGE;
    if (sub->version < s->base) return STORE_ERANGE;
    ot_op *orig = ot_op_clone(sub->op);
    if (!orig) return STORE_ENOMEM;
    if (srv__sess_rebase(s, &sub->op, sub->version) < 0 ||
        ot_op_base_len(sub->op) > s->len) {
        ot_op_free(orig);
        return STORE_EINVAL;
    }
    size_t ins = 0, del = 0;
    ot_op_stats(sub->op, &ins, &del);
    /* "@server" cannot be a client's id; the seq is the version it takes,
     * which keeps (doc, client, seq) unique. */
    if (srv__sess_queue_op(s, "@server", sub->user, s->version + 1, sub->op,
                 orig, sub->version, s->len - del + ins, sub->done,
                 sub->arg) < 0) {
        ot_op_free(orig);
        return STORE_ENOMEM;
    }
    sub->op = NULL;
    return 0;
}

/* An HTTP client's entry, from the map or made from what the request
 * read of storage; NULL on ENOMEM. */
static sess_client *client_entry(srv_session *s, const sess_submit *sub)
{
    sess_client *ce = srv_map_get(&s->clients, sub->client);
    if (ce) return ce;
    if (!(ce = calloc(1, sizeof *ce))) return NULL;
    ce->last_seq = sub->last_seq;
    ce->last_version = sub->last_version;
    if (srv_map_put(&s->clients, sub->client, ce) < 0) {
        free(ce);
        return NULL;
    }
    return ce;
}

/* A resent HTTP op: answered with its version now if committed, else
 * kept as a waiter (1). SRV_SUB_ESEQ when the seq is no longer known. */
static int client_resent(srv_session *s, sess_submit *sub, sess_client *ce)
{
    int64_t v = -1;
    if (sub->seq == ce->last_seq) v = ce->last_version;
    for (int64_t u = s->version; v < 0 && u > s->base; u--) {
        sess_op *o = srv__sess_win_at(s, u);
        if (o->seq == sub->seq && strcmp(o->client, sub->client) == 0) v = u;
    }
    if (v < 0) return SRV_SUB_ESEQ;
    if (v <= s->committed) {
        sub->done(sub->arg, 0, v);
        return 0;
    }
    sub->version = v;
    sub->next = s->waiters;
    s->waiters = sub;
    return 1;
}

/* An HTTP client's op: the checks of srv_session_op, then queued. */
static int client_now(srv_session *s, sess_submit *sub)
{
    size_t ins = 0, del = 0;
    sess_client *ce = NULL;
    if (s->state != SESS_READY) return STORE_EIO;
    if (sub->client[0] && !(ce = client_entry(s, sub))) return STORE_ENOMEM;
    if (ce && ce->last_seq >= 0 && sub->seq <= ce->last_seq)
        return client_resent(s, sub, ce);
    if (sub->version > s->committed) return SRV_SUB_EAHEAD;
    if (sub->version < s->base) return SRV_SUB_EOLD;
    if (sub->span > srv__sess_len_at(s, sub->version)) return SRV_SUB_EBADOP;
    ot_op *orig = ot_op_clone(sub->op);
    if (!orig) return STORE_ENOMEM;
    if (srv__sess_rebase(s, &sub->op, sub->version) < 0 ||
        ot_op_base_len(sub->op) > s->len) {
        ot_op_free(orig);
        return SRV_SUB_EBADOP;
    }
    ot_op_stats(sub->op, &ins, &del);
    if (ins > del && s->len - del + ins > srv__sess_env(s)->max_doc_chars) {
        ot_op_free(orig);
        return SRV_SUB_ELARGE;
    }
    /* without a client: "@http" cannot be a client's id, and the version
     * it takes as its seq keeps (doc, client, seq) unique */
    if (srv__sess_queue_op(s, ce ? sub->client : "@http", sub->user,
                 ce ? sub->seq : s->version + 1, sub->op, orig, sub->version,
                 s->len - del + ins, sub->done, sub->arg) < 0) {
        ot_op_free(orig);
        return STORE_ENOMEM;
    }
    sub->op = NULL;
    if (!ce) return 0;
    ce->last_seq = sub->seq;
    ce->last_version = s->version;
    ce->pending = 1;
    return 0;
}

void srv__sess_run_submits(srv_session *s)
{
    while (s->submits) {
        sess_submit *sub = s->submits;
        s->submits = sub->next;
        int rc = sub->is_op ? client_now(s, sub) : submit_now(s, sub);
        if (rc == 1) continue; /* a waiter now */
        if (rc < 0) sub->done(sub->arg, rc, 0);
        ot_op_free(sub->op);
        free(sub);
    }
}

void srv__sess_run_waiters(srv_session *s, int64_t v, int rc)
{
    sess_submit **p = &s->waiters;
    while (*p) {
        sess_submit *w = *p;
        if (rc == 0 && w->version != v) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        w->done(w->arg, rc, rc ? 0 : v);
        ot_op_free(w->op);
        free(w);
    }
}

/* A new submit for 'doc', queued on its session (opened when needed);
 * NULL on ENOMEM (then 'op' is freed). */
static sess_submit *submit_new(srv_docs *d, const char *doc, const char *user,
                               ot_op *op, srv_session **sp)
{
    sess_submit *sub = calloc(1, sizeof *sub);
    srv_session *s = sub ? srv_docs_open(d, user, doc) : NULL;
    if (!s) {
        free(sub);
        ot_op_free(op);
        return NULL;
    }
    sub->op = op;
    snprintf(sub->user, sizeof sub->user, "%s", user);
    sub->next = s->submits;
    s->submits = sub;
    *sp = s;
    return sub;
}

/* Run the submits now if the document is loaded. */
static void submit_go(srv_docs *d, srv_session *s)
{
    if (s->state == SESS_READY) srv__sess_run_submits(s);
    if (s->nm == 0 && s->empty_since == 0) s->empty_since = d->env.mono_ms();
}

int srv_docs_submit(srv_docs *d, const char *doc, int64_t version, ot_op *op,
                    const char *user, srv_submit_done done, void *arg)
{
    srv_session *s = NULL;
    sess_submit *sub = submit_new(d, doc, user, op, &s);
    if (!sub) return STORE_ENOMEM;
    sub->version = version;
    sub->done = done;
    sub->arg = arg;
    submit_go(d, s);
    return 0;
}

int srv_docs_submit_op(srv_docs *d, const srv_op_req *req,
                       srv_submit_done done, void *arg)
{
    srv_session *s = NULL;
    sess_submit *sub = submit_new(d, req->doc, req->user, req->op, &s);
    if (!sub) return STORE_ENOMEM;
    sub->version = req->version;
    sub->done = done;
    sub->arg = arg;
    sub->is_op = 1;
    snprintf(sub->client, sizeof sub->client, "%s", req->client ? req->client : "");
    sub->seq = req->seq;
    sub->span = req->span;
    sub->last_seq = req->last_seq;
    sub->last_version = req->last_version;
    submit_go(d, s);
    return 0;
}

const char *srv_submit_code(int rc, const char **message)
{
    switch (rc) {
    case SRV_SUB_EBADOP:
        return *message = "bad op: it reaches past the end of the document", "bad_op";
    case SRV_SUB_EAHEAD:
        return *message = "the document is not at that version yet", "version_ahead";
    case SRV_SUB_EOLD:
        return *message = "base version too old: read the text again", "too_old";
    case SRV_SUB_ELARGE:
        return *message = "the document would pass its size limit", "too_large";
    case SRV_SUB_ESEQ:
        return *message = "seq is older than this client's last op", "bad_message";
    default: return *message = store_strerror(rc), "server_error";
    }
}
