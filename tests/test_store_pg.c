/* test_store_pg.c -- what only the PostgreSQL store has to show: several
 * connections ("nodes") on one database, broken connections, its own
 * migrations, check against damage done with SQL. (The store's ordinary
 * behaviour on PostgreSQL is the other test_store_*.c programs, which
 * tests/run runs a second time with CHORUS_TEST_PG.)
 *
 * Invariants under test: a version is taken by one node only, the other
 * is told STORE_ECONFLICT (or STORE_EDUP for a resend) and changes
 * nothing; a connection killed under a writer fails that batch with
 * STORE_EIO and nothing of it is committed, and the next batch runs on a
 * new connection; two nodes migrating a new database at once apply each
 * migration once. Each case gets a fresh database. */
#include <pthread.h>
#include <time.h>

#include "tests/test_store_util.h"

static store *fresh(tmp_db *t)
{
    tmp_init(t);
    return open_db(t, 0, 0);
}

/* One statement on the database of 't' through libpq; its first value
 * as a number (or -1 when it returns none / fails, printed). */
static long long sql(const tmp_db *t, const char *q)
{
    PGconn *c = PQconnectdb(t->path);
    PGresult *r = PQexec(c, q);
    long long v = -1;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK && PQntuples(r) && !PQgetisnull(r, 0, 0))
        v = atoll(PQgetvalue(r, 0, 0));
    else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        fprintf(stderr, "  %s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return v;
}

static void test_two_nodes_cannot_take_one_version(void)
{
    tmp_db t;
    store *a = fresh(&t), *b = open_db(&t, 0, 0);
    int64_t v;
    REQUIRE(a && b);
    CHECK_EQ_INT(store_doc_create(a, "d", "", "", 1), 0);
    store_oprec ra = rec("d", 1, "[\"a\"]", "ca", 1);
    store_oprec rb = rec("d", 1, "[\"b\"]", "cb", 1);
    CHECK_EQ_INT(store_append(a, &ra, 1), 0);
    CHECK_EQ_INT(store_append(b, &rb, 1), STORE_ECONFLICT);
    CHECK_EQ_INT(store_append(b, &ra, 1), STORE_EDUP); /* resent elsewhere */
    rb.version = 2;
    CHECK_EQ_INT(store_append(b, &rb, 1), 0);
    CHECK_EQ_INT(store_client_last(a, "d", "cb", &v, &v), 0);
    CHECK_EQ_INT(v, 2);
    char *text = NULL;
    CHECK_EQ_INT(store_load(a, "d", &text, NULL, &v), 0);
    CHECK_EQ_STR(text, "ba");
    free(text);
    CHECK_EQ_INT(store_check(a, NULL, NULL), 0);
    store_close(a);
    store_close(b);
    tmp_cleanup(&t);
}

typedef struct racer {
    const char *path;
    const char *client;
    int won, lost, other;
} racer;

/* Append versions 1..200 of "d", each tried once: a race with the other
 * racer, version by version. */
static void *race(void *arg)
{
    racer *r = arg;
    char err[256];
    store *s = NULL;
    if (store_open(&s, r->path, NULL, err, sizeof err)) return NULL;
    for (int v = 1; v <= 200; v++) {
        store_oprec o = rec("d", v, "[\"x\"]", r->client, v);
        int rc = store_append(s, &o, 1);
        if (rc == 0) r->won++;
        else if (rc == STORE_ECONFLICT) r->lost++;
        else r->other++;
    }
    store_close(s);
    return NULL;
}

static void test_racing_nodes_take_each_version_once(void)
{
    tmp_db t;
    store *s = fresh(&t);
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "d", "", "", 1), 0);
    racer r[2] = {{t.path, "c1", 0, 0, 0}, {t.path, "c2", 0, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, race, &r[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ_INT(r[0].other + r[1].other, 0);
    CHECK_EQ_INT(r[0].won + r[1].won, 200);
    store_docinfo d;
    CHECK_EQ_INT(store_doc_get(s, "d", &d), 0);
    CHECK_EQ_INT(d.version, 200);
    store_docinfo_clear(&d);
    CHECK_EQ_INT(sql(&t, "SELECT count(*) FROM ops"), 200);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

typedef struct waker {
    pthread_mutex_t mu;
    int n;
} waker;

static void wake_fn(void *arg)
{
    waker *k = arg;
    pthread_mutex_lock(&k->mu);
    k->n++;
    pthread_mutex_unlock(&k->mu);
}

static int drain_n(store_writer *w, store_job **got, int want)
{
    int n = 0;
    for (int waited = 0; n < want && waited < 30000; waited++) {
        store_job *j = store_writer_drain(w);
        if (!j) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        for (; j && n < want; j = j->next) got[n++] = j;
    }
    return n;
}

static void fill(store_job *j, const char *doc, int64_t v, const char *client,
                 int64_t seq)
{
    memset(j, 0, sizeof *j);
    j->kind = STORE_JOB_APPEND;
    j->rec = rec(doc, v, "[\"w\"]", client, seq);
}

static void test_a_writer_batch_loses_only_the_version_another_node_took(void)
{
    tmp_db t;
    store *other = fresh(&t);
    waker k = {PTHREAD_MUTEX_INITIALIZER, 0};
    char err[256];
    store_job j[4], *got[4];
    REQUIRE(other);
    CHECK_EQ_INT(store_doc_create(other, "d", "", "", 1), 0);
    CHECK_EQ_INT(store_doc_create(other, "e", "", "", 1), 0);
    store_oprec taken = rec("d", 1, "[\"o\"]", "other", 1);
    CHECK_EQ_INT(store_append(other, &taken, 1), 0);
    store_writer *w = store_writer_new(t.path, NULL, wake_fn, &k, err,
                                       sizeof err);
    REQUIRE(w);
    fill(&j[0], "e", 1, "me", 1);
    fill(&j[1], "d", 1, "me", 1);   /* the other node got there first */
    fill(&j[2], "e", 2, "me", 2);
    memset(&j[3], 0, sizeof j[3]);
    j[3].kind = STORE_JOB_DOC_CREATE; /* exists: refused in a savepoint */
    j[3].doc.id = "d";
    for (int i = 0; i < 4; i++) REQUIRE(store_writer_submit(w, &j[i]) == 0);
    REQUIRE(drain_n(w, got, 4) == 4);
    CHECK_EQ_INT(j[0].result, 0);
    CHECK_EQ_INT(j[1].result, STORE_ECONFLICT);
    CHECK_EQ_INT(j[2].result, 0);
    CHECK_EQ_INT(j[3].result, STORE_EEXIST);
    CHECK_EQ_INT(sql(&t, "SELECT version FROM documents WHERE id = 'e'"), 2);
    CHECK_EQ_INT(sql(&t, "SELECT version FROM documents WHERE id = 'd'"), 1);
    CHECK_EQ_INT(store_check(other, NULL, NULL), 0);
    store_writer_free(w);
    store_close(other);
    tmp_cleanup(&t);
}

static void test_a_killed_connection_fails_its_batch_then_recovers(void)
{
    tmp_db t;
    store *s = fresh(&t);
    waker k = {PTHREAD_MUTEX_INITIALIZER, 0};
    char err[256];
    store_job j[3], *got[3];
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "d", "", "", 1), 0);
    store_writer *w = store_writer_new(t.path, NULL, wake_fn, &k, err,
                                       sizeof err);
    REQUIRE(w);
    fill(&j[0], "d", 1, "c", 1);
    REQUIRE(store_writer_submit(w, &j[0]) == 0);
    REQUIRE(drain_n(w, got, 1) == 1);
    CHECK_EQ_INT(j[0].result, 0);
    /* every other session of this database: the writer's */
    char q[256];
    snprintf(q, sizeof q, "SELECT count(pg_terminate_backend(pid)) FROM"
             " pg_stat_activity WHERE datname = '%s' AND pid <>"
             " pg_backend_pid()", t.pgname);
    CHECK(sql(&t, q) >= 1);
    store_close(s); /* its session was killed too */
    fill(&j[1], "d", 2, "c", 2);
    REQUIRE(store_writer_submit(w, &j[1]) == 0);
    REQUIRE(drain_n(w, got, 1) == 1);
    /* BEGIN found the connection dead and ran on a new one */
    CHECK_EQ_INT(j[1].result, 0);
    fill(&j[2], "d", 3, "c", 3);
    REQUIRE(store_writer_submit(w, &j[2]) == 0);
    REQUIRE(drain_n(w, got, 1) == 1);
    CHECK_EQ_INT(j[2].result, 0);
    CHECK_EQ_INT(sql(&t, "SELECT version FROM documents"), 3);
    CHECK_EQ_INT(sql(&t, "SELECT count(*) FROM ops"), 3);
    store_writer_free(w);
    tmp_cleanup(&t);
}

static void test_a_connection_lost_inside_a_transaction_commits_nothing(void)
{
    tmp_db t;
    store *s = fresh(&t);
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "d", "", "", 1), 0);
    /* a transaction whose connection is killed halfway: the op insert
     * went through, the session dies before COMMIT */
    store_oprec r[2] = {rec("d", 1, "[\"a\"]", "c", 1),
                        rec("d", 2, "[\"b\"]", "c", 2)};
    char q[512];
    snprintf(q, sizeof q, "CREATE FUNCTION die() RETURNS trigger LANGUAGE"
             " plpgsql AS $$ BEGIN IF new.version = 2 THEN PERFORM"
             " pg_terminate_backend(pg_backend_pid()); END IF; RETURN new;"
             " END $$; CREATE TRIGGER die BEFORE INSERT ON ops FOR EACH ROW"
             " EXECUTE FUNCTION die()");
    CHECK(sql(&t, q) == -1);
    CHECK_EQ_INT(store_append(s, r, 2), STORE_EIO);
    CHECK_EQ_INT(sql(&t, "DROP TRIGGER die ON ops"), -1);
    CHECK_EQ_INT(sql(&t, "SELECT count(*) FROM ops"), 0);
    CHECK_EQ_INT(sql(&t, "SELECT version FROM documents"), 0);
    CHECK_EQ_INT(store_append(s, r, 2), 0); /* a new connection */
    CHECK_EQ_INT(sql(&t, "SELECT version FROM documents"), 2);
    store_close(s);
    tmp_cleanup(&t);
}

typedef struct opener {
    const char *path;
    int rc, version;
} opener;

static void *open_one(void *arg)
{
    opener *o = arg;
    store *s = NULL;
    o->rc = store_open(&s, o->path, NULL, NULL, 0);
    o->version = s ? store_schema_version(s) : -1;
    store_close(s);
    return NULL;
}

static void test_nodes_starting_together_migrate_once(void)
{
    tmp_db t;
    opener o[6];
    pthread_t th[6];
    tmp_init(&t);
    for (int i = 0; i < 6; i++) {
        o[i].path = t.path;
        pthread_create(&th[i], NULL, open_one, &o[i]);
    }
    for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ_INT(o[i].rc, 0);
        CHECK_EQ_INT(o[i].version, store_schema_latest());
    }
    /* each applied once: versions distinct, the last one the latest */
    CHECK_EQ_INT(sql(&t, "SELECT count(*) - count(DISTINCT version) FROM"
                         " schema_version"), 0);
    CHECK_EQ_INT(sql(&t, "SELECT max(version) FROM schema_version"),
                 store_schema_latest());
    tmp_cleanup(&t);
}

static void test_a_newer_schema_and_a_bad_url_are_refused(void)
{
    tmp_db t;
    char err[256] = "";
    store *s = fresh(&t);
    REQUIRE(s);
    store_close(s);
    CHECK_EQ_INT(sql(&t, "INSERT INTO schema_version VALUES (999, 'x', 0)"),
                 -1);
    CHECK_EQ_INT(store_open(&s, t.path, NULL, err, sizeof err),
                 STORE_ENEWER);
    CHECK(s == NULL);
    CHECK(strstr(err, "newer than this chorus") != NULL);
    CHECK_EQ_INT(store_open(&s, "postgresql://nobody@127.0.0.1:1/none",
                            NULL, err, sizeof err), STORE_ECANTOPEN);
    CHECK(strstr(err, "cannot connect to PostgreSQL") != NULL);
    tmp_cleanup(&t);
}

static void lines_add(void *arg, const char *line)
{
    char *all = arg;
    strncat(all, line, 4000 - strlen(all));
    strncat(all, "\n", 4000 - strlen(all));
}

static void test_check_finds_damage_done_with_sql(void)
{
    tmp_db t;
    store *s = fresh(&t);
    static char out[4096];
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "a", "", "", 1), 0);
    CHECK_EQ_INT(store_doc_create(s, "b", "", "", 1), 0);
    for (int v = 1; v <= 6; v++) {
        store_oprec ra = rec("a", v, "[\"x\"]", "c", v);
        store_oprec rb = rec("b", v, "[\"y\"]", "c", v);
        CHECK_EQ_INT(store_append(s, &ra, 1), 0);
        CHECK_EQ_INT(store_append(s, &rb, 1), 0);
    }
    CHECK_EQ_INT(store_snapshot_put(s, "b", 4, "yyyy", 4), 0);
    out[0] = 0;
    CHECK_EQ_INT(store_check(s, lines_add, out), 0);
    CHECK(strstr(out, "2 documents, 12 ops, 1 snapshots: ok") != NULL);
    sql(&t, "DELETE FROM ops WHERE version = 3 AND doc = (SELECT num FROM"
            " documents WHERE id = 'a')");
    sql(&t, "UPDATE snapshots SET text = 'yyyz'::bytea");
    out[0] = 0;
    CHECK_EQ_INT(store_check(s, lines_add, out), STORE_ECORRUPT);
    CHECK(strstr(out, "document a: version 3 missing from the log") != NULL);
    CHECK(strstr(out, "document b: snapshot at 4 differs") != NULL);
    CHECK(strstr(out, "document a: version is 6 but the log holds 5 ops"));
    CHECK(strstr(out, ": 3 problems") != NULL);
    char *text = NULL;
    CHECK_EQ_INT(store_load(s, "a", &text, NULL, NULL), STORE_ECORRUPT);
    CHECK(text == NULL);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_texts_with_nul_and_any_script_round_trip(void)
{
    tmp_db t;
    store *s = fresh(&t);
    const char snap[] = "a\0\xed\x95\x9c\xf0\x9f\x98\x80";
    char *text = NULL;
    size_t bytes = 0;
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "d", "", "", 1), 0);
    store_oprec r[3] = {rec("d", 1, "[\"a\\u0000\"]", "c", 1),
                        rec("d", 2, "[2,\"\xed\x95\x9c\"]", "c", 2),
                        rec("d", 3, "[3,\"\xf0\x9f\x98\x80\"]", "c", 3)};
    CHECK_EQ_INT(store_append(s, r, 3), 0);
    CHECK_EQ_INT(store_load(s, "d", &text, &bytes, NULL), 0);
    CHECK_EQ_INT((long)bytes, (long)sizeof snap - 1);
    CHECK(text && memcmp(text, snap, bytes) == 0);
    free(text);
    CHECK_EQ_INT(store_snapshot_put(s, "d", 3, snap, sizeof snap - 1), 0);
    CHECK_EQ_INT(store_text_at(s, "d", 3, &text, &bytes), 0);
    CHECK(text && bytes == sizeof snap - 1 && !memcmp(text, snap, bytes));
    free(text);
    CHECK_EQ_INT(store_search_put(s, "d", 3, snap, sizeof snap - 1), 0);
    store_hit *hits = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_search_query(s, "\xed\x95\x9c", 0, 5, &hits, &n), 0);
    CHECK_EQ_INT((int)n, 1);
    store_hits_free(hits, n);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_auto_snapshots_inside_one_batch_see_its_ops(void)
{
    tmp_db t;
    char json[128];
    model m = {0};
    tmp_init(&t);
    store *s = open_db(&t, 10, 1);
    REQUIRE(s);
    rng_state = harness_seed() | 1;
    CHECK_EQ_INT(store_doc_create(s, "d", "", "", 1), 0);
    static store_oprec r[35];
    static char ops[35][128];
    for (int i = 0; i < 35; i++) {
        model_edit(&m, json, sizeof json);
        snprintf(ops[i], sizeof ops[i], "%s", json);
        r[i] = rec("d", i + 1, ops[i], "c", i + 1);
    }
    CHECK_EQ_INT(store_append(s, r, 35), 0); /* one transaction */
    CHECK_EQ_INT(sql(&t, "SELECT count(*) FROM snapshots"), 3);
    CHECK_EQ_INT(sql(&t, "SELECT max(version) FROM snapshots"), 30);
    char *text = NULL, *want = model_text(&m);
    CHECK_EQ_INT(store_load(s, "d", &text, NULL, NULL), 0);
    CHECK_EQ_STR(text, want);
    free(text);
    free(want);
    free(m.cp);
    CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

/* A file store beside the PostgreSQL ones (tmp_init gives databases). */
static void file_db(tmp_db *f)
{
    strcpy(f->dir, "/tmp/chorus-store-XXXXXX");
    if (!mkdtemp(f->dir)) exit(2);
    snprintf(f->path, sizeof f->path, "%s/chorus.db", f->dir);
    f->pgname[0] = 0;
}

static void test_copy_goes_to_postgresql_and_back_whole(void)
{
    tmp_db a, b, c;
    char json[128], *text = NULL, *want;
    model m = {0};
    int64_t uid = 0, got_uid = 0, epoch = 0;
    rng_state = harness_seed() | 1;
    file_db(&a);
    tmp_init(&b);
    file_db(&c);
    store *sa = open_db(&a, 7, 1), *sb = open_db(&b, 7, 1);
    store *sc = open_db(&c, 7, 1);
    REQUIRE(sa && sb && sc);
    CHECK_EQ_INT(store_user_add(sa, "ann", "$argon2id$x", 1, 5, &uid), 0);
    CHECK_EQ_INT(store_doc_create(sa, "d", "Title", "ann", 5), 0);
    CHECK_EQ_INT(store_doc_create(sa, "t", "", "ann", 5), 0);
    for (int i = 0; i < 30; i++) {
        model_edit(&m, json, sizeof json);
        store_oprec r = rec("d", i + 1, json, "c", i + 1);
        CHECK_EQ_INT(store_append(sa, &r, 1), 0);
    }
    const unsigned char hash[4] = {1, 0, 2, 255};
    CHECK_EQ_INT(store_token_put(sa, hash, 4, uid, "api", 5, 0), 0);
    CHECK_EQ_INT(store_role_set(sa, "d", uid, STORE_ROLE_OWNER), 0);
    CHECK_EQ_INT(store_share_rotate(sa, "d", &epoch), 0);
    CHECK_EQ_INT(store_meta_put_new(sa, "key", hash, 4), 0);
    CHECK_EQ_INT(store_doc_trash(sa, "t", 99), 0);
    CHECK_EQ_INT(store_copy(sa, sb, NULL, NULL), 0);
    CHECK_EQ_INT(store_copy(sa, sb, NULL, NULL), STORE_EEXIST);
    CHECK_EQ_INT(store_copy(sb, sc, NULL, NULL), 0);
    want = model_text(&m);
    store *all[2] = {sb, sc};
    for (int k = 0; k < 2; k++) {
        store *s = all[k];
        int role = 0;
        int64_t tr = 0, e = 0, v = 0;
        unsigned char *val = NULL;
        size_t len = 0;
        CHECK_EQ_INT(store_load(s, "d", &text, NULL, &v), 0);
        CHECK_EQ_STR(text, want);
        CHECK_EQ_INT(v, 30);
        free(text);
        CHECK_EQ_INT(store_token_user(s, hash, 4, 6, &got_uid), 0);
        CHECK_EQ_INT(got_uid, uid);
        CHECK_EQ_INT(store_role_get(s, "d", uid, &role), 0);
        CHECK_EQ_INT(role, STORE_ROLE_OWNER);
        CHECK_EQ_INT(store_share_epoch(s, "d", &e), 0);
        CHECK_EQ_INT(e, epoch);
        CHECK_EQ_INT(store_doc_trashed(s, "t", &tr), 0);
        CHECK_EQ_INT(tr, 99);
        CHECK_EQ_INT(store_meta_get(s, "key", &val, &len), 0);
        CHECK(len == 4 && val && !memcmp(val, hash, 4));
        free(val);
        CHECK_EQ_INT(store_client_last(s, "d", "c", &e, &v), 0);
        CHECK_EQ_INT(e, 30);
        /* new rows get new keys after the copied ones */
        CHECK_EQ_INT(store_user_add(s, "bob", "h", 0, 6, &got_uid), 0);
        CHECK(got_uid > uid);
        CHECK_EQ_INT(store_doc_create(s, "new", "", "", 6), 0);
        CHECK_EQ_INT(store_check(s, NULL, NULL), 0);
    }
    free(want);
    free(m.cp);
    store_close(sa);
    store_close(sb);
    store_close(sc);
    tmp_cleanup(&a);
    tmp_cleanup(&b);
    tmp_cleanup(&c);
}

static void test_backup_says_it_is_pg_dumps_job(void)
{
    tmp_db t;
    char err[256] = "";
    store *s = fresh(&t);
    REQUIRE(s);
    CHECK_EQ_INT(store_backup(s, "/tmp/never-written.db", err, sizeof err),
                 STORE_EINVAL);
    CHECK(strstr(err, "pg_dump") != NULL);
    CHECK(access("/tmp/never-written.db", F_OK) != 0);
    CHECK(store_is_url(t.path));
    CHECK(!store_is_url("/tmp/x.db"));
    store_close(s);
    tmp_cleanup(&t);
}

int main(void)
{
    int rc = pg_use();
    if (rc == 77) {
        printf("skipped: PostgreSQL is not installed\n0 passed, 0 failed\n");
        return 0;
    }
    if (rc != 0) {
        printf("FAIL cannot start PostgreSQL (tests/pg.sh)\n0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_two_nodes_cannot_take_one_version);
    RUN(test_racing_nodes_take_each_version_once);
    RUN(test_a_writer_batch_loses_only_the_version_another_node_took);
    RUN(test_a_killed_connection_fails_its_batch_then_recovers);
    RUN(test_a_connection_lost_inside_a_transaction_commits_nothing);
    RUN(test_nodes_starting_together_migrate_once);
    RUN(test_a_newer_schema_and_a_bad_url_are_refused);
    RUN(test_check_finds_damage_done_with_sql);
    RUN(test_texts_with_nul_and_any_script_round_trip);
    RUN(test_auto_snapshots_inside_one_batch_see_its_ops);
    RUN(test_copy_goes_to_postgresql_and_back_whole);
    RUN(test_backup_says_it_is_pg_dumps_job);
    return harness_done();
}
