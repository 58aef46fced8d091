/* join.c -- a document session's members: loading the document (a pool
 * task that creates it when missing), joining (at once, or after a task
 * reads the client's newest op for resend dedup and the ops older than the
 * window for catch-up), the answer ("joined" with the text, or the ops
 * after the member's version then "joined"), and leaving. A catch-up that
 * would not fit the member's queue is refused with too_old, so the client
 * joins again for the text, which is sent whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/collab/session.h"

static void finish_member(srv_session *s, sess_member *m, store_oprec *recs,
                          size_t n);

static sess_member *member_by_id(srv_session *s, uint64_t id)
{
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].id == id) return &s->m[i];
    return NULL;
}

/* ---- loading a document and joining members (reader pool tasks) */

typedef struct load_task {
    srv_task t;
    srv_session *sess;
    char creator[SRV_NAME_MAX + 1];
    int64_t now_ms;               /* the creation stamp, if it creates */
    char *text;
    size_t bytes;
    int64_t version;
} load_task;

static int run_load(store *st, store_task *base)
{
    load_task *lt = (load_task *)base;
    const char *doc = lt->sess->id;
    int64_t trashed = 0;
    int rc = store_doc_trashed(st, doc, &trashed);
    if (rc == 0 && trashed) return STORE_ETRASHED;
    rc = store_load(st, doc, &lt->text, &lt->bytes, &lt->version);
    if (rc == STORE_ENOTFOUND) {
        rc = store_doc_create(st, doc, "", lt->creator, lt->now_ms);
        if (rc == 0 || rc == STORE_EEXIST)
            rc = store_load(st, doc, &lt->text, &lt->bytes, &lt->version);
    }
    return rc;
}

static void start_member(srv_session *s, sess_member *m);

static void load_done(srv_task *t)
{
    load_task *lt = (load_task *)t;
    srv_session *s = lt->sess;
    int rc = t->base.result;
    int64_t version = lt->version;
    s->inflight--;
    if (rc == 0 && !(s->doc = ot_doc_new(lt->text, lt->bytes))) rc = STORE_ECORRUPT;
    free(lt->text);
    free(lt);
    if (rc == STORE_ETRASHED) {
        srv__sess_end(s, "doc_trashed", "the document is in the trash");
        return;
    }
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot load the document: %s", store_strerror(rc));
        srv__sess_fail(s, why);
        return;
    }
    s->committed = s->version = s->base = s->last_snapshot = version;
    s->len = s->base_len = ot_doc_len(s->doc);
    s->state = SESS_READY;
    s->fresh = 1; /* a refusal left by an earlier session is not ours */
    /* start_member may drop the member it starts (moving the last into
     * its slot), so walk from the end. */
    for (int i = s->nm - 1; i >= 0; i--)
        if (i < s->nm) start_member(s, &s->m[i]);
    srv__sess_run_submits(s);
    if (s->dead) srv__sess_retire(s);
}

srv_session *srv_docs_open(srv_docs *d, const char *creator, const char *doc)
{
    srv_session *s = srv_map_get(&d->sessions, doc);
    if (s) return s;
    s = calloc(1, sizeof *s);
    load_task *lt = calloc(1, sizeof *lt);
    if (!s || !lt || srv_map_put(&d->sessions, doc, s) < 0) {
        free(s);
        free(lt);
        return NULL;
    }
    snprintf(s->id, sizeof s->id, "%s", doc);
    s->docs = d;
    s->state = SESS_LOADING;
    srv_ring_init(&s->win, sizeof(sess_op));
    srv_map_init(&s->clients);
    lt->sess = s;
    snprintf(lt->creator, sizeof lt->creator, "%s", creator);
    lt->now_ms = (int64_t)d->env.wall_ms();
    lt->t.base.run = run_load;
    lt->t.done = load_done;
    if (d->env.read(d->env.io, &lt->t) < 0) {
        srv_map_del(&d->sessions, doc);
        free(s);
        free(lt);
        return NULL;
    }
    s->inflight++;
    return s;
}

typedef struct join_task {
    srv_task t;
    srv_session *sess;
    uint64_t member;
    char client[SRV_CLIENT_MAX + 1];
    int need_client, need_ops;
    int64_t after, upto;          /* ops after..upto from storage */
    int64_t last_seq, last_version;
    store_oprec *recs;
    size_t nrecs;
} join_task;

static int run_join(store *st, store_task *base)
{
    join_task *jt = (join_task *)base;
    int rc = 0;
    if (jt->need_client) {
        rc = store_client_last(st, jt->sess->id, jt->client, &jt->last_seq,
                               &jt->last_version);
        if (rc == STORE_ENOTFOUND) jt->last_seq = -1, rc = 0;
        if (rc < 0) return rc;
    }
    if (jt->need_ops)
        rc = store_ops_after(st, jt->sess->id, jt->after, jt->upto - jt->after,
                             &jt->recs, &jt->nrecs);
    return rc;
}

/* Keep what the join task read of the client's newest op (resend dedup).
 * -1 on ENOMEM: then nothing is kept and the member must not go on (its
 * ops would all be refused as not_joined). */
static int keep_client(srv_session *s, const join_task *jt)
{
    if (!jt->need_client || srv_map_get(&s->clients, jt->client)) return 0;
    sess_client *ce = calloc(1, sizeof *ce);
    if (!ce) return -1;
    ce->last_seq = jt->last_seq;
    ce->last_version = jt->last_version;
    if (srv_map_put(&s->clients, jt->client, ce) < 0) {
        free(ce);
        return -1;
    }
    return 0;
}

static void join_done(srv_task *t)
{
    join_task *jt = (join_task *)t;
    srv_session *s = jt->sess;
    s->inflight--;
    sess_member *m = member_by_id(s, jt->member);
    if (s->state == SESS_READY && m) {
        m->waiting = 0;
        if (t->base.result < 0)
            srv__sess_refuse(s, m, "server_error", store_strerror(t->base.result));
        else if (keep_client(s, jt) < 0)
            srv__sess_refuse(s, m, "server_error", "out of memory");
        else if (jt->need_ops && (int64_t)jt->nrecs != jt->upto - jt->after)
            srv__sess_refuse(s, m, "too_old", "history not available");
        else
            finish_member(s, m, jt->recs, jt->nrecs);
    }
    store_oprecs_free(jt->recs);
    free(jt);
    if (s->dead) srv__sess_retire(s);
}

/* The smallest an op message can be: a catch-up of more ops than the
 * queue bound holds at this size can never be sent. */
#define OP_MSG_MIN 64

/* Bytes of the op messages a catch-up from 'from' would queue (roughly:
 * the ops' wire forms plus their envelope). */
static size_t catchup_bytes(srv_session *s, store_oprec *recs, size_t n,
                            int64_t from)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(recs[i].op) + OP_MSG_MIN + 2 * SRV_CLIENT_MAX;
    for (int64_t v = from + 1; v <= s->committed; v++)
        bytes += strlen(srv__sess_win_at(s, v)->wire) + OP_MSG_MIN + 2 * SRV_CLIENT_MAX;
    return bytes;
}

/* A catch-up that would not fit the member's queue is refused with too_old:
 * the client joins again without a version and gets the text, which always
 * fits (a whole send). Otherwise the join would close it for its queue
 * bound every time. */
static void refuse_catchup(srv_session *s, sess_member *m)
{
    srv__sess_refuse(s, m, "too_old",
                  "catch-up larger than the document: join without a version");
}

static void submit_join(srv_session *s, sess_member *m, int need_client,
                        int need_ops)
{
    join_task *jt = calloc(1, sizeof *jt);
    if (!jt) {
        srv__sess_refuse(s, m, "server_error", "out of memory");
        return;
    }
    jt->sess = s;
    jt->member = m->id;
    snprintf(jt->client, sizeof jt->client, "%s", m->client);
    jt->need_client = need_client;
    jt->need_ops = need_ops;
    jt->after = m->version;
    jt->upto = s->base;
    jt->t.base.run = run_join;
    jt->t.done = join_done;
    if (srv__sess_env(s)->read(srv__sess_env(s)->io, &jt->t) < 0) {
        free(jt);
        srv__sess_refuse(s, m, "server_error", "server stopping");
        return;
    }
    m->waiting = 1;
    s->inflight++;
}

/* The member can be answered at once, or a task fetches what is missing:
 * the client's newest op here (for resend dedup) and ops older than the
 * window (catch-up). */
static void start_member(srv_session *s, sess_member *m)
{
    if (m->has_version && m->version > s->committed) {
        srv__sess_refuse(s, m, "version_ahead",
                      "the document is not at that version yet");
        return;
    }
    int need_client = !srv_map_get(&s->clients, m->client);
    int need_ops = m->has_version && m->version < s->base;
    if (m->has_version && (uint64_t)(s->committed - m->version) >
                              srv__sess_env(s)->queue_bytes / OP_MSG_MIN) {
        refuse_catchup(s, m);
        return;
    }
    if (!need_client && !need_ops)
        finish_member(s, m, NULL, 0);
    else
        submit_join(s, m, need_client, need_ops);
}

static void send_window_ops(srv_session *s, void *h, int64_t after)
{
    for (int64_t v = after + 1; v <= s->committed; v++) {
        sess_op *o = srv__sess_win_at(s, v);
        srv__sess_send(s, h, srv_wire_op(s->id, v, o->wire, o->client, o->seq, o->user), 0);
    }
}

/* The ops after the member's version, then "joined". 0, or -1 when the
 * member was refused. */
static int send_catchup(srv_session *s, sess_member *m, store_oprec *recs,
                        size_t n)
{
    int64_t from = m->version > s->base ? m->version : s->base;
    if (srv__sess_env(s)->out->queued(m->h) + catchup_bytes(s, recs, n, from) >
        srv__sess_env(s)->queue_bytes) {
        refuse_catchup(s, m);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        srv__sess_send(s, m->h, srv_wire_op(s->id, recs[i].version, recs[i].op,
                                      recs[i].client, recs[i].seq, recs[i].user), 0);
    send_window_ops(s, m->h, from);
    srv__sess_send(s, m->h, srv_wire_joined(s->id, s->committed, NULL, 0), 0);
    return 0;
}

/* "joined" with the text. 0, or -1 when the member was refused. */
static int send_text(srv_session *s, sess_member *m)
{
    size_t bytes = 0;
    char *text = ot_doc_text(s->doc, &bytes);
    srv_msg *msg = text ? srv_wire_joined(s->id, s->committed, text, bytes) : NULL;
    free(text);
    if (!msg) {
        srv__sess_refuse(s, m, "server_error", "out of memory");
        return -1;
    }
    srv__sess_send(s, m->h, msg, 1);
    return 0;
}

static void finish_member(srv_session *s, sess_member *m, store_oprec *recs,
                          size_t n)
{
    if ((m->has_version ? send_catchup(s, m, recs, n) : send_text(s, m)) < 0)
        return;
    m->ready = 1;
    for (int i = 0; i < s->nm; i++)
        if (&s->m[i] != m && s->m[i].ready)
            srv__sess_send(s, m->h, srv__sess_presence(s, &s->m[i]), 0);
    srv__sess_broadcast(s, srv__sess_presence(s, m), m->h);
}

/* Room for one more member: 0, or -1 on ENOMEM (nothing changed). */
static int reserve_member(srv_session *s)
{
    if (s->nm < s->mcap) return 0;
    int ncap = s->mcap ? s->mcap * 2 : 4;
    sess_member *nm = realloc(s->m, (size_t)ncap * sizeof *nm);
    if (!nm) return -1;
    s->m = nm;
    s->mcap = ncap;
    return 0;
}

void srv_session_join(srv_session *s, const srv_doc_member *who,
                      int has_version, int64_t version)
{
    if (reserve_member(s) < 0) {
        srv__sess_env(s)->out->error(who->handle, "server_error", "out of memory",
                              s->id, -1);
        srv__sess_env(s)->out->drop(who->handle, s);
        return;
    }
    size_t cl = strnlen(who->client, SRV_CLIENT_MAX);
    size_t nl = strnlen(who->name, SRV_NAME_MAX);
    size_t kl = strnlen(who->color, 7);
    char *ident = malloc(cl + nl + kl + 3);
    if (!ident) {
        srv__sess_env(s)->out->error(who->handle, "server_error",
                                     "out of memory", s->id, -1);
        srv__sess_env(s)->out->drop(who->handle, s);
        return;
    }
    memcpy(ident, who->client, cl);
    ident[cl] = 0;
    memcpy(ident + cl + 1, who->name, nl);
    ident[cl + 1 + nl] = 0;
    memcpy(ident + cl + nl + 2, who->color, kl);
    ident[cl + nl + 2 + kl] = 0;
    sess_member *m = &s->m[s->nm++];
    memset(m, 0, sizeof *m);
    m->h = who->handle;
    m->client = ident;
    m->name_off = (unsigned char)(cl + 1);
    m->id = s->docs->next_member_id++;
    m->has_version = has_version;
    m->version = version;
    if (s->state == SESS_READY) start_member(s, m);
}

void srv_session_leave(srv_session *s, void *h)
{
    sess_member *m = srv__sess_member(s, h);
    if (!m) {
        srv__sess_env(s)->out->drop(h, s);
        return;
    }
    /* its "left", built while its identity is still here */
    srv_msg *left = m->ready ? srv_wire_left(s->id, m->client, M_NAME(m),
                                             M_COLOR(m), s->committed)
                             : NULL;
    srv__sess_drop(s, (int)(m - s->m));
    srv__sess_broadcast(s, left, h);
    if (s->dead) srv__sess_retire(s);
}

