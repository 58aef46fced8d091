/* routes.c -- the API's one route table, and the dispatch that reads it.
 *
 * Each row is {method, path pattern, role needed, handler}; a pattern's
 * ":doc" segment matches one document id. A request whose path matches
 * rows but none of its method is answered 405 with an Allow header made
 * from those rows; a path under /api/ that matches no row is 404; an id
 * that cannot be a document's is 400 bad_doc_id before any of that.
 * GET rows answer HEAD too. Handlers run on the lws thread (api.h). */
#include <stdio.h>
#include <string.h>

#include "server/api/api.h"

typedef struct api_route {
    int method;                   /* SRV_GET (and HEAD), SRV_POST... */
    const char *pattern;
    int need;                     /* SRV_NEED_*, checked on the pool */
    srv_api_handler handler;
} api_route;

static const api_route routes[] = {
    {SRV_GET, "/api/docs", SRV_NEED_LOGIN, srv__api_docs_list},
    {SRV_POST, "/api/docs", SRV_NEED_LOGIN, srv__api_docs_create},
    {SRV_POST, "/api/login", SRV_NEED_PUBLIC, srv__api_login},
    {SRV_POST, "/api/logout", SRV_NEED_LOGIN, srv__api_logout},
    {SRV_GET, "/api/me", SRV_NEED_PUBLIC, srv__api_me},
    {SRV_GET, "/api/users", SRV_NEED_LOGIN, srv__api_users},
    {SRV_GET, "/metrics", SRV_NEED_PUBLIC, srv__api_metrics},
    {SRV_GET, "/readyz", SRV_NEED_PUBLIC, srv__api_ready},
    {SRV_GET, "/api/docs/:doc", SRV_NEED_VIEWER, srv__api_doc_get},
    {SRV_PATCH, "/api/docs/:doc", SRV_NEED_EDITOR, srv__api_doc_rename},
    {SRV_DELETE, "/api/docs/:doc", SRV_NEED_OWNER, srv__api_doc_trash},
    {SRV_GET, "/api/docs/:doc/text", SRV_NEED_VIEWER, srv__api_doc_text},
    /* PUT may create the document: writes.c checks the role itself */
    {SRV_PUT, "/api/docs/:doc/text", SRV_NEED_LOGIN, srv__api_doc_put_text},
    {SRV_POST, "/api/docs/:doc/ops", SRV_NEED_EDITOR, srv__api_doc_ops},
    {SRV_POST, "/api/docs/:doc/append", SRV_NEED_EDITOR, srv__api_doc_append},
    {SRV_GET, "/api/docs/:doc/roles", SRV_NEED_OWNER, srv__api_roles},
    {SRV_PUT, "/api/docs/:doc/roles", SRV_NEED_OWNER, srv__api_roles},
    {SRV_POST, "/api/docs/:doc/share", SRV_NEED_OWNER, srv__api_share},
    {SRV_POST, "/api/docs/:doc/share/revoke", SRV_NEED_OWNER,
     srv__api_share_revoke},
    {SRV_GET, "/api/docs/:doc/history", SRV_NEED_VIEWER, srv__api_history},
    {SRV_GET, "/api/docs/:doc/sessions", SRV_NEED_VIEWER, srv__api_sessions},
    {SRV_GET, "/api/docs/:doc/export", SRV_NEED_VIEWER, srv__api_export},
    {SRV_POST, "/api/docs/:doc/restore", SRV_NEED_EDITOR, srv__api_restore},
    {SRV_POST, "/api/docs/:doc/fork", SRV_NEED_VIEWER, srv__api_fork},
    /* a trashed document has no role to check before: trash.c checks */
    {SRV_GET, "/api/search", SRV_NEED_LOGIN, srv__api_search},
    {SRV_GET, "/api/trash", SRV_NEED_LOGIN, srv__api_trash_list},
    {SRV_POST, "/api/trash/:doc/restore", SRV_NEED_LOGIN,
     srv__api_trash_restore},
    {SRV_DELETE, "/api/trash/:doc", SRV_NEED_LOGIN, srv__api_trash_purge},
};
#define NROUTES (sizeof routes / sizeof routes[0])

#define DOCS_PREFIX "/api/docs/"
#define TRASH_PREFIX "/api/trash/"

/* Does 'path' match 'pattern'? 1 with the :doc segment (if any) in
 * doc[65] (it may still be no valid id: see doc_segment), else 0. */
static int match(const char *pattern, const char *path, char *doc)
{
    while (*pattern) {
        if (strncmp(pattern, ":doc", 4) == 0) {
            size_t n = strcspn(path, "/");
            if (n == 0 || n > 64) return 0;
            memcpy(doc, path, n);
            doc[n] = 0;
            pattern += 4;
            path += n;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return *path == 0;
}

/* The first segment after /api/docs/ or /api/trash/: 1 when there is none to check, or
 * it is a valid document id; 0 when it cannot be one (a 400). */
static int doc_segment_ok(const char *path)
{
    char doc[65];
    if (strncmp(path, DOCS_PREFIX, strlen(DOCS_PREFIX)) == 0)
        path += strlen(DOCS_PREFIX);
    else if (strncmp(path, TRASH_PREFIX, strlen(TRASH_PREFIX)) == 0)
        path += strlen(TRASH_PREFIX);
    else
        return 1;
    size_t n = strcspn(path, "/");
    if (n == 0 || n >= sizeof doc) return 0;
    memcpy(doc, path, n);
    doc[n] = 0;
    return srv_valid_doc_id(doc);
}

/* Does row 'rt' take method 'm'? GET rows take HEAD. */
static int takes(const api_route *rt, int m)
{
    return rt->method == m || (rt->method == SRV_GET && m == SRV_HEAD);
}

/* The Allow value of the methods in 'mask' (bits 1 << SRV_*), in the
 * order GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS. */
static void allow_of(unsigned mask, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = 0;
    for (int m = SRV_GET; m <= SRV_OPTIONS; m++)
        if (mask & (1u << m))
            n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ", " : "",
                                  srv_http_method_name(m));
}

int srv__api_dispatch(const srv_api_env *env, srv_http_req *r)
{
    char doc[65] = "", allow[64];
    unsigned mask = 0;
    int api = strncmp(r->path, "/api/", 5) == 0;
    if (api && !doc_segment_ok(r->path)) {
        srv_http_error(r, 400, "bad_doc_id",
                       "doc ids are 1-64 of A-Za-z0-9_.- not starting with '.'");
        return 1;
    }
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match(routes[i].pattern, r->path, doc)) continue;
        if (takes(&routes[i], r->method)) {
            srv_api_call c = {env, r, routes[i].need, doc};
            routes[i].handler(&c);
            return 1;
        }
        mask |= 1u << routes[i].method;
        if (routes[i].method == SRV_GET) mask |= 1u << SRV_HEAD;
    }
    if (mask) {
        allow_of(mask, allow, sizeof allow);
        srv_http_not_allowed(r, allow);
        return 1;
    }
    if (!api) return 0;
    srv_http_error(r, 404, "not_found", "no such API route");
    return 1;
}

int srv_api_route(void *env, srv_http_req *r)
{
    return srv__api_dispatch(env, r);
}
