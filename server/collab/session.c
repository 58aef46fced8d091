/* session.c -- one session per open document: it orders concurrent ops,
 * persists them through the group-commit writer, and acks and broadcasts
 * them once they are on disk. Everything outside it comes through its
 * environment (collab.h: srv_doc_env): the writer and pool submits, the
 * clocks, the config, and the output table through which members are told
 * things; the messages come from wire.c.
 *
 * Versions: ops 1..committed are on disk and applied to s->doc; ops
 * committed+1..version are accepted and queued to the writer, not yet
 * visible to anyone. The window (a ring) holds the ops base+1..version for
 * transforms and catch-up. An incoming op made on version v is transformed
 * over the window ops v+1..version (the server's order wins ties), checked
 * against the length at 'version', and queued; when the writer reports its
 * commit, in version order, it is applied to s->doc, acked to its author and
 * broadcast to every other member. So what any client sees is durable, and
 * every client sees a document's ops in version order.
 *
 * Loading a document and joining members is join.c's, ops without a
 * member (server-made, HTTP) are submit.c's (session.h holds what they
 * share).
 *
 * A failed commit (disk full, I/O error) fails the session: its members get
 * server_error and are no longer joined; the next join loads the document
 * again from disk, so nobody ever sees a state the disk does not hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/collab/session.h"

static void submit_snapshot(srv_session *s);

/* ---- small helpers */

const char *srv_session_id(const srv_session *s)
{
    return s->id;
}

int64_t srv_session_version(const srv_session *s)
{
    return s->committed;
}

srv_session *srv_docs_get(srv_docs *d, const char *doc)
{
    return srv_map_get(&d->sessions, doc);
}

size_t srv_docs_count(const srv_docs *d)
{
    return d ? d->sessions.len : 0;
}





static sess_member *member_by_client(srv_session *s, const char *client)
{
    for (int i = 0; i < s->nm; i++)
        if (strcmp(s->m[i].client, client) == 0) return &s->m[i];
    return NULL;
}

/* ---- outputs: each takes the message it is given (NULL: out of memory) */

void srv__sess_send(srv_session *s, void *h, srv_msg *m, int whole)
{
    srv__sess_env(s)->out->send(h, m, whole);
    srv_msg_unref(m);
}

void srv__sess_error(srv_session *s, void *h, const char *code,
                       const char *message, int64_t seq)
{
    srv__sess_env(s)->out->error(h, code, message, s->id, seq);
}

static void send_ack(srv_session *s, void *h, int64_t seq, int64_t version)
{
    srv__sess_send(s, h, srv_wire_ack(s->id, seq, version), 0);
}

/* Send 'out' (stolen) to every ready member but 'except'. */
void srv__sess_broadcast(srv_session *s, srv_msg *out, void *except)
{
    if (!out) return;
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].ready && s->m[i].h != except)
            srv__sess_env(s)->out->relay(s->m[i].h, out);
    srv_msg_unref(out);
}

/* A new reference to m's presence message (NULL on ENOMEM). */
srv_msg *srv__sess_presence(srv_session *s, sess_member *m)
{
    if (!m->pres || m->pres_version != s->committed) {
        srv_msg_unref(m->pres);
        m->pres = srv_wire_presence(s->id, m->client, M_NAME(m), M_COLOR(m),
                                    s->committed, m->has_cursor, m->anchor,
                                    m->head);
        m->pres_version = s->committed;
        if (!m->pres) return NULL;
    }
    m->pres->refs++;
    return m->pres;
}

/* ---- lifetime */

static void free_submits(srv_session *s)
{
    while (s->submits) {
        sess_submit *sub = s->submits;
        s->submits = sub->next;
        ot_op_free(sub->op);
        free(sub);
    }
    srv__sess_run_waiters(s, 0, STORE_EIO);
}

static void session_free(srv_session *s)
{
    while (s->win.len) {
        sess_op o;
        srv_ring_pop(&s->win, &o);
        ot_op_free(o.op);
        ot_op_free(o.orig);
        free(o.wire);
    }
    srv_ring_free(&s->win);
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&s->clients, &i, &k, &val);) free(val);
    srv_map_clear(&s->clients);
    free_submits(s);
    ot_doc_free(s->doc);
    free(s->m);
    free(s->rm);
    for (int i = 0; i < s->nheard; i++) free(s->heard[i].mem);
    free(s->heard);
    free(s);
}

/* Out of the table (a later join loads afresh); freed when nothing holds it. */
void srv__sess_retire(srv_session *s)
{
    if (!s->dead) {
        if (srv_map_get(&s->docs->sessions, s->id) == s)
            srv_map_del(&s->docs->sessions, s->id);
        s->dead = 1;
    }
    if (s->inflight == 0 && s->nm == 0) session_free(s);
}

void srv__sess_drop(srv_session *s, int i)
{
    void *h = s->m[i].h;
    srv_msg_unref(s->m[i].pres);
    free(s->m[i].client);
    s->m[i] = s->m[--s->nm];
    if (s->nm == 0) s->empty_since = srv__sess_env(s)->mono_ms();
    srv__sess_env(s)->out->drop(h, s);
}

/* Tell the member why and let it go. */
void srv__sess_refuse(srv_session *s, sess_member *m, const char *code,
                          const char *why)
{
    srv__sess_error(s, m->h, code, why, -1);
    srv__sess_drop(s, (int)(m - s->m));
}

/* Tell every member the document is gone from under them, and let go. */
void srv__sess_end(srv_session *s, const char *code, const char *why)
{
    s->state = SESS_FAILED;
    /* ops held for a catch-up never reach the writer: tell their
     * submitters now (those out are told when they come back) */
    for (int64_t v = s->committed + 1; v <= s->version; v++) {
        sess_op *o = srv__sess_win_at(s, v);
        if (!o->out && o->done) o->done(o->done_arg, STORE_EIO, 0);
        if (!o->out) o->done = NULL;
    }
    srv__sess_run_submits(s); /* each is told of the failure */
    srv__sess_run_waiters(s, 0, STORE_EIO);
    while (s->nm > 0) srv__sess_refuse(s, &s->m[s->nm - 1], code, why);
    srv__sess_retire(s);
}

void srv__sess_fail(srv_session *s, const char *why)
{
    srv_err("document %s: %s; its clients must rejoin", s->id, why);
    srv__sess_end(s, "server_error", why);
}

int srv_docs_close(srv_docs *d, const char *doc, const char *code,
                   const char *message)
{
    srv_session *s = srv_map_get(&d->sessions, doc);
    if (!s) return 0;
    int n = s->nm;
    srv__sess_end(s, code, message);
    return n;
}

int srv_docs_retitle(srv_docs *d, const char *doc, const char *title)
{
    srv_session *s = srv_map_get(&d->sessions, doc);
    if (!s || s->nm == 0) return 0;
    srv_msg *m = srv_wire_title(doc, title);
    if (!m) return -1;
    int n = s->nm;
    srv__sess_broadcast(s, m, NULL);
    return n;
}

static void submit_snapshot(srv_session *s)
{
    snap_job *j = calloc(1, sizeof *j);
    size_t bytes = 0;
    if (!j || !(j->text = ot_doc_text(s->doc, &bytes))) {
        free(j);
        return; /* a snapshot is an optimisation: the log is whole */
    }
    snprintf(j->doc, sizeof j->doc, "%s", s->id);
    j->job.kind = STORE_JOB_SNAPSHOT;
    j->job.snap.doc = j->doc;
    j->job.snap.version = s->committed;
    j->job.snap.text = j->text;
    j->job.snap.bytes = bytes;
    if (srv__sess_env(s)->write(srv__sess_env(s)->io, &j->job) < 0) {
        free(j->text);
        free(j);
        return;
    }
    s->last_snapshot = s->committed;
    s->ops_bytes = 0;
}

/* ---- ops */

void srv__sess_win_evict(srv_session *s)
{
    while (s->committed - s->base > s->docs->env.history_window) {
        sess_op o;
        srv_ring_pop(&s->win, &o);
        s->base_len = o.len_after;
        ot_op_free(o.op);
        free(o.wire);
        s->base++;
    }
    assert(s->win.len == (size_t)(s->version - s->base));
}

/* A (client, seq) already seen: ack again with its version when committed;
 * when still queued, its commit will ack the client's current connection. */
static void resent(srv_session *s, sess_member *m, sess_client *ce, int64_t seq)
{
    if (seq == ce->last_seq) {
        if (!ce->pending) send_ack(s, m->h, seq, ce->last_version);
        return;
    }
    for (int64_t v = s->committed; v > s->base; v--) {
        sess_op *o = srv__sess_win_at(s, v);
        if (o->seq == seq && strcmp(o->client, m->client) == 0) {
            send_ack(s, m->h, seq, v);
            return;
        }
    }
    srv__sess_error(s, m->h, "bad_message", "seq is older than this client's last op",
               seq);
}

/* Transform 'op' (made on version v) over the window ops after v. */
int srv__sess_rebase(srv_session *s, ot_op **op, int64_t v)
{
    for (int64_t u = v + 1; u <= s->version; u++) {
        ot_op *t = NULL;
        int rc = ot_transform(&t, *op, srv__sess_win_at(s, u)->op, OT_RIGHT);
        if (rc < 0) return rc;
        ot_op_free(*op);
        *op = t;
    }
    return 0;
}

/* Give the window op at version v to the writer as an APPEND. 0, or -1
 * on ENOMEM or a refusing writer. */
int srv__sess_submit_append(srv_session *s, int64_t v)
{
    const srv_doc_env *env = srv__sess_env(s);
    sess_op *o = srv__sess_win_at(s, v);
    commit_job *j = calloc(1, sizeof *j);
    if (!j) return -1;
    j->sess = s;
    snprintf(j->client, sizeof j->client, "%s", o->client);
    snprintf(j->user, sizeof j->user, "%s", o->user);
    j->job.kind = STORE_JOB_APPEND;
    j->job.fresh = s->fresh;
    j->job.rec.doc = s->id;
    j->job.rec.version = v;
    j->job.rec.op = o->wire;
    j->job.rec.client = j->client;
    j->job.rec.seq = o->seq;
    j->job.rec.user = j->user;
    j->job.rec.time_ms = o->time_ms;
    if (env->write(env->io, &j->job) < 0) {
        free(j);
        return -1;
    }
    s->fresh = 0;
    s->inflight++;
    s->appending++;
    o->out = 1;
    return 0;
}

/* Queue 'op' (taken on success) as version s->version + 1, of 'len_after'
 * code points: to the writer, or held in the window while the session
 * catches up with another node (catchup.c). 0, or -1 on ENOMEM or a
 * refusing writer (nothing changed). */
int srv__sess_queue_op(srv_session *s, const char *client, const char *user,
                       int64_t seq, ot_op *op, ot_op *orig, int64_t made_on,
                       size_t len_after, srv_submit_done done, void *arg)
{
    const srv_doc_env *env = srv__sess_env(s);
    sess_op o;
    memset(&o, 0, sizeof o);
    if (!(o.wire = ot_op_dumps(op))) return -1;
    o.op = op;
    o.orig = orig;
    o.made_on = made_on;
    o.done = done;
    o.done_arg = arg;
    snprintf(o.client, sizeof o.client, "%s", client);
    snprintf(o.user, sizeof o.user, "%s", user);
    o.seq = seq;
    o.time_ms = (int64_t)env->wall_ms();
    o.t_recv = env->now_s();
    o.len_after = len_after;
    if (srv_ring_push(&s->win, &o) < 0) {
        free(o.wire);
        return -1;
    }
    s->version++;
    if (!s->held && srv__sess_submit_append(s, s->version) < 0) {
        srv_ring_unpush(&s->win); /* nothing else moved */
        s->version--;
        free(o.wire);
        return -1;
    }
    s->len = len_after;
    return 0;
}

/* Code points of the text at 'version' (base <= version <= s->version). */
size_t srv__sess_len_at(srv_session *s, int64_t version)
{
    return version == s->base ? s->base_len : srv__sess_win_at(s, version)->len_after;
}

/* Why an op of 'm' on 'version' cannot even be looked at (code and
 * message), or NULL. A resend is answered here (*done set). */
static const char *op_refusal(srv_session *s, sess_member *m, sess_client *ce,
                              int64_t version, int64_t seq, const char **msg,
                              int *done)
{
    *done = 0;
    if (!m || !m->ready || !ce)
        return *msg = "the join has not finished", "not_joined";
    if (s->state != SESS_READY)
        return *msg = "document unavailable", "server_error";
    if (ce->last_seq >= 0 && seq <= ce->last_seq) {
        resent(s, m, ce, seq);
        *done = 1;
        return NULL;
    }
    if (version > s->committed)
        return *msg = "the document is not at that version yet", "version_ahead";
    if (version < s->base)
        return *msg = "base version too old: rejoin with your version", "too_old";
    return NULL;
}

/* Transform and check 'op'; 0 and its length after in *len_after, or -1
 * after answering with an error. */
static int check_op(srv_session *s, void *h, int64_t version, int64_t seq,
                    ot_op **op, size_t span, size_t *len_after)
{
    char why[160];
    /* 'span' counts a trailing retain too, which the decoded op dropped:
     * an op reaching past the end of its document is refused whole. */
    int rc = span > srv__sess_len_at(s, version)
                 ? OT_ERANGE
                 : srv__sess_rebase(s, op, version);
    if (rc == 0 && ot_op_base_len(*op) > s->len) rc = OT_ERANGE;
    if (rc < 0) {
        snprintf(why, sizeof why, "bad op: %s", ot_strerror(rc));
        srv__sess_error(s, h, "bad_op", why, seq);
        return -1;
    }
    size_t ins = 0, del = 0;
    ot_op_stats(*op, &ins, &del);
    if (ins > del && s->len - del + ins > srv__sess_env(s)->max_doc_chars) {
        snprintf(why, sizeof why, "the document would pass its size limit "
                 "(%zu code points)", srv__sess_env(s)->max_doc_chars);
        srv__sess_error(s, h, "too_large", why, seq);
        return -1;
    }
    *len_after = s->len - del + ins;
    return 0;
}

void srv_session_op(srv_session *s, void *h, int64_t version, int64_t seq,
                    ot_op *op, size_t span)
{
    sess_member *m = srv__sess_member(s, h);
    sess_client *ce = m ? srv_map_get(&s->clients, m->client) : NULL;
    const char *msg = NULL;
    int done = 0;
    size_t len_after = 0;
    ot_op *orig = NULL;
    const char *code = op_refusal(s, m, ce, version, seq, &msg, &done);
    if (!code && !done && !(orig = ot_op_clone(op)))
        code = "server_error", msg = "out of memory";
    if (code) srv__sess_error(s, h, code, msg, seq);
    if (code || done ||
        check_op(s, h, version, seq, &op, span, &len_after) < 0) {
        ot_op_free(op);
        ot_op_free(orig);
        return;
    }
    if (srv__sess_queue_op(s, m->client, M_NAME(m), seq, op, orig, version,
                           len_after, NULL, NULL) < 0) {
        srv__sess_error(s, h, "server_error", "cannot queue the op", seq);
        ot_op_free(op);
        ot_op_free(orig);
        return;
    }
    ce->last_seq = seq;
    ce->last_version = s->version;
    ce->pending = 1;
}

/* ---- commits */

void srv__sess_move_cursors(srv_session *s, const ot_op *op, const char *author)
{
    for (int i = 0; i < s->nm; i++) {
        sess_member *m = &s->m[i];
        if (!m->has_cursor) continue;
        int side = strcmp(m->client, author) == 0 ? OT_RIGHT : OT_LEFT;
        m->anchor = (uint32_t)ot_transform_pos(m->anchor, op, side);
        m->head = (uint32_t)ot_transform_pos(m->head, op, side);
    }
    for (int i = 0; i < s->nrm; i++) {
        sess_remote *r = &s->rm[i];
        if (!r->has_cursor) continue;
        int side = strcmp(r->client, author) == 0 ? OT_RIGHT : OT_LEFT;
        r->anchor = (uint32_t)ot_transform_pos(r->anchor, op, side);
        r->head = (uint32_t)ot_transform_pos(r->head, op, side);
    }
}

/* Every snapshot_every ops; but a snapshot writes the whole text, so for a
 * document much larger than the ops since the last one, wait until they
 * add up to a quarter of its length (at most 16 periods): the snapshot cost
 * per op then does not grow with the document, and a load still replays at
 * most a quarter of the text's size in ops. */
static int snapshot_due(const srv_session *s)
{
    int64_t n = s->committed - s->last_snapshot;
    int64_t every = s->docs->env.snapshot_every;
    if (n < every) return 0;
    return n >= 16 * every || s->ops_bytes * 4 >= s->len;
}

static void committed(srv_session *s, commit_job *j)
{
    const srv_doc_env *env = srv__sess_env(s);
    int64_t v = j->job.rec.version;
    assert(v == s->committed + 1);
    sess_op *o = srv__sess_win_at(s, v);
    if (ot_doc_apply(s->doc, o->op) < 0) {
        srv__sess_fail(s, "cannot apply a committed op (out of memory)");
        return;
    }
    s->committed = v;
    s->conflicts = 0;
    ot_op_free(o->orig); /* only a pending op can be made again */
    o->orig = NULL;
    sess_client *ce = srv_map_get(&s->clients, o->client);
    if (ce && ce->last_version == v) ce->pending = 0;
    sess_member *author = member_by_client(s, o->client);
    double ack_s = -1;
    if (author && author->ready) {
        send_ack(s, author->h, o->seq, v);
        ack_s = env->now_s() - o->t_recv;
    }
    env->out->committed(env->out_arg, ack_s);
    if (env->out->commit_rec) {
        store_oprec r = {s->id, v, o->wire, o->client, o->seq, o->user,
                         o->time_ms};
        env->out->commit_rec(env->out_arg, &r);
    }
    if (s->nm > (author ? 1 : 0))
        srv__sess_broadcast(s, srv_wire_op(s->id, v, o->wire, o->client, o->seq, o->user),
                      author ? author->h : NULL);
    srv__sess_move_cursors(s, o->op, o->client);
    if (o->done) o->done(o->done_arg, 0, v);
    o->done = NULL;
    srv__sess_run_waiters(s, v, 0);
    s->ops_bytes += strlen(o->wire);
    if (snapshot_due(s)) submit_snapshot(s);
    srv__sess_win_evict(s);
}

static void snapshot_written(snap_job *sj)
{
    if (sj->job.result < 0)
        srv_warn("snapshot of %s at %lld failed: %s", sj->doc,
                 (long long)sj->job.snap.version, store_strerror(sj->job.result));
    free(sj->text);
    free(sj);
}

static void append_done(commit_job *j)
{
    srv_session *s = j->sess;
    int rc = j->job.result;
    s->inflight--;
    s->appending--;
    if ((rc == STORE_ECONFLICT || rc == STORE_EDUP) &&
        s->state == SESS_READY) {
        /* another writer took the version: hold, catch up, queue again */
        srv__sess_win_at(s, j->job.rec.version)->out = 0;
        s->docs->stats.conflicts++;
        free(j);
        srv__sess_lost_race(s);
        srv__sess_conflict(s);
        return;
    }
    if (rc != 0 || s->state != SESS_READY) {
        /* committed into a failed session: durable all the same */
        sess_op *o = srv__sess_win_at(s, j->job.rec.version);
        if (o->done) o->done(o->done_arg, rc, rc ? 0 : j->job.rec.version);
        o->done = NULL;
    }
    if (s->state == SESS_READY && rc == 0) {
        committed(s, j);
        srv__sess_catchup_maybe(s);
    } else if (s->state == SESS_READY) {
        char why[160];
        snprintf(why, sizeof why, "storage failure: %s", store_strerror(rc));
        sess_member *a = member_by_client(s, j->client);
        if (a) srv__sess_error(s, a->h, "server_error", why, j->job.rec.seq);
        srv__sess_fail(s, why);
    } else if (s->dead) {
        srv__sess_retire(s);
    }
    free(j);
}

void srv_docs_on_commits(srv_docs *d, store_job *done)
{
    (void)d;
    while (done) {
        store_job *next = done->next;
        if (done->kind == STORE_JOB_SNAPSHOT)
            snapshot_written((snap_job *)done);
        else
            append_done((commit_job *)done);
        done = next;
    }
}

/* ---- presence */

void srv_session_presence(srv_session *s, void *h, int64_t version,
                          int has_cursor, uint32_t anchor, uint32_t head)
{
    sess_member *m = srv__sess_member(s, h);
    if (!m || !m->ready) {
        srv__sess_error(s, h, "not_joined", "the join has not finished", -1);
        return;
    }
    if (version > s->committed) {
        srv__sess_error(s, h, "version_ahead", "the document is not at that version yet",
                   -1);
        return;
    }
    if (version < s->base) {
        srv__sess_error(s, h, "too_old", "base version too old", -1);
        return;
    }
    for (int64_t v = version + 1; has_cursor && v <= s->committed; v++) {
        sess_op *o = srv__sess_win_at(s, v);
        int side = strcmp(o->client, m->client) == 0 ? OT_RIGHT : OT_LEFT;
        anchor = (uint32_t)ot_transform_pos(anchor, o->op, side);
        head = (uint32_t)ot_transform_pos(head, o->op, side);
    }
    size_t len = ot_doc_len(s->doc);
    m->has_cursor = has_cursor;
    m->anchor = anchor > len ? (uint32_t)len : anchor;
    m->head = head > len ? (uint32_t)len : head;
    srv_msg_unref(m->pres); /* the cursor moved */
    m->pres = NULL;
    srv__sess_broadcast(s, srv__sess_presence(s, m), h);
    srv__sess_publish_presence(s, m, 0);
}

/* ---- the set */

srv_docs *srv_docs_new(const srv_doc_env *env)
{
    srv_docs *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->env = *env;
    srv_map_init(&d->sessions);
    d->next_member_id = 1;
    return d;
}

void srv_docs_tick(srv_docs *d, uint64_t now_ms)
{
    const char *k;
    void *val;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        if (s->state == SESS_READY && srv__sess_yield_tick(s, now_ms))
            continue;   /* (it may have failed the session) */
        if (s->state != SESS_READY || s->nm > 0 || s->inflight > 0 ||
            now_ms - s->empty_since < d->env.unload_after_ms)
            continue;
        if (s->committed > s->last_snapshot) submit_snapshot(s);
        srv_debug("unloading %s at version %lld", s->id, (long long)s->committed);
        srv__sess_retire(s);
    }
}

int srv_docs_flush(srv_docs *d, store *st)
{
    const char *k;
    void *val;
    int first = 0;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        if (s->state != SESS_READY || s->committed <= s->last_snapshot) continue;
        size_t bytes = 0;
        char *text = ot_doc_text(s->doc, &bytes);
        int rc = text ? store_snapshot_put(st, s->id, s->committed, text, bytes)
                      : STORE_ENOMEM;
        free(text);
        if (rc < 0 && first == 0) first = rc;
        if (rc == 0) s->last_snapshot = s->committed;
    }
    return first;
}

void srv_docs_free(srv_docs *d)
{
    const char *k;
    void *val;
    if (!d) return;
    for (size_t i = 0; srv_map_next(&d->sessions, &i, &k, &val);) {
        srv_session *s = val;
        while (s->nm) srv__sess_drop(s, s->nm - 1);
        session_free(s);
    }
    srv_map_clear(&d->sessions);
    free(d);
}
