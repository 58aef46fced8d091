/* base.h -- server/base: what every room of server/ may use, and that
 * calls nothing of lws, of the sessions or of the API: the log, a
 * string-keyed map, the clocks, the configuration (plain data), a pool task
 * with a second half on the loop thread, a growable ring, the metrics
 * counters, and one HTTP exchange as data (the contract between net/ and
 * api/, which never include each other).
 *
 * This is the room's one header. Rooms above (auth, history, collab, net,
 * api, cli) include it; base/ includes only storage/ below it
 * (tools/check-includes.sh enforces the direction; docs/architecture.md
 * draws the rooms). */
#ifndef CHORUS_SERVER_BASE_H
#define CHORUS_SERVER_BASE_H

#include <assert.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/store.h"

/* ---- the log (log.c): lines on stderr, with time and level.
 * Only server/ logs (ot/ and storage/ return codes). Levels: error, warn,
 * info, debug; --log-level or CHORUS_LOG picks the threshold. */
enum { SRV_LOG_ERROR = 0, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

void srv_log_set_level(int level);
/* Parse "error", "warn", "info" or "debug"; -1 when unknown. */
int srv_log_parse_level(const char *name);
void srv_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define srv_err(...) srv_log(SRV_LOG_ERROR, __VA_ARGS__)
#define srv_warn(...) srv_log(SRV_LOG_WARN, __VA_ARGS__)
#define srv_info(...) srv_log(SRV_LOG_INFO, __VA_ARGS__)
#define srv_debug(...) srv_log(SRV_LOG_DEBUG, __VA_ARGS__)

/* ---- a small string-keyed hash map (map.c), open addressing with linear
 * probing, for the server's tables: sessions by document id, clients by
 * id, connections per IP. Keys are copied; values are borrowed pointers.
 * The hash is keyed with a per-process random key (keys come from
 * clients). Not locked: each map belongs to one thread. */
typedef struct srv_map_slot {
    char *key;                   /* NULL: empty; MAP_TOMB: deleted */
    void *val;
} srv_map_slot;

typedef struct srv_map {
    srv_map_slot *slots;
    size_t cap;                  /* power of two, or 0 */
    size_t len;                  /* live keys */
    size_t used;                 /* live + tombstones */
} srv_map;

void srv_map_init(srv_map *m);
void srv_map_clear(srv_map *m);  /* frees keys, not values */
void *srv_map_get(const srv_map *m, const char *key);
/* Insert or replace. Returns 0, or -1 on ENOMEM (map unchanged). */
int srv_map_put(srv_map *m, const char *key, void *val);
/* Remove; returns the value or NULL. */
void *srv_map_del(srv_map *m, const char *key);

/* The longest run of occupied slots (live or deleted): how far a probe may
 * have to walk. For tests and /metrics-style checks; O(cap). */
size_t srv_map_longest_run(const srv_map *m);

/* Iterate: for (size_t i = 0; srv_map_next(m, &i, &k, &v);) */
int srv_map_next(const srv_map *m, size_t *i, const char **key, void **val);

/* ---- clocks (clock.c) */
/* Wall-clock milliseconds since 1970: for what is stored or compared with
 * stored times (stamps, expiries). */
uint64_t srv_wall_ms(void);
/* Monotonic milliseconds: for every interval (rate limits, timers, idle
 * sessions), which a wall-clock step must not stretch or cut short. */
uint64_t srv_mono_ms(void);
double srv_now_s(void);           /* monotonic seconds, for latencies */

/* ---- the configuration of a Chorus server (srv_config), and the few
 * names every room of server/ shares: the version string, the WebSocket
 * subprotocol, the bounds of the configuration's arrays.
 *
 * A config is filled by srv_config_init and `chorus serve`'s flags (both
 * from the one flags table, server/cli/flags.c), handed to srv_run
 * (cli/serve.c), copied there once, and read-only from then on; its
 * strings are borrowed from argv, which outlives the server. Being plain
 * data with no behaviour, it sits in base so that any room may read it. */
#define SRV_VERSION_STRING "chorus " CHORUS_VERSION
#define SRV_SUBPROTOCOL "chorus.v1"
#define SRV_MAX_ORIGINS 16
#define SRV_MAX_HOSTS 16

typedef struct srv_config {
    const char *bind;       /* address to listen on */
    int port;
    const char *data_dir;   /* DATA/chorus.db lives here */
    const char *store_url;  /* a PostgreSQL database instead (NULL: none) */
    const char *web_dir;    /* static files; NULL: found beside the binary */
    const char *origins[SRV_MAX_ORIGINS]; /* allowed Origin values */
    int norigins;           /* 0: the server's own origin only */
    const char *hosts[SRV_MAX_HOSTS]; /* more Host names to answer ('*': any) */
    int nhosts;             /* besides the bind address, loopback names and
                               the hosts of 'origins' (gate.c) */
    size_t max_message;     /* bytes, whole client message */
    size_t queue_bytes;     /* per-connection out queue bound */
    size_t max_doc_chars;   /* code points a document may grow to */
    int ops_per_sec;        /* per connection, burst twice that */
    int docs_per_conn;
    int conns_per_ip;
    int idle_timeout;       /* seconds without traffic before ping; hang-up at 2x */
    int hello_timeout;      /* seconds a new connection has to say hello */
    int unload_after;       /* seconds an empty session stays loaded */
    int trash_days;         /* trashed documents are purged after this many
                               days; 0 keeps them */
    int snapshot_every;     /* ops between snapshots */
    int sync_full;          /* 1: synchronous=FULL (default), 0: NORMAL */
    int wal_prealloc_mib;   /* an empty WAL is filled to this (default 64) */
    int history_window;     /* ops kept in memory per session for transforms */
    int auth;               /* team mode: 1 on, 0 off, -1 auto (on unless
                               bound to loopback) */
    const char *tls_cert;   /* PEM files: serve https/wss on the same port */
    const char *tls_key;
    const char *bus_url;    /* cluster mode: Redis between the nodes that
                               share one store (NULL: a single node) */
} srv_config;

/* ---- srv_task: a reader-pool task that finishes on the loop thread.
 *
 * A srv_task is a store_task (run on a pool thread against its own
 * connection) with a second half, done(), which whoever drains the pool
 * calls on the loop thread. Every room that reads the database off the loop
 * thread (collab's sessions, net's hello and rights, api's routes) embeds
 * one; how a task reaches a pool is the submitter's business (an
 * environment hands collab a submit function, see collab.h).
 * Invariant: done() runs exactly once for a task whose submit returned 0,
 * and never for one whose submit failed. */
typedef struct srv_task srv_task;
typedef void (*srv_task_done)(srv_task *t);
struct srv_task {
    store_task base;              /* run on a pool thread */
    srv_task_done done;           /* then this, on the loop thread */
};

/* ---- srv_ring (ring.c): a growable FIFO ring of fixed-size elements.
 * The out queue of a connection (net/ws.c), the held relays (net/relay.c) and a session's
 * window of ops (collab/session.c) are each one of these.
 *
 * Elements are copied in and out by value. The capacity is 0 or a power of
 * two, so an index is a mask, not a division; growing doubles it and
 * unwraps the elements to the front of a new array. Invariant (asserted):
 * len <= cap, head < cap when cap > 0, and index i < len on every access.
 * Not locked: a ring belongs to one thread. */
typedef struct srv_ring {
    unsigned char *buf;           /* cap elements of 'size' bytes, or NULL */
    size_t size;                  /* bytes per element */
    size_t head;                  /* index of the front element */
    size_t len;                   /* elements held */
    size_t cap;                   /* 0 or a power of two */
} srv_ring;

/* An empty ring of elements of 'size' bytes (no allocation). */
void srv_ring_init(srv_ring *r, size_t size);
/* Free the storage; the elements (copies) are forgotten, len becomes 0. */
void srv_ring_free(srv_ring *r);
/* Make room for one more element: 0, or -1 on ENOMEM (ring unchanged).
 * Called by srv_ring_push; the first growth makes room for 'first'. */
int srv__ring_grow(srv_ring *r, size_t first);

/* Element i from the front (0 <= i < len), borrowed until the ring next
 * grows or is freed. */
static inline void *srv_ring_at(const srv_ring *r, size_t i)
{
    assert(i < r->len && r->cap && (r->cap & (r->cap - 1)) == 0);
    return r->buf + ((r->head + i) & (r->cap - 1)) * r->size;
}

/* Copy 'elem' in at the back. 0, or -1 on ENOMEM (ring unchanged). */
static inline int srv_ring_push(srv_ring *r, const void *elem)
{
    if (r->len == r->cap && srv__ring_grow(r, 16) < 0) return -1;
    r->len++;
    memcpy(srv_ring_at(r, r->len - 1), elem, r->size);
    return 0;
}

/* Remove the back element (the last pushed), undoing a push; the ring
 * must not be empty. */
static inline void srv_ring_unpush(srv_ring *r)
{
    assert(r->len > 0);
    r->len--;
}

/* Copy the front element to 'out' (may be NULL) and remove it; the ring
 * must not be empty. */
static inline void srv_ring_pop(srv_ring *r, void *out)
{
    assert(r->len > 0);
    if (out) memcpy(out, srv_ring_at(r, 0), r->size);
    r->head = (r->head + 1) & (r->cap - 1);
    r->len--;
}

/* ---- srv_http_req (http_req.c): one HTTP exchange as data, the request
 * net read and the answer a handler gives. It is the contract between server/net (which
 * fills requests from lws and writes answers out) and server/api (whose
 * routes answer them); it sits in base so that the two never include each
 * other. Nothing here calls lws: an answer is stored in the request and
 * its 'writable' hook (set by net; NULL in tests) asks for it to be sent.
 *
 * Invariant: an answer is given once (later ones are dropped), and its
 * body and length agree: resp is NULL only with resp_len 0. */
struct lws;

enum { SRV_GET = 1, SRV_HEAD, SRV_POST, SRV_PUT, SRV_DELETE, SRV_PATCH,
       SRV_OPTIONS };

#define SRV_HTTP_MAX_ARGS 8
#define SRV_HTTP_MAX_BODY (1024 * 1024)
#define SRV_HTTP_TEXT "text/plain; charset=utf-8"

typedef struct srv_http_req srv_http_req;
struct srv_http_req {
    struct lws *wsi;          /* NULL once the connection closed */
    /* every request alive, on the list whose head is *live (net's) */
    srv_http_req *live_prev, *live_next, **live;
    /* ask the transport to send the answer (net); NULL: nobody to ask */
    void (*writable)(srv_http_req *r);
    int method;               /* SRV_GET... */
    char path[1024];
    char args[SRV_HTTP_MAX_ARGS][256];  /* "name=value", decoded */
    int nargs;
    char token[64];           /* Authorization: Bearer, else the session cookie */
    char ip[64];              /* the client's address */
    char *body;               /* request body (POST/PUT), NUL-terminated */
    size_t body_len;
    int body_too_large;
    int json_body;            /* Content-Type is application/json */
    int text_body;            /* Content-Type is text/plain (utf-8) */
    char if_match[64];        /* If-Match, or empty (or cut when longer) */
    int close_after;          /* the body cannot be delimited: close after
                                 the answer */
    /* refused by its headers alone (http.c): the answer, once the body is in */
    int refused;
    int dispatched;           /* answered or routed: only once */
    const char *refused_code, *refused_msg;   /* string literals */
    /* response */
    int status;
    const char *ctype;
    char *resp;               /* owned; NULL only with resp_len 0 */
    int resp_fd;              /* or the body comes from this file (owned), -1 */
    size_t resp_len, resp_sent;
    char disposition[256];    /* Content-Disposition, or empty */
    char set_cookie[256];     /* Set-Cookie, or empty */
    char allow[64];           /* Allow ("GET, HEAD"), or empty */
    char etag[32];            /* ETag ("\"7\""), or empty */
    const char *csp;          /* Content-Security-Policy (static), or NULL */
    int responded, headers_sent;
    int refs;                 /* the connection, and a pending task */
};

/* The value of query argument 'name', or NULL. Borrowed from 'r'. */
const char *srv_http_arg(const srv_http_req *r, const char *name);
/* Answer 'status' with 'body' (taken: freed with the request; NULL only
 * with len 0) and content type 'ctype' (a static string). A second
 * answer, or one to a request whose client has gone, is dropped (body
 * freed). */
void srv_http_respond(srv_http_req *r, int status, const char *ctype,
                      char *body, size_t len);
/* Answer the fixed text 'text' (copied) as SRV_HTTP_TEXT. Without memory
 * for the copy the answer is 'status' with an empty body. */
void srv_http_text(srv_http_req *r, int status, const char *text);
/* Answer 'len' bytes read from 'fd' (taken: closed with the request),
 * sent in chunks as the client reads them, so a large body (an export)
 * never sits in memory whole. */
void srv_http_respond_fd(srv_http_req *r, int status, const char *ctype,
                         int fd, size_t len);
/* Answer a JSON value (stolen; NULL: out of memory, answered 500 as
 * text), one compact line ending in '\n'. */
void srv_http_json(srv_http_req *r, int status, json_t *v);
/* Answer {"error":code,"message":message} with 'status'. */
void srv_http_error(srv_http_req *r, int status, const char *code,
                    const char *message);
/* Answer 405 method_not_allowed, 'allow' ("GET, HEAD") in the Allow
 * header and in the message. */
void srv_http_not_allowed(srv_http_req *r, const char *allow);
/* "GET", "HEAD"... for SRV_GET...; "" for anything else. */
const char *srv_http_method_name(int method);
/* A handler that answers later (from a pool task) holds the request: the
 * task keeps 'r' and checks r->wsi (NULL: gone) before answering; the
 * last of the connection and the task frees it with srv_http_release(),
 * which accepts NULL. */
void srv_http_hold(srv_http_req *r);
void srv_http_release(srv_http_req *r);
/* Free 'r' now, whatever its references (shutdown). */
void srv_http_free(srv_http_req *r);

/* ---- the server's counters (metrics.c), written on the loop thread and
 * shown by /metrics (api/metrics.c) */
typedef struct srv_metrics {
    uint64_t ops_committed;
    uint64_t commits;
    uint64_t acks;
    uint64_t ack_lat_buckets[16]; /* SRV_ACK_BOUNDS + 1 buckets */
    uint64_t ack_lat_count;
    double ack_lat_sum_s;
    uint64_t conns_total;
    uint64_t conns_closed_slow;
    uint64_t errors_sent;
    uint64_t bytes_queued_peak;
} srv_metrics;

/* The upper bounds (seconds) of the ack latency histogram's buckets; the
 * last bucket holds what is above them all. */
#define SRV_ACK_BOUNDS 13
extern const double srv_ack_bounds[SRV_ACK_BOUNDS];
/* Count one ack whose op took 'seconds' from receipt to commit. */
void srv_metrics_ack(srv_metrics *m, double seconds);

#endif
