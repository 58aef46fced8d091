/* accounts.c -- the team-mode routes of the API: login, logout, who am I,
 * users, a document's roles and its share links.
 *
 *   POST /api/login {"name","password"}  200 {user,token,expires} + cookie
 *   POST /api/logout                     200 {ok} + cookie cleared
 *   GET  /api/me                         {mode,user}
 *   GET  /api/users                      [{name,admin}]
 *   GET|PUT /api/docs/D/roles {"user","role"}   {roles,share_epoch}
 *   POST /api/docs/D/share {"role","expires_in"?}  {token,url,role,expires}
 *   POST /api/docs/D/share/revoke        {share_epoch}
 *
 * A login's password is checked on the password pool (slow by design,
 * kept apart from the reader pool) and rate limited (auth.h); a route
 * that takes a right away tells the open sockets (env->rights_changed). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/api/api.h"

typedef struct acct_job {
    srv_api_task t;                       /* first */
    char name[65];                        /* login; roles: the target user */
    char *password;
    char token[SRV_TOKEN_CHARS + 1];
    int target_role;
    int64_t expires_in;
    int login_ok;
    uint64_t login_begun;                 /* when its slot was taken (auth.h) */
} acct_job;

static void acct_clear(srv_api_task *t)
{
    acct_job *j = (acct_job *)t;
    if (j->password) {
        sodium_memzero(j->password, strlen(j->password));
        free(j->password);
    }
    sodium_memzero(j->token, sizeof j->token);
}

static acct_job *job_new(const srv_api_call *c,
                         int (*build)(store *, srv_api_task *))
{
    acct_job *j = srv__api_task_new(c, sizeof *j, build);
    if (j) j->t.clear = acct_clear;
    return j;
}

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

/* ---- login */

/* A hash nobody's password matches, so an unknown name costs as much time
 * as a wrong password (no user enumeration by timing). */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void make_dummy(void)
{
    srv_auth_hash_password("not a password: chorus dummy", dummy_hash,
                           sizeof dummy_hash);
}

/* The session's token, stored (by its hash) for user 'u'; a password
 * hashed with older parameters is hashed again. 0 or a STORE_E* code. */
static int login_token(store *st, acct_job *j, const store_user *u,
                       int rehash, int64_t now)
{
    unsigned char th[SRV_TOKEN_HASH];
    srv_auth_new_token(j->token, th);
    int rc = store_token_put(st, th, sizeof th, u->id, "session", now,
                             now + SRV_SESSION_MS);
    if (rc == 0 && rehash) {
        char fresh[crypto_pwhash_STRBYTES];
        if (srv_auth_hash_password(j->password, fresh, sizeof fresh) == 0)
            store_user_set_password(st, u->name, fresh);
    }
    return rc;
}

static int build_login(store *st, srv_api_task *t)
{
    acct_job *j = (acct_job *)t;
    store_user u;
    char *hash = NULL;
    int rehash = 0;
    pthread_once(&dummy_once, make_dummy);
    int rc = store_user_get(st, j->name, &u, &hash);
    if (rc < 0 && rc != STORE_ENOTFOUND) return srv__api_storage_error(t, rc);
    int ok = srv_auth_check_password(j->password, rc == 0 ? hash : dummy_hash,
                                     &rehash) && rc == 0;
    free(hash);
    if (!ok) {
        if (rc == 0) store_user_clear(&u);
        return srv__api_error(t, 401, "bad_login", "wrong name or password", -1);
    }
    int64_t now = (int64_t)srv_wall_ms();
    rc = login_token(st, j, &u, rehash, now);
    if (rc == 0) {
        j->login_ok = 1;
        srv__api_json(t, 200, json_pack("{s:o,s:s,s:I}", "user",
                                        user_json_of(&u), "token", j->token,
                                        "expires",
                                        (json_int_t)(now + SRV_SESSION_MS)), 0);
    }
    store_user_clear(&u);
    return rc < 0 ? srv__api_storage_error(t, rc) : 0;
}

/* Lws thread: the cookie, and the login's slot (auth.h). */
static int login_finish(srv_api_task *t)
{
    acct_job *j = (acct_job *)t;
    srv_http_req *r = t->r;
    if (j->login_ok) {
        srv_login_succeeded(j->name, r->ip, j->login_begun);
        snprintf(r->set_cookie, sizeof r->set_cookie,
                 SRV_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
                 j->token, (long long)(SRV_SESSION_MS / 1000),
                 t->env->tls ? "; Secure" : "");
    } else if (t->status != 401) { /* a wrong password keeps its slot */
        srv_login_release(j->name, r->ip, j->login_begun);
    }
    return 0;
}

/* POST /api/login {"name","password"}: 0 with the job's name and
 * password set, or -1 after answering 400. */
static int login_args(srv_http_req *r, acct_job *j)
{
    json_t *b = srv__api_body(r, 0);
    if (!b) return -1;
    json_t *n = json_object_get(b, "name"), *p = json_object_get(b, "password");
    int ok = json_is_string(n) && json_is_string(p) &&
             json_string_length(n) > 0 && json_string_length(n) <= 64 &&
             json_string_length(p) <= 1024;
    if (ok) {
        snprintf(j->name, sizeof j->name, "%s", json_string_value(n));
        j->password = strdup(json_string_value(p));
    }
    json_decref(b);
    if (!ok)
        srv_http_error(r, 400, "bad_request",
                       "send {\"name\":..,\"password\":..}");
    return ok ? 0 : -1;
}

void srv__api_login(const srv_api_call *c)
{
    srv_http_req *r = c->r;
    acct_job *j = job_new(c, build_login);
    if (!j) return;
    if (login_args(r, j) < 0) goto done;
    if (!srv_auth_team()) {
        srv_http_error(r, 400, "open_mode",
                       "this server has no accounts (open mode)");
        goto done;
    }
    j->login_begun = srv_mono_ms();
    if (!srv_login_begin(j->name, r->ip, j->login_begun)) {
        srv_http_error(r, 429, "too_many_attempts",
                       "too many failed logins: wait 15 minutes");
        goto done;
    }
    j->t.finish = login_finish;
    if (j->password && srv__api_submit(&j->t, 1) == 0) return;
    srv_login_release(j->name, r->ip, j->login_begun);
    srv_http_error(r, 503, "busy", "too many logins at once: try again");
done:
    srv__api_task_free(&j->t);
}

/* ---- logout, me, users */

static int build_logout(store *st, srv_api_task *t)
{
    unsigned char th[SRV_TOKEN_HASH];
    srv_auth_token_hash(t->r->token, th);
    int rc = store_token_delete(st, th, sizeof th);
    if (rc < 0 && rc != STORE_ENOTFOUND) return srv__api_storage_error(t, rc);
    return srv__api_json(t, 200, json_pack("{s:b}", "ok", 1), 0);
}

static int logout_finish(srv_api_task *t)
{
    if (t->status == 200) {
        snprintf(t->r->set_cookie, sizeof t->r->set_cookie,
                 SRV_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 t->env->tls ? "; Secure" : "");
        t->env->rights_changed(); /* open sockets lose what was taken */
    }
    return 0;
}

void srv__api_logout(const srv_api_call *c)
{
    acct_job *j = job_new(c, build_logout);
    if (!j) return;
    j->t.finish = logout_finish;
    srv__api_start(&j->t);
}

static int build_me(store *st, srv_api_task *t)
{
    srv_identity who;
    json_t *user = json_null();
    if (srv_auth_team() && t->r->token[0] &&
        srv_auth_resolve(st, t->r->token, &who) == 0)
        user = json_pack("{s:s,s:b}", "name", who.name, "admin", who.admin);
    return srv__api_json(t, 200, json_pack("{s:s,s:o}", "mode",
                                           srv_auth_team() ? "team" : "open",
                                           "user", user), 0);
}

void srv__api_me(const srv_api_call *c)
{
    acct_job *j = job_new(c, build_me);
    if (j) srv__api_start(&j->t);
}

static int build_users(store *st, srv_api_task *t)
{
    store_user *us = NULL;
    size_t n = 0;
    int rc = store_user_list(st, &us, &n);
    if (rc < 0) return srv__api_storage_error(t, rc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, user_json_of(&us[i]));
    store_users_free(us, n);
    return srv__api_json(t, 200, arr, 0);
}

void srv__api_users(const srv_api_call *c)
{
    acct_job *j = job_new(c, build_users);
    if (j) srv__api_start(&j->t);
}

/* ---- a document's roles and share links */

/* PUT: give user j->name the role j->target_role. 0 or -1 (answered). */
static int set_role(store *st, acct_job *j)
{
    store_user u;
    int rc = store_user_get(st, j->name, &u, NULL);
    if (rc == STORE_ENOTFOUND)
        return srv__api_error(&j->t, 404, "no_user", "no such user", rc);
    if (rc < 0) return srv__api_storage_error(&j->t, rc);
    rc = store_role_set(st, j->t.doc, u.id, j->target_role);
    store_user_clear(&u);
    return rc < 0 ? srv__api_storage_error(&j->t, rc) : 0;
}

static int build_roles(store *st, srv_api_task *t)
{
    acct_job *j = (acct_job *)t;
    store_user *us = NULL;
    int *roles = NULL;
    size_t n = 0;
    int64_t epoch = 0;
    int rc;
    if (j->name[0] && (rc = set_role(st, j)) < 0) return rc;
    if ((rc = store_role_list(st, t->doc, &us, &roles, &n)) < 0 ||
        (rc = store_share_epoch(st, t->doc, &epoch)) < 0) {
        store_users_free(us, n);
        free(roles);
        return srv__api_storage_error(t, rc);
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}", "user", us[i].name,
                                             "role", role_name(roles[i])));
    store_users_free(us, n);
    free(roles);
    return srv__api_json(t, 200, json_pack("{s:o,s:I}", "roles", arr,
                                           "share_epoch", (json_int_t)epoch), 0);
}

/* A route that took a right away tells the open sockets (rights.c). */
static int rights_finish(srv_api_task *t)
{
    if (t->status == 200) t->env->rights_changed();
    return 0;
}

static int build_share(store *st, srv_api_task *t)
{
    acct_job *j = (acct_job *)t;
    int64_t epoch = 0;
    char token[400], url[600];
    int rc = store_share_epoch(st, t->doc, &epoch);
    if (rc < 0) return srv__api_storage_error(t, rc);
    int64_t expires = (int64_t)srv_wall_ms() + j->expires_in * 1000;
    if (srv_share_make(t->doc, j->target_role, expires, epoch, token,
                       sizeof token) < 0)
        return srv__api_error(t, 500, "server_error", "cannot make the link", -1);
    snprintf(url, sizeof url, "/d/%s?share=%s", t->doc, token);
    return srv__api_json(t, 200, json_pack("{s:s,s:s,s:s,s:I}", "token", token,
                                           "url", url, "role",
                                           role_name(j->target_role), "expires",
                                           (json_int_t)expires), 0);
}

static int build_revoke(store *st, srv_api_task *t)
{
    int64_t epoch = 0;
    int rc = store_share_rotate(st, t->doc, &epoch);
    if (rc < 0) return srv__api_storage_error(t, rc);
    return srv__api_json(t, 200, json_pack("{s:I}", "share_epoch",
                                           (json_int_t)epoch), 0);
}

/* The body of PUT .../roles {"user","role"} (share 0) or POST .../share
 * {"role","expires_in"?} (share 1) into 'j'. 0, or -1 after a 400. */
static int role_args(srv_http_req *r, acct_job *j, int share)
{
    json_t *b = srv__api_body(r, 0);
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
        j->expires_in = ex ? json_integer_value(ex) : 7 * 86400;
    } else {
        if (!json_is_string(u) || json_string_length(u) == 0 ||
            json_string_length(u) > 64)
            err = "user must be a user name";
        else if (role < 0)
            err = "role must be viewer, editor, owner or none";
        else
            snprintf(j->name, sizeof j->name, "%s", json_string_value(u));
    }
    j->target_role = role;
    json_decref(b);
    if (err) srv_http_error(r, 400, "bad_request", err);
    return err ? -1 : 0;
}

void srv__api_roles(const srv_api_call *c)
{
    acct_job *j = job_new(c, build_roles);
    if (!j) return;
    if (c->r->method == SRV_PUT) {
        if (role_args(c->r, j, 0) < 0) {
            srv__api_task_free(&j->t);
            return;
        }
        j->t.finish = rights_finish;
    }
    srv__api_start(&j->t);
}

void srv__api_share(const srv_api_call *c)
{
    acct_job *j = job_new(c, build_share);
    if (!j) return;
    if (role_args(c->r, j, 1) < 0) {
        srv__api_task_free(&j->t);
        return;
    }
    srv__api_start(&j->t);
}

void srv__api_share_revoke(const srv_api_call *c)
{
    acct_job *j = job_new(c, build_revoke);
    if (!j) return;
    j->t.finish = rights_finish;
    srv__api_start(&j->t);
}
