/* cli.c -- the table of subcommands (srv_commands), `serve` (its flags are
 * the table in flags.c, the server is serve.c), `backup` and `check`, and
 * what every subcommand shares: reading a number, opening the database
 * (srv_cli_db_open, the one place that does it).
 *
 * backup, check, export, import, user, token and doc work on the database
 * directly, safe while a server runs: SQLite's WAL gives them a consistent
 * snapshot, and the server sees their writes at its next read. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/cli/cli.h"
#include "server/base/base.h"
#include "storage/store.h"

int srv_cli_int(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "chorus: %s: '%s' is not a number from %ld to %ld\n",
                flag, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* DATA/chorus.db into 'out'. Creates DATA when 'create' (one level, 0750).
 * 0, or -1 with one line on stderr. */
static int db_path(const char *data_dir, int create, char *out, size_t len)
{
    struct stat st;
    if (store_is_url(data_dir)) { /* PostgreSQL: the URL is the database */
        if ((size_t)snprintf(out, len, "%s", data_dir) < len) return 0;
        fprintf(stderr, "chorus: database URL too long\n");
        return -1;
    }
    if (create && mkdir(data_dir, 0750) < 0 && errno != EEXIST) {
        fprintf(stderr, "chorus: cannot create data dir %s: %s\n", data_dir,
                strerror(errno));
        return -1;
    }
    if (stat(data_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "chorus: data dir %s: %s\n", data_dir,
                errno ? strerror(errno) : "not a directory");
        return -1;
    }
    if (create && access(data_dir, W_OK | X_OK) < 0) {
        fprintf(stderr, "chorus: data dir %s is not writable\n", data_dir);
        return -1;
    }
    if ((size_t)snprintf(out, len, "%s/chorus.db", data_dir) >= len) {
        fprintf(stderr, "chorus: data dir path too long\n");
        return -1;
    }
    return 0;
}

/* ---- serve: its flags are the table in flags.c */

/* getopt_long prints its own message for unknown flags; we add nothing. */
static int parse_or_help(int argc, char **argv, const char *help,
                         const struct option *opts, int *opt, int *want_help)
{
    *opt = getopt_long(argc, argv, "h", opts, NULL);
    if (*opt == 'h') {
        fputs(help, stdout);
        *want_help = 1;
    }
    return *opt;
}

static int cmd_serve(int argc, char **argv)
{
    srv_config cfg;
    srv_config_init(&cfg);
    const char *env = getenv("CHORUS_LOG");
    if (env && srv_log_parse_level(env) >= 0)
        srv_log_set_level(srv_log_parse_level(env));
    int rc = srv_cli_serve_flags(&cfg, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    return srv_run(&cfg);
}

/* ---- backup and check */

static int data_only(int argc, char **argv, const char *help, const char **data,
                     int nargs, const char **args)
{
    static const struct option opts[] = {
        {"data", 1, 0, 'd'}, {"store", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int opt, want_help = 0;
    opterr = 0;
    *data = "./data";
    while (parse_or_help(argc, argv, help, opts, &opt, &want_help) != -1) {
        if (want_help) return 1;
        if (opt == 'd') {
            *data = optarg;
            continue;
        }
        fprintf(stderr, "%s: unknown flag or missing value: %s\n", argv[0],
                argv[optind - 1]);
        return -1;
    }
    if (argc - optind != nargs) {
        fputs(help, stderr);
        return -1;
    }
    for (int i = 0; i < nargs; i++) args[i] = argv[optind + i];
    return 0;
}

store *srv_cli_db_open(const char *data_dir, int create, char *path,
                       size_t len)
{
    char own[PATH_MAX], err[512] = "";
    store *s = NULL;
    if (!path) path = own, len = sizeof own;
    if (db_path(data_dir, create, path, len) < 0) return NULL;
    if (!create && !store_is_url(path) && access(path, F_OK) < 0) {
        fprintf(stderr, "chorus: no database at %s\n", path);
        return NULL;
    }
    int rc = store_open(&s, path, NULL, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "chorus: %s: %s\n", path,
                err[0] ? err : store_strerror(rc));
    return s;
}

static int cmd_backup(int argc, char **argv)
{
    const char *data, *file;
    char err[512] = "";
    int rc = data_only(argc, argv,
                       "usage: chorus backup [--data DIR] FILE\n"
                       "  an online, consistent copy of DIR/chorus.db into FILE\n"
                       "  (FILE must not exist); safe while the server runs.\n"
                       "  A PostgreSQL store (--store URL) is backed up with\n"
                       "  pg_dump: this command refuses it\n",
                       &data, 1, &file);
    if (rc) return rc > 0 ? 0 : 2;
    store *s = srv_cli_db_open(data, 0, NULL, 0);
    if (!s) return 1;
    rc = store_backup(s, file, err, sizeof err);
    store_close(s);
    if (rc < 0) {
        fprintf(stderr, "chorus: backup to %s failed: %s\n", file,
                err[0] ? err : store_strerror(rc));
        return 1;
    }
    printf("backup written to %s\n", file);
    return 0;
}

static void print_line(void *arg, const char *line)
{
    (void)arg;
    printf("%s\n", line);
}

/* `chorus check --reindex`: rebuild the search index. The exit status. */
static int reindex(store *s)
{
    int64_t n = 0;
    int rc = store_search_reindex(s, &n);
    if (rc < 0) {
        fprintf(stderr, "chorus: reindexing failed: %s\n", store_strerror(rc));
        return 1;
    }
    printf("search index rebuilt: %lld documents\n", (long long)n);
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    const char *data;
    int re = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--reindex") == 0) {
            re = 1;
            memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
            argc--;
            break;
        }
    int rc = data_only(argc, argv,
                       "usage: chorus check [--data DIR] [--reindex]\n"
                       "  verify DIR/chorus.db: SQLite integrity, and for every\n"
                       "  document that its log is whole and its snapshots equal\n"
                       "  the replay of the log; exit 1 on any problem\n"
                       "  --reindex: rebuild the search index first (safe while\n"
                       "  the server runs)\n"
                       "  --store URL: check a PostgreSQL store instead\n",
                       &data, 0, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    store *s = srv_cli_db_open(data, 0, NULL, 0);
    if (!s) return 1;
    if (re && reindex(s)) {
        store_close(s);
        return 1;
    }
    rc = store_check(s, print_line, NULL);
    store_close(s);
    if (rc < 0 && rc != STORE_ECORRUPT)
        fprintf(stderr, "chorus: check failed: %s\n", store_strerror(rc));
    return rc == 0 ? 0 : 1;
}

/* ---- copy: a whole deployment, SQLite <-> PostgreSQL */

static const char *copy_help =
    "usage: chorus copy --from DIR_OR_URL --to DIR_OR_URL\n"
    "  copy everything (documents with their whole history and snapshots,\n"
    "  users and password hashes, tokens, roles, share links, the trash,\n"
    "  settings) from one store into a new, empty one: a data directory\n"
    "  (its chorus.db) or a postgresql:// URL, either way; then check the\n"
    "  copy. Stop the server first: what it writes meanwhile is not copied\n";

static int cmd_copy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", 1, 0, 'f'}, {"to", 1, 0, 't'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    const char *from = NULL, *to = NULL;
    int opt, want_help = 0;
    opterr = 0;
    while (parse_or_help(argc, argv, copy_help, opts, &opt, &want_help) != -1) {
        if (want_help) return 0;
        if (opt == 'f') from = optarg;
        else if (opt == 't') to = optarg;
        else {
            fprintf(stderr, "%s: unknown flag or missing value: %s\n",
                    argv[0], argv[optind - 1]);
            return 2;
        }
    }
    if (!from || !to || optind != argc) {
        fputs(copy_help, stderr);
        return 2;
    }
    store *src = srv_cli_db_open(from, 0, NULL, 0);
    store *dst = src ? srv_cli_db_open(to, 1, NULL, 0) : NULL;
    int rc = dst ? store_copy(src, dst, print_line, NULL) : STORE_EINVAL;
    store_close(src);
    store_close(dst);
    if (!dst) return 1;
    if (rc < 0)
        fprintf(stderr, "chorus: copy failed: %s\n", store_strerror(rc));
    else
        printf("copied %s to %s\n", from, to);
    return rc == 0 ? 0 : 1;
}

const srv_command srv_commands[] = {
    {"serve", cmd_serve},
    {"backup", cmd_backup},
    {"check", cmd_check},
    {"copy", cmd_copy},
    {"export", srv_cli_export},
    {"import", srv_cli_import},
    {"user", srv_cli_user},
    {"token", srv_cli_token},
    {"doc", srv_cli_doc},
    {NULL, NULL},
};
