/* bus.c -- Redis pub/sub between nodes, on two threads of its own (bus.h).
 *
 * A message is one JSON object on the channel "chorus:ops", one of
 *
 *   {"t":"op","node":N,"doc":D,"version":V,"op":"<wire JSON of the op>",
 *    "client":C,"seq":S,"user":U,"time":T}
 *   {"t":"presence","node":N,"doc":D,"client":C,"name":U,"color":"#rrggbb",
 *    "version":V,"cursor":{"anchor":A,"head":H}|null,"left":false}
 *   {"t":"alive","node":N}                       (once a second)
 *   {"t":"yield","node":N,"doc":D}   (N keeps losing the race to append to
 *                                     D: hold appends until N's next op)
 *
 * The op travels as a string (its wire text, exactly as stored), so a
 * receiver hands the store's own text on. Received messages are parsed
 * here, on the subscriber thread (bounded size, duplicate keys refused);
 * anything malformed is counted and dropped: the store stays the truth. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/bus/bus.h"

#define CHANNEL "chorus:ops"
#define OUT_MAX 100000            /* messages waiting to be published */
#define MSG_MAX (4u << 20)        /* bytes of one message */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    char data[];
} out_msg;

struct srv_bus {
    char host[256];
    int port;
    char node[40];
    void (*wake)(void *arg);
    void *arg;
    pthread_t pub_th, sub_th;
    int started;                  /* threads running: 0, 1 or 2 */
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* out queue or stopping */
    out_msg *ohead, *otail;
    size_t olen;
    srv_bus_msg *ihead, *itail;
    int stopping;
    int resync;                   /* subscribed since the loop last asked */
    int sub_fd;                   /* to unblock the subscriber: -1 */
    srv_bus_stats st;
};

int srv_bus_parse_url(const char *url, char *host, size_t cap, int *port,
                      char *err, size_t errlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        snprintf(err, errlen, "bus: %s: expected redis://host[:port]", url);
        return -1;
    }
    p += 8;
    if (strchr(p, '@')) {
        snprintf(err, errlen, "bus: %s: passwords are not supported", url);
        return -1;
    }
    size_t n = strcspn(p, ":/");
    if (n == 0 || n >= cap) {
        snprintf(err, errlen, "bus: %s: no host", url);
        return -1;
    }
    memcpy(host, p, n);
    host[n] = 0;
    *port = 6379;
    if (p[n] == ':') {
        char *end = NULL;
        long v = strtol(p + n + 1, &end, 10);
        if (end == p + n + 1 || v <= 0 || v > 65535 || (*end && *end != '/')) {
            snprintf(err, errlen, "bus: %s: bad port", url);
            return -1;
        }
        *port = (int)v;
    }
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int stopping(srv_bus *b)
{
    pthread_mutex_lock(&b->mu);
    int s = b->stopping;
    pthread_mutex_unlock(&b->mu);
    return s;
}

/* Sleep for the backoff (in slices, so a stop is not kept waiting) and
 * double it. */
static void backoff(srv_bus *b, int *ms)
{
    for (int t = 0; t < *ms && !stopping(b); t += 50) sleep_ms(50);
    *ms = *ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *ms * 2;
}

static redisContext *connect_to(srv_bus *b)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout(b->host, b->port, tv);
    if (c && !c->err) {
        redisEnableKeepAlive(c);
        return c;
    }
    if (c) redisFree(c);
    return NULL;
}

/* ---- publishing */

static void *pub_main(void *arg)
{
    srv_bus *b = arg;
    redisContext *c = NULL;
    int wait_ms = BACKOFF_MIN_MS;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (!b->ohead && !b->stopping) pthread_cond_wait(&b->cv, &b->mu);
        if (b->stopping) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        out_msg *m = b->ohead;
        b->ohead = m->next;
        if (!b->ohead) b->otail = NULL;
        b->olen--;
        pthread_mutex_unlock(&b->mu);
        if (!c && (c = connect_to(b))) {
            struct timeval tv = {1, 0};
            redisSetTimeout(c, tv);
        }
        if (!c) {
            /* at-most-once: drop what waits, the store is the truth */
            pthread_mutex_lock(&b->mu);
            b->st.dropped += 1 + b->olen;
            for (out_msg *n; b->ohead; b->ohead = n) {
                n = b->ohead->next;
                free(b->ohead);
            }
            b->otail = NULL;
            b->olen = 0;
            pthread_mutex_unlock(&b->mu);
            free(m);
            backoff(b, &wait_ms);
            continue;
        }
        redisReply *r = redisCommand(c, "PUBLISH %s %b", CHANNEL, m->data,
                                     m->len);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        free(m);
        pthread_mutex_lock(&b->mu);
        if (ok) b->st.published++;
        else b->st.dropped++;
        pthread_mutex_unlock(&b->mu);
        if (!ok || c->err) {
            redisFree(c);
            c = NULL;
            backoff(b, &wait_ms);
        } else {
            wait_ms = BACKOFF_MIN_MS;
        }
    }
    if (c) redisFree(c);
    return NULL;
}

/* Queue the JSON object 'o' (stolen) for publication. */
static void enqueue(srv_bus *b, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    size_t len = text ? strlen(text) : 0;
    out_msg *m = text ? malloc(sizeof *m + len) : NULL;
    pthread_mutex_lock(&b->mu);
    if (!m || b->olen >= OUT_MAX) {
        b->st.dropped++;
        pthread_mutex_unlock(&b->mu);
        free(m);
        free(text);
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->data, text, len);
    if (b->otail) b->otail->next = m;
    else b->ohead = m;
    b->otail = m;
    b->olen++;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    free(text);
}

void srv_bus_publish(srv_bus *b, const store_oprec *r)
{
    if (!b) return;
    enqueue(b, json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:I}",
                         "t", "op", "node", b->node, "doc", r->doc,
                         "version", (json_int_t)r->version, "op", r->op,
                         "client", r->client, "seq", (json_int_t)r->seq,
                         "user", r->user, "time", (json_int_t)r->time_ms));
}

void srv_bus_publish_presence(srv_bus *b, const srv_bus_presence *p)
{
    if (!b) return;
    json_t *cursor = p->has_cursor
                         ? json_pack("{s:I, s:I}", "anchor",
                                     (json_int_t)p->anchor, "head",
                                     (json_int_t)p->head)
                         : json_null();
    enqueue(b, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:b}",
                         "t", "presence", "node", b->node, "doc", p->doc,
                         "client", p->client, "name", p->name, "color",
                         p->color, "version", (json_int_t)p->version,
                         "cursor", cursor, "left", p->left));
}

void srv_bus_publish_alive(srv_bus *b)
{
    if (b) enqueue(b, json_pack("{s:s, s:s}", "t", "alive", "node", b->node));
}

void srv_bus_publish_yield(srv_bus *b, const char *doc)
{
    if (b)
        enqueue(b, json_pack("{s:s, s:s, s:s}", "t", "yield", "node", b->node,
                             "doc", doc));
}

const char *srv_bus_node(const srv_bus *b)
{
    return b->node;
}

/* ---- subscribing */

static int parse_op(json_t *o, srv_bus_msg *m)
{
    const char *doc = NULL, *op = NULL, *client = NULL, *user = NULL;
    json_int_t version = 0, seq = 0, t = 0;
    if (json_unpack(o, "{s:s, s:I, s:s, s:s, s:I, s:s, s:I}", "doc", &doc,
                    "version", &version, "op", &op, "client", &client, "seq",
                    &seq, "user", &user, "time", &t) < 0 ||
        version < 1)
        return -1;
    m->rec = (store_oprec){doc, version, op, client, seq, user, t};
    return 0;
}

static int parse_presence(json_t *o, srv_bus_msg *m)
{
    srv_bus_presence *p = &m->pres;
    json_t *cursor = NULL;
    json_int_t version = 0, anchor = 0, head = 0;
    int left = 0;
    if (json_unpack(o, "{s:s, s:s, s:s, s:s, s:I, s:o, s:b}", "doc", &p->doc,
                    "client", &p->client, "name", &p->name, "color",
                    &p->color, "version", &version, "cursor", &cursor, "left",
                    &left) < 0 ||
        version < 0)
        return -1;
    if (json_is_object(cursor) &&
        (json_unpack(cursor, "{s:I, s:I}", "anchor", &anchor, "head",
                     &head) < 0 ||
         anchor < 0 || head < 0 || anchor > UINT32_MAX || head > UINT32_MAX))
        return -1;
    p->version = version;
    p->has_cursor = json_is_object(cursor);
    p->anchor = (uint32_t)anchor;
    p->head = (uint32_t)head;
    p->left = left;
    return 0;
}

/* A message's text into a srv_bus_msg; NULL if malformed. */
static srv_bus_msg *parse(const char *data, size_t len)
{
    json_error_t e;
    const char *node = NULL, *t = NULL;
    if (len > MSG_MAX) return NULL;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
    srv_bus_msg *m = o ? calloc(1, sizeof *m) : NULL;
    int rc = !m || json_unpack(o, "{s:s, s:s}", "t", &t, "node", &node) < 0
                 ? -1 : 0;
    if (rc == 0 && strcmp(t, "op") == 0) m->kind = SRV_BUS_OP, rc = parse_op(o, m);
    else if (rc == 0 && strcmp(t, "presence") == 0)
        m->kind = SRV_BUS_PRESENCE, rc = parse_presence(o, m);
    else if (rc == 0 && strcmp(t, "alive") == 0) m->kind = SRV_BUS_ALIVE;
    else if (rc == 0 && strcmp(t, "yield") == 0)
        m->kind = SRV_BUS_YIELD, rc = json_unpack(o, "{s:s}", "doc", &m->doc);
    else rc = -1;
    const char *doc = m && m->kind == SRV_BUS_OP ? m->rec.doc
                      : m && m->kind == SRV_BUS_PRESENCE ? m->pres.doc
                      : m && m->kind == SRV_BUS_YIELD ? m->doc : "";
    if (rc < 0 || strlen(doc) > 64) {
        free(m);
        json_decref(o);
        return NULL;
    }
    snprintf(m->node, sizeof m->node, "%s", node);
    m->root = o;
    return m;
}

static void deliver(srv_bus *b, srv_bus_msg *m)
{
    pthread_mutex_lock(&b->mu);
    if (m) {
        if (b->itail) b->itail->next = m;
        else b->ihead = m;
        b->itail = m;
        b->st.received++;
    } else {
        b->st.bad++;
    }
    pthread_mutex_unlock(&b->mu);
    if (m && b->wake) b->wake(b->arg);
}

static void set_up(srv_bus *b, redisContext *c, int up)
{
    pthread_mutex_lock(&b->mu);
    b->st.up = up;
    b->sub_fd = up ? c->fd : -1;
    if (up) b->resync = 1, b->st.reconnects++;
    if (up && b->stopping) shutdown(c->fd, SHUT_RDWR); /* stopped meanwhile */
    pthread_mutex_unlock(&b->mu);
    if (up && b->wake) b->wake(b->arg);
}

static void *sub_main(void *arg)
{
    srv_bus *b = arg;
    int wait_ms = BACKOFF_MIN_MS;
    while (!stopping(b)) {
        redisContext *c = connect_to(b);
        redisReply *r = c ? redisCommand(c, "SUBSCRIBE %s", CHANNEL) : NULL;
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            if (r) freeReplyObject(r);
            if (c) redisFree(c);
            backoff(b, &wait_ms);
            continue;
        }
        freeReplyObject(r);
        wait_ms = BACKOFF_MIN_MS;
        set_up(b, c, 1);
        void *rp = NULL;
        while (!stopping(b) && redisGetReply(c, &rp) == REDIS_OK) {
            r = rp;
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                r->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(r->element[0]->str, "message") == 0 &&
                r->element[2]->type == REDIS_REPLY_STRING)
                deliver(b, parse(r->element[2]->str, r->element[2]->len));
            if (r) freeReplyObject(r);
            rp = NULL;
        }
        set_up(b, c, 0);
        redisFree(c);
        if (!stopping(b)) backoff(b, &wait_ms);
    }
    return NULL;
}

/* ---- the loop's side */

srv_bus *srv_bus_new(const char *url, const char *node,
                     void (*wake)(void *arg), void *arg, char *err,
                     size_t errlen)
{
    srv_bus *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "bus: out of memory");
        return NULL;
    }
    if (srv_bus_parse_url(url, b->host, sizeof b->host, &b->port, err,
                          errlen) < 0) {
        free(b);
        return NULL;
    }
    snprintf(b->node, sizeof b->node, "%s", node);
    b->wake = wake;
    b->arg = arg;
    b->sub_fd = -1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->pub_th, NULL, pub_main, b) != 0) {
        snprintf(err, errlen, "bus: cannot start a thread");
        srv_bus_free(b);
        return NULL;
    }
    b->started = 1;
    if (pthread_create(&b->sub_th, NULL, sub_main, b) != 0) {
        snprintf(err, errlen, "bus: cannot start a thread");
        srv_bus_free(b);
        return NULL;
    }
    b->started = 2;
    return b;
}

srv_bus_msg *srv_bus_drain(srv_bus *b)
{
    if (!b) return NULL;
    pthread_mutex_lock(&b->mu);
    srv_bus_msg *m = b->ihead;
    b->ihead = b->itail = NULL;
    pthread_mutex_unlock(&b->mu);
    return m;
}

void srv_bus_msg_free(srv_bus_msg *m)
{
    if (!m) return;
    json_decref(m->root);
    free(m);
}

int srv_bus_take_resync(srv_bus *b)
{
    if (!b) return 0;
    pthread_mutex_lock(&b->mu);
    int r = b->resync;
    b->resync = 0;
    pthread_mutex_unlock(&b->mu);
    return r;
}

void srv_bus_stats_get(srv_bus *b, srv_bus_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    *out = b->st;
    pthread_mutex_unlock(&b->mu);
}

void srv_bus_free(srv_bus *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    if (b->sub_fd >= 0) shutdown(b->sub_fd, SHUT_RDWR); /* unblock it */
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (b->started >= 1) pthread_join(b->pub_th, NULL);
    if (b->started >= 2) pthread_join(b->sub_th, NULL);
    while (b->ohead) {
        out_msg *m = b->ohead;
        b->ohead = m->next;
        free(m);
    }
    for (srv_bus_msg *m = b->ihead, *n; m; m = n) {
        n = m->next;
        srv_bus_msg_free(m);
    }
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
