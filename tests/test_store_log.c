/* test_store_log.c -- opening, migrations, documents and the op log.
 *
 * Each case runs on a fresh temporary database with the real migrations.
 * The invariants under test: a version is taken once, a (client, seq) is
 * stored once, documents.version follows the log with no gap, and every
 * refused write changes nothing. */
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "storage/migrations.h"
#include "storage/store_int.h" /* white box: the connection's pragmas */
#include "tests/test_store_util.h"

static void set_user_version(const char *path, int v)
{
    sqlite3 *db;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    sqlite3_open(path, &db);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
}

static void test_open_creates_the_file_and_applies_every_migration(void)
{
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    CHECK(store_schema_latest() >= 1);
    CHECK_EQ_INT(store_schema_version(s), store_schema_latest());
    CHECK_EQ_INT(store_doc_create(s, "d", "T", "bob", 5), 0);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_reopening_applies_nothing_and_keeps_the_data(void)
{
    tmp_db t;
    store_docinfo d;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "d", "Title", "bob", 5), 0);
    store_close(s);
    s = open_db(&t, 0, 1);
    REQUIRE(s);
    CHECK_EQ_INT(store_schema_version(s), store_schema_latest());
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_STR(d.title, "Title");
    store_docinfo_clear(&d);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_migrations_apply_to_an_existing_empty_file(void)
{
    tmp_db t;
    tmp_init(&t);
    FILE *f = fopen(t.path, "w");
    REQUIRE(f);
    fclose(f);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    CHECK_EQ_INT(store_schema_version(s), store_schema_latest());
    store_close(s);
    tmp_cleanup(&t);
}

typedef struct opener {
    const char *path;
    int rc;
    int version;
} opener;

static void *open_concurrently(void *arg)
{
    opener *o = arg;
    store *s = NULL;
    o->rc = store_open(&s, o->path, NULL, NULL, 0);
    o->version = s ? store_schema_version(s) : -1;
    store_close(s);
    return NULL;
}

static void test_concurrent_opens_of_a_new_file_all_migrate_it_once(void)
{
    enum { N = 6 };
    opener o[N];
    pthread_t th[N];
    tmp_db t;
    tmp_init(&t);
    for (int i = 0; i < N; i++) {
        o[i].path = t.path;
        pthread_create(&th[i], NULL, open_concurrently, &o[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(o[i].rc, 0);
        CHECK_EQ_INT(o[i].version, store_schema_latest());
    }
    tmp_cleanup(&t);
}

static int pragma_int(store *s, const char *sql)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_connections_are_wal_fully_synced_with_foreign_keys(void)
{
    store_options o;
    char err[256];
    store *s = NULL;
    tmp_db t;
    tmp_init(&t);
    REQUIRE(store_open(&s, t.path, NULL, err, sizeof err) == 0);
    CHECK_EQ_INT(pragma_int(s, "PRAGMA synchronous"), 2); /* FULL */
    CHECK_EQ_INT(pragma_int(s, "PRAGMA foreign_keys"), 1);
    CHECK_EQ_INT(pragma_int(s, "PRAGMA busy_timeout"), 5000);
    CHECK_EQ_INT(pragma_int(s, "SELECT count(*) FROM pragma_journal_mode"
                               " WHERE journal_mode = 'wal'"), 1);
    store_close(s);
    store_options_init(&o);
    o.sync = STORE_SYNC_NORMAL;
    o.busy_timeout_ms = 250;
    REQUIRE(store_open(&s, t.path, &o, err, sizeof err) == 0);
    CHECK_EQ_INT(pragma_int(s, "PRAGMA synchronous"), 1); /* NORMAL */
    CHECK_EQ_INT(pragma_int(s, "PRAGMA busy_timeout"), 250);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_a_newer_database_is_refused_with_a_clear_message(void)
{
    tmp_db t;
    char err[256] = "", want[160];
    store *s = NULL;
    tmp_init(&t);
    s = open_db(&t, 0, 1);
    REQUIRE(s);
    store_close(s);
    set_user_version(t.path, store_schema_latest() + 2);
    CHECK_EQ_INT(store_open(&s, t.path, NULL, err, sizeof err),
                 STORE_ENEWER);
    CHECK(s == NULL);
    snprintf(want, sizeof want, "database schema version %d is newer than"
             " this chorus (%d); upgrade chorus", store_schema_latest() + 2,
             store_schema_latest());
    CHECK_EQ_STR(err, want);
    tmp_cleanup(&t);
}

static void test_a_missing_directory_is_named_in_the_error(void)
{
    char err[256] = "";
    store *s = NULL;
    int rc = store_open(&s, "/nonexistent-chorus-dir/x.db", NULL, err,
                        sizeof err);
    CHECK_EQ_INT(rc, STORE_ECANTOPEN);
    CHECK(s == NULL);
    CHECK(strstr(err, "directory /nonexistent-chorus-dir does not exist"));
}

static void test_a_file_that_is_not_a_database_is_refused(void)
{
    tmp_db t;
    char err[256] = "";
    store *s = NULL;
    tmp_init(&t);
    FILE *f = fopen(t.path, "w");
    REQUIRE(f);
    fputs("this is not an SQLite database, just some text that is long "
          "enough to hold a header and then some more text\n", f);
    fclose(f);
    CHECK_EQ_INT(store_open(&s, t.path, NULL, err, sizeof err),
                 STORE_ECORRUPT);
    CHECK(s == NULL);
    CHECK(strstr(err, "not a database") != NULL);
    tmp_cleanup(&t);
}

static void test_documents_are_created_listed_retitled_and_deleted(void)
{
    tmp_db t;
    store_docinfo d, *list;
    size_t n;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_list(s, &list, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK(list == NULL);
    CHECK_EQ_INT(store_doc_create(s, "a", "First", "ann", 10), 0);
    CHECK_EQ_INT(store_doc_create(s, "b", NULL, NULL, 20), 0);
    CHECK_EQ_INT(store_doc_create(s, "a", "Again", "x", 30), STORE_EEXIST);
    CHECK_EQ_INT(store_doc_create(s, "", "x", "x", 30), STORE_EINVAL);
    CHECK_EQ_INT(store_doc_get(s, "a", &d), 0);
    CHECK_EQ_STR(d.id, "a");
    CHECK_EQ_STR(d.title, "First");
    CHECK_EQ_STR(d.creator, "ann");
    CHECK_EQ_INT(d.created_ms, 10);
    CHECK_EQ_INT(d.updated_ms, 10);
    CHECK_EQ_INT(d.version, 0);
    store_docinfo_clear(&d);
    CHECK_EQ_INT(store_doc_get(s, "zz", &d), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_set_title(s, "a", "Renamed", 40), 0);
    CHECK_EQ_INT(store_doc_set_title(s, "zz", "x", 40), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_list(s, &list, &n), 0);
    REQUIRE(n == 2);
    CHECK_EQ_STR(list[0].id, "a"); /* most recently updated first */
    CHECK_EQ_STR(list[0].title, "Renamed");
    CHECK_EQ_STR(list[1].id, "b");
    CHECK_EQ_STR(list[1].title, "");
    store_docinfo_free(list, n);
    CHECK_EQ_INT(store_doc_delete(s, "a"), 0);
    CHECK_EQ_INT(store_doc_delete(s, "a"), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_get(s, "a", &d), STORE_ENOTFOUND);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_append_moves_the_version_and_update_time(void)
{
    tmp_db t;
    store_docinfo d;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec r[2] = { rec("d", 1, "[\"ab\"]", "c1", 1),
                         rec("d", 2, "[1,\"x\"]", "c1", 2) };
    CHECK_EQ_INT(store_append(s, r, 2), 0);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, 2);
    CHECK_EQ_INT(d.updated_ms, 1002);
    store_docinfo_clear(&d);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_append_of_a_taken_version_conflicts_and_changes_nothing(void)
{
    tmp_db t;
    store_docinfo d;
    int64_t v;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec a = rec("d", 1, "[\"a\"]", "c1", 1);
    store_oprec b = rec("d", 1, "[\"b\"]", "c2", 1);
    REQUIRE(store_append(s, &a, 1) == 0);
    CHECK_EQ_INT(store_append(s, &b, 1), STORE_ECONFLICT);
    CHECK_EQ_INT(store_find_seq(s, "d", "c2", 1, &v), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, 1);
    store_docinfo_clear(&d);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_append_of_a_stored_client_seq_is_a_duplicate(void)
{
    tmp_db t;
    store_docinfo d;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec a = rec("d", 1, "[\"a\"]", "c1", 7);
    store_oprec again = rec("d", 2, "[\"a\"]", "c1", 7); /* resent later */
    store_oprec same = rec("d", 1, "[\"a\"]", "c1", 7);  /* resent as-is */
    REQUIRE(store_append(s, &a, 1) == 0);
    CHECK_EQ_INT(store_append(s, &again, 1), STORE_EDUP);
    CHECK_EQ_INT(store_append(s, &same, 1), STORE_EDUP);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, 1);
    store_docinfo_clear(&d);
    /* the same seq on another document is another op */
    REQUIRE(store_doc_create(s, "e", "", "", 5) == 0);
    store_oprec other = rec("e", 1, "[\"a\"]", "c1", 7);
    CHECK_EQ_INT(store_append(s, &other, 1), 0);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_append_past_the_next_version_is_refused(void)
{
    tmp_db t;
    store_oprec *ops;
    size_t n;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec gap = rec("d", 3, "[\"a\"]", "c1", 1);
    store_oprec zero = rec("d", 0, "[\"a\"]", "c1", 1);
    store_oprec nodoc = rec("nope", 1, "[\"a\"]", "c1", 1);
    CHECK_EQ_INT(store_append(s, &gap, 1), STORE_ERANGE);
    CHECK_EQ_INT(store_append(s, &zero, 1), STORE_EINVAL);
    CHECK_EQ_INT(store_append(s, &nodoc, 1), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_ops_after(s, "d", 0, 0, &ops, &n), 0);
    CHECK_EQ_INT(n, 0);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_a_batch_is_all_or_nothing(void)
{
    tmp_db t;
    store_docinfo d;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec r[3] = { rec("d", 1, "[\"a\"]", "c1", 1),
                         rec("d", 2, "[\"b\"]", "c1", 2),
                         rec("d", 2, "[\"c\"]", "c2", 1) };
    CHECK_EQ_INT(store_append(s, r, 3), STORE_ECONFLICT);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, 0);
    store_docinfo_clear(&d);
    CHECK_EQ_INT(store_append(s, r, 2), 0);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_history_pages_cover_the_log_in_order(void)
{
    tmp_db t;
    char op[32], client[8];
    store_oprec *page;
    size_t n;
    int64_t after = 0;
    int pages = 0;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    for (int v = 1; v <= 95; v++) {
        snprintf(op, sizeof op, "[%d,\"%c\"]", v - 1, 'a' + v % 26);
        snprintf(client, sizeof client, "c%d", v % 3);
        store_oprec r = rec("d", v, v == 1 ? "[\"a\"]" : op, client, v);
        REQUIRE(store_append(s, &r, 1) == 0);
    }
    for (;;) {
        REQUIRE(store_ops_after(s, "d", after, 10, &page, &n) == 0);
        if (!n) break;
        pages++;
        CHECK(n <= 10);
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ_INT(page[i].version, after + 1 + (int64_t)i);
            CHECK_EQ_STR(page[i].doc, "d");
            CHECK_EQ_STR(page[i].user, "alice");
            CHECK_EQ_INT(page[i].seq, page[i].version);
            CHECK_EQ_INT(page[i].time_ms, 1000 + page[i].version);
        }
        after = page[n - 1].version;
        store_oprecs_free(page);
    }
    CHECK_EQ_INT(pages, 10);
    CHECK_EQ_INT(after, 95);
    REQUIRE(store_ops_after(s, "d", 90, 0, &page, &n) == 0);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_STR(page[4].client, "c2");
    CHECK_EQ_STR(page[0].op, "[90,\"n\"]");
    store_oprecs_free(page);
    CHECK_EQ_INT(store_ops_after(s, "nope", 0, 0, &page, &n),
                 STORE_ENOTFOUND);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_find_seq_and_client_last_answer_from_the_log(void)
{
    tmp_db t;
    int64_t v = -1, seq = -1;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec r[4] = { rec("d", 1, "[\"a\"]", "c1", 1),
                         rec("d", 2, "[\"b\"]", "c2", 1),
                         rec("d", 3, "[\"c\"]", "c1", 2),
                         rec("d", 4, "[\"d\"]", "c2", 5) };
    REQUIRE(store_append(s, r, 4) == 0);
    CHECK_EQ_INT(store_find_seq(s, "d", "c1", 2, &v), 0);
    CHECK_EQ_INT(v, 3);
    CHECK_EQ_INT(store_find_seq(s, "d", "c1", 3, &v), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_client_last(s, "d", "c2", &seq, &v), 0);
    CHECK_EQ_INT(seq, 5);
    CHECK_EQ_INT(v, 4);
    CHECK_EQ_INT(store_client_last(s, "d", "c1", &seq, &v), 0);
    CHECK_EQ_INT(seq, 2);
    CHECK_EQ_INT(v, 3);
    CHECK_EQ_INT(store_client_last(s, "d", "c9", &seq, &v), STORE_ENOTFOUND);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_append_of_a_seq_below_the_clients_newest_is_a_duplicate(void)
{
    tmp_db t;
    store_docinfo d;
    int64_t seq = -1, v = -1;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec a = rec("d", 1, "[\"a\"]", "c1", 5);
    store_oprec older = rec("d", 2, "[\"b\"]", "c1", 3); /* never stored */
    store_oprec other = rec("d", 2, "[\"b\"]", "c2", 3);
    REQUIRE(store_append(s, &a, 1) == 0);
    CHECK_EQ_INT(store_append(s, &older, 1), STORE_EDUP);
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, 1);
    store_docinfo_clear(&d);
    CHECK_EQ_INT(store_client_last(s, "d", "c1", &seq, &v), 0);
    CHECK(seq == 5 && v == 1);
    /* another client's seqs are its own */
    CHECK_EQ_INT(store_append(s, &other, 1), 0);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

/* A database made by an older binary (schema 2, the (doc, client, seq)
 * index) is brought to op_clients with each client's newest op. */
static void test_schema_2_gets_op_clients_from_its_log(void)
{
    tmp_db t;
    sqlite3 *db;
    int64_t seq = -1, v = -1;
    tmp_init(&t);
    REQUIRE(sqlite3_open(t.path, &db) == SQLITE_OK);
    for (int i = 0; i < store__migrations_count &&
                    store__migrations[i].number <= 2; i++)
        REQUIRE(sqlite3_exec(db, store__migrations[i].sql, 0, 0, 0) == 0);
    REQUIRE(sqlite3_exec(db,
        "PRAGMA user_version = 2;"
        "INSERT INTO documents(num, id, created_ms, updated_ms, version)"
        " VALUES (1, 'd', 1, 1, 4), (2, 'e', 1, 1, 1);"
        "INSERT INTO ops VALUES (1, 1, '[\"a\"]', 'c1', 1, 'u', 1),"
        " (1, 2, '[1,\"b\"]', 'c2', 7, 'u', 1),"
        " (1, 3, '[2,\"c\"]', 'c1', 2, 'u', 1),"
        " (1, 4, '[3,\"d\"]', 'c2', 8, 'u', 1),"
        " (2, 1, '[\"x\"]', 'c1', 9, 'u', 1);", 0, 0, 0) == 0);
    sqlite3_close(db);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    CHECK_EQ_INT(store_schema_version(s), store_schema_latest());
    CHECK_EQ_INT(store_client_last(s, "d", "c1", &seq, &v), 0);
    CHECK(seq == 2 && v == 3);
    CHECK_EQ_INT(store_client_last(s, "d", "c2", &seq, &v), 0);
    CHECK(seq == 8 && v == 4);
    CHECK_EQ_INT(store_client_last(s, "e", "c1", &seq, &v), 0);
    CHECK(seq == 9 && v == 1);
    CHECK_EQ_INT(store_find_seq(s, "d", "c2", 7, &v), 0);
    CHECK_EQ_INT(v, 2);
    /* and dedup holds across the upgrade */
    store_oprec again = rec("d", 5, "[\"z\"]", "c2", 8);
    CHECK_EQ_INT(store_append(s, &again, 1), STORE_EDUP);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    /* a record that disagrees with the log is reported */
    REQUIRE(store__exec(s, "UPDATE op_clients SET seq = 1 WHERE client = 'c2'") == 0);
    CHECK_EQ_INT(store_check(s, NULL, NULL), STORE_ECORRUPT);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_deleting_a_document_removes_its_log_and_snapshots(void)
{
    tmp_db t;
    int64_t v;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    REQUIRE(store_doc_create(s, "d", "", "", 5) == 0);
    store_oprec r = rec("d", 1, "[\"a\"]", "c1", 1);
    REQUIRE(store_append(s, &r, 1) == 0);
    REQUIRE(store_snapshot_put(s, "d", 1, "a", 1) == 0);
    CHECK_EQ_INT(store_doc_delete(s, "d"), 0);
    CHECK_EQ_INT(store_find_seq(s, "d", "c1", 1, &v), STORE_ENOTFOUND);
    REQUIRE(store_doc_create(s, "d", "", "", 6) == 0);
    CHECK_EQ_INT(store_append(s, &r, 1), 0);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_error_codes_have_texts(void)
{
    for (int e = 0; e >= STORE_ETRASHED; e--)
        CHECK(strcmp(store_strerror(e), "unknown storage error") != 0);
    CHECK_EQ_STR(store_strerror(-999), "unknown storage error");
}

int main(void)
{
    RUN(test_open_creates_the_file_and_applies_every_migration);
    RUN(test_reopening_applies_nothing_and_keeps_the_data);
    RUN_SQLITE(test_migrations_apply_to_an_existing_empty_file);
    RUN(test_concurrent_opens_of_a_new_file_all_migrate_it_once);
    RUN_SQLITE(test_connections_are_wal_fully_synced_with_foreign_keys);
    RUN_SQLITE(test_a_newer_database_is_refused_with_a_clear_message);
    RUN_SQLITE(test_a_missing_directory_is_named_in_the_error);
    RUN_SQLITE(test_a_file_that_is_not_a_database_is_refused);
    RUN(test_documents_are_created_listed_retitled_and_deleted);
    RUN(test_append_moves_the_version_and_update_time);
    RUN(test_append_of_a_taken_version_conflicts_and_changes_nothing);
    RUN(test_append_of_a_stored_client_seq_is_a_duplicate);
    RUN(test_append_past_the_next_version_is_refused);
    RUN(test_a_batch_is_all_or_nothing);
    RUN(test_history_pages_cover_the_log_in_order);
    RUN(test_find_seq_and_client_last_answer_from_the_log);
    RUN(test_append_of_a_seq_below_the_clients_newest_is_a_duplicate);
    RUN_SQLITE(test_schema_2_gets_op_clients_from_its_log);
    RUN(test_deleting_a_document_removes_its_log_and_snapshots);
    RUN(test_error_codes_have_texts);
    return harness_done();
}
