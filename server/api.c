/* api.c -- the HTTP JSON API and /metrics.
 *
 *   GET  /api/docs                      [{id,title,version,updated,created}]
 *   POST /api/docs {"id"?,"title"?}     201 doc | 400 bad id | 409 taken
 *   GET  /api/docs/D                    doc | 404
 *   GET  /api/docs/D/text[?version=N]   text/plain | 400 | 404
 *   GET  /metrics                       Prometheus text
 *
 * Every database read runs on the reader pool (a task builds the whole
 * response there); the lws thread only routes and sends. See docs/http.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/core.h"
#include "server/http.h"
#include "server/history.h"
#include "server/log.h"

typedef struct api_task api_task;
struct api_task {
    srv_task t;
    srv_http_req *r;
    int (*build)(store *st, api_task *a);
    char doc[65];
    char *title;
    char creator[65];
    int has_version;
    int64_t version;
    /* the response, built on the pool thread */
    int status;
    const char *ctype;
    char *body;
    size_t len;
};

static void set_json(api_task *a, int status, json_t *v)
{
    a->status = status;
    a->ctype = "application/json";
    a->body = v ? json_dumps(v, JSON_COMPACT) : NULL;
    a->len = a->body ? strlen(a->body) : 0;
    json_decref(v);
}

static void set_error(api_task *a, int status, const char *code,
                      const char *message)
{
    set_json(a, status, json_pack("{s:s,s:s}", "error", code, "message", message));
}

static json_t *doc_json(const store_docinfo *d)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:s}", "id", d->id, "title",
                     d->title ? d->title : "", "version", (json_int_t)d->version,
                     "updated", (json_int_t)d->updated_ms, "created",
                     (json_int_t)d->created_ms, "creator",
                     d->creator ? d->creator : "");
}

static int storage_error(api_task *a, int rc)
{
    if (rc == STORE_ENOTFOUND) set_error(a, 404, "not_found", "no such document");
    else set_error(a, 500, "server_error", store_strerror(rc));
    return rc;
}

static int build_list(store *st, api_task *a)
{
    store_docinfo *docs = NULL;
    size_t n = 0;
    int rc = store_doc_list(st, &docs, &n);
    if (rc < 0) return storage_error(a, rc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) json_array_append_new(arr, doc_json(&docs[i]));
    store_docinfo_free(docs, n);
    set_json(a, 200, arr);
    return 0;
}

static int build_get(store *st, api_task *a)
{
    store_docinfo d;
    memset(&d, 0, sizeof d);
    int rc = store_doc_get(st, a->doc, &d);
    if (rc < 0) return storage_error(a, rc);
    set_json(a, 200, doc_json(&d));
    store_docinfo_clear(&d);
    return 0;
}

static int build_create(store *st, api_task *a)
{
    int rc = store_doc_create(st, a->doc, a->title, a->creator,
                              (int64_t)srv_now_ms());
    if (rc == STORE_EEXIST) {
        set_error(a, 409, "exists", "a document with that id exists");
        return rc;
    }
    if (rc < 0) return storage_error(a, rc);
    rc = build_get(st, a);
    if (rc == 0) a->status = 201;
    return rc;
}

static int build_text(store *st, api_task *a)
{
    char *text = NULL;
    size_t bytes = 0;
    int64_t v = 0;
    int rc = a->has_version ? store_text_at(st, a->doc, a->version, &text, &bytes)
                            : store_load(st, a->doc, &text, &bytes, &v);
    if (rc == STORE_ERANGE) {
        set_error(a, 404, "no_version", "the document has no such version");
        return rc;
    }
    if (rc < 0) return storage_error(a, rc);
    a->status = 200;
    a->ctype = "text/plain; charset=utf-8";
    a->body = text;
    a->len = bytes;
    return 0;
}

static int run_task(store *st, store_task *t)
{
    api_task *a = (api_task *)t;
    return a->build(st, a);
}

static void task_done(srv_task *t)
{
    api_task *a = (api_task *)t;
    if (!a->body && a->status != 204) {
        srv_http_respond(a->r, 500, "text/plain; charset=utf-8",
                         strdup("out of memory\n"), 14);
    } else {
        srv_http_respond(a->r, a->status, a->ctype, a->body, a->len);
        a->body = NULL;
    }
    srv_http_release(a->r);
    free(a->title);
    free(a);
}

static void start(srv_http_req *r, api_task *a)
{
    a->r = r;
    a->t.base.run = run_task;
    a->t.done = task_done;
    srv_http_hold(r);
    if (srv_task_submit(&a->t) < 0) {
        srv_http_release(r);
        free(a->title);
        free(a);
        srv_http_error(r, 503, "unavailable", "server is stopping");
    }
}

/* A new random id: 12 characters of [a-z0-9]. */
static void random_id(char *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 12; i++) out[i] = alphabet[randombytes_uniform(36)];
    out[12] = 0;
}

static void post_docs(srv_http_req *r, api_task *a)
{
    json_error_t jerr;
    json_t *b = r->body_len ? json_loadb(r->body, r->body_len,
                                         JSON_REJECT_DUPLICATES, &jerr)
                            : json_object();
    json_t *id = json_object_get(b, "id"), *title = json_object_get(b, "title");
    const char *err = NULL;
    size_t cps = 0;
    if (!json_is_object(b)) err = "body must be a JSON object";
    else if (id && !(json_is_string(id) && srv_valid_doc_id(json_string_value(id))))
        err = "bad id: 1-64 of A-Za-z0-9_.- not starting with '.'";
    else if (title && !(json_is_string(title) &&
                        ot_utf8_validate(json_string_value(title),
                                         json_string_length(title), &cps) == 0 &&
                        cps <= 200 && !memchr(json_string_value(title), 0,
                                              json_string_length(title))))
        err = "title must be a string of at most 200 characters";
    if (err) {
        json_decref(b);
        free(a);
        srv_http_error(r, 400, "bad_request", err);
        return;
    }
    if (id) snprintf(a->doc, sizeof a->doc, "%s", json_string_value(id));
    else random_id(a->doc);
    a->title = strdup(title ? json_string_value(title) : "");
    json_decref(b);
    a->build = build_create;
    start(r, a);
}

/* /api/docs/D[/text]: 1 with a->doc set and *rest the part after D. */
static int doc_path(srv_http_req *r, api_task *a, const char **rest)
{
    const char *p = r->path + strlen("/api/docs/");
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof a->doc) return 0;
    memcpy(a->doc, p, n);
    a->doc[n] = 0;
    *rest = slash ? slash : "";
    return srv_valid_doc_id(a->doc);
}

static void metrics(srv_http_req *r);

int srv__api_dispatch(srv_http_req *r)
{
    const char *rest = "";
    int get = r->method == SRV_GET || r->method == SRV_HEAD;
    if (strcmp(r->path, "/metrics") == 0) {
        if (get) metrics(r);
        else srv_http_error(r, 405, "method_not_allowed", "use GET");
        return 1;
    }
    if (strncmp(r->path, "/api/", 5) != 0) return 0;
    api_task *a = calloc(1, sizeof *a);
    if (!a) {
        srv_http_error(r, 500, "server_error", "out of memory");
        return 1;
    }
    if (strcmp(r->path, "/api/docs") == 0) {
        if (get) a->build = build_list;
        else if (r->method == SRV_POST) {
            post_docs(r, a);
            return 1;
        }
    } else if (strncmp(r->path, "/api/docs/", 10) == 0) {
        if (!doc_path(r, a, &rest)) {
            free(a);
            srv_http_error(r, 400, "bad_doc_id",
                           "doc ids are 1-64 of A-Za-z0-9_.- not starting with '.'");
            return 1;
        }
        if (srv__history_dispatch(r, a->doc, rest)) { /* history_api.c */
            free(a);
            return 1;
        }
        if (get && rest[0] == 0) a->build = build_get;
        else if (get && strcmp(rest, "/text") == 0) {
            const char *v = srv_http_arg(r, "version");
            char *end = NULL;
            if (v) {
                long long n = strtoll(v, &end, 10);
                if (!*v || *end || n < 0) {
                    free(a);
                    srv_http_error(r, 400, "bad_version",
                                   "version must be an integer >= 0");
                    return 1;
                }
                a->has_version = 1;
                a->version = n;
            }
            a->build = build_text;
        } else if (rest[0] == 0 || strcmp(rest, "/text") == 0) {
            free(a);
            srv_http_error(r, 405, "method_not_allowed", "method not allowed here");
            return 1;
        }
    }
    if (!a->build) {
        free(a);
        srv_http_error(r, 404, "not_found", "no such API route");
        return 1;
    }
    start(r, a);
    return 1;
}

/* ---- /metrics: Prometheus text format */

static const double lat_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                    0.05, 0.1, 0.2, 0.5, 1, 2, 5};
#define NBOUNDS (sizeof lat_bounds / sizeof lat_bounds[0])

void srv__ack_latency(double seconds)
{
    srv_metrics *m = &srv__g.metrics;
    size_t i = 0;
    while (i < NBOUNDS && seconds > lat_bounds[i]) i++;
    m->ack_lat_buckets[i]++;
    m->ack_lat_count++;
    m->ack_lat_sum_s += seconds;
    m->acks++;
}

static void metrics(srv_http_req *r)
{
    srv_metrics *m = &srv__g.metrics;
    store_writer_stats ws;
    store_writer_stats_get(srv__g.writer, &ws);
    size_t cap = 8192, n = 0;
    char *b = malloc(cap);
    if (!b) {
        srv_http_error(r, 500, "server_error", "out of memory");
        return;
    }
#define P(...) n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__)
    P("# TYPE chorus_connections gauge\nchorus_connections %d\n", srv__g.nconns);
    P("# TYPE chorus_connections_total counter\nchorus_connections_total %" PRIu64 "\n",
      m->conns_total);
    P("# TYPE chorus_connections_closed_slow_total counter\n"
      "chorus_connections_closed_slow_total %" PRIu64 "\n", m->conns_closed_slow);
    P("# TYPE chorus_open_documents gauge\nchorus_open_documents %zu\n",
      srv__sessions_count());
    P("# TYPE chorus_ops_committed_total counter\nchorus_ops_committed_total %" PRIu64 "\n",
      m->ops_committed);
    P("# TYPE chorus_commits_total counter\nchorus_commits_total %" PRIu64 "\n",
      ws.commits);
    P("# TYPE chorus_commit_failures_total counter\nchorus_commit_failures_total %" PRIu64 "\n",
      ws.failed_commits);
    P("# TYPE chorus_last_commit_batch gauge\nchorus_last_commit_batch %" PRIu64 "\n",
      ws.last_batch);
    P("# TYPE chorus_queue_bytes gauge\nchorus_queue_bytes %zu\n", srv__g.queued_bytes);
    P("# TYPE chorus_queue_bytes_peak gauge\nchorus_queue_bytes_peak %" PRIu64 "\n",
      m->bytes_queued_peak);
    P("# TYPE chorus_errors_sent_total counter\nchorus_errors_sent_total %" PRIu64 "\n",
      m->errors_sent);
    P("# TYPE chorus_ack_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < NBOUNDS; i++) {
        cum += m->ack_lat_buckets[i];
        P("chorus_ack_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", lat_bounds[i], cum);
    }
    P("chorus_ack_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", m->ack_lat_count);
    P("chorus_ack_latency_seconds_sum %.6f\n", m->ack_lat_sum_s);
    P("chorus_ack_latency_seconds_count %" PRIu64 "\n", m->ack_lat_count);
#undef P
    if (n >= cap) n = cap - 1;
    srv_http_respond(r, 200, "text/plain; version=0.0.4", b, n);
}
