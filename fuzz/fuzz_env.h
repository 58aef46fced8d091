/* fuzz_env.h -- a server without a network, for the fuzz harnesses that
 * drive server/ (fuzz_proto.c, fuzz_http.c).
 *
 * srv__g gets a real store (a fresh database in a tmpfs directory), a real
 * group-commit writer and reader pools; connections and HTTP requests are
 * plain structs whose wsi is a fake pointer. The document sessions are
 * reached through their seam: srv__g.docs is made from the server's own
 * environment (srv__docs_env) with its write submit wrapped to count jobs
 * in flight. What the seam does not reach is still replaced at link time
 * (-Wl,--wrap=..., see the fuzz block of the Makefile): the three lws calls
 * net/ makes on a wsi, and store_pool_submit, which counts the tasks of the
 * HTTP API and of the connection side. fenv_pump() drains the writer and
 * the pools itself until everything submitted has come back, so each input
 * runs the same way every time, whatever the threads' timing.
 * Header-only (static functions): each harness is one program. */
#ifndef CHORUS_FUZZ_ENV_H
#define CHORUS_FUZZ_ENV_H

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/auth/auth.h"
#include "server/cli/cli.h"
#include "server/net/net.h"

/* ---- link-time replacements (-Wl,--wrap=NAME) */

static pthread_mutex_t fenv_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fenv_cv = PTHREAD_COND_INITIALIZER;
static long fenv_wakes;         /* under fenv_mu */
static long fenv_pending;       /* jobs and tasks submitted, not drained */
static long fenv_writable;      /* lws_callback_on_writable calls */

int __wrap_lws_callback_on_writable(struct lws *wsi);
int __wrap_lws_callback_on_writable(struct lws *wsi)
{
    if (!wsi) abort(); /* the server never asks this for no connection */
    fenv_writable++;
    return 0;
}

void __wrap_lws_set_timer_usecs(struct lws *wsi, lws_usec_t us);
void __wrap_lws_set_timer_usecs(struct lws *wsi, lws_usec_t us)
{
    if (!wsi) abort();
    (void)us;
}

void __wrap_lws_set_timeout(struct lws *wsi, enum pending_timeout reason,
                            int secs);
void __wrap_lws_set_timeout(struct lws *wsi, enum pending_timeout reason,
                            int secs)
{
    (void)reason, (void)secs;
    if (!wsi) abort(); /* a closing connection's deadline (ws.c) */
}

int __real_store_pool_submit(store_pool *p, store_task *t);
int __wrap_store_pool_submit(store_pool *p, store_task *t);
int __wrap_store_pool_submit(store_pool *p, store_task *t)
{
    int rc = __real_store_pool_submit(p, t);
    if (rc == 0) fenv_pending++;
    return rc;
}

/* The sessions' writes, counted: the server's own submit, wrapped. */
static srv_doc_env fenv_docs_env;

static int fenv_write(void *io, store_job *job)
{
    int rc = fenv_docs_env.write(io, job);
    if (rc == 0) fenv_pending++;
    return rc;
}

/* What srv__drain does, counting what comes back. */
static void fenv_drain(void)
{
    store_job *j = store_writer_drain(srv__g.writer);
    for (store_job *p = j; p; p = p->next) fenv_pending--;
    srv_docs_on_commits(srv__g.docs, j);
    store_pool *pools[2] = {srv__g.pool, srv__g.auth_pool};
    for (int i = 0; i < 2; i++)
        for (store_task *t = store_pool_drain(pools[i]), *n; t; t = n) {
            n = t->next;
            fenv_pending--;
            if (i == 1) srv__g.auth_pending--;
            ((srv_task *)t)->done((srv_task *)t);
        }
    srv__relays_flush();
}

static void fenv_wake(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fenv_mu);
    fenv_wakes++;
    pthread_cond_signal(&fenv_cv);
    pthread_mutex_unlock(&fenv_mu);
}

/* Hand every finished job and task back to the server (fenv_drain), until
 * nothing is in flight. A job that never finishes within 30 s is a hang:
 * abort, so the fuzzer reports it. */
static void fenv_pump(void)
{
    pthread_mutex_lock(&fenv_mu);
    long seen = fenv_wakes;
    pthread_mutex_unlock(&fenv_mu);
    fenv_drain();
    for (int rounds = 0; fenv_pending > 0; rounds++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&fenv_mu);
        while (fenv_wakes == seen &&
               pthread_cond_timedwait(&fenv_cv, &fenv_mu, &ts) == 0) {
        }
        seen = fenv_wakes;
        pthread_mutex_unlock(&fenv_mu);
        fenv_drain();
        if (rounds > 1500) {
            fprintf(stderr, "fuzz: %ld jobs still in flight after 30 s\n",
                    fenv_pending);
            abort();
        }
    }
}

/* ---- the server */

static char fenv_dir[256];

static int fenv_rm(const char *path, const struct stat *st, int flag,
                   struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* At exit: the scratch directory goes (the storage threads may still hold
 * the files open; on Linux that is fine). */
static void fenv_cleanup(void)
{
    if (fenv_dir[0]) nftw(fenv_dir, fenv_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Once per process: a database in a fresh directory under /dev/shm (or
 * $TMPDIR), the writer and the pools, open mode. */
static void fenv_init(void)
{
    char err[512] = "";
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fenv_dir, sizeof fenv_dir, "%s/chorus-fuzz-XXXXXX", base);
    if (!mkdtemp(fenv_dir)) abort();
    atexit(fenv_cleanup);
    memset(&srv__g, 0, sizeof srv__g);
    srv_config_init(&srv__g.cfg);
    srv__g.cfg.ops_per_sec = 1000000;   /* rate limits are timing: off */
    srv__g.cfg.history_window = 16;     /* reach too_old and storage reads */
    srv__g.cfg.snapshot_every = 8;
    srv__g.cfg.docs_per_conn = 4;
    srv__g.cfg.max_message = 64 * 1024;
    srv__g.cfg.queue_bytes = 256 * 1024;
    srv__g.cfg.data_dir = fenv_dir;
    srv_map_init(&srv__g.ip_counts);
    snprintf(srv__g.db_path, sizeof srv__g.db_path, "%s/chorus.db", fenv_dir);
    store_options opt;
    store_options_init(&opt);
    opt.sync = STORE_SYNC_NORMAL;     /* tmpfs: fsync is nothing anyway */
    opt.snapshot_every = srv__g.cfg.snapshot_every;
    opt.auto_snapshot = 0;
    store *st = NULL;
    if (store_open(&st, srv__g.db_path, &opt, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz: %s: %s\n", srv__g.db_path, err);
        abort();
    }
    store_close(st);
    srv__g.writer = store_writer_new(srv__g.db_path, &opt, fenv_wake, NULL,
                                     err, sizeof err);
    srv__g.pool = store_pool_new(srv__g.db_path, &opt, 2, fenv_wake, NULL, err,
                                 sizeof err);
    srv__g.auth_pool = store_pool_new(srv__g.db_path, &opt, 1, fenv_wake, NULL,
                                      err, sizeof err);
    if (!srv__g.writer || !srv__g.pool || !srv__g.auth_pool) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    srv__docs_env(&fenv_docs_env);
    srv_doc_env env = fenv_docs_env;
    env.write = fenv_write;
    if (!(srv__g.docs = srv_docs_new(&env))) abort();
    srv_auth_set_team(0);
    srv_log_set_level(SRV_LOG_ERROR);
}

static char fenv_check_log[4096];

static void fenv_report(void *arg, const char *line)
{
    size_t n = strlen(fenv_check_log);
    (void)arg;
    snprintf(fenv_check_log + n, sizeof fenv_check_log - n, "check: %s\n", line);
}

/* Unload every session (as the timer would, long after the last leave) and
 * delete every document, so the next input starts from an empty database. */
static void fenv_reset(void)
{
    fenv_pump();
    for (int i = 0; i < 8 && srv_docs_count(srv__g.docs) > 0; i++) {
        srv_docs_tick(srv__g.docs, srv_mono_ms() + 3600 * 1000);
        fenv_pump();
    }
    if (srv_docs_count(srv__g.docs) > 0) {
        fprintf(stderr, "fuzz: %zu sessions would not unload\n",
                srv_docs_count(srv__g.docs));
        abort();
    }
    store *st = NULL;
    store_docinfo *docs = NULL;
    size_t n = 0;
    if (store_open(&st, srv__g.db_path, NULL, NULL, 0) < 0) abort();
    fenv_check_log[0] = 0;
    if (store_check(st, fenv_report, NULL) != 0) {
        fprintf(stderr, "%sfuzz: chorus check found the database corrupt\n",
                fenv_check_log);
        abort();
    }
    if (store_doc_list(st, &docs, &n) < 0) abort();
    for (size_t i = 0; i < n; i++)
        if (store_doc_delete(st, docs[i].id) < 0) abort();
    /* and what an input moved to the trash (the list skips it) */
    if (store_trash_expire(st, INT64_MAX, NULL) < 0) abort();
    store_docinfo_free(docs, n);
    store_close(st);
}

#endif
