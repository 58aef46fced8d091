/* proto.c -- chorus.v1, the connection's side: decode one client message
 * (with collab/wire.c's helpers), check it against the connection (hello,
 * rights, rate limit) and hand it to its document's session (collab/).
 * Every rejection is an "error" message with one of the protocol's codes,
 * after which the connection stays usable (too_large and invalid UTF-8
 * close it, in ws.c and lws). The full contract is docs/protocol.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/auth/auth.h"
#include "server/net/net.h"



static void send_msg(srv_conn *c, srv_msg *m)
{
    if (!m) {
        srv_conn_close(c, 1011, "out of memory");
        return;
    }
    srv_conn_send(c, m);
    srv_msg_unref(m);
}

static void welcome(srv_conn *c)
{
    /* The same client id on another live connection: that one is stale (a
     * reconnect raced its close). Only one connection speaks for a client. */
    for (srv_conn *o = srv__g.conns; o; o = o->next)
        if (o != c && o->hello && strcmp(o->client, c->client) == 0)
            srv_conn_close(o, 1008, "replaced by a newer connection");
    srv_wire_color(c->client, c->color);
    c->hello = 1;
    lws_set_timer_usecs(c->wsi, -1);
    const srv_config *cfg = &srv__g.cfg;
    srv_wire_limits lim = {cfg->max_message, cfg->queue_bytes,
                           cfg->ops_per_sec, cfg->docs_per_conn,
                           cfg->idle_timeout};
    send_msg(c, srv_wire_welcome(c->client, c->name, c->color,
                                 SRV_VERSION_STRING, &lim,
                                 srv_auth_team() ? "team" : "open"));
}

/* Team mode: who is behind the token, checked on a pool thread. */
typedef struct hello_task {
    srv_task t;
    uint64_t conn;
    uint64_t rights_seq;          /* srv__g.rights.seq when submitted */
    char token[64];
    unsigned char hash[SRV_TOKEN_HASH];
    srv_identity who;
} hello_task;

static int run_hello(store *st, store_task *base)
{
    hello_task *h = (hello_task *)base;
    if (strlen(h->token) != SRV_TOKEN_CHARS) return STORE_ENOTFOUND;
    srv_auth_token_hash(h->token, h->hash);
    return srv_auth_resolve_hash(st, h->hash, &h->who);
}

/* A rights re-check started while 't' ran: read again what it read (the
 * re-check did not see this connection's new rights). 1 when resubmitted. */
static int read_again(srv_task *t, uint64_t *rights_seq)
{
    if (!srv_rights_stale(*rights_seq)) return 0;
    *rights_seq = srv__g.rights.seq;
    return srv_task_submit(t) == 0;
}

static void hello_done(srv_task *t)
{
    hello_task *h = (hello_task *)t;
    srv_conn *c = srv_conn_by_id(h->conn);
    if (c && read_again(t, &h->rights_seq)) return;
    if (c) {
        c->hello_pending = 0;
        srv_conn_set_str(&c->token, NULL);
        if (t->base.result == 0) {
            c->user_id = h->who.user_id;
            c->admin = h->who.admin;
            memcpy(c->login_hash, h->hash, sizeof c->login_hash);
            c->login_expires_ms = h->who.expires_ms;
            if (srv_conn_set_str(&c->name, h->who.name) < 0)
                srv_conn_error(c, "server_error", "out of memory", NULL, -1);
            else
                welcome(c);
        } else if (t->base.result == STORE_ENOTFOUND) {
            srv_conn_error(c, "unauthorized", "unknown or expired token: log in again",
                           NULL, -1);
        } else {
            srv_conn_error(c, "server_error", store_strerror(t->base.result), NULL, -1);
        }
    }
    sodium_memzero(h->token, sizeof h->token);
    sodium_memzero(h->hash, sizeof h->hash);
    free(h);
}

/* Team mode: a guest's name says so, and so never passes for an account's
 * (SRV_GUEST_MARK). -1 on ENOMEM. */
static int mark_guest(srv_conn *c)
{
    char marked[SRV_NAME_MAX + 1];
    srv_guest_name(marked, sizeof marked, c->name);
    return srv_conn_set_str(&c->name, marked);
}

static void on_hello(srv_conn *c, const srv_wire_in *in)
{
    if (c->hello || c->hello_pending) {
        srv_conn_error(c, "bad_message", "hello was already said", NULL, -1);
        return;
    }
    if (in->err.code) {
        srv_conn_error(c, in->err.code, in->err.message, NULL, -1);
        return;
    }
    char guest[16];
    if (in->name_cps == 0) snprintf(guest, sizeof guest, "guest-%.4s", in->client);
    if (srv_conn_set_str(&c->client, in->client) < 0 ||
        srv_conn_set_str(&c->name, in->name_cps == 0 ? guest : in->name) < 0 ||
        (in->token && srv_conn_set_str(&c->token, in->token) < 0)) {
        srv_conn_error(c, "server_error", "out of memory", NULL, -1);
        return;
    }
    if (!srv_auth_team() || !c->token[0]) {
        /* open mode, or an anonymous guest who can only use share links */
        srv_conn_set_str(&c->token, NULL);
        if (srv_auth_team() && mark_guest(c) < 0) {
            srv_conn_error(c, "server_error", "out of memory", NULL, -1);
            return;
        }
        welcome(c);
        return;
    }
    hello_task *h = calloc(1, sizeof *h);
    if (!h) {
        srv_conn_error(c, "server_error", "out of memory", NULL, -1);
        return;
    }
    h->conn = c->id;
    h->rights_seq = srv__g.rights.seq;
    snprintf(h->token, sizeof h->token, "%s", c->token);
    h->t.base.run = run_hello;
    h->t.done = hello_done;
    if (srv_task_submit(&h->t) < 0) {
        free(h);
        srv_conn_error(c, "server_error", "server stopping", NULL, -1);
        return;
    }
    c->hello_pending = 1;
}

/* Team mode: may this connection open 'doc'? A pool task reads its role
 * (creating the document, owned by the joiner, when it does not exist). */
typedef struct access_task {
    srv_task t;
    uint64_t conn;
    uint64_t rights_seq;          /* srv__g.rights.seq when submitted */
    char doc[65];
    char share[256];
    srv_identity who;
    int has_version;
    int64_t version;
    int role;
} access_task;

/* Is a->doc in the trash, and may the joiner know it (a role on it kept
 * in the trash, or an admin)? Strangers are told no more than "no access". */
static int in_trash_for(store *st, const access_task *a)
{
    int64_t trashed = 0;
    int role = STORE_ROLE_NONE;
    if (store_doc_trashed(st, a->doc, &trashed) < 0 || !trashed) return 0;
    if (a->who.admin) return 1;
    return store_role_get(st, a->doc, a->who.user_id, &role) == 0 &&
           role > STORE_ROLE_NONE;
}

static int run_access(store *st, store_task *base)
{
    access_task *a = (access_task *)base;
    int exists = 0;
    int role = srv_auth_doc_role(st, &a->who, a->doc, a->share, &exists);
    if (role < 0) return role;
    if (!exists && a->who.user_id) {
        /* the document and its owner in one transaction: a crash
         * between the two would leave a document nobody may open */
        int rc = store_doc_create_with(st, a->doc, "", a->who.name,
                                       (int64_t)srv_wall_ms(),
                                       a->who.user_id, NULL, 0);
        if (rc < 0 && rc != STORE_EEXIST) return rc;
        role = rc == 0 ? STORE_ROLE_OWNER
                       : srv_auth_doc_role(st, &a->who, a->doc, a->share, &exists);
        if (role < 0) return role;
        if (rc == STORE_EEXIST && !exists && in_trash_for(st, a)) return STORE_ETRASHED;
    }
    a->role = role;
    return 0;
}

/* Join 'doc' with 'role', granted (team mode) with share link 'share'
 * (NULL or "" if none), which the join keeps for the rights re-check. */
static void do_join(srv_conn *c, const char *doc, int has, int64_t version,
                    int role, const char *share)
{
    srv_join *j = srv_conn_find_join(c, doc);
    if (j && has && version > srv_session_version(j->sess)) {
        /* a failed resync keeps the connection joined */
        srv_conn_error(c, "version_ahead", "the document is not at that version yet",
                       doc, -1);
        return;
    }
    if (j) srv_session_leave(j->sess, c); /* a join again is a resync */
    else if (c->njoins >= srv__g.cfg.docs_per_conn) {
        srv_conn_error(c, "rate_limited",
                       "too many documents joined on this connection", doc, -1);
        return;
    }
    srv__conn_join(c, doc, has, version, role);
    if (srv_conn_join_share(c, doc, share) < 0)
        srv_warn("%s: out of memory: the join of %s keeps only its own role",
                 c->client, doc);
}

static void access_done(srv_task *t)
{
    access_task *a = (access_task *)t;
    srv_conn *c = srv_conn_by_id(a->conn);
    if (c) a->who.admin = c->admin; /* as a re-check left it */
    if (c && read_again(t, &a->rights_seq)) return;
    if (!c || c->close_code) {
    } else if (t->base.result == STORE_ETRASHED) {
        srv_conn_error(c, "doc_trashed", "the document is in the trash", a->doc, -1);
    } else if (t->base.result < 0) {
        srv_conn_error(c, "server_error", store_strerror(t->base.result), a->doc, -1);
    } else if (a->role == STORE_ROLE_NONE) {
        if (c->user_id)
            srv_conn_error(c, "forbidden", "no access to this document", a->doc, -1);
        else
            srv_conn_error(c, "unauthorized", "log in, or use a share link", a->doc, -1);
    } else {
        do_join(c, a->doc, a->has_version, a->version, a->role, a->share);
    }
    free(a);
}

static void on_join(srv_conn *c, const srv_wire_in *in)
{
    const char *doc = in->doc;
    int has = in->has_version;
    int64_t version = in->version;
    if (!srv_auth_team()) {
        do_join(c, doc, has, version, STORE_ROLE_OWNER, NULL);
        return;
    }
    access_task *a = calloc(1, sizeof *a);
    if (!a) {
        srv_conn_error(c, "server_error", "out of memory", doc, -1);
        return;
    }
    a->conn = c->id;
    a->rights_seq = srv__g.rights.seq;
    snprintf(a->doc, sizeof a->doc, "%s", doc);
    if (in->share) snprintf(a->share, sizeof a->share, "%s", in->share);
    a->who.user_id = c->user_id;
    a->who.admin = c->admin;
    snprintf(a->who.name, sizeof a->who.name, "%s", c->name);
    a->has_version = has;
    a->version = version;
    a->t.base.run = run_access;
    a->t.done = access_done;
    if (srv_task_submit(&a->t) < 0) {
        free(a);
        srv_conn_error(c, "server_error", "server stopping", doc, -1);
    }
}

static int take_token(srv_conn *c, double cost)
{
    uint64_t now = srv_mono_ms();
    double rate = srv__g.cfg.ops_per_sec;
    c->tokens += (double)(now - c->tokens_ms) * rate / 1000.0;
    if (c->tokens > rate * 2) c->tokens = rate * 2;
    c->tokens_ms = now;
    if (c->tokens < cost) return 0;
    c->tokens -= cost;
    return 1;
}

/* The connection's join of the message's document, if it may edit
 * there; else NULL after answering (seq < 0: none). */
static srv_join *editor_join(srv_conn *c, const srv_wire_in *in, int64_t seq,
                             const char *viewer_why)
{
    srv_join *j = srv_conn_find_join(c, in->doc);
    if (!j) {
        srv_conn_error(c, "not_joined", "join the document first", in->doc, seq);
        return NULL;
    }
    if (j->role < STORE_ROLE_EDITOR) {
        srv_conn_error(c, "forbidden", viewer_why, in->doc, seq);
        return NULL;
    }
    return j;
}

static void late_error(srv_conn *c, const srv_wire_err *e)
{
    srv_conn_error(c, e->code, e->message, e->doc, e->seq);
}

static void on_op(srv_conn *c, srv_wire_in *in)
{
    srv_join *j = editor_join(c, in, in->seq, "viewers cannot edit");
    if (!j) return;
    if (in->late.code) {
        late_error(c, &in->late);
        return;
    }
    if (!take_token(c, 1.0)) {
        srv_conn_error(c, "rate_limited", "too many ops per second", in->doc,
                       in->seq);
        return;
    }
    ot_op *op = in->op;
    in->op = NULL; /* the session takes it */
    srv_session_op(j->sess, c, in->version, in->seq, op, in->span);
}

static void on_presence(srv_conn *c, const srv_wire_in *in)
{
    srv_join *j = editor_join(c, in, -1, "viewers cannot share a cursor");
    if (!j) return;
    if (in->late.code) {
        late_error(c, &in->late);
        return;
    }
    if (!take_token(c, 0.25)) {
        srv_conn_error(c, "rate_limited", "too many presence updates", in->doc, -1);
        return;
    }
    srv_session_presence(j->sess, c, in->version, in->has_cursor, in->anchor,
                         in->head);
}

static void on_leave(srv_conn *c, const srv_wire_in *in)
{
    srv_join *j = srv_conn_find_join(c, in->doc);
    if (!j) {
        srv_conn_error(c, "not_joined", "not joined to that document", in->doc, -1);
        return;
    }
    srv_session_leave(j->sess, c);
}

/* A decoded message of a connection that said hello. */
static void dispatch(srv_conn *c, srv_wire_in *in)
{
    if (in->err.code) {
        late_error(c, &in->err);
        return;
    }
    switch (in->type) {
    case SRV_IN_OP: on_op(c, in); break;
    case SRV_IN_PRESENCE: on_presence(c, in); break;
    case SRV_IN_JOIN: on_join(c, in); break;
    case SRV_IN_LEAVE: on_leave(c, in); break;
    default: break;
    }
}

void srv__proto_handle(srv_conn *c, const char *data, size_t len)
{
    srv_wire_in in;
    if (c->close_code) return; /* closing: ignore what else arrives */
    srv_wire_decode(&in, data, len);
    if (in.type == SRV_IN_BAD)
        late_error(c, &in.err);
    else if (in.type == SRV_IN_HELLO)
        on_hello(c, &in);
    else if (!c->hello)
        srv_conn_error(c, "hello_required",
                       c->hello_pending ? "wait for welcome" : "say hello first",
                       NULL, -1);
    else
        dispatch(c, &in);
    srv_wire_in_clear(&in);
}

void srv__proto_closed(srv_conn *c)
{
    while (c->njoins > 0) srv_session_leave(c->joins[c->njoins - 1].sess, c);
}
