/* indexer.c -- the search index follows the documents, off the commit
 * path: once a second, when none is out, a reader-pool task looks for
 * documents whose text moved on since it was indexed (the partial index
 * documents_stale, migration 0006) and that have been quiet for a moment,
 * loads each one's current text (its snapshot and the ops after it) and
 * indexes it in its own short transaction. Typing never waits for it: a
 * document being edited is not quiet, and the writer's group commit never
 * touches the index. The same pass catches up at start (a crash, another
 * process, an import or fork), so after a restart the index is current. */
#include <stdlib.h>

#include "server/net/net.h"

#define BATCH 32
#define PASS_MS 200               /* then the loop gets the pool back */

typedef struct index_task {
    srv_task t;
    int64_t quiet_before_ms;
    int64_t indexed;
    int more;                     /* stopped with work left */
} index_task;

static int run_index(store *st, store_task *base)
{
    index_task *k = (index_task *)base;
    uint64_t t0 = srv_mono_ms();
    int rc = 0;
    for (;;) {
        store_docid *ids = NULL;
        size_t n = 0;
        if ((rc = store_search_stale(st, k->quiet_before_ms, BATCH, &ids, &n)))
            return rc;
        for (size_t i = 0; i < n && !rc; i++) {
            rc = store_search_index_one(st, ids[i].id);
            if (rc == STORE_ENOTFOUND) rc = 0; /* purged meanwhile */
            else if (rc == 0) k->indexed++;
        }
        free(ids);
        /* work done: the pool gives its page cache back once idle */
        if (k->indexed) base->light = 0;
        if (rc || n < BATCH) return rc;
        if (srv_mono_ms() - t0 >= PASS_MS) {
            k->more = 1;
            return 0;
        }
    }
}

static void index_done(srv_task *t)
{
    index_task *k = (index_task *)t;
    srv__g.indexing = 0;
    srv__g.indexed_total += (uint64_t)k->indexed; /* the heap trim sees it */
    if (t->base.result < 0)
        srv_warn("indexing for search failed: %s (again in a second)",
                 store_strerror(t->base.result));
    else if (k->indexed)
        srv_debug("indexed %lld documents for search%s",
                  (long long)k->indexed, k->more ? " (more to do)" : "");
    free(k);
}

void srv__index_tick(void)
{
    if (srv__g.indexing || srv__g.stopping) return;
    index_task *k = calloc(1, sizeof *k);
    if (!k) return;
    k->quiet_before_ms = (int64_t)srv_wall_ms() - SRV_INDEX_QUIET_MS;
    k->t.base.run = run_index;
    k->t.base.light = 1; /* not work whose pages are worth caching */
    k->t.done = index_done;
    if (srv_task_submit(&k->t) < 0) {
        free(k);
        return;
    }
    srv__g.indexing = 1;
}
