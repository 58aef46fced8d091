/* ws.c -- WebSocket connections (net/): the lws callback of chorus.v1,
 * reassembly of client messages, the bounded out queue, and closing.
 *
 * lws hands a message over in fragments; they are gathered in c->rx and the
 * size bound is enforced on the whole message, which then goes to proto.c.
 * Everything the server sends a client goes through its queue (a ring of
 * srv_msg references, srv_ring of base.h) and leaves in
 * LWS_CALLBACK_SERVER_WRITEABLE, one lws_write per callback: a single
 * message as it is, several as one JSON array (the protocol allows both).
 * A queue past its byte bound means a client that cannot keep up: it is
 * closed with 1008, never allowed to grow the server's memory. Invariant:
 * q_bytes is the sum of the queued messages' lengths, q_whole the part of
 * it sent whole, and srv__g.queued_bytes their sum over connections. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "server/net/net.h"

#define BATCH_MAX (256 * 1024)   /* bytes gathered into one array frame */
#define SNDBUF (64 * 1024)       /* kernel send buffer of a connection */
#define PRE_HELLO_MAX (8 * 1024) /* bytes a connection may send before hello */

typedef struct ws_pss {
    srv_conn *conn;
} ws_pss;

/* The messages (collab/wire.c) carry SRV_MSG_PRE bytes in front of their
 * text, so lws_write can use them where they are. */
_Static_assert(SRV_MSG_PRE >= LWS_PRE, "srv_msg headroom is less than LWS_PRE");

static srv_msg *q_at(const srv_conn *c, size_t i)
{
    return *(srv_msg **)srv_ring_at(&c->q, i);
}

/* ---- a connection's strings */

char srv__no_str[1] = "";

static void free_str(char **slot)
{
    if (*slot && *slot != srv__no_str) {
        sodium_memzero(*slot, strlen(*slot)); /* tokens are secrets */
        free(*slot);
    }
    *slot = srv__no_str;
}

int srv_conn_set_str(char **slot, const char *v)
{
    char *copy = v && v[0] ? strdup(v) : srv__no_str;
    if (!copy) return -1;
    free_str(slot);
    *slot = copy;
    return 0;
}

/* ---- sending */

/* A closing connection has this long to take what is queued and its close
 * frame; then lws drops it without ceremony. */
#define CLOSE_GRACE_S 5

void srv_conn_close(srv_conn *c, int code, const char *reason)
{
    if (c->close_code) return;
    c->close_code = code;
    c->close_reason = reason;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_REASON_BASE, CLOSE_GRACE_S);
    lws_callback_on_writable(c->wsi);
}


static int q_push(srv_conn *c, srv_msg *m)
{
    if (srv_ring_push(&c->q, &m) < 0) return -1;
    c->q_bytes += m->len;
    srv__g.queued_bytes += m->len;
    if (srv__g.queued_bytes > srv__g.metrics.bytes_queued_peak)
        srv__g.metrics.bytes_queued_peak = srv__g.queued_bytes;
    m->refs++;
    return 0;
}

static srv_msg *q_pop(srv_conn *c)
{
    srv_msg *m;
    srv_ring_pop(&c->q, &m);
    assert(c->q_bytes >= m->len && srv__g.queued_bytes >= m->len);
    c->q_bytes -= m->len;
    if (m->whole) c->q_whole -= m->len;
    srv__g.queued_bytes -= m->len;
    return m;
}

/* Drop everything queued for 'c' (it is being closed and will never read
 * it, or the queue is empty): an idle connection holds no ring. */
static void q_clear(srv_conn *c)
{
    while (c->q.len) srv_msg_unref(q_pop(c));
    srv_ring_free(&c->q);
    assert(c->q_bytes == 0 && c->q_whole == 0);
}

/* 'whole': the message does not count against the bound (see
 * srv_conn_send_whole); it is in this queue only. */
static int enqueue(srv_conn *c, srv_msg *m, int whole)
{
    if (!m || c->close_code) return -1;
    if (!whole && c->q_bytes - c->q_whole + m->len > srv__g.cfg.queue_bytes) {
        srv__g.metrics.conns_closed_slow++;
        srv_info("closing %s (%s): out queue over %zu bytes", c->client,
                 c->ip, srv__g.cfg.queue_bytes);
        /* It would never read what is queued: free it now, not when the
         * connection finally goes (srv_conn_close bounds that too). */
        q_clear(c);
        srv_conn_close(c, 1008, "too slow: out queue full");
        return -1;
    }
    if (q_push(c, m) < 0) {
        srv_conn_close(c, 1011, "out of memory");
        return -1;
    }
    if (whole) {
        m->whole = 1;
        c->q_whole += m->len;
    }
    return 0;
}

int srv__conn_enqueue(srv_conn *c, srv_msg *m)
{
    return enqueue(c, m, 0);
}

void srv_conn_send(srv_conn *c, srv_msg *m)
{
    if (enqueue(c, m, 0) == 0) lws_callback_on_writable(c->wsi);
}

void srv_conn_send_whole(srv_conn *c, srv_msg *m)
{
    if (enqueue(c, m, 1) == 0) lws_callback_on_writable(c->wsi);
}

void srv_conn_error(srv_conn *c, const char *code, const char *message,
                    const char *doc, int64_t seq)
{
    srv_msg *m = srv_wire_error(code, message, doc, seq);
    srv__g.metrics.errors_sent++;
    if (!m) {
        srv_conn_close(c, 1011, "out of memory");
        return;
    }
    srv_conn_send(c, m);
    srv_msg_unref(m);
}

/* The one buffer batches are built in: writes happen on the lws thread
 * only, and lws_write sends it or copies what the kernel did not take, so a
 * buffer per connection would only hold memory (most connections are idle). */
static unsigned char *batch;
static size_t batch_cap;

/* Gather as many queued messages as fit into one JSON array frame. */
static int write_batch(srv_conn *c)
{
    size_t need = 2, n = 0;
    for (; n < c->q.len; n++) {
        srv_msg *m = q_at(c, n);
        if (n > 0 && need + m->len + 1 > BATCH_MAX) break;
        need += m->len + 1;
    }
    if (LWS_PRE + need > batch_cap) {
        unsigned char *nb = realloc(batch, LWS_PRE + need);
        if (!nb) return -1;
        batch = nb;
        batch_cap = LWS_PRE + need;
    }
    unsigned char *p = batch + LWS_PRE;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        srv_msg *m = q_pop(c);
        if (i) *p++ = ',';
        memcpy(p, m->buf + SRV_MSG_PRE, m->len);
        p += m->len;
        srv_msg_unref(m);
    }
    *p++ = ']';
    size_t len = (size_t)(p - (batch + LWS_PRE));
    int rc = lws_write(c->wsi, batch + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len
                 ? -1 : 0;
    if (batch_cap > LWS_PRE + BATCH_MAX) { /* grown for one big message */
        free(batch);
        batch = NULL;
        batch_cap = 0;
    }
    return rc;
}

/* While lws holds part of a frame the kernel would not take, it must not
 * read: lws 4.1.6 answers the peer's FIN then by "flushing before close",
 * which returns without closing, and its service loop retries the same
 * socket forever (one client hangs the server). So reading pauses whenever
 * a write leaves the pipe choked, and resumes in the next WRITEABLE, which
 * lws calls only once its own buffer is empty. A peer that never reads is
 * then dropped by the idle hang-up or by CLOSE_GRACE_S, never by a read. */
static void pause_rx_if_choked(srv_conn *c)
{
    if (!c->rx_paused && lws_send_pipe_choked(c->wsi)) {
        lws_rx_flow_control(c->wsi, 0);
        c->rx_paused = 1;
    }
}

static int on_writeable(srv_conn *c)
{
    if (c->rx_paused) {
        lws_rx_flow_control(c->wsi, 1);
        c->rx_paused = 0;
    }
    if (c->q.len == 0 && c->close_code) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason,
                         strlen(c->close_reason));
        return -1;
    }
    if (c->q.len == 0) {
        q_clear(c); /* drained: an idle connection holds no ring */
        return 0;
    }
    if (c->q.len == 1) {
        srv_msg *m = q_pop(c);
        int rc = lws_write(c->wsi, m->buf + SRV_MSG_PRE, m->len, LWS_WRITE_TEXT);
        int ok = rc >= (int)m->len;
        srv_msg_unref(m);
        if (!ok) return -1;
    } else if (write_batch(c) < 0) {
        return -1;
    }
    pause_rx_if_choked(c);
    if (c->q.len || c->close_code || c->rx_paused)
        lws_callback_on_writable(c->wsi);
    else
        q_clear(c);
    return 0;
}

/* ---- receiving */

static int on_receive(srv_conn *c, const void *in, size_t len)
{
    struct lws *wsi = c->wsi;
    int final = lws_is_final_fragment(wsi) &&
                lws_remaining_packet_payload(wsi) == 0;
    if (lws_frame_is_binary(wsi)) {
        if (final) srv_conn_error(c, "bad_message", "binary frames are not part of chorus.v1", NULL, -1);
        return 0;
    }
    if (!c->hello) {
        c->pre_hello_bytes += len;
        if (c->pre_hello_bytes > PRE_HELLO_MAX) {
            srv_conn_error(c, "too_large", "too much data before hello", NULL, -1);
            srv_conn_close(c, 1009, "too much data before hello");
            c->rx_discard = 1;
        }
    }
    if (!c->rx_discard && c->rx_len + len > srv__g.cfg.max_message) {
        srv_conn_error(c, "too_large", "message larger than the limit", NULL, -1);
        srv_conn_close(c, 1009, "message too large");
        c->rx_discard = 1;
    }
    if (c->rx_discard) return 0;
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t ncap = c->rx_cap ? c->rx_cap : 4096;
        while (ncap < c->rx_len + len + 1) ncap *= 2;
        char *nb = realloc(c->rx, ncap);
        if (!nb) return -1;
        c->rx = nb;
        c->rx_cap = ncap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!final) return 0;
    c->rx[c->rx_len] = 0;
    size_t n = c->rx_len;
    c->rx_len = 0;
    srv__proto_handle(c, c->rx, n);
    /* An idle connection keeps no buffer: most of them are idle, and a
     * malloc per message costs less than 4 KB held by each of thousands. */
    free(c->rx);
    c->rx = NULL;
    c->rx_cap = 0;
    return 0;
}

/* ---- lifecycle */

static uint64_t next_conn_id = 1;
static srv_map upgrade_tokens;  /* "%p" of a wsi -> token copied at upgrade */

/* Keep the upgrade request's token until the connection is established
 * (headers are gone after the upgrade). */
void srv__ws_upgrade_token(struct lws *wsi, const char *token)
{
    char k[32];
    snprintf(k, sizeof k, "%p", (void *)wsi);
    free(srv_map_del(&upgrade_tokens, k));
    char *t = token[0] ? strdup(token) : NULL;
    if (t && srv_map_put(&upgrade_tokens, k, t) < 0) free(t);
}

static void take_upgrade_token(srv_conn *c)
{
    char k[32];
    snprintf(k, sizeof k, "%p", (void *)c->wsi);
    char *t = srv_map_del(&upgrade_tokens, k);
    if (t) {
        srv_conn_set_str(&c->token, t);
        sodium_memzero(t, strlen(t));
    }
    free(t);
}

srv_conn *srv_conn_by_id(uint64_t id)
{
    for (srv_conn *c = srv__g.conns; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static srv_conn *conn_open(struct lws *wsi)
{
    srv_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->wsi = wsi;
    c->client = c->name = c->token = srv__no_str;
    srv_ring_init(&c->q, sizeof(srv_msg *));
    c->id = next_conn_id++;
    take_upgrade_token(c);
    c->opened_ms = srv_mono_ms();
    lws_get_peer_simple(wsi, c->ip, sizeof c->ip);
    c->tokens = srv__g.cfg.ops_per_sec * 2.0;
    c->tokens_ms = c->opened_ms;
    c->next = srv__g.conns;
    if (c->next) c->next->prev = c;
    srv__g.conns = c;
    srv__g.nconns++;
    srv__g.metrics.conns_total++;
    intptr_t open = (intptr_t)srv_map_get(&srv__g.ip_counts, c->ip);
    srv_map_put(&srv__g.ip_counts, c->ip, (void *)(open + 1));
    lws_set_timer_usecs(wsi, (lws_usec_t)srv__g.cfg.hello_timeout * LWS_US_PER_SEC);
    return c;
}

static void conn_closed(srv_conn *c)
{
    srv__proto_closed(c);
    srv__relay_forget(c);
    q_clear(c);
    if (c->prev) c->prev->next = c->next;
    else srv__g.conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv__g.nconns--;
    intptr_t open = (intptr_t)srv_map_get(&srv__g.ip_counts, c->ip);
    if (open <= 1) srv_map_del(&srv__g.ip_counts, c->ip);
    else srv_map_put(&srv__g.ip_counts, c->ip, (void *)(open - 1));
    free(c->rx);
    free_str(&c->client);
    free_str(&c->name);
    free_str(&c->token);
    sodium_memzero(c->login_hash, sizeof c->login_hash);
    free(c->joins);
    free(c);
}

int srv__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len)
{
    ws_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
        if (srv__g.stopping) return -1;
        if (!(pss->conn = conn_open(wsi))) return -1;
        /* lws sized the send buffer to the (small) receive buffer: give it
         * back room for broadcasts and catch-ups. */
        int n = SNDBUF;
        setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &n, sizeof n);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return pss->conn ? on_receive(pss->conn, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? on_writeable(pss->conn) : -1;
    case LWS_CALLBACK_TIMER:
        if (pss->conn && !pss->conn->hello) {
            srv_conn_error(pss->conn, "hello_required", "no hello in time", NULL, -1);
            srv_conn_close(pss->conn, 1008, "no hello in time");
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) conn_closed(pss->conn);
        pss->conn = NULL;
        return 0;
    default:
        return 0;
    }
}

srv_join *srv_conn_find_join(srv_conn *c, const char *doc)
{
    for (int i = 0; i < c->njoins; i++)
        if (strcmp(srv_session_id(c->joins[i].sess), doc) == 0)
            return &c->joins[i];
    return NULL;
}

int srv_conn_join_share(srv_conn *c, const char *doc, const char *share)
{
    srv_join *j = srv_conn_find_join(c, doc);
    if (!j || !share || !share[0]) return 0;
    free(j->share);
    j->share = strdup(share);
    return j->share ? 0 : -1;
}

void srv_conn_drop_join(srv_conn *c, srv_session *s)
{
    for (int i = 0; i < c->njoins; i++)
        if (c->joins[i].sess == s) {
            free(c->joins[i].share);
            c->joins[i] = c->joins[--c->njoins];
            return;
        }
}
