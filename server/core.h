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
int srv_valid_doc_id(const char *s);


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

/* Count one ack's latency in srv__g.metrics (api/metrics.c, which knows
 * the histogram's bounds). */
void srv__ack_latency(double seconds);

#endif
