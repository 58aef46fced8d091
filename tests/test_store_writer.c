/* test_store_writer.c -- group commit, the reader pool, online backup.
 *
 * The writer must commit whatever is queued in one transaction, hand jobs
 * back in submission order with their own results, flush on stop, and never
 * lose or reorder a job when many threads submit at once. Pool tasks run on
 * their own connections while the writer writes; a backup taken while the
 * writer runs is a consistent database that passes store_check. */
#include <dirent.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/test_store_util.h"

typedef struct waker {
    pthread_mutex_t mu;
    int wakes;
} waker;

static void wake_fn(void *arg)
{
    waker *k = arg;
    pthread_mutex_lock(&k->mu);
    k->wakes++;
    pthread_mutex_unlock(&k->mu);
}

/* A writer without auto snapshots, its WAL preallocated to 'mib' MiB. */
static store_writer *writer_prealloc(tmp_db *t, waker *k, int mib)
{
    char err[256] = "";
    store_options o;
    store_options_init(&o);
    o.auto_snapshot = 0;
    o.wal_prealloc_mib = mib;
    store_writer *w = store_writer_new(t->path, &o, wake_fn, k, err,
                                       sizeof err);
    if (!w) fprintf(stderr, "  store_writer_new: %s\n", err);
    return w;
}

static store_writer *writer(tmp_db *t, waker *k)
{
    return writer_prealloc(t, k, 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Drain until 'want' jobs came back (or 20 s passed); store them in order. */
static int drain_n(store_writer *w, store_job **got, int want)
{
    int n = 0;
    for (int waited = 0; n < want && waited < 20000; ) {
        store_job *j = store_writer_drain(w);
        if (!j) {
            sleep_ms(1);
            waited++;
        }
        for (; j && n < want; j = j->next) got[n++] = j;
    }
    return n;
}

static void fill_append(store_job *j, const char *doc, int64_t v,
                        const char *op, const char *client, int64_t seq)
{
    memset(j, 0, sizeof *j);
    j->kind = STORE_JOB_APPEND;
    j->rec = rec(doc, v, op, client, seq);
}

static void test_jobs_commit_and_come_back_in_submission_order(void)
{
    enum { N = 300 };
    static store_job jobs[N];
    store_job *got[N];
    store_writer_stats st;
    store_docinfo d;
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    for (int i = 0; i < N; i++) {
        fill_append(&jobs[i], "d", i + 1, "[\"a\"]", "c", i + 1);
        jobs[i].ctx = &jobs[i];
        CHECK_EQ_INT(store_writer_submit(w, &jobs[i]), 0);
    }
    REQUIRE(drain_n(w, got, N) == N);
    for (int i = 0; i < N; i++) {
        CHECK(got[i] == &jobs[i]);
        CHECK_EQ_INT(got[i]->result, 0);
    }
    store_writer_stats_get(w, &st);
    CHECK_EQ_INT(st.jobs_committed, N);
    CHECK(st.commits >= 1 && st.commits <= N);
    CHECK_EQ_INT(st.queued, 0);
    CHECK(k.wakes >= 1);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, N);
    store_docinfo_clear(&d);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_batches_never_exceed_max_batch(void)
{
    enum { N = 400 };
    static store_job jobs[N];
    store_job *got[N];
    store_writer_stats st;
    store_options o;
    char err[256];
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    store_options_init(&o);
    o.max_batch = 16;
    store_writer *w = store_writer_new(t.path, &o, NULL, NULL, err,
                                       sizeof err);
    REQUIRE(w);
    for (int i = 0; i < N; i++) {
        fill_append(&jobs[i], "d", i + 1, "[\"a\"]", "c", i + 1);
        REQUIRE(store_writer_submit(w, &jobs[i]) == 0);
    }
    REQUIRE(drain_n(w, got, N) == N);
    store_writer_stats_get(w, &st);
    CHECK(st.max_batch <= 16);
    CHECK(st.commits >= N / 16);
    CHECK_EQ_INT(st.jobs_committed, N);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

/* ---- many producers ----------------------------------------------------- */

enum { PRODUCERS = 8, PER_PRODUCER = 1500 };

typedef struct producer {
    store_writer *w;
    pthread_mutex_t *order_mu; /* makes "submission order" observable */
    long *order;
    char doc[16];
    store_job jobs[PER_PRODUCER];
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        fill_append(&p->jobs[i], p->doc, i + 1, "[\"x\"]", "c", i + 1);
        pthread_mutex_lock(p->order_mu);
        p->jobs[i].ctx = (void *)(*p->order)++;
        store_writer_submit(p->w, &p->jobs[i]);
        pthread_mutex_unlock(p->order_mu);
    }
    return NULL;
}

static void test_many_threads_group_commit_without_loss_or_reorder(void)
{
    static producer prod[PRODUCERS];
    static store_job *got[PRODUCERS * PER_PRODUCER];
    pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_t th[PRODUCERS];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    store_writer_stats st;
    long order = 0;
    int total = PRODUCERS * PER_PRODUCER, n;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i].w = w;
        prod[i].order_mu = &order_mu;
        prod[i].order = &order;
        snprintf(prod[i].doc, sizeof prod[i].doc, "doc%d", i);
        REQUIRE(store_doc_create(s, prod[i].doc, "", "", 1) == 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&th[i], NULL, produce, &prod[i]);
    for (int i = 0; i < PRODUCERS; i++) pthread_join(th[i], NULL);
    n = drain_n(w, got, total);
    CHECK_EQ_INT(n, total);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT((long)got[i]->ctx, i);
        if (got[i]->result) CHECK_EQ_INT(got[i]->result, 0);
    }
    store_writer_stats_get(w, &st);
    CHECK_EQ_INT(st.jobs_committed, total);
    CHECK(st.commits < (uint64_t)total); /* batches did form */
    CHECK(st.max_batch > 1);
    for (int i = 0; i < PRODUCERS; i++) {
        store_docinfo d;
        CHECK_EQ_INT(store_doc_get(s, prod[i].doc, &d), 0);
        CHECK_EQ_INT(d.version, PER_PRODUCER);
        store_docinfo_clear(&d);
    }
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_a_refused_job_fails_alone_and_the_rest_commit(void)
{
    store_job j[6], *got[6];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    int64_t v;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    fill_append(&j[0], "d", 1, "[\"a\"]", "c1", 1);
    fill_append(&j[1], "d", 1, "[\"b\"]", "c2", 1); /* version taken */
    fill_append(&j[2], "d", 2, "[\"c\"]", "c2", 2);
    fill_append(&j[3], "d", 3, "[\"a\"]", "c1", 1); /* resent */
    fill_append(&j[4], "d", 9, "[\"a\"]", "c3", 1); /* gap */
    fill_append(&j[5], "x", 1, "[\"a\"]", "c3", 1); /* no such doc */
    j[2].fresh = j[4].fresh = 1; /* past the refusals (next test) */
    for (int i = 0; i < 6; i++) REQUIRE(store_writer_submit(w, &j[i]) == 0);
    REQUIRE(drain_n(w, got, 6) == 6);
    CHECK_EQ_INT(j[0].result, 0);
    CHECK_EQ_INT(j[1].result, STORE_ECONFLICT);
    CHECK_EQ_INT(j[2].result, 0);
    CHECK_EQ_INT(j[3].result, STORE_EDUP);
    CHECK_EQ_INT(j[4].result, STORE_ERANGE);
    CHECK_EQ_INT(j[5].result, STORE_ENOTFOUND);
    CHECK_EQ_INT(store_find_seq(s, "d", "c2", 2, &v), 0);
    CHECK_EQ_INT(v, 2);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

/* Another writer (a process, a node) takes version 1 first: the writer's
 * APPEND of version 1 is refused, and so is its version 2, although it
 * would now be the next one (it was made on top of the refused op), and
 * every later APPEND of the document, until a fresh one; other documents
 * are not held up. */
static void test_after_a_conflict_appends_are_refused_until_a_fresh_one(void)
{
    store_job j[6], *got[6];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    int64_t v = 0;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    REQUIRE(store_doc_create(s, "e", "", "", 1) == 0);
    store_oprec other = rec("d", 1, "[\"R\"]", "other", 1);
    REQUIRE(store_append(s, &other, 1) == 0);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    fill_append(&j[0], "d", 1, "[\"a\"]", "c1", 1); /* taken */
    fill_append(&j[1], "d", 2, "[\"b\"]", "c1", 2); /* on top of j[0] */
    fill_append(&j[2], "e", 1, "[\"e\"]", "c1", 1); /* another document */
    fill_append(&j[3], "d", 3, "[\"c\"]", "c1", 3);
    fill_append(&j[4], "d", 2, "[1,\"a\"]", "c1", 1); /* caught up */
    fill_append(&j[5], "d", 3, "[2,\"b\"]", "c1", 2);
    j[4].fresh = 1;
    for (int i = 0; i < 6; i++) REQUIRE(store_writer_submit(w, &j[i]) == 0);
    REQUIRE(drain_n(w, got, 6) == 6);
    CHECK_EQ_INT(j[0].result, STORE_ECONFLICT);
    CHECK_EQ_INT(j[1].result, STORE_ECONFLICT);
    CHECK_EQ_INT(j[2].result, 0);
    CHECK_EQ_INT(j[3].result, STORE_ECONFLICT);
    CHECK_EQ_INT(j[4].result, 0);
    CHECK_EQ_INT(j[5].result, 0);
    CHECK_EQ_INT(store_find_seq(s, "d", "c1", 2, &v), 0);
    CHECK_EQ_INT(v, 3);
    char *text = NULL;
    size_t bytes = 0;
    CHECK_EQ_INT(store_text_at(s, "d", 3, &text, &bytes), 0);
    CHECK_EQ_STR(text ? text : "", "Rab");
    free(text);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_snapshot_jobs_are_written_and_checked(void)
{
    store_job j[4], *got[4];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    char *text;
    size_t bytes;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    fill_append(&j[0], "d", 1, "[\"ab\"]", "c", 1);
    fill_append(&j[1], "d", 2, "[1,\"X\"]", "c", 2);
    memset(&j[2], 0, sizeof j[2]);
    j[2].kind = STORE_JOB_SNAPSHOT;
    j[2].snap.doc = "d";
    j[2].snap.version = 2;
    j[2].snap.text = "aXb";
    j[2].snap.bytes = 3;
    j[3] = j[2];
    j[3].snap.version = 3; /* beyond the log */
    for (int i = 0; i < 4; i++) REQUIRE(store_writer_submit(w, &j[i]) == 0);
    REQUIRE(drain_n(w, got, 4) == 4);
    CHECK_EQ_INT(j[2].result, 0);
    CHECK_EQ_INT(j[3].result, STORE_ERANGE);
    CHECK_EQ_INT(store_text_at(s, "d", 2, &text, &bytes), 0);
    CHECK_EQ_STR(text, "aXb");
    free(text);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

static void doc_job(store_job *j, store_job_kind kind, const char *id,
                    const char *title)
{
    memset(j, 0, sizeof *j);
    j->kind = kind;
    j->doc.id = id;
    j->doc.title = title;
    j->doc.creator = "ann";
    j->doc.now_ms = 77;
}

static void test_document_jobs_create_retitle_and_delete(void)
{
    store_job j[8], *got[8];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    store_docinfo d;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    doc_job(&j[0], STORE_JOB_DOC_CREATE, "a", "First");
    doc_job(&j[1], STORE_JOB_DOC_CREATE, "a", "Again"); /* exists */
    fill_append(&j[2], "a", 1, "[\"x\"]", "c", 1);
    doc_job(&j[3], STORE_JOB_DOC_TITLE, "a", "Renamed");
    doc_job(&j[4], STORE_JOB_DOC_CREATE, "b", "Gone soon");
    fill_append(&j[5], "b", 1, "[\"y\"]", "c", 1);
    doc_job(&j[6], STORE_JOB_DOC_DELETE, "b", NULL);
    fill_append(&j[7], "b", 2, "[\"z\"]", "c", 2); /* deleted doc */
    /* hold the write lock so that the jobs after the first share a batch */
    sqlite3 *lock;
    REQUIRE(sqlite3_open(t.path, &lock) == SQLITE_OK);
    REQUIRE(sqlite3_exec(lock, "BEGIN IMMEDIATE", 0, 0, 0) == SQLITE_OK);
    for (int i = 0; i < 8; i++) REQUIRE(store_writer_submit(w, &j[i]) == 0);
    sleep_ms(30);
    sqlite3_exec(lock, "COMMIT", 0, 0, 0);
    sqlite3_close(lock);
    REQUIRE(drain_n(w, got, 8) == 8);
    int want[8] = { 0, STORE_EEXIST, 0, 0, 0, 0, 0, STORE_ENOTFOUND };
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(j[i].result, want[i]);
    store_writer_stats st;
    store_writer_stats_get(w, &st);
    CHECK(st.max_batch >= 7);
    CHECK_EQ_INT(store_doc_get(s, "a", &d), 0);
    CHECK_EQ_STR(d.title, "Renamed");
    CHECK_EQ_STR(d.creator, "ann");
    CHECK_EQ_INT(d.version, 1);
    store_docinfo_clear(&d);
    CHECK_EQ_INT(store_doc_get(s, "b", &d), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_stop_flushes_the_queue_and_then_refuses_jobs(void)
{
    enum { N = 500 };
    static store_job jobs[N];
    store_job *got[N], late;
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    store_docinfo d;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    for (int i = 0; i < N; i++) {
        fill_append(&jobs[i], "d", i + 1, "[\"a\"]", "c", i + 1);
        REQUIRE(store_writer_submit(w, &jobs[i]) == 0);
    }
    store_writer_stop(w);
    fill_append(&late, "d", N + 1, "[\"a\"]", "c", N + 1);
    CHECK_EQ_INT(store_writer_submit(w, &late), STORE_ESTOPPED);
    CHECK_EQ_INT(drain_n(w, got, N), N);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(jobs[i].result, 0);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, N);
    store_docinfo_clear(&d);
    store_writer_free(w);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_submit_refuses_bad_jobs(void)
{
    store_job j;
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    tmp_db t;
    tmp_init(&t);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    memset(&j, 0, sizeof j);
    CHECK_EQ_INT(store_writer_submit(w, &j), STORE_EINVAL);
    CHECK_EQ_INT(store_writer_submit(w, NULL), STORE_EINVAL);
    CHECK(store_writer_drain(w) == NULL);
    store_writer_free(w);
    store_writer_free(NULL);
    tmp_cleanup(&t);
}

static void test_checkpoints_run_in_the_background_and_bound_the_wal(void)
{
    enum { WAVES = 12, PER = 250, BIG = 4000 };
    static store_job jobs[WAVES * PER];
    static store_job *got[PER];
    static char op[BIG + 8];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    store_writer_stats st;
    char wal[128];
    struct stat sb;
    tmp_db t;
    tmp_init(&t);
    memset(op, 'y', sizeof op);
    memcpy(op, "[\"", 2);
    memcpy(op + BIG, "\"]", 3);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    store_writer *w = writer(&t, &k);
    REQUIRE(w);
    for (int wave = 0, v = 0; wave < WAVES; wave++) {
        for (int i = 0; i < PER; i++, v++) {
            fill_append(&jobs[v], "d", v + 1, op, "c", v + 1);
            REQUIRE(store_writer_submit(w, &jobs[v]) == 0);
        }
        REQUIRE(drain_n(w, got, PER) == PER);
        for (int i = 0; i < PER; i++) CHECK_EQ_INT(got[i]->result, 0);
        sleep_ms(100); /* a pause: the checkpointer catches up */
    }
    store_writer_stats_get(w, &st);
    CHECK(st.checkpoints >= 1);
    snprintf(wal, sizeof wal, "%s-wal", t.path);
    CHECK(stat(wal, &sb) == 0);
    /* 12 MB went through it; restarts keep it near the 4 MB threshold */
    CHECK(sb.st_size < (int64_t)WAVES * PER * BIG * 2 / 3);
    store_writer_free(w);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

static int64_t wal_size(const tmp_db *t)
{
    char wal[128];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", t->path);
    return stat(wal, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static void test_an_empty_wal_is_preallocated_and_a_used_one_is_left_alone(void)
{
    enum { N = 300 };
    static store_job jobs[N];
    store_job *got[N];
    store_docinfo d;
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    /* a WAL holding frames is never touched */
    int64_t used = wal_size(&t);
    REQUIRE(used > 0);
    store_writer *w = writer_prealloc(&t, &k, 4);
    REQUIRE(w);
    CHECK_EQ_INT(wal_size(&t), used);
    store_writer_free(w);
    /* an empty one is filled with zeros, which SQLite reads as no log */
    sqlite3 *raw = NULL;
    REQUIRE(sqlite3_open(t.path, &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(raw);
    REQUIRE(wal_size(&t) == 0);
    REQUIRE((w = writer_prealloc(&t, &k, 4)));
    CHECK_EQ_INT(wal_size(&t), 4 << 20);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, 0);
    store_docinfo_clear(&d);
    for (int i = 0; i < N; i++) {
        fill_append(&jobs[i], "d", i + 1, "[\"a\"]", "c", i + 1);
        REQUIRE(store_writer_submit(w, &jobs[i]) == 0);
    }
    REQUIRE(drain_n(w, got, N) == N);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(got[i]->result, 0);
    CHECK_EQ_INT(wal_size(&t), 4 << 20); /* overwritten, not grown */
    store_writer_free(w);
    store_close(s);
    /* and a fresh connection finds every commit */
    REQUIRE((s = open_db(&t, 0, 0)));
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, N);
    store_docinfo_clear(&d);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

/* ---- pool --------------------------------------------------------------- */

typedef struct text_task {
    store_task task;
    int64_t version;
    char *expect;
    int matched;
} text_task;

static int run_text_at(store *s, store_task *t)
{
    text_task *tt = (text_task *)t;
    char *text;
    size_t bytes;
    int rc = store_text_at(s, "d", tt->version, &text, &bytes);
    if (rc) return rc;
    tt->matched = strcmp(text, tt->expect) == 0;
    free(text);
    return 0;
}

static void test_pool_tasks_read_on_their_own_connections(void)
{
    enum { N = 60, V = 250 };
    static text_task tasks[N];
    static char *texts[V + 1];
    store_job jobs[50], *jgot[50];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    waker kw = { PTHREAD_MUTEX_INITIALIZER, 0 };
    char err[256] = "", json[128];
    model m = { 0 };
    int done = 0;
    tmp_db t;
    rng_state = harness_seed() | 1;
    tmp_init(&t);
    store *s = open_db(&t, 20, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    REQUIRE(store_doc_create(s, "busy", "", "", 1) == 0);
    texts[0] = model_text(&m);
    for (int v = 1; v <= V; v++) {
        model_edit(&m, json, sizeof json);
        store_oprec r = rec("d", v, json, "c", v);
        REQUIRE(store_append(s, &r, 1) == 0);
        texts[v] = model_text(&m);
    }
    store_pool *p = store_pool_new(t.path, NULL, 3, wake_fn, &k, err,
                                   sizeof err);
    REQUIRE(p);
    store_writer *w = writer(&t, &kw); /* writes while the pool reads */
    REQUIRE(w);
    for (int i = 0; i < 50; i++) {
        fill_append(&jobs[i], "busy", i + 1, "[\"z\"]", "c", i + 1);
        store_writer_submit(w, &jobs[i]);
    }
    for (int i = 0; i < N; i++) {
        tasks[i].task.run = run_text_at;
        tasks[i].version = (int64_t)(rnd() % (V + 1));
        tasks[i].expect = texts[tasks[i].version];
        CHECK_EQ_INT(store_pool_submit(p, &tasks[i].task), 0);
    }
    for (int waited = 0; done < N && waited < 20000; waited++) {
        store_task *d = store_pool_drain(p);
        if (!d) sleep_ms(1);
        for (; d; d = d->next) {
            text_task *tt = (text_task *)d;
            CHECK_EQ_INT(d->result, 0);
            CHECK(tt->matched);
            done++;
        }
    }
    CHECK_EQ_INT(done, N);
    CHECK(k.wakes >= 1);
    CHECK_EQ_INT(drain_n(w, jgot, 50), 50);
    store_pool_stop(p);
    CHECK_EQ_INT(store_pool_submit(p, &tasks[0].task), STORE_ESTOPPED);
    store_pool_free(p);
    store_writer_free(w);
    for (int v = 0; v <= V; v++) free(texts[v]);
    free(m.cp);
    store_close(s);
    tmp_cleanup(&t);
}

/* ---- backup ------------------------------------------------------------- */

typedef struct feeder {
    store_writer *w;
    atomic_int stop;
    int submitted;
    store_job jobs[20000];
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    for (int i = 0; i < 20000 && !atomic_load(&f->stop); i++) {
        fill_append(&f->jobs[i], "d", i + 1, "[\"ab\",-1]", "c", i + 1);
        if (i == 0) f->jobs[i].rec.op = "[\"ab\"]";
        store_writer_submit(f->w, &f->jobs[i]);
        f->submitted = i + 1;
        if (i % 64 == 0) sleep_ms(1);
    }
    return NULL;
}

static int part_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) n += strstr(e->d_name, ".part-") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_backup_while_writing_is_consistent(void)
{
    static feeder f;
    static store_job *got[20000];
    waker k = { PTHREAD_MUTEX_INITIALIZER, 0 };
    char dest[128], err[256] = "";
    pthread_t th;
    store_docinfo d, bd;
    store *b = NULL;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 50, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    memset(&f, 0, sizeof f);
    f.w = writer(&t, &k);
    REQUIRE(f.w);
    pthread_create(&th, NULL, feed, &f);
    sleep_ms(50);
    snprintf(dest, sizeof dest, "%s/backup.db", t.dir);
    CHECK_EQ_INT(store_backup(s, dest, err, sizeof err), 0);
    atomic_store(&f.stop, 1);
    pthread_join(th, NULL);
    store_writer_stop(f.w);
    CHECK_EQ_INT(drain_n(f.w, got, f.submitted), f.submitted);
    CHECK_EQ_INT(store_open(&b, dest, NULL, err, sizeof err), 0);
    REQUIRE(b);
    CHECK_EQ_INT(store_check(b, NULL, NULL), 0);
    CHECK_EQ_INT(store_doc_get(b, "d", &bd), 0);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK(bd.version > 0 && bd.version <= d.version);
    CHECK_EQ_INT(d.version, f.submitted);
    store_docinfo_clear(&bd);
    store_docinfo_clear(&d);
    store_close(b);
    CHECK_EQ_INT(store_backup(s, dest, err, sizeof err), STORE_EEXIST);
    CHECK(strstr(err, "already exists") != NULL);
    CHECK_EQ_INT(part_files(t.dir), 0);
    store_writer_free(f.w);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_backup_into_a_missing_directory_fails_cleanly(void)
{
    char err[256] = "";
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    CHECK_EQ_INT(store_backup(s, "/nonexistent-chorus-dir/b.db", err,
                              sizeof err), STORE_ECANTOPEN);
    CHECK(strstr(err, "/nonexistent-chorus-dir/b.db") != NULL);
    store_close(s);
    tmp_cleanup(&t);
}

int main(void)
{
    RUN(test_jobs_commit_and_come_back_in_submission_order);
    RUN(test_batches_never_exceed_max_batch);
    RUN(test_many_threads_group_commit_without_loss_or_reorder);
    RUN(test_a_refused_job_fails_alone_and_the_rest_commit);
    RUN(test_after_a_conflict_appends_are_refused_until_a_fresh_one);
    RUN(test_snapshot_jobs_are_written_and_checked);
    RUN_SQLITE(test_document_jobs_create_retitle_and_delete);
    RUN(test_stop_flushes_the_queue_and_then_refuses_jobs);
    RUN(test_submit_refuses_bad_jobs);
    RUN_SQLITE(test_checkpoints_run_in_the_background_and_bound_the_wal);
    RUN_SQLITE(test_an_empty_wal_is_preallocated_and_a_used_one_is_left_alone);
    RUN(test_pool_tasks_read_on_their_own_connections);
    RUN_SQLITE(test_backup_while_writing_is_consistent);
    RUN_SQLITE(test_backup_into_a_missing_directory_fails_cleanly);
    return harness_done();
}
