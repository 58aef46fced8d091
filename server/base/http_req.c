/* http_req.c -- answers stored in a request (http_req.h): what a handler
 * of server/api or server/net says, kept until net writes it out. No lws
 * here; the request's 'writable' hook asks for the write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/base/base.h"

const char *srv_http_arg(const srv_http_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nargs; i++)
        if (strncmp(r->args[i], name, n) == 0 && r->args[i][n] == '=')
            return r->args[i] + n + 1;
    return NULL;
}

void srv_http_hold(srv_http_req *r)
{
    r->refs++;
}

void srv_http_free(srv_http_req *r)
{
    if (r->live_prev) r->live_prev->live_next = r->live_next;
    else if (r->live) *r->live = r->live_next;
    if (r->live_next) r->live_next->live_prev = r->live_prev;
    if (r->resp_fd >= 0) close(r->resp_fd);
    free(r->body);
    free(r->resp);
    free(r);
}

void srv_http_release(srv_http_req *r)
{
    if (!r || --r->refs > 0) return;
    srv_http_free(r);
}

/* Take the answer, or say no (then the caller frees what it brought). */
static int take(srv_http_req *r, int status, const char *ctype)
{
    if (!r->wsi || r->responded) return 0;
    r->status = status;
    r->ctype = ctype;
    r->responded = 1;
    return 1;
}

void srv_http_respond(srv_http_req *r, int status, const char *ctype,
                      char *body, size_t len)
{
    if (!take(r, status, ctype)) {
        free(body);
        return;
    }
    r->resp = body;
    r->resp_len = body ? len : 0;
    if (r->writable) r->writable(r);
}

void srv_http_text(srv_http_req *r, int status, const char *text)
{
    char *body = strdup(text);
    srv_http_respond(r, status, SRV_HTTP_TEXT, body, body ? strlen(body) : 0);
}

void srv_http_respond_fd(srv_http_req *r, int status, const char *ctype,
                         int fd, size_t len)
{
    if (!take(r, status, ctype)) {
        close(fd);
        return;
    }
    r->resp_fd = fd;
    r->resp_len = len;
    if (r->writable) r->writable(r);
}

void srv_http_json(srv_http_req *r, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) {
        srv_http_text(r, 500, "out of memory\n");
        return;
    }
    size_t n = strlen(s);
    char *body = realloc(s, n + 2);
    if (body) {
        body[n++] = '\n';
        body[n] = 0;
    } else {
        body = s;
    }
    srv_http_respond(r, status, "application/json", body, n);
}

void srv_http_error(srv_http_req *r, int status, const char *code,
                    const char *message)
{
    srv_http_json(r, status,
                  json_pack("{s:s,s:s}", "error", code, "message", message));
}

const char *srv_http_method_name(int m)
{
    static const char *names[] = {"", "GET", "HEAD", "POST", "PUT", "DELETE",
                                  "PATCH", "OPTIONS"};
    return m > 0 && m <= SRV_OPTIONS ? names[m] : "";
}

void srv_http_not_allowed(srv_http_req *r, const char *allow)
{
    char msg[96];
    snprintf(msg, sizeof msg, "method not allowed here: use %s", allow);
    snprintf(r->allow, sizeof r->allow, "%s", allow);
    srv_http_error(r, 405, "method_not_allowed", msg);
}
