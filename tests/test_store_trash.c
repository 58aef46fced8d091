/* test_store_trash.c -- the trash and the search index (migrations 0005,
 * 0006), on fresh temporary databases with the real migrations.
 *
 * The invariants under test: a trashed document is seen by no reader
 * (get, list, retitle, search) and keeps its log, roles and index row
 * until purged; a purge removes everything and frees the id; the index
 * holds a document's title at once and its text once put; queries of any
 * length find substrings in any script and honour roles. */
#include "tests/test_store_util.h"

static store *fresh(tmp_db *t)
{
    tmp_init(t);
    store *s = open_db(t, 0, 1);
    return s;
}

static void test_trash_hides_and_restore_brings_back_as_it_was(void)
{
    tmp_db t;
    store *s = fresh(&t);
    store_docinfo d;
    int64_t when = -1;
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "a", "T", "bob", 5), 0);
    store_oprec r = rec("a", 1, "[\"hi\"]", "c", 1);
    CHECK_EQ_INT(store_append(s, &r, 1), 0);
    CHECK_EQ_INT(store_doc_trashed(s, "a", &when), 0);
    CHECK_EQ_INT(when, 0);
    CHECK_EQ_INT(store_doc_trash(s, "a", 77), 0);
    CHECK_EQ_INT(store_doc_trash(s, "a", 78), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_trashed(s, "a", &when), 0);
    CHECK_EQ_INT(when, 77);
    CHECK_EQ_INT(store_doc_get(s, "a", &d), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_set_title(s, "a", "X", 9), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_create(s, "a", "", "eve", 9), STORE_EEXIST);
    store_docinfo *list = NULL;
    size_t n = 9;
    CHECK_EQ_INT(store_doc_list(s, &list, &n), 0);
    CHECK_EQ_INT((int)n, 0);
    store_trashinfo *tr = NULL;
    CHECK_EQ_INT(store_trash_list(s, 0, &tr, &n), 0);
    CHECK_EQ_INT((int)n, 1);
    CHECK_EQ_STR(tr[0].id, "a");
    CHECK_EQ_INT(tr[0].trashed_ms, 77);
    CHECK_EQ_INT(tr[0].version, 1);
    store_trashinfo_free(tr, n);
    CHECK_EQ_INT(store_doc_untrash(s, "a"), 0);
    CHECK_EQ_INT(store_doc_untrash(s, "a"), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_get(s, "a", &d), 0);
    CHECK_EQ_STR(d.title, "T");
    CHECK_EQ_INT(d.version, 1);
    store_docinfo_clear(&d);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_purge_needs_the_trash_and_frees_the_id(void)
{
    tmp_db t;
    store *s = fresh(&t);
    int64_t n = -1;
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "a", "T", "bob", 5), 0);
    CHECK_EQ_INT(store_doc_create(s, "b", "T", "bob", 5), 0);
    CHECK_EQ_INT(store_doc_purge(s, "a"), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_trash(s, "a", 10), 0);
    CHECK_EQ_INT(store_doc_trash(s, "b", 1000), 0);
    CHECK_EQ_INT(store_doc_purge(s, "a"), 0);
    CHECK_EQ_INT(store_doc_trashed(s, "a", &n), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_create(s, "a", "new", "eve", 9), 0);
    CHECK_EQ_INT(store_trash_expire(s, 999, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(store_trash_expire(s, 1001, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(store_doc_trashed(s, "b", &n), STORE_ENOTFOUND);
    store_close(s);
    tmp_cleanup(&t);
}

static size_t hits(store *s, const char *q, int64_t user, const char *first)
{
    store_hit *h = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_search_query(s, q, user, 10, &h, &n), 0);
    if (first && n) CHECK_EQ_STR(h[0].id, first);
    store_hits_free(h, n);
    return n;
}

static void test_search_finds_substrings_in_every_script_and_length(void)
{
    tmp_db t;
    store *s = fresh(&t);
    REQUIRE(s);
    const char *text = "배포일정 カタカナ 北京 🚀🎉 Straße ÉCOLE 100%_done";
    CHECK_EQ_INT(store_doc_create(s, "a", "Plan", "bob", 5), 0);
    CHECK_EQ_INT(store_doc_create(s, "b", "회의록", "bob", 5), 0);
    CHECK_EQ_INT((int)hits(s, "회의", 0, NULL), 0); /* not put yet: not indexed */
    CHECK_EQ_INT(store_search_put(s, "a", 0, text, strlen(text)), 0);
    CHECK_EQ_INT(store_search_put(s, "b", 0, "", 0), 0);
    CHECK_EQ_INT((int)hits(s, "회의", 0, "b"), 1);
    CHECK_EQ_INT((int)hits(s, "배포", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "배포일정", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "カタ", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "北", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "🎉", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "école", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "STRASSE", 0, NULL), 0); /* no ß expansion */
    CHECK_EQ_INT((int)hits(s, "plan", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "%_", 0, "a"), 1);  /* LIKE wildcards escaped */
    CHECK_EQ_INT((int)hits(s, "_d", 0, "a"), 1);
    CHECK_EQ_INT((int)hits(s, "%x", 0, NULL), 0);
    CHECK_EQ_INT((int)hits(s, "\"q", 0, NULL), 0); /* quotes are text */
    CHECK_EQ_INT(store_doc_set_title(s, "a", "Roadmap", 9), 0);
    CHECK_EQ_INT((int)hits(s, "plan", 0, NULL), 0);  /* the trigger */
    CHECK_EQ_INT((int)hits(s, "roadmap", 0, "a"), 1);
    CHECK_EQ_INT(store_doc_trash(s, "a", 10), 0);
    CHECK_EQ_INT((int)hits(s, "배포", 0, NULL), 0);
    CHECK_EQ_INT(store_doc_untrash(s, "a"), 0);
    CHECK_EQ_INT((int)hits(s, "배포", 0, "a"), 1);
    CHECK_EQ_INT(store_doc_trash(s, "a", 10), 0);
    CHECK_EQ_INT(store_doc_purge(s, "a"), 0);
    CHECK_EQ_INT(store_doc_create(s, "a", "", "bob", 5), 0);
    CHECK_EQ_INT(store_doc_untrash(s, "a"), STORE_ENOTFOUND);
    CHECK_EQ_INT((int)hits(s, "배포", 0, NULL), 0);
    store_close(s);
    tmp_cleanup(&t);
}

/* Two-character queries go through the index's trigrams (every one that
 * starts with the pair): a pair at the very end of a text, a text of only
 * the pair, case folded beyond ASCII, the rights and the trash filters,
 * and a pair no trigram starts (only titles can hold it). Three or more
 * characters: a title match ranks first even among many text matches. */
static void test_search_pairs_use_the_index_and_ranking_is_bounded(void)
{
    tmp_db t;
    store *s = fresh(&t);
    char id[16];
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "end", "", "bob", 5), 0);
    CHECK_EQ_INT(store_doc_create(s, "only", "", "bob", 5), 0);
    CHECK_EQ_INT(store_doc_create(s, "fold", "", "bob", 5), 0);
    CHECK_EQ_INT(store_doc_create(s, "t", "서버 점검", "bob", 5), 0);
    CHECK_EQ_INT(store_search_put(s, "end", 0, "우리 서버", 13), 0);
    CHECK_EQ_INT(store_search_put(s, "only", 0, "배포", 6), 0);
    CHECK_EQ_INT(store_search_put(s, "fold", 0, "Ωμέγα ÉCOLE", 17), 0);
    CHECK_EQ_INT(store_search_put(s, "t", 0, "", 0), 0);
    CHECK_EQ_INT((int)hits(s, "서버", 0, "t"), 2);  /* title first, then end */
    CHECK_EQ_INT((int)hits(s, "배포", 0, "only"), 1);
    CHECK_EQ_INT((int)hits(s, "ωΜ", 0, "fold"), 1); /* Greek folds */
    CHECK_EQ_INT((int)hits(s, "éc", 0, "fold"), 1);
    CHECK_EQ_INT((int)hits(s, "점검", 0, "t"), 1);   /* title, no trigram */
    CHECK_EQ_INT((int)hits(s, "zq", 0, NULL), 0);
    CHECK_EQ_INT((int)hits(s, "\"\"", 0, NULL), 0);
    CHECK_EQ_INT((int)hits(s, "버", 0, NULL), 2);
    CHECK_EQ_INT((int)hits(s, "서버", 7, NULL), 0); /* no role, no hit */
    CHECK_EQ_INT(store_doc_trash(s, "only", 10), 0);
    CHECK_EQ_INT((int)hits(s, "배포", 0, NULL), 0);
    {   /* the indexed text comes back without the end mark */
        store_hit *h = NULL;
        size_t n = 0;
        CHECK_EQ_INT(store_search_query(s, "우리", 0, 10, &h, &n), 0);
        REQUIRE(n == 1);
        CHECK_EQ_INT((int)h[0].bytes, 13);
        CHECK_EQ_STR(h[0].body, "우리 서버");
        store_hits_free(h, n);
    }
    /* 300 texts hold "needle"; the one whose title holds it is first */
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "n%03d", i);
        CHECK_EQ_INT(store_doc_create(s, id, i == 3 ? "the needle" : "x",
                                      "bob", 5 + i), 0);
        CHECK_EQ_INT(store_search_put(s, id, 0, "a needle in hay", 15), 0);
    }
    CHECK_EQ_INT((int)hits(s, "needle", 0, "n003"), 10);
    CHECK_EQ_INT((int)hits(s, "ne", 0, "n003"), 10);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_stale_documents_are_found_and_reindex_rebuilds(void)
{
    tmp_db t;
    store *s = fresh(&t);
    store_docid *ids = NULL;
    size_t n = 0;
    int64_t count = 0;
    REQUIRE(s);
    CHECK_EQ_INT(store_doc_create(s, "a", "", "bob", 5), 0);
    store_oprec r = rec("a", 1, "[\"quiet text\"]", "c", 1);
    CHECK_EQ_INT(store_append(s, &r, 1), 0);
    CHECK_EQ_INT(store_search_stale(s, 0, 8, &ids, &n), 0); /* not quiet */
    CHECK_EQ_INT((int)n, 0);
    free(ids);
    CHECK_EQ_INT(store_search_stale(s, INT64_MAX, 8, &ids, &n), 0);
    CHECK_EQ_INT((int)n, 1);
    if (n) CHECK_EQ_STR(ids[0].id, "a");
    free(ids);
    CHECK_EQ_INT(store_search_index_one(s, "a"), 0);
    CHECK_EQ_INT(store_search_stale(s, INT64_MAX, 8, &ids, &n), 0);
    CHECK_EQ_INT((int)n, 0);
    free(ids);
    CHECK_EQ_INT((int)hits(s, "quiet", 0, "a"), 1);
    CHECK_EQ_INT(store_search_reindex(s, &count), 0);
    CHECK_EQ_INT(count, 1);
    CHECK_EQ_INT((int)hits(s, "quiet", 0, "a"), 1);
    CHECK_EQ_INT(store_search_index_one(s, "nope"), STORE_ENOTFOUND);
    store_close(s);
    tmp_cleanup(&t);
}

int main(void)
{
    RUN(test_trash_hides_and_restore_brings_back_as_it_was);
    RUN(test_purge_needs_the_trash_and_frees_the_id);
    RUN(test_search_finds_substrings_in_every_script_and_length);
    RUN(test_search_pairs_use_the_index_and_ranking_is_bounded);
    RUN(test_stale_documents_are_found_and_reindex_rebuilds);
    return harness_done();
}
