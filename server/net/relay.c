/* relay.c -- broadcasts wait briefly for the connection's next frame.
 *
 * Every op is relayed to every other member of its document, and each
 * send() on a socket is a system call on the event loop (on loopback the
 * receiver's TCP work runs in it too; docs/benchmarks.md has the cost):
 * asked out at once, each commit would cost one send per member. So a relay is queued without asking to write; it
 * leaves with the connection's next frame, which comes soon for a member
 * that is itself typing (its ack is sent at once and carries the relays
 * queued before it), and at the latest SRV_RELAY_US after it was queued
 * (or at once past SRV_RELAY_BYTES). The queue is the same one acks use,
 * so a client still receives a document's messages in version order.
 *
 * Held connections wait in a FIFO (their deadlines are increasing, since
 * each was set to the time of queueing plus the same delay); srv__drain
 * asks the due ones out. A ticker thread wakes the event loop with
 * lws_cancel_service every half period while any wait (an lws timer would
 * not do: lws 4.1 rounds poll timeouts down to whole milliseconds and spins
 * through the last one). */
#include <pthread.h>
#include <stdlib.h>
#include <time.h> /* nanosleep */

#include "server/net/net.h"

#define SRV_RELAY_US 2000            /* longest a relay waits */
#define SRV_RELAY_BYTES (16 * 1024)  /* held bytes that go out at once */

/* The FIFO of held connections (srv_conn *; NULL once forgotten). A
 * file-level static: one event loop per process, and the ticker thread
 * below is the process's too. */
static srv_ring held = {NULL, sizeof(srv_conn *), 0, 0, 0};

static pthread_t ticker;
static pthread_mutex_t tk_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tk_cv = PTHREAD_COND_INITIALIZER;
static int tk_running, tk_armed, tk_stop;
static struct lws_context *tk_ctx;

static uint64_t now_us(void)
{
    return (uint64_t)(srv_now_s() * 1e6);
}

static void arm(void)
{
    if (!tk_running) return;
    pthread_mutex_lock(&tk_mu);
    if (!tk_armed) {
        tk_armed = 1;
        pthread_cond_signal(&tk_cv);
    }
    pthread_mutex_unlock(&tk_mu);
}

static srv_conn **held_at(size_t i)
{
    return srv_ring_at(&held, i);
}

void srv_conn_relay(srv_conn *c, srv_msg *m)
{
    if (srv__conn_enqueue(c, m) < 0) return;
    if (!tk_running) { /* nothing would wake the loop for it: send now */
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (c->relay_due_us) { /* held already: leaves no later than that */
        if (c->q_bytes >= SRV_RELAY_BYTES) lws_callback_on_writable(c->wsi);
        return;
    }
    if (c->q_bytes >= SRV_RELAY_BYTES || srv_ring_push(&held, &c) < 0) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    c->relay_due_us = now_us() + SRV_RELAY_US;
    arm();
}

void srv__relays_flush(void)
{
    uint64_t now = now_us();
    while (held.len) {
        srv_conn *c = *held_at(0);
        if (c && c->relay_due_us > now) break;
        srv_ring_pop(&held, NULL);
        if (!c) continue;
        c->relay_due_us = 0;
        if (c->q.len) lws_callback_on_writable(c->wsi);
    }
    if (held.len) arm();
    else if (held.cap > 1024) /* a burst is over: give its ring back */
        srv_ring_free(&held);
}

void srv__relay_forget(srv_conn *c)
{
    if (!c->relay_due_us) return;
    for (size_t i = 0; i < held.len; i++)
        if (*held_at(i) == c) *held_at(i) = NULL;
    c->relay_due_us = 0;
}

static void *ticker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&tk_mu);
    for (;;) {
        while (!tk_armed && !tk_stop) pthread_cond_wait(&tk_cv, &tk_mu);
        if (tk_stop) break;
        tk_armed = 0;
        pthread_mutex_unlock(&tk_mu);
        struct timespec ts = { 0, SRV_RELAY_US / 2 * 1000L };
        nanosleep(&ts, NULL);
        lws_cancel_service(tk_ctx);
        pthread_mutex_lock(&tk_mu);
    }
    pthread_mutex_unlock(&tk_mu);
    return NULL;
}

int srv__relay_ticker_start(struct lws_context *ctx)
{
    tk_ctx = ctx;
    tk_stop = tk_armed = 0;
    if (pthread_create(&ticker, NULL, ticker_main, NULL)) return -1;
    tk_running = 1;
    return 0;
}

void srv__relay_ticker_stop(void)
{
    if (!tk_running) return;
    pthread_mutex_lock(&tk_mu);
    tk_stop = 1;
    pthread_cond_signal(&tk_cv);
    pthread_mutex_unlock(&tk_mu);
    pthread_join(ticker, NULL);
    tk_running = 0;
}
