/* net.h -- server/net: the WebSocket side of chorus.v1 (connections,
 * out queues, relays, the connection-side message handler, rights
 * re-checks) and the environment through which the document sessions of
 * collab/ reach connections, the writer and the pool.
 *
 * Files: ws.c (lws callback, reassembly, the bounded out queue, closing),
 * relay.c (broadcasts that wait for the next frame), proto.c (hello, rate
 * limits, access, dispatch to sessions), rights.c (rights end when taken
 * away), docs.c (the sessions' srv_doc_env: outputs onto connections).
 * Ownership: the server owns connections; a connection holds references to
 * the srv_msg buffers in its queue and lists the sessions it joined; a
 * session holds each member's handle (the srv_conn) and tells net/ through
 * its drop output when a member is out, so each side forgets the other.
 * Arrows: net -> collab -> auth, base -> storage; net never includes api/.
 * Everything here runs on the lws service thread. */
#ifndef CHORUS_SERVER_NET_H
#define CHORUS_SERVER_NET_H

#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "server/auth/auth.h"
#include "server/base/base.h"
#include "server/bus/bus.h"
#include "server/collab/collab.h"

typedef struct srv_conn srv_conn;

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
    /* out queue: a ring of srv_msg *, each a reference */
    srv_ring q;
    size_t q_bytes;
    size_t q_whole;               /* of q_bytes, in whole sends */
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

extern char srv__no_str[];
/* Set one of a connection's strings to a copy of 'v'. -1 on ENOMEM (then
 * it keeps its old value). */
int srv_conn_set_str(char **slot, const char *v);

/* Queue 'm' for 'c' (takes a new reference). When the queue would pass the
 * configured byte bound, the connection is closed with 1008 instead. */
void srv_conn_send(srv_conn *c, srv_msg *m);
/* The same for an answer the client cannot do without and that may be
 * larger than the queue bound (a join's text, up to --max-doc-chars): it
 * does not count against the bound, so a queue holds at most the bound
 * plus the texts of the documents being joined. */
void srv_conn_send_whole(srv_conn *c, srv_msg *m);
/* Queue 'm' like srv_conn_send, but let it wait (at most SRV_RELAY_US) for
 * the connection's next frame: for broadcasts, which then leave together
 * with the next ack or with each other, one send() for many (relay.c). */
void srv_conn_relay(srv_conn *c, srv_msg *m);
/* Queue 'm' (a new reference) without asking to write: 0, or -1 when the
 * connection is closing or was just closed for its queue bound (ws.c). */
int srv__conn_enqueue(srv_conn *c, srv_msg *m);
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
/* Forget the join of 's' (the session's drop output). */
void srv_conn_drop_join(srv_conn *c, srv_session *s);

/* Keep the token of an upgrade request for its connection (ws.c). */
void srv__ws_upgrade_token(struct lws *wsi, const char *token);

/* The lws protocol callback of chorus.v1 (ws.c). */
int srv__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len);

/* ---- relays (relay.c) */
/* Relays of 'c' whose time has come are asked out; more than that is never
 * waited for. Run by srv__drain. */
void srv__relays_flush(void);
/* 'c' is going away: drop it from the held connections. */
void srv__relay_forget(srv_conn *c);
/* The thread that wakes the event loop while relays wait; 0 or -1. */
int srv__relay_ticker_start(struct lws_context *ctx);
void srv__relay_ticker_stop(void);

/* ---- chorus.v1 messages of one connection (proto.c) */
/* One whole client message (not NUL-terminated, 'len' bytes). */
void srv__proto_handle(srv_conn *c, const char *data, size_t len);
/* The connection closed: leave every document it joined. */
void srv__proto_closed(srv_conn *c);

/* ---- the sessions' environment (docs.c) */
/* The environment the server gives its sessions: outputs onto srv_conns,
 * srv__g's writer and pool and config, the real clocks. (A harness may
 * wrap parts of it before srv_docs_new: fuzz/fuzz_env.h.) */
void srv__docs_env(srv_doc_env *env);
/* Make srv__g.docs over srv__g's writer, pool and config. 0, or -1 on
 * ENOMEM. */
int srv__docs_start(void);
/* Shutdown: let the writer finish, apply its commits, drain the pool,
 * write the due snapshots, free the sessions. */
void srv__docs_stop(void);
/* Join 'doc' with 'role' for 'c' (the join is recorded, then the session
 * answers). Errors are sent to 'c'. */
void srv__conn_join(srv_conn *c, const char *doc, int has_version,
                    int64_t version, int role);

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

/* ---- the search index follows the documents (indexer.c) */
/* Once a second (timer): when no indexer task is out, submit one that
 * indexes, on the pool, the documents whose text moved on since they were
 * indexed and that have been quiet for SRV_INDEX_QUIET_MS. At start this
 * catches up whatever a crash or another process left behind. */
#define SRV_INDEX_QUIET_MS 1500
void srv__index_tick(void);

/* ---- cluster mode (cluster.c): the bus between the nodes */
/* Start the bus when --bus is set: 0, or -1 with why on stderr. */
int srv__cluster_start(void);
void srv__cluster_stop(void);
/* On the loop thread: apply what the bus received (from srv__drain). */
void srv__cluster_drain(void);
/* Once a second: poll the store for every open document while the bus is
 * down, and every CLUSTER_POLL_UP_S seconds while it is up. */
void srv__cluster_tick(uint64_t now_ms);

/* ---- HTTP (http.c, static.c, gate.c) */
/* What net is handed at start-up (serve.c) and keeps for its life; the
 * protocol's user pointer (struct lws_protocols .user) points to it. */
typedef struct srv_http_env {
    const srv_config *cfg; /* the gate's lists, --conns-per-ip */
    const char *web_root;     /* real path of web/ */
    /* The API: 1 when it answered (or started answering) 'r', 0 when the
     * path is none of its routes (then /ws and web/ files are tried). */
    int (*route)(void *arg, srv_http_req *r);
    void *route_arg;
    /* The storage threads woke the loop (EVENT_WAIT_CANCELLED). */
    void (*wake)(void);
    srv_http_req *live;       /* every request not yet freed (http.c) */
} srv_http_env;

/* The lws protocol callback of "http" (its .user: an srv_http_env). */
int srv__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);
/* Free the requests still alive under 'env' (after lws_context_destroy):
 * lws 4.1.6 does not report the close of every connection it kills. */
void srv__http_free_all(srv_http_env *env);
/* The caller's token into 'out': "Authorization: Bearer T", else the
 * session cookie; empty when neither (or too long to be ours). 0. */
int srv__http_token(struct lws *wsi, char *out, size_t outlen);

/* ---- files of web/ (static.c) */
/* Resolve 'path' (the URL path, already percent-decoded) to a file under
 * 'web_root' (a real path). "/" is index.html and "/d/<id>" the editor.
 * Returns 0 with the real file path in 'out', or -1 when there is no such
 * file or the path is not allowed (both answer 404). */
int srv__static_resolve(const char *web_root, const char *path, char *out,
                        size_t outlen);
/* The Content-Type of 'path' by its extension (a static string). */
const char *srv__mime_type(const char *path);

/* ---- the gate: Host and Origin checks (gate.c) */
/* May a request whose Host header is 'host' (NULL: none, not a browser)
 * be answered under 'cfg'? Its name (port stripped, case folded, IPv6
 * brackets removed) must be an --allow-host entry (or '*'), the bind
 * address, localhost, 127.0.0.1, ::1 or the host of an --allow-origin;
 * when bound to every address, any IP literal too. 1 yes, 0 no. */
int srv_gate_host_ok(const srv_config *cfg, const char *host);
/* May a browser page of 'origin' talk to us? It must be an --allow-origin
 * entry (or '*'), or, without any, the server's own origin: http:// or
 * https:// followed by 'host' (the request's Host; NULL: none). 1 or 0. */
int srv_gate_origin_ok(const srv_config *cfg, const char *origin,
                       const char *host);
/* The same on a request's headers; a header too long to read whole
 * (over 1 KiB) is refused. srv__gate_host: 1 may be answered, 0 not. */
int srv__gate_host(const srv_config *cfg, struct lws *wsi);
enum { SRV_GATE_NO_ORIGIN, SRV_GATE_ALLOWED, SRV_GATE_FOREIGN };
int srv__gate_origin(const srv_config *cfg, struct lws *wsi); /* SRV_GATE_* */
/* May a request that changes state go on? 1 when its Origin is allowed,
 * or it has none and no Sec-Fetch-Site other than same-origin or none. */
int srv__gate_csrf(const srv_config *cfg, struct lws *wsi);

/* ---- the server's state (srv__g): the lws context, the storage threads,
 * the connections, the sessions' set. Set up by cli/serve.c (the
 * composition root) and read by net/ only; the rooms below get what they
 * need through their environments (srv_doc_env, srv_api_env). */

typedef struct srv srv;
struct srv {
    srv_config cfg;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    store_writer *writer;
    store_pool *pool;
    srv_docs *docs;               /* the open documents (net/docs.c) */
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
    srv_bus *bus;                 /* cluster mode (cluster.c), or NULL */
    int bus_was_up;
    uint64_t bus_polls;           /* store polls of every open document */
    int indexing;                 /* an indexer task is out (indexer.c) */
    uint64_t indexed_total;       /* documents it indexed since start */
    volatile sig_atomic_t stopping;
};

extern srv srv__g;                /* the one server of this process */

/* ---- the loop's side of the storage threads (loop.c) */
/* Submit 't' to the reader pool; its done() runs later on the lws thread.
 * Returns 0, or a STORE_E* code (stopping): then done() is never called. */
int srv_task_submit(srv_task *t);
/* The same on the password pool; STORE_EBUSY when too many are waiting. */
int srv_task_submit_auth(srv_task *t);
/* Hand back what the writer and the pools finished, and let held relays
 * go (on EVENT_WAIT_CANCELLED, after a storage thread woke the loop). */
void srv__drain(void);
/* Wake the loop from a storage thread ('arg': the lws context). */
void srv__wake(void *arg);

#endif
