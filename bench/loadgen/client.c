/* client.c -- the load generator's clients and the run: lws client
 * connections speaking chorus.v1, driven closed-loop, paced or idle.
 *
 * Everything runs on the one lws service thread. A 1 ms tick opens
 * connections (at most connect_window not yet joined at a time), moves the
 * run through its phases (connect, warm-up, measure, done) and, when paced,
 * generates keystrokes. The tick comes from a small thread that sleeps and
 * calls lws_cancel_service(), not from an lws timer: lws 4.1 polls with a
 * millisecond timeout rounded down, so it spins through the last
 * millisecond before every timer, which would make the generator burn a
 * core on its own clock. Keystroke keystroke j of the run is due at start + j/(N*rate)
 * and belongs to client j % N, so every client types evenly at 'rate'.
 * A client with no op in flight sends its pending keystrokes as one op (an
 * editor batching what was typed while waiting); writes happen only in
 * CLIENT_WRITEABLE, one lws_write each.
 *
 * Keystroke-to-remote latency: each client keeps the times of its last
 * KS_RING keystrokes and, for its last OP_RING ops, which keystrokes each
 * held; a client receiving another's op looks the author up by the index
 * in its client id and records now - keystroke time for each one. */
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/loadgen/lg.h"

#define KS_RING 4096          /* keystroke times kept per client */
#define OP_RING 256           /* sent ops remembered per client */
#define MAX_BATCH 1024        /* keystrokes in one op at most */
#define TICK_US 1000

enum { W_NONE, W_HELLO, W_JOIN, W_OP };
enum { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DONE };

typedef struct sent_op {
    int64_t seq;
    uint32_t k0, k1;          /* keystrokes k0..k1-1 */
} sent_op;

typedef struct client {
    struct lws *wsi;
    int idx, doc;
    char id[48];
    int want;                 /* W_*: what the next WRITEABLE sends */
    int open, joined;
    int64_t ver, ver0, len0;  /* newest version seen; at join; length then */
    int64_t seq;              /* last seq sent */
    int inflight;
    double t_sent;
    uint32_t ks_next, ks_sent; /* keystrokes typed; put into ops so far */
    double *ks_ts;            /* LG_PACED: KS_RING keystroke times */
    sent_op *ops;             /* LG_PACED: OP_RING ops */
    char *rx;                 /* reassembly of a fragmented message */
    size_t rx_len, rx_cap;
    uint64_t rng;
} client;

static struct {
    const lg_config *cfg;
    struct lws_context *ctx;
    client *c;
    int opened, ready, pending;
    int phase, stop, failed;
    double t_start, t_measure, t_end;
    uint64_t ks_due;          /* keystrokes generated so far (paced) */
    uint64_t acks, ks_typed, k2r_missed, errors;
    lg_hist ack, k2r;
    lg_proc p0, p1;
    double lg_cpu0, lg_cpu1;
    pthread_t ticker;
    volatile int ticking;
    unsigned char *out;       /* LWS_PRE + one outgoing message */
    size_t out_cap;
} R;

static uint64_t rnd(client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void fail(const char *why, const client *c)
{
    if (!R.failed)
        fprintf(stderr, "loadgen: %s%s%s\n", why, c ? ": client " : "",
                c ? c->id : "");
    R.failed = 1;
    R.stop = 1;
}

static void want(client *c, int w)
{
    c->want = w;
    lws_callback_on_writable(c->wsi);
}

/* ---- sending */

static int out_reserve(size_t n)
{
    if (LWS_PRE + n <= R.out_cap) return 0;
    unsigned char *nb = realloc(R.out, LWS_PRE + n);
    if (!nb) return -1;
    R.out = nb;
    R.out_cap = LWS_PRE + n;
    return 0;
}

/* The next op: the pending keystrokes (paced) or one character (closed),
 * inserted at a random place inside the length the client knows. */
static size_t build_op(client *c, char *p, size_t cap)
{
    uint32_t k = 1;
    if (R.cfg->mode == LG_PACED) {
        k = c->ks_next - c->ks_sent;
        if (k > MAX_BATCH) k = MAX_BATCH;
    }
    int64_t known = c->len0 + (c->ver - c->ver0);
    int64_t pos = (int64_t)(rnd(c) % (uint64_t)(known + 1));
    int n = snprintf(p, cap, "{\"type\":\"op\",\"doc\":\"%s%d\",\"version\":%lld,"
                     "\"seq\":%lld,\"op\":[", R.cfg->doc_prefix, c->doc,
                     (long long)c->ver, (long long)(c->seq + 1));
    if (pos > 0) n += snprintf(p + n, cap - (size_t)n, "%lld,", (long long)pos);
    p[n++] = '"';
    for (uint32_t i = 0; i < k; i++) p[n++] = (char)('a' + rnd(c) % 26);
    n += snprintf(p + n, cap - (size_t)n, "\"]}");
    c->seq++;
    if (R.cfg->mode == LG_PACED) {
        sent_op *o = &c->ops[c->seq % OP_RING];
        o->seq = c->seq;
        o->k0 = c->ks_sent;
        o->k1 = c->ks_sent + k;
        c->ks_sent += k;
    }
    return (size_t)n;
}

static int on_writeable(client *c)
{
    if (R.stop) return 0;
    if (out_reserve(MAX_BATCH + 256) < 0) return -1;
    char *p = (char *)R.out + LWS_PRE;
    size_t cap = R.out_cap - LWS_PRE, n;
    switch (c->want) {
    case W_HELLO:
        n = (size_t)snprintf(p, cap, "{\"type\":\"hello\",\"client\":\"%s\","
                             "\"name\":\"u%d\"}", c->id, c->idx);
        break;
    case W_JOIN:
        n = (size_t)snprintf(p, cap, "{\"type\":\"join\",\"doc\":\"%s%d\"}",
                             R.cfg->doc_prefix, c->doc);
        break;
    case W_OP:
        if (c->inflight) return 0;
        n = build_op(c, p, cap);
        c->inflight = 1;
        c->t_sent = lg_now();
        break;
    default:
        return 0;
    }
    c->want = W_NONE;
    if (lws_write(c->wsi, (unsigned char *)p, n, LWS_WRITE_TEXT) < (int)n) {
        fail("write failed", c);
        return -1;
    }
    return 0;
}

/* ---- receiving */

static int64_t utf8_len(lg_span s)
{
    int64_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if ((ch & 0xC0) != 0x80) n++;
        if (ch == '\\' && i + 1 < s.n) { /* an escape: one code point */
            i += s.p[i + 1] == 'u' ? 5 : 1;
        }
    }
    return n;
}

static client *author_of(lg_span id)
{
    size_t i = id.n;
    int idx = 0, mul = 1;
    while (i > 0 && id.p[i - 1] >= '0' && id.p[i - 1] <= '9') {
        idx += (id.p[i - 1] - '0') * mul;
        mul *= 10;
        i--;
    }
    if (i == id.n || idx >= R.cfg->clients) return NULL;
    return &R.c[idx];
}

static void remote_op(const lg_msg *m, double now)
{
    if (R.phase != PH_MEASURE) return;
    client *a = author_of(m->client);
    if (!a || !a->ops) return;
    sent_op *o = &a->ops[m->seq % OP_RING];
    if (o->seq != m->seq) {
        R.k2r_missed++;
        return;
    }
    for (uint32_t k = o->k0; k != o->k1; k++) {
        if (a->ks_next - k > KS_RING) {
            R.k2r_missed++;
            continue;
        }
        double t = a->ks_ts[k % KS_RING];
        if (t >= R.t_measure)
            lg_hist_add(&R.k2r, (uint64_t)((now - t) * 1e6));
    }
}

static void on_ack(client *c, const lg_msg *m, double now)
{
    if (m->seq != c->seq || !c->inflight) return;
    c->inflight = 0;
    if (R.phase == PH_MEASURE) {
        R.acks++;
        if (c->t_sent >= R.t_measure)
            lg_hist_add(&R.ack, (uint64_t)((now - c->t_sent) * 1e6));
    }
    if (R.phase == PH_DONE) return;
    if (R.cfg->mode == LG_CLOSED ||
        (R.cfg->mode == LG_PACED && c->ks_next != c->ks_sent))
        want(c, W_OP);
}

static void on_msg(void *arg, const lg_msg *m)
{
    client *c = arg;
    double now = lg_now();
    if (m->version > c->ver) c->ver = m->version;
    if (lg_span_is(m->type, "op")) {
        if (R.cfg->mode == LG_PACED) remote_op(m, now);
    } else if (lg_span_is(m->type, "ack")) {
        on_ack(c, m, now);
    } else if (lg_span_is(m->type, "welcome")) {
        want(c, W_JOIN);
    } else if (lg_span_is(m->type, "joined") && !c->joined) {
        c->joined = 1;
        c->ver0 = c->ver = m->version;
        c->len0 = utf8_len(m->text);
        R.ready++;
        R.pending--;
    } else if (lg_span_is(m->type, "error")) {
        R.errors++;
        fail("the server answered an error", c);
    }
}

static int on_receive(client *c, const char *in, size_t len)
{
    int final = lws_is_final_fragment(c->wsi) &&
                lws_remaining_packet_payload(c->wsi) == 0;
    if (final && c->rx_len == 0) {
        if (lg_scan_frame(in, len, on_msg, c) < 0) fail("malformed frame", c);
        return 0;
    }
    if (c->rx_len + len > c->rx_cap) {
        size_t ncap = c->rx_cap ? c->rx_cap : 65536;
        while (ncap < c->rx_len + len) ncap *= 2;
        char *nb = realloc(c->rx, ncap);
        if (!nb) return -1;
        c->rx = nb;
        c->rx_cap = ncap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!final) return 0;
    if (lg_scan_frame(c->rx, c->rx_len, on_msg, c) < 0) fail("malformed frame", c);
    c->rx_len = 0;
    return 0;
}

static void tick(void);

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    client *c = user;
    (void)wsi;
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        if (!R.stop) tick();
        return 0;
    }
    if (!c) return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "loadgen: connect: %s\n", in ? (char *)in : "?");
        c->wsi = NULL;
        fail("connection failed", c);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->open = 1;
        want(c, W_HELLO);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(c, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            fprintf(stderr, "loadgen: server closed %s: %d %.*s\n", c->id,
                    ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1],
                    (int)len - 2, (char *)in + 2);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->wsi = NULL;
        if (!R.stop) fail("connection closed by the server", c);
        return 0;
    default:
        return 0;
    }
}


static const struct lws_protocols protocols[] = {
    {"chorus.v1", callback, 0, 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the run */

static int connect_one(client *c)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = R.ctx;
    ci.address = R.cfg->host;
    ci.port = R.cfg->port;
    ci.path = R.cfg->path;
    ci.host = R.cfg->host;
    ci.protocol = "chorus.v1";
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    if (R.cfg->nsrc) ci.iface = R.cfg->src[c->idx % R.cfg->nsrc];
    if (!lws_client_connect_via_info(&ci)) return -1;
    return 0;
}

static void type_keystrokes(double now)
{
    const lg_config *cfg = R.cfg;
    uint64_t due = (uint64_t)((now - R.t_start) * cfg->rate * cfg->clients);
    for (; R.ks_due < due; R.ks_due++) {
        client *c = &R.c[R.ks_due % (uint64_t)cfg->clients];
        c->ks_ts[c->ks_next % KS_RING] = now;
        c->ks_next++;
        if (R.phase == PH_MEASURE) R.ks_typed++;
        if (!c->inflight && c->want == W_NONE) want(c, W_OP);
    }
}

static void start_load(double now)
{
    R.t_start = now;
    R.t_measure = now + R.cfg->warmup_s;
    R.t_end = R.t_measure + R.cfg->duration_s;
    R.phase = PH_WARMUP;
    if (R.cfg->mode == LG_CLOSED)
        for (int i = 0; i < R.cfg->clients; i++) want(&R.c[i], W_OP);
}

static void tick(void)
{
    const lg_config *cfg = R.cfg;
    double now = lg_now();
    if (R.phase == PH_CONNECT) {
        while (R.opened < cfg->clients && R.pending < cfg->connect_window) {
            if (connect_one(&R.c[R.opened]) < 0) {
                fail("cannot start a connection", &R.c[R.opened]);
                return;
            }
            R.opened++;
            R.pending++;
        }
        if (R.ready == cfg->clients) start_load(now);
    }
    if (R.phase == PH_WARMUP && now >= R.t_measure) {
        R.phase = PH_MEASURE;
        lg_proc_read(cfg->server_pid, &R.p0);
        R.lg_cpu0 = self_cpu();
    }
    if (cfg->mode == LG_PACED && R.phase != PH_CONNECT) type_keystrokes(now);
    if (R.phase == PH_MEASURE && now >= R.t_end) {
        R.phase = PH_DONE;
        lg_proc_read(cfg->server_pid, &R.p1);
        R.lg_cpu1 = self_cpu();
        R.stop = 1;
    }
}

static void *ticker(void *arg)
{
    struct timespec ts = {0, TICK_US * 1000};
    (void)arg;
    while (R.ticking) {
        nanosleep(&ts, NULL);
        lws_cancel_service(R.ctx);
    }
    return NULL;
}

static int setup(const lg_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    R.cfg = cfg;
    R.c = calloc((size_t)cfg->clients, sizeof *R.c);
    if (!R.c) return -1;
    for (int i = 0; i < cfg->clients; i++) {
        client *c = &R.c[i];
        c->idx = i;
        c->doc = i % cfg->docs;
        c->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        snprintf(c->id, sizeof c->id, "lg-%s-%d", cfg->run_id, i);
        if (cfg->mode == LG_PACED) {
            c->ks_ts = calloc(KS_RING, sizeof *c->ks_ts);
            c->ops = calloc(OP_RING, sizeof *c->ops);
            if (!c->ks_ts || !c->ops) return -1;
            for (int k = 0; k < OP_RING; k++) c->ops[k].seq = -1;
        }
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.pt_serv_buf_size = 64 * 1024;
    info.timeout_secs = 60;
    lws_set_log_level(LLL_ERR, NULL);
    R.ctx = lws_create_context(&info);
    return R.ctx ? 0 : -1;
}

static void teardown(void)
{
    R.stop = 1;
    lws_context_destroy(R.ctx);
    for (int i = 0; i < R.cfg->clients; i++) {
        free(R.c[i].ks_ts);
        free(R.c[i].ops);
        free(R.c[i].rx);
    }
    free(R.c);
    free(R.out);
}

static void report(void)
{
    const lg_config *cfg = R.cfg;
    const char *n = cfg->name;
    double d = cfg->duration_s;
    printf("%s_ops_per_sec: %.0f ops/s\n", n, (double)R.acks / d);
    printf("%s_ack_p50: %.2f ms\n", n, lg_hist_pct_ms(&R.ack, 50));
    printf("%s_ack_p99: %.2f ms\n", n, lg_hist_pct_ms(&R.ack, 99));
    if (cfg->mode == LG_PACED) {
        printf("%s_keystrokes_per_sec: %.0f keys/s\n", n, (double)R.ks_typed / d);
        printf("%s_k2r_p50: %.2f ms\n", n, lg_hist_pct_ms(&R.k2r, 50));
        printf("%s_k2r_p99: %.2f ms\n", n, lg_hist_pct_ms(&R.k2r, 99));
        printf("%s_k2r_samples: %llu keystrokes\n", n, (unsigned long long)R.k2r.n);
    }
    if (cfg->server_pid) {
        double cpu = R.p1.cpu_s - R.p0.cpu_s;
        printf("%s_server_cpu: %.2f s\n", n, cpu);
        printf("%s_server_cpu_util: %.0f %%\n", n, 100.0 * cpu / d);
        printf("%s_server_peak_rss: %.1f MiB\n", n, (double)R.p1.hwm_kib / 1024);
    }
    printf("%s_loadgen_cpu_util: %.0f %%\n", n, 100.0 * (R.lg_cpu1 - R.lg_cpu0) / d);
}

/* Idle: everyone joined, nothing typed; the server's RSS growth per
 * connection once it has settled. */
static void report_idle(const lg_proc *before)
{
    const lg_config *cfg = R.cfg;
    lg_proc after;
    if (lg_proc_read(cfg->server_pid, &after) < 0) {
        fail("cannot read the server's /proc entry", NULL);
        return;
    }
    double per = (double)(after.rss_kib - before->rss_kib) / cfg->clients;
    printf("%s_connections: %d conns\n", cfg->name, cfg->clients);
    printf("%s_server_rss: %.1f MiB\n", cfg->name, (double)after.rss_kib / 1024);
    printf("%s_mem_per_conn: %.2f KiB\n", cfg->name, per);
}

int lg_run(const lg_config *cfg)
{
    lg_proc before;
    memset(&R, 0, sizeof R);
    if (setup(cfg) < 0) {
        fprintf(stderr, "loadgen: setup failed (memory or lws context)\n");
        return -1;
    }
    if (cfg->server_pid) lg_proc_read(cfg->server_pid, &before);
    double t0 = lg_now();
    R.ticking = 1;
    if (pthread_create(&R.ticker, NULL, ticker, NULL) != 0) {
        fprintf(stderr, "loadgen: cannot start the tick thread\n");
        teardown();
        return -1;
    }
    while (!R.stop && lws_service(R.ctx, 0) >= 0) {
        if (R.phase == PH_CONNECT && lg_now() - t0 > 120)
            fail("connecting took over 120 s", NULL);
    }
    R.ticking = 0;
    pthread_join(R.ticker, NULL);
    if (!R.failed && cfg->mode == LG_IDLE) report_idle(&before);
    else if (!R.failed) report();
    int rc = R.failed ? -1 : 0;
    teardown();
    return rc;
}
