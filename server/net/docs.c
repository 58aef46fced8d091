/* docs.c -- the document sessions' environment as the server provides it:
 * their outputs go onto connections (a member's handle is its srv_conn),
 * their writes to the group-commit writer, their reads to the reader pool,
 * and their commits into /metrics. This is the one place where collab/
 * meets lws and srv__g; a test builds its own environment instead
 * (tests/test_srv_doc.c).
 *
 * Invariant: a connection lists a session in its joins exactly while the
 * session lists the connection as a member: a join is recorded here before
 * the session is asked, and the session's drop output removes it. */
#include <stdlib.h>
#include <string.h>

#include "server/net/net.h"

/* ---- outputs */

static void out_send(void *member, srv_msg *m, int whole)
{
    srv_conn *c = member;
    if (!m) srv_conn_close(c, 1011, "out of memory");
    else if (whole) srv_conn_send_whole(c, m);
    else srv_conn_send(c, m);
}

static void out_relay(void *member, srv_msg *m)
{
    srv_conn_relay(member, m);
}

static void out_error(void *member, const char *code, const char *message,
                      const char *doc, int64_t seq)
{
    srv_conn_error(member, code, message, doc, seq);
}

static void out_drop(void *member, srv_session *s)
{
    srv_conn_drop_join(member, s);
}

static size_t out_queued(void *member)
{
    const srv_conn *c = member;
    return c->q_bytes - c->q_whole;
}

static void out_committed(void *arg, double ack_s)
{
    srv *g = arg;
    g->metrics.ops_committed++;
    if (ack_s >= 0) srv_metrics_ack(&srv__g.metrics, ack_s);
}

static void out_commit_rec(void *arg, const store_oprec *r)
{
    srv *g = arg;
    if (g->bus) srv_bus_publish(g->bus, r);
}

static void out_presence_rec(void *arg, const srv_presence_rec *p)
{
    srv *g = arg;
    if (!g->bus) return;
    srv_bus_presence bp = {p->doc, p->client, p->name, p->color, p->version,
                           p->has_cursor, p->left, p->anchor, p->head};
    srv_bus_publish_presence(g->bus, &bp);
}

static void out_yield_rec(void *arg, const char *doc)
{
    srv *g = arg;
    if (g->bus) srv_bus_publish_yield(g->bus, doc);
}

static const srv_doc_out outputs = {
    out_send, out_relay, out_error, out_drop, out_queued, out_committed,
    out_commit_rec, out_presence_rec, out_yield_rec,
};

/* ---- the writer and the pool */

static int io_write(void *io, store_job *job)
{
    return store_writer_submit(((srv *)io)->writer, job);
}

static int io_read(void *io, srv_task *t)
{
    return store_pool_submit(((srv *)io)->pool, &t->base);
}

void srv__docs_env(srv_doc_env *env)
{
    const srv_config *cfg = &srv__g.cfg;
    *env = (srv_doc_env){
        .out = &outputs,
        .out_arg = &srv__g,
        .write = io_write,
        .read = io_read,
        .io = &srv__g,
        .mono_ms = srv_mono_ms,
        .wall_ms = srv_wall_ms,
        .now_s = srv_now_s,
        .history_window = cfg->history_window,
        .snapshot_every = cfg->snapshot_every,
        .max_doc_chars = cfg->max_doc_chars,
        .queue_bytes = cfg->queue_bytes,
        .unload_after_ms = (uint64_t)cfg->unload_after * 1000,
    };
}

int srv__docs_start(void)
{
    srv_doc_env env;
    srv__docs_env(&env);
    srv__g.docs = srv_docs_new(&env);
    return srv__g.docs ? 0 : -1;
}

void srv__docs_stop(void)
{
    /* Let the writer finish what is queued, apply it, snapshot, stop. */
    store_writer_stop(srv__g.writer);
    srv_docs_on_commits(srv__g.docs, store_writer_drain(srv__g.writer));
    store_pool_stop(srv__g.pool);
    for (store_task *t = store_pool_drain(srv__g.pool), *n; t; t = n) {
        n = t->next;
        ((srv_task *)t)->done((srv_task *)t);
    }
    /* The writer is stopped: write the due snapshots on our own. */
    store *st = NULL;
    if (store_open(&st, srv__g.db_path, NULL, NULL, 0) == 0)
        srv_docs_flush(srv__g.docs, st);
    store_close(st);
    srv_docs_free(srv__g.docs);
    srv__g.docs = NULL;
}

/* ---- joins */

void srv__conn_join(srv_conn *c, const char *doc, int has_version,
                    int64_t version, int role)
{
    srv_session *s = srv_docs_open(srv__g.docs, c->name, doc);
    srv_join *nj = s ? realloc(c->joins, (size_t)(c->njoins + 1) * sizeof *nj)
                     : NULL;
    if (!nj) {
        srv_conn_error(c, "server_error", "out of memory", doc, -1);
        return;
    }
    c->joins = nj;
    c->joins[c->njoins].sess = s;
    c->joins[c->njoins].share = NULL;
    c->joins[c->njoins++].role = role;
    srv_doc_member who = {c, c->client, c->name, c->color};
    srv_session_join(s, &who, has_version, version);
}
