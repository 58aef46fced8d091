/* http.h -- one HTTP request/response, shared by http.c (transport) and
 * api.c (the JSON API and /metrics).
 *
 * A handler either answers at once (srv_http_respond) or starts a pool
 * task and answers from its done() callback; if the client has gone by
 * then, the request was detached (h->wsi NULL) and the answer is dropped. */
#ifndef CHORUS_SERVER_HTTP_H
#define CHORUS_SERVER_HTTP_H

#include <jansson.h>
#include <stddef.h>

struct lws;

enum { SRV_GET = 1, SRV_HEAD, SRV_POST, SRV_PUT, SRV_DELETE, SRV_PATCH,
       SRV_OPTIONS };

#define SRV_HTTP_MAX_ARGS 8
#define SRV_HTTP_MAX_BODY (1024 * 1024)

typedef struct srv_http_req {
    struct lws *wsi;          /* NULL once the connection closed */
    struct srv_http_req *live_prev, *live_next; /* every request alive */
    int method;
    char path[1024];
    char args[SRV_HTTP_MAX_ARGS][256];  /* "name=value", decoded */
    int nargs;
    char token[64];           /* Authorization: Bearer, else the session cookie */
    char ip[64];              /* the client's address */
    char *body;               /* request body (POST/PUT), NUL-terminated */
    size_t body_len;
    int body_too_large;
    int json_body;            /* Content-Type is application/json */
    int close_after;          /* the body cannot be delimited: close after
                                 the answer */
    /* refused by its headers alone (http.c): the answer, once the body is in */
    int refused;
    int dispatched;           /* answered or routed: only once */
    const char *refused_code, *refused_msg;   /* string literals */
    /* response */
    int status;
    const char *ctype;
    char *resp;               /* owned */
    int resp_fd;              /* or the body comes from this file (owned), -1 */
    size_t resp_len, resp_sent;
    char disposition[256];    /* Content-Disposition, or empty */
    char set_cookie[256];     /* Set-Cookie, or empty */
    const char *allow;        /* Allow (a string literal), or NULL */
    int responded, headers_sent;
    int refs;                 /* the connection, and a pending task */
} srv_http_req;

/* The value of query argument 'name', or NULL. Borrowed from 'r'. */
const char *srv_http_arg(const srv_http_req *r, const char *name);
/* Answer 'status' with 'body' (taken: freed by the server; may be NULL
 * with len 0) and content type 'ctype' (a static string). */
void srv_http_respond(srv_http_req *r, int status, const char *ctype,
                      char *body, size_t len);
/* Answer 'len' bytes read from 'fd' (taken: closed by the server), sent
 * in chunks as the client reads them, so a large body (an export) never
 * sits in memory whole. */
void srv_http_respond_fd(srv_http_req *r, int status, const char *ctype,
                         int fd, size_t len);
/* Answer a JSON value (stolen). */
void srv_http_json(srv_http_req *r, int status, json_t *v);
/* Answer {"error":code,"message":message} with 'status'. */
void srv_http_error(srv_http_req *r, int status, const char *code,
                    const char *message);
/* 1 when r's method is one of 'allow' (a string literal such as
 * "GET, HEAD, POST"); otherwise answers 405 method_not_allowed with that
 * Allow header and returns 0. */
int srv_http_method_ok(srv_http_req *r, const char *allow);
/* For an async handler: the request is waiting for a task. The task keeps
 * 'r' and checks r->wsi (NULL: gone) before answering; the last of the
 * connection and the task frees it with srv_http_release(). */
void srv_http_hold(srv_http_req *r);
void srv_http_release(srv_http_req *r);

/* Route /api/... and /metrics (api.c). Returns 1 when it handled (or
 * started) the answer, 0 when the path is not an API path. */
int srv__api_dispatch(srv_http_req *r);

/* Route /api/docs/D/{history,sessions,export,restore,fork} (history_api.c).
 * 'rest' is the path after D ("/history"...). Returns 1 when it answered
 * (or started answering), 0 when the path is not one of these. */
int srv__history_dispatch(srv_http_req *r, const char *doc, const char *rest);

#endif
