/* session.c -- one session per open document: it orders concurrent ops,
 * persists them through the group-commit writer, and acks and broadcasts
 * them once they are on disk. Everything outside it comes through its
 * environment (collab.h: srv_doc_env): the writer and pool submits, the
 * clocks, the config, and the output table through which members are told
 * things; the messages come from wire.c.
 *
 * Versions: ops 1..committed are on disk and applied to s->doc; ops
 * committed+1..version are accepted and queued to the writer, not yet
 * visible to anyone. The window (a ring) holds the ops base+1..version for
 * transforms and catch-up. An incoming op made on version v is transformed
 * over the window ops v+1..version (the server's order wins ties), checked
 * against the length at 'version', and queued; when the writer reports its
 * commit, in version order, it is applied to s->doc, acked to its author and
 * broadcast to every other member. So what any client sees is durable, and
 * every client sees a document's ops in version order.
 *
 * A failed commit (disk full, I/O error) fails the session: its members get
 * server_error and are no longer joined; the next join loads the document
 * again from disk, so nobody ever sees a state the disk does not hold. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/base/ring.h"
#include "server/collab/collab.h"

enum { SESS_LOADING, SESS_READY, SESS_FAILED };

typedef struct sess_op {           /* one op of the window */
    ot_op *op;                     /* as applied: transformed to its version */
    char *wire;                    /* its wire JSON text */
    char client[SRV_CLIENT_MAX + 1];
    char user[SRV_NAME_MAX + 1];
    int64_t seq;
    int64_t time_ms;
    double t_recv;                 /* when it arrived, for ack latency */
    size_t len_after;              /* code points of the text after it */
    srv_submit_done done;          /* server-made ops: told of the commit */
    void *done_arg;
} sess_op;

typedef struct sess_client {       /* a client's newest op in this document */
    int64_t last_seq;              /* -1: none */
    int64_t last_version;
    int pending;                   /* last op queued, not yet committed */
} sess_client;

typedef struct sess_member {
    void *h;                       /* net/'s handle, for the outputs */
    uint64_t id;                   /* survives the handle: tasks look it up */
    char client[SRV_CLIENT_MAX + 1]; /* identity, copied in at join */
    char name[SRV_NAME_MAX + 1];
    char color[8];
    int ready;                     /* "joined" was sent */
    int waiting;                   /* a join task is running for it */
    int has_version;
    int64_t version;               /* the version it asked to resume from */
    int has_cursor;
    uint32_t anchor, head;         /* at s->committed */
    srv_msg *pres;                 /* its presence message, built once per */
    int64_t pres_version;          /* version and cursor: a join storm sends
                                      each to every joiner */
} sess_member;

typedef struct sess_submit {      /* a server-made op waiting for a load */
    struct sess_submit *next;
    ot_op *op;
    int64_t version;
    char user[SRV_NAME_MAX + 1];
    srv_submit_done done;
    void *arg;
} sess_submit;

struct srv_docs {
    srv_doc_env env;
    srv_map sessions;              /* doc id -> srv_session (live ones) */
    uint64_t next_member_id;
};

struct srv_session {
    char id[65];
    srv_docs *docs;                /* its set, and through it the env */
    int state;
    ot_doc *doc;                   /* text at 'committed' */
    int64_t committed, version, base;
    size_t len;                    /* code points at 'version' */
    size_t base_len;               /* code points at 'base' */
    srv_ring win;                  /* of sess_op: versions base+1..version */
    sess_member *m;
    int nm, mcap;
    srv_map clients;               /* client id -> sess_client */
    int64_t last_snapshot;
    size_t ops_bytes;              /* wire bytes committed since it */
    uint64_t empty_since;
    sess_submit *submits;          /* server-made ops waiting for the load */
    int inflight;                  /* writer jobs and tasks holding it */
    int dead;                      /* out of the table; freed at inflight 0 */
};

typedef struct commit_job {        /* an APPEND, with what its commit needs */
    store_job job;
    srv_session *sess;
    char client[SRV_CLIENT_MAX + 1]; /* the record's strings live here: */
    char user[SRV_NAME_MAX + 1];     /* the window ring moves when it grows */
} commit_job;

typedef struct snap_job {          /* a SNAPSHOT, standalone */
    store_job job;
    char doc[65];
    char *text;
} snap_job;

static void finish_member(srv_session *s, sess_member *m, store_oprec *recs,
                          size_t n);
static void run_submits(srv_session *s);

/* ---- small helpers */

const char *srv_session_id(const srv_session *s)
{
    return s->id;
}

int64_t srv_session_version(const srv_session *s)
{
    return s->committed;
}

srv_session *srv_docs_get(srv_docs *d, const char *doc)
{
    return srv_map_get(&d->sessions, doc);
}

size_t srv_docs_count(const srv_docs *d)
{
    return d ? d->sessions.len : 0;
}

static const srv_doc_env *env_of(const srv_session *s)
{
    return &s->docs->env;
}

static sess_op *win_at(srv_session *s, int64_t v)
{
    assert(v > s->base && v <= s->version);
    return srv_ring_at(&s->win, (size_t)(v - s->base - 1));
}

static sess_member *member_of(srv_session *s, void *h)
{
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].h == h) return &s->m[i];
    return NULL;
}

static sess_member *member_by_id(srv_session *s, uint64_t id)
{
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].id == id) return &s->m[i];
    return NULL;
}

static sess_member *member_by_client(srv_session *s, const char *client)
{
    for (int i = 0; i < s->nm; i++)
        if (strcmp(s->m[i].client, client) == 0) return &s->m[i];
    return NULL;
}

/* ---- outputs: each takes the message it is given (NULL: out of memory) */

static void send_msg(srv_session *s, void *h, srv_msg *m, int whole)
{
    env_of(s)->out->send(h, m, whole);
    srv_msg_unref(m);
}

static void send_error(srv_session *s, void *h, const char *code,
                       const char *message, int64_t seq)
{
    env_of(s)->out->error(h, code, message, s->id, seq);
}

static void send_ack(srv_session *s, void *h, int64_t seq, int64_t version)
{
    send_msg(s, h, srv_wire_ack(s->id, seq, version), 0);
}

/* Send 'out' (stolen) to every ready member but 'except'. */
static void broadcast_msg(srv_session *s, srv_msg *out, void *except)
{
    if (!out) return;
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].ready && s->m[i].h != except)
            env_of(s)->out->relay(s->m[i].h, out);
    srv_msg_unref(out);
}

/* A new reference to m's presence message (NULL on ENOMEM). */
static srv_msg *presence_of(srv_session *s, sess_member *m)
{
    if (!m->pres || m->pres_version != s->committed) {
        srv_msg_unref(m->pres);
        m->pres = srv_wire_presence(s->id, m->client, m->name, m->color,
                                    s->committed, m->has_cursor, m->anchor,
                                    m->head);
        m->pres_version = s->committed;
        if (!m->pres) return NULL;
    }
    m->pres->refs++;
    return m->pres;
}

/* ---- lifetime */

static void free_submits(srv_session *s)
{
    while (s->submits) {
        sess_submit *sub = s->submits;
        s->submits = sub->next;
        ot_op_free(sub->op);
        free(sub);
    }
}

static void session_free(srv_session *s)
{
    while (s->win.len) {
        sess_op o;
        srv_ring_pop(&s->win, &o);
        ot_op_free(o.op);
        free(o.wire);
    }
    srv_ring_free(&s->win);
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&s->clients, &i, &k, &val);) free(val);
    srv_map_clear(&s->clients);
    free_submits(s);
    ot_doc_free(s->doc);
    free(s->m);
    free(s);
}

/* Out of the table (a later join loads afresh); freed when nothing holds it. */
static void session_retire(srv_session *s)
{
    if (!s->dead) {
        if (srv_map_get(&s->docs->sessions, s->id) == s)
            srv_map_del(&s->docs->sessions, s->id);
        s->dead = 1;
    }
    if (s->inflight == 0 && s->nm == 0) session_free(s);
}

static void drop_member(srv_session *s, int i)
{
    void *h = s->m[i].h;
    srv_msg_unref(s->m[i].pres);
    s->m[i] = s->m[--s->nm];
    if (s->nm == 0) s->empty_since = env_of(s)->mono_ms();
    env_of(s)->out->drop(h, s);
}

/* Tell the member why and let it go. */
static void refuse_member(srv_session *s, sess_member *m, const char *code,
                          const char *why)
{
    send_error(s, m->h, code, why, -1);
    drop_member(s, (int)(m - s->m));
}

/* Tell every member the document is gone from under them, and let go. */
static void fail_session(srv_session *s, const char *why)
{
    srv_err("document %s: %s; its clients must rejoin", s->id, why);
    s->state = SESS_FAILED;
    run_submits(s); /* each is told of the failure */
    while (s->nm > 0) refuse_member(s, &s->m[s->nm - 1], "server_error", why);
    session_retire(s);
}

static void submit_snapshot(srv_session *s)
{
    snap_job *j = calloc(1, sizeof *j);
    size_t bytes = 0;
    if (!j || !(j->text = ot_doc_text(s->doc, &bytes))) {
        free(j);
        return; /* a snapshot is an optimisation: the log is whole */
    }
    snprintf(j->doc, sizeof j->doc, "%s", s->id);
    j->job.kind = STORE_JOB_SNAPSHOT;
    j->job.snap.doc = j->doc;
    j->job.snap.version = s->committed;
    j->job.snap.text = j->text;
    j->job.snap.bytes = bytes;
    if (env_of(s)->write(env_of(s)->io, &j->job) < 0) {
        free(j->text);
        free(j);
        return;
    }
    s->last_snapshot = s->committed;
    s->ops_bytes = 0;
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
    int rc = store_load(st, doc, &lt->text, &lt->bytes, &lt->version);
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
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot load the document: %s", store_strerror(rc));
        fail_session(s, why);
        return;
    }
    s->committed = s->version = s->base = s->last_snapshot = version;
    s->len = s->base_len = ot_doc_len(s->doc);
    s->state = SESS_READY;
    /* start_member may drop the member it starts (moving the last into
     * its slot), so walk from the end. */
    for (int i = s->nm - 1; i >= 0; i--)
        if (i < s->nm) start_member(s, &s->m[i]);
    run_submits(s);
    if (s->dead) session_retire(s);
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
            refuse_member(s, m, "server_error", store_strerror(t->base.result));
        else if (keep_client(s, jt) < 0)
            refuse_member(s, m, "server_error", "out of memory");
        else if (jt->need_ops && (int64_t)jt->nrecs != jt->upto - jt->after)
            refuse_member(s, m, "too_old", "history not available");
        else
            finish_member(s, m, jt->recs, jt->nrecs);
    }
    store_oprecs_free(jt->recs);
    free(jt);
    if (s->dead) session_retire(s);
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
        bytes += strlen(win_at(s, v)->wire) + OP_MSG_MIN + 2 * SRV_CLIENT_MAX;
    return bytes;
}

/* A catch-up that would not fit the member's queue is refused with too_old:
 * the client joins again without a version and gets the text, which always
 * fits (a whole send). Otherwise the join would close it for its queue
 * bound every time. */
static void refuse_catchup(srv_session *s, sess_member *m)
{
    refuse_member(s, m, "too_old",
                  "catch-up larger than the document: join without a version");
}

static void submit_join(srv_session *s, sess_member *m, int need_client,
                        int need_ops)
{
    join_task *jt = calloc(1, sizeof *jt);
    if (!jt) {
        refuse_member(s, m, "server_error", "out of memory");
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
    if (env_of(s)->read(env_of(s)->io, &jt->t) < 0) {
        free(jt);
        refuse_member(s, m, "server_error", "server stopping");
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
        refuse_member(s, m, "version_ahead",
                      "the document is not at that version yet");
        return;
    }
    int need_client = !srv_map_get(&s->clients, m->client);
    int need_ops = m->has_version && m->version < s->base;
    if (m->has_version && (uint64_t)(s->committed - m->version) >
                              env_of(s)->queue_bytes / OP_MSG_MIN) {
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
        sess_op *o = win_at(s, v);
        send_msg(s, h, srv_wire_op(s->id, v, o->wire, o->client, o->seq, o->user), 0);
    }
}

/* The ops after the member's version, then "joined". 0, or -1 when the
 * member was refused. */
static int send_catchup(srv_session *s, sess_member *m, store_oprec *recs,
                        size_t n)
{
    int64_t from = m->version > s->base ? m->version : s->base;
    if (env_of(s)->out->queued(m->h) + catchup_bytes(s, recs, n, from) >
        env_of(s)->queue_bytes) {
        refuse_catchup(s, m);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        send_msg(s, m->h, srv_wire_op(s->id, recs[i].version, recs[i].op,
                                      recs[i].client, recs[i].seq, recs[i].user), 0);
    send_window_ops(s, m->h, from);
    send_msg(s, m->h, srv_wire_joined(s->id, s->committed, NULL, 0), 0);
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
        refuse_member(s, m, "server_error", "out of memory");
        return -1;
    }
    send_msg(s, m->h, msg, 1);
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
            send_msg(s, m->h, presence_of(s, &s->m[i]), 0);
    broadcast_msg(s, presence_of(s, m), m->h);
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
        env_of(s)->out->error(who->handle, "server_error", "out of memory",
                              s->id, -1);
        env_of(s)->out->drop(who->handle, s);
        return;
    }
    sess_member *m = &s->m[s->nm++];
    memset(m, 0, sizeof *m);
    m->h = who->handle;
    snprintf(m->client, sizeof m->client, "%s", who->client);
    snprintf(m->name, sizeof m->name, "%s", who->name);
    snprintf(m->color, sizeof m->color, "%s", who->color);
    m->id = s->docs->next_member_id++;
    m->has_version = has_version;
    m->version = version;
    if (s->state == SESS_READY) start_member(s, m);
}

void srv_session_leave(srv_session *s, void *h)
{
    sess_member *m = member_of(s, h);
    if (!m) {
        env_of(s)->out->drop(h, s);
        return;
    }
    sess_member gone = *m; /* its identity, for the others */
    drop_member(s, (int)(m - s->m));
    if (gone.ready)
        broadcast_msg(s, srv_wire_left(s->id, gone.client, gone.name,
                                       gone.color, s->committed), h);
    if (s->dead) session_retire(s);
}

/* ---- ops */

static void win_evict(srv_session *s)
{
    while (s->committed - s->base > s->docs->env.history_window) {
        sess_op o;
        srv_ring_pop(&s->win, &o);
        s->base_len = o.len_after;
        ot_op_free(o.op);
        free(o.wire);
        s->base++;
    }
    assert(s->win.len == (size_t)(s->version - s->base));
}

/* A (client, seq) already seen: ack again with its version when committed;
 * when still queued, its commit will ack the client's current connection. */
static void resent(srv_session *s, sess_member *m, sess_client *ce, int64_t seq)
{
    if (seq == ce->last_seq) {
        if (!ce->pending) send_ack(s, m->h, seq, ce->last_version);
        return;
    }
    for (int64_t v = s->committed; v > s->base; v--) {
        sess_op *o = win_at(s, v);
        if (o->seq == seq && strcmp(o->client, m->client) == 0) {
            send_ack(s, m->h, seq, v);
            return;
        }
    }
    send_error(s, m->h, "bad_message", "seq is older than this client's last op",
               seq);
}

/* Transform 'op' (made on version v) over the window ops after v. */
static int rebase(srv_session *s, ot_op **op, int64_t v)
{
    for (int64_t u = v + 1; u <= s->version; u++) {
        ot_op *t = NULL;
        int rc = ot_transform(&t, *op, win_at(s, u)->op, OT_RIGHT);
        if (rc < 0) return rc;
        ot_op_free(*op);
        *op = t;
    }
    return 0;
}

/* Queue 'op' (taken on success) as version s->version + 1, of 'len_after'
 * code points. 0, or -1 on ENOMEM or a refusing writer (nothing changed). */
static int queue_op(srv_session *s, const char *client, const char *user,
                    int64_t seq, ot_op *op, size_t len_after,
                    srv_submit_done done, void *arg)
{
    const srv_doc_env *env = env_of(s);
    sess_op o;
    commit_job *j = calloc(1, sizeof *j);
    memset(&o, 0, sizeof o);
    if (!j || !(o.wire = ot_op_dumps(op))) goto err;
    o.op = op;
    o.done = done;
    o.done_arg = arg;
    snprintf(o.client, sizeof o.client, "%s", client);
    snprintf(o.user, sizeof o.user, "%s", user);
    o.seq = seq;
    o.time_ms = (int64_t)env->wall_ms();
    o.t_recv = env->now_s();
    o.len_after = len_after;
    if (srv_ring_push(&s->win, &o) < 0) goto err;
    j->sess = s;
    snprintf(j->client, sizeof j->client, "%s", client);
    snprintf(j->user, sizeof j->user, "%s", user);
    j->job.kind = STORE_JOB_APPEND;
    j->job.rec.doc = s->id;
    j->job.rec.version = s->version + 1;
    j->job.rec.op = o.wire;
    j->job.rec.client = j->client;
    j->job.rec.seq = seq;
    j->job.rec.user = j->user;
    j->job.rec.time_ms = o.time_ms;
    if (env->write(env->io, &j->job) < 0) {
        s->win.len--; /* the push, undone: nothing else moved */
        goto err;
    }
    s->version++;
    s->inflight++;
    s->len = len_after;
    return 0;
err:
    free(o.wire);
    free(j);
    return -1;
}

/* Code points of the text at 'version' (base <= version <= s->version). */
static size_t len_at(srv_session *s, int64_t version)
{
    return version == s->base ? s->base_len : win_at(s, version)->len_after;
}

/* Why an op of 'm' on 'version' cannot even be looked at (code and
 * message), or NULL. A resend is answered here (*done set). */
static const char *op_refusal(srv_session *s, sess_member *m, sess_client *ce,
                              int64_t version, int64_t seq, const char **msg,
                              int *done)
{
    *done = 0;
    if (!m || !m->ready || !ce)
        return *msg = "the join has not finished", "not_joined";
    if (s->state != SESS_READY)
        return *msg = "document unavailable", "server_error";
    if (ce->last_seq >= 0 && seq <= ce->last_seq) {
        resent(s, m, ce, seq);
        *done = 1;
        return NULL;
    }
    if (version > s->committed)
        return *msg = "the document is not at that version yet", "version_ahead";
    if (version < s->base)
        return *msg = "base version too old: rejoin with your version", "too_old";
    return NULL;
}

/* Transform and check 'op'; 0 and its length after in *len_after, or -1
 * after answering with an error. */
static int check_op(srv_session *s, void *h, int64_t version, int64_t seq,
                    ot_op **op, size_t span, size_t *len_after)
{
    char why[160];
    /* 'span' counts a trailing retain too, which the decoded op dropped:
     * an op reaching past the end of its document is refused whole. */
    int rc = span > len_at(s, version) ? OT_ERANGE : rebase(s, op, version);
    if (rc == 0 && ot_op_base_len(*op) > s->len) rc = OT_ERANGE;
    if (rc < 0) {
        snprintf(why, sizeof why, "bad op: %s", ot_strerror(rc));
        send_error(s, h, "bad_op", why, seq);
        return -1;
    }
    size_t ins = 0, del = 0;
    ot_op_stats(*op, &ins, &del);
    if (ins > del && s->len - del + ins > env_of(s)->max_doc_chars) {
        snprintf(why, sizeof why, "the document would pass its size limit "
                 "(%zu code points)", env_of(s)->max_doc_chars);
        send_error(s, h, "too_large", why, seq);
        return -1;
    }
    *len_after = s->len - del + ins;
    return 0;
}

void srv_session_op(srv_session *s, void *h, int64_t version, int64_t seq,
                    ot_op *op, size_t span)
{
    sess_member *m = member_of(s, h);
    sess_client *ce = m ? srv_map_get(&s->clients, m->client) : NULL;
    const char *msg = NULL;
    int done = 0;
    size_t len_after = 0;
    const char *code = op_refusal(s, m, ce, version, seq, &msg, &done);
    if (code) send_error(s, h, code, msg, seq);
    if (code || done ||
        check_op(s, h, version, seq, &op, span, &len_after) < 0) {
        ot_op_free(op);
        return;
    }
    if (queue_op(s, m->client, m->name, seq, op, len_after, NULL, NULL) < 0) {
        send_error(s, h, "server_error", "cannot queue the op", seq);
        ot_op_free(op);
        return;
    }
    ce->last_seq = seq;
    ce->last_version = s->version;
    ce->pending = 1;
}

/* ---- commits */

static void move_cursors(srv_session *s, const ot_op *op, const char *author)
{
    for (int i = 0; i < s->nm; i++) {
        sess_member *m = &s->m[i];
        if (!m->has_cursor) continue;
        int side = strcmp(m->client, author) == 0 ? OT_RIGHT : OT_LEFT;
        m->anchor = (uint32_t)ot_transform_pos(m->anchor, op, side);
        m->head = (uint32_t)ot_transform_pos(m->head, op, side);
    }
}

/* Every snapshot_every ops; but a snapshot writes the whole text, so for a
 * document much larger than the ops since the last one, wait until they
 * add up to a quarter of its length (at most 16 periods): the snapshot cost
 * per op then does not grow with the document, and a load still replays at
 * most a quarter of the text's size in ops. */
static int snapshot_due(const srv_session *s)
{
    int64_t n = s->committed - s->last_snapshot;
    int64_t every = s->docs->env.snapshot_every;
    if (n < every) return 0;
    return n >= 16 * every || s->ops_bytes * 4 >= s->len;
}

static void committed(srv_session *s, commit_job *j)
{
    const srv_doc_env *env = env_of(s);
    int64_t v = j->job.rec.version;
    assert(v == s->committed + 1);
    sess_op *o = win_at(s, v);
    if (ot_doc_apply(s->doc, o->op) < 0) {
        fail_session(s, "cannot apply a committed op (out of memory)");
        return;
    }
    s->committed = v;
    sess_client *ce = srv_map_get(&s->clients, o->client);
    if (ce && ce->last_version == v) ce->pending = 0;
    sess_member *author = member_by_client(s, o->client);
    double ack_s = -1;
    if (author && author->ready) {
        send_ack(s, author->h, o->seq, v);
        ack_s = env->now_s() - o->t_recv;
    }
    env->out->committed(env->out_arg, ack_s);
    if (s->nm > (author ? 1 : 0))
        broadcast_msg(s, srv_wire_op(s->id, v, o->wire, o->client, o->seq, o->user),
                      author ? author->h : NULL);
    move_cursors(s, o->op, o->client);
    if (o->done) o->done(o->done_arg, 0, v);
    o->done = NULL;
    s->ops_bytes += strlen(o->wire);
    if (snapshot_due(s)) submit_snapshot(s);
    win_evict(s);
}

static void snapshot_written(snap_job *sj)
{
    if (sj->job.result < 0)
        srv_warn("snapshot of %s at %lld failed: %s", sj->doc,
                 (long long)sj->job.snap.version, store_strerror(sj->job.result));
    free(sj->text);
    free(sj);
}

static void append_done(commit_job *j)
{
    srv_session *s = j->sess;
    int rc = j->job.result;
    s->inflight--;
    if (rc != 0) {
        sess_op *o = win_at(s, j->job.rec.version);
        if (o->done) o->done(o->done_arg, rc, 0);
        o->done = NULL;
    }
    if (s->state == SESS_READY && rc == 0) {
        committed(s, j);
    } else if (s->state == SESS_READY) {
        char why[160];
        snprintf(why, sizeof why, "storage failure: %s", store_strerror(rc));
        sess_member *a = member_by_client(s, j->client);
        if (a) send_error(s, a->h, "server_error", why, j->job.rec.seq);
        fail_session(s, why);
    } else if (s->dead) {
        session_retire(s);
    }
    free(j);
}

void srv_docs_on_commits(srv_docs *d, store_job *done)
{
    (void)d;
    while (done) {
        store_job *next = done->next;
        if (done->kind == STORE_JOB_SNAPSHOT)
            snapshot_written((snap_job *)done);
        else
            append_done((commit_job *)done);
        done = next;
    }
}

/* ---- presence */

void srv_session_presence(srv_session *s, void *h, int64_t version,
                          int has_cursor, uint32_t anchor, uint32_t head)
{
    sess_member *m = member_of(s, h);
    if (!m || !m->ready) {
        send_error(s, h, "not_joined", "the join has not finished", -1);
        return;
    }
    if (version > s->committed) {
        send_error(s, h, "version_ahead", "the document is not at that version yet",
                   -1);
        return;
    }
    if (version < s->base) {
        send_error(s, h, "too_old", "base version too old", -1);
        return;
    }
    for (int64_t v = version + 1; has_cursor && v <= s->committed; v++) {
        sess_op *o = win_at(s, v);
        int side = strcmp(o->client, m->client) == 0 ? OT_RIGHT : OT_LEFT;
        anchor = (uint32_t)ot_transform_pos(anchor, o->op, side);
        head = (uint32_t)ot_transform_pos(head, o->op, side);
    }
    size_t len = ot_doc_len(s->doc);
    m->has_cursor = has_cursor;
    m->anchor = anchor > len ? (uint32_t)len : anchor;
    m->head = head > len ? (uint32_t)len : head;
    srv_msg_unref(m->pres); /* the cursor moved */
    m->pres = NULL;
    broadcast_msg(s, presence_of(s, m), h);
}

/* ---- the set */

srv_docs *srv_docs_new(const srv_doc_env *env)
{
    srv_docs *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->env = *env;
    srv_map_init(&d->sessions);
    d->next_member_id = 1;
    return d;
}

void srv_docs_tick(srv_docs *d, uint64_t now_ms)
{
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        if (s->state != SESS_READY || s->nm > 0 || s->inflight > 0 ||
            now_ms - s->empty_since < d->env.unload_after_ms)
            continue;
        if (s->committed > s->last_snapshot) submit_snapshot(s);
        srv_debug("unloading %s at version %lld", s->id, (long long)s->committed);
        session_retire(s);
    }
}

int srv_docs_flush(srv_docs *d, store *st)
{
    const char *k;
    void *val;
    int first = 0;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        if (s->state != SESS_READY || s->committed <= s->last_snapshot) continue;
        size_t bytes = 0;
        char *text = ot_doc_text(s->doc, &bytes);
        int rc = text ? store_snapshot_put(st, s->id, s->committed, text, bytes)
                      : STORE_ENOMEM;
        free(text);
        if (rc < 0 && first == 0) first = rc;
        if (rc == 0) s->last_snapshot = s->committed;
    }
    return first;
}

void srv_docs_free(srv_docs *d)
{
    const char *k;
    void *val;
    if (!d) return;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        while (s->nm) drop_member(s, s->nm - 1);
        session_free(s);
    }
    srv_map_clear(&d->sessions);
    free(d);
}

/* ---- ops made by the server itself (restore, tools) */

static int submit_now(srv_session *s, sess_submit *sub)
{
    if (s->state != SESS_READY) return STORE_EIO;
    if (sub->version > s->committed) return STORE_ERANGE;
    if (sub->version < s->base) return STORE_ERANGE;
    if (rebase(s, &sub->op, sub->version) < 0 ||
        ot_op_base_len(sub->op) > s->len)
        return STORE_EINVAL;
    size_t ins = 0, del = 0;
    ot_op_stats(sub->op, &ins, &del);
    /* "@server" cannot be a client's id; the seq is the version it takes,
     * which keeps (doc, client, seq) unique. */
    if (queue_op(s, "@server", sub->user, s->version + 1, sub->op,
                 s->len - del + ins, sub->done, sub->arg) < 0)
        return STORE_ENOMEM;
    sub->op = NULL;
    return 0;
}

static void run_submits(srv_session *s)
{
    while (s->submits) {
        sess_submit *sub = s->submits;
        s->submits = sub->next;
        int rc = submit_now(s, sub);
        if (rc < 0) sub->done(sub->arg, rc, 0);
        ot_op_free(sub->op);
        free(sub);
    }
}

int srv_docs_submit(srv_docs *d, const char *doc, int64_t version, ot_op *op,
                    const char *user, srv_submit_done done, void *arg)
{
    sess_submit *sub = calloc(1, sizeof *sub);
    srv_session *s = sub ? srv_docs_open(d, user, doc) : NULL;
    if (!s) {
        free(sub);
        ot_op_free(op);
        return STORE_ENOMEM;
    }
    sub->op = op;
    sub->version = version;
    snprintf(sub->user, sizeof sub->user, "%s", user);
    sub->done = done;
    sub->arg = arg;
    sub->next = s->submits;
    s->submits = sub;
    if (s->state == SESS_READY) run_submits(s);
    if (s->nm == 0 && s->empty_since == 0) s->empty_since = d->env.mono_ms();
    return 0;
}
