/* proto.c -- chorus.v1, the connection's side: decode one client message
 * (with collab/wire.c's helpers), check it against the connection (hello,
 * rights, rate limit) and hand it to its document's session (collab/). Every rejection is an "error" message with one of
 * the protocol's codes, after which the connection stays usable (too_large
 * and invalid UTF-8 close it, in ws.c and lws). The full contract is
 * docs/protocol.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/auth/auth.h"
#include "server/core.h"
#include "server/net/net.h"

#define MAX_NAME_CP 64


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

static void on_hello(srv_conn *c, json_t *m)
{
    json_t *cl = json_object_get(m, "client"), *nm = json_object_get(m, "name");
    json_t *tok = json_object_get(m, "token");
    if (c->hello || c->hello_pending) {
        srv_conn_error(c, "bad_message", "hello was already said", NULL, -1);
        return;
    }
    if (!json_is_string(cl) || !srv_valid_client_id(json_string_value(cl))) {
        srv_conn_error(c, "bad_message",
                       "hello needs \"client\": 1-64 of A-Za-z0-9_.:-", NULL, -1);
        return;
    }
    if (nm && !json_is_null(nm) && !json_is_string(nm)) {
        srv_conn_error(c, "bad_message", "\"name\" must be a string", NULL, -1);
        return;
    }
    if (tok && !json_is_null(tok) && !json_is_string(tok)) {
        srv_conn_error(c, "bad_message", "\"token\" must be a string", NULL, -1);
        return;
    }
    size_t cps = 0;
    const char *name = json_is_string(nm) ? json_string_value(nm) : "";
    if (ot_utf8_validate(name, strlen(name), &cps) < 0 || cps > MAX_NAME_CP ||
        strlen(name) > SRV_NAME_MAX) {
        srv_conn_error(c, "bad_message", "\"name\" is at most 64 characters",
                       NULL, -1);
        return;
    }
    char guest[16];
    if (cps == 0) snprintf(guest, sizeof guest, "guest-%.4s", json_string_value(cl));
    if (srv_conn_set_str(&c->client, json_string_value(cl)) < 0 ||
        srv_conn_set_str(&c->name, cps == 0 ? guest : name) < 0 ||
        (json_is_string(tok) && json_string_length(tok) < 64 &&
         srv_conn_set_str(&c->token, json_string_value(tok)) < 0)) {
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

/* The doc member of a message: valid id, or an error (NULL). */
static const char *doc_of(srv_conn *c, json_t *m)
{
    json_t *d = json_object_get(m, "doc");
    if (!json_is_string(d) || !srv_valid_doc_id(json_string_value(d))) {
        srv_conn_error(c, "bad_doc_id",
                       "doc ids are 1-64 of A-Za-z0-9_.- not starting with '.'",
                       NULL, -1);
        return NULL;
    }
    return json_string_value(d);
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

static int run_access(store *st, store_task *base)
{
    access_task *a = (access_task *)base;
    int exists = 0;
    int role = srv_auth_doc_role(st, &a->who, a->doc, a->share, &exists);
    if (role < 0) return role;
    if (!exists && a->who.user_id) {
        int rc = store_doc_create(st, a->doc, "", a->who.name,
                                  (int64_t)srv_wall_ms());
        if (rc < 0 && rc != STORE_EEXIST) return rc;
        if (rc == 0 && (rc = store_role_set(st, a->doc, a->who.user_id,
                                            STORE_ROLE_OWNER)) < 0)
            return rc;
        role = rc == 0 ? STORE_ROLE_OWNER
                       : srv_auth_doc_role(st, &a->who, a->doc, a->share, &exists);
        if (role < 0) return role;
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

static void on_join(srv_conn *c, json_t *m)
{
    const char *doc = doc_of(c, m);
    int64_t version = 0;
    if (!doc) return;
    int has = srv_wire_uint(m, "version", &version);
    json_t *share = json_object_get(m, "share");
    if (has < 0 || (share && !json_is_null(share) &&
                    !(json_is_string(share) && json_string_length(share) < 256))) {
        srv_conn_error(c, "bad_message",
                       "\"version\" must be an integer >= 0, \"share\" a link token",
                       doc, -1);
        return;
    }
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
    if (json_is_string(share)) snprintf(a->share, sizeof a->share, "%s", json_string_value(share));
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

static void on_op(srv_conn *c, json_t *m)
{
    const char *doc = doc_of(c, m);
    int64_t version = 0, seq = 0;
    ot_op *op = NULL;
    if (!doc) return;
    int hs = srv_wire_uint(m, "seq", &seq);
    if (hs <= 0) {
        srv_conn_error(c, "bad_message", "\"seq\" must be an integer >= 0", doc, -1);
        return;
    }
    if (srv_wire_uint(m, "version", &version) <= 0) {
        srv_conn_error(c, "bad_message", "\"version\" must be an integer >= 0",
                       doc, seq);
        return;
    }
    srv_join *j = srv_conn_find_join(c, doc);
    if (!j) {
        srv_conn_error(c, "not_joined", "join the document first", doc, seq);
        return;
    }
    if (j->role < STORE_ROLE_EDITOR) {
        srv_conn_error(c, "forbidden", "viewers cannot edit", doc, seq);
        return;
    }
    int rc = ot_op_from_json(&op, json_object_get(m, "op"));
    if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "bad op: %s", ot_strerror(rc));
        srv_conn_error(c, "bad_op", msg, doc, seq);
        return;
    }
    if (!take_token(c, 1.0)) {
        ot_op_free(op);
        srv_conn_error(c, "rate_limited", "too many ops per second", doc, seq);
        return;
    }
    srv_session_op(j->sess, c, version, seq, op,
                   srv_wire_span(json_object_get(m, "op")));
}

static void on_presence(srv_conn *c, json_t *m)
{
    const char *doc = doc_of(c, m);
    int64_t version = 0, anchor = 0, head = 0;
    if (!doc) return;
    srv_join *j = srv_conn_find_join(c, doc);
    if (!j) {
        srv_conn_error(c, "not_joined", "join the document first", doc, -1);
        return;
    }
    if (j->role < STORE_ROLE_EDITOR) {
        srv_conn_error(c, "forbidden", "viewers cannot share a cursor", doc, -1);
        return;
    }
    json_t *cur = json_object_get(m, "cursor");
    int ok = srv_wire_uint(m, "version", &version) > 0 && cur &&
             (json_is_null(cur) ||
              (json_is_object(cur) && srv_wire_uint(cur, "anchor", &anchor) > 0 &&
               srv_wire_uint(cur, "head", &head) > 0 && anchor <= UINT32_MAX &&
               head <= UINT32_MAX));
    if (!ok) {
        srv_conn_error(c, "bad_message",
                       "presence needs \"version\" and \"cursor\": null or "
                       "{\"anchor\":n,\"head\":n}", doc, -1);
        return;
    }
    if (!take_token(c, 0.25)) {
        srv_conn_error(c, "rate_limited", "too many presence updates", doc, -1);
        return;
    }
    srv_session_presence(j->sess, c, version, !json_is_null(cur),
                         (uint32_t)anchor, (uint32_t)head);
}

static void on_leave(srv_conn *c, json_t *m)
{
    const char *doc = doc_of(c, m);
    if (!doc) return;
    srv_join *j = srv_conn_find_join(c, doc);
    if (!j) {
        srv_conn_error(c, "not_joined", "not joined to that document", doc, -1);
        return;
    }
    srv_session_leave(j->sess, c);
}

void srv__proto_handle(srv_conn *c, const char *data, size_t len)
{
    json_error_t jerr;
    if (c->close_code) return; /* closing: ignore what else arrives */
    json_t *m = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!m) {
        char msg[200];
        snprintf(msg, sizeof msg, "invalid JSON: %s", jerr.text);
        srv_conn_error(c, "bad_json", msg, NULL, -1);
        return;
    }
    json_t *t = json_object_get(m, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : NULL;
    if (!json_is_object(m) || !type)
        srv_conn_error(c, "bad_message", "a message is an object with a \"type\"",
                       NULL, -1);
    else if (strcmp(type, "hello") == 0)
        on_hello(c, m);
    else if (!c->hello)
        srv_conn_error(c, "hello_required",
                       c->hello_pending ? "wait for welcome" : "say hello first",
                       NULL, -1);
    else if (strcmp(type, "op") == 0)
        on_op(c, m);
    else if (strcmp(type, "presence") == 0)
        on_presence(c, m);
    else if (strcmp(type, "join") == 0)
        on_join(c, m);
    else if (strcmp(type, "leave") == 0)
        on_leave(c, m);
    else
        srv_conn_error(c, "bad_message", "unknown message type", NULL, -1);
    json_decref(m);
}

void srv__proto_closed(srv_conn *c)
{
    while (c->njoins > 0) srv_session_leave(c->joins[c->njoins - 1].sess, c);
}
