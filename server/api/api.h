/* api.h -- server/api: the HTTP JSON API and /metrics, answered from one
 * route table {method, path pattern, role needed, handler} (routes.c),
 * from which 404 and 405 (with Allow) come too.
 *
 * A route's handler runs on the lws thread: it reads the request's
 * arguments and body (a 400 answers at once), then starts a job that
 * embeds an srv_api_task (task.c); on a pool thread the job's rights are
 * checked (the route's role) and its build() makes the whole answer; back
 * on the lws thread it is sent. State comes from an srv_api_env handed
 * down by the composition root (cli/serve.c), which also gives
 * srv_api_route to server/net as its route hook: api and net never
 * include each other and meet only in base.h's srv_http_req. */
#ifndef CHORUS_SERVER_API_H
#define CHORUS_SERVER_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/auth/auth.h"
#include "server/base/base.h"
#include "server/collab/collab.h"
#include "server/history/history.h"
#include "storage/store.h"

/* What /metrics shows that lives elsewhere (connections, sessions). */
typedef struct srv_api_gauges {
    int conns;
    size_t open_docs;
    size_t queued_bytes;
    /* cluster mode (cluster: 0 on a single node) */
    int cluster, bus_up;
    uint64_t bus_published, bus_received, bus_dropped, bus_polls;
    uint64_t remote_ops, catchups, heard_catchups, conflicts, yields;
} srv_api_gauges;

/* The API's environment: borrowed, it outlives every request. */
typedef struct srv_api_env {
    const srv_config *cfg;
    int tls;                              /* cookies get "; Secure" */
    store_pool *pool;                     /* the reader pool: every route */
    /* the password pool (login): 0, STORE_EBUSY when too many wait, or
     * another STORE_E* code (stopping) */
    int (*submit_auth)(srv_task *t);
    store_writer *writer;                 /* /metrics: commit figures */
    srv_docs *docs;                       /* the open documents (restore,
                                             HTTP writes) */
    srv_map *rate;                        /* HTTP writes' token buckets
                                             (writes.c), lws thread only */
    const srv_metrics *metrics;
    void (*gauges)(srv_api_gauges *out);
    /* a route took a right away (logout, roles, share revoke) */
    void (*rights_changed)(void);
    srv_authors_cache *authors;           /* checkpoints of GET .../authors
                                             (lws thread); NULL: none */
} srv_api_env;

/* Answer 'r' if its path is an API route (/api/..., /metrics): 1 when it
 * answered or started answering (404 and 405 included), 0 when the path
 * is not the API's. 'env' is borrowed and must outlive the answer. */
int srv__api_dispatch(const srv_api_env *env, srv_http_req *r);
/* The same with 'env' untyped: srv_http_env.route (server/net). */
int srv_api_route(void *env, srv_http_req *r);

/* Why 'v' cannot be a document's title (a string message), or NULL when
 * it can: a string of at most 200 characters, no control characters.
 * The one title check (docs.c). */
const char *srv_title_problem(const json_t *v);
/* A JSON string that is a valid doc id (and holds no U+0000)? 1 or 0. */
int srv_json_doc_id(const json_t *v);

/* ---- inside server/api: the route table's pieces */

/* One route matched: what its handler is given (borrowed, for the call). */
typedef struct srv_api_call {
    const srv_api_env *env;
    srv_http_req *r;
    int need;                             /* SRV_NEED_* of the route */
    const char *doc;                      /* the :doc of the path, or "" */
} srv_api_call;

typedef void (*srv_api_handler)(const srv_api_call *c);

/* The job every route's task embeds first. Filled on the lws thread by
 * srv__api_task_new; build() runs on a pool thread after the rights
 * check, and sets the answer (status, ctype, body or fd). */
typedef struct srv_api_task srv_api_task;
struct srv_api_task {
    srv_task t;                           /* pool plumbing: first */
    const srv_api_env *env;
    srv_http_req *r;                      /* held while the task is out */
    int need;                             /* SRV_NEED_* on 'doc' */
    char doc[65];                         /* "" when the route has none */
    srv_identity who;                     /* who asks (team mode) */
    int role;                             /* their role on 'doc' */
    int (*build)(store *st, srv_api_task *t);  /* pool thread */
    /* lws thread, once build is done, before the answer: 1 when it took
     * the answer over (it calls srv__api_answer later), else 0. NULL: none */
    int (*finish)(srv_api_task *t);
    void (*clear)(srv_api_task *t);       /* frees the job's own fields */
    size_t json_flags;                    /* added to JSON_COMPACT */
    /* the answer */
    int status;
    const char *ctype;
    char *body;
    size_t len;
    int fd;                               /* or this file (owned), -1 */
    char disposition[160];
    char etag[32];                        /* ETag, or empty */
};

/* A zeroed job of 'size' bytes (at least an srv_api_task) for call 'c',
 * its header filled; NULL after answering 500 (no memory). */
void *srv__api_task_new(const srv_api_call *c, size_t size,
                        int (*build)(store *st, srv_api_task *t));
/* Free a job that was never started (or has answered). */
void srv__api_task_free(srv_api_task *t);
/* Hold the request and run 't' on the reader pool (auth 0) or the
 * password pool (auth 1). Returns 0, or a STORE_E* code: then nothing
 * was held and 't' is still the caller's. */
int srv__api_submit(srv_api_task *t, int auth);
/* srv__api_submit on the reader pool, or answer 503 and free 't'. */
void srv__api_start(srv_api_task *t);
/* Send t's answer, release the request and free 't' (lws thread). */
void srv__api_answer(srv_api_task *t);

/* Set t's answer: JSON 'v' (stolen; NULL: out of memory), or the error
 * object {"error":code,"message":message}. They return 'rc', for
 * "return srv__api_error(...)" in a build(). */
int srv__api_json(srv_api_task *t, int status, json_t *v, int rc);
int srv__api_error(srv_api_task *t, int status, const char *code,
                   const char *message, int rc);
/* The answer of a store error: 404 not_found, 404 no_version (ERANGE),
 * else 500 server_error. Returns rc. */
int srv__api_storage_error(srv_api_task *t, int rc);
/* Query argument 'name' as an integer in [0, max] into *out (unchanged
 * when absent). 0, or -1 after answering 400 (bad_version for "version",
 * else bad_request). (history_routes.c) */
int srv__api_int_arg(srv_http_req *r, const char *name, int64_t max,
                     int64_t *out);
/* A new random document id: 12 characters of [a-z0-9] into out[13]. */
void srv__api_random_id(char *out);
/* The JSON object body of 'r' (flags for json_loadb), or NULL after
 * answering 400 bad_request. An empty body is {}. */
json_t *srv__api_body(srv_http_req *r, size_t flags);

/* The handlers of the table (docs.c, accounts.c, history_routes.c,
 * metrics.c). */
void srv__api_docs_list(const srv_api_call *c);
void srv__api_docs_create(const srv_api_call *c);
void srv__api_doc_get(const srv_api_call *c);
void srv__api_doc_text(const srv_api_call *c);
void srv__api_doc_ops(const srv_api_call *c);       /* writes.c */
void srv__api_doc_put_text(const srv_api_call *c);
void srv__api_doc_append(const srv_api_call *c);
void srv__api_login(const srv_api_call *c);
void srv__api_logout(const srv_api_call *c);
void srv__api_me(const srv_api_call *c);
void srv__api_users(const srv_api_call *c);
void srv__api_roles(const srv_api_call *c);
void srv__api_share(const srv_api_call *c);
void srv__api_share_revoke(const srv_api_call *c);
void srv__api_history(const srv_api_call *c);
void srv__api_sessions(const srv_api_call *c);
void srv__api_export(const srv_api_call *c);
void srv__api_restore(const srv_api_call *c);
void srv__api_fork(const srv_api_call *c);
void srv__api_authors(const srv_api_call *c);  /* authors_routes.c */
void srv__api_metrics(const srv_api_call *c);
/* GET /readyz: 200 while this node reaches its store (a round trip on the
 * reader pool), else 503 (metrics.c). /healthz (net) is liveness. */
void srv__api_ready(const srv_api_call *c);
void srv__api_doc_rename(const srv_api_call *c);
void srv__api_search(const srv_api_call *c);   /* search.c */
/* trash.c */
void srv__api_doc_trash(const srv_api_call *c);
void srv__api_trash_list(const srv_api_call *c);
void srv__api_trash_restore(const srv_api_call *c);
void srv__api_trash_purge(const srv_api_call *c);

/* ---- a bounded, growable string (metrics.c), for text answers built
 * piece by piece: an append that would pass 'max' (or finds no memory)
 * sets 'failed' and appends nothing more; the bytes so far stay valid. */
typedef struct srv_sb {
    char *buf;                            /* NUL-terminated, owned */
    size_t len, cap, max;
    int failed;
} srv_sb;

void srv_sb_init(srv_sb *b, size_t max);
/* printf onto the end; 0, or -1 (and b->failed set) */
int srv_sb_printf(srv_sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand over the bytes (*len their length); NULL when it failed (freed). */
char *srv_sb_take(srv_sb *b, size_t *len);
void srv_sb_clear(srv_sb *b);

/* The /metrics page of 'env' into 'b' (0, or -1 when 'b' failed). */
int srv__api_metrics_text(const srv_api_env *env, srv_sb *b);

#endif
