/* test_srv_cli_db.c -- srv_cli_db_open, the one way the subcommands
 * (serve, backup, check, export, import, user, token) open DATA/chorus.db:
 * without 'create' a missing directory or database is one error line and
 * nothing is made; with it both are made, and the path is handed back. */
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/cli/cli.h"
#include "tests/harness.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void test_open_without_create_makes_nothing(void)
{
    char dir[] = "/tmp/chorus-test-clidb-XXXXXX", data[128], path[256];
    REQUIRE(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    CHECK(srv_cli_db_open(data, 0, path, sizeof path) == NULL);
    CHECK(access(data, F_OK) < 0);
    CHECK(mkdir(data, 0750) == 0);
    CHECK(srv_cli_db_open(data, 0, NULL, 0) == NULL); /* no chorus.db */
    snprintf(path, sizeof path, "%s/chorus.db", data);
    CHECK(access(path, F_OK) < 0);
    fclose(stderr);
    stderr = saved;
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_open_with_create_makes_the_dir_and_database(void)
{
    char dir[] = "/tmp/chorus-test-clidb-XXXXXX", data[128], path[256], want[256];
    REQUIRE(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    store *s = srv_cli_db_open(data, 1, path, sizeof path);
    REQUIRE(s);
    snprintf(want, sizeof want, "%s/chorus.db", data);
    CHECK_EQ_STR(path, want);
    CHECK_EQ_INT(store_doc_create(s, "d", "T", "u", 1), 0);
    store_close(s);
    s = srv_cli_db_open(data, 0, NULL, 0); /* now it exists */
    CHECK(s != NULL);
    store_close(s);
    char small[8];
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    CHECK(srv_cli_db_open(data, 1, small, sizeof small) == NULL);
    fclose(stderr);
    stderr = saved;
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    RUN(test_open_without_create_makes_nothing);
    RUN(test_open_with_create_makes_the_dir_and_database);
    return harness_done();
}
