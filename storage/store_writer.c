/* store_writer.c -- the group-commit writer thread.
 *
 * The server's event loop must never wait for a disk flush, yet an op may be
 * acknowledged only once it is durable. So jobs are queued here; one thread
 * takes everything queued (up to max_batch), runs it in ONE transaction,
 * commits (one fsync of the WAL with synchronous=FULL), moves the jobs with
 * their results to the done list in submission order and calls wake().
 * Invariant: a job's result is 0 only if the transaction that held it
 * committed; a failed transaction fails every job in it with its error.
 *
 * Checkpoints (copying the WAL back into the database file, with its own
 * fsyncs) would otherwise run inside a commit every ~1000 pages and stall
 * the acks behind it; a second thread with its own connection does them
 * (PASSIVE: it blocks neither the writer nor readers). Under a sustained
 * load a passive checkpoint can never catch the WAL's end, so past
 * CKPT_HARD pages the writer checkpoints itself once, right after a commit,
 * which lets the next transaction restart the WAL from its beginning. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

enum { CKPT_SOFT = 1000, CKPT_HARD = 16000 }; /* WAL pages */
#define WRITER_NICE (-5)
#define QUIET_MS 10                /* no commit for this long: checkpoint */

struct store_writer {
    store *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* work queued, or stopping */
    store_job *qhead, *qtail;   /* submitted, not yet taken */
    store_job *dhead, *dtail;   /* done, not yet drained */
    int stopping;
    int joined;
    void (*wake)(void *arg);
    void *arg;
    store_writer_stats stats;
    int wal_pages;              /* after the last commit (writer thread) */
    int ckpt_soft;              /* WAL pages that call for a checkpoint */
    int ck_last;                /* WAL pages when the last one was asked */
    int wal_big;                /* past ckpt_soft after the last commit */
    store *ck;                  /* the checkpointer's connection */
    pthread_t ck_thread;
    pthread_cond_t ck_cv;       /* a checkpoint is due, or stopping */
    int ck_due;
    int ck_stop;
    /* documents whose APPENDs are refused until a fresh one (store.h);
     * the writer thread's alone. Usually empty. */
    char (*refused)[sizeof ((store_docid *)0)->id];
    size_t nrefused, caprefused;
};

/* Fill an empty WAL with 'mib' MiB of zeros (best effort: any failure
 * leaves it empty again). SQLite writes its WAL from the start after each
 * restart and keeps the file at journal_size_limit (64 MiB), so once it is
 * that long a commit only overwrites blocks. Zeros are no WAL to SQLite (no
 * valid header: an empty log). Done under the write lock, so no other
 * process can be writing frames meanwhile; skipped when the file system
 * has little room. */
static void wal_prealloc(store *s, int mib)
{
    const char *wal = sqlite3_filename_wal(sqlite3_db_filename(s->db, "main"));
    off_t want = (off_t)mib << 20;
    struct statvfs vfs;
    struct stat stt;
    if (!wal || statvfs(wal, &vfs) < 0 ||
        (off_t)vfs.f_bavail * (off_t)vfs.f_frsize < 8 * want + (1LL << 30))
        return;
    if (store__exec(s, "BEGIN IMMEDIATE")) return;
    int fd = open(wal, O_RDWR | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &stt) == 0 && stt.st_size == 0) {
        static const char zeros[1 << 16];
        off_t at = 0;
        while (at < want) {
            ssize_t n = pwrite(fd, zeros, sizeof zeros, at);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            at += n;
        }
        if (at < want || fdatasync(fd) < 0) {
            if (ftruncate(fd, 0) == 0) (void)fdatasync(fd);
        }
    }
    if (fd >= 0) close(fd);
    store__exec(s, "COMMIT");
}

/* Called by SQLite in the writer thread after each commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db, (void)name;
    ((store_writer *)arg)->wal_pages = pages;
    return SQLITE_OK;
}

/* The checkpointer: a pass when the writer asks, and one when the WAL is
 * past ckpt_soft and no commit came for QUIET_MS (then the pass backfills
 * everything and the next transaction restarts the WAL from its start). */
static void *checkpointer_main(void *arg)
{
    store_writer *w = arg;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->ck_due && !w->ck_stop) {
            if (!w->wal_big) { /* nothing to wait for but the writer */
                pthread_cond_wait(&w->ck_cv, &w->mu);
                seen = w->stats.commits;
                continue;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += QUIET_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            if (pthread_cond_timedwait(&w->ck_cv, &w->mu, &ts) == ETIMEDOUT) {
                if (w->wal_big && w->stats.commits == seen) {
                    w->ck_due = 1;
                    w->wal_big = 0;
                }
                seen = w->stats.commits;
            }
        }
        if (!w->ck_due) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        w->ck_due = 0;
        pthread_mutex_unlock(&w->mu);
        if (sqlite3_wal_checkpoint_v2(w->ck->db, NULL,
                                      SQLITE_CHECKPOINT_PASSIVE, NULL,
                                      NULL) == SQLITE_OK) {
            pthread_mutex_lock(&w->mu);
            w->stats.checkpoints++;
            pthread_mutex_unlock(&w->mu);
        }
        sqlite3_db_release_memory(w->ck->db); /* passes are rare */
    }
}

/* After a commit: hand a checkpoint to the checkpointer each time the WAL
 * has grown by ckpt_soft pages (and, through wal_big, when commits pause).
 * Not at every commit past ckpt_soft: under a steady load each pass copies
 * the hot pages again and fsyncs the database, and a pass never catches a
 * writer that keeps committing. Past CKPT_HARD do one here so the WAL can
 * restart. */
static void after_commit(store_writer *w)
{
    pthread_mutex_lock(&w->mu);
    int was_big = w->wal_big;
    w->wal_big = w->wal_pages >= w->ckpt_soft;
    if (w->wal_big && !was_big) pthread_cond_signal(&w->ck_cv); /* time it */
    pthread_mutex_unlock(&w->mu);
    if (w->wal_pages < w->ck_last) w->ck_last = 0; /* the WAL restarted */
    if (w->wal_pages >= CKPT_HARD) {
        sqlite3_wal_checkpoint_v2(w->s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                  NULL, NULL);
        w->wal_pages = 0;
        w->ck_last = 0;
    } else if (w->wal_pages - w->ck_last >= w->ckpt_soft) {
        w->ck_last = w->wal_pages;
        pthread_mutex_lock(&w->mu);
        w->ck_due = 1;
        pthread_cond_signal(&w->ck_cv);
        pthread_mutex_unlock(&w->mu);
    }
}

static int run_job(store *s, store_job *j)
{
    switch (j->kind) {
    case STORE_JOB_APPEND:
        return store__append_tx(s, &j->rec);
    case STORE_JOB_SNAPSHOT:
        return store__snapshot_put_tx(s, j->snap.doc, j->snap.version,
                                      j->snap.text, j->snap.bytes);
    case STORE_JOB_DOC_CREATE:
        return store_doc_create(s, j->doc.id, j->doc.title, j->doc.creator,
                                j->doc.now_ms);
    case STORE_JOB_DOC_TITLE:
        return store_doc_set_title(s, j->doc.id, j->doc.title,
                                   j->doc.now_ms);
    case STORE_JOB_DOC_DELETE:
        return store__doc_delete_tx(s, j->doc.id);
    default:
        return STORE_EINVAL;
    }
}

/* The refused documents (see store_writer_submit in store.h): the index
 * of 'doc' in w->refused, or -1. */
static long refused_at(const store_writer *w, const char *doc)
{
    for (size_t i = 0; i < w->nrefused; i++)
        if (strcmp(w->refused[i], doc) == 0) return (long)i;
    return -1;
}

/* Remember 'doc' as refused. Out of memory, it is not remembered: the job
 * still fails, and a later one of the document is refused by the store
 * itself unless it is the next version, which would be wrong, so the
 * caller fails that job's whole batch instead (STORE_ENOMEM is fatal). */
static int refuse(store_writer *w, const char *doc)
{
    if (refused_at(w, doc) >= 0) return 0;
    if (w->nrefused == w->caprefused) {
        size_t cap = w->caprefused ? 2 * w->caprefused : 4;
        void *p = realloc(w->refused, cap * sizeof *w->refused);
        if (!p) return STORE_ENOMEM;
        w->refused = p;
        w->caprefused = cap;
    }
    snprintf(w->refused[w->nrefused++], sizeof *w->refused, "%s", doc);
    return 0;
}

/* An APPEND, with the refusal rule. */
static int run_append(store_writer *w, store_job *j)
{
    long at = refused_at(w, j->rec.doc);
    if (at >= 0 && !j->fresh) return STORE_ECONFLICT;
    if (at >= 0) /* forget it: the last takes its place */
        memcpy(w->refused[at], w->refused[--w->nrefused], sizeof *w->refused);
    int r = run_job(w->s, j);
    if (r == STORE_ECONFLICT || r == STORE_EDUP) {
        int e = refuse(w, j->rec.doc);
        if (e) return e;
    }
    return r;
}

/* On PostgreSQL: the same, each job but APPEND inside a savepoint (a job
 * PostgreSQL refused with an error would otherwise abort the transaction,
 * and with it the batch's other jobs; an APPEND checks before it writes,
 * so its refusals raise no error). A deadlock between two nodes' batches
 * (STORE_EBUSY) runs the batch again, a few times, from the refused
 * documents as they were before it. */
static int run_batch_pg(store_writer *w, store_job *batch)
{
    store *s = w->s;
    store_job *j;
    size_t nrefused = w->nrefused, bytes = nrefused * sizeof *w->refused;
    void *saved = bytes ? malloc(bytes) : NULL;
    int rc = 0;
    if (bytes && !saved) rc = STORE_ENOMEM;
    if (saved) memcpy(saved, w->refused, bytes);
    for (int tries = 0; tries < 4 && !(bytes && !saved); tries++) {
        rc = store__begin(s, 1);
        if (!rc) rc = store_pg__cache_prefetch(s, batch);
        for (j = batch; j && !rc; j = j->next) {
            int sp = j->kind != STORE_JOB_APPEND;
            /* the cached heads are written before a savepoint that a
             * refused job would roll back (with them) */
            int r = sp ? store_pg__cache_flush(s) : 0;
            if (!r && sp) r = store_pg__savepoint(s);
            if (!r) r = sp ? run_job(s, j) : run_append(w, j);
            if (sp && !store__fatal(r) && (rc = store_pg__savepoint_end(s, r)))
                break;
            if (s->pg_aborted && !rc) r = store__fatal(r) ? r : STORE_ESQL;
            if (store__fatal(r)) rc = r;
            else j->result = r;
        }
        if (!rc) rc = store__commit(s);
        if (rc) store__rollback(s);
        if (rc != STORE_EBUSY) break;
        w->nrefused = nrefused; /* as before this try */
        if (bytes) memcpy(w->refused, saved, bytes);
    }
    free(saved);
    if (rc)
        for (j = batch; j; j = j->next) j->result = rc;
    return rc;
}

/* Run the jobs of 'batch' (a NULL-terminated list) in one transaction.
 * Returns 0 if it committed, else the error every job now carries. */
static int run_batch(store_writer *w, store_job *batch)
{
    store *s = w->s;
    if (s->pg) return run_batch_pg(w, batch);
    store_job *j;
    int rc = store__begin(s, 1), r;
    for (j = batch; j && !rc; j = j->next) {
        r = j->kind == STORE_JOB_APPEND ? run_append(w, j) : run_job(s, j);
        if (store__fatal(r)) rc = r;
        else j->result = r;
    }
    if (!rc) rc = store__commit(s);
    if (rc) {
        store__rollback(s);
        for (j = batch; j; j = j->next) j->result = rc;
    }
    return rc;
}

/* Detach up to max_batch jobs from the queue; mu held. */
static store_job *take_batch(store_writer *w, uint64_t *n)
{
    store_job *head = w->qhead, *last = head;
    uint64_t count = 1;
    while (last->next && count < (uint64_t)w->s->opt.max_batch) {
        last = last->next;
        count++;
    }
    w->qhead = last->next;
    if (!w->qhead) w->qtail = NULL;
    last->next = NULL;
    *n = count;
    return head;
}

static void finish_batch(store_writer *w, store_job *batch, uint64_t n,
                         int rc, uint64_t us)
{
    store_job *last = batch;
    uint64_t failed = 0;
    for (store_job *j = batch; j; j = j->next) {
        failed += j->result != 0;
        last = j;
    }
    pthread_mutex_lock(&w->mu);
    if (w->dtail) w->dtail->next = batch;
    else w->dhead = batch;
    w->dtail = last;
    w->stats.commit_us += us;
    if (rc) w->stats.failed_commits++;
    else w->stats.commits++, w->stats.jobs_committed += n;
    w->stats.jobs_failed += failed;
    w->stats.last_batch = n;
    w->stats.snapshot_failures = w->s->snapshot_failures;
    if (n > w->stats.max_batch) w->stats.max_batch = n;
    w->stats.queued -= n;
    pthread_mutex_unlock(&w->mu);
    if (w->wake) w->wake(w->arg);
}

static int writer_idle(void *arg)
{
    store_writer *w = arg;
    return !w->qhead && !w->stopping;
}

static void *writer_main(void *arg)
{
    store_writer *w = arg;
    store_job *batch;
    uint64_t n;
    /* Every ack waits for this thread's commits: when its fsync returns it
     * should run before the event loop and the readers, not queue behind
     * them on a busy machine. Best effort (needs CAP_SYS_NICE). */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WRITER_NICE);
    uint64_t release_ms = 0;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        store__idle_wait(w->s, &w->cv, &w->mu, writer_idle, w, &release_ms);
        if (!w->qhead) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        batch = take_batch(w, &n);
        pthread_mutex_unlock(&w->mu);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = run_batch(w, batch);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        finish_batch(w, batch, n, rc,
                     (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
                                (t1.tv_nsec - t0.tv_nsec) / 1000));
        after_commit(w);
        release_ms = store__release_after();
    }
}

/* Undo a partly built writer (threads not started). */
static void writer_discard(store_writer *w)
{
    store_close(w->ck);
    store_close(w->s);
    pthread_cond_destroy(&w->ck_cv);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->refused);
    free(w);
}

store_writer *store_writer_new(const char *path, const store_options *opt,
                               void (*wake)(void *arg), void *arg, char *err,
                               size_t errlen)
{
    store_writer *w = calloc(1, sizeof *w);
    if (!w) {
        store__seterr(err, errlen, "out of memory");
        return NULL;
    }

    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->ck_cv, NULL);
    w->wake = wake;
    w->arg = arg;
    if (store_open(&w->s, path, opt, err, errlen) ||
        (!w->s->pg && store_open(&w->ck, path, opt, err, errlen))) {
        writer_discard(w);
        return NULL;
    }
    /* A preallocated WAL costs nothing to fill: checkpoint when it is half
     * full rather than every 1000 pages. Hot pages (a document's last leaf,
     * its row) are written to the log at every commit but copied back once
     * per checkpoint, so rarer checkpoints copy far less. */
    w->ckpt_soft = CKPT_SOFT;
    if (opt && opt->wal_prealloc_mib > 0 && !w->s->pg) {
        wal_prealloc(w->s, opt->wal_prealloc_mib);
        int half = opt->wal_prealloc_mib * (1 << 20) / 4096 / 2;
        if (half > w->ckpt_soft) w->ckpt_soft = half < CKPT_HARD ? half : CKPT_HARD / 2;
    }
    if (!w->s->pg) /* PostgreSQL checkpoints by itself: the thread idles */
        sqlite3_wal_hook(w->s->db, wal_hook, w); /* replaces autocheckpoint */
    if (pthread_create(&w->ck_thread, NULL, checkpointer_main, w)) {
        store__seterr(err, errlen, "cannot start the checkpoint thread");
        writer_discard(w);
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        store__seterr(err, errlen, "cannot start the writer thread");
        pthread_mutex_lock(&w->mu);
        w->ck_stop = 1;
        pthread_cond_signal(&w->ck_cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->ck_thread, NULL);
        writer_discard(w);
        return NULL;
    }
    return w;
}

int store_writer_submit(store_writer *w, store_job *job)
{
    if (!w || !job || job->kind < STORE_JOB_APPEND ||
        job->kind > STORE_JOB_DOC_DELETE)
        return STORE_EINVAL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return STORE_ESTOPPED;
    }
    job->next = NULL;
    job->result = 0;
    if (w->qtail) w->qtail->next = job;
    else w->qhead = job;
    w->qtail = job;
    w->stats.queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return STORE_OK;
}

store_job *store_writer_drain(store_writer *w)
{
    store_job *done;
    if (!w) return NULL;
    pthread_mutex_lock(&w->mu);
    done = w->dhead;
    w->dhead = w->dtail = NULL;
    pthread_mutex_unlock(&w->mu);
    return done;
}

void store_writer_stats_get(store_writer *w, store_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void store_writer_stop(store_writer *w)
{
    int join;
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    join = !w->joined;
    w->joined = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (!join) return;
    pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->mu);
    w->ck_stop = 1;
    w->ck_due = 0;
    pthread_cond_signal(&w->ck_cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->ck_thread, NULL);
}

void store_writer_free(store_writer *w)
{
    if (!w) return;
    store_writer_stop(w);
    writer_discard(w);
}
