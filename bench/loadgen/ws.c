/* ws.c -- the load generator's own WebSocket framing, over lws raw sockets.
 *
 * lws 4.1's client parses what it receives one byte at a time; at 50 clients
 * each taking in the other 49's ops, that parser took 60 % of the generator's
 * CPU, the generator a whole core, and the server was left waiting for it.
 * So connections are lws "RAW" client sockets (lws still connects, polls and
 * writes), and the few things a client needs of RFC 6455 are done here: the
 * upgrade request, checking its 101 answer, frames out (masked with a zero
 * key, which leaves the payload as it is: RFC 6455 lets the client choose
 * any key) and frames in, found by their length and handed over whole.
 * Servers send unmasked frames; a masked one is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen/lg.h"

int lg_ws_request(char *buf, size_t cap, const lg_config *cfg,
                  const char *doc)
{
    char path[512];
    /* "%s" in the path: the client's document id (a proxy hashes by it) */
    const char *at = strstr(cfg->path, "%s");
    if (at)
        snprintf(path, sizeof path, "%.*s%s%s", (int)(at - cfg->path),
                 cfg->path, doc, at + 2);
    else
        snprintf(path, sizeof path, "%s", cfg->path);
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%d\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: bG9hZGdlbi1jaG9ydXMtMQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s\r\n",
                     path, cfg->host, cfg->port,
                     cfg->proto == LG_SHAREDB
                         ? "" : "Sec-WebSocket-Protocol: chorus.v1\r\n");
    return n > 0 && (size_t)n < cap ? n : -1;
}

size_t lg_ws_frame(unsigned char *buf, int opcode, size_t len)
{
    size_t h = 0;
    buf[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        buf[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        buf[h++] = 0x80 | 126;
        buf[h++] = (unsigned char)(len >> 8);
        buf[h++] = (unsigned char)len;
    } else {
        buf[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) buf[h++] = (unsigned char)(len >> (8 * i));
    }
    memset(buf + h, 0, 4); /* the mask key */
    return h + 4;
}

static int grow(lg_ws *w, size_t need)
{
    if (need <= w->cap) return 0;
    size_t ncap = w->cap ? w->cap : 16384;
    while (ncap < need) ncap *= 2;
    char *nb = realloc(w->buf, ncap);
    if (!nb) return -1;
    w->buf = nb;
    w->cap = ncap;
    return 0;
}

/* The upgrade answer: 101 and the end of the headers. 1 when complete,
 * 0 when more is needed, -1 when refused. */
static int handshake(lg_ws *w, size_t *used)
{
    char *end = memmem(w->buf, w->len, "\r\n\r\n", 4);
    if (!end) return w->len > 16384 ? -1 : 0;
    if (w->len < 12 || memcmp(w->buf, "HTTP/1.1 101", 12) != 0) return -1;
    *used = (size_t)(end + 4 - w->buf);
    return 1;
}

int lg_ws_feed(lg_ws *w, const char *in, size_t len, lg_ws_fn fn, void *arg)
{
    if (grow(w, w->len + len + 1) < 0) return -1;
    memcpy(w->buf + w->len, in, len);
    w->len += len;
    size_t at = 0;
    if (!w->open) {
        int rc = handshake(w, &at);
        if (rc <= 0) return rc;
        w->open = 1;
        if (fn(arg, LG_WS_OPEN, NULL, 0) < 0) return -1;
    }
    for (;;) {
        size_t left = w->len - at;
        const unsigned char *p = (const unsigned char *)w->buf + at;
        if (left < 2) break;
        size_t h = 2;
        uint64_t n = p[1] & 0x7f;
        if (p[1] & 0x80) return -1; /* servers do not mask */
        if (n == 126) {
            if (left < 4) break;
            n = (uint64_t)p[2] << 8 | p[3];
            h = 4;
        } else if (n == 127) {
            if (left < 10) break;
            n = 0;
            for (int i = 0; i < 8; i++) n = n << 8 | p[2 + i];
            h = 10;
        }
        if (n > (64u << 20)) return -1;
        if (left < h + n) {
            if (grow(w, at + h + n + 1) < 0) return -1;
            break;
        }
        int fin = p[0] & 0x80, op = p[0] & 0x0f;
        const char *data = (const char *)p + h;
        at += h + (size_t)n;
        if (op >= 8) { /* control: close, ping, pong */
            if (fn(arg, op, data, (size_t)n) < 0) return -1;
            continue;
        }
        if (op != 0) w->msg_len = 0; /* a new message */
        if (fin && w->msg_len == 0) {
            /* whole in one frame: hand it over from the buffer itself */
            char save = w->buf[at];
            w->buf[at] = 0;
            int rc = fn(arg, LG_WS_TEXT, data, (size_t)n);
            w->buf[at] = save;
            if (rc < 0) return -1;
            continue;
        }
        char *nb = realloc(w->msg, w->msg_len + (size_t)n + 1);
        if (!nb) return -1;
        w->msg = nb;
        memcpy(w->msg + w->msg_len, data, (size_t)n);
        w->msg_len += (size_t)n;
        if (fin) {
            w->msg[w->msg_len] = 0;
            int rc = fn(arg, LG_WS_TEXT, w->msg, w->msg_len);
            w->msg_len = 0;
            if (rc < 0) return -1;
        }
    }
    memmove(w->buf, w->buf + at, w->len - at);
    w->len -= at;
    return 0;
}

void lg_ws_free(lg_ws *w)
{
    free(w->buf);
    free(w->msg);
    memset(w, 0, sizeof *w);
}
