/* test_store_text.c -- snapshots, text at any version, load, and check.
 *
 * Random edits (with non-ASCII text, so code points and bytes differ) are
 * logged while an independent code-point model records the text after each
 * one; every version rebuilt by the store must equal the model's, on both
 * sides of every snapshot. store_check must pass on such a log and report
 * each kind of damage done to it behind the store's back. */
#include <sqlite3.h>

#include "tests/test_store_util.h"

#define MAXV 400

typedef struct history {
    char *text[MAXV + 1]; /* model text at each version */
    int n;                /* versions logged */
} history;

/* Log 'count' random edits on 'doc' (created here), recording the texts. */
static void build(store *s, const char *doc, int count, history *h)
{
    model m = { 0 };
    char json[128];
    REQUIRE(store_doc_create(s, doc, "", "", 1) == 0);
    h->text[0] = model_text(&m);
    for (int v = 1; v <= count; v++) {
        model_edit(&m, json, sizeof json);
        store_oprec r = rec(doc, v, json, "c", v);
        int rc = store_append(s, &r, 1);
        if (rc) fprintf(stderr, "  append %d %s: %s\n", v, json,
                        store_strerror(rc));
        REQUIRE(rc == 0);
        h->text[v] = model_text(&m);
    }
    h->n = count;
    free(m.cp);
}

static void history_free(history *h)
{
    for (int i = 0; i <= h->n; i++) free(h->text[i]);
}

static void check_all_versions(store *s, const char *doc, history *h)
{
    char *text;
    size_t bytes;
    for (int v = 0; v <= h->n; v++) {
        int rc = store_text_at(s, doc, v, &text, &bytes);
        CHECK_EQ_INT(rc, 0);
        if (rc) return;
        CHECK_EQ_INT(bytes, strlen(h->text[v]));
        if (strcmp(text, h->text[v]) != 0) {
            fprintf(stderr, "  version %d differs\n", v);
            CHECK_EQ_STR(text, h->text[v]);
            free(text);
            return;
        }
        free(text);
    }
}

static void test_text_at_every_version_matches_across_snapshots(void)
{
    tmp_db t;
    history h = { { 0 }, 0 };
    rng_state = harness_seed() | 1;
    tmp_init(&t);
    store *s = open_db(&t, 7, 1);
    REQUIRE(s);
    build(s, "d", 300, &h);
    check_all_versions(s, "d", &h);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    history_free(&h);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_text_at_works_without_any_snapshot(void)
{
    tmp_db t;
    history h = { { 0 }, 0 };
    rng_state = harness_seed() | 1;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    build(s, "d", 120, &h);
    check_all_versions(s, "d", &h);
    history_free(&h);
    store_close(s);
    tmp_cleanup(&t);
}

static int count_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;
    sqlite3_open(path, &db);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static void test_auto_snapshots_fall_at_every_multiple(void)
{
    tmp_db t;
    history h = { { 0 }, 0 };
    rng_state = harness_seed() | 1;
    tmp_init(&t);
    store *s = open_db(&t, 10, 1);
    REQUIRE(s);
    build(s, "d", 95, &h);
    CHECK_EQ_INT(count_rows(t.path, "SELECT count(*) FROM snapshots"), 9);
    CHECK_EQ_INT(count_rows(t.path, "SELECT max(version) FROM snapshots"),
                 90);
    history_free(&h);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_load_gives_the_latest_text_and_version(void)
{
    tmp_db t;
    history h = { { 0 }, 0 };
    char *text;
    size_t bytes;
    int64_t v;
    rng_state = harness_seed() | 1;
    tmp_init(&t);
    store *s = open_db(&t, 16, 1);
    REQUIRE(s);
    build(s, "d", 100, &h);
    CHECK_EQ_INT(store_load(s, "d", &text, &bytes, &v), 0);
    CHECK_EQ_INT(v, 100);
    CHECK_EQ_STR(text, h.text[100]);
    free(text);
    REQUIRE(store_doc_create(s, "empty", "", "", 1) == 0);
    CHECK_EQ_INT(store_load(s, "empty", &text, &bytes, &v), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(bytes, 0);
    CHECK_EQ_STR(text, "");
    free(text);
    CHECK_EQ_INT(store_load(s, "nope", &text, &bytes, &v), STORE_ENOTFOUND);
    CHECK(text == NULL);
    history_free(&h);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_text_at_outside_the_log_is_a_range_error(void)
{
    tmp_db t;
    char *text;
    size_t bytes;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    store_oprec r = rec("d", 1, "[\"h\\u00e9\"]", "c", 1);
    REQUIRE(store_append(s, &r, 1) == 0);
    CHECK_EQ_INT(store_text_at(s, "d", 2, &text, &bytes), STORE_ERANGE);
    CHECK_EQ_INT(store_text_at(s, "d", -1, &text, &bytes), STORE_ERANGE);
    CHECK_EQ_INT(store_text_at(s, "x", 0, &text, &bytes), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_text_at(s, "d", 1, &text, &bytes), 0);
    CHECK_EQ_STR(text, "h\xc3\xa9");
    CHECK_EQ_INT(bytes, 3);
    free(text);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_snapshots_put_by_hand_are_validated_and_used(void)
{
    tmp_db t;
    history h = { { 0 }, 0 };
    char *text;
    size_t bytes;
    rng_state = harness_seed() | 1;
    tmp_init(&t);
    store *s = open_db(&t, 0, 0);
    REQUIRE(s);
    build(s, "d", 60, &h);
    for (int v = 5; v <= 60; v += 11)
        CHECK_EQ_INT(store_snapshot_put(s, "d", v, h.text[v],
                                        strlen(h.text[v])), 0);
    CHECK_EQ_INT(store_snapshot_put(s, "d", 61, "x", 1), STORE_ERANGE);
    CHECK_EQ_INT(store_snapshot_put(s, "d", -1, "x", 1), STORE_EINVAL);
    CHECK_EQ_INT(store_snapshot_put(s, "d", 3, "\xff", 1), STORE_EINVAL);
    CHECK_EQ_INT(store_snapshot_put(s, "nope", 0, "", 0), STORE_ENOTFOUND);
    check_all_versions(s, "d", &h);
    /* a snapshot is what text_at starts from: prove it is read */
    REQUIRE(store_snapshot_put(s, "d", 60, "planted", 7) == 0);
    CHECK_EQ_INT(store_text_at(s, "d", 60, &text, &bytes), 0);
    CHECK_EQ_STR(text, "planted");
    free(text);
    CHECK_EQ_INT(store_check(s, NULL, NULL), STORE_ECORRUPT);
    history_free(&h);
    store_close(s);
    tmp_cleanup(&t);
}

/* ---- check -------------------------------------------------------------- */

typedef struct lines {
    char all[4096];
    int n;
} lines;

static void collect(void *arg, const char *line)
{
    lines *l = arg;
    size_t used = strlen(l->all);
    snprintf(l->all + used, sizeof l->all - used, "%s\n", line);
    l->n++;
}

/* SQL for the internal number of document 'id'. */
#define DOC(id) "(SELECT num FROM documents WHERE id = '" id "')"

static void damage(const char *path, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    sqlite3_open(path, &db);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "  damage: %s\n", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* A store with two documents whose logs cross snapshot boundaries. */
static store *checked_db(tmp_db *t)
{
    history h = { { 0 }, 0 }, h2 = { { 0 }, 0 };
    store *s;
    tmp_init(t);
    if (!(s = open_db(t, 10, 1))) return NULL;
    build(s, "a", 35, &h);
    build(s, "b", 12, &h2);
    history_free(&h);
    history_free(&h2);
    return s;
}

static void test_check_passes_on_a_sound_database(void)
{
    tmp_db t;
    lines l = { "", 0 };
    rng_state = harness_seed() | 1;
    store *s = checked_db(&t);
    REQUIRE(s);
    CHECK_EQ_INT(store_check(s, collect, &l), 0);
    CHECK_EQ_INT(l.n, 1);
    CHECK_EQ_STR(l.all, "2 documents, 47 ops, 4 snapshots: ok\n");
    store_close(s);
    tmp_cleanup(&t);
}

static void test_check_reports_a_corrupted_snapshot(void)
{
    tmp_db t;
    lines l = { "", 0 };
    rng_state = harness_seed() | 1;
    store *s = checked_db(&t);
    REQUIRE(s);
    damage(t.path, "UPDATE snapshots SET text = text || 'x'"
                   " WHERE doc = " DOC("a")
                   " AND version = 20");
    CHECK_EQ_INT(store_check(s, collect, &l), STORE_ECORRUPT);
    CHECK(strstr(l.all, "document a: the snapshot at version 20 differs from"
                        " the replay of the log\n") != NULL);
    CHECK(strstr(l.all, ": 1 problems\n") != NULL);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_check_reports_a_gap_and_a_wrong_version(void)
{
    tmp_db t;
    lines l = { "", 0 };
    rng_state = harness_seed() | 1;
    store *s = checked_db(&t);
    REQUIRE(s);
    damage(t.path, "DELETE FROM ops WHERE doc = " DOC("a")
                   " AND version = 12;"
                   "UPDATE documents SET version = 15 WHERE id = 'b'");
    CHECK_EQ_INT(store_check(s, collect, &l), STORE_ECORRUPT);
    CHECK(strstr(l.all, "document a: the log jumps from version 11 to 13")
          != NULL);
    CHECK(strstr(l.all, "document b: its version is 15 but the log ends at"
                        " 12") != NULL);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_check_reports_an_op_that_does_not_replay(void)
{
    tmp_db t;
    lines l = { "", 0 };
    char *text;
    size_t bytes;
    rng_state = harness_seed() | 1;
    store *s = checked_db(&t);
    REQUIRE(s);
    damage(t.path, "UPDATE ops SET op = '[999999, -3]'"
                   " WHERE doc = " DOC("b")
                   " AND version = 4");
    CHECK_EQ_INT(store_check(s, collect, &l), STORE_ECORRUPT);
    CHECK(strstr(l.all, "document b: op 4 does not replay") != NULL);
    CHECK_EQ_INT(store_text_at(s, "b", 9, &text, &bytes), STORE_ECORRUPT);
    CHECK(text == NULL);
    CHECK_EQ_INT(store_text_at(s, "b", 3, &text, &bytes), 0);
    free(text);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_check_reports_a_snapshot_beyond_the_log(void)
{
    tmp_db t;
    lines l = { "", 0 };
    rng_state = harness_seed() | 1;
    store *s = checked_db(&t);
    REQUIRE(s);
    damage(t.path, "INSERT INTO snapshots(doc, version, text)"
                   " SELECT num, 50, 'x' FROM documents WHERE id = 'b'");
    CHECK_EQ_INT(store_check(s, collect, &l), STORE_ECORRUPT);
    CHECK(strstr(l.all, "document b: a snapshot at version 50 is beyond the"
                        " log") != NULL);
    store_close(s);
    tmp_cleanup(&t);
}

/* Overwrite op 'v' of document a with 'len' random bytes. */
static void mangle_op(const char *path, int v, size_t len)
{
    unsigned char junk[24];
    sqlite3_stmt *st;
    sqlite3 *db;
    for (size_t i = 0; i < len; i++) junk[i] = (unsigned char)rnd();
    sqlite3_open(path, &db);
    sqlite3_prepare_v2(db, "UPDATE ops SET op = ?1 WHERE version = ?2 AND doc"
                       " = " DOC("a"), -1, &st, NULL);
    sqlite3_bind_text(st, 1, (const char *)junk, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, v);
    sqlite3_step(st);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_mangled_log_rows_never_crash_reads_or_check(void)
{
    tmp_db t;
    char *text;
    size_t bytes;
    rng_state = harness_seed() | 1;
    store *s = checked_db(&t);
    REQUIRE(s);
    for (long round = 0; round < harness_iters(40); round++) {
        mangle_op(t.path, (int)(rnd() % 35) + 1, (size_t)(rnd() % 24));
        for (int v = 0; v <= 35; v += 5) {
            int rc = store_text_at(s, "a", v, &text, &bytes);
            CHECK(rc == 0 || rc == STORE_ECORRUPT);
            CHECK((rc == 0) == (text != NULL));
            free(text);
        }
        int rc = store_check(s, NULL, NULL);
        CHECK(rc == 0 || rc == STORE_ECORRUPT);
    }
    store_close(s);
    tmp_cleanup(&t);
}

int main(void)
{
    RUN(test_text_at_every_version_matches_across_snapshots);
    RUN_SQLITE(test_text_at_works_without_any_snapshot);
    RUN_SQLITE(test_auto_snapshots_fall_at_every_multiple);
    RUN(test_load_gives_the_latest_text_and_version);
    RUN(test_text_at_outside_the_log_is_a_range_error);
    RUN_SQLITE(test_snapshots_put_by_hand_are_validated_and_used);
    RUN(test_check_passes_on_a_sound_database);
    RUN_SQLITE(test_check_reports_a_corrupted_snapshot);
    RUN_SQLITE(test_check_reports_a_gap_and_a_wrong_version);
    RUN_SQLITE(test_check_reports_an_op_that_does_not_replay);
    RUN_SQLITE(test_check_reports_a_snapshot_beyond_the_log);
    RUN_SQLITE(test_mangled_log_rows_never_crash_reads_or_check);
    return harness_done();
}
