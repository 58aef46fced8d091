/* http.c -- the HTTP side of the one port: requests, responses, and the
 * WebSocket upgrade gate. It knows no API route: each request whose
 * headers pass is offered to the env's 'route' hook (the API's route
 * table, handed in by serve.c), then /ws (426), then a file of web/.
 *
 * A response is whole in memory (files of web/, JSON, text) or, for an
 * export, in a file read as it goes; it is written from
 * LWS_CALLBACK_HTTP_WRITEABLE: headers in one callback, then the body in
 * chunks, one lws_write per callback. The upgrade gate
 * (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE) is the only place a WebSocket can be
 * refused with a status: Host, path, subprotocol, Origin and per-IP limit.
 * Before any route, a request's headers alone may refuse it (screen): an
 * unknown Host (421), a foreign Origin on a method that changes state
 * (403), a body without a length (411); then a body that is not JSON on an
 * API route (415). See gate.c for the Host and Origin rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/auth/auth.h"
#include "server/base/base.h"
#include "server/net/net.h"

#define CHUNK (64 * 1024)
#define MAX_STATIC (32 * 1024 * 1024)

typedef struct http_pss {     /* lws per-connection user memory */
    srv_http_req *req;
} http_pss;

/* Ask lws for a WRITEABLE callback, where the answer is written. */
static void kick(srv_http_req *r)
{
    lws_callback_on_writable(r->wsi);
}

void srv__http_free_all(srv_http_env *env)
{
    while (env->live) srv_http_free(env->live);
}

static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    if (fd < 0) return NULL;
    if (fstat(fd, &st) < 0 || st.st_size > MAX_STATIC) goto out;
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) goto out;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            free(buf);
            buf = NULL;
            goto out;
        }
        got += (size_t)n;
    }
    *len = got;
out:
    close(fd);
    return buf;
}

static void serve_static(srv_http_env *env, srv_http_req *r)
{
    char file[4096];
    size_t len = 0;
    char *body;
    if (srv__static_resolve(env->web_root, r->path, file, sizeof file) < 0 ||
        !(body = read_file(file, &len))) {
        srv_http_text(r, 404, "not found\n");
        return;
    }
    srv_http_respond(r, 200, srv__mime_type(file), body, len);
}

static void route(srv_http_env *env, srv_http_req *r)
{
    if (strcmp(r->path, "/healthz") == 0) {
        srv_http_text(r, 200, "ok\n");
        return;
    }
    if (env->route && env->route(env->route_arg, r)) return;
    if (strcmp(r->path, "/ws") == 0) {
        srv_http_text(r, 426, "use a WebSocket with subprotocol chorus.v1\n");
        return;
    }
    if (r->method != SRV_GET && r->method != SRV_HEAD) {
        snprintf(r->allow, sizeof r->allow, "GET, HEAD");
        srv_http_text(r, 405, "method not allowed\n");
        return;
    }
    serve_static(env, r);
}

static int method_of(struct lws *wsi, int *tok)
{
    static const struct {
        enum lws_token_indexes t;
        int m;
    } map[] = {
        {WSI_TOKEN_GET_URI, SRV_GET},       {WSI_TOKEN_POST_URI, SRV_POST},
        {WSI_TOKEN_HEAD_URI, SRV_HEAD},     {WSI_TOKEN_PUT_URI, SRV_PUT},
        {WSI_TOKEN_DELETE_URI, SRV_DELETE}, {WSI_TOKEN_PATCH_URI, SRV_PATCH},
        {WSI_TOKEN_OPTIONS_URI, SRV_OPTIONS},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (lws_hdr_total_length(wsi, map[i].t) > 0) {
            *tok = map[i].t;
            return map[i].m;
        }
    return 0;
}

int srv__http_token(struct lws *wsi, char *out, size_t outlen)
{
    char buf[4096];
    out[0] = 0;
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        strncasecmp(buf, "Bearer ", 7) == 0) {
        if (strlen(buf + 7) < outlen) strcpy(out, buf + 7);
        return 0;
    }
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_COOKIE) > 0 &&
        srv_cookie_value(buf, SRV_COOKIE, out, outlen) < 0)
        out[0] = 0;
    return 0;
}

static void copy_token(struct lws *wsi, char *out, size_t outlen)
{
    srv__http_token(wsi, out, outlen);
}

/* Content-Type 'type' (application/json, text/plain), with parameters or
 * none? For text/plain a charset parameter, if any, must be utf-8. */
static int has_type(struct lws *wsi, const char *type)
{
    char ct[256];
    size_t tl = strlen(type);
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    if (n <= 0 || (size_t)n >= sizeof ct ||
        lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
        return 0;
    const char *p = ct + strspn(ct, " \t");
    if (strncasecmp(p, type, tl) != 0) return 0;
    p += tl;
    p += strspn(p, " \t");
    if (*p == 0) return 1;
    if (*p != ';') return 0;
    if (strcmp(type, "text/plain") != 0) return 1;
    p += 1 + strspn(p + 1, " \t");
    return strncasecmp(p, "charset=utf-8", 13) == 0 ||
           strncasecmp(p, "charset=\"utf-8\"", 15) == 0;
}

/* The routes whose body is text, not JSON: PUT /api/docs/D/text and POST
 * /api/docs/D/append (api/writes.c). A cross-site form could post
 * text/plain, but the Origin check (gate.c) refuses it first. */
static int text_route(const srv_http_req *r)
{
    size_t n = strlen(r->path);
    if (strncmp(r->path, "/api/docs/", 10) != 0) return 0;
    if (r->method == SRV_PUT) return n > 5 && strcmp(r->path + n - 5, "/text") == 0;
    if (r->method == SRV_POST)
        return n > 7 && strcmp(r->path + n - 7, "/append") == 0;
    return 0;
}

static srv_http_req *start_request(srv_http_env *env, struct lws *wsi)
{
    int tok = 0;
    srv_http_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->live = &env->live;
    r->live_next = env->live;
    if (env->live) env->live->live_prev = r;
    env->live = r;
    r->writable = kick;
    r->wsi = wsi;
    r->refs = 1;
    r->resp_fd = -1;
    r->method = method_of(wsi, &tok);
    if (!r->method ||
        lws_hdr_copy(wsi, r->path, sizeof r->path, (enum lws_token_indexes)tok) < 0)
        r->path[0] = 0;
    char *q = strchr(r->path, '?');
    if (q) *q = 0;
    copy_token(wsi, r->token, sizeof r->token);
    r->json_body = has_type(wsi, "application/json");
    r->text_body = has_type(wsi, "text/plain");
    if (lws_hdr_copy(wsi, r->if_match, sizeof r->if_match,
                     WSI_TOKEN_HTTP_IF_MATCH) < 0)
        snprintf(r->if_match, sizeof r->if_match, "%s", /* too long: bad */
                 lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_MATCH) > 0 ? "?" : "");
    lws_get_peer_simple(wsi, r->ip, sizeof r->ip);
    while (r->nargs < SRV_HTTP_MAX_ARGS &&
           lws_hdr_copy_fragment(wsi, r->args[r->nargs],
                                 sizeof r->args[r->nargs],
                                 WSI_TOKEN_HTTP_URI_ARGS, r->nargs) > 0)
        r->nargs++;
    return r;
}

static int on_body(srv_http_req *r, const void *in, size_t len)
{
    if (len == 0 || !in || r->refused) return 0;
    if (r->body_too_large || r->body_len + len > SRV_HTTP_MAX_BODY) {
        r->body_too_large = 1;
        return 0;
    }
    char *nb = realloc(r->body, r->body_len + len + 1);
    if (!nb) return -1;
    memcpy(nb + r->body_len, in, len);
    r->body = nb;
    r->body_len += len;
    nb[r->body_len] = 0;
    return 0;
}

static int write_headers(struct lws *wsi, srv_http_req *r)
{
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    size_t len = r->method == SRV_HEAD ? 0 : r->resp_len;
    if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->ctype,
                                    r->resp_len, &p, end))
        return -1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-cache", 8, &p, end) ||
        lws_add_http_header_by_name(wsi,
                                    (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end))
        return -1;
    if (r->set_cookie[0] &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
                                    (const unsigned char *)r->set_cookie,
                                    (int)strlen(r->set_cookie), &p, end))
        return -1;
    if (r->allow[0] &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
                                    (const unsigned char *)r->allow,
                                    (int)strlen(r->allow), &p, end))
        return -1;
    if (r->etag[0] &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"etag:",
                                    (const unsigned char *)r->etag,
                                    (int)strlen(r->etag), &p, end))
        return -1;
    if (r->close_after &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                    (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (r->disposition[0] &&
        lws_add_http_header_by_name(wsi,
                                    (const unsigned char *)"content-disposition:",
                                    (const unsigned char *)r->disposition,
                                    (int)strlen(r->disposition), &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    r->headers_sent = 1;
    if (len == 0) r->resp_sent = r->resp_len;
    return 0;
}

/* One lws_write per call: headers first, then body chunks. Returns -1 to
 * close the connection. */
static int on_writeable(struct lws *wsi, srv_http_req *r)
{
    if (!r || !r->responded) return 0;
    if (!r->headers_sent) {
        if (write_headers(wsi, r) < 0) return -1;
        if (r->resp_sent < r->resp_len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else {
        unsigned char buf[LWS_PRE + CHUNK];
        size_t n = r->resp_len - r->resp_sent;
        if (n > CHUNK) n = CHUNK;
        if (r->resp_fd >= 0) {
            ssize_t got = pread(r->resp_fd, buf + LWS_PRE, n, (off_t)r->resp_sent);
            if (got <= 0) return -1; /* the file shrank: cut the answer */
            n = (size_t)got;
        } else {
            memcpy(buf + LWS_PRE, r->resp + r->resp_sent, n);
        }
        r->resp_sent += n;
        int fin = r->resp_sent == r->resp_len;
        if (lws_write(wsi, buf + LWS_PRE, n,
                      fin ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        if (!fin) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (r->close_after) return -1; /* the rest of the input is not a request */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- what a request's headers alone refuse */

static int refuse(srv_http_req *r, int status, const char *code,
                  const char *msg)
{
    r->refused = status;
    r->refused_code = code;
    r->refused_msg = msg;
    return status;
}

static int changes_state(const srv_http_req *r)
{
    return r->method == SRV_POST || r->method == SRV_PUT ||
           r->method == SRV_PATCH || r->method == SRV_DELETE;
}

/* Sets r->refused (and its code and message) when the headers refuse the
 * request; r->close_after when its body, if any, cannot be delimited
 * (chunked, or no Content-Length on HTTP/1.x). Returns r->refused. */
static int screen(const srv_config *cfg, struct lws *wsi, srv_http_req *r)
{
    int h2 = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COLON_PATH) > 0;
    int te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    int cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    int body = r->method == SRV_POST || r->method == SRV_PUT ||
               r->method == SRV_PATCH;
    r->close_after = !h2 && (te || (body && !cl));
    if (strcmp(r->path, "/healthz") != 0 && strcmp(r->path, "/readyz") != 0 &&
        !srv__gate_host(cfg, wsi))
        return refuse(r, 421, "misdirected",
                      "this server does not answer to that Host name "
                      "(see chorus serve --allow-host)");
    if (changes_state(r) && !srv__gate_csrf(cfg, wsi))
        return refuse(r, 403, "forbidden_origin",
                      "a request that changes anything must come from this "
                      "server's own pages (or an --allow-origin)");
    if (r->close_after)
        return refuse(r, 411, "length_required",
                      "send the body with a Content-Length "
                      "(chunked request bodies are not taken)");
    return 0;
}

/* A whole request: answer its refusal, or a body that is not JSON on an
 * API route (415), or route it. */
static void dispatch(srv_http_env *env, srv_http_req *r)
{
    if (r->dispatched++) return;
    if (r->refused)
        srv_http_error(r, r->refused, r->refused_code, r->refused_msg);
    else if (r->body_too_large)
        srv_http_error(r, 413, "too_large", "request body too large");
    else if (r->body_len && text_route(r) && !r->text_body)
        srv_http_error(r, 415, "unsupported_media_type",
                       "send the body as Content-Type: text/plain; charset=utf-8");
    else if (r->body_len && !r->json_body && !text_route(r) &&
             strncmp(r->path, "/api/", 5) == 0)
        srv_http_error(r, 415, "unsupported_media_type",
                       "send the body as Content-Type: application/json");
    else
        route(env, r);
}

/* Content-Length: 0? (lws never completes such a PUT or PATCH) */
static int empty_body(struct lws *wsi)
{
    char cl[32];
    return lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
           strspn(cl, "0") == strlen(cl);
}

/* A request's headers are in: answer now, or once its body is. */
static int on_request(srv_http_env *env, struct lws *wsi, srv_http_req *r)
{
    screen(env->cfg, wsi, r);
    if ((r->method == SRV_POST || r->method == SRV_PUT ||
         r->method == SRV_PATCH) && !r->close_after && !empty_body(wsi))
        return 0; /* dispatch when the body is complete */
    dispatch(env, r);
    return 0;
}

static int confirm_upgrade(srv_http_env *env, struct lws *wsi,
                           const char *proto);

/* The env serve.c handed in, as the protocol's user pointer. */
static srv_http_env *env_of(struct lws *wsi)
{
    const struct lws_protocols *p = lws_get_protocol(wsi);
    return p ? p->user : NULL;
}

int srv__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
    http_pss *pss = user;
    srv_http_env *env = env_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return env ? confirm_upgrade(env, wsi, in) : -1;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (env && env->wake) env->wake();
        return 0;
    case LWS_CALLBACK_HTTP:
        if (!pss || !env) return -1;
        if (pss->req) { /* the previous request on a keep-alive connection */
            pss->req->wsi = NULL;
            srv_http_release(pss->req);
        }
        if (!(pss->req = start_request(env, wsi))) return -1;
        return on_request(env, wsi, pss->req);
    case LWS_CALLBACK_HTTP_BODY:
        return pss && pss->req ? on_body(pss->req, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!pss || !pss->req || !env) return -1;
        dispatch(env, pss->req);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? on_writeable(wsi, pss->req) : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
        /* no user memory when the peer closed before any request */
        if (pss && pss->req) {
            pss->req->wsi = NULL;
            srv_http_release(pss->req);
            pss->req = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- the WebSocket upgrade gate */

/* Refuse an upgrade with a plain HTTP/1.1 answer. (lws_return_http_status
 * answers HTTP/1.0 at this stage, which some WebSocket clients reject
 * without reading the status.) */
static int reject(struct lws *wsi, unsigned code, const char *why)
{
    unsigned char buf[LWS_PRE + 512];
    const char *text = code == 403 ? "Forbidden" : code == 404 ? "Not Found"
                     : code == 421 ? "Misdirected Request"
                     : code == 429 ? "Too Many Requests" : "Bad Request";
    srv_debug("upgrade refused (%u): %s", code, why);
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %u %s\r\ncontent-type: text/plain\r\n"
                     "content-length: %zu\r\nconnection: close\r\n\r\n%s\n",
                     code, text, strlen(why) + 1, why);
    if (n <= 0 || (size_t)n >= sizeof buf - LWS_PRE) return -1;
    if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS) != n)
        return -1;
    return 1;
}

static int has_subprotocol(struct lws *wsi)
{
    char protos[256];
    if (lws_hdr_copy(wsi, protos, sizeof protos, WSI_TOKEN_PROTOCOL) <= 0)
        return 0;
    for (char *save = NULL, *t = strtok_r(protos, ", ", &save); t;
         t = strtok_r(NULL, ", ", &save))
        if (strcmp(t, SRV_SUBPROTOCOL) == 0) return 1;
    return 0;
}

static int confirm_upgrade(srv_http_env *env, struct lws *wsi,
                           const char *proto)
{
    char uri[256];
    if (!srv__gate_host(env->cfg, wsi))
        return reject(wsi, 421, "this server does not answer to that Host name");
    if (!proto || strcmp(proto, "websocket") != 0)
        return reject(wsi, 400, "only websocket upgrades");
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        strcmp(uri, "/ws") != 0)
        return reject(wsi, 404, "no websocket here: use /ws");
    if (!has_subprotocol(wsi))
        return reject(wsi, 400, "subprotocol chorus.v1 required");
    if (srv__gate_origin(env->cfg, wsi) == SRV_GATE_FOREIGN)
        return reject(wsi, 403, "origin not allowed");
    char ip[64];
    lws_get_peer_simple(wsi, ip, sizeof ip);
    intptr_t open = (intptr_t)srv_map_get(&srv__g.ip_counts, ip);
    if (env->cfg->conns_per_ip > 0 && open >= env->cfg->conns_per_ip)
        return reject(wsi, 429, "too many connections from this address");
    char token[64];
    srv__http_token(wsi, token, sizeof token);
    srv__ws_upgrade_token(wsi, token);
    return 0;
}
