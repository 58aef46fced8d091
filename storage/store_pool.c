/* store_pool.c -- threads that run slow reads off the server's event loop.
 *
 * Each thread owns one connection (WAL: readers never block the writer nor
 * wait for it) and runs queued tasks one at a time, oldest first. A task
 * left with a transaction open is rolled back after it returns, so one
 * careless task cannot pin the WAL for every later one. Finished tasks go
 * to a done list (in finishing order) and wake() is called. */
#include <pthread.h>
#include <stdlib.h>

#include "storage/store_int.h"

typedef struct pool_thread {
    store_pool *pool;
    store *s;
    pthread_t thread;
    int started;
} pool_thread;

struct store_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* work queued, or stopping */
    store_task *qhead, *qtail;
    store_task *dhead, *dtail;
    int stopping;
    int joined;
    int nthreads;
    pool_thread *threads;
    void (*wake)(void *arg);
    void *arg;
};

static void task_done(store_pool *p, store_task *t)
{
    pthread_mutex_lock(&p->mu);
    t->next = NULL;
    if (p->dtail) p->dtail->next = t;
    else p->dhead = t;
    p->dtail = t;
    pthread_mutex_unlock(&p->mu);
    if (p->wake) p->wake(p->arg);
}

static int pool_idle(void *arg)
{
    store_pool *p = arg;
    return !p->qhead && !p->stopping;
}

static void *pool_main(void *arg)
{
    pool_thread *pt = arg;
    store_pool *p = pt->pool;
    store_task *t;
    uint64_t release_ms = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        store__idle_wait(pt->s, &p->cv, &p->mu, pool_idle, p, &release_ms);
        if (!(t = p->qhead)) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        p->qhead = t->next;
        if (!p->qhead) p->qtail = NULL;
        pthread_mutex_unlock(&p->mu);
        t->result = t->run(pt->s, t);
        store__rollback(pt->s);
        if (!t->light) release_ms = store__release_after();
        task_done(p, t);
    }
}

/* Open the connections, then start the threads; undo on failure. */
static int pool_start(store_pool *p, const char *path,
                      const store_options *opt, char *err, size_t errlen)
{
    for (int i = 0; i < p->nthreads; i++) {
        p->threads[i].pool = p;
        if (store_open(&p->threads[i].s, path, opt, err, errlen)) return -1;
    }
    for (int i = 0; i < p->nthreads; i++) {
        if (pthread_create(&p->threads[i].thread, NULL, pool_main,
                           &p->threads[i])) {
            store__seterr(err, errlen, "cannot start a reader thread");
            return -1;
        }
        p->threads[i].started = 1;
    }
    return 0;
}

store_pool *store_pool_new(const char *path, const store_options *opt,
                           int nthreads, void (*wake)(void *arg), void *arg,
                           char *err, size_t errlen)
{
    store_pool *p;
    if (nthreads < 1 || nthreads > 256) {
        store__seterr(err, errlen, "reader threads must be 1..256");
        return NULL;
    }
    if (!(p = calloc(1, sizeof *p)) ||
        !(p->threads = calloc((size_t)nthreads, sizeof *p->threads))) {
        free(p);
        store__seterr(err, errlen, "out of memory");
        return NULL;
    }
    p->nthreads = nthreads;
    p->wake = wake;
    p->arg = arg;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pool_start(p, path, opt, err, errlen)) {
        store_pool_free(p);
        return NULL;
    }
    return p;
}

int store_pool_submit(store_pool *p, store_task *task)
{
    if (!p || !task || !task->run) return STORE_EINVAL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return STORE_ESTOPPED;
    }
    task->next = NULL;
    task->result = 0;
    if (p->qtail) p->qtail->next = task;
    else p->qhead = task;
    p->qtail = task;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return STORE_OK;
}

store_task *store_pool_drain(store_pool *p)
{
    store_task *done;
    if (!p) return NULL;
    pthread_mutex_lock(&p->mu);
    done = p->dhead;
    p->dhead = p->dtail = NULL;
    pthread_mutex_unlock(&p->mu);
    return done;
}

void store_pool_stop(store_pool *p)
{
    int join;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    join = !p->joined;
    p->joined = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!join) return;
    for (int i = 0; i < p->nthreads; i++)
        if (p->threads[i].started) pthread_join(p->threads[i].thread, NULL);
}

void store_pool_free(store_pool *p)
{
    if (!p) return;
    store_pool_stop(p);
    for (int i = 0; i < p->nthreads; i++) store_close(p->threads[i].s);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
