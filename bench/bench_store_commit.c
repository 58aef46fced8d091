/* bench_store_commit.c -- durable committed ops/s through the storage layer.
 *
 * For 1, 10 and 100 documents, in one run on the same disk: (a) group
 * commit, a producer thread submitting APPEND jobs to a store_writer as
 * fast as it can while this thread drains completions, timed from the first
 * submit to the last completion; (b) one transaction per op, store_append
 * of a single record at a time. Both with synchronous=FULL (every commit
 * fsyncs the WAL), so every counted op is durable. Prints ops/s for both
 * and their ratio; the group-commit figure is the median of 3 runs, each on
 * a fresh database (the machine is shared and noisy). Target: group commit
 * >= 100,000 ops/s.
 * CHORUS_BENCH_OPS sets the group-commit op count (default 200000);
 * CHORUS_BENCH_DOCS=N runs only the N-document case. */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/store.h"

typedef struct run {
    store_writer *w;
    store_job *jobs;
    long n;
    int ndocs;
    char (*docs)[16];
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_store_commit: %s: %s\n", what, why);
    exit(1);
}

/* A fresh database in 'dir' with 'ndocs' documents; returns its path. */
static void fresh_db(char *path, size_t cap, const char *dir, int round,
                     int ndocs, char (*docs)[16])
{
    char err[256];
    store *s;
    snprintf(path, cap, "%s/bench%d.db", dir, round);
    if (store_open(&s, path, NULL, err, sizeof err)) die("open", err);
    for (int i = 0; i < ndocs; i++) {
        snprintf(docs[i], 16, "doc-%03d", i);
        if (store_doc_create(s, docs[i], "", "bench", 1))
            die("create", docs[i]);
    }
    store_close(s);
}

static store_oprec op_for(run *r, long i, char (*docs)[16], int ndocs)
{
    store_oprec rec = { docs[i % ndocs], i / ndocs + 1, "[12,\"a\"]",
                        "client-0001", i + 1, "alice", 1700000000000 + i };
    (void)r;
    return rec;
}

static void *producer(void *arg)
{
    run *r = arg;
    for (long i = 0; i < r->n; i++) {
        memset(&r->jobs[i], 0, sizeof r->jobs[i]);
        r->jobs[i].kind = STORE_JOB_APPEND;
        r->jobs[i].rec = op_for(r, i, r->docs, r->ndocs);
        if (store_writer_submit(r->w, &r->jobs[i])) die("submit", "refused");
    }
    return NULL;
}

static double group_commit(const char *path, int ndocs, char (*docs)[16],
                           long n, uint64_t *commits)
{
    store_options o;
    store_writer_stats st;
    char err[256];
    pthread_t th;
    run r = { NULL, calloc((size_t)n, sizeof(store_job)), n, ndocs, docs };
    long done = 0;
    double t0;
    store_options_init(&o);
    o.auto_snapshot = 0; /* the server submits snapshots itself */
    if (!r.jobs) die("calloc", "out of memory");
    if (!(r.w = store_writer_new(path, &o, NULL, NULL, err, sizeof err)))
        die("writer", err);
    t0 = now_s();
    pthread_create(&th, NULL, producer, &r);
    while (done < n) {
        store_job *j = store_writer_drain(r.w);
        if (!j) usleep(200);
        for (; j; j = j->next, done++)
            if (j->result) die("job", store_strerror(j->result));
    }
    t0 = now_s() - t0;
    pthread_join(th, NULL);
    store_writer_stats_get(r.w, &st);
    *commits = st.commits;
    store_writer_free(r.w);
    free(r.jobs);
    return (double)n / t0;
}

static double one_per_op(const char *path, int ndocs, char (*docs)[16],
                         long n)
{
    char err[256];
    store *s;
    double t0;
    if (store_open(&s, path, NULL, err, sizeof err)) die("open", err);
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        store_oprec rec = op_for(NULL, i, docs, ndocs);
        int rc = store_append(s, &rec, 1);
        if (rc) die("append", store_strerror(rc));
    }
    t0 = now_s() - t0;
    store_close(s);
    return (double)n / t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    static char docs[100][16];
    const char *tmp = getenv("TMPDIR"), *e = getenv("CHORUS_BENCH_OPS");
    long n = e ? atol(e) : 200000, nsingle = 3000;
    int sizes[3] = { 1, 10, 100 }, round = 0;
    char dir[256], path[300];
    uint64_t commits;
    snprintf(dir, sizeof dir, "%s/chorus-bench-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) die("mkdtemp", dir);
    if (n < 1000) n = 1000;
    const char *only = getenv("CHORUS_BENCH_DOCS");
    for (int k = 0; k < 3; k++) {
        int nd = sizes[k];
        double g, one, runs[3];
        if (only && atoi(only) != nd) continue;
        for (int rep = 0; rep < 3; rep++) {
            fresh_db(path, sizeof path, dir, round++, nd, docs);
            runs[rep] = group_commit(path, nd, docs, n, &commits);
        }
        qsort(runs, 3, sizeof runs[0], cmp_double);
        g = runs[1];
        fresh_db(path, sizeof path, dir, round++, nd, docs);
        one = one_per_op(path, nd, docs, nsingle);
        printf("store_commit_group_%ddocs: %.0f ops/s (%ld ops in %llu"
               " commits)\n", nd, g, n, (unsigned long long)commits);
        printf("store_commit_one_tx_per_op_%ddocs: %.0f ops/s\n", nd, one);
        printf("store_commit_group_vs_one_tx_%ddocs: %.1f x\n", nd, g / one);
        fflush(stdout);
    }
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
