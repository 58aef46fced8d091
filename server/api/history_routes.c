/* history_routes.c -- the history routes of the HTTP API:
 *
 *   GET  /api/docs/D/history?after=V&limit=N   ops after V (limit 100, max 1000)
 *   GET  /api/docs/D/sessions?after=V&limit=N  edit sessions (limit 100, max 1000)
 *   GET  /api/docs/D/export?format=F[&version=N]  an attachment (history.h: exports)
 *   POST /api/docs/D/restore {"version":N,"user"?}  a new op back to N's text
 *   POST /api/docs/D/fork {"version"?,"id"?,"title"?,"user"?}  201 new doc
 *
 * Reads and the fork's writes run as reader-pool tasks; an export is written
 * to an unlinked temporary file there and streamed from it by the lws
 * thread. A restore computes its op on the pool (the diff from the current
 * text to the text at N), then submits it on the lws thread through
 * srv_docs_submit, so editors that are open receive it live; history is
 * never rewritten. In team mode reading needs the viewer role on D, restore
 * the editor role, fork the viewer role on D and a login (the forker owns
 * the fork); the op's user is then the logged-in name. JSON shapes:
 * docs/history.md. The routes are rows of the API's table (routes.c);
 * each job embeds the shared srv_api_task (task.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/api/api.h"
#include "server/history/history.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000

typedef struct hist_task hist_task;
struct hist_task {
    srv_api_task t;                /* first */
    int64_t after, limit, version; /* version < 0: the current one */
    int desc;                      /* sessions: newest first, before 'version' */
    int fmt;
    char new_id[65];
    char *title;
    char user[65];
    /* restore: the op to submit on the lws thread, made on 'base' */
    ot_op *op;
    int64_t base;
    int tries;
};

static int set_json(hist_task *h, int status, json_t *v)
{
    return srv__api_json(&h->t, status, v, 0);
}

static int set_error(hist_task *h, int status, const char *code,
                     const char *message, int rc)
{
    return srv__api_error(&h->t, status, code, message, rc);
}

static int storage_error(hist_task *h, int rc)
{
    return srv__api_storage_error(&h->t, rc);
}

/* ---- history: the ops themselves */

static json_t *op_json(const store_oprec *r, const ot_op *op)
{
    size_t ins = 0, del = 0;
    ot_op_stats(op, &ins, &del);
    return json_pack("{s:I,s:s,s:s,s:I,s:I,s:o,s:I,s:I}", "version",
                     (json_int_t)r->version, "user", r->user, "client",
                     r->client, "seq", (json_int_t)r->seq, "time",
                     (json_int_t)r->time_ms, "op", ot_op_to_json(op), "added",
                     (json_int_t)ins, "removed", (json_int_t)del);
}

static int build_history(store *st, srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    srv_walk w;
    const store_oprec *r;
    int rc = srv_walk_init(&w, st, h->t.doc, h->after, -1, 0);
    if (rc < 0) return storage_error(h, rc);
    int64_t cur = w.end;
    if (w.end - w.after > h->limit) w.end = w.after + h->limit;
    json_t *ops = json_array();
    while (ops && (rc = srv_walk_next(&w, &r)) == 1)
        json_array_append_new(ops, op_json(r, w.op));
    json_t *next = w.end < cur ? json_integer(w.end) : json_null();
    srv_walk_clear(&w);
    if (rc < 0) {
        json_decref(ops);
        json_decref(next);
        return storage_error(h, rc);
    }
    set_json(h, 200, json_pack("{s:s,s:I,s:o,s:o}", "doc", h->t.doc, "version",
                               (json_int_t)cur, "ops", ops, "next", next));
    return 0;
}

/* ---- sessions: consecutive ops of one user, split at idle gaps */

static json_t *session_json(const srv_edit_session *s)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "user", s->user,
                     "client", s->client, "from", (json_int_t)s->from, "to",
                     (json_int_t)s->to, "start", (json_int_t)s->start_ms, "end",
                     (json_int_t)s->end_ms, "ops", (json_int_t)s->ops, "added",
                     (json_int_t)s->added, "removed", (json_int_t)s->removed);
}

/* The answer of both orders: the page 'list' (taken), or the storage
 * error 'rc'. */
static int sessions_answer(hist_task *h, int rc, json_t *list, int64_t cur,
                           int64_t next)
{
    if (rc < 0) {
        json_decref(list);
        return storage_error(h, rc);
    }
    set_json(h, 200, json_pack("{s:s,s:I,s:I,s:o,s:o}", "doc", h->t.doc, "version",
                               (json_int_t)cur, "gap_ms",
                               (json_int_t)SRV_SESSION_GAP_MS, "sessions", list,
                               "next", next < 0 ? json_null() : json_integer(next)));
    return 0;
}

static int build_sessions_desc(store *st, srv_api_task *t);

static int build_sessions(store *st, srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    if (h->desc) return build_sessions_desc(st, t);
    srv_walk w;
    srv_sessions g;
    srv_edit_session done;
    const store_oprec *r;
    int rc = srv_walk_init(&w, st, h->t.doc, h->after, -1, 0);
    if (rc < 0) return storage_error(h, rc);
    int64_t cur = w.end, next = -1, count = 0;
    json_t *list = json_array();
    srv_sessions_init(&g, 0);
    while (list && (rc = srv_walk_next(&w, &r)) == 1) {
        if (!srv_sessions_feed(&g, r, w.op, &done)) continue;
        json_array_append_new(list, session_json(&done));
        if (++count == h->limit) {
            next = done.to;
            break;
        }
    }
    if (rc == 0 && next < 0 && srv_sessions_flush(&g, &done))
        json_array_append_new(list, session_json(&done));
    srv_walk_clear(&w);
    return sessions_answer(h, rc, list, cur, next);
}

/* Newest first: the sessions up to version h->version (default: current),
 * kept in a ring of the last 'limit' while the log is walked from 0, so page
 * boundaries are the same session boundaries as in the oldest-first view. */
static int build_sessions_desc(store *st, srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    srv_walk w;
    srv_sessions g;
    const store_oprec *r;
    store_docinfo d;
    memset(&d, 0, sizeof d);
    int rc = store_doc_get(st, h->t.doc, &d);
    int64_t cur = d.version;
    store_docinfo_clear(&d);
    if (rc < 0 || (rc = srv_walk_init(&w, st, h->t.doc, 0, h->version, 0)) < 0)
        return storage_error(h, rc);
    size_t cap = (size_t)h->limit, n = 0;
    srv_edit_session *ring = calloc(cap, sizeof *ring);
    srv_sessions_init(&g, 0);
    while (ring && (rc = srv_walk_next(&w, &r)) == 1)
        if (srv_sessions_feed(&g, r, w.op, &ring[n % cap])) n++;
    if (ring && rc == 0 && srv_sessions_flush(&g, &ring[n % cap])) n++;
    srv_walk_clear(&w);
    json_t *list = json_array();
    if (!ring) rc = STORE_ENOMEM;
    for (size_t i = 0; rc == 0 && list && i < n && i < cap; i++)
        json_array_append_new(list, session_json(&ring[(n - 1 - i) % cap]));
    int64_t next = n > cap ? ring[(n - cap) % cap].from : -1;
    free(ring);
    return sessions_answer(h, rc, list, cur, next);
}

/* ---- export: written to an unlinked temporary file, streamed from it */

static int build_export(store *st, srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    FILE *f = tmpfile();
    struct stat sb;
    if (!f) return set_error(h, 500, "server_error", "no temporary file", STORE_EIO);
    int rc = srv_export_write(st, h->t.doc, h->version, (srv_export_format)h->fmt, f);
    if (rc == 0 && (fstat(fileno(f), &sb) < 0 || (h->t.fd = dup(fileno(f))) < 0))
        rc = STORE_EIO;
    fclose(f);
    if (rc < 0) return storage_error(h, rc);
    h->t.status = 200;
    h->t.ctype = srv_export_ctype((srv_export_format)h->fmt);
    h->t.len = (size_t)sb.st_size;
    if (h->version >= 0)
        snprintf(h->t.disposition, sizeof h->t.disposition,
                 "attachment; filename=\"%s-v%" PRId64 ".%s\"", h->t.doc,
                 h->version, srv_export_ext((srv_export_format)h->fmt));
    else
        snprintf(h->t.disposition, sizeof h->t.disposition,
                 "attachment; filename=\"%s.%s\"", h->t.doc,
                 srv_export_ext((srv_export_format)h->fmt));
    return 0;
}

/* ---- restore: the op from the current text to the text at N */

/* Length of the longest common prefix of a and b ending on a character
 * boundary of both (they are valid UTF-8). */
static size_t common_prefix(const char *a, size_t na, const char *b, size_t nb)
{
    size_t i = 0, n = na < nb ? na : nb;
    while (i < n && a[i] == b[i]) i++;
    while (i > 0 && i < na && ((unsigned char)a[i] & 0xc0) == 0x80) i--;
    return i;
}

static size_t common_suffix(const char *a, size_t na, const char *b, size_t nb,
                            size_t pre)
{
    size_t i = 0, n = (na < nb ? na : nb) - pre;
    while (i < n && a[na - 1 - i] == b[nb - 1 - i]) i++;
    while (i > 0 && ((unsigned char)a[na - i] & 0xc0) == 0x80) i--;
    return i;
}

/* *out = the op that turns 'from' into 'to'. 0 or STORE_ENOMEM. */
static int diff_op(ot_op **out, const char *from, size_t nf, const char *to,
                   size_t nt)
{
    size_t pre = common_prefix(from, nf, to, nt);
    size_t suf = common_suffix(from, nf, to, nt, pre);
    size_t keep = 0, gone = 0;
    ot_utf8_validate(from, pre, &keep);
    ot_utf8_validate(from + pre, nf - pre - suf, &gone);
    ot_op *op = ot_op_new();
    if (!op || ot_op_retain(op, (uint32_t)keep) < 0 ||
        ot_op_delete(op, (uint32_t)gone) < 0 ||
        ot_op_insert(op, to + pre, nt - pre - suf) < 0) {
        ot_op_free(op);
        return STORE_ENOMEM;
    }
    *out = op;
    return 0;
}

/* The op's author: who is logged in; in team mode without a login, a
 * share link's guest (marked as one); in open mode the body's name. */
static void author(hist_task *h)
{
    if (h->t.who.user_id)
        snprintf(h->user, sizeof h->user, "%s", h->t.who.name);
    else if (srv_auth_team())
        srv_guest_name(h->user, sizeof h->user, h->user);
}

static int build_restore(store *st, srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    author(h);
    char *cur = NULL, *old = NULL;
    size_t ncur = 0, nold = 0;
    int rc = store_load(st, h->t.doc, &cur, &ncur, &h->base);
    if (rc < 0) return storage_error(h, rc);
    if (h->version > h->base) rc = STORE_ERANGE;
    else rc = store_text_at(st, h->t.doc, h->version, &old, &nold);
    if (rc == 0) rc = diff_op(&h->op, cur, ncur, old, nold);
    free(cur);
    free(old);
    if (rc < 0) return storage_error(h, rc);
    if (ot_op_is_noop(h->op)) {
        ot_op_free(h->op);
        h->op = NULL;
        set_json(h, 200, json_pack("{s:s,s:I,s:I,s:b}", "doc", h->t.doc, "version",
                                   (json_int_t)h->base, "restored",
                                   (json_int_t)h->version, "changed", 0));
    }
    return 0;
}

/* ---- fork: a new document starting from D's text at N */

/* Create the fork with its first op (the whole text) and its owner, in
 * one transaction. */
static int fork_create(store *st, hist_task *h, const char *title,
                       const char *text, size_t bytes, int64_t now)
{
    ot_op *op = ot_op_new();
    char *wire = NULL;
    int rc = op && ot_op_insert(op, text, bytes) == 0 && (wire = ot_op_dumps(op))
                 ? 0 : STORE_ENOMEM;
    store_oprec rec = {.doc = h->new_id, .version = 1, .op = wire,
                       .client = "@server", .seq = 1, .user = h->user,
                       .time_ms = now};
    if (rc == 0)
        rc = store_doc_create_with(st, h->new_id, title,
                                   h->t.who.user_id ? h->t.who.name : "", now,
                                   h->t.who.user_id, &rec, bytes ? 1 : 0);
    ot_op_free(op);
    free(wire);
    return rc;
}

static int build_fork(store *st, srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    if (srv_auth_team() && !h->t.who.user_id)
        return set_error(h, 401, "unauthorized", "log in to fork a document", -1);
    author(h);
    store_docinfo d, e;
    char *text = NULL, title[512];
    size_t bytes = 0;
    int64_t now = (int64_t)srv_wall_ms();
    memset(&d, 0, sizeof d);
    memset(&e, 0, sizeof e);
    int rc = store_doc_get(st, h->t.doc, &d);
    if (rc < 0) return storage_error(h, rc);
    if (h->version < 0) h->version = d.version;
    rc = store_text_at(st, h->t.doc, h->version, &text, &bytes);
    if (!h->title) {
        const char *base = d.title && d.title[0] ? d.title : d.id;
        snprintf(title, sizeof title, "%s (fork of version %" PRId64 ")",
                 strlen(base) <= 160 ? base : d.id, h->version);
    }
    store_docinfo_clear(&d);
    if (rc == 0)
        rc = fork_create(st, h, h->title ? h->title : title, text, bytes, now);
    free(text);
    if (rc == STORE_EEXIST && !srv_auth_may_know(st, &h->t.who, h->new_id))
        return set_error(h, 409, "id_unavailable", SRV_ID_UNAVAILABLE, rc);
    if (rc == STORE_EEXIST)
        return set_error(h, 409, "exists", "a document with that id exists", rc);
    if (rc == 0) rc = store_doc_get(st, h->new_id, &e);
    if (rc < 0) return storage_error(h, rc);
    set_json(h, 201, json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:{s:s,s:I}}", "id",
                               e.id, "title", e.title, "version",
                               (json_int_t)e.version, "updated",
                               (json_int_t)e.updated_ms, "created",
                               (json_int_t)e.created_ms, "creator", e.creator,
                               "forked_from", "doc", h->t.doc, "version",
                               (json_int_t)h->version));
    store_docinfo_clear(&e);
    return 0;
}

/* ---- restore: the op goes through the document's session */

static void hist_clear(srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    ot_op_free(h->op);
    free(h->title);
}

static void restore_done(void *arg, int rc, int64_t version)
{
    hist_task *h = arg;
    if (rc == STORE_ERANGE && h->tries++ < 3 && srv__api_submit(&h->t, 0) == 0) {
        srv_http_release(h->t.r); /* held once already, by the first submit */
        return; /* the session moved on between our read and the submit */
    }
    if (rc < 0) {
        srv_log(SRV_LOG_WARN, "restore of %s to version %" PRId64 " failed: %s",
                h->t.doc, h->version, store_strerror(rc));
        set_error(h, rc == STORE_ERANGE ? 409 : 500,
                  rc == STORE_ERANGE ? "conflict" : "server_error",
                  rc == STORE_ERANGE ? "the document changed: try again"
                                     : store_strerror(rc), rc);
    } else {
        set_json(h, 200, json_pack("{s:s,s:I,s:I,s:b}", "doc", h->t.doc,
                                   "version", (json_int_t)version, "restored",
                                   (json_int_t)h->version, "changed", 1));
    }
    srv__api_answer(&h->t);
}

/* Lws thread, after build_restore: submit its op (if it made one) like an
 * editor's, and answer once it is committed. */
static int restore_finish(srv_api_task *t)
{
    hist_task *h = (hist_task *)t;
    if (!h->op || !t->r->wsi) return 0;
    ot_op *op = h->op;
    h->op = NULL;
    int rc = srv_docs_submit(t->env->docs, t->doc, h->base, op, h->user,
                             restore_done, h);
    if (rc < 0) restore_done(h, rc, 0);
    return 1;
}

/* ---- parsing requests */

int srv__api_int_arg(srv_http_req *r, const char *name, int64_t max, int64_t *out)
{
    const char *v = srv_http_arg(r, name);
    char *end = NULL, msg[96];
    if (!v) return 0;
    long long n = strtoll(v, &end, 10);
    if (*v && !*end && n >= 0 && n <= max) {
        *out = n;
        return 0;
    }
    snprintf(msg, sizeof msg, "%s must be an integer from 0 to %" PRId64, name, max);
    srv_http_error(r, 400, strcmp(name, "version") == 0 ? "bad_version"
                                                        : "bad_request", msg);
    return -1;
}

static int get_args(srv_http_req *r, hist_task *h, const char *rest)
{
    h->limit = LIMIT_DEFAULT;
    if (strcmp(rest, "/export") == 0) {
        const char *f = srv_http_arg(r, "format");
        h->fmt = srv_export_format_parse(f ? f : "txt");
        if (h->fmt < 0) {
            srv_http_error(r, 400, "bad_format",
                           "format must be txt, md, html, json or git");
            return -1;
        }
        return srv__api_int_arg(r, "version", INT64_MAX, &h->version);
    }
    if (srv__api_int_arg(r, "after", INT64_MAX, &h->after) < 0) return -1;
    if (srv__api_int_arg(r, "limit", LIMIT_MAX, &h->limit) < 0) return -1;
    const char *order = srv_http_arg(r, "order");
    if (strcmp(rest, "/sessions") == 0 && order) {
        if (strcmp(order, "desc") && strcmp(order, "asc")) {
            srv_http_error(r, 400, "bad_request", "order must be asc or desc");
            return -1;
        }
        h->desc = strcmp(order, "desc") == 0;
        if (h->desc && srv__api_int_arg(r, "before", INT64_MAX, &h->version) < 0) return -1;
    }
    if (h->limit == 0) h->limit = LIMIT_DEFAULT;
    return 0;
}

static int text_ok(json_t *v, size_t max_cp)
{
    size_t cps = 0;
    return json_is_string(v) &&
           ot_utf8_validate(json_string_value(v), json_string_length(v), &cps) == 0 &&
           cps <= max_cp && !memchr(json_string_value(v), 0, json_string_length(v));
}

/* The JSON body of restore and fork. 0, or -1 after answering 400. */
static int post_args(srv_http_req *r, hist_task *h, int fork)
{
    json_t *b = srv__api_body(r, JSON_ALLOW_NUL);
    if (!b) return -1;
    json_t *v = json_object_get(b, "version"), *id = json_object_get(b, "id");
    json_t *title = json_object_get(b, "title"), *user = json_object_get(b, "user");
    const char *err = NULL, *code = "bad_request";
    if ((v || !fork) && (!json_is_integer(v) || json_integer_value(v) < 0))
        err = "version must be an integer >= 0", code = "bad_version";
    else if (user && !(text_ok(user, 64) && json_string_length(user) <= 64 &&
                       json_string_length(user) > 0))
        err = "user must be a string of 1-64 bytes";
    else if (fork && id && !srv_json_doc_id(id))
        err = "bad id: 1-64 of A-Za-z0-9_.- not starting with '.'", code = "bad_doc_id";
    else if (fork && title)
        err = srv_title_problem(title);
    if (err) {
        json_decref(b);
        srv_http_error(r, 400, code, err);
        return -1;
    }
    h->version = v ? json_integer_value(v) : -1;
    snprintf(h->user, sizeof h->user, "%s",
             user ? json_string_value(user) : fork ? "fork" : "restore");
    if (fork && id) snprintf(h->new_id, sizeof h->new_id, "%s", json_string_value(id));
    else if (fork) srv__api_random_id(h->new_id);
    if (fork && title) h->title = strdup(json_string_value(title));
    json_decref(b);
    return 0;
}

/* ---- the handlers (lws thread) */

static hist_task *job_new(const srv_api_call *c,
                          int (*build)(store *, srv_api_task *))
{
    hist_task *h = srv__api_task_new(c, sizeof *h, build);
    if (!h) return NULL;
    h->t.clear = hist_clear;
    h->t.json_flags = JSON_ENSURE_ASCII;
    h->version = -1;
    return h;
}

/* A GET route: its query arguments, then the task. */
static void get_route(const srv_api_call *c, const char *rest,
                      int (*build)(store *, srv_api_task *))
{
    hist_task *h = job_new(c, build);
    if (!h) return;
    if (get_args(c->r, h, rest) < 0) srv__api_task_free(&h->t);
    else srv__api_start(&h->t);
}

void srv__api_history(const srv_api_call *c)
{
    get_route(c, "/history", build_history);
}

void srv__api_sessions(const srv_api_call *c)
{
    get_route(c, "/sessions", build_sessions);
}

void srv__api_export(const srv_api_call *c)
{
    get_route(c, "/export", build_export);
}

void srv__api_restore(const srv_api_call *c)
{
    hist_task *h = job_new(c, build_restore);
    if (!h) return;
    h->t.finish = restore_finish;
    if (post_args(c->r, h, 0) < 0) srv__api_task_free(&h->t);
    else srv__api_start(&h->t);
}

void srv__api_fork(const srv_api_call *c)
{
    hist_task *h = job_new(c, build_fork);
    if (!h) return;
    if (post_args(c->r, h, 1) < 0) srv__api_task_free(&h->t);
    else srv__api_start(&h->t);
}
