/* test_store_auth.c -- accounts, tokens, roles, share epochs and settings of
 * team mode, and documents created whole in one transaction (import, fork),
 * on temp files with the real migrations. */
#include "tests/harness.h"
#include "tests/test_store_util.h"

static const unsigned char H1[32] = {1, 2, 3}, H2[32] = {9, 9, 9};

static void test_users_are_added_listed_found_and_removed(void)
{
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    int64_t id = 0;
    CHECK_EQ_INT(store_user_add(s, "ann", "$argon2id$x", 1, 10, &id), 0);
    CHECK(id > 0);
    CHECK_EQ_INT(store_user_add(s, "ann", "$argon2id$y", 0, 11, NULL), STORE_EEXIST);
    CHECK_EQ_INT(store_user_add(s, "", "h", 0, 11, NULL), STORE_EINVAL);
    CHECK_EQ_INT(store_user_add(s, "bob", "$argon2id$b", 0, 12, NULL), 0);
    store_user u;
    char *hash = NULL;
    CHECK_EQ_INT(store_user_get(s, "ann", &u, &hash), 0);
    CHECK_EQ_STR(u.name, "ann");
    CHECK_EQ_STR(hash, "$argon2id$x");
    CHECK_EQ_INT(u.admin, 1);
    free(hash);
    store_user_clear(&u);
    store_user *all = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_user_list(s, &all, &n), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) CHECK_EQ_STR(all[1].name, "bob");
    store_users_free(all, n);
    CHECK_EQ_INT(store_user_set_password(s, "ghost", "h"), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_user_remove(s, "bob"), 0);
    CHECK_EQ_INT(store_user_get(s, "bob", &u, NULL), STORE_ENOTFOUND);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_tokens_expire_and_go_with_their_user(void)
{
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    int64_t id = 0, who = 0;
    REQUIRE(store_user_add(s, "ann", "h", 0, 1, &id) == 0);
    CHECK_EQ_INT(store_token_put(s, H1, 32, id, "session", 100, 200), 0);
    CHECK_EQ_INT(store_token_put(s, H2, 32, id, "api", 100, 0), 0);
    CHECK_EQ_INT(store_token_user(s, H1, 32, 150, &who), 0);
    CHECK_EQ_INT(who, id);
    CHECK_EQ_INT(store_token_user(s, H1, 32, 200, &who), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_token_user(s, H2, 32, 1LL << 50, &who), 0); /* never */
    CHECK_EQ_INT(store_user_logout_all(s, "ann"), 0);
    CHECK_EQ_INT(store_token_user(s, H1, 32, 150, &who), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_token_user(s, H2, 32, 150, &who), 0); /* api stays */
    CHECK_EQ_INT(store_user_remove(s, "ann"), 0);
    CHECK_EQ_INT(store_token_user(s, H2, 32, 150, &who), STORE_ENOTFOUND);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_roles_and_share_epochs_belong_to_a_document(void)
{
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    int64_t id = 0, epoch = -1;
    int role = -1;
    REQUIRE(store_user_add(s, "ann", "h", 0, 1, &id) == 0);
    CHECK_EQ_INT(store_role_set(s, "nodoc", id, STORE_ROLE_EDITOR), STORE_ENOTFOUND);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    CHECK_EQ_INT(store_role_get(s, "d", id, &role), 0);
    CHECK_EQ_INT(role, STORE_ROLE_NONE);
    CHECK_EQ_INT(store_role_set(s, "d", id, STORE_ROLE_EDITOR), 0);
    CHECK_EQ_INT(store_role_get(s, "d", id, &role), 0);
    CHECK_EQ_INT(role, STORE_ROLE_EDITOR);
    CHECK_EQ_INT(store_share_epoch(s, "d", &epoch), 0);
    CHECK_EQ_INT(epoch, 0);
    CHECK_EQ_INT(store_share_rotate(s, "d", &epoch), 0);
    CHECK_EQ_INT(epoch, 1);
    CHECK_EQ_INT(store_doc_delete(s, "d"), 0); /* roles go with it */
    REQUIRE(store_doc_create(s, "d", "", "", 2) == 0);
    CHECK_EQ_INT(store_role_get(s, "d", id, &role), 0);
    CHECK_EQ_INT(role, STORE_ROLE_NONE);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_meta_keeps_the_first_value(void)
{
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    unsigned char *v = NULL;
    size_t len = 0;
    CHECK_EQ_INT(store_meta_get(s, "k", &v, &len), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_meta_put_new(s, "k", (const unsigned char *)"one", 3), 0);
    CHECK_EQ_INT(store_meta_put_new(s, "k", (const unsigned char *)"two", 3), STORE_EEXIST);
    CHECK_EQ_INT(store_meta_get(s, "k", &v, &len), 0);
    CHECK(len == 3 && memcmp(v, "one", 3) == 0);
    free(v);
    store_close(s);
    tmp_cleanup(&t);
}

/* The generation now, or -1 when it cannot be read. */
static int64_t gen_of(store *s)
{
    int64_t g = -1;
    return store_auth_generation(s, &g) == 0 ? g : -1;
}

static void test_the_auth_generation_moves_with_every_right_taken_away(void)
{
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    int64_t ann = 0, bob = 0, uid = 0, exp = -1, epoch = 0;
    CHECK_EQ_INT(gen_of(s), 0);
    /* granting moves nothing */
    REQUIRE(store_user_add(s, "ann", "h", 1, 1, &ann) == 0);
    REQUIRE(store_user_add(s, "bob", "h", 0, 1, &bob) == 0);
    REQUIRE(store_doc_create(s, "d", "", "", 1) == 0);
    CHECK_EQ_INT(store_role_set(s, "d", bob, STORE_ROLE_EDITOR), 0);
    CHECK_EQ_INT(store_token_put(s, H1, 32, bob, "session", 1, 500), 0);
    CHECK_EQ_INT(store_token_put(s, H2, 32, ann, "api", 1, 0), 0);
    CHECK_EQ_INT(gen_of(s), 0);
    CHECK_EQ_INT(store_token_lookup(s, H1, 32, 100, &uid, &exp), 0);
    CHECK(uid == bob && exp == 500);
    CHECK_EQ_INT(store_token_lookup(s, H2, 32, 100, &uid, &exp), 0);
    CHECK(uid == ann && exp == 0);
    /* each way a right ends moves it */
    int64_t g = gen_of(s);
    CHECK_EQ_INT(store_role_set(s, "d", bob, STORE_ROLE_VIEWER), 0);
    CHECK(gen_of(s) > g);
    g = gen_of(s);
    CHECK_EQ_INT(store_role_set(s, "d", bob, STORE_ROLE_NONE), 0);
    CHECK(gen_of(s) > g);
    g = gen_of(s);
    CHECK_EQ_INT(store_share_rotate(s, "d", &epoch), 0);
    CHECK(gen_of(s) > g);
    g = gen_of(s);
    CHECK_EQ_INT(store_user_logout_all(s, "bob"), 0);
    CHECK(gen_of(s) > g);
    g = gen_of(s);
    CHECK_EQ_INT(store_user_remove(s, "ann"), 0); /* and her api token */
    CHECK(gen_of(s) > g);
    CHECK_EQ_INT(store_token_user(s, H2, 32, 100, &uid), STORE_ENOTFOUND);
    /* a password set again, alone, takes nothing away */
    g = gen_of(s);
    CHECK_EQ_INT(store_user_set_password(s, "bob", "h2"), 0);
    CHECK_EQ_INT(gen_of(s), g);
    store_close(s);
    tmp_cleanup(&t);
}

static void test_create_with_ops_is_all_or_nothing(void)
{
    tmp_db t;
    tmp_init(&t);
    store *s = open_db(&t, 0, 1);
    REQUIRE(s);
    int64_t id = 0;
    int role = 0;
    REQUIRE(store_user_add(s, "ann", "h", 0, 1, &id) == 0);
    store_oprec ok[2] = {rec("f", 1, "[\"ab\"]", "c", 1), rec("f", 2, "[2,\"c\"]", "c", 2)};
    CHECK_EQ_INT(store_doc_create_with(s, "f", "T", "ann", 5, id, ok, 2), 0);
    char *text = NULL;
    size_t bytes = 0;
    int64_t v = 0;
    CHECK_EQ_INT(store_load(s, "f", &text, &bytes, &v), 0);
    CHECK_EQ_STR(text, "abc");
    CHECK_EQ_INT(v, 2);
    free(text);
    CHECK_EQ_INT(store_role_get(s, "f", id, &role), 0);
    CHECK_EQ_INT(role, STORE_ROLE_OWNER);
    /* a gap in the versions: nothing at all is created */
    store_oprec bad[2] = {rec("g", 1, "[\"x\"]", "c", 1), rec("g", 3, "[\"y\"]", "c", 2)};
    CHECK_EQ_INT(store_doc_create_with(s, "g", "", "", 5, id, bad, 2), STORE_ERANGE);
    store_docinfo d;
    CHECK_EQ_INT(store_doc_get(s, "g", &d), STORE_ENOTFOUND);
    CHECK_EQ_INT(store_doc_create_with(s, "f", "", "", 5, 0, NULL, 0), STORE_EEXIST);
    store_close(s);
    tmp_cleanup(&t);
}

int main(void)
{
    RUN(test_users_are_added_listed_found_and_removed);
    RUN(test_tokens_expire_and_go_with_their_user);
    RUN(test_roles_and_share_epochs_belong_to_a_document);
    RUN(test_meta_keeps_the_first_value);
    RUN(test_the_auth_generation_moves_with_every_right_taken_away);
    RUN(test_create_with_ops_is_all_or_nothing);
    return harness_done();
}
