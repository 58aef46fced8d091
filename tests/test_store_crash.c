/* test_store_crash.c -- kill -9 in the middle of group commits.
 *
 * A child process appends ops through a store_writer as fast as it can and,
 * for each job that comes back committed, writes its (doc, version) to a
 * file (a write() survives SIGKILL, and never blocks like a full pipe):
 * that is the moment a server would acknowledge it. The parent kills
 * the child with SIGKILL at a random moment, then reopens the database:
 * every acknowledged op must be there exactly once at its version, the logs
 * must have no gap, and store_check must pass. (The same test against the
 * real server belongs to the server's suite; this one pins the storage
 * layer's part of that promise.) */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "tests/test_store_util.h"

enum { DOCS = 3, RING = 2048 };

typedef struct ack {
    int32_t doc;
    int32_t version;
} ack;

static const char *const doc_ids[DOCS] = { "d0", "d1", "d2" };

/* The child: append forever, RING jobs in flight, reporting each
 * committed op on 'fd' (completions come back in submission order). */
static void run_child(const char *path, int fd)
{
    static store_job jobs[RING];
    static char client[DOCS][16];
    int64_t next[DOCS] = { 1, 1, 1 }, submitted = 0, done = 0;
    store_writer *w = store_writer_new(path, NULL, NULL, NULL, NULL, 0);
    if (!w) _exit(3);
    for (int d = 0; d < DOCS; d++)
        snprintf(client[d], sizeof client[d], "client-%d", d);
    for (;;) {
        for (; submitted - done < RING; submitted++) {
            int d = (int)(rnd() % DOCS);
            store_job *j = &jobs[submitted % RING];
            memset(j, 0, sizeof *j);
            j->kind = STORE_JOB_APPEND;
            j->rec = rec(doc_ids[d], next[d], "[\"ab\"]", client[d], next[d]);
            next[d]++;
            if (store_writer_submit(w, j)) _exit(4);
        }
        for (store_job *j = store_writer_drain(w); j; j = j->next, done++) {
            ack a = { (int32_t)(j->rec.doc[1] - '0'),
                      (int32_t)j->rec.version };
            if (j->result) _exit(5);
            if (write(fd, &a, sizeof a) != (ssize_t)sizeof a) _exit(6);
        }
    }
}

/* Read every ack the child sent; the highest version per document. */
static int read_acks(int fd, int64_t top[DOCS])
{
    ack a;
    int n = 0;
    while (read(fd, &a, sizeof a) == (ssize_t)sizeof a) {
        if (a.doc >= 0 && a.doc < DOCS && a.version > top[a.doc])
            top[a.doc] = a.version;
        n++;
    }
    return n;
}

static void crash_once(uint64_t seed)
{
    int64_t top[DOCS] = { 0, 0, 0 };
    char acks_path[128];
    int fd, status, acks;
    store_docinfo d;
    int64_t v;
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    for (int i = 0; i < DOCS; i++)
        REQUIRE(store_doc_create(s, doc_ids[i], "", "", 1) == 0);
    store_close(s);
    snprintf(acks_path, sizeof acks_path, "%s/acks", t.dir);
    fd = open(acks_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    REQUIRE(fd >= 0);
    rng_state = seed | 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) run_child(t.path, fd);
    /* once the child is acknowledging, kill it within the next 250 ms */
    struct timespec ms = { 0, 1000000L };
    for (int i = 0; i < 20000 && lseek(fd, 0, SEEK_END) == 0; i++)
        nanosleep(&ms, NULL);
    struct timespec ts = { 0, (long)(rnd() % 250) * 1000000L };
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    lseek(fd, 0, SEEK_SET);
    acks = read_acks(fd, top);
    close(fd);
    CHECK(acks > 0);
    if (getenv("CHORUS_VERBOSE"))
        printf("     %d acks before the kill\n", acks);
    s = open_db(&t, 0, 0);
    REQUIRE(s);
    for (int i = 0; i < DOCS; i++) {
        CHECK_EQ_INT(store_doc_get(s, doc_ids[i], &d), 0);
        CHECK(d.version >= top[i]); /* acked ops survived... */
        /* ...each exactly once, at its own version (the log has no gap,
         * so version k holds the op with seq k, sent as the k-th) */
        char client[16];
        store_oprec *recs = NULL;
        size_t n = 0;
        snprintf(client, sizeof client, "client-%d", i);
        CHECK_EQ_INT(store_ops_after(s, doc_ids[i], 0, 0, &recs, &n), 0);
        CHECK((int64_t)n == d.version);
        for (size_t k = 0; k < n && k < (size_t)top[i]; k++)
            if (recs[k].version != (int64_t)k + 1 ||
                recs[k].seq != (int64_t)k + 1 ||
                strcmp(recs[k].client, client) != 0) {
                CHECK_EQ_INT(recs[k].seq, (int64_t)k + 1);
                break;
            }
        store_oprecs_free(recs);
        /* and the client's newest op is known for dedup */
        int64_t last = -1;
        if (d.version > 0) {
            CHECK_EQ_INT(store_client_last(s, doc_ids[i], client, &last, &v), 0);
            CHECK_EQ_INT(last, d.version);
            CHECK_EQ_INT(v, d.version);
        }
        store_docinfo_clear(&d);
    }
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_every_acknowledged_op_survives_kill_9(void)
{
    uint64_t seed = harness_seed();
    for (int i = 0; i < 4; i++) crash_once(seed + (uint64_t)i);
}

int main(void)
{
    RUN(test_every_acknowledged_op_survives_kill_9);
    return harness_done();
}
