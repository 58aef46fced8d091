/* bench_store_pg.c -- durable committed ops/s through the storage layer on
 * PostgreSQL, beside SQLite in the same run.
 *
 * The group-commit case of bench_store_commit.c (a producer thread
 * submitting APPEND jobs to a store_writer as fast as it can, timed from
 * the first submit to the last completion) on a throwaway PostgreSQL 15
 * (tests/pg.sh, synchronous_commit=on: every counted op is durable) and on
 * an SQLite file (synchronous=FULL), for 1 and 10 documents, median of 3
 * runs on fresh databases; also one transaction per op on PostgreSQL. Both
 * servers share this machine's 2 cores with the bench: the figures show
 * cost, not what a dedicated database host does.
 * CHORUS_BENCH_OPS sets the group-commit op count (default 50000). */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/store.h"

static char pg_dir[256], pg_base[400];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_store_pg: %s: %s\n", what, why);
    exit(1);
}

static void pg_stop(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "sh tests/pg.sh stop %s", pg_dir);
    if (pg_dir[0] && system(cmd) != 0) fprintf(stderr, "cannot stop %s\n", pg_dir);
}

/* A fresh database (PostgreSQL when 'pg', else a file) holding 'ndocs'
 * documents doc-000...; its path or URL into 'path'. */
static void fresh(char *path, size_t cap, int pg, int round, int ndocs)
{
    char err[256], sql[64], name[32];
    store *s;
    snprintf(name, sizeof name, "bench%d", round);
    if (pg) {
        PGconn *c = PQconnectdb(pg_base);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("create database", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        snprintf(path, cap, "%.*s/%s",
                 (int)(strrchr(pg_base, '/') - pg_base), pg_base, name);
    } else {
        snprintf(path, cap, "%s/%s.db", pg_dir, name);
    }
    if (store_open(&s, path, NULL, err, sizeof err)) die("open", err);
    for (int i = 0; i < ndocs; i++) {
        char id[16];
        snprintf(id, sizeof id, "doc-%03d", i);
        if (store_doc_create(s, id, "", "bench", 1)) die("create", id);
    }
    store_close(s);
}

typedef struct run {
    store_writer *w;
    store_job *jobs;
    long n;
    int ndocs;
    char ids[10][16];
} run;

static void *producer(void *arg)
{
    run *r = arg;
    for (long i = 0; i < r->n; i++) {
        store_oprec rec = { r->ids[i % r->ndocs], i / r->ndocs + 1,
                            "[12,\"a\"]", "client-0001", i + 1, "alice",
                            1700000000000 + i };
        memset(&r->jobs[i], 0, sizeof r->jobs[i]);
        r->jobs[i].kind = STORE_JOB_APPEND;
        r->jobs[i].rec = rec;
        if (store_writer_submit(r->w, &r->jobs[i])) die("submit", "refused");
    }
    return NULL;
}

static double group_commit(const char *path, int ndocs, long n,
                           uint64_t *commits)
{
    static run r;
    store_options o;
    store_writer_stats st;
    char err[256];
    pthread_t th;
    long done = 0;
    store_options_init(&o);
    o.auto_snapshot = 0;
    r.n = n;
    r.ndocs = ndocs;
    for (int i = 0; i < ndocs; i++) snprintf(r.ids[i], 16, "doc-%03d", i);
    if (!(r.jobs = calloc((size_t)n, sizeof(store_job)))) die("calloc", "");
    if (!(r.w = store_writer_new(path, &o, NULL, NULL, err, sizeof err)))
        die("writer", err);
    double t0 = now_s();
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

static double one_per_op(const char *path, long n)
{
    char err[256];
    store *s;
    if (store_open(&s, path, NULL, err, sizeof err)) die("open", err);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        store_oprec rec = { "doc-000", i + 1, "[12,\"a\"]", "client-0001",
                            i + 1, "alice", 1700000000000 + i };
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
    const char *e = getenv("CHORUS_BENCH_OPS");
    long n = e ? atol(e) : 50000;
    int sizes[2] = {1, 10}, round = 0;
    char path[512];
    uint64_t commits = 0;
    FILE *f = popen("sh tests/pg.sh start", "r");
    if (!f || !fgets(pg_dir, sizeof pg_dir, f) ||
        !fgets(pg_base, sizeof pg_base, f) || pclose(f) != 0) {
        printf("skipped: cannot start PostgreSQL (tests/pg.sh)\n");
        return 0;
    }
    pg_dir[strcspn(pg_dir, "\n")] = 0;
    pg_base[strcspn(pg_base, "\n")] = 0;
    atexit(pg_stop);
    if (n < 1000) n = 1000;
    for (int k = 0; k < 2; k++) {
        for (int pg = 1; pg >= 0; pg--) {
            double runs[3];
            for (int rep = 0; rep < 3; rep++) {
                fresh(path, sizeof path, pg, round++, sizes[k]);
                runs[rep] = group_commit(path, sizes[k], n, &commits);
            }
            qsort(runs, 3, sizeof runs[0], cmp_double);
            printf("store_commit_group_%ddocs_%s: %.0f ops/s (%ld ops in"
                   " %llu commits)\n", sizes[k], pg ? "postgresql" : "sqlite",
                   runs[1], n, (unsigned long long)commits);
            fflush(stdout);
        }
    }
    fresh(path, sizeof path, 1, round++, 1);
    printf("store_commit_one_tx_per_op_1docs_postgresql: %.0f ops/s\n",
           one_per_op(path, 1000));
    return 0;
}
