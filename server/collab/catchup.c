/* catchup.c -- a session among other writers of the same store.
 *
 * On one node the session is the only writer of its document, so the
 * version it gives an op is always free. With several nodes on one shared
 * store (cluster mode) another node can take it first: the writer then
 * answers the APPEND with STORE_ECONFLICT and refuses every later APPEND of
 * the document until a 'fresh' one (store.h), so nothing made on top of
 * the refused op lands on someone else's.
 *
 * The session then catches up: new ops are held in the window, unqueued;
 * once no APPEND is out, a pool task reads the ops after 'committed';
 * back here they are applied in version order, relayed to every member
 * like any commit, and the held ops (everything after 'committed') are
 * transformed over them (the store's order wins ties, as for any op that
 * arrives late) and queued again, the first one fresh. Nothing is acked
 * before its commit, so a client never sees a version the store does not
 * hold. The same catch-up runs when told that another node committed
 * (srv_docs_poke: a bus message, or a poll). A document that keeps
 * changing under the session fails it after MAX_CONFLICTS rounds without a
 * commit of its own; its members rejoin and resend, and the store's
 * (client, seq) dedup keeps each op once.
 *
 * One case fails the session rather than being merged: the store holds an
 * op with the (client, seq) of one of the held ops (the client gave up on
 * this node and resent it to another, which committed it). The held copy
 * was made on top of ops the stored one may not have been; rejoining
 * resolves it exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/collab/session.h"

#define CATCHUP_MAX 1000          /* ops read per round */
#define HEARD_MAX 1024            /* bus ops kept for a catch-up */
#define MAX_CONFLICTS 100

typedef struct catchup_task {
    srv_task t;
    srv_session *sess;
    char doc[65];
    int64_t after;
    store_oprec *recs;
    size_t n;
} catchup_task;

static int run_catchup(store *st, store_task *base)
{
    catchup_task *ct = (catchup_task *)base;
    return store_ops_after(st, ct->doc, ct->after, CATCHUP_MAX, &ct->recs,
                           &ct->n);
}

static void catchup_done(srv_task *t);

static void caught_up(srv_session *s, const store_oprec *recs, size_t n,
                      int more);

/* ---- ops heard on the bus and not applied yet (versions ahead of
 * 'committed', or heard while the session had its own ops out): a
 * catch-up takes them from here when they follow 'committed' without a
 * gap, and reads the store only for what is missing. */

static void heard_free(sess_heard *h)
{
    free(h->mem);
}

/* Keep a copy of 'r' (at most HEARD_MAX; best effort). */
static void hear(srv_session *s, const store_oprec *r)
{
    for (int i = 0; i < s->nheard; i++)
        if (s->heard[i].rec.version == r->version) return;
    if (s->nheard == HEARD_MAX) return;
    if (s->nheard == s->heardcap) {
        int cap = s->heardcap ? 2 * s->heardcap : 8;
        sess_heard *n = realloc(s->heard, (size_t)cap * sizeof *n);
        if (!n) return;
        s->heard = n;
        s->heardcap = cap;
    }
    size_t lo = strlen(r->op) + 1, lc = strlen(r->client) + 1,
           lu = strlen(r->user) + 1;
    char *mem = malloc(lo + lc + lu);
    if (!mem) return;
    memcpy(mem, r->op, lo);
    memcpy(mem + lo, r->client, lc);
    memcpy(mem + lo + lc, r->user, lu);
    sess_heard *h = &s->heard[s->nheard++];
    h->mem = mem;
    h->rec = (store_oprec){s->id, r->version, mem, mem + lo, r->seq,
                           mem + lo + lc, r->time_ms};
}

static int by_version(const void *a, const void *b)
{
    int64_t x = ((const sess_heard *)a)->rec.version;
    int64_t y = ((const sess_heard *)b)->rec.version;
    return x < y ? -1 : x > y;
}

/* Catch up from what was heard: 1 if it did (the session may then be
 * failed and freed), 0 when the next version was not heard. */
static int catch_up_heard(srv_session *s)
{
    int keep = 0;
    for (int i = 0; i < s->nheard; i++) {   /* forget what is known */
        if (s->heard[i].rec.version > s->committed) s->heard[keep++] = s->heard[i];
        else heard_free(&s->heard[i]);
    }
    s->nheard = keep;
    if (s->nheard == 0) return 0;
    qsort(s->heard, (size_t)s->nheard, sizeof *s->heard, by_version);
    /* the run that follows 'committed'; a heard op that does not apply
     * there (a message that lies) ends it and is dropped: the store says */
    int n = 0;
    size_t len = srv__sess_len_at(s, s->committed);
    while (n < s->nheard && s->heard[n].rec.version == s->committed + 1 + n) {
        ot_op *op = NULL;
        const char *w = s->heard[n].rec.op;
        if (ot_op_parse(&op, w, strlen(w)) < 0 || ot_op_base_len(op) > len) {
            ot_op_free(op);
            heard_free(&s->heard[n]);
            s->heard[n] = s->heard[--s->nheard];
            break;
        }
        size_t ins = 0, del = 0;
        ot_op_stats(op, &ins, &del);
        len = len - del + ins;
        ot_op_free(op);
        n++;
    }
    if (n == 0) return 0;
    sess_heard *run = malloc((size_t)n * sizeof *run);
    store_oprec *recs = malloc((size_t)n * sizeof *recs);
    if (!run || !recs) {
        free(run);
        free(recs);
        return 0;
    }
    memcpy(run, s->heard, (size_t)n * sizeof *run);
    memmove(s->heard, s->heard + n, (size_t)(s->nheard - n) * sizeof *run);
    s->nheard -= n;
    for (int i = 0; i < n; i++) recs[i] = run[i].rec;
    s->poked = 0;
    s->docs->stats.heard_catchups++;
    caught_up(s, recs, (size_t)n, 0); /* may free s */
    for (int i = 0; i < n; i++) heard_free(&run[i]);
    free(run);
    free(recs);
    return 1;
}

static void start(srv_session *s)
{
    /* after a lost race the bus may lag the store: from the second race
     * lost in a row on, read the store (it has everything committed) */
    if (s->conflicts < 1 && catch_up_heard(s)) return;
    catchup_task *ct = calloc(1, sizeof *ct);
    if (!ct) {
        srv__sess_fail(s, "cannot catch up with the store (out of memory)");
        return;
    }
    ct->sess = s;
    snprintf(ct->doc, sizeof ct->doc, "%s", s->id);
    ct->after = s->committed;
    ct->t.base.run = run_catchup;
    ct->t.done = catchup_done;
    if (srv__sess_env(s)->read(srv__sess_env(s)->io, &ct->t) < 0) {
        free(ct);
        srv__sess_fail(s, "cannot catch up with the store (pool refused)");
        return;
    }
    s->poked = 0;
    s->held = 1;        /* nothing may commit while the read is out */
    s->catching_up = 1;
    s->docs->stats.catchups++;
    s->inflight++;
}

void srv__sess_catchup_maybe(srv_session *s)
{
    if (s->poked && !s->catching_up && s->appending == 0 &&
        s->state == SESS_READY && !s->dead)
        start(s);
}

void srv_docs_stats_get(const srv_docs *d, srv_docs_stats *out)
{
    *out = d->stats;
}

void srv__sess_conflict(srv_session *s)
{
    s->held = 1;
    s->poked = 1;
    srv__sess_catchup_maybe(s);
}

int srv_docs_poke(srv_docs *d, const char *doc)
{
    srv_session *s = srv_map_get(&d->sessions, doc);
    if (!s || s->state != SESS_READY) return 0;
    srv__sess_conflict(s);
    return 1;
}

void srv_docs_poke_all(srv_docs *d)
{
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);)
        srv_docs_poke(d, k);
}

/* The op of 'r' if it can be the session's next version: parsed, its
 * base length that of the text; NULL if not (nothing changed). */
static ot_op *next_op(srv_session *s, const store_oprec *r)
{
    ot_op *op = NULL;
    if (r->version != s->committed + 1 ||
        ot_op_parse(&op, r->op, strlen(r->op)) < 0)
        return NULL;
    if (ot_op_base_len(op) > s->len) {
        ot_op_free(op);
        return NULL;
    }
    return op;
}

/* Apply 'op' (taken), the op of 'r', the next version, as a commit of
 * another writer: window, text, members, cursors. NULL, or why the session
 * must fail. */
static const char *apply_one(srv_session *s, const store_oprec *r, ot_op *op)
{
    const srv_doc_env *env = srv__sess_env(s);
    sess_op o;
    size_t ins = 0, del = 0;
    ot_op_stats(op, &ins, &del);
    memset(&o, 0, sizeof o);
    o.op = op;
    o.wire = strdup(r->op);
    snprintf(o.client, sizeof o.client, "%s", r->client);
    snprintf(o.user, sizeof o.user, "%s", r->user);
    o.seq = r->seq;
    o.time_ms = r->time_ms;
    o.t_recv = env->now_s();
    o.len_after = s->len - del + ins;
    if (!o.wire || srv_ring_push(&s->win, &o) < 0) {
        free(o.wire);
        ot_op_free(op);
        return "out of memory";
    }
    s->version++;
    s->docs->stats.remote_ops++;
    if (ot_doc_apply(s->doc, op) < 0) return "out of memory";
    s->committed++;
    s->len = o.len_after;
    srv__sess_broadcast(s, srv_wire_op(s->id, r->version, r->op, r->client,
                                       r->seq, r->user), NULL);
    srv__sess_move_cursors(s, op, r->client);
    return NULL;
}

/* A stored op in the catch-up: NULL, or why the session must fail. */
static const char *apply_stored(srv_session *s, const store_oprec *r,
                                sess_op *held, size_t nheld)
{
    if (r->version != s->committed + 1) {
        srv_warn("document %s: the store gave version %lld after %lld",
                 s->id, (long long)r->version, (long long)s->committed);
        return "a gap in the stored log";
    }
    for (size_t i = 0; i < nheld; i++)
        if (held[i].client[0] != '@' && held[i].seq == r->seq &&
            strcmp(held[i].client, r->client) == 0)
            return "an op was committed by another node while held here";
    ot_op *op = next_op(s, r);
    if (!op) return "a stored op does not apply";
    return apply_one(s, r, op);
}

int srv_docs_remote(srv_docs *d, const store_oprec *r)
{
    srv_session *s = srv_map_get(&d->sessions, r->doc);
    if (!s || s->state != SESS_READY) return 0;
    if (r->version <= s->committed) return 1;
    s->yield_ms = 0;    /* a yield ends with the next op heard: catch up */
    ot_op *op = NULL;
    if (!s->held && !s->poked && !s->catching_up && s->appending == 0 &&
        s->version == s->committed && (op = next_op(s, r))) {
        const char *why = apply_one(s, r, op);
        if (why) srv__sess_fail(s, why);
        else srv__sess_win_evict(s);
        return 1;
    }
    hear(s, r);
    srv__sess_conflict(s);
    return 1;
}

/* ---- taking turns: a node that appends back to back wins every race
 * (its next batch is on its way while the loser reads what it missed), so
 * the loser asks it to hold (collab.h: srv_docs_remote_yield) */

#define YIELD_MAX_MS 1000         /* the asking node's op was lost: go on */

void srv__sess_lost_race(srv_session *s)
{
    const srv_doc_env *env = srv__sess_env(s);
    if (s->conflicts >= 1 && env->out->yield_rec)
        env->out->yield_rec(env->out_arg, s->id);
}

int srv_docs_remote_yield(srv_docs *d, const char *doc)
{
    srv_session *s = srv_map_get(&d->sessions, doc);
    if (!s || s->state != SESS_READY) return 0;
    if (s->yield_ms) return 1;  /* not extended: asking again and again
                                   must not hold a node for ever */
    d->stats.yields++;
    s->held = 1;
    s->yield_ms = d->env.mono_ms();
    if (s->yield_ms == 0) s->yield_ms = 1;
    return 1;
}

int srv__sess_yield_tick(srv_session *s, uint64_t now_ms)
{
    if (s->yield_ms == 0 || now_ms - s->yield_ms < YIELD_MAX_MS) return 0;
    s->yield_ms = 0;
    srv__sess_conflict(s);   /* read the store, queue the held ops again */
    return 1;
}

/* Versions after 'from' moved up by 'k' (the held ops, renumbered): the
 * clients' last versions and the HTTP waiters follow. */
static void renumber(srv_session *s, int64_t from, int64_t k)
{
    const char *key;
    void *val;
    for (size_t i = 0; srv_map_next(&s->clients, &i, &key, &val);) {
        sess_client *ce = val;
        if (ce->pending && ce->last_version > from) ce->last_version += k;
    }
    for (sess_submit *w = s->waiters; w; w = w->next)
        if (w->version > from) w->version += k;
}

/* Take the held ops (versions committed+1..version) out of the window
 * into a new array (*n of them); NULL with *n = 0 when there are none or
 * on ENOMEM (*oom set). */
static sess_op *take_held(srv_session *s, size_t *n, int *oom)
{
    *n = (size_t)(s->version - s->committed);
    *oom = 0;
    if (*n == 0) return NULL;
    sess_op *h = malloc(*n * sizeof *h);
    if (!h) {
        *oom = 1;
        *n = 0;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++)
        h[i] = *srv__sess_win_at(s, s->committed + 1 + (int64_t)i);
    for (size_t i = 0; i < *n; i++) srv_ring_unpush(&s->win);
    s->version = s->committed;
    s->len = srv__sess_len_at(s, s->committed);
    return h;
}

/* Held ops that will not be put back: their submitters are told, then
 * they are freed. */
static void drop_held(sess_op *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (h[i].done) h[i].done(h[i].done_arg, STORE_EIO, 0);
        ot_op_free(h[i].op);
        ot_op_free(h[i].orig);
        free(h[i].wire);
    }
}

/* Put the held op 'h' back as the next version, made again from h->orig.
 * NULL (h is in the window now), or why the session must fail (h is still
 * the caller's). */
static const char *put_back(srv_session *s, sess_op *h)
{
    ot_op *op = NULL;
    char *wire = NULL;
    if (h->made_on < s->base)
        return "a held op is older than the history window";
    if (!(op = ot_op_clone(h->orig))) return "out of memory";
    size_t ins = 0, del = 0;
    if (srv__sess_rebase(s, &op, h->made_on) < 0 ||
        ot_op_base_len(op) > s->len) {
        ot_op_free(op);
        return "cannot transform a held op";
    }
    if (!(wire = ot_op_dumps(op))) {
        ot_op_free(op);
        return "out of memory";
    }
    ot_op_stats(op, &ins, &del);
    sess_op o = *h;
    o.op = op;
    o.wire = wire;
    o.out = 0;
    o.len_after = s->len - del + ins;
    /* an op without a client (@server, @http) takes its version as seq,
     * which keeps (doc, client, seq) unique across nodes too */
    if (o.client[0] == '@') o.seq = s->version + 1;
    if (srv_ring_push(&s->win, &o) < 0) {
        ot_op_free(op);
        free(wire);
        return "out of memory";
    }
    ot_op_free(h->op);
    free(h->wire);
    s->version++;
    s->len = o.len_after;
    return NULL;
}

static void caught_up(srv_session *s, const store_oprec *recs, size_t n,
                      int more);

static void catchup_done(srv_task *t)
{
    catchup_task *ct = (catchup_task *)t;
    srv_session *s = ct->sess;
    int rc = t->base.result;
    s->inflight--;
    s->catching_up = 0;
    if (s->state != SESS_READY) {
        store_oprecs_free(ct->recs);
        free(ct);
        if (s->dead) srv__sess_retire(s);
        return;
    }
    if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "cannot catch up with the store: %s",
                 store_strerror(rc));
        store_oprecs_free(ct->recs);
        free(ct);
        srv__sess_fail(s, msg);
        return;
    }
    caught_up(s, ct->recs, ct->n, ct->n == CATCHUP_MAX); /* may free s */
    store_oprecs_free(ct->recs);
    free(ct);
}

/* Apply recs[0..n) (the versions after 'committed', in order: read from
 * the store or heard on the bus), put the held ops back after them and
 * queue them again; 'more': the store may hold more (read again first).
 * The session may be failed and freed on return. */
static void caught_up(srv_session *s, const store_oprec *recs, size_t n,
                      int more)
{
    const char *why = NULL;
    size_t nheld = 0;
    int oom = 0;
    int64_t from = s->committed;
    sess_op *held = take_held(s, &nheld, &oom);
    if (oom) why = "out of memory";
    for (size_t i = 0; !why && i < n; i++)
        why = apply_stored(s, &recs[i], held, nheld);
    more = more && !why;
    /* the held ops go back after the caught-up ones, each made again from
     * the op its client sent, over everything after the version it was
     * made on, exactly as if it arrived now (a client transforms its own
     * pending op over the ops it receives, in the log's order: anything
     * else could differ from what it computes); on failure those not back
     * are told */
    size_t back = 0;
    while (!why && back < nheld)
        if (!(why = put_back(s, &held[back]))) back++;
    if (why) {
        drop_held(held + back, nheld - back);
        free(held);
        srv__sess_fail(s, why);
        return;
    }
    free(held);
    renumber(s, from, s->committed - from);
    srv__sess_win_evict(s);
    if (more) {                   /* more to read before queueing again */
        s->poked = 1;
        srv__sess_catchup_maybe(s);
        return;
    }
    if (nheld && ++s->conflicts > MAX_CONFLICTS) {
        srv__sess_fail(s, "the document kept changing under this node");
        return;
    }
    if (s->yield_ms) return; /* another node's turn: queued once it commits */
    s->held = 0;
    s->fresh = 1;
    for (int64_t v = s->version - (int64_t)nheld + 1; v <= s->version; v++)
        if (srv__sess_submit_append(s, v) < 0) {
            srv__sess_fail(s, "cannot queue the held ops again");
            return;
        }
    srv__sess_catchup_maybe(s);   /* poked again meanwhile */
}

/* ---- presence across nodes */

void srv__sess_publish_presence(srv_session *s, sess_member *m, int left)
{
    const srv_doc_env *env = srv__sess_env(s);
    if (!env->out->presence_rec) return;
    srv_presence_rec p = {s->id, "", m->client, M_NAME(m), M_COLOR(m),
                          s->committed, left ? 0 : m->has_cursor, left,
                          m->anchor, m->head};
    env->out->presence_rec(env->out_arg, &p);
}

static srv_msg *remote_msg(srv_session *s, const sess_remote *r)
{
    return srv_wire_presence(s->id, r->client, r->name, r->color,
                             s->committed, r->has_cursor, r->anchor, r->head);
}

void srv__sess_send_remotes(srv_session *s, sess_member *m)
{
    for (int i = 0; i < s->nrm; i++)
        srv__sess_send(s, m->h, remote_msg(s, &s->rm[i]), 0);
}

static sess_remote *find_remote(srv_session *s, const char *node,
                                const char *client)
{
    for (int i = 0; i < s->nrm; i++)
        if (strcmp(s->rm[i].client, client) == 0 &&
            strcmp(s->rm[i].node, node) == 0)
            return &s->rm[i];
    return NULL;
}

/* Take remote member 'r' out and tell the members here it left. */
static void remote_left(srv_session *s, sess_remote *r)
{
    srv_msg *left = srv_wire_left(s->id, r->client, r->name, r->color,
                                  s->committed);
    *r = s->rm[--s->nrm];
    srv__sess_broadcast(s, left, NULL);
}

int srv_docs_remote_presence(srv_docs *d, const srv_presence_rec *p)
{
    srv_session *s = srv_map_get(&d->sessions, p->doc);
    if (!s || s->state != SESS_READY) return 0;
    sess_remote *r = find_remote(s, p->node, p->client);
    if (p->left) {
        if (r) remote_left(s, r);
        return 1;
    }
    if (!r) {
        /* the first member here of a node: that node may not know ours
         * either (it loaded the document later): tell it. Once per node,
         * not per member: 200 members joining across two nodes were
         * 20,000 messages. */
        int known = 0;
        for (int i = 0; i < s->nrm && !known; i++)
            known = strcmp(s->rm[i].node, p->node) == 0;
        for (int i = 0; !known && i < s->nm; i++)
            if (s->m[i].ready) srv__sess_publish_presence(s, &s->m[i], 0);
        if (s->nrm == s->rmcap) {
            int cap = s->rmcap ? 2 * s->rmcap : 4;
            sess_remote *n = realloc(s->rm, (size_t)cap * sizeof *n);
            if (!n) return 1; /* presence is best effort */
            s->rm = n;
            s->rmcap = cap;
        }
        r = &s->rm[s->nrm++];
        memset(r, 0, sizeof *r);
        snprintf(r->client, sizeof r->client, "%s", p->client);
        snprintf(r->node, sizeof r->node, "%s", p->node);
    }
    snprintf(r->name, sizeof r->name, "%s", p->name);
    snprintf(r->color, sizeof r->color, "%s", p->color);
    uint32_t anchor = p->anchor, head = p->head;
    /* the cursor was at the other node's version: move it over what came
     * after, when that is in the window (else it is kept as said) */
    for (int64_t v = p->version + 1;
         p->has_cursor && p->version >= s->base && v <= s->committed; v++) {
        sess_op *o = srv__sess_win_at(s, v);
        int side = strcmp(o->client, p->client) == 0 ? OT_RIGHT : OT_LEFT;
        anchor = (uint32_t)ot_transform_pos(anchor, o->op, side);
        head = (uint32_t)ot_transform_pos(head, o->op, side);
    }
    size_t len = ot_doc_len(s->doc);
    r->has_cursor = p->has_cursor;
    r->anchor = anchor > len ? (uint32_t)len : anchor;
    r->head = head > len ? (uint32_t)len : head;
    srv__sess_broadcast(s, remote_msg(s, r), NULL);
    return 1;
}

void srv_docs_node_gone(srv_docs *d, const char *node)
{
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        for (int j = s->nrm - 1; j >= 0; j--)
            if (strcmp(s->rm[j].node, node) == 0) remote_left(s, &s->rm[j]);
    }
}

void srv_docs_presence_again(srv_docs *d)
{
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        for (int j = 0; s->state == SESS_READY && j < s->nm; j++)
            if (s->m[j].ready) srv__sess_publish_presence(s, &s->m[j], 0);
    }
}
