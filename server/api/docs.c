/* docs.c -- the document routes of the API, and the one title check:
 *
 *   GET  /api/docs                      [{id,title,version,updated,created}]
 *   POST /api/docs {"id"?,"title"?}     201 doc | 400 bad id | 409 taken
 *   GET  /api/docs/D                    doc | 404
 *   GET  /api/docs/D/text[?version=N]   text/plain, ETag "v" | 400 | 404
 *   PATCH /api/docs/D {"title"}         doc | 400 | 404; open editors are
 *                                       told (a "title" message)
 *
 * Every database read runs on the reader pool (task.c); a document and
 * its owner are created in one transaction (store_doc_create_with), so a
 * crash never leaves a team-mode document without its owner. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"
#include "server/api/api.h"

typedef struct docs_job {
    srv_api_task t;                       /* first */
    char *title;                          /* create */
    int has_version;                      /* text */
    int64_t version;
} docs_job;

static void docs_clear(srv_api_task *t)
{
    free(((docs_job *)t)->title);
}

static json_t *doc_json(const store_docinfo *d)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:s}", "id", d->id, "title",
                     d->title ? d->title : "", "version", (json_int_t)d->version,
                     "updated", (json_int_t)d->updated_ms, "created",
                     (json_int_t)d->created_ms, "creator",
                     d->creator ? d->creator : "");
}

static int build_list(store *st, srv_api_task *t)
{
    store_docinfo *docs = NULL;
    size_t n = 0;
    int rc = store_doc_list(st, &docs, &n);
    if (rc < 0) return srv__api_storage_error(t, rc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        int role = STORE_ROLE_OWNER;
        if (srv_auth_team() && !t->who.admin &&
            (store_role_get(st, docs[i].id, t->who.user_id, &role) < 0 ||
             role == STORE_ROLE_NONE))
            continue; /* only the documents this user may see */
        json_array_append_new(arr, doc_json(&docs[i]));
    }
    store_docinfo_free(docs, n);
    return srv__api_json(t, 200, arr, 0);
}

static int build_get(store *st, srv_api_task *t)
{
    store_docinfo d;
    memset(&d, 0, sizeof d);
    int rc = store_doc_get(st, t->doc, &d);
    if (rc < 0) return srv__api_storage_error(t, rc);
    srv__api_json(t, 200, doc_json(&d), 0);
    store_docinfo_clear(&d);
    return 0;
}

static int build_create(store *st, srv_api_task *t)
{
    docs_job *j = (docs_job *)t;
    int rc = store_doc_create_with(st, t->doc, j->title,
                                   t->who.user_id ? t->who.name : "",
                                   (int64_t)srv_wall_ms(), t->who.user_id,
                                   NULL, 0);
    if (rc == STORE_EEXIST) {
        if (srv_auth_may_know(st, &t->who, t->doc))
            return srv__api_error(t, 409, "exists",
                                  "a document with that id exists", rc);
        /* taken, and no more said: see docs/http.md */
        return srv__api_error(t, 409, "id_unavailable", SRV_ID_UNAVAILABLE, rc);
    }
    if (rc < 0) return srv__api_storage_error(t, rc);
    rc = build_get(st, t);
    if (rc == 0) t->status = 201;
    return rc;
}

static int build_rename(store *st, srv_api_task *t)
{
    docs_job *j = (docs_job *)t;
    int rc = store_doc_set_title(st, t->doc, j->title, (int64_t)srv_wall_ms());
    if (rc < 0) return srv__api_storage_error(t, rc);
    return build_get(st, t);
}

/* Lws thread, once the title is stored: tell the open editors. */
static int rename_finish(srv_api_task *t)
{
    docs_job *j = (docs_job *)t;
    if (t->status == 200 && t->env->docs &&
        srv_docs_retitle(t->env->docs, t->doc, j->title) < 0)
        srv_log(SRV_LOG_WARN, "rename of %s: out of memory telling its editors",
                t->doc);
    return 0;
}

static int build_text(store *st, srv_api_task *t)
{
    docs_job *j = (docs_job *)t;
    char *text = NULL;
    size_t bytes = 0;
    int64_t v = 0;
    int rc = j->has_version
                 ? store_text_at(st, t->doc, j->version, &text, &bytes)
                 : store_load(st, t->doc, &text, &bytes, &v);
    if (rc < 0) return srv__api_storage_error(t, rc);
    /* the version read, for PUT .../text's If-Match (writes.c) */
    snprintf(t->etag, sizeof t->etag, "\"%" PRId64 "\"",
             j->has_version ? j->version : v);
    t->status = 200;
    t->ctype = SRV_HTTP_TEXT;
    t->body = text;
    t->len = bytes;
    return 0;
}

/* ---- the one title check, and doc ids in JSON */

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

/* ---- the handlers (lws thread) */

static void start(const srv_api_call *c, int (*build)(store *, srv_api_task *))
{
    srv_api_task *t = srv__api_task_new(c, sizeof(docs_job), build);
    if (t) srv__api_start(t);
}

void srv__api_docs_list(const srv_api_call *c)
{
    start(c, build_list);
}

void srv__api_doc_get(const srv_api_call *c)
{
    start(c, build_get);
}


/* Start a job that carries a title (create, rename), or answer why not:
 * 'err' (the body's problem: 400), or no job (already answered) or no
 * copy of the title (500). */
static void start_titled(const srv_api_call *c, docs_job *j, const char *err)
{
    if (err) srv_http_error(c->r, 400, "bad_request", err);
    else if (j && !j->title) {
        srv__api_task_free(&j->t);
        srv_http_error(c->r, 500, "server_error", "out of memory");
    } else if (j) {
        srv__api_start(&j->t);
    }
}
void srv__api_docs_create(const srv_api_call *c)
{
    /* U+0000 parses, so that a title holding it is refused for what it is */
    json_t *b = srv__api_body(c->r, JSON_ALLOW_NUL);
    if (!b) return;
    json_t *id = json_object_get(b, "id"), *title = json_object_get(b, "title");
    const char *err = NULL;
    if (id && !srv_json_doc_id(id))
        err = "bad id: 1-64 of A-Za-z0-9_.- not starting with '.'";
    else if (title)
        err = srv_title_problem(title);
    docs_job *j = err ? NULL : srv__api_task_new(c, sizeof *j, build_create);
    if (j) {
        j->t.clear = docs_clear;
        if (id) snprintf(j->t.doc, sizeof j->t.doc, "%s", json_string_value(id));
        else srv__api_random_id(j->t.doc);
        j->title = strdup(title ? json_string_value(title) : "");
    }
    json_decref(b);
    start_titled(c, j, err);
}

void srv__api_doc_text(const srv_api_call *c)
{
    const char *v = srv_http_arg(c->r, "version");
    char *end = NULL;
    long long n = 0;
    if (v) {
        n = strtoll(v, &end, 10);
        if (!*v || *end || n < 0) {
            srv_http_error(c->r, 400, "bad_version",
                           "version must be an integer >= 0");
            return;
        }
    }
    docs_job *j = srv__api_task_new(c, sizeof *j, build_text);
    if (!j) return;
    j->has_version = v != NULL;
    j->version = n;
    srv__api_start(&j->t);
}

void srv__api_doc_rename(const srv_api_call *c)
{
    json_t *b = srv__api_body(c->r, JSON_ALLOW_NUL);
    if (!b) return;
    json_t *title = json_object_get(b, "title");
    const char *err = title ? srv_title_problem(title) : "title is missing";
    docs_job *j = err ? NULL : srv__api_task_new(c, sizeof *j, build_rename);
    if (j) {
        j->t.clear = docs_clear;
        j->t.finish = rename_finish;
        j->title = strdup(json_string_value(title));
    }
    json_decref(b);
    start_titled(c, j, err);
}
