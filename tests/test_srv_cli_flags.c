/* test_srv_cli_flags.c -- the flags table of `chorus serve`
 * (server/cli/flags.c): README.md's table is the table's own rendering,
 * the defaults are the ones Chorus always had, and each flag sets its
 * field or refuses a bad value with one line and nothing else changed.
 * (tests/integration/test_cli_flags.py checks README.md against the real
 * binary's --help.) Run from the repository root, where README.md is. */
#include <stddef.h>
#include <unistd.h>

#include "server/cli/cli.h"
#include "tests/harness.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    int c;
    if (!f || !m) {
        if (f) fclose(f);
        if (m) fclose(m);
        free(buf);
        return NULL;
    }
    while ((c = fgetc(f)) != EOF) fputc(c, m);
    fclose(f);
    fclose(m);
    return buf;
}

static char *table(void (*write)(FILE *))
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m) return NULL;
    write(m);
    fclose(m);
    return buf;
}

static void test_readme_table_is_the_flags_table(void)
{
    char *readme = slurp("README.md"), *want = table(srv_cli_serve_readme);
    REQUIRE(readme && want);
    char *at = strstr(readme, "| flag | default | meaning |\n");
    REQUIRE(at);
    char *end = strstr(at, "\n\n");
    REQUIRE(end);
    end[1] = 0;
    if (strcmp(at, want) != 0)
        fprintf(stderr, "  README.md's flags table should read:\n%s", want);
    CHECK(strcmp(at, want) == 0);
    free(readme);
    free(want);
}

static void test_defaults_are_unchanged(void)
{
    srv_config c;
    srv_config_init(&c);
    CHECK_EQ_STR(c.bind, "127.0.0.1");
    CHECK_EQ_INT(c.port, 8080);
    CHECK_EQ_STR(c.data_dir, "./data");
    CHECK(c.web_dir == NULL && c.tls_cert == NULL && c.tls_key == NULL);
    CHECK(c.norigins == 0 && c.nhosts == 0);
    CHECK(c.max_message == 1024 * 1024);
    CHECK(c.queue_bytes == 8 * 1024 * 1024);
    CHECK(c.max_doc_chars == 4 * 1024 * 1024);
    CHECK_EQ_INT(c.ops_per_sec, 500);
    CHECK_EQ_INT(c.docs_per_conn, 32);
    CHECK_EQ_INT(c.conns_per_ip, 4096);
    CHECK_EQ_INT(c.idle_timeout, 30);
    CHECK_EQ_INT(c.hello_timeout, 10);
    CHECK_EQ_INT(c.unload_after, 30);
    CHECK_EQ_INT(c.snapshot_every, 200);
    CHECK_EQ_INT(c.sync_full, 1);
    CHECK_EQ_INT(c.wal_prealloc_mib, 64);
    CHECK_EQ_INT(c.history_window, 4096);
    CHECK_EQ_INT(c.auth, -1);
}

/* Parse 'args' (NULL-terminated, after "serve") into a fresh config. */
static int parse(srv_config *c, const char **args)
{
    char *argv[64] = {"serve"};
    int argc = 1;
    while (*args && argc < 63) argv[argc++] = (char *)*args++;
    srv_config_init(c);
    optind = 0; /* getopt_long starts afresh */
    return srv_cli_serve_flags(c, argc, argv);
}

static void test_every_flag_sets_its_field(void)
{
    static const char *args[] = {
        "--bind", "0.0.0.0", "--port", "9", "--data", "/d", "--web", "/w",
        "--allow-origin", "https://a", "--allow-origin", "*",
        "--allow-host", "h.example", "--max-message", "2048",
        "--max-doc-chars", "4096", "--queue-bytes", "65536",
        "--ops-per-sec", "7", "--docs-per-conn", "3", "--conns-per-ip", "5",
        "--idle-timeout", "11", "--hello-timeout", "12",
        "--unload-after", "0", "--snapshot-every", "13",
        "--history-window", "16", "--sync", "normal", "--wal-prealloc", "0",
        "--auth", "on", "--tls-cert", "c.pem", "--tls-key", "k.pem",
        "--log-level", "info", NULL};
    srv_config c;
    CHECK_EQ_INT(parse(&c, args), 0);
    CHECK_EQ_STR(c.bind, "0.0.0.0");
    CHECK_EQ_INT(c.port, 9);
    CHECK_EQ_STR(c.data_dir, "/d");
    CHECK_EQ_STR(c.web_dir, "/w");
    CHECK(c.norigins == 2 && strcmp(c.origins[1], "*") == 0);
    CHECK(c.nhosts == 1 && strcmp(c.hosts[0], "h.example") == 0);
    CHECK(c.max_message == 2048 && c.max_doc_chars == 4096);
    CHECK(c.queue_bytes == 65536);
    CHECK(c.ops_per_sec == 7 && c.docs_per_conn == 3 && c.conns_per_ip == 5);
    CHECK(c.idle_timeout == 11 && c.hello_timeout == 12);
    CHECK(c.unload_after == 0 && c.snapshot_every == 13);
    CHECK(c.history_window == 16 && c.sync_full == 0);
    CHECK(c.wal_prealloc_mib == 0 && c.auth == 1);
    CHECK_EQ_STR(c.tls_cert, "c.pem");
    CHECK_EQ_STR(c.tls_key, "k.pem");
}

static void test_bad_values_are_refused(void)
{
    static const char *bad[][3] = {
        {"--port", "0", NULL}, {"--port", "65536", NULL},
        {"--port", "8x", NULL}, {"--max-message", "1023", NULL},
        {"--queue-bytes", "65535", NULL}, {"--history-window", "15", NULL},
        {"--wal-prealloc", "65", NULL}, {"--sync", "sometimes", NULL},
        {"--auth", "maybe", NULL}, {"--log-level", "loud", NULL},
        {"--allow-host", "", NULL}, {"--nope", NULL, NULL},
        {"--port", NULL, NULL}, {"extra", NULL, NULL}};
    srv_config c;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w"); /* each prints its one line */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(&c, bad[i]);
        if (rc != -1) fprintf(saved, "  accepted: %s\n", bad[i][0]);
        CHECK_EQ_INT(rc, -1);
    }
    const char *many[2 * 17 + 1];
    for (int i = 0; i < 17; i++) many[2 * i] = "--allow-origin", many[2 * i + 1] = "x";
    many[34] = NULL;
    CHECK_EQ_INT(parse(&c, many), -1);
    fclose(stderr);
    stderr = saved;
}

static void test_help_lists_every_flag_of_the_readme_table(void)
{
    char *help = table(srv_cli_serve_help), *md = table(srv_cli_serve_readme);
    REQUIRE(help && md);
    CHECK(strncmp(help, "usage: chorus serve [flags]\n", 28) == 0);
    int rows = 0;
    for (char *p = strstr(md, "| `--"); p; p = strstr(p + 1, "| `--")) {
        char name[64];
        size_t n = strcspn(p + 3, " `");
        snprintf(name, sizeof name, "  %.*s ", (int)n, p + 3);
        CHECK(strstr(help, name) != NULL);
        rows++;
    }
    CHECK_EQ_INT(rows, 26); /* 23 + --trash-days, --bus, --store */
    for (char *line = help; *line; line += strcspn(line, "\n") + 1)
        CHECK(strcspn(line, "\n") <= 79);
    free(help);
    free(md);
}

int main(void)
{
    RUN(test_readme_table_is_the_flags_table);
    RUN(test_defaults_are_unchanged);
    RUN(test_every_flag_sets_its_field);
    RUN(test_bad_values_are_refused);
    RUN(test_help_lists_every_flag_of_the_readme_table);
    return harness_done();
}
