/* test_store_vfs.c -- the VFS that gathers a commit's WAL writes.
 *
 * A commit must reach the WAL as one write, yet every other connection (a
 * reader, the checkpointer, another process after a crash) must find in
 * the file exactly what SQLite wrote, at every commit. Connections with
 * synchronous=NORMAL must not use the buffer at all: nothing would flush
 * it before their commits become visible. */
#include <sqlite3.h>
#include <sys/wait.h>

#include "storage/store_int.h"
#include "tests/test_store_util.h"

static store *open_sync(tmp_db *t, store_sync sync)
{
    store_options o;
    store_options_init(&o);
    o.sync = sync;
    o.auto_snapshot = 0;
    return open_db_with(t, &o);
}

/* 'n' ops of about 'size' bytes each on doc, from version 'from'. */
static int append_big(store *s, const char *doc, int64_t from, int n,
                      size_t size)
{
    store_oprec *r = calloc((size_t)n, sizeof *r);
    char *op = malloc(size + 8);
    int rc;
    snprintf(op, 8, "[\"");
    memset(op + 2, 'x', size);
    strcpy(op + 2 + size, "\"]");
    for (int i = 0; i < n; i++)
        r[i] = rec(doc, from + i, op, "c1", from + i);
    rc = store_append(s, r, (size_t)n);
    free(op);
    free(r);
    return rc;
}

static void test_a_commit_of_many_pages_reaches_the_wal_in_one_write(void)
{
    tmp_db t;
    uint64_t in0, out0, in1, out1;
    tmp_init(&t);
    store *s = open_sync(&t, STORE_SYNC_FULL);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    REQUIRE(append_big(s, "d", 1, 1, 10) == 0); /* the WAL's header is out */
    store__vfs_counts(&in0, &out0, NULL);
    REQUIRE(append_big(s, "d", 2, 10, 600) == 0); /* a few pages */
    store__vfs_counts(&in1, &out1, NULL);
    CHECK(in1 - in0 >= 8);    /* SQLite wrote frame by frame */
    CHECK_EQ_INT(out1 - out0, 1);
    /* a run past 64 KiB goes out in 64 KiB writes (the unix VFS's limit),
     * and reads back whole */
    REQUIRE(append_big(s, "d", 12, 60, 3000) == 0);
    store__vfs_counts(&in0, &out0, NULL);
    CHECK(out0 - out1 >= 3 && out0 - out1 < (in0 - in1) / 4);
    int64_t v;
    CHECK_EQ_INT(store_find_seq(s, "d", "c1", 71, &v), 0);
    CHECK_EQ_INT(v, 71);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_other_connections_read_every_commit(void)
{
    tmp_db t;
    char *text = NULL;
    size_t bytes;
    int64_t version;
    tmp_init(&t);
    store *w = open_sync(&t, STORE_SYNC_FULL);
    store *r = open_sync(&t, STORE_SYNC_FULL);
    REQUIRE(w && r);
    REQUIRE(store_doc_create(w, "d", "", "", 5) == 0);
    model m = { 0 };
    for (int i = 1; i <= 300; i++) {
        char op[64];
        uint32_t c = 'a' + (uint32_t)(i % 26);
        snprintf(op, sizeof op, "[%zu,\"%c\"]", m.n, (char)c);
        if (m.n == 0) snprintf(op, sizeof op, "[\"%c\"]", (char)c);
        store_oprec o = rec("d", i, op, "c1", i);
        REQUIRE(store_append(w, &o, 1) == 0);
        if (m.n == m.cap) {
            m.cap = m.cap ? 2 * m.cap : 64;
            m.cp = realloc(m.cp, m.cap * sizeof *m.cp);
        }
        m.cp[m.n++] = c;
        /* the reader sees this commit at once, byte for byte */
        REQUIRE(store_load(r, "d", &text, &bytes, &version) == 0);
        char *want = model_text(&m);
        CHECK_EQ_INT(version, i);
        CHECK(bytes == strlen(want) && memcmp(text, want, bytes) == 0);
        free(want);
        free(text);
        if (version != i) break;
    }
    /* and a checkpoint from the other connection copies it all back */
    CHECK_EQ_INT(sqlite3_wal_checkpoint_v2(r->db, NULL,
                                           SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                           NULL), SQLITE_OK);
    CHECK_EQ_INT(store_check(r, NULL, NULL), 0);
    free(m.cp);
    store_close(r);
    store_close(w);
    tmp_cleanup(&t);
}

static void test_a_killed_process_leaves_every_commit_it_made(void)
{
    tmp_db t;
    int64_t version = -1;
    char *text = NULL;
    size_t bytes;
    tmp_init(&t);
    store *s = open_sync(&t, STORE_SYNC_FULL);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_close(s);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) { /* commit, then die without closing anything */
        store *c = open_sync(&t, STORE_SYNC_FULL);
        if (!c || append_big(c, "d", 1, 50, 300)) _exit(3);
        if (append_big(c, "d", 51, 1, 10)) _exit(3);
        raise(SIGKILL);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    s = open_sync(&t, STORE_SYNC_FULL);
    REQUIRE(s);
    CHECK_EQ_INT(store_load(s, "d", &text, &bytes, &version), 0);
    CHECK_EQ_INT(version, 51);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    free(text);
    store_close(s);
    tmp_cleanup(&t);
}

/* A transaction too big for the page cache writes frames before its commit
 * (a spill). Rolled back, those frames are abandoned: held in the buffer,
 * they must never be written later over frames another connection has
 * committed meanwhile. */
static void test_frames_of_a_rolled_back_transaction_never_reach_the_file(void)
{
    tmp_db t;
    char *text = NULL;
    size_t bytes;
    int64_t version = -1;
    tmp_init(&t);
    store *a = open_sync(&t, STORE_SYNC_FULL);
    store *b = open_sync(&t, STORE_SYNC_FULL);
    REQUIRE(a && b);
    REQUIRE(store_doc_create(a, "d", "", "", 5) == 0);
    REQUIRE(append_big(a, "d", 1, 3, 10) == 0);
    REQUIRE(store__exec(a, "PRAGMA cache_size = 10") == 0);
    REQUIRE(store__exec(a, "BEGIN IMMEDIATE; CREATE TABLE junk(x);"
                           " INSERT INTO junk WITH RECURSIVE c(i) AS"
                           " (SELECT 1 UNION ALL SELECT i + 1 FROM c"
                           " WHERE i < 400) SELECT randomblob(900) FROM c;"
                           " ROLLBACK") == 0);
    /* b commits where a's abandoned frames would go */
    for (int v = 4; v <= 40; v++) REQUIRE(append_big(b, "d", v, 1, 700) == 0);
    /* a reads (through its WAL) and closes */
    CHECK_EQ_INT(store_load(a, "d", &text, &bytes, &version), 0);
    CHECK_EQ_INT(version, 40);
    free(text);
    store_close(a);
    store_close(b);
    store *c = open_sync(&t, STORE_SYNC_FULL);
    REQUIRE(c);
    CHECK_EQ_INT(store_load(c, "d", &text, &bytes, &version), 0);
    CHECK_EQ_INT(version, 40);
    CHECK_EQ_INT(store_check(c, NULL, NULL), 0);
    free(text);
    store_close(c);
    tmp_cleanup(&t);
}

/* The mechanism itself, through the VFS's methods: a run still buffered
 * when the WAL write lock is released is dropped, never written. */
static void test_a_run_left_when_the_write_lock_is_released_is_dropped(void)
{
    tmp_db t;
    char wal_path[128], jnl_path[128];
    int out_flags;
    sqlite3_int64 size = -1;
    uint64_t in0, out0, drop0, in1, out1, drop1;
    void volatile *shm = NULL;
    tmp_init(&t);
    snprintf(wal_path, sizeof wal_path, "%s-wal", t.path);
    snprintf(jnl_path, sizeof jnl_path, "%s-journal", t.path);
    REQUIRE(store__vfs());
    sqlite3_vfs *v = sqlite3_vfs_find(store__vfs());
    REQUIRE(v);
    sqlite3_filename name = sqlite3_create_filename(t.path, jnl_path,
                                                    wal_path, 0, NULL);
    sqlite3_file *db = calloc(1, (size_t)v->szOsFile);
    sqlite3_file *wal = calloc(1, (size_t)v->szOsFile);
    REQUIRE(name && db && wal);
    int rw = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    REQUIRE(v->xOpen(v, name, db, rw | SQLITE_OPEN_MAIN_DB, &out_flags) == 0);
    REQUIRE(v->xOpen(v, sqlite3_filename_wal(name), wal, rw | SQLITE_OPEN_WAL,
                     &out_flags) == 0);
    REQUIRE(db->pMethods->xShmMap(db, 0, 32768, 1, &shm) == 0);
    int x = SQLITE_SHM_EXCLUSIVE;

    /* a run, then the write lock released: dropped */
    REQUIRE(db->pMethods->xShmLock(db, 0, 1, SQLITE_SHM_LOCK | x) == 0);
    store__vfs_counts(&in0, &out0, &drop0);
    CHECK_EQ_INT(wal->pMethods->xWrite(wal, "frame", 5, 0), 0);
    CHECK_EQ_INT(db->pMethods->xShmLock(db, 0, 1, SQLITE_SHM_UNLOCK | x), 0);
    CHECK_EQ_INT(wal->pMethods->xFileSize(wal, &size), 0);
    store__vfs_counts(&in1, &out1, &drop1);
    CHECK_EQ_INT(size, 0);
    CHECK_EQ_INT(out1 - out0, 0);
    CHECK_EQ_INT(drop1 - drop0, 1);

    /* a run synced before the release: written, nothing dropped */
    REQUIRE(db->pMethods->xShmLock(db, 0, 1, SQLITE_SHM_LOCK | x) == 0);
    CHECK_EQ_INT(wal->pMethods->xWrite(wal, "frame", 5, 0), 0);
    CHECK_EQ_INT(wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL), 0);
    CHECK_EQ_INT(db->pMethods->xShmLock(db, 0, 1, SQLITE_SHM_UNLOCK | x), 0);
    CHECK_EQ_INT(wal->pMethods->xFileSize(wal, &size), 0);
    store__vfs_counts(&in0, &out0, &drop0);
    CHECK_EQ_INT(size, 5);
    CHECK_EQ_INT(drop0 - drop1, 0);

    /* other locks (readers' slots) leave a run alone */
    CHECK_EQ_INT(wal->pMethods->xWrite(wal, "more", 4, 5), 0);
    REQUIRE(db->pMethods->xShmLock(db, 3, 1, SQLITE_SHM_LOCK | x) == 0);
    CHECK_EQ_INT(db->pMethods->xShmLock(db, 3, 1, SQLITE_SHM_UNLOCK | x), 0);
    CHECK_EQ_INT(wal->pMethods->xFileSize(wal, &size), 0);
    CHECK_EQ_INT(size, 9);

    wal->pMethods->xClose(wal);
    db->pMethods->xShmUnmap(db, 1);
    db->pMethods->xClose(db);
    sqlite3_free_filename(name);
    free(wal);
    free(db);
    tmp_cleanup(&t);
}

static void test_normal_sync_connections_write_through(void)
{
    tmp_db t;
    uint64_t in0, out0, in1, out1;
    tmp_init(&t);
    store *s = open_sync(&t, STORE_SYNC_NORMAL);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store__vfs_counts(&in0, &out0, NULL);
    REQUIRE(append_big(s, "d", 1, 20, 1000) == 0);
    store__vfs_counts(&in1, &out1, NULL);
    CHECK(in1 == in0 && out1 == out0); /* not through the buffering VFS */
    int64_t v;
    CHECK_EQ_INT(store_find_seq(s, "d", "c1", 20, &v), 0);
    CHECK_EQ_INT(v, 20);
    store_close(s);
    tmp_cleanup(&t);
}

int main(void)
{
    RUN(test_a_commit_of_many_pages_reaches_the_wal_in_one_write);
    RUN(test_other_connections_read_every_commit);
    RUN(test_a_killed_process_leaves_every_commit_it_made);
    RUN(test_frames_of_a_rolled_back_transaction_never_reach_the_file);
    RUN(test_a_run_left_when_the_write_lock_is_released_is_dropped);
    RUN(test_normal_sync_connections_write_through);
    return harness_done();
}
