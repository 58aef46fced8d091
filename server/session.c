/* session.c -- one session per open document: it orders concurrent ops,
 * persists them through the group-commit writer, and acks and broadcasts
 * them once they are on disk.
 *
 * Versions: ops 1..committed are on disk and applied to s->doc; ops
 * committed+1..version are accepted and queued to the writer, not yet
 * visible to anyone. The window holds the ops base+1..version for
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/core.h"
#include "server/base/base.h"

enum { SESS_LOADING, SESS_READY, SESS_FAILED };

typedef struct sess_op {           /* one op of the window */
    ot_op *op;                     /* as applied: transformed to its version */
    char *wire;                    /* its wire JSON text */
    char client[65];
    char user[65];
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
    srv_conn *conn;
    uint64_t id;                   /* survives the conn: tasks look it up */
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
    char user[65];
    srv_submit_done done;
    void *arg;
} sess_submit;

struct srv_session {
    char id[65];
    int state;
    ot_doc *doc;                   /* text at 'committed' */
    int64_t committed, version, base;
    size_t len;                    /* code points at 'version' */
    size_t base_len;               /* code points at 'base' */
    sess_op *win;                  /* ring: versions base+1..version */
    size_t win_head, win_cap;
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
    char client[65];               /* the record's strings live here: the */
    char user[65];                 /* window ring moves when it grows */
} commit_job;

typedef struct snap_job {          /* a SNAPSHOT, standalone */
    store_job job;
    char doc[65];
    char *text;
} snap_job;

static srv_map sessions;           /* doc id -> srv_session (live ones) */
static uint64_t next_member_id = 1;

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

srv_session *srv_session_get(const char *doc)
{
    return srv_map_get(&sessions, doc);
}

size_t srv__sessions_count(void)
{
    return sessions.len;
}

static sess_op *win_at(srv_session *s, int64_t v)
{
    return &s->win[(s->win_head + (size_t)(v - s->base - 1)) % s->win_cap];
}

static sess_member *member_of(srv_session *s, srv_conn *c)
{
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].conn == c) return &s->m[i];
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
        if (s->m[i].conn && strcmp(s->m[i].conn->client, client) == 0)
            return &s->m[i];
    return NULL;
}

static void session_free(srv_session *s)
{
    for (int64_t v = s->base + 1; v <= s->version; v++) {
        sess_op *o = win_at(s, v);
        ot_op_free(o->op);
        free(o->wire);
    }
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&s->clients, &i, &k, &val);) free(val);
    srv_map_clear(&s->clients);
    ot_doc_free(s->doc);
    free(s->win);
    free(s->m);
    free(s);
}

/* Out of the table (a later join loads afresh); freed when nothing holds it. */
static void session_retire(srv_session *s)
{
    if (!s->dead) {
        if (srv_map_get(&sessions, s->id) == s) srv_map_del(&sessions, s->id);
        s->dead = 1;
    }
    if (s->inflight == 0 && s->nm == 0) session_free(s);
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
    if (store_writer_submit(srv__g.writer, &j->job) < 0) {
        free(j->text);
        free(j);
        return;
    }
    s->last_snapshot = s->committed;
    s->ops_bytes = 0;
}

/* ---- messages */

static json_t *user_json(const char *name, const char *color)
{
    json_t *u = json_pack("{s:s}", "name", name);
    if (u && color) json_object_set_new(u, "color", json_string(color));
    return u;
}

/* The "op" message, built as text around the stored wire op (no parse and
 * re-encode of the op: this runs once per committed op). Doc and client ids
 * are of a JSON-safe alphabet; the user name is quoted by jansson. */
static srv_msg *op_msg(const char *doc, int64_t version, const char *wire,
                       const char *client, int64_t seq, const char *user)
{
    json_t *u = json_string(user);
    char *quoted = u ? json_dumps(u, JSON_ENCODE_ANY) : NULL;
    json_decref(u);
    if (!quoted) return NULL;
    size_t cap = strlen(doc) + strlen(wire) + strlen(client) + strlen(quoted) + 128;
    char *buf = malloc(cap);
    srv_msg *m = NULL;
    if (buf) {
        int n = snprintf(buf, cap,
                         "{\"type\":\"op\",\"doc\":\"%s\",\"version\":%lld,\"op\":%s,"
                         "\"client\":\"%s\",\"seq\":%lld,\"user\":{\"name\":%s}}",
                         doc, (long long)version, wire, client, (long long)seq, quoted);
        if (n > 0 && (size_t)n < cap) m = srv_msg_new(buf, (size_t)n);
    }
    free(buf);
    free(quoted);
    return m;
}

static void send_msg(srv_conn *c, srv_msg *m)
{
    if (!m) {
        srv_conn_close(c, 1011, "out of memory");
        return;
    }
    srv_conn_send(c, m);
    srv_msg_unref(m);
}

static void send_ack(srv_conn *c, const char *doc, int64_t seq, int64_t version)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf,
                     "{\"type\":\"ack\",\"doc\":\"%s\",\"seq\":%lld,\"version\":%lld}",
                     doc, (long long)seq, (long long)version);
    send_msg(c, srv_msg_new(buf, (size_t)n));
}

static json_t *presence_msg(srv_session *s, sess_member *m)
{
    json_t *cur = m->has_cursor
                      ? json_pack("{s:I,s:I}", "anchor", (json_int_t)m->anchor,
                                  "head", (json_int_t)m->head)
                      : json_null();
    return json_pack("{s:s,s:s,s:s,s:o,s:I,s:o}", "type", "presence", "doc",
                     s->id, "client", m->conn->client, "user",
                     user_json(m->conn->name, m->conn->color), "version",
                     (json_int_t)s->committed, "cursor", cur);
}

/* A new reference to m's presence message (NULL on ENOMEM). */
static srv_msg *presence_of(srv_session *s, sess_member *m)
{
    if (!m->pres || m->pres_version != s->committed) {
        srv_msg_unref(m->pres);
        m->pres = srv_msg_take(presence_msg(s, m));
        m->pres_version = s->committed;
        if (!m->pres) return NULL;
    }
    m->pres->refs++;
    return m->pres;
}

/* Send 'out' (stolen) to every ready member but 'except'. */
static void broadcast_msg(srv_session *s, srv_msg *out, srv_conn *except)
{
    if (!out) return;
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].ready && s->m[i].conn != except)
            srv_conn_relay(s->m[i].conn, out);
    srv_msg_unref(out);
}

static void broadcast(srv_session *s, json_t *msg, srv_conn *except)
{
    broadcast_msg(s, srv_msg_take(msg), except);
}

static void drop_member(srv_session *s, int i)
{
    srv_conn *c = s->m[i].conn;
    if (c) srv_conn_drop_join(c, s);
    srv_msg_unref(s->m[i].pres);
    s->m[i] = s->m[--s->nm];
    if (s->nm == 0) s->empty_since = srv_mono_ms();
}

/* Tell every member the document is gone from under them, and let go. */
static void fail_session(srv_session *s, const char *why)
{
    srv_err("document %s: %s; its clients must rejoin", s->id, why);
    s->state = SESS_FAILED;
    run_submits(s); /* each is told of the failure */
    while (s->nm > 0) {
        srv_conn *c = s->m[s->nm - 1].conn;
        srv_conn_error(c, "server_error", why, s->id, -1);
        drop_member(s, s->nm - 1);
    }
    session_retire(s);
}

/* ---- loading a document and joining members (reader pool tasks) */

typedef struct load_task {
    srv_task t;
    srv_session *sess;
    char creator[65];
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
        rc = store_doc_create(st, doc, "", lt->creator, (int64_t)srv_wall_ms());
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
    for (int i = 0; i < s->nm; i++) start_member(s, &s->m[i]);
    run_submits(s);
}

static srv_session *session_open(const char *creator, const char *doc)
{
    srv_session *s = calloc(1, sizeof *s);
    load_task *lt = calloc(1, sizeof *lt);
    if (!s || !lt || srv_map_put(&sessions, doc, s) < 0) {
        free(s);
        free(lt);
        return NULL;
    }
    snprintf(s->id, sizeof s->id, "%s", doc);
    s->state = SESS_LOADING;
    srv_map_init(&s->clients);
    lt->sess = s;
    snprintf(lt->creator, sizeof lt->creator, "%s", creator);
    lt->t.base.run = run_load;
    lt->t.done = load_done;
    if (srv_task_submit(&lt->t) < 0) {
        srv_map_del(&sessions, doc);
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
    char client[65];
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

static void join_done(srv_task *t)
{
    join_task *jt = (join_task *)t;
    srv_session *s = jt->sess;
    s->inflight--;
    sess_member *m = member_by_id(s, jt->member);
    if (s->state == SESS_READY && m) {
        m->waiting = 0;
        if (t->base.result < 0) {
            srv_conn_error(m->conn, "server_error", store_strerror(t->base.result),
                           s->id, -1);
            drop_member(s, (int)(m - s->m));
        } else {
            if (jt->need_client && !srv_map_get(&s->clients, jt->client)) {
                sess_client *ce = calloc(1, sizeof *ce);
                if (ce) {
                    ce->last_seq = jt->last_seq;
                    ce->last_version = jt->last_version;
                    srv_map_put(&s->clients, jt->client, ce);
                }
            }
            if (jt->need_ops && (int64_t)jt->nrecs != jt->upto - jt->after) {
                srv_conn_error(m->conn, "too_old", "history not available", s->id, -1);
                drop_member(s, (int)(m - s->m));
            } else {
                finish_member(s, m, jt->recs, jt->nrecs);
            }
        }
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
 * fits (srv_conn_send_whole). Otherwise the join would close it for its
 * queue bound every time. */
static void refuse_catchup(srv_session *s, sess_member *m)
{
    srv_conn_error(m->conn, "too_old",
                   "catch-up larger than the document: join without a version",
                   s->id, -1);
    drop_member(s, (int)(m - s->m));
}

/* The member can be answered at once, or a task fetches what is missing:
 * the client's newest op here (for resend dedup) and ops older than the
 * window (catch-up). */
static void start_member(srv_session *s, sess_member *m)
{
    srv_conn *c = m->conn;
    if (m->has_version && m->version > s->committed) {
        srv_conn_error(c, "version_ahead", "the document is not at that version yet",
                       s->id, -1);
        drop_member(s, (int)(m - s->m));
        return;
    }
    int need_client = !srv_map_get(&s->clients, c->client);
    int need_ops = m->has_version && m->version < s->base;
    if (m->has_version && (uint64_t)(s->committed - m->version) >
                              srv__g.cfg.queue_bytes / OP_MSG_MIN) {
        refuse_catchup(s, m);
        return;
    }
    if (!need_client && !need_ops) {
        finish_member(s, m, NULL, 0);
        return;
    }
    join_task *jt = calloc(1, sizeof *jt);
    if (!jt) {
        srv_conn_error(c, "server_error", "out of memory", s->id, -1);
        drop_member(s, (int)(m - s->m));
        return;
    }
    jt->sess = s;
    jt->member = m->id;
    snprintf(jt->client, sizeof jt->client, "%s", c->client);
    jt->need_client = need_client;
    jt->need_ops = need_ops;
    jt->after = m->version;
    jt->upto = s->base;
    jt->t.base.run = run_join;
    jt->t.done = join_done;
    if (srv_task_submit(&jt->t) < 0) {
        free(jt);
        srv_conn_error(c, "server_error", "server stopping", s->id, -1);
        drop_member(s, (int)(m - s->m));
        return;
    }
    m->waiting = 1;
    s->inflight++;
}

static void send_window_ops(srv_session *s, srv_conn *c, int64_t after)
{
    for (int64_t v = after + 1; v <= s->committed; v++) {
        sess_op *o = win_at(s, v);
        send_msg(c, op_msg(s->id, v, o->wire, o->client, o->seq, o->user));
    }
}

static void finish_member(srv_session *s, sess_member *m, store_oprec *recs,
                          size_t n)
{
    srv_conn *c = m->conn;
    if (m->has_version) {
        int64_t from = m->version > s->base ? m->version : s->base;
        if (c->q_bytes - c->q_whole + catchup_bytes(s, recs, n, from) >
            srv__g.cfg.queue_bytes) {
            refuse_catchup(s, m);
            return;
        }
        for (size_t i = 0; i < n; i++)
            send_msg(c, op_msg(s->id, recs[i].version, recs[i].op,
                               recs[i].client, recs[i].seq, recs[i].user));
        send_window_ops(s, c, from);
        srv_conn_send_json(c, json_pack("{s:s,s:s,s:I}", "type", "joined", "doc",
                                        s->id, "version",
                                        (json_int_t)s->committed));
    } else {
        size_t bytes = 0;
        char *text = ot_doc_text(s->doc, &bytes);
        json_t *jt = text ? json_stringn(text, bytes) : NULL;
        free(text);
        if (!jt) {
            srv_conn_error(c, "server_error", "out of memory", s->id, -1);
            drop_member(s, (int)(m - s->m));
            return;
        }
        srv_conn_send_whole(c, json_pack("{s:s,s:s,s:I,s:o}", "type", "joined",
                                        "doc", s->id, "version",
                                        (json_int_t)s->committed, "text", jt));
    }
    m->ready = 1;
    for (int i = 0; i < s->nm; i++)
        if (&s->m[i] != m && s->m[i].ready)
            send_msg(c, presence_of(s, &s->m[i]));
    broadcast_msg(s, presence_of(s, m), c);
}

void srv_session_join(srv_conn *c, const char *doc, int has_version,
                      int64_t version, int role)
{
    srv_session *s = srv_map_get(&sessions, doc);
    if (!s && !(s = session_open(c->name, doc))) {
        srv_conn_error(c, "server_error", "out of memory", doc, -1);
        return;
    }
    srv_join *nj = realloc(c->joins, (size_t)(c->njoins + 1) * sizeof *nj);
    if (!nj || (s->nm == s->mcap &&
                !(s->m = realloc(s->m, (size_t)(s->mcap = s->mcap ? s->mcap * 2 : 4) *
                                           sizeof *s->m)))) {
        if (nj) c->joins = nj;
        srv_conn_error(c, "server_error", "out of memory", doc, -1);
        return;
    }
    c->joins = nj;
    c->joins[c->njoins].sess = s;
    c->joins[c->njoins].share = NULL;
    c->joins[c->njoins++].role = role;
    sess_member *m = &s->m[s->nm++];
    memset(m, 0, sizeof *m);
    m->conn = c;
    m->id = next_member_id++;
    m->has_version = has_version;
    m->version = version;
    if (s->state == SESS_READY) start_member(s, m);
}

void srv_session_leave(srv_conn *c, srv_session *s)
{
    sess_member *m = member_of(s, c);
    if (!m) {
        srv_conn_drop_join(c, s);
        return;
    }
    int was_ready = m->ready;
    drop_member(s, (int)(m - s->m));
    if (was_ready)
        broadcast(s, json_pack("{s:s,s:s,s:s,s:o,s:I,s:n,s:b}", "type", "presence",
                               "doc", s->id, "client", c->client, "user",
                               user_json(c->name, c->color), "version",
                               (json_int_t)s->committed, "cursor", "left", 1),
                  c);
    if (s->dead) session_retire(s);
}

/* ---- ops */

static int win_push(srv_session *s, sess_op *o)
{
    size_t used = (size_t)(s->version - s->base);
    if (used == s->win_cap) {
        size_t ncap = s->win_cap ? s->win_cap * 2 : 64;
        sess_op *nw = malloc(ncap * sizeof *nw);
        if (!nw) return -1;
        for (size_t i = 0; i < used; i++)
            nw[i] = s->win[(s->win_head + i) % s->win_cap];
        free(s->win);
        s->win = nw;
        s->win_cap = ncap;
        s->win_head = 0;
    }
    s->win[(s->win_head + used) % s->win_cap] = *o;
    return 0;
}

static void win_evict(srv_session *s)
{
    while (s->committed - s->base > srv__g.cfg.history_window) {
        sess_op *o = win_at(s, s->base + 1);
        s->base_len = o->len_after;
        ot_op_free(o->op);
        free(o->wire);
        s->win_head = (s->win_head + 1) % s->win_cap;
        s->base++;
    }
}

/* A (client, seq) already seen: ack again with its version when committed;
 * when still queued, its commit will ack the client's current connection. */
static void resent(srv_conn *c, srv_session *s, sess_client *ce, int64_t seq)
{
    if (seq == ce->last_seq) {
        if (!ce->pending) send_ack(c, s->id, seq, ce->last_version);
        return;
    }
    for (int64_t v = s->committed; v > s->base; v--) {
        sess_op *o = win_at(s, v);
        if (o->seq == seq && strcmp(o->client, c->client) == 0) {
            send_ack(c, s->id, seq, v);
            return;
        }
    }
    srv_conn_error(c, "bad_message", "seq is older than this client's last op",
                   s->id, seq);
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

static int queue_op(srv_session *s, const char *client, const char *user,
                    int64_t seq, ot_op *op, srv_submit_done done, void *arg)
{
    sess_op o;
    commit_job *j = calloc(1, sizeof *j);
    memset(&o, 0, sizeof o);
    if (!j || !(o.wire = ot_op_dumps(op))) goto fail;
    o.op = op;
    o.done = done;
    o.done_arg = arg;
    snprintf(o.client, sizeof o.client, "%s", client);
    snprintf(o.user, sizeof o.user, "%s", user);
    o.seq = seq;
    o.time_ms = (int64_t)srv_wall_ms();
    o.t_recv = srv_now_s();
    if (win_push(s, &o) < 0) goto fail;
    j->sess = s;
    snprintf(j->client, sizeof j->client, "%s", client);
    j->job.kind = STORE_JOB_APPEND;
    j->job.rec.doc = s->id;
    j->job.rec.version = s->version + 1;
    j->job.rec.op = o.wire;
    j->job.rec.client = j->client;
    j->job.rec.seq = seq;
    snprintf(j->user, sizeof j->user, "%s", user);
    j->job.rec.user = j->user;
    j->job.rec.time_ms = o.time_ms;
    if (store_writer_submit(srv__g.writer, &j->job) < 0) goto fail;
    s->version++;
    s->inflight++;
    return 0;
fail:
    free(o.wire);
    free(j);
    return -1;
}

/* Code points of the text at 'version' (base <= version <= s->version). */
static size_t len_at(srv_session *s, int64_t version)
{
    return version == s->base ? s->base_len : win_at(s, version)->len_after;
}

void srv_session_op(srv_conn *c, srv_session *s, int64_t version, int64_t seq,
                    ot_op *op, size_t span)
{
    sess_member *m = member_of(s, c);
    sess_client *ce = srv_map_get(&s->clients, c->client);
    const char *code = NULL, *msg = NULL;
    if (!m || !m->ready || !ce)
        code = "not_joined", msg = "the join has not finished";
    else if (s->state != SESS_READY)
        code = "server_error", msg = "document unavailable";
    else if (ce->last_seq >= 0 && seq <= ce->last_seq) {
        resent(c, s, ce, seq);
        ot_op_free(op);
        return;
    } else if (version > s->committed)
        code = "version_ahead", msg = "the document is not at that version yet";
    else if (version < s->base)
        code = "too_old", msg = "base version too old: rejoin with your version";
    if (code) {
        srv_conn_error(c, code, msg, s->id, seq);
        ot_op_free(op);
        return;
    }
    /* 'span' counts a trailing retain too, which the decoded op dropped:
     * an op reaching past the end of its document is refused whole. */
    int rc = span > len_at(s, version) ? OT_ERANGE : rebase(s, &op, version);
    if (rc == 0 && ot_op_base_len(op) > s->len) rc = OT_ERANGE;
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "bad op: %s", ot_strerror(rc));
        srv_conn_error(c, "bad_op", why, s->id, seq);
        ot_op_free(op);
        return;
    }
    size_t ins = 0, del = 0;
    ot_op_stats(op, &ins, &del);
    if (ins > del && s->len - del + ins > srv__g.cfg.max_doc_chars) {
        char why[160];
        snprintf(why, sizeof why, "the document would pass its size limit "
                 "(%zu code points)", srv__g.cfg.max_doc_chars);
        srv_conn_error(c, "too_large", why, s->id, seq);
        ot_op_free(op);
        return;
    }
    if (queue_op(s, c->client, c->name, seq, op, NULL, NULL) < 0) {
        srv_conn_error(c, "server_error", "cannot queue the op", s->id, seq);
        ot_op_free(op);
        return;
    }
    s->len = s->len - del + ins;
    win_at(s, s->version)->len_after = s->len;
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
        int side = strcmp(m->conn->client, author) == 0 ? OT_RIGHT : OT_LEFT;
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
    int64_t every = srv__g.cfg.snapshot_every;
    if (n < every) return 0;
    return n >= 16 * every || s->ops_bytes * 4 >= s->len;
}

static void committed(srv_session *s, commit_job *j)
{
    int64_t v = j->job.rec.version;
    sess_op *o = win_at(s, v);
    if (ot_doc_apply(s->doc, o->op) < 0) {
        fail_session(s, "cannot apply a committed op (out of memory)");
        return;
    }
    s->committed = v;
    srv__g.metrics.ops_committed++;
    sess_client *ce = srv_map_get(&s->clients, o->client);
    if (ce && ce->last_version == v) ce->pending = 0;
    sess_member *author = member_by_client(s, o->client);
    if (author && author->ready) {
        send_ack(author->conn, s->id, o->seq, v);
        srv__ack_latency(srv_now_s() - o->t_recv);
    }
    if (s->nm > (author ? 1 : 0))
        broadcast_msg(s, op_msg(s->id, v, o->wire, o->client, o->seq, o->user),
                      author ? author->conn : NULL);
    move_cursors(s, o->op, o->client);
    if (o->done) o->done(o->done_arg, 0, v);
    o->done = NULL;
    s->ops_bytes += strlen(o->wire);
    if (snapshot_due(s)) submit_snapshot(s);
    win_evict(s);
}

void srv__sessions_on_commits(store_job *done)
{
    while (done) {
        store_job *next = done->next;
        if (done->kind == STORE_JOB_SNAPSHOT) {
            snap_job *sj = (snap_job *)done;
            if (done->result < 0)
                srv_warn("snapshot of %s at %lld failed: %s", sj->doc,
                         (long long)sj->job.snap.version,
                         store_strerror(done->result));
            free(sj->text);
            free(sj);
        } else {
            commit_job *j = (commit_job *)done;
            srv_session *s = j->sess;
            s->inflight--;
            if (done->result != 0) {
                sess_op *o = win_at(s, j->job.rec.version);
                if (o->done) o->done(o->done_arg, done->result, 0);
                o->done = NULL;
            }
            if (s->state == SESS_READY) {
                if (done->result == 0) {
                    committed(s, j);
                } else {
                    char why[160];
                    snprintf(why, sizeof why, "storage failure: %s",
                             store_strerror(done->result));
                    sess_member *a = member_by_client(s, j->client);
                    if (a) srv_conn_error(a->conn, "server_error", why, s->id,
                                          j->job.rec.seq);
                    fail_session(s, why);
                }
            } else if (s->dead) {
                session_retire(s);
            }
            free(j);
        }
        done = next;
    }
}

/* ---- presence */

void srv_session_presence(srv_conn *c, srv_session *s, int64_t version,
                          int has_cursor, uint32_t anchor, uint32_t head)
{
    sess_member *m = member_of(s, c);
    if (!m || !m->ready) {
        srv_conn_error(c, "not_joined", "the join has not finished", s->id, -1);
        return;
    }
    if (version > s->committed) {
        srv_conn_error(c, "version_ahead", "the document is not at that version yet",
                       s->id, -1);
        return;
    }
    if (version < s->base) {
        srv_conn_error(c, "too_old", "base version too old", s->id, -1);
        return;
    }
    for (int64_t v = version + 1; has_cursor && v <= s->committed; v++) {
        sess_op *o = win_at(s, v);
        int side = strcmp(o->client, c->client) == 0 ? OT_RIGHT : OT_LEFT;
        anchor = (uint32_t)ot_transform_pos(anchor, o->op, side);
        head = (uint32_t)ot_transform_pos(head, o->op, side);
    }
    size_t len = ot_doc_len(s->doc);
    m->has_cursor = has_cursor;
    m->anchor = anchor > len ? (uint32_t)len : anchor;
    m->head = head > len ? (uint32_t)len : head;
    srv_msg_unref(m->pres); /* the cursor moved */
    m->pres = NULL;
    broadcast_msg(s, presence_of(s, m), c);
}

/* ---- lifetime */

void srv__sessions_tick(uint64_t now_ms)
{
    const char *k;
    void *val;
    uint64_t after = (uint64_t)srv__g.cfg.unload_after * 1000;
    for (size_t i = 0; srv_map_next(&sessions, &i, &k, &val);) {
        srv_session *s = val;
        if (s->state != SESS_READY || s->nm > 0 || s->inflight > 0 ||
            now_ms - s->empty_since < after)
            continue;
        if (s->committed > s->last_snapshot) submit_snapshot(s);
        srv_debug("unloading %s at version %lld", s->id, (long long)s->committed);
        session_retire(s);
    }
}

void srv__sessions_shutdown(void)
{
    const char *k;
    void *val;
    /* Let the writer finish what is queued, apply it, snapshot, stop. */
    store_writer_stop(srv__g.writer);
    srv__sessions_on_commits(store_writer_drain(srv__g.writer));
    store_pool_stop(srv__g.pool);
    for (store_task *t = store_pool_drain(srv__g.pool), *n; t; t = n) {
        n = t->next;
        ((srv_task *)t)->done((srv_task *)t);
    }
    /* The writer is stopped: write the due snapshots on our own. */
    store *st = NULL;
    for (size_t i = 0; srv_map_next(&sessions, &i, &k, &val);) {
        srv_session *s = val;
        if (s->state != SESS_READY || s->committed <= s->last_snapshot) continue;
        if (!st && store_open(&st, srv__g.db_path, NULL, NULL, 0) < 0) break;
        size_t bytes = 0;
        char *text = ot_doc_text(s->doc, &bytes);
        if (text) store_snapshot_put(st, s->id, s->committed, text, bytes);
        free(text);
    }
    store_close(st);
    for (size_t i = 0; srv_map_next(&sessions, &i, &k, &val);) {
        srv_session *s = val;
        while (s->nm) drop_member(s, s->nm - 1);
        session_free(s);
    }
    srv_map_clear(&sessions);
}

int srv_task_submit(srv_task *t)
{
    return store_pool_submit(srv__g.pool, &t->base);
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
    if (queue_op(s, "@server", sub->user, s->version + 1, sub->op, sub->done,
                 sub->arg) < 0)
        return STORE_ENOMEM;
    sub->op = NULL;
    s->len = s->len - del + ins;
    win_at(s, s->version)->len_after = s->len;
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

int srv_session_submit(const char *doc, int64_t version, ot_op *op,
                       const char *user, srv_submit_done done, void *arg)
{
    srv_session *s = srv_map_get(&sessions, doc);
    sess_submit *sub = calloc(1, sizeof *sub);
    if (!sub || (!s && !(s = session_open(user, doc)))) {
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
    if (s->nm == 0 && s->empty_since == 0) s->empty_since = srv_mono_ms();
    return 0;
}
