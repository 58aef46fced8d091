/* client.c -- one worker of the load generator: lws client connections
 * (raw sockets framed by ws.c) speaking chorus.v1 or ShareDB's protocol,
 * driven closed-loop, paced or idle.
 *
 * Everything in a worker runs on its one lws service thread. A 1 ms tick
 * opens connections (at most connect_window not yet joined at a time),
 * moves the run through its phases (connect, warm-up, measure, done) and,
 * when paced, generates keystrokes. The tick comes from a small thread that
 * sleeps and calls lws_cancel_service(), not from an lws timer: lws 4.1
 * polls with a millisecond timeout rounded down, so it spins through the
 * last millisecond before every timer, which would make the generator burn
 * a core on its own clock. Keystroke j of the run is due at
 * start + j/(N*rate) and belongs to client j % N, so every client types
 * evenly at 'rate'. A client with no op in flight sends its pending
 * keystrokes as one op (an editor batching what was typed while waiting);
 * writes happen only in RAW_WRITEABLE, one lws_write each.
 *
 * Keystroke-to-remote latency: each client's keystroke times and the
 * keystrokes each of its recent ops held live in shared memory (lg_typing);
 * a client receiving another's op looks the author up by the index in its
 * client id and records now - keystroke time for each keystroke. */
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/loadgen/lg.h"

#define KS_RING LG_KS_RING
#define OP_RING LG_OP_RING
#define MAX_BATCH 1024        /* keystrokes in one op at most */
#define TICK_US 1000

enum { W_NONE, W_HELLO, W_JOIN, W_OP, W_CREATE, W_PREFILL };

#define SHAREDB_TYPE "http://sharejs.org/types/text-unicode"
enum { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DONE };

typedef struct client {
    struct lws *wsi;
    int idx, doc;
    char id[48];
    int want;                 /* W_*: what the next WRITEABLE sends */
    int open, joined;
    int prefilling;           /* its prefill op is in flight */
    int64_t ver, ver0, len0;  /* newest version seen; at join; length then */
    int64_t seq;              /* last seq sent */
    int inflight;
    double t_sent;
    uint32_t ks_sent;         /* keystrokes put into ops so far */
    lg_typing *ty;            /* LG_PACED: in shared memory; else NULL */
    lg_ws ws;                 /* framing of what arrives */
    int asked;                /* the upgrade request was sent */
    int pong;                 /* a ping waits for its pong */
    unsigned char pong_data[125];
    size_t pong_len;
    uint64_t rng;
} client;

static struct {
    const lg_config *cfg;
    lg_shared *sh;
    lg_counts *out;           /* this worker's results, in sh */
    int w;                    /* worker index */
    int mine;                 /* clients of this worker */
    struct lws_context *ctx;
    client *c;                /* all N; only i % procs == w are used */
    int next, opened, pending;
    int phase, stop, failed;
    double t_start, t_measure, t_end;
    uint64_t ks_due;          /* keystrokes of the run so far (paced) */
    double cpu0;
    int debug;                /* LG_DEBUG set: every frame on stderr */
    pthread_t ticker;
    volatile int ticking;
    unsigned char *out_buf;   /* LWS_PRE + one outgoing message */
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
    __atomic_store_n(&R.sh->failed, 1, __ATOMIC_SEQ_CST);
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
    unsigned char *nb = realloc(R.out_buf, LWS_PRE + n);
    if (!nb) return -1;
    R.out_buf = nb;
    R.out_cap = LWS_PRE + n;
    return 0;
}

/* The next op: the pending keystrokes (paced) or one character (closed),
 * inserted at a random place inside the length the client knows. */
static size_t build_op(client *c, char *p, size_t cap)
{
    uint32_t k = 1;
    if (c->prefilling) {
        k = (uint32_t)R.cfg->prefill;
    } else if (R.cfg->mode == LG_PACED) {
        k = c->ty->ks_next - c->ks_sent;
        if (k > MAX_BATCH) k = MAX_BATCH;
    }
    int64_t known = c->len0 + (c->ver - c->ver0);
    int64_t pos = c->prefilling ? 0 : (int64_t)(rnd(c) % (uint64_t)(known + 1));
    int n;
    if (R.cfg->proto == LG_SHAREDB)
        n = snprintf(p, cap, "{\"a\":\"op\",\"c\":\"docs\",\"d\":\"%s%d\","
                     "\"v\":%lld,\"src\":\"%s\",\"seq\":%lld,\"op\":[",
                     R.cfg->doc_prefix, c->doc, (long long)c->ver, c->id,
                     (long long)(c->seq + 1));
    else
        n = snprintf(p, cap, "{\"type\":\"op\",\"doc\":\"%s%d\",\"version\":%lld,"
                     "\"seq\":%lld,\"op\":[", R.cfg->doc_prefix, c->doc,
                     (long long)c->ver, (long long)(c->seq + 1));
    if (pos > 0) n += snprintf(p + n, cap - (size_t)n, "%lld,", (long long)pos);
    p[n++] = '"';
    for (uint32_t i = 0; i < k; i++) p[n++] = (char)('a' + rnd(c) % 26);
    n += snprintf(p + n, cap - (size_t)n, "\"]}");
    c->seq++;
    if (R.cfg->mode == LG_PACED && !c->prefilling) {
        lg_sent_op *o = &c->ty->ops[c->seq % OP_RING];
        o->seq = c->seq;
        o->k0 = c->ks_sent;
        o->k1 = c->ks_sent + k;
        c->ks_sent += k;
    }
    return (size_t)n;
}

/* One lws_write of 'n' bytes at 'p' (LG_WS_HDR bytes of room before it)
 * as a frame of 'opcode'. */
static int send_frame(client *c, int opcode, char *p, size_t n)
{
    unsigned char hdr[LG_WS_HDR];
    size_t h = lg_ws_frame(hdr, opcode, n);
    memcpy(p - h, hdr, h);
    if (lws_write(c->wsi, (unsigned char *)p - h, h + n, LWS_WRITE_RAW) < (int)(h + n)) {
        fail("write failed", c);
        return -1;
    }
    return 0;
}

static int on_writeable(client *c)
{
    if (R.stop) return 0;
    if (out_reserve(LG_WS_HDR + MAX_BATCH + (size_t)R.cfg->prefill + 512) < 0)
        return -1;
    char *p = (char *)R.out_buf + LWS_PRE + LG_WS_HDR;
    size_t cap = R.out_cap - LWS_PRE - LG_WS_HDR, n;
    if (!c->asked) { /* the upgrade request */
        char doc[160];
        snprintf(doc, sizeof doc, "%s%d", R.cfg->doc_prefix, c->doc);
        int k = lg_ws_request(p, cap, R.cfg, doc);
        c->asked = 1;
        if (k < 0 || lws_write(c->wsi, (unsigned char *)p, (size_t)k, LWS_WRITE_RAW) < k) {
            fail("write failed", c);
            return -1;
        }
        return 0;
    }
    if (c->pong) {
        c->pong = 0;
        memcpy(p, c->pong_data, c->pong_len);
        if (send_frame(c, LG_WS_PONG, p, c->pong_len) < 0) return -1;
        if (c->want != W_NONE) lws_callback_on_writable(c->wsi);
        return 0;
    }
    int sdb = R.cfg->proto == LG_SHAREDB;
    switch (c->want) {
    case W_HELLO:
        n = (size_t)(sdb ? snprintf(p, cap, "{\"a\":\"hs\",\"id\":\"%s\"}", c->id)
                         : snprintf(p, cap, "{\"type\":\"hello\",\"client\":\"%s\","
                                    "\"name\":\"u%d\"}", c->id, c->idx));
        break;
    case W_JOIN:
        n = (size_t)(sdb ? snprintf(p, cap, "{\"a\":\"s\",\"c\":\"docs\",\"d\":\"%s%d\"}",
                                    R.cfg->doc_prefix, c->doc)
                         : snprintf(p, cap, "{\"type\":\"join\",\"doc\":\"%s%d\"}",
                                    R.cfg->doc_prefix, c->doc));
        break;
    case W_CREATE: /* ShareDB: the document's first client creates it */
        n = (size_t)snprintf(p, cap, "{\"a\":\"op\",\"c\":\"docs\",\"d\":\"%s%d\","
                             "\"v\":0,\"src\":\"%s\",\"seq\":%lld,\"create\":"
                             "{\"type\":\"" SHAREDB_TYPE "\",\"data\":\"\"}}",
                             R.cfg->doc_prefix, c->doc, c->id,
                             (long long)++c->seq);
        c->inflight = 1;
        break;
    case W_PREFILL:
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
    if (R.debug) fprintf(stderr, "%s > %.*s\n", c->id, (int)n, p);
    return send_frame(c, LG_WS_TEXT, p, n);
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
    if (!a || !a->ty || m->seq < 0) return;
    lg_sent_op o = a->ty->ops[m->seq % OP_RING];
    if (o.seq != m->seq) {
        R.out->k2r_missed++;
        return;
    }
    for (uint32_t k = o.k0; k != o.k1; k++) {
        if (a->ty->ks_next - k > KS_RING) {
            R.out->k2r_missed++;
            continue;
        }
        double t = a->ty->ks_ts[k % KS_RING];
        if (t >= R.t_measure && t <= now)
            lg_hist_add(&R.out->k2r, (uint64_t)((now - t) * 1e6));
    }
}

static void count_ready(void)
{
    __atomic_add_fetch(&R.sh->ready, 1, __ATOMIC_SEQ_CST);
    R.pending--;
}

static void on_ack(client *c, const lg_msg *m, double now)
{
    if (m->seq != c->seq || !c->inflight) return;
    c->inflight = 0;
    if (c->prefilling) { /* the document now holds the prefill */
        c->prefilling = 0;
        c->len0 += (c->ver - c->ver0 - 1) + R.cfg->prefill;
        c->ver0 = c->ver;
        count_ready();
        return;
    }
    if (R.phase == PH_MEASURE) {
        R.out->acks++;
        if (c->t_sent >= R.t_measure)
            lg_hist_add(&R.out->ack, (uint64_t)((now - c->t_sent) * 1e6));
    }
    if (R.phase == PH_DONE) return;
    if (R.cfg->mode == LG_CLOSED ||
        (R.cfg->mode == LG_PACED && c->ty->ks_next != c->ks_sent))
        want(c, W_OP);
}

/* The client knows its document at version 'v' with 'len' code points. It
 * is ready, unless it is the document's first client and a prefill is
 * asked for: then once that op is acked. */
static void became_ready(client *c, int64_t v, int64_t len)
{
    c->joined = 1;
    c->ver0 = v;
    if (v > c->ver) c->ver = v;
    c->len0 = len;
    if (R.cfg->prefill > 0 && c->idx == c->doc) {
        c->prefilling = 1;
        want(c, W_PREFILL);
        return;
    }
    count_ready();
}

static void on_chorus_msg(client *c, const lg_msg *m, double now)
{
    if (m->version > c->ver) c->ver = m->version;
    if (lg_span_is(m->type, "op")) {
        if (R.cfg->mode == LG_PACED) remote_op(m, now);
    } else if (lg_span_is(m->type, "ack")) {
        on_ack(c, m, now);
    } else if (lg_span_is(m->type, "welcome")) {
        want(c, W_JOIN);
    } else if (lg_span_is(m->type, "joined") && !c->joined) {
        became_ready(c, m->version, utf8_len(m->text));
    } else if (lg_span_is(m->type, "error")) {
        fail("the server answered an error", c);
    }
}

/* ShareDB: "v" of an op is the version it applied to; acks are op
 * messages without "op" from our own src; the document exists once a
 * snapshot with a type or its create op has been seen. */
static void on_sharedb_msg(client *c, const lg_msg *m, double now)
{
    int mine = m->client.n == strlen(c->id) &&
               memcmp(m->client.p, c->id, m->client.n) == 0;
    if (m->has_error) {
        fail("ShareDB answered an error", c);
    } else if (lg_span_is(m->type, "hs")) {
        want(c, W_JOIN);
    } else if (lg_span_is(m->type, "s") && !c->joined) {
        if (m->has_doc_type) became_ready(c, m->version, utf8_len(m->text));
        else if (c->idx == c->doc) want(c, W_CREATE);
    } else if (lg_span_is(m->type, "op")) {
        if (m->version >= 0 && m->version + 1 > c->ver) c->ver = m->version + 1;
        if (m->has_create || (mine && !c->joined)) { /* created, or our create acked */
            if (mine) c->inflight = 0;
            if (!c->joined) became_ready(c, m->version + 1, 0);
        } else if (mine) {
            on_ack(c, m, now);
        } else if (m->has_op && R.cfg->mode == LG_PACED) {
            remote_op(m, now);
        }
    }
}

/* The messages of one frame arrived together: one clock read for all of
 * them (at hundreds of authors a clock read per message was 4 % of the
 * generator). */
static double frame_now;

static void on_msg(void *arg, const lg_msg *m)
{
    if (R.cfg->proto == LG_SHAREDB) on_sharedb_msg(arg, m, frame_now);
    else on_chorus_msg(arg, m, frame_now);
}

/* A whole message, a control frame, or the upgrade's answer (ws.c). */
static int on_ws(void *arg, int kind, const char *data, size_t len)
{
    client *c = arg;
    switch (kind) {
    case LG_WS_OPEN:
        c->open = 1;
        want(c, W_HELLO);
        return 0;
    case LG_WS_TEXT:
        if (R.debug) fprintf(stderr, "%s < %.*s\n", c->id, (int)len, data);
        frame_now = lg_now();
        if (lg_scan_frame(data, len, on_msg, c) < 0) fail("malformed frame", c);
        return 0;
    case LG_WS_PING:
        c->pong = 1;
        c->pong_len = len < sizeof c->pong_data ? len : sizeof c->pong_data;
        memcpy(c->pong_data, data, c->pong_len);
        lws_callback_on_writable(c->wsi);
        return 0;
    case LG_WS_CLOSE:
        if (len >= 2)
            fprintf(stderr, "loadgen: server closed %s: %d %.*s\n", c->id,
                    (unsigned char)data[0] << 8 | (unsigned char)data[1],
                    (int)len - 2, data + 2);
        return -1;
    default:
        return 0;
    }
}

static int on_receive(client *c, const char *in, size_t len)
{
    if (lg_ws_feed(&c->ws, in, len, on_ws, c) == 0) return 0;
    if (!R.stop && !c->ws.open) fail("the server refused the upgrade", c);
    return -1; /* lws closes it: RAW_CLOSE */
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
        if (!R.failed)
            fprintf(stderr, "loadgen: connect: %s\n", in ? (char *)in : "?");
        c->wsi = NULL;
        fail("connection failed", c);
        return 0;
    case LWS_CALLBACK_RAW_CONNECTED:
        lws_callback_on_writable(c->wsi); /* the upgrade request */
        return 0;
    case LWS_CALLBACK_RAW_RX:
        return on_receive(c, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_RAW_CLOSE:
        c->wsi = NULL;
        if (!R.stop) fail("connection closed by the server", c);
        return 0;
    default:
        return 0;
    }
}


static const struct lws_protocols protocols[] = {
    {"lg-raw", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the run */

static int connect_one(client *c)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = R.ctx;
    ci.address = R.cfg->host;
    ci.port = R.cfg->port2 > 0 && c->idx % 2 ? R.cfg->port2 : R.cfg->port;
    ci.path = R.cfg->path;
    ci.host = R.cfg->host;
    ci.method = "RAW";               /* ws.c does the WebSocket part */
    ci.local_protocol_name = "lg-raw"; /* our one handler */
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
        int i = (int)(R.ks_due % (uint64_t)cfg->clients);
        if (i % cfg->procs != R.w) continue;
        client *c = &R.c[i];
        c->ty->ks_ts[c->ty->ks_next % KS_RING] = now;
        __atomic_store_n(&c->ty->ks_next, c->ty->ks_next + 1, __ATOMIC_RELEASE);
        if (R.phase == PH_MEASURE) R.out->ks_typed++;
        if (!c->inflight && c->want == W_NONE) want(c, W_OP);
    }
}

/* Every client of every worker has joined: the first worker to see it sets
 * the start time for all. */
static int all_ready(double now)
{
    lg_shared *sh = R.sh;
    if (__atomic_load_n(&sh->started, __ATOMIC_ACQUIRE)) return 1;
    if (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < R.cfg->clients) return 0;
    int zero = 0;
    if (__atomic_compare_exchange_n(&sh->started, &zero, 2, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
        sh->t_start = now;
        __atomic_store_n(&sh->started, 1, __ATOMIC_RELEASE);
    }
    return 1;
}

static void start_load(void)
{
    while (__atomic_load_n(&R.sh->started, __ATOMIC_ACQUIRE) != 1) {}
    R.t_start = R.sh->t_start;
    R.t_measure = R.t_start + R.cfg->warmup_s;
    R.t_end = R.t_measure + R.cfg->duration_s;
    R.phase = PH_WARMUP;
    if (R.cfg->mode == LG_CLOSED)
        for (int i = R.w; i < R.cfg->clients; i += R.cfg->procs)
            want(&R.c[i], W_OP);
}

/* Idle runs, worker 0: once the first half has joined and settled, read
 * the server and let the rest in. */
static void idle_half(double now)
{
    lg_shared *sh = R.sh;
    int half = __atomic_load_n(&sh->half, __ATOMIC_ACQUIRE);
    if (half == 0 && __atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) >= R.cfg->clients / 2) {
        sh->t_half = now;
        __atomic_store_n(&sh->half, 1, __ATOMIC_RELEASE);
    } else if (half == 1 && now >= sh->t_half + R.cfg->duration_s) {
        if (R.cfg->server_pid) lg_proc_read(R.cfg->server_pid, &sh->pmid);
        __atomic_store_n(&sh->half, 2, __ATOMIC_RELEASE);
    }
}

static void open_more(void)
{
    const lg_config *cfg = R.cfg;
    int limit = cfg->clients;
    if (cfg->mode == LG_IDLE && __atomic_load_n(&R.sh->half, __ATOMIC_ACQUIRE) != 2)
        limit = cfg->clients / 2;
    while (R.next < limit && R.pending < cfg->connect_window) {
        /* with a prefill, the others join once every document holds it */
        if (cfg->prefill && R.next >= cfg->docs &&
            __atomic_load_n(&R.sh->ready, __ATOMIC_SEQ_CST) < cfg->docs)
            break;
        if (connect_one(&R.c[R.next]) < 0) {
            fail("cannot start a connection", &R.c[R.next]);
            return;
        }
        R.next += cfg->procs;
        R.pending++;
    }
}

/* Ops sent in the window and still unacked at its end count with the time
 * they have waited so far (a lower bound), so a stalled server cannot
 * flatter its percentiles by never answering. */
static void censor_inflight(double now)
{
    for (int i = R.w; i < R.cfg->clients; i += R.cfg->procs) {
        client *c = &R.c[i];
        if (c->inflight && c->t_sent >= R.t_measure)
            lg_hist_add(&R.out->ack, (uint64_t)((now - c->t_sent) * 1e6));
    }
}

static void tick(void)
{
    const lg_config *cfg = R.cfg;
    double now = lg_now();
    if (__atomic_load_n(&R.sh->failed, __ATOMIC_SEQ_CST)) {
        R.stop = 1;
        return;
    }
    if (R.phase == PH_CONNECT && cfg->mode == LG_IDLE && R.w == 0)
        idle_half(now);
    if (R.phase == PH_CONNECT) {
        open_more();
        if (all_ready(now)) start_load();
    }
    if (R.phase == PH_WARMUP && now >= R.t_measure) {
        R.phase = PH_MEASURE;
        if (R.w == 0) {
            lg_proc_read(cfg->server_pid, &R.sh->p0);
            R.sh->m0 = lg_machine_busy();
        }
        R.cpu0 = self_cpu();
    }
    if (cfg->mode == LG_PACED && R.phase != PH_CONNECT) type_keystrokes(now);
    if (R.phase == PH_MEASURE && now >= R.t_end) {
        R.phase = PH_DONE;
        if (R.w == 0) {
            lg_proc_read(cfg->server_pid, &R.sh->p1);
            R.sh->m1 = lg_machine_busy();
        }
        R.out->cpu_s = self_cpu() - R.cpu0;
        censor_inflight(now);
    }
    /* the others linger a moment, so worker 0 reads the server's memory
     * while every connection is still open */
    if (R.phase == PH_DONE && (R.w == 0 || now >= R.t_end + 0.3)) R.stop = 1;
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

static int setup(const lg_config *cfg, lg_shared *sh, int w)
{
    memset(&R, 0, sizeof R);
    R.cfg = cfg;
    R.sh = sh;
    R.w = w;
    R.out = &sh->w[w];
    R.next = w;
    R.debug = getenv("LG_DEBUG") != NULL;
    R.c = calloc((size_t)cfg->clients, sizeof *R.c);
    if (!R.c) return -1;
    for (int i = 0; i < cfg->clients; i++) {
        client *c = &R.c[i];
        c->idx = i;
        c->doc = i % cfg->docs;
        c->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        snprintf(c->id, sizeof c->id, "lg-%s-%d", cfg->run_id, i);
        if (cfg->mode == LG_PACED) c->ty = &sh->typing[i];
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
    if (R.ctx) lws_context_destroy(R.ctx);
    for (int i = 0; R.c && i < R.cfg->clients; i++) lg_ws_free(&R.c[i].ws);
    free(R.c);
    free(R.out_buf);
}

int lg_worker(const lg_config *cfg, lg_shared *sh, int w)
{
    if (setup(cfg, sh, w) < 0) {
        fprintf(stderr, "loadgen: setup failed (memory or lws context)\n");
        __atomic_store_n(&sh->failed, 1, __ATOMIC_SEQ_CST);
        teardown();
        return -1;
    }
    double t0 = lg_now();
    R.ticking = 1;
    if (pthread_create(&R.ticker, NULL, ticker, NULL) != 0) {
        fprintf(stderr, "loadgen: cannot start the tick thread\n");
        __atomic_store_n(&sh->failed, 1, __ATOMIC_SEQ_CST);
        teardown();
        return -1;
    }
    while (!R.stop && lws_service(R.ctx, 0) >= 0) {
        if (R.phase == PH_CONNECT && lg_now() - t0 > 120)
            fail("connecting took over 120 s", NULL);
    }
    R.ticking = 0;
    pthread_join(R.ticker, NULL);
    int rc = R.failed ? -1 : 0;
    teardown();
    return rc;
}
