/* test_store_disk.c -- disk trouble: write errors, a full disk, read-only.
 *
 * The writer must report a failed commit to every job it held, as an error
 * and never as success, leave the database consistent (store_check passes,
 * exactly the ops reported committed are stored), and recover once the
 * disk does. Write errors come from RLIMIT_FSIZE (any user, run in a child
 * process so the limit stays there); a full and a read-only disk come from a
 * tiny tmpfs, which needs root: without it those cases say so and pass. */
#include <errno.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "tests/test_store_util.h"

enum { MAXJOBS = 400, BIG = 20000 };

static char big_op[BIG + 8];

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static store_job *wait_one(store_writer *w)
{
    store_job *j;
    for (int i = 0; i < 20000; i++) {
        if ((j = store_writer_drain(w))) return j;
        sleep_ms(1);
    }
    return NULL;
}

/* Submit big ops one by one until one fails; returns how many committed,
 * and the failing result in *failed (0 if none failed within MAXJOBS). */
static int write_until_failure(store_writer *w, store_job *jobs, int from,
                               int *failed)
{
    int i;
    *failed = 0;
    for (i = from; i < MAXJOBS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].kind = STORE_JOB_APPEND;
        jobs[i].rec = rec("d", i + 1, big_op, "c", i + 1);
        if (store_writer_submit(w, &jobs[i]) || wait_one(w) != &jobs[i])
            return -1;
        if (jobs[i].result) {
            *failed = jobs[i].result;
            break;
        }
    }
    return i;
}

/* Exactly versions 1..committed are stored, and the database checks. */
static void verify_db(const char *path, int committed)
{
    char err[256] = "";
    store_docinfo d;
    int64_t v;
    store *s = NULL;
    CHECK_EQ_INT(store_open(&s, path, NULL, err, sizeof err), 0);
    if (!s) {
        fprintf(stderr, "  reopen: %s\n", err);
        return;
    }
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, committed);
    store_docinfo_clear(&d);
    CHECK_EQ_INT(store_find_seq(s, "d", "c", committed + 1, &v),
                 STORE_ENOTFOUND);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
}

static store_writer *new_writer(const char *path)
{
    char err[256] = "";
    store *s = NULL;
    store_options o;
    store_options_init(&o);
    o.auto_snapshot = 0;
    if (store_open(&s, path, &o, err, sizeof err) ||
        store_doc_create(s, "d", "", "", 1)) {
        fprintf(stderr, "  setup: %s\n", err);
        store_close(s);
        return NULL;
    }
    store_close(s);
    store_writer *w = store_writer_new(path, &o, NULL, NULL, err, sizeof err);
    if (!w) fprintf(stderr, "  store_writer_new: %s\n", err);
    return w;
}

static void io_error_child(const char *path)
{
    static store_job jobs[MAXJOBS];
    struct rlimit rl;
    int failed, n, more;
    store_writer *w = new_writer(path);
    REQUIRE(w);
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 256 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    n = write_until_failure(w, jobs, 0, &failed);
    CHECK(n > 0);
    CHECK_EQ_INT(failed, STORE_EIO);
    rl.rlim_cur = rl.rlim_max;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    verify_db(path, n);
    /* the disk is back: the writer goes on from where the log is */
    more = write_until_failure(w, jobs, n, &failed);
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(more, MAXJOBS);
    store_writer_free(w);
    verify_db(path, MAXJOBS);
}

static void test_a_write_error_fails_the_jobs_and_commits_nothing(void)
{
    tmp_db t;
    int status;
    pid_t pid;
    tmp_init(&t);
    fflush(NULL);
    if ((pid = fork()) == 0) {
        io_error_child(t.path);
        fflush(NULL);
        _exit(harness_case_failed);
    }
    REQUIRE(pid > 0);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tmp_cleanup(&t);
}

/* A 1 MiB tmpfs at t->dir, or 0 (and a note) when we may not mount. */
static int mount_tiny(tmp_db *t)
{
    if (mount("tmpfs", t->dir, "tmpfs", 0, "size=1m,mode=0700") == 0)
        return 1;
    printf("     (skipped: mounting a tmpfs needs root: %s)\n",
           strerror(errno));
    return 0;
}

static void test_a_full_disk_fails_the_jobs_with_efull(void)
{
    static store_job jobs[MAXJOBS];
    int failed, n;
    tmp_db t;
    tmp_init(&t);
    if (!mount_tiny(&t)) {
        tmp_cleanup(&t);
        return;
    }
    store_writer *w = new_writer(t.path);
    if (w) {
        n = write_until_failure(w, jobs, 0, &failed);
        CHECK(n > 0);
        CHECK_EQ_INT(failed, STORE_EFULL);
        store_writer_free(w);
        verify_db(t.path, n);
    }
    CHECK(w != NULL);
    umount2(t.dir, MNT_DETACH);
    tmp_cleanup(&t);
}

/* Leave the database as a killed server would: -wal and -shm in place. */
static void open_and_die(const char *path)
{
    int status;
    pid_t pid = fork();
    if (pid == 0) {
        store *s = NULL;
        _exit(store_open(&s, path, NULL, NULL, 0) ? 1 : 0);
    }
    waitpid(pid, &status, 0);
}

static void test_a_read_only_disk_fails_writer_jobs_with_ereadonly(void)
{
    store_job j;
    char err[256] = "";
    store *s = NULL;
    tmp_db t;
    tmp_init(&t);
    if (!mount_tiny(&t)) {
        tmp_cleanup(&t);
        return;
    }
    store_writer *w = new_writer(t.path);
    REQUIRE(w);
    store_writer_free(w);
    open_and_die(t.path);
    REQUIRE(mount(NULL, t.dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
    w = store_writer_new(t.path, NULL, NULL, NULL, err, sizeof err);
    CHECK(w != NULL);
    if (w) {
        memset(&j, 0, sizeof j);
        j.kind = STORE_JOB_APPEND;
        j.rec = rec("d", 1, "[\"a\"]", "c", 1);
        CHECK_EQ_INT(store_writer_submit(w, &j), 0);
        CHECK(wait_one(w) == &j);
        CHECK_EQ_INT(j.result, STORE_EREADONLY);
        store_writer_free(w);
    }
    CHECK_EQ_INT(store_open(&s, t.path, NULL, err, sizeof err), 0);
    if (s) {
        CHECK_EQ_INT(store_doc_create(s, "e", "", "", 1), STORE_EREADONLY);
        CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
        store_close(s);
    }
    umount2(t.dir, MNT_DETACH);
    tmp_cleanup(&t);
}

static void test_a_read_only_disk_without_wal_files_is_named_on_open(void)
{
    char err[256] = "";
    store *s = NULL;
    tmp_db t;
    tmp_init(&t);
    if (!mount_tiny(&t)) {
        tmp_cleanup(&t);
        return;
    }
    store_writer *w = new_writer(t.path);
    REQUIRE(w);
    store_writer_free(w);
    REQUIRE(mount(NULL, t.dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
    CHECK_EQ_INT(store_open(&s, t.path, NULL, err, sizeof err),
                 STORE_EREADONLY);
    CHECK(strstr(err, "is not writable (Read-only file system)") != NULL);
    CHECK(store_writer_new(t.path, NULL, NULL, NULL, err, sizeof err) ==
          NULL);
    CHECK(strstr(err, "is not writable (Read-only file system)") != NULL);
    umount2(t.dir, MNT_DETACH);
    tmp_cleanup(&t);
}

int main(void)
{
    memset(big_op, 'x', sizeof big_op);
    memcpy(big_op, "[\"", 2);
    memcpy(big_op + BIG, "\"]", 3);
    RUN(test_a_write_error_fails_the_jobs_and_commits_nothing);
    RUN(test_a_full_disk_fails_the_jobs_with_efull);
    RUN(test_a_read_only_disk_fails_writer_jobs_with_ereadonly);
    RUN(test_a_read_only_disk_without_wal_files_is_named_on_open);
    return harness_done();
}
