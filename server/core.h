/* core.h -- server/'s internal types: the server state, connections,
 * outgoing messages and document sessions, and the calls between the files
 * of server/. Not a public API: names are srv__* or srv_* for server-wide use.
 *
 * Ownership: the server owns connections and sessions; a connection holds
 * references to the srv_msg buffers in its queue; a session lists its
 * members (connections) and a connection lists its sessions, and each side
 * unlinks itself from the other when it goes away. */
#ifndef CHORUS_SERVER_CORE_H
#define CHORUS_SERVER_CORE_H

#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdint.h>

#include "ot/ot.h"
#include "server/auth/auth.h"
#include "server/base/base.h"
#include "server/srv.h"
#include "storage/store.h"

typedef struct srv srv;
typedef struct srv_conn srv_conn;
typedef struct srv_session srv_session;

/* ---- outgoing messages: one JSON text, shared by every queue it sits in */
typedef struct srv_msg {
    int refs;
    int whole;             /* queued by srv_conn_send_whole: not counted
                              against the queue bound (one queue only) */
    size_t len;            /* JSON bytes, at buf + LWS_PRE */
    unsigned char *buf;    /* LWS_PRE headroom, then the JSON */
} srv_msg;

/* A new message holding a copy of 'json'; NULL on ENOMEM. refs = 1. */
srv_msg *srv_msg_new(const char *json, size_t len);
/* Serialise 'obj' (compact) into a new message and drop the reference to
 * 'obj' (it is stolen, as with jansson's _new functions). NULL on ENOMEM. */
srv_msg *srv_msg_take(json_t *obj);
void srv_msg_unref(srv_msg *m);

/* ---- connections (ws.c) */
typedef struct srv_join {         /* one document a connection has joined */
    srv_session *sess;
    int role;                     /* STORE_ROLE_*: what it may do there */
    char *share;                  /* team mode: the share link it joined
                                     with (heap), NULL if none; the rights
                                     re-check asks it again (rights.c) */
} srv_join;

struct srv_conn {
    struct lws *wsi;
    srv_conn *prev, *next;        /* srv.conns */
    char ip[48];                  /* INET6_ADDRSTRLEN and a little */
    uint64_t opened_ms;
    /* identity, after hello */
    uint64_t id;                  /* unique for the process' life */
    /* client, name and token are heap strings, or srv__no_str ("") until
     * set: most connections sit idle for hours, so they hold only what
     * they use (srv_conn_set_str). */
    char *token;                  /* from the upgrade's cookie, until hello */
    int64_t user_id;              /* team mode: the account, 0 if anonymous */
    int admin;
    /* team mode, with an account: the keyed hash of the login's token (not
     * the token) and when it expires (0 never), for the re-check (rights.c) */
    unsigned char login_hash[SRV_TOKEN_HASH];
    int64_t login_expires_ms;
    int hello_pending;            /* hello is being checked */
    int hello;
    char *client;                 /* at most SRV_CLIENT_MAX bytes */
    char *name;                   /* at most SRV_NAME_MAX bytes */
    char color[8];
    /* reassembly of the current message */
    char *rx;
    size_t rx_len, rx_cap;
    int rx_discard;               /* too large: dropping the rest */
    size_t pre_hello_bytes;
    /* out queue: a ring of message references */
    srv_msg **q;
    size_t q_head, q_len, q_cap;
    size_t q_bytes;
    size_t q_whole;               /* of q_bytes, in srv_conn_send_whole's */
    int rx_paused;                /* reading paused while lws holds output */
    /* closing: set, then the WRITEABLE callback closes with this code */
    int close_code;
    const char *close_reason;     /* a string literal */
    /* rate limit: a token bucket of ops */
    double tokens;
    uint64_t tokens_ms;
    /* joined documents */
    srv_join *joins;
    int njoins;
    /* relays queued but held back (relay.c): when they must leave, 0 if none */
    uint64_t relay_due_us;
};

#define SRV_CLIENT_MAX 64
#define SRV_NAME_MAX 64
extern char srv__no_str[];
/* Set one of a connection's strings to a copy of 'v'. -1 on ENOMEM (then
 * it keeps its old value). */
int srv_conn_set_str(char **slot, const char *v);

/* Queue 'm' for 'c' (takes a new reference). When the queue would pass the
 * configured byte bound, the connection is closed with 1008 instead. */
void srv_conn_send(srv_conn *c, srv_msg *m);
/* Queue 'm' like srv_conn_send, but let it wait (at most SRV_RELAY_US) for
 * the connection's next frame: for broadcasts, which then leave together
 * with the next ack or with each other, one send() for many (relay.c). */
void srv_conn_relay(srv_conn *c, srv_msg *m);
/* Queue 'm' (a new reference) without asking to write: 0, or -1 when the
 * connection is closing or was just closed for its queue bound (ws.c). */
int srv__conn_enqueue(srv_conn *c, srv_msg *m);
/* Relays of 'c' whose time has come are asked out; more than that is never
 * waited for. Run by srv__drain (relay.c). */
void srv__relays_flush(void);
/* 'c' is going away: drop it from the held connections. */
void srv__relay_forget(srv_conn *c);
/* The thread that wakes the event loop while relays wait; 0 or -1. */
int srv__relay_ticker_start(struct lws_context *ctx);
void srv__relay_ticker_stop(void);
/* Queue an object (stolen) for one connection. */
void srv_conn_send_json(srv_conn *c, json_t *obj);
/* The same for an answer the client cannot do without and that may be
 * larger than the queue bound (a join's text, up to --max-doc-chars): it
 * does not count against the bound, so a queue holds at most the bound
 * plus the texts of the documents being joined. */
void srv_conn_send_whole(srv_conn *c, json_t *obj);
/* Queue {"type":"error",...}; 'doc' may be NULL, 'seq' < 0 for none. */
void srv_conn_error(srv_conn *c, const char *code, const char *message,
                    const char *doc, int64_t seq);
/* Close with 'code' once what is queued before has been written. */
void srv_conn_close(srv_conn *c, int code, const char *reason);
srv_join *srv_conn_find_join(srv_conn *c, const char *doc);
/* Keep the share link 'share' (may be NULL or "") the join of 'doc' was
 * granted with. -1 on ENOMEM (then it keeps none, and a re-check takes away
 * what only the link gave: failing closed). */
int srv_conn_join_share(srv_conn *c, const char *doc, const char *share);
srv_conn *srv_conn_by_id(uint64_t id);   /* NULL once closed */
void srv_conn_drop_join(srv_conn *c, srv_session *s);

/* Keep the token of an upgrade request for its connection (ws.c). */
void srv__ws_upgrade_token(struct lws *wsi, const char *token);

/* The lws protocol callback of chorus.v1 (ws.c); HTTP's is in
 * server/net/http.h. */
int srv__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len);

/* ---- chorus.v1 messages (proto.c): one whole client message */
void srv__proto_handle(srv_conn *c, const char *data, size_t len);
void srv__proto_closed(srv_conn *c);

/* ---- document sessions (session.c) */
srv_session *srv_session_get(const char *doc);          /* loaded or NULL */
/* Join: loads the document (creating it) when needed; answers 'joined'
 * (with text, or the ops after 'version' when has_version). */
void srv_session_join(srv_conn *c, const char *doc, int has_version,
                      int64_t version, int role);
void srv_session_leave(srv_conn *c, srv_session *s);
/* An op made on 'version'; 'op' is stolen. 'span' is the code points its
 * wire form retains and deletes, trailing retain included. */
void srv_session_op(srv_conn *c, srv_session *s, int64_t version, int64_t seq,
                    ot_op *op, size_t span);
/* A cursor made on 'version' (has_cursor 0: none). */
void srv_session_presence(srv_conn *c, srv_session *s, int64_t version,
                          int has_cursor, uint32_t anchor, uint32_t head);
/* An op made by the server itself (restore, tools) on 'version' of 'doc',
 * as user 'user': transformed, committed and broadcast like a client's.
 * 'op' is stolen. done(arg, rc, version) runs on the lws thread once: rc 0
 * after the commit (version is the op's), or a STORE_E* code (nothing was
 * applied). Loads the document (creating it) when needed. Returns 0, or a
 * STORE_E* code when it could not even start (then done is not called). */
typedef void (*srv_submit_done)(void *arg, int rc, int64_t version);
int srv_session_submit(const char *doc, int64_t version, ot_op *op,
                       const char *user, srv_submit_done done, void *arg);
const char *srv_session_id(const srv_session *s);
int64_t srv_session_version(const srv_session *s);
/* Completions from the writer and the pool (on the lws thread). */
void srv__sessions_on_commits(store_job *done);
/* Unload sessions empty for longer than cfg.unload_after (timer). */
void srv__sessions_tick(uint64_t now_ms);
/* Flush and free every session (shutdown). */
void srv__sessions_shutdown(void);
size_t srv__sessions_count(void);

/* ---- reader pool tasks that finish on the lws thread */
typedef struct srv_task srv_task;
typedef void (*srv_task_done)(srv_task *t);
struct srv_task {
    store_task base;              /* run on a pool thread */
    srv_task_done done;           /* then this, on the lws thread */
};
/* Submit 't' to the reader pool; its done() runs later on the lws thread.
 * Returns 0, or a STORE_E* code (stopping): then done() is never called. */
int srv_task_submit(srv_task *t);
/* The same on the password pool; STORE_EBUSY when too many are waiting. */
int srv_task_submit_auth(srv_task *t);
/* Drain the writer and the pool (on EVENT_WAIT_CANCELLED). */
void srv__drain(void);
int srv_valid_doc_id(const char *s);

/* ---- rights end when they are taken away (rights.c)
 * Team mode only: in open mode every call here returns at once. A re-check
 * resolves again, on the reader pool, every connection with an identity
 * (login, account, share links) and then, on the lws thread, closes those
 * whose login ended (close code SRV_CLOSE_SESSION_ENDED), takes a document
 * away from a join whose role is gone (error access_revoked) and sets the
 * role of the others to what it is now (an editor made viewer may no
 * longer edit). */
#define SRV_CLOSE_SESSION_ENDED 4401
typedef struct srv_rights {
    uint64_t seq;                 /* re-checks started: a task that read
                                     rights before the latest one began
                                     must read them again (srv_rights_stale) */
    int64_t gen;                  /* auth generation the last re-check saw */
    int have_gen;
    int busy;                     /* a poll or re-check task is out */
    int again;                    /* a change came while one was out */
} srv_rights;
/* Something in this process took a right away (logout, a role, share
 * links): re-check now (or right after the re-check under way). */
void srv_rights_changed(void);
/* Once a second (timer): close connections whose login expired, and ask
 * the database (off this thread) whether the auth generation moved, which
 * any process's change does; if so, re-check. */
void srv__rights_tick(uint64_t now_ms);
/* Did a re-check start since 'seq' (a value of srv__g.rights.seq)? Then a
 * hello or join whose rights were read before must read them again. */
int srv_rights_stale(uint64_t seq);

/* ---- HTTP: server/net/http.h (transport, web/ files, the gate) and
 * server/api/api.h (the routes, /metrics) */

/* ---- the server (serve.c) */
typedef struct srv_metrics {
    uint64_t ops_committed;
    uint64_t commits;
    uint64_t acks;
    uint64_t ack_lat_buckets[16]; /* ack latency histogram (api/metrics.c) */
    uint64_t ack_lat_count;
    double ack_lat_sum_s;
    uint64_t conns_total;
    uint64_t conns_closed_slow;
    uint64_t errors_sent;
    uint64_t bytes_queued_peak;
} srv_metrics;

struct srv {
    srv_config cfg;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    store_writer *writer;
    store_pool *pool;
    store_pool *auth_pool;        /* password hashing: slow, kept apart */
    int auth_pending;             /* tasks queued there (bounded) */
    int tls;
    char web_root[4096];
    char db_path[4096];
    srv_conn *conns;
    int nconns;
    srv_map ip_counts;            /* ip -> open connections (intptr_t) */
    size_t queued_bytes;          /* over every connection */
    srv_metrics metrics;
    srv_rights rights;
    volatile sig_atomic_t stopping;
};

extern srv srv__g;                /* the one server of this process */

/* Count one ack's latency in srv__g.metrics (api/metrics.c, which knows
 * the histogram's bounds). */
void srv__ack_latency(double seconds);

#endif
