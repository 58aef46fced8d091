/* task.c -- the plumbing every API route's job shares: the job header
 * (srv_api_task), the rights check and build() on a pool thread, the
 * answer back on the lws thread, and the answer-setting helpers.
 *
 * Invariant: a started job holds its request (srv_http_hold) until
 * srv__api_answer, which answers exactly once (dropped by http_req.c when
 * the client has gone) and frees the job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "server/api/api.h"

void *srv__api_task_new(const srv_api_call *c, size_t size,
                        int (*build)(store *st, srv_api_task *t))
{
    srv_api_task *t = calloc(1, size);
    if (!t) {
        srv_http_error(c->r, 500, "server_error", "out of memory");
        return NULL;
    }
    t->env = c->env;
    t->r = c->r;
    t->need = c->need;
    t->build = build;
    t->fd = -1;
    snprintf(t->doc, sizeof t->doc, "%s", c->doc);
    return t;
}

void srv__api_task_free(srv_api_task *t)
{
    if (!t) return;
    if (t->clear) t->clear(t);
    if (t->fd >= 0) close(t->fd);
    free(t->body);
    free(t);
}

int srv__api_json(srv_api_task *t, int status, json_t *v, int rc)
{
    free(t->body);
    t->status = status;
    t->ctype = "application/json";
    t->body = v ? json_dumps(v, JSON_COMPACT | t->json_flags) : NULL;
    t->len = t->body ? strlen(t->body) : 0;
    json_decref(v);
    return rc;
}

int srv__api_error(srv_api_task *t, int status, const char *code,
                   const char *message, int rc)
{
    return srv__api_json(t, status, json_pack("{s:s,s:s}", "error", code,
                                              "message", message), rc);
}

int srv__api_storage_error(srv_api_task *t, int rc)
{
    if (rc == STORE_ENOTFOUND)
        return srv__api_error(t, 404, "not_found", "no such document", rc);
    if (rc == STORE_ERANGE)
        return srv__api_error(t, 404, "no_version",
                              "the document has no such version", rc);
    return srv__api_error(t, 500, "server_error", store_strerror(rc), rc);
}

/* Pool thread: who asks, may they (the route's role), is the document
 * out of the trash (a trashed one is 404 on every document route, open
 * mode included), then build(). */
static int run(store *st, store_task *base)
{
    srv_api_task *t = (srv_api_task *)base;
    int status = 0;
    const char *code = NULL;
    if (srv_auth_http(st, t->r->token, srv_http_arg(t->r, "share"),
                      t->doc[0] ? t->doc : NULL, t->need, &t->who, &t->role,
                      &status, &code) < 0)
        return srv__api_error(t, status, code,
                              status == 401 ? "log in first (or use a share link)"
                              : status == 403 ? "you do not have access to this"
                              : status == 404 ? "no such document"
                                              : "server error", -1);
    int64_t trashed = 0;
    if (t->doc[0] && t->need >= SRV_NEED_VIEWER && t->need <= SRV_NEED_OWNER &&
        store_doc_trashed(st, t->doc, &trashed) == 0 && trashed)
        return srv__api_error(t, 404, "not_found", "no such document", -1);
    return t->build(st, t);
}

void srv__api_answer(srv_api_task *t)
{
    srv_http_req *r = t->r;
    if (r->wsi && t->etag[0])
        snprintf(r->etag, sizeof r->etag, "%s", t->etag);
    if (t->fd >= 0) {
        if (r->wsi)
            snprintf(r->disposition, sizeof r->disposition, "%s",
                     t->disposition);
        srv_http_respond_fd(r, t->status, t->ctype, t->fd, t->len);
        t->fd = -1;
    } else if (!t->body && t->status != 204) {
        srv_http_error(r, 500, "server_error", "out of memory");
    } else {
        srv_http_respond(r, t->status, t->ctype, t->body, t->len);
        t->body = NULL;
    }
    srv_http_release(r);
    srv__api_task_free(t);
}

/* Lws thread: the pool is done with the job. */
static void done(srv_task *base)
{
    srv_api_task *t = (srv_api_task *)base;
    if (t->finish && t->finish(t)) return;
    srv__api_answer(t);
}

int srv__api_submit(srv_api_task *t, int auth)
{
    t->t.base.run = run;
    t->t.done = done;
    srv_http_hold(t->r);
    int rc = auth ? t->env->submit_auth(&t->t)
                  : store_pool_submit(t->env->pool, &t->t.base);
    if (rc < 0) srv_http_release(t->r); /* not held after all */
    return rc;
}

void srv__api_start(srv_api_task *t)
{
    if (srv__api_submit(t, 0) < 0) {
        srv_http_error(t->r, 503, "unavailable", "server is stopping");
        srv__api_task_free(t);
    }
}

void srv__api_random_id(char *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 12; i++) out[i] = alphabet[randombytes_uniform(36)];
    out[12] = 0;
}

json_t *srv__api_body(srv_http_req *r, size_t flags)
{
    json_error_t jerr;
    json_t *b = r->body_len ? json_loadb(r->body, r->body_len,
                                         JSON_REJECT_DUPLICATES | flags, &jerr)
                            : json_object();
    if (!json_is_object(b)) {
        json_decref(b);
        srv_http_error(r, 400, "bad_request", "body must be a JSON object");
        return NULL;
    }
    return b;
}
