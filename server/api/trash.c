/* trash.c -- the trash routes of the API:
 *
 *   DELETE /api/docs/D             owner: D to the trash; its open editors
 *                                  get error doc_trashed and are left out
 *   GET    /api/trash              [{id,title,updated,trashed,version}]
 *                                  the caller may restore (owner, admin)
 *   POST   /api/trash/D/restore    owner: D back as it was (same id, log)
 *   DELETE /api/trash/D            owner: purge D (ops, snapshots, roles)
 *
 * A trashed document is out of every list and route (storage/ skips it,
 * task.c answers 404 for it), so the trash routes check their own rights:
 * the table asks only for a login, and trash_access reads the role of a
 * trashed document here. Open mode: anyone may do all of it. */
#include <stdio.h>
#include <string.h>

#include "server/api/api.h"

/* Pool thread: is t->doc in the trash, and may the caller act on it?
 * 0, or an answer set (404 not in the trash or not the caller's to know,
 * 403 a reader or editor who is not an owner) and -1. */
static int trash_access(store *st, srv_api_task *t)
{
    int64_t trashed = 0;
    int role = STORE_ROLE_NONE;
    int rc = store_doc_trashed(st, t->doc, &trashed);
    if (rc == STORE_ENOTFOUND || (rc == 0 && !trashed))
        return srv__api_error(t, 404, "not_found",
                              "no such document in the trash", -1);
    if (rc < 0) return srv__api_storage_error(t, rc);
    if (!srv_auth_team() || t->who.admin) return 0;
    if ((rc = store_role_get(st, t->doc, t->who.user_id, &role)) < 0)
        return srv__api_storage_error(t, rc);
    if (role == STORE_ROLE_NONE)
        return srv__api_error(t, 404, "not_found",
                              "no such document in the trash", -1);
    if (role < STORE_ROLE_OWNER)
        return srv__api_error(t, 403, "forbidden",
                              "only an owner may do this", -1);
    return 0;
}

static int build_trash(store *st, srv_api_task *t)
{
    int64_t now = (int64_t)srv_wall_ms();
    int rc = store_doc_trash(st, t->doc, now);
    if (rc < 0) return srv__api_storage_error(t, rc);
    return srv__api_json(t, 200, json_pack("{s:s,s:I}", "id", t->doc,
                                           "trashed", (json_int_t)now), 0);
}

/* Lws thread, once D is in the trash: its open editors are left out. */
static int trash_finish(srv_api_task *t)
{
    if (t->status == 200 && t->env->docs) {
        int n = srv_docs_close(t->env->docs, t->doc, "doc_trashed",
                               "the document was moved to the trash");
        srv_info("%s moved to the trash (%d editors left out)", t->doc, n);
    }
    return 0;
}

static int build_list(store *st, srv_api_task *t)
{
    store_trashinfo *docs = NULL;
    size_t n = 0;
    int64_t user = srv_auth_team() && !t->who.admin ? t->who.user_id : 0;
    int rc = store_trash_list(st, user, &docs, &n);
    if (rc < 0) return srv__api_storage_error(t, rc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:I,s:I,s:I}", "id", docs[i].id, "title",
                           docs[i].title, "updated",
                           (json_int_t)docs[i].updated_ms, "trashed",
                           (json_int_t)docs[i].trashed_ms, "version",
                           (json_int_t)docs[i].version));
    store_trashinfo_free(docs, n);
    return srv__api_json(t, 200, arr, 0);
}

static int build_restore(store *st, srv_api_task *t)
{
    store_docinfo d;
    if (trash_access(st, t) < 0) return -1;
    int rc = store_doc_untrash(st, t->doc);
    if (rc == 0) rc = store_doc_get(st, t->doc, &d);
    if (rc < 0) return srv__api_storage_error(t, rc);
    srv__api_json(t, 200,
                  json_pack("{s:s,s:s,s:I,s:I}", "id", d.id, "title", d.title,
                            "version", (json_int_t)d.version, "updated",
                            (json_int_t)d.updated_ms), 0);
    store_docinfo_clear(&d);
    return 0;
}

static int build_purge(store *st, srv_api_task *t)
{
    if (trash_access(st, t) < 0) return -1;
    int rc = store_doc_purge(st, t->doc);
    if (rc < 0) return srv__api_storage_error(t, rc);
    return srv__api_json(t, 200, json_pack("{s:s,s:b}", "id", t->doc,
                                           "purged", 1), 0);
}

/* ---- the handlers (lws thread) */

static void start(const srv_api_call *c, int (*build)(store *, srv_api_task *),
                  int (*finish)(srv_api_task *))
{
    srv_api_task *t = srv__api_task_new(c, sizeof *t, build);
    if (!t) return;
    t->finish = finish;
    srv__api_start(t);
}

void srv__api_doc_trash(const srv_api_call *c)
{
    start(c, build_trash, trash_finish);
}

void srv__api_trash_list(const srv_api_call *c)
{
    start(c, build_list, NULL);
}

void srv__api_trash_restore(const srv_api_call *c)
{
    start(c, build_restore, NULL);
}

void srv__api_trash_purge(const srv_api_call *c)
{
    start(c, build_purge, NULL);
}
