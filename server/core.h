/* core.h -- server/'s internal types still shared across rooms: the server
 * state (srv__g, serve.c), HTTP, the gate, and the calls between them. Not
 * a public API: names are srv__* or srv_* for server-wide use. It includes
 * the headers of net/ (connections) and collab/ (messages, document
 * sessions), whose contracts live there. */
#ifndef CHORUS_SERVER_CORE_H
#define CHORUS_SERVER_CORE_H

#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdint.h>

#include "ot/ot.h"
#include "server/auth/auth.h"
#include "server/base/base.h"
#include "server/collab/collab.h"
#include "server/net/net.h"
#include "server/srv.h"
#include "storage/store.h"

typedef struct srv srv;

/* The connections, relays, chorus.v1 handler and rights live in net/
 * (net/net.h); the messages and document sessions in collab/
 * (collab/collab.h); a srv_task in base/task.h. */

/* Submit 't' to the reader pool; its done() runs later on the lws thread.
 * Returns 0, or a STORE_E* code (stopping): then done() is never called.
 * (serve.c: the composition root owns the pools.) */
int srv_task_submit(srv_task *t);
/* The same on the password pool; STORE_EBUSY when too many are waiting. */
int srv_task_submit_auth(srv_task *t);
/* Drain the writer and the pool (on EVENT_WAIT_CANCELLED). */
void srv__drain(void);
/* A JSON string that is a valid doc id (and holds no U+0000)? 1 or 0. */
int srv_json_doc_id(const json_t *v);
/* Why 'v' cannot be a document's title (a string message), or NULL when
 * it can: a string of at most 200 characters, no control characters. */
const char *srv_title_problem(const json_t *v);

int srv__http_token(struct lws *wsi, char *out, size_t outlen);
int srv__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

/* ---- HTTP (http.c, static.c, api.c) */
typedef struct srv_http srv_http;  /* per-request state, in lws user memory */
/* Free the requests still alive (after lws_context_destroy). */
void srv__http_free_all(void);
int srv__static_resolve(const char *web_root, const char *path, char *out,
                        size_t outlen);
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
int srv__gate_host(struct lws *wsi);
enum { SRV_GATE_NO_ORIGIN, SRV_GATE_ALLOWED, SRV_GATE_FOREIGN };
int srv__gate_origin(struct lws *wsi);    /* SRV_GATE_* */
/* May a request that changes state go on? 1 when its Origin is allowed,
 * or it has none and no Sec-Fetch-Site other than same-origin or none. */
int srv__gate_csrf(struct lws *wsi);

/* ---- the server (serve.c) */
typedef struct srv_metrics {
    uint64_t ops_committed;
    uint64_t commits;
    uint64_t acks;
    uint64_t ack_lat_buckets[16]; /* ack latency histogram (see api.c) */
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
    volatile sig_atomic_t stopping;
};

extern srv srv__g;                /* the one server of this process */

void srv__ack_latency(double seconds);

#endif
