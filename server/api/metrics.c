/* metrics.c -- GET /metrics (Prometheus text format), the ack latency
 * histogram it shows, and srv_sb, the bounded growable string the page is
 * written into.
 *
 * The page is built with one appender whose every write is bounded: it
 * grows the buffer as the text grows and fails (never writes past the
 * end) at its limit; a page that failed is answered 500. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"

#define METRICS_MAX (1024 * 1024)

/* ---- srv_sb */

void srv_sb_init(srv_sb *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void srv_sb_clear(srv_sb *b)
{
    free(b->buf);
    srv_sb_init(b, b->max);
}

/* Room for 'need' more bytes and a NUL: 0, or -1 (failed set). */
static int sb_reserve(srv_sb *b, size_t need)
{
    if (b->failed) return -1;
    if (need >= b->max - b->len) goto fail;     /* len + need + 1 > max */
    if (b->len + need < b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= b->len + need) cap *= 2;
    if (cap > b->max) cap = b->max;
    char *nb = realloc(b->buf, cap);
    if (!nb) goto fail;
    b->buf = nb;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}

int srv_sb_printf(srv_sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if (sb_reserve(b, (size_t)n) < 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *srv_sb_take(srv_sb *b, size_t *len)
{
    char *s = b->failed ? NULL : b->buf;
    *len = s ? b->len : 0;
    if (!s) free(b->buf);
    srv_sb_init(b, b->max);
    return s;
}

/* ---- the page */

#define COUNTER(b, name, fmt, v) \
    srv_sb_printf(b, "# TYPE " name " counter\n" name " " fmt "\n", v)
#define GAUGE(b, name, fmt, v) \
    srv_sb_printf(b, "# TYPE " name " gauge\n" name " " fmt "\n", v)

static void histogram(const srv_metrics *m, srv_sb *b)
{
    uint64_t cum = 0;
    srv_sb_printf(b, "# TYPE chorus_ack_latency_seconds histogram\n");
    for (size_t i = 0; i < SRV_ACK_BOUNDS; i++) {
        cum += m->ack_lat_buckets[i];
        srv_sb_printf(b, "chorus_ack_latency_seconds_bucket{le=\"%g\"} %" PRIu64
                      "\n", srv_ack_bounds[i], cum);
    }
    srv_sb_printf(b, "chorus_ack_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64
                  "\n", m->ack_lat_count);
    srv_sb_printf(b, "chorus_ack_latency_seconds_sum %.6f\n", m->ack_lat_sum_s);
    srv_sb_printf(b, "chorus_ack_latency_seconds_count %" PRIu64 "\n",
                  m->ack_lat_count);
}

/* GET .../authors: requests, those that started from a checkpoint, the
 * ops replayed (what the checkpoints save shows here), the cache's size. */
static void authors_metrics(const srv_authors_cache *c, srv_sb *b)
{
    COUNTER(b, "chorus_authors_requests_total", "%" PRIu64, c->requests);
    COUNTER(b, "chorus_authors_checkpoint_hits_total", "%" PRIu64, c->hits);
    COUNTER(b, "chorus_authors_replayed_ops_total", "%" PRIu64,
            c->replayed_ops);
    GAUGE(b, "chorus_authors_cache_bytes", "%zu", c->bytes);
    GAUGE(b, "chorus_authors_cache_checkpoints", "%zu", c->count);
}

int srv__api_metrics_text(const srv_api_env *env, srv_sb *b)
{
    const srv_metrics *m = env->metrics;
    srv_api_gauges g;
    memset(&g, 0, sizeof g);
    store_writer_stats ws;
    memset(&ws, 0, sizeof ws);
    if (env->gauges) env->gauges(&g);
    if (env->writer) store_writer_stats_get(env->writer, &ws);
    GAUGE(b, "chorus_connections", "%d", g.conns);
    COUNTER(b, "chorus_connections_total", "%" PRIu64, m->conns_total);
    COUNTER(b, "chorus_connections_closed_slow_total", "%" PRIu64,
            m->conns_closed_slow);
    GAUGE(b, "chorus_open_documents", "%zu", g.open_docs);
    COUNTER(b, "chorus_ops_committed_total", "%" PRIu64, m->ops_committed);
    COUNTER(b, "chorus_commits_total", "%" PRIu64, ws.commits);
    COUNTER(b, "chorus_commit_failures_total", "%" PRIu64, ws.failed_commits);
    GAUGE(b, "chorus_last_commit_batch", "%" PRIu64, ws.last_batch);
    COUNTER(b, "chorus_commit_seconds_total", "%.6f",
            (double)ws.commit_us / 1e6);
    GAUGE(b, "chorus_queue_bytes", "%zu", g.queued_bytes);
    GAUGE(b, "chorus_queue_bytes_peak", "%" PRIu64, m->bytes_queued_peak);
    COUNTER(b, "chorus_errors_sent_total", "%" PRIu64, m->errors_sent);
    if (g.cluster) {
        GAUGE(b, "chorus_bus_up", "%d", g.bus_up);
        COUNTER(b, "chorus_bus_published_total", "%" PRIu64, g.bus_published);
        COUNTER(b, "chorus_bus_received_total", "%" PRIu64, g.bus_received);
        COUNTER(b, "chorus_bus_dropped_total", "%" PRIu64, g.bus_dropped);
        COUNTER(b, "chorus_store_polls_total", "%" PRIu64, g.bus_polls);
        COUNTER(b, "chorus_remote_ops_total", "%" PRIu64, g.remote_ops);
        COUNTER(b, "chorus_catchups_total", "%" PRIu64, g.catchups);
        COUNTER(b, "chorus_heard_catchups_total", "%" PRIu64,
                g.heard_catchups);
        COUNTER(b, "chorus_conflicts_total", "%" PRIu64, g.conflicts);
        COUNTER(b, "chorus_yields_total", "%" PRIu64, g.yields);
    }
    histogram(m, b);
    if (env->authors) authors_metrics(env->authors, b);
    return b->failed ? -1 : 0;
}

/* A round trip to the store: its schema version. */
static int build_ready(store *st, srv_api_task *t)
{
    int v = store_schema_version(st);
    if (v < 0)
        return srv__api_json(t, 503, json_pack("{s:b, s:s}", "ready", 0,
                                               "error", "the store does not "
                                               "answer"), 0);
    return srv__api_json(t, 200, json_pack("{s:b}", "ready", 1), 0);
}

void srv__api_ready(const srv_api_call *c)
{
    srv_api_task *t = srv__api_task_new(c, sizeof *t, build_ready);
    if (t) srv__api_start(t);
}

void srv__api_metrics(const srv_api_call *c)
{
    srv_sb b;
    size_t len = 0;
    srv_sb_init(&b, METRICS_MAX);
    srv__api_metrics_text(c->env, &b);
    char *page = srv_sb_take(&b, &len);
    if (!page) {
        srv_http_error(c->r, 500, "server_error", "out of memory");
        return;
    }
    srv_http_respond(c->r, 200, "text/plain; version=0.0.4", page, len);
}
