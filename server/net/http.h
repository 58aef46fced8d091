/* http.h -- server/net's HTTP side: the lws callback that reads requests
 * and writes their answers (http.c), files of web/ (static.c), and the
 * gate on Host and Origin (gate.c). A request and its answer are data of
 * server/base/http_req.h, which server/api answers too.
 *
 * net knows no route of the API: the composition root (cli/serve.c) hands
 * it an srv_http_env at start-up, whose 'route' hook (the API's route
 * table) is asked about every request that passes the gate, before /ws and
 * web/ files. Everything here runs on the lws thread. */
#ifndef CHORUS_SERVER_NET_HTTP_H
#define CHORUS_SERVER_NET_HTTP_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>

#include "server/base/http_req.h"

struct srv_config;         /* server/srv.h: the flags of chorus serve */

/* What net is handed at start-up (serve.c) and keeps for its life; the
 * protocol's user pointer (struct lws_protocols .user) points to it. */
typedef struct srv_http_env {
    const struct srv_config *cfg; /* the gate's lists, --conns-per-ip */
    const char *web_root;     /* real path of web/ */
    /* The API: 1 when it answered (or started answering) 'r', 0 when the
     * path is none of its routes (then /ws and web/ files are tried). */
    int (*route)(void *arg, srv_http_req *r);
    void *route_arg;
    /* The storage threads woke the loop (EVENT_WAIT_CANCELLED). */
    void (*wake)(void);
    srv_http_req *live;       /* every request not yet freed (http.c) */
} srv_http_env;

/* The lws protocol callback of "http" (its .user: an srv_http_env). */
int srv__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);
/* Free the requests still alive under 'env' (after lws_context_destroy):
 * lws 4.1.6 does not report the close of every connection it kills. */
void srv__http_free_all(srv_http_env *env);
/* The caller's token into 'out': "Authorization: Bearer T", else the
 * session cookie; empty when neither (or too long to be ours). 0. */
int srv__http_token(struct lws *wsi, char *out, size_t outlen);

/* ---- files of web/ (static.c) */
/* Resolve 'path' (the URL path, already percent-decoded) to a file under
 * 'web_root' (a real path). "/" is index.html and "/d/<id>" the editor.
 * Returns 0 with the real file path in 'out', or -1 when there is no such
 * file or the path is not allowed (both answer 404). */
int srv__static_resolve(const char *web_root, const char *path, char *out,
                        size_t outlen);
/* The Content-Type of 'path' by its extension (a static string). */
const char *srv__mime_type(const char *path);

/* ---- the gate: Host and Origin checks (gate.c) */
/* May a request whose Host header is 'host' (NULL: none, not a browser)
 * be answered under 'cfg'? Its name (port stripped, case folded, IPv6
 * brackets removed) must be an --allow-host entry (or '*'), the bind
 * address, localhost, 127.0.0.1, ::1 or the host of an --allow-origin;
 * when bound to every address, any IP literal too. 1 yes, 0 no. */
int srv_gate_host_ok(const struct srv_config *cfg, const char *host);
/* May a browser page of 'origin' talk to us? It must be an --allow-origin
 * entry (or '*'), or, without any, the server's own origin: http:// or
 * https:// followed by 'host' (the request's Host; NULL: none). 1 or 0. */
int srv_gate_origin_ok(const struct srv_config *cfg, const char *origin,
                       const char *host);
/* The same on a request's headers; a header too long to read whole
 * (over 1 KiB) is refused. srv__gate_host: 1 may be answered, 0 not. */
int srv__gate_host(const struct srv_config *cfg, struct lws *wsi);
enum { SRV_GATE_NO_ORIGIN, SRV_GATE_ALLOWED, SRV_GATE_FOREIGN };
int srv__gate_origin(const struct srv_config *cfg, struct lws *wsi); /* SRV_GATE_* */
/* May a request that changes state go on? 1 when its Origin is allowed,
 * or it has none and no Sec-Fetch-Site other than same-origin or none. */
int srv__gate_csrf(const struct srv_config *cfg, struct lws *wsi);

#endif
