/* rights.c -- rights end when they are taken away.
 *
 * A connection is granted its rights once: hello resolves its login, each
 * join reads its role. This file takes them back when they end, wherever
 * the change comes from:
 *  - this process (logout, a role taken or changed, share links revoked):
 *    the HTTP route calls srv_rights_changed() once its change committed;
 *  - another process (the CLI writes the database while the server runs):
 *    every change that takes a right away bumps the auth generation in its
 *    own transaction (migration 0004); a reader-pool task reads it once a
 *    second and a move starts a re-check;
 *  - time: a login's expiry is kept on its connection.
 * A re-check copies the identities of the connections (login hash, account,
 * each join's document and share link), resolves them again on the reader
 * pool (never SQLite on the lws thread), then applies the answers here.
 *
 * Invariant: once a re-check that started after a change is applied, no
 * connection acts on a right the change took away. A hello or join whose
 * rights were read before a re-check started reads them again
 * (srv_rights_stale), so it cannot slip past one. Ops accepted before the
 * re-check was applied may still commit. Open mode: nothing here runs. */
#include <stdlib.h>
#include <string.h>

#include "server/auth/auth.h"
#include "server/net/net.h"

typedef struct chk_join {
    char doc[65];
    char *share;                  /* a copy, or NULL */
    int role;                     /* the answer: STORE_ROLE_* */
} chk_join;

typedef struct chk_conn {
    uint64_t id;
    int64_t user_id;              /* 0: a guest */
    unsigned char hash[SRV_TOKEN_HASH];
    int ended;                    /* the answer: the login is over */
    int admin;                    /* the answer */
    chk_join *joins;
    int njoins;
} chk_conn;

typedef struct chk_task {
    srv_task t;
    int poll;                     /* only read the generation */
    int64_t gen;                  /* read before anything else */
    chk_conn *conns;              /* sorted by id */
    size_t n;
} chk_task;

static void chk_free(chk_task *k)
{
    for (size_t i = 0; k && i < k->n; i++) {
        for (int j = 0; j < k->conns[i].njoins; j++) free(k->conns[i].joins[j].share);
        free(k->conns[i].joins);
    }
    if (k) free(k->conns);
    free(k);
}

/* ---- on the pool */

/* Resolve one connection again: its login, then its role on each join. */
static int check_conn(store *st, chk_conn *e)
{
    srv_identity who;
    memset(&who, 0, sizeof who);
    if (e->user_id) {
        int rc = srv_auth_resolve_hash(st, e->hash, &who);
        if (rc == STORE_ENOTFOUND || (rc == 0 && who.user_id != e->user_id)) {
            e->ended = 1;
            return 0;
        }
        if (rc < 0) return rc;
        e->admin = who.admin;
    }
    for (int i = 0; i < e->njoins; i++) {
        int exists = 0;
        int role = srv_auth_doc_role(st, &who, e->joins[i].doc,
                                     e->joins[i].share, &exists);
        if (role < 0) return role;
        e->joins[i].role = exists ? role : STORE_ROLE_NONE;
    }
    return 0;
}

/* The generation first: what is read after it is at least that new. */
static int run_check(store *st, store_task *base)
{
    chk_task *k = (chk_task *)base;
    int rc = store_auth_generation(st, &k->gen);
    for (size_t i = 0; rc == 0 && !k->poll && i < k->n; i++)
        rc = check_conn(st, &k->conns[i]);
    return rc;
}

/* ---- on the lws thread */

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const chk_conn *)a)->id, y = ((const chk_conn *)b)->id;
    return x < y ? -1 : x > y;
}

static int copy_conn(chk_conn *e, const srv_conn *c)
{
    e->id = c->id;
    e->user_id = c->user_id;
    memcpy(e->hash, c->login_hash, sizeof e->hash);
    if (c->njoins && !(e->joins = calloc((size_t)c->njoins, sizeof *e->joins)))
        return -1;
    for (int j = 0; j < c->njoins; j++, e->njoins++) {
        snprintf(e->joins[j].doc, sizeof e->joins[j].doc, "%s",
                 srv_session_id(c->joins[j].sess));
        if (c->joins[j].share && !(e->joins[j].share = strdup(c->joins[j].share)))
            return -1;
    }
    return 0;
}

/* Copy the identity of every connection that has one. 0 or -1 (ENOMEM). */
static int snapshot(chk_task *k)
{
    size_t cap = 0;
    for (srv_conn *c = srv__g.conns; c; c = c->next)
        if (c->hello && (c->user_id || c->njoins)) cap++;
    if (cap && !(k->conns = calloc(cap, sizeof *k->conns))) return -1;
    for (srv_conn *c = srv__g.conns; c && k->n < cap; c = c->next) {
        if (!c->hello || !(c->user_id || c->njoins)) continue;
        if (copy_conn(&k->conns[k->n++], c) < 0) return -1;
    }
    if (k->n) qsort(k->conns, k->n, sizeof *k->conns, by_id);
    return 0;
}

static void end_login(srv_conn *c)
{
    srv_info("closing %s (%s): its login ended", c->client, c->ip);
    srv_conn_error(c, "unauthorized", "your login ended: log in again", NULL, -1);
    srv_conn_close(c, SRV_CLOSE_SESSION_ENDED, "session ended");
}

static int same_share(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void apply_conn(srv_conn *c, const chk_conn *e)
{
    if (c->close_code) return;
    if (e->ended) {
        end_login(c);
        return;
    }
    if (c->user_id) c->admin = e->admin;
    for (int i = 0; i < e->njoins; i++) {
        const chk_join *cj = &e->joins[i];
        srv_join *j = srv_conn_find_join(c, cj->doc);
        if (!j || !same_share(j->share, cj->share)) continue; /* joined anew */
        if (cj->role > STORE_ROLE_NONE) {
            int was = j->role;
            j->role = cj->role;
            if (was >= STORE_ROLE_EDITOR && cj->role < STORE_ROLE_EDITOR)
                srv_conn_error(c, "forbidden", "you may only read this document now",
                               cj->doc, -1);
            continue;
        }
        srv_conn_error(c, "access_revoked",
                       "your access to this document was taken away", cj->doc, -1);
        srv_session_leave(j->sess, c);
    }
}

static void apply(const chk_task *k)
{
    for (srv_conn *c = srv__g.conns; c && k->n; c = c->next) {
        chk_conn key;
        key.id = c->id;
        const chk_conn *e = bsearch(&key, k->conns, k->n, sizeof *e, by_id);
        if (e) apply_conn(c, e);
    }
}

static void start_check(int poll);

static void check_done(srv_task *t)
{
    chk_task *k = (chk_task *)t;
    srv_rights *r = &srv__g.rights;
    int rc = t->base.result;
    int moved = rc == 0 && (!r->have_gen || k->gen != r->gen);
    r->busy = 0;
    if (rc < 0) {
        srv_warn("re-checking rights failed: %s (again in a second)",
                 store_strerror(rc));
    } else if (!k->poll) {
        apply(k);
        r->gen = k->gen; /* what was read after it reflects every change */
        r->have_gen = 1;
    }
    int again = r->again || (k->poll && moved);
    chk_free(k);
    r->again = 0;
    if (again) start_check(0);
}

/* Submit a poll (only the generation) or a whole re-check. On failure
 * nothing is out, and the generation not marked seen: the next tick
 * tries again. */
static void start_check(int poll)
{
    srv_rights *r = &srv__g.rights;
    chk_task *k = calloc(1, sizeof *k);
    if (!k || (!poll && snapshot(k) < 0)) {
        srv_warn("re-checking rights: out of memory (again in a second)");
        chk_free(k);
        return;
    }
    k->poll = poll;
    k->t.base.light = poll; /* once a second: not work that keeps caches */
    k->t.base.run = run_check;
    k->t.done = check_done;
    if (srv_task_submit(&k->t) < 0) {
        chk_free(k);
        return;
    }
    r->busy = 1;
    if (!poll) r->seq++;
}

void srv_rights_changed(void)
{
    if (!srv_auth_team()) return;
    if (srv__g.rights.busy) srv__g.rights.again = 1;
    else start_check(0);
}

void srv__rights_tick(uint64_t now_ms)
{
    if (!srv_auth_team()) return;
    for (srv_conn *c = srv__g.conns; c; c = c->next)
        if (c->user_id && c->login_expires_ms > 0 && !c->close_code &&
            (uint64_t)c->login_expires_ms <= now_ms)
            end_login(c);
    if (!srv__g.rights.busy) start_check(1);
}

int srv_rights_stale(uint64_t seq)
{
    return srv_auth_team() && seq != srv__g.rights.seq;
}
