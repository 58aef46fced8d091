/* authors_routes.c -- GET /api/docs/D/authors?version=N: who wrote each
 * code point of D at version N (default: the current one), as spans.
 *
 * Rights are the history routes' (viewer role on D in team mode, a share
 * link's reader included). On the lws thread the handler takes the
 * nearest checkpoint <= N from the API's cache (env->authors); on a pool
 * thread the job replays only the ops after it (history/authors.c) and
 * writes the JSON; back on the lws thread, before the answer, the result
 * and the checkpoints passed on the way go into the cache. The shape is
 * in docs/http.md, the algorithm and the cache in docs/history.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/history/history.h"

#define KEEP 4

typedef struct authors_task {
    srv_api_task t;                /* first */
    int64_t version;               /* < 0: the current one */
    srv_authors *from;             /* a cache reference, or NULL */
    srv_authors *out;              /* the result, owned */
    srv_authors *keep[KEEP];       /* checkpoints on the way, owned */
    size_t nkept;
    int64_t replayed;
} authors_task;

/* {"doc","version","length","spans":[[start,end,user]...]} of 'a'. */
static json_t *authors_json(const srv_authors *a)
{
    json_t *spans = json_array();
    uint64_t at = 0;
    for (size_t i = 0; spans && i < a->n; i++) {
        const srv_author_run *r = &a->runs[i];
        if (json_array_append_new(spans, json_pack("[I,I,s]", (json_int_t)at,
                                  (json_int_t)(at + r->len),
                                  srv_authors_user(a, r))) < 0) {
            json_decref(spans);
            return NULL;
        }
        at += r->len;
    }
    if (!spans) return NULL;
    return json_pack("{s:s,s:I,s:I,s:o}", "doc", a->doc, "version",
                     (json_int_t)a->version, "length", (json_int_t)a->length,
                     "spans", spans);
}

static int build_authors(store *st, srv_api_task *t)
{
    authors_task *h = (authors_task *)t;
    int rc = srv_authors_build(st, t->doc, h->version, h->from, &h->out,
                               h->keep, KEEP, &h->nkept, &h->replayed);
    if (rc < 0) return srv__api_storage_error(t, rc);
    json_t *v = authors_json(h->out);
    return srv__api_json(t, 200, v, v ? 0 : STORE_ENOMEM);
}

/* Lws thread: what the pool made goes into the cache. */
static int authors_finish(srv_api_task *t)
{
    authors_task *h = (authors_task *)t;
    srv_authors_cache *c = t->env->authors;
    if (!c) return 0;
    c->replayed_ops += (uint64_t)h->replayed;
    for (size_t i = 0; i < h->nkept; i++) srv_authors_cache_put(c, h->keep[i]);
    h->nkept = 0;
    srv_authors_cache_put(c, h->out);
    h->out = NULL;
    return 0;
}

static void authors_clear(srv_api_task *t)
{
    authors_task *h = (authors_task *)t;
    srv_authors_unref(h->from);
    srv_authors_unref(h->out);
    while (h->nkept) srv_authors_unref(h->keep[--h->nkept]);
}

void srv__api_authors(const srv_api_call *c)
{
    authors_task *h = srv__api_task_new(c, sizeof *h, build_authors);
    if (!h) return;
    h->t.clear = authors_clear;
    h->t.finish = authors_finish;
    h->t.json_flags = JSON_ENSURE_ASCII;
    h->version = -1;
    if (srv__api_int_arg(c->r, "version", INT64_MAX, &h->version) < 0) {
        srv__api_task_free(&h->t);
        return;
    }
    srv_authors_cache *cache = c->env->authors;
    if (cache) {
        cache->requests++;
        h->from = srv_authors_cache_get(cache, c->doc, h->version);
        if (h->from) cache->hits++;
    }
    srv__api_start(&h->t);
}
