/* loop.c -- the event loop's side of the storage threads: they finish
 * work (commits, pool tasks) and wake the loop with lws_cancel_service();
 * on EVENT_WAIT_CANCELLED the loop hands everything finished back here,
 * on its own thread, where the sessions and tasks complete. The password
 * pool is bounded (srv_task_submit_auth) so that a flood of logins waits
 * in no queue. */
#include <libwebsockets.h>

#include "server/net/net.h"

void srv__wake(void *arg)
{
    lws_cancel_service(arg);
}

static void drain_pool(store_pool *p, int *pending)
{
    for (store_task *t = p ? store_pool_drain(p) : NULL, *n; t; t = n) {
        n = t->next;
        if (pending) (*pending)--;
        ((srv_task *)t)->done((srv_task *)t);
    }
}

void srv__drain(void)
{
    if (srv__g.writer) srv_docs_on_commits(srv__g.docs, store_writer_drain(srv__g.writer));
    drain_pool(srv__g.pool, NULL);
    drain_pool(srv__g.auth_pool, &srv__g.auth_pending);
    srv__cluster_drain();
    srv__relays_flush();
}

int srv_task_submit(srv_task *t)
{
    return store_pool_submit(srv__g.pool, &t->base);
}

int srv_task_submit_auth(srv_task *t)
{
    if (srv__g.auth_pending >= 32) return STORE_EBUSY;
    int rc = store_pool_submit(srv__g.auth_pool, &t->base);
    if (rc == 0) srv__g.auth_pending++;
    return rc;
}
