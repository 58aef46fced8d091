/* api.c -- the HTTP JSON API and /metrics.
 *
 *   GET  /api/docs                      [{id,title,version,updated,created}]
 *   POST /api/docs {"id"?,"title"?}     201 doc | 400 bad id | 409 taken
 *   GET  /api/docs/D                    doc | 404
 *   GET  /api/docs/D/text[?version=N]   text/plain | 400 | 404
 *   GET  /metrics                       Prometheus text
 *
 * Every database read runs on the reader pool (a task builds the whole
 * response there); the lws thread only routes and sends. See docs/http.md. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/auth/auth.h"
#include "server/core.h"
#include "server/http.h"
#include "server/history.h"
#include "server/base/base.h"

typedef struct api_task api_task;
struct api_task {
    srv_task t;
    srv_http_req *r;
    int (*build)(store *st, api_task *a);
    char doc[65];
    char *title;
    char creator[65];
    int has_version;
    int64_t version;
    /* who asks, and what the route needs (team mode) */
    int need;                     /* SRV_NEED_* */
    srv_identity who;
    int role;
    /* login, roles and share links */
    char name[65];
    char *password;
    char token[SRV_TOKEN_CHARS + 1];
    int target_role;
    int64_t expires_in;
    int login_ok;
    uint64_t login_begun;         /* when its slot was taken (auth.h) */
    /* the response, built on the pool thread */
    int status;
    const char *ctype;
    char *body;
    size_t len;
};

static void set_json(api_task *a, int status, json_t *v)
{
    a->status = status;
    a->ctype = "application/json";
    a->body = v ? json_dumps(v, JSON_COMPACT) : NULL;
    a->len = a->body ? strlen(a->body) : 0;
    json_decref(v);
}

static void set_error(api_task *a, int status, const char *code,
                      const char *message)
{
    set_json(a, status, json_pack("{s:s,s:s}", "error", code, "message", message));
}

static json_t *doc_json(const store_docinfo *d)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:s}", "id", d->id, "title",
                     d->title ? d->title : "", "version", (json_int_t)d->version,
                     "updated", (json_int_t)d->updated_ms, "created",
                     (json_int_t)d->created_ms, "creator",
                     d->creator ? d->creator : "");
}

static int storage_error(api_task *a, int rc)
{
    if (rc == STORE_ENOTFOUND) set_error(a, 404, "not_found", "no such document");
    else set_error(a, 500, "server_error", store_strerror(rc));
    return rc;
}

static int build_list(store *st, api_task *a)
{
    store_docinfo *docs = NULL;
    size_t n = 0;
    int rc = store_doc_list(st, &docs, &n);
    if (rc < 0) return storage_error(a, rc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        int role = STORE_ROLE_OWNER;
        if (srv_auth_team() && !a->who.admin &&
            (store_role_get(st, docs[i].id, a->who.user_id, &role) < 0 ||
             role == STORE_ROLE_NONE))
            continue; /* only the documents this user may see */
        json_array_append_new(arr, doc_json(&docs[i]));
    }
    store_docinfo_free(docs, n);
    set_json(a, 200, arr);
    return 0;
}

static int build_get(store *st, api_task *a)
{
    store_docinfo d;
    memset(&d, 0, sizeof d);
    int rc = store_doc_get(st, a->doc, &d);
    if (rc < 0) return storage_error(a, rc);
    set_json(a, 200, doc_json(&d));
    store_docinfo_clear(&d);
    return 0;
}

static int build_create(store *st, api_task *a)
{
    int rc = store_doc_create(st, a->doc, a->title,
                              a->who.user_id ? a->who.name : a->creator,
                              (int64_t)srv_wall_ms());
    if (rc == STORE_EEXIST) {
        if (srv_auth_may_know(st, &a->who, a->doc))
            set_error(a, 409, "exists", "a document with that id exists");
        else /* taken, and no more said: see docs/http.md */
            set_error(a, 409, "id_unavailable", SRV_ID_UNAVAILABLE);
        return rc;
    }
    if (rc < 0) return storage_error(a, rc);
    if (a->who.user_id &&
        (rc = store_role_set(st, a->doc, a->who.user_id, STORE_ROLE_OWNER)) < 0)
        return storage_error(a, rc);
    rc = build_get(st, a);
    if (rc == 0) a->status = 201;
    return rc;
}

static int build_text(store *st, api_task *a)
{
    char *text = NULL;
    size_t bytes = 0;
    int64_t v = 0;
    int rc = a->has_version ? store_text_at(st, a->doc, a->version, &text, &bytes)
                            : store_load(st, a->doc, &text, &bytes, &v);
    if (rc == STORE_ERANGE) {
        set_error(a, 404, "no_version", "the document has no such version");
        return rc;
    }
    if (rc < 0) return storage_error(a, rc);
    a->status = 200;
    a->ctype = "text/plain; charset=utf-8";
    a->body = text;
    a->len = bytes;
    return 0;
}


/* ---- team mode: login, logout, me, users, roles, share links */

static const char *role_name(int role)
{
    static const char *names[] = {"none", "viewer", "editor", "owner"};
    return role >= 0 && role <= 3 ? names[role] : "none";
}

static int role_parse(const char *s)
{
    for (int r = 0; r <= 3; r++)
        if (strcmp(s, role_name(r)) == 0) return r;
    return -1;
}

static json_t *user_json_of(const store_user *u)
{
    return json_pack("{s:s,s:b}", "name", u->name, "admin", u->admin);
}

/* A hash nobody's password matches, so an unknown name costs as much time
 * as a wrong password (no user enumeration by timing). */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void make_dummy(void)
{
    srv_auth_hash_password("not a password: chorus dummy", dummy_hash,
                           sizeof dummy_hash);
}

static int build_login(store *st, api_task *a)
{
    store_user u;
    char *hash = NULL;
    int rehash = 0;
    unsigned char th[SRV_TOKEN_HASH];
    pthread_once(&dummy_once, make_dummy);
    int rc = store_user_get(st, a->name, &u, &hash);
    if (rc < 0 && rc != STORE_ENOTFOUND) return storage_error(a, rc);
    int ok = srv_auth_check_password(a->password, rc == 0 ? hash : dummy_hash,
                                     &rehash) && rc == 0;
    if (!ok) {
        free(hash);
        if (rc == 0) store_user_clear(&u);
        set_error(a, 401, "bad_login", "wrong name or password");
        return -1;
    }
    int64_t now = (int64_t)srv_wall_ms();
    srv_auth_new_token(a->token, th);
    rc = store_token_put(st, th, sizeof th, u.id, "session", now, now + SRV_SESSION_MS);
    if (rc == 0 && rehash) {
        char fresh[crypto_pwhash_STRBYTES];
        if (srv_auth_hash_password(a->password, fresh, sizeof fresh) == 0)
            store_user_set_password(st, u.name, fresh);
    }
    if (rc < 0) {
        free(hash);
        store_user_clear(&u);
        return storage_error(a, rc);
    }
    a->login_ok = 1;
    set_json(a, 200, json_pack("{s:o,s:s,s:I}", "user", user_json_of(&u), "token",
                               a->token, "expires",
                               (json_int_t)(now + SRV_SESSION_MS)));
    free(hash);
    store_user_clear(&u);
    return 0;
}

static int build_logout(store *st, api_task *a)
{
    unsigned char th[SRV_TOKEN_HASH];
    srv_auth_token_hash(a->r->token, th);
    int rc = store_token_delete(st, th, sizeof th);
    if (rc < 0 && rc != STORE_ENOTFOUND) return storage_error(a, rc);
    set_json(a, 200, json_pack("{s:b}", "ok", 1));
    return 0;
}

static int build_me(store *st, api_task *a)
{
    srv_identity who;
    json_t *user = json_null();
    if (srv_auth_team() && a->r->token[0] &&
        srv_auth_resolve(st, a->r->token, &who) == 0)
        user = json_pack("{s:s,s:b}", "name", who.name, "admin", who.admin);
    set_json(a, 200, json_pack("{s:s,s:o}", "mode",
                               srv_auth_team() ? "team" : "open", "user", user));
    return 0;
}

static int build_users(store *st, api_task *a)
{
    store_user *us = NULL;
    size_t n = 0;
    int rc = store_user_list(st, &us, &n);
    if (rc < 0) return storage_error(a, rc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) json_array_append_new(arr, user_json_of(&us[i]));
    store_users_free(us, n);
    set_json(a, 200, arr);
    return 0;
}

static int build_roles(store *st, api_task *a)
{
    store_user *us = NULL;
    int *roles = NULL;
    size_t n = 0;
    int64_t epoch = 0;
    int rc;
    if (a->name[0]) { /* PUT: give or take a role first */
        store_user u;
        if ((rc = store_user_get(st, a->name, &u, NULL)) < 0) {
            if (rc == STORE_ENOTFOUND) {
                set_error(a, 404, "no_user", "no such user");
                return rc;
            }
            return storage_error(a, rc);
        }
        rc = store_role_set(st, a->doc, u.id, a->target_role);
        store_user_clear(&u);
        if (rc < 0) return storage_error(a, rc);
    }
    if ((rc = store_role_list(st, a->doc, &us, &roles, &n)) < 0 ||
        (rc = store_share_epoch(st, a->doc, &epoch)) < 0) {
        store_users_free(us, n);
        free(roles);
        return storage_error(a, rc);
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}", "user", us[i].name,
                                             "role", role_name(roles[i])));
    store_users_free(us, n);
    free(roles);
    set_json(a, 200, json_pack("{s:o,s:I}", "roles", arr, "share_epoch",
                               (json_int_t)epoch));
    return 0;
}

static int build_share(store *st, api_task *a)
{
    int64_t epoch = 0;
    char token[400], url[600];
    int rc = store_share_epoch(st, a->doc, &epoch);
    if (rc < 0) return storage_error(a, rc);
    int64_t expires = (int64_t)srv_wall_ms() + a->expires_in * 1000;
    if (srv_share_make(a->doc, a->target_role, expires, epoch, token, sizeof token) < 0) {
        set_error(a, 500, "server_error", "cannot make the link");
        return -1;
    }
    snprintf(url, sizeof url, "/d/%s?share=%s", a->doc, token);
    set_json(a, 200, json_pack("{s:s,s:s,s:s,s:I}", "token", token, "url", url,
                               "role", role_name(a->target_role), "expires",
                               (json_int_t)expires));
    return 0;
}

static int build_revoke(store *st, api_task *a)
{
    int64_t epoch = 0;
    int rc = store_share_rotate(st, a->doc, &epoch);
    if (rc < 0) return storage_error(a, rc);
    set_json(a, 200, json_pack("{s:I}", "share_epoch", (json_int_t)epoch));
    return 0;
}

static int run_task(store *st, store_task *t)
{
    api_task *a = (api_task *)t;
    int status = 0;
    const char *code = NULL;
    if (srv_auth_http(st, a->r->token, srv_http_arg(a->r, "share"),
                      a->doc[0] ? a->doc : NULL, a->need, &a->who, &a->role,
                      &status, &code) < 0) {
        set_error(a, status, code,
                  status == 401 ? "log in first (or use a share link)"
                  : status == 403 ? "you do not have access to this"
                  : status == 404 ? "no such document" : "server error");
        return -1;
    }
    return a->build(st, a);
}

static void api_task_free(api_task *a)
{
    free(a->title);
    if (a->password) {
        sodium_memzero(a->password, strlen(a->password));
        free(a->password);
    }
    sodium_memzero(a->token, sizeof a->token);
    free(a);
}

static void task_done(srv_task *t)
{
    api_task *a = (api_task *)t;
    if (a->build == build_login) {
        if (a->login_ok) {
            srv_login_succeeded(a->name, a->r->ip, a->login_begun);
            snprintf(a->r->set_cookie, sizeof a->r->set_cookie,
                     SRV_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
                     a->token, (long long)(SRV_SESSION_MS / 1000),
                     srv__g.tls ? "; Secure" : "");
        } else if (a->status != 401) { /* a wrong password keeps its slot */
            srv_login_release(a->name, a->r->ip, a->login_begun);
        }
    } else if (a->build == build_logout && a->status == 200) {
        snprintf(a->r->set_cookie, sizeof a->r->set_cookie,
                 SRV_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 srv__g.tls ? "; Secure" : "");
    }
    if (a->status == 200 && (a->build == build_logout || a->build == build_revoke ||
                             (a->build == build_roles && a->name[0])))
        srv_rights_changed(); /* open sockets lose what was taken (rights.c) */
    if (!a->body && a->status != 204) {
        srv_http_respond(a->r, 500, "text/plain; charset=utf-8",
                         strdup("out of memory\n"), 14);
    } else {
        srv_http_respond(a->r, a->status, a->ctype, a->body, a->len);
        a->body = NULL;
    }
    srv_http_release(a->r);
    api_task_free(a);
}

static void start(srv_http_req *r, api_task *a)
{
    a->r = r;
    a->t.base.run = run_task;
    a->t.done = task_done;
    srv_http_hold(r);
    if (srv_task_submit(&a->t) < 0) {
        srv_http_release(r);
        api_task_free(a);
        srv_http_error(r, 503, "unavailable", "server is stopping");
    }
}

/* A new random id: 12 characters of [a-z0-9]. */
static void random_id(char *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 12; i++) out[i] = alphabet[randombytes_uniform(36)];
    out[12] = 0;
}

/* A control character in the (valid UTF-8) s[0..n): U+0000-U+001F,
 * U+007F-U+009F (C1, encoded C2 80 to C2 9F)? */
static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f ||
            (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f))
            return 1;
    }
    return 0;
}

const char *srv_title_problem(const json_t *v)
{
    size_t cps = 0;
    if (!json_is_string(v) ||
        ot_utf8_validate(json_string_value(v), json_string_length(v), &cps) ||
        cps > 200)
        return "title must be a string of at most 200 characters";
    if (has_control(json_string_value(v), json_string_length(v)))
        return "title must not contain control characters "
               "(U+0000-U+001F, U+007F-U+009F: no line breaks or tabs)";
    return NULL;
}

int srv_json_doc_id(const json_t *v)
{
    return json_is_string(v) &&
           strlen(json_string_value(v)) == json_string_length(v) &&
           srv_valid_doc_id(json_string_value(v));
}

static void post_docs(srv_http_req *r, api_task *a)
{
    json_error_t jerr;
    /* U+0000 parses, so that a title holding it is refused for what it is */
    json_t *b = r->body_len ? json_loadb(r->body, r->body_len,
                                         JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                                         &jerr)
                            : json_object();
    json_t *id = json_object_get(b, "id"), *title = json_object_get(b, "title");
    const char *err = NULL;
    if (!json_is_object(b)) err = "body must be a JSON object";
    else if (id && !srv_json_doc_id(id))
        err = "bad id: 1-64 of A-Za-z0-9_.- not starting with '.'";
    else if (title)
        err = srv_title_problem(title);
    if (err) {
        json_decref(b);
        api_task_free(a);
        srv_http_error(r, 400, "bad_request", err);
        return;
    }
    a->need = SRV_NEED_LOGIN;
    if (id) snprintf(a->doc, sizeof a->doc, "%s", json_string_value(id));
    else random_id(a->doc);
    a->title = strdup(title ? json_string_value(title) : "");
    json_decref(b);
    a->build = build_create;
    start(r, a);
}

/* /api/docs/D[/text]: 1 with a->doc set and *rest the part after D. */
static int doc_path(srv_http_req *r, api_task *a, const char **rest)
{
    const char *p = r->path + strlen("/api/docs/");
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof a->doc) return 0;
    memcpy(a->doc, p, n);
    a->doc[n] = 0;
    *rest = slash ? slash : "";
    return srv_valid_doc_id(a->doc);
}

static void metrics(srv_http_req *r);

/* The JSON object body of a request, or NULL after answering 400. */
static json_t *body_object(srv_http_req *r)
{
    json_error_t jerr;
    json_t *b = r->body_len ? json_loadb(r->body, r->body_len,
                                         JSON_REJECT_DUPLICATES, &jerr)
                            : json_object();
    if (!json_is_object(b)) {
        json_decref(b);
        srv_http_error(r, 400, "bad_request", "body must be a JSON object");
        return NULL;
    }
    return b;
}

/* POST /api/login {"name","password"} on the password pool, rate limited. */
static void post_login(srv_http_req *r, api_task *a)
{
    json_t *b = body_object(r);
    if (!b) {
        api_task_free(a);
        return;
    }
    json_t *n = json_object_get(b, "name"), *p = json_object_get(b, "password");
    if (!json_is_string(n) || !json_is_string(p) || json_string_length(n) == 0 ||
        json_string_length(n) > 64 || json_string_length(p) > 1024) {
        json_decref(b);
        api_task_free(a);
        srv_http_error(r, 400, "bad_request", "send {\"name\":..,\"password\":..}");
        return;
    }
    snprintf(a->name, sizeof a->name, "%s", json_string_value(n));
    a->password = strdup(json_string_value(p));
    json_decref(b);
    if (!srv_auth_team()) {
        api_task_free(a);
        srv_http_error(r, 400, "open_mode", "this server has no accounts (open mode)");
        return;
    }
    a->login_begun = srv_mono_ms();
    if (!srv_login_begin(a->name, r->ip, a->login_begun)) {
        api_task_free(a);
        srv_http_error(r, 429, "too_many_attempts",
                       "too many failed logins: wait 15 minutes");
        return;
    }
    a->r = r;
    a->need = SRV_NEED_PUBLIC;
    a->build = build_login;
    a->t.base.run = run_task;
    a->t.done = task_done;
    srv_http_hold(r);
    if (!a->password || srv_task_submit_auth(&a->t) < 0) {
        srv_login_release(a->name, r->ip, a->login_begun);
        srv_http_release(r);
        api_task_free(a);
        srv_http_error(r, 503, "busy", "too many logins at once: try again");
    }
}

/* PUT /api/docs/D/roles {"user","role"} and POST .../share {"role","expires_in"} */
static int parse_role_body(srv_http_req *r, api_task *a, int share)
{
    json_t *b = body_object(r);
    if (!b) return -1;
    json_t *u = json_object_get(b, "user"), *ro = json_object_get(b, "role");
    json_t *ex = json_object_get(b, "expires_in");
    int role = json_is_string(ro) ? role_parse(json_string_value(ro)) : -1;
    const char *err = NULL;
    if (share) {
        if (role != STORE_ROLE_VIEWER && role != STORE_ROLE_EDITOR)
            err = "role must be \"viewer\" or \"editor\"";
        else if (ex && (!json_is_integer(ex) || json_integer_value(ex) < 1 ||
                        json_integer_value(ex) > 366 * 86400))
            err = "expires_in is seconds, from 1 to a year";
        a->expires_in = ex ? json_integer_value(ex) : 7 * 86400;
    } else {
        if (!json_is_string(u) || json_string_length(u) == 0 ||
            json_string_length(u) > 64)
            err = "user must be a user name";
        else if (role < 0)
            err = "role must be viewer, editor, owner or none";
        else
            snprintf(a->name, sizeof a->name, "%s", json_string_value(u));
    }
    a->target_role = role;
    json_decref(b);
    if (err) srv_http_error(r, 400, "bad_request", err);
    return err ? -1 : 0;
}

/* The methods of each route (405 and its Allow header for the others). */
static const struct api_route {
    const char *path;       /* under /api/, or under /api/docs/D */
    const char *allow;
} top_routes[] = {
    {"/api/docs", "GET, HEAD, POST"}, {"/api/login", "POST"},
    {"/api/logout", "POST"}, {"/api/me", "GET, HEAD"},
    {"/api/users", "GET, HEAD"}, {"/metrics", "GET, HEAD"},
}, doc_routes[] = {
    {"", "GET, HEAD"}, {"/text", "GET, HEAD"}, {"/roles", "GET, HEAD, PUT"},
    {"/share", "POST"}, {"/share/revoke", "POST"},
};

/* 'path' in 'routes': 1 when r's method is allowed there, 0 after
 * answering 405; -1 when the path is not in the table. */
static int allowed(srv_http_req *r, const struct api_route *routes, size_t n,
                   const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(path, routes[i].path) == 0)
            return srv_http_method_ok(r, routes[i].allow);
    return -1;
}

/* The routes under /api/docs/D: 0 with a->build set, or 'rest' none of
 * them (a->build NULL); -1 after answering. */
static int doc_route(srv_http_req *r, api_task *a, const char *rest, int get)
{
    int post = r->method == SRV_POST;
    int ok = allowed(r, doc_routes, sizeof doc_routes / sizeof doc_routes[0],
                     rest);
    if (ok == 0) return -1;
    if (rest[0] == 0 && get) {
        a->need = SRV_NEED_VIEWER, a->build = build_get;
    } else if (strcmp(rest, "/text") == 0 && get) {
        const char *v = srv_http_arg(r, "version");
        char *end = NULL;
        if (v) {
            long long n = strtoll(v, &end, 10);
            if (!*v || *end || n < 0) {
                srv_http_error(r, 400, "bad_version", "version must be an integer >= 0");
                return -1;
            }
            a->has_version = 1;
            a->version = n;
        }
        a->need = SRV_NEED_VIEWER, a->build = build_text;
    } else if (strcmp(rest, "/roles") == 0 && (get || r->method == SRV_PUT)) {
        if (!get && parse_role_body(r, a, 0) < 0) return -1;
        a->need = SRV_NEED_OWNER, a->build = build_roles;
    } else if (strcmp(rest, "/share") == 0 && post) {
        if (parse_role_body(r, a, 1) < 0) return -1;
        a->need = SRV_NEED_OWNER, a->build = build_share;
    } else if (strcmp(rest, "/share/revoke") == 0 && post) {
        a->need = SRV_NEED_OWNER, a->build = build_revoke;
    }
    return 0;
}

int srv__api_dispatch(srv_http_req *r)
{
    const char *rest = "";
    int get = r->method == SRV_GET || r->method == SRV_HEAD;
    int post = r->method == SRV_POST;
    int ok = allowed(r, top_routes, sizeof top_routes / sizeof top_routes[0],
                     r->path);
    if (ok == 0) return 1;
    if (strcmp(r->path, "/metrics") == 0) {
        metrics(r);
        return 1;
    }
    if (strncmp(r->path, "/api/", 5) != 0) return 0;
    api_task *a = calloc(1, sizeof *a);
    if (!a) {
        srv_http_error(r, 500, "server_error", "out of memory");
        return 1;
    }
    if (strcmp(r->path, "/api/docs") == 0) {
        a->need = SRV_NEED_LOGIN;
        if (get) a->build = build_list;
        else if (post) {
            post_docs(r, a);
            return 1;
        }
    } else if (strcmp(r->path, "/api/login") == 0 && post) {
        post_login(r, a);
        return 1;
    } else if (strcmp(r->path, "/api/logout") == 0 && post) {
        a->need = SRV_NEED_LOGIN, a->build = build_logout;
    } else if (strcmp(r->path, "/api/me") == 0 && get) {
        a->need = SRV_NEED_PUBLIC, a->build = build_me;
    } else if (strcmp(r->path, "/api/users") == 0 && get) {
        a->need = SRV_NEED_LOGIN, a->build = build_users;
    } else if (strncmp(r->path, "/api/docs/", 10) == 0) {
        if (!doc_path(r, a, &rest)) {
            api_task_free(a);
            srv_http_error(r, 400, "bad_doc_id",
                           "doc ids are 1-64 of A-Za-z0-9_.- not starting with '.'");
            return 1;
        }
        if (srv__history_dispatch(r, a->doc, rest)) { /* history_api.c */
            api_task_free(a);
            return 1;
        }
        if (doc_route(r, a, rest, get) < 0) {
            api_task_free(a);
            return 1;
        }
    }
    if (!a->build) {
        api_task_free(a);
        srv_http_error(r, 404, "not_found", "no such API route");
        return 1;
    }
    start(r, a);
    return 1;
}

/* ---- /metrics: Prometheus text format */

static const double lat_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                    0.05, 0.1, 0.2, 0.5, 1, 2, 5};
#define NBOUNDS (sizeof lat_bounds / sizeof lat_bounds[0])

void srv__ack_latency(double seconds)
{
    srv_metrics *m = &srv__g.metrics;
    size_t i = 0;
    while (i < NBOUNDS && seconds > lat_bounds[i]) i++;
    m->ack_lat_buckets[i]++;
    m->ack_lat_count++;
    m->ack_lat_sum_s += seconds;
    m->acks++;
}

static void metrics(srv_http_req *r)
{
    srv_metrics *m = &srv__g.metrics;
    store_writer_stats ws;
    store_writer_stats_get(srv__g.writer, &ws);
    size_t cap = 8192, n = 0;
    char *b = malloc(cap);
    if (!b) {
        srv_http_error(r, 500, "server_error", "out of memory");
        return;
    }
#define P(...) n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__)
    P("# TYPE chorus_connections gauge\nchorus_connections %d\n", srv__g.nconns);
    P("# TYPE chorus_connections_total counter\nchorus_connections_total %" PRIu64 "\n",
      m->conns_total);
    P("# TYPE chorus_connections_closed_slow_total counter\n"
      "chorus_connections_closed_slow_total %" PRIu64 "\n", m->conns_closed_slow);
    P("# TYPE chorus_open_documents gauge\nchorus_open_documents %zu\n",
      srv_docs_count(srv__g.docs));
    P("# TYPE chorus_ops_committed_total counter\nchorus_ops_committed_total %" PRIu64 "\n",
      m->ops_committed);
    P("# TYPE chorus_commits_total counter\nchorus_commits_total %" PRIu64 "\n",
      ws.commits);
    P("# TYPE chorus_commit_failures_total counter\nchorus_commit_failures_total %" PRIu64 "\n",
      ws.failed_commits);
    P("# TYPE chorus_last_commit_batch gauge\nchorus_last_commit_batch %" PRIu64 "\n",
      ws.last_batch);
    P("# TYPE chorus_commit_seconds_total counter\nchorus_commit_seconds_total %.6f\n",
      (double)ws.commit_us / 1e6);
    P("# TYPE chorus_queue_bytes gauge\nchorus_queue_bytes %zu\n", srv__g.queued_bytes);
    P("# TYPE chorus_queue_bytes_peak gauge\nchorus_queue_bytes_peak %" PRIu64 "\n",
      m->bytes_queued_peak);
    P("# TYPE chorus_errors_sent_total counter\nchorus_errors_sent_total %" PRIu64 "\n",
      m->errors_sent);
    P("# TYPE chorus_ack_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < NBOUNDS; i++) {
        cum += m->ack_lat_buckets[i];
        P("chorus_ack_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", lat_bounds[i], cum);
    }
    P("chorus_ack_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", m->ack_lat_count);
    P("chorus_ack_latency_seconds_sum %.6f\n", m->ack_lat_sum_s);
    P("chorus_ack_latency_seconds_count %" PRIu64 "\n", m->ack_lat_count);
#undef P
    if (n >= cap) n = cap - 1;
    srv_http_respond(r, 200, "text/plain; version=0.0.4", b, n);
}
