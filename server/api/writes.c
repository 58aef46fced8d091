/* writes.c -- editing over HTTP, for scripts that keep no connection:
 *
 *   POST /api/docs/D/ops {"version","op","client"?,"seq"?}  {"version"}
 *   PUT  /api/docs/D/text (text/plain, If-Match: "v"?)      {"version"}
 *   POST /api/docs/D/append (text/plain)                    {"version"}
 *
 * Each becomes one op that goes through the document's session exactly
 * like a WebSocket op (collab.h: srv_docs_submit_op): transformed over
 * later ops, committed, relayed live; the answer leaves only after the
 * commit. The pool reads what the op needs (the text for PUT and append,
 * the client's newest op for resend dedup); the lws thread submits it.
 * Writes are rate limited like a connection's ops, per token and address. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"
#include "server/api/api.h"

enum { W_OPS, W_TEXT, W_APPEND };

typedef struct write_job {
    srv_api_task t;                       /* first */
    int kind;
    ot_op *op;                            /* made on 'version' */
    size_t span;
    int64_t version;
    int has_client;
    char client[SRV_CLIENT_MAX + 1];
    int64_t seq, last_seq, last_version;
    int has_if_match;
    int64_t if_match;
    int created;
    int asked_again;              /* PUT: the create found the id taken once */
} write_job;

static void write_clear(srv_api_task *t)
{
    ot_op_free(((write_job *)t)->op);
}

/* ---- the rate limit: a token bucket per (token, address) */

typedef struct bucket {
    double tokens;
    uint64_t ms;
} bucket;

/* Forget the buckets that are full again (nobody wrote for a while). */
static void prune(srv_map *m, double burst, uint64_t now, double rate)
{
    const char *k;
    void *v;
    for (size_t i = 0; srv_map_next(m, &i, &k, &v);) {
        bucket *b = v;
        if (b->tokens + (double)(now - b->ms) * rate / 1000.0 >= burst) {
            char key[160]; /* the map frees its own copy */
            snprintf(key, sizeof key, "%s", k);
            free(srv_map_del(m, key)); /* leaves a tombstone: i stays valid */
        }
    }
}

/* 1 when the caller may write now (one op taken), else 0. Out of memory
 * counts as allowed: the limit protects, it must not fail writes. */
static int rate_ok(const srv_api_env *env, const srv_http_req *r)
{
    char key[160];
    double rate = env->cfg->ops_per_sec, burst = rate * 2;
    uint64_t now = srv_mono_ms();
    snprintf(key, sizeof key, "%s|%s", r->token, r->ip);
    bucket *b = srv_map_get(env->rate, key);
    if (!b) {
        if (env->rate->len >= 4096) prune(env->rate, burst, now, rate);
        if (!(b = calloc(1, sizeof *b))) return 1;
        b->tokens = burst;
        b->ms = now;
        if (srv_map_put(env->rate, key, b) < 0) {
            free(b);
            return 1;
        }
    }
    b->tokens += (double)(now - b->ms) * rate / 1000.0;
    if (b->tokens > burst) b->tokens = burst;
    b->ms = now;
    if (b->tokens < 1) return 0;
    b->tokens -= 1;
    return 1;
}

/* ---- pool thread */

/* The op that turns 'a' into 'b' (both valid UTF-8): the common prefix
 * and suffix kept, at code point boundaries. 0 or OT_ENOMEM/OT_EBIG. */
static int diff(ot_op **out, const char *a, size_t al, const char *b, size_t bl)
{
    size_t p = 0, s = 0, pc = 0, dc = 0;
    while (p < al && p < bl && a[p] == b[p]) p++;
    /* both texts are whole UTF-8: a cut can split a character only where
     * both go on */
    while (p > 0 && p < al && p < bl && (a[p] & 0xc0) == 0x80) p--;
    while (s < al - p && s < bl - p && a[al - 1 - s] == b[bl - 1 - s]) s++;
    while (s > 0 && (a[al - s] & 0xc0) == 0x80) s--;
    ot_utf8_validate(a, p, &pc);
    ot_utf8_validate(a + p, al - p - s, &dc);
    ot_op *op = ot_op_new();
    if (!op) return OT_ENOMEM;
    int rc = ot_op_retain(op, (uint32_t)pc);
    if (!rc) rc = ot_op_insert(op, b + p, bl - p - s);
    if (!rc) rc = ot_op_delete(op, (uint32_t)dc);
    if (rc) ot_op_free(op), op = NULL;
    *out = op;
    return rc;
}

/* PUT's rights: an editor of an existing document; a new one is created,
 * owned by its creator (an account in team mode). 0, or -1 answered. */
static int put_rights(store *st, write_job *j)
{
    srv_api_task *t = &j->t;
    int exists = 0;
    int role = srv_auth_doc_role(st, &t->who, t->doc, srv_http_arg(t->r, "share"),
                                 &exists);
    if (role < 0) return srv__api_storage_error(t, role);
    if (exists && role >= STORE_ROLE_EDITOR) return 0;
    if (exists && role == STORE_ROLE_VIEWER)
        return srv__api_error(t, 403, "forbidden", "viewers cannot edit", -1);
    if (exists)
        return srv__api_error(t, 404, "not_found", "no such document", -1);
    if (srv_auth_team() && !t->who.user_id)
        return srv__api_error(t, 401, "unauthorized", "log in to create", -1);
    int rc = store_doc_create_with(st, t->doc, "", t->who.user_id ? t->who.name : "",
                                   (int64_t)srv_wall_ms(), t->who.user_id, NULL, 0);
    if (rc == STORE_EEXIST && !j->asked_again) { /* created meanwhile */
        j->asked_again = 1;
        return put_rights(st, j);
    }
    if (rc == STORE_EEXIST) { /* it exists but cannot be seen: in the trash */
        if (srv_auth_may_know(st, &t->who, t->doc))
            return srv__api_error(t, 409, "exists",
                                  "a document with that id is in the trash", rc);
        return srv__api_error(t, 409, "id_unavailable", SRV_ID_UNAVAILABLE, rc);
    }
    if (rc < 0) return srv__api_storage_error(t, rc);
    j->created = 1;
    return 0;
}

/* A write that changes nothing takes no version: answered with the one
 * it was made on. 0 either way. */
static int unchanged(srv_api_task *t)
{
    write_job *j = (write_job *)t;
    if (!ot_op_is_noop(j->op)) return 0;
    ot_op_free(j->op);
    j->op = NULL;
    return srv__api_json(t, j->created ? 201 : 200,
                         json_pack("{s:I}", "version", (json_int_t)j->version), 0);
}

/* The text the new one replaces: at If-Match's version, or the current. */
static int build_text_op(store *st, srv_api_task *t)
{
    write_job *j = (write_job *)t;
    char *old = NULL;
    size_t bytes = 0;
    if (put_rights(st, j) < 0) return -1;
    int rc = j->has_if_match
                 ? store_text_at(st, t->doc, j->if_match, &old, &bytes)
                 : store_load(st, t->doc, &old, &bytes, &j->version);
    if (rc == STORE_ERANGE)
        return srv__api_error(t, 412, "version_ahead",
                              "If-Match names a version the document does not have", rc);
    if (rc < 0) return srv__api_storage_error(t, rc);
    if (j->has_if_match) j->version = j->if_match;
    rc = diff(&j->op, old, bytes, t->r->body ? t->r->body : "", t->r->body_len);
    free(old);
    if (rc < 0) return srv__api_error(t, 500, "server_error", ot_strerror(rc), rc);
    return unchanged(t);
}

static int build_append(store *st, srv_api_task *t)
{
    write_job *j = (write_job *)t;
    char *old = NULL;
    size_t bytes = 0, cps = 0;
    int rc = store_load(st, t->doc, &old, &bytes, &j->version);
    if (rc < 0) return srv__api_storage_error(t, rc);
    ot_utf8_validate(old, bytes, &cps);
    free(old);
    if (!(j->op = ot_op_new()) || ot_op_retain(j->op, (uint32_t)cps) ||
        ot_op_insert(j->op, t->r->body ? t->r->body : "", t->r->body_len))
        return srv__api_error(t, 500, "server_error", "out of memory", -1);
    j->span = cps;
    return unchanged(t);
}

/* An op sent with client and seq that is already committed is answered
 * with its version here; else the client's newest op is read for the
 * session's dedup. */
static int build_ops(store *st, srv_api_task *t)
{
    write_job *j = (write_job *)t;
    int64_t v = 0;
    store_docinfo d;
    memset(&d, 0, sizeof d);
    int rc = store_doc_get(st, t->doc, &d);
    store_docinfo_clear(&d);
    if (rc < 0) return srv__api_storage_error(t, rc);
    if (!j->has_client) return 0;
    rc = store_find_seq(st, t->doc, j->client, j->seq, &v);
    if (rc == 0) {
        ot_op_free(j->op);
        j->op = NULL;
        return srv__api_json(t, 200, json_pack("{s:I}", "version", (json_int_t)v), 0);
    }
    if (rc != STORE_ENOTFOUND) return srv__api_storage_error(t, rc);
    rc = store_client_last(st, t->doc, j->client, &j->last_seq, &j->last_version);
    if (rc == STORE_ENOTFOUND) j->last_seq = -1, j->last_version = 0, rc = 0;
    return rc < 0 ? srv__api_storage_error(t, rc) : 0;
}

/* ---- lws thread: the session commits it, then the answer */

static int status_of(const char *code)
{
    if (!strcmp(code, "version_ahead") || !strcmp(code, "too_old")) return 409;
    if (!strcmp(code, "too_large")) return 413;
    if (!strcmp(code, "server_error")) return 500;
    return 400;
}

static void committed(void *arg, int rc, int64_t version)
{
    write_job *j = arg;
    const char *msg = NULL;
    if (rc < 0) {
        const char *code = srv_submit_code(rc, &msg);
        srv__api_error(&j->t, status_of(code), code, msg, rc);
    } else {
        srv__api_json(&j->t, j->created ? 201 : 200,
                      json_pack("{s:I}", "version", (json_int_t)version), 0);
    }
    srv__api_answer(&j->t);
}

static int finish(srv_api_task *t)
{
    write_job *j = (write_job *)t;
    if (!j->op || t->status) return 0; /* answered by run or build */
    srv_op_req req = {t->doc, j->has_client ? j->client : NULL,
                      t->who.user_id ? t->who.name : "http", j->version,
                      j->seq, j->op, j->span, j->last_seq, j->last_version};
    j->op = NULL; /* the session's, whatever happens */
    if (srv_docs_submit_op(t->env->docs, &req, committed, j) < 0)
        srv__api_error(t, 500, "server_error", "out of memory", -1);
    else
        return 1;
    return 0;
}

/* A new job for 'c' after the rate limit, or NULL answered. */
static write_job *job_new(const srv_api_call *c, int kind,
                          int (*build)(store *, srv_api_task *))
{
    if (!rate_ok(c->env, c->r)) {
        srv_http_error(c->r, 429, "rate_limited",
                       "more writes than --ops-per-sec allows: slow down");
        return NULL;
    }
    write_job *j = srv__api_task_new(c, sizeof *j, build);
    if (!j) return NULL;
    j->kind = kind;
    j->last_seq = -1;
    j->t.clear = write_clear;
    j->t.finish = finish;
    return j;
}

/* A text body: valid UTF-8 without surrogates. 1, or 0 answered 400. */
static int text_ok(srv_http_req *r)
{
    if (r->body_len == 0 || ot_utf8_validate(r->body, r->body_len, NULL) == 0)
        return 1;
    srv_http_error(r, 400, "bad_request", "the text must be valid UTF-8");
    return 0;
}

void srv__api_doc_put_text(const srv_api_call *c)
{
    const char *m = c->r->if_match;
    char *end = NULL;
    long long v = 0;
    if (m[0]) {
        size_t n = strlen(m);
        v = n > 2 && m[0] == '"' && m[n - 1] == '"' ? strtoll(m + 1, &end, 10) : -1;
        if (v < 0 || !end || end != m + n - 1 || m[1] == '-' || m[1] == '+') {
            srv_http_error(c->r, 400, "bad_if_match",
                           "If-Match must be a version in quotes, as the "
                           "ETag of GET .../text: \"7\"");
            return;
        }
    }
    if (!text_ok(c->r)) return;
    write_job *j = job_new(c, W_TEXT, build_text_op);
    if (!j) return;
    j->has_if_match = m[0] != 0;
    j->if_match = v;
    srv__api_start(&j->t);
}

void srv__api_doc_append(const srv_api_call *c)
{
    if (!text_ok(c->r)) return;
    write_job *j = job_new(c, W_APPEND, build_append);
    if (j) srv__api_start(&j->t);
}

/* The body of POST .../ops: 0 with j filled, or -1 answered. */
static int ops_body(srv_http_req *r, write_job *j)
{
    json_t *b = srv__api_body(r, 0);
    if (!b) return -1;
    json_t *cl = json_object_get(b, "client"), *wire = json_object_get(b, "op");
    int vs = srv_wire_uint(b, "version", &j->version);
    int ss = srv_wire_uint(b, "seq", &j->seq);
    const char *err = NULL;
    if (vs <= 0) err = "\"version\" must be an integer >= 0";
    else if (ss < 0 || (cl && (!json_is_string(cl) ||
                               !srv_valid_client_id(json_string_value(cl)))))
        err = "\"client\" must be 1-64 of A-Za-z0-9_.:- and \"seq\" an integer >= 0";
    else if ((cl != NULL) != (ss > 0))
        err = "\"client\" and \"seq\" go together";
    if (err) {
        srv_http_error(r, 400, "bad_message", err);
        json_decref(b);
        return -1;
    }
    int rc = ot_op_from_json_strict(&j->op, wire);
    if (rc < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "bad op: %s", ot_strerror(rc));
        srv_http_error(r, 400, "bad_op", msg);
        json_decref(b);
        return -1;
    }
    j->span = srv_wire_span(wire);
    j->has_client = cl != NULL;
    if (cl) snprintf(j->client, sizeof j->client, "%s", json_string_value(cl));
    json_decref(b);
    return 0;
}

void srv__api_doc_ops(const srv_api_call *c)
{
    write_job *j = job_new(c, W_OPS, build_ops);
    if (!j) return;
    if (ops_body(c->r, j) < 0) {
        srv__api_task_free(&j->t);
        return;
    }
    srv__api_start(&j->t);
}
