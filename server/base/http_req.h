/* http_req.h -- one HTTP exchange as data: the request net read and the
 * answer a handler gives. It is the contract between server/net (which
 * fills requests from lws and writes answers out) and server/api (whose
 * routes answer them); it sits in base so that the two never include each
 * other. Nothing here calls lws: an answer is stored in the request and
 * its 'writable' hook (set by net; NULL in tests) asks for it to be sent.
 *
 * Invariant: an answer is given once (later ones are dropped), and its
 * body and length agree: resp is NULL only with resp_len 0. */
#ifndef CHORUS_SERVER_BASE_HTTP_REQ_H
#define CHORUS_SERVER_BASE_HTTP_REQ_H

#include <jansson.h>
#include <stddef.h>

struct lws;

enum { SRV_GET = 1, SRV_HEAD, SRV_POST, SRV_PUT, SRV_DELETE, SRV_PATCH,
       SRV_OPTIONS };

#define SRV_HTTP_MAX_ARGS 8
#define SRV_HTTP_MAX_BODY (1024 * 1024)
#define SRV_HTTP_TEXT "text/plain; charset=utf-8"

typedef struct srv_http_req srv_http_req;
struct srv_http_req {
    struct lws *wsi;          /* NULL once the connection closed */
    /* every request alive, on the list whose head is *live (net's) */
    srv_http_req *live_prev, *live_next, **live;
    /* ask the transport to send the answer (net); NULL: nobody to ask */
    void (*writable)(srv_http_req *r);
    int method;               /* SRV_GET... */
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
    char *resp;               /* owned; NULL only with resp_len 0 */
    int resp_fd;              /* or the body comes from this file (owned), -1 */
    size_t resp_len, resp_sent;
    char disposition[256];    /* Content-Disposition, or empty */
    char set_cookie[256];     /* Set-Cookie, or empty */
    char allow[64];           /* Allow ("GET, HEAD"), or empty */
    int responded, headers_sent;
    int refs;                 /* the connection, and a pending task */
};

/* The value of query argument 'name', or NULL. Borrowed from 'r'. */
const char *srv_http_arg(const srv_http_req *r, const char *name);
/* Answer 'status' with 'body' (taken: freed with the request; NULL only
 * with len 0) and content type 'ctype' (a static string). A second
 * answer, or one to a request whose client has gone, is dropped (body
 * freed). */
void srv_http_respond(srv_http_req *r, int status, const char *ctype,
                      char *body, size_t len);
/* Answer the fixed text 'text' (copied) as SRV_HTTP_TEXT. Without memory
 * for the copy the answer is 'status' with an empty body. */
void srv_http_text(srv_http_req *r, int status, const char *text);
/* Answer 'len' bytes read from 'fd' (taken: closed with the request),
 * sent in chunks as the client reads them, so a large body (an export)
 * never sits in memory whole. */
void srv_http_respond_fd(srv_http_req *r, int status, const char *ctype,
                         int fd, size_t len);
/* Answer a JSON value (stolen; NULL: out of memory, answered 500 as
 * text), one compact line ending in '\n'. */
void srv_http_json(srv_http_req *r, int status, json_t *v);
/* Answer {"error":code,"message":message} with 'status'. */
void srv_http_error(srv_http_req *r, int status, const char *code,
                    const char *message);
/* Answer 405 method_not_allowed, 'allow' ("GET, HEAD") in the Allow
 * header and in the message. */
void srv_http_not_allowed(srv_http_req *r, const char *allow);
/* "GET", "HEAD"... for SRV_GET...; "" for anything else. */
const char *srv_http_method_name(int method);
/* A handler that answers later (from a pool task) holds the request: the
 * task keeps 'r' and checks r->wsi (NULL: gone) before answering; the
 * last of the connection and the task frees it with srv_http_release(),
 * which accepts NULL. */
void srv_http_hold(srv_http_req *r);
void srv_http_release(srv_http_req *r);
/* Free 'r' now, whatever its references (shutdown). */
void srv_http_free(srv_http_req *r);

#endif
