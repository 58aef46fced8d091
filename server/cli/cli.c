/* cli.c -- the subcommands: flags of `serve`, and `backup` and `check`,
 * which work on the database directly (safe while a server runs: SQLite's
 * WAL lets them read a consistent snapshot). */
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
#include "server/srv.h"
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

int srv_cli_db_path(const char *data_dir, int create, char *out, size_t len)
{
    struct stat st;
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

/* ---- serve */

static const char *serve_help =
    "usage: chorus serve [flags]\n"
    "\n"
    "  --bind ADDR          address to listen on (default 127.0.0.1)\n"
    "  --port N             port (default 8080)\n"
    "  --data DIR           data directory, holds chorus.db (default ./data)\n"
    "  --web DIR            web files (default: found beside the binary)\n"
    "  --allow-origin O     allowed browser Origin, for the WebSocket and for\n"
    "                       requests that change anything; repeatable, '*' for\n"
    "                       any (default: the server's own origin)\n"
    "  --allow-host NAME    a Host name to answer, repeatable; '*' for any\n"
    "                       (always: the bind address, localhost, 127.0.0.1,\n"
    "                       ::1, the hosts of --allow-origin, and any IP when\n"
    "                       bound to 0.0.0.0 or ::); others get 421\n"
    "  --max-message BYTES  largest client message (default 1048576)\n"
    "  --max-doc-chars N    largest document in code points; an op that would\n"
    "                       grow one past it is refused (default 4194304)\n"
    "  --queue-bytes BYTES  per-connection send queue bound (default 8388608)\n"
    "  --ops-per-sec N      ops per second per connection, burst 2N (default 500)\n"
    "  --docs-per-conn N    documents one connection may join (default 32)\n"
    "  --conns-per-ip N     open WebSockets per client address (default 4096)\n"
    "  --idle-timeout S     ping after S idle seconds, hang up after 2S+5 (default 30)\n"
    "  --hello-timeout S    seconds a new connection has to say hello (default 10)\n"
    "  --unload-after S     unload a document S seconds after its last client (default 30)\n"
    "  --snapshot-every N   ops between stored snapshots (default 200)\n"
    "  --history-window N   ops kept in memory per document (default 4096)\n"
    "  --sync MODE          full (default: durable across power loss) or normal\n"
    "                       (faster; a power loss may lose acknowledged edits)\n"
    "  --wal-prealloc MIB   fill an empty write-ahead log with MIB MiB of zeros\n"
    "                       at start, so commits overwrite instead of growing a\n"
    "                       file (fsyncs 2-3x faster); 0 turns it off (default 64,\n"
    "                       skipped on a file system with little room)\n"
    "  --auth MODE          on (team mode: accounts and roles), off (open: anyone\n"
    "                       who reaches the port may edit), auto (default: on\n"
    "                       unless bound to a loopback address)\n"
    "  --tls-cert FILE      PEM certificate: serve https and wss on the same port\n"
    "  --tls-key FILE       its PEM private key\n"
    "  --log-level L        error, warn, info (default) or debug\n";

static int serve_flag(srv_config *cfg, int opt, const char *arg)
{
    long v;
    switch (opt) {
    case 'b': cfg->bind = arg; return 0;
    case 'p': if (srv_cli_int("--port", arg, 1, 65535, &v)) return -1;
              cfg->port = (int)v; return 0;
    case 'd': cfg->data_dir = arg; return 0;
    case 'w': cfg->web_dir = arg; return 0;
    case 'o':
        if (cfg->norigins == SRV_MAX_ORIGINS) {
            fprintf(stderr, "chorus: at most %d --allow-origin\n", SRV_MAX_ORIGINS);
            return -1;
        }
        cfg->origins[cfg->norigins++] = arg;
        return 0;
    case 'a':
        if (cfg->nhosts == SRV_MAX_HOSTS) {
            fprintf(stderr, "chorus: at most %d --allow-host\n", SRV_MAX_HOSTS);
            return -1;
        }
        if (!arg[0]) {
            fprintf(stderr, "chorus: --allow-host: give a host name, or '*'\n");
            return -1;
        }
        cfg->hosts[cfg->nhosts++] = arg;
        return 0;
    case 'm': if (srv_cli_int("--max-message", arg, 1024, 64L << 20, &v)) return -1;
              cfg->max_message = (size_t)v; return 0;
    case 'x': if (srv_cli_int("--max-doc-chars", arg, 1024, 1L << 30, &v)) return -1;
              cfg->max_doc_chars = (size_t)v; return 0;
    case 'q': if (srv_cli_int("--queue-bytes", arg, 65536, 1L << 30, &v)) return -1;
              cfg->queue_bytes = (size_t)v; return 0;
    case 'r': if (srv_cli_int("--ops-per-sec", arg, 1, 1000000, &v)) return -1;
              cfg->ops_per_sec = (int)v; return 0;
    case 'D': if (srv_cli_int("--docs-per-conn", arg, 1, 10000, &v)) return -1;
              cfg->docs_per_conn = (int)v; return 0;
    case 'c': if (srv_cli_int("--conns-per-ip", arg, 1, 1000000, &v)) return -1;
              cfg->conns_per_ip = (int)v; return 0;
    case 'i': if (srv_cli_int("--idle-timeout", arg, 1, 3600, &v)) return -1;
              cfg->idle_timeout = (int)v; return 0;
    case 'H': if (srv_cli_int("--hello-timeout", arg, 1, 3600, &v)) return -1;
              cfg->hello_timeout = (int)v; return 0;
    case 'u': if (srv_cli_int("--unload-after", arg, 0, 86400, &v)) return -1;
              cfg->unload_after = (int)v; return 0;
    case 's': if (srv_cli_int("--snapshot-every", arg, 1, 1000000, &v)) return -1;
              cfg->snapshot_every = (int)v; return 0;
    case 'W': if (srv_cli_int("--history-window", arg, 16, 10000000, &v)) return -1;
              cfg->history_window = (int)v; return 0;
    case 'S':
        if (strcmp(arg, "full") == 0) cfg->sync_full = 1;
        else if (strcmp(arg, "normal") == 0) cfg->sync_full = 0;
        else {
            fprintf(stderr, "chorus: --sync: '%s' is not full or normal\n", arg);
            return -1;
        }
        return 0;
    case 'P': if (srv_cli_int("--wal-prealloc", arg, 0, 64, &v)) return -1;
              cfg->wal_prealloc_mib = (int)v; return 0;
    case 'A':
        if (strcmp(arg, "on") == 0) cfg->auth = 1;
        else if (strcmp(arg, "off") == 0) cfg->auth = 0;
        else if (strcmp(arg, "auto") == 0) cfg->auth = -1;
        else {
            fprintf(stderr, "chorus: --auth: '%s' is not on, off or auto\n", arg);
            return -1;
        }
        return 0;
    case 'T': cfg->tls_cert = arg; return 0;
    case 'K': cfg->tls_key = arg; return 0;
    case 'L':
        if ((v = srv_log_parse_level(arg)) < 0) {
            fprintf(stderr, "chorus: --log-level: '%s' is not error, warn, info or debug\n", arg);
            return -1;
        }
        srv_log_set_level((int)v);
        return 0;
    }
    return -1;
}

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
    static const struct option opts[] = {
        {"bind", 1, 0, 'b'}, {"port", 1, 0, 'p'}, {"data", 1, 0, 'd'},
        {"web", 1, 0, 'w'}, {"allow-origin", 1, 0, 'o'},
        {"allow-host", 1, 0, 'a'},
        {"max-message", 1, 0, 'm'}, {"queue-bytes", 1, 0, 'q'},
        {"max-doc-chars", 1, 0, 'x'},
        {"ops-per-sec", 1, 0, 'r'}, {"docs-per-conn", 1, 0, 'D'},
        {"conns-per-ip", 1, 0, 'c'}, {"idle-timeout", 1, 0, 'i'},
        {"hello-timeout", 1, 0, 'H'}, {"unload-after", 1, 0, 'u'},
        {"snapshot-every", 1, 0, 's'}, {"history-window", 1, 0, 'W'},
        {"sync", 1, 0, 'S'}, {"wal-prealloc", 1, 0, 'P'}, {"log-level", 1, 0, 'L'}, {"auth", 1, 0, 'A'},
        {"tls-cert", 1, 0, 'T'}, {"tls-key", 1, 0, 'K'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    srv_config cfg;
    int opt, help = 0;
    srv_config_init(&cfg);
    const char *env = getenv("CHORUS_LOG");
    if (env && srv_log_parse_level(env) >= 0)
        srv_log_set_level(srv_log_parse_level(env));
    opterr = 0;
    while (parse_or_help(argc, argv, serve_help, opts, &opt, &help) != -1) {
        if (help) return 0;
        if (opt == '?') {
            fprintf(stderr, "chorus serve: unknown flag or missing value: %s "
                            "(see chorus serve --help)\n", argv[optind - 1]);
            return 2;
        }
        if (serve_flag(&cfg, opt, optarg) < 0) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "chorus serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return srv_run(&cfg);
}

/* ---- backup and check */

static int data_only(int argc, char **argv, const char *help, const char **data,
                     int nargs, const char **args)
{
    static const struct option opts[] = {
        {"data", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
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

static store *open_existing(const char *data)
{
    char path[PATH_MAX], err[512] = "";
    store *s = NULL;
    if (srv_cli_db_path(data, 0, path, sizeof path) < 0) return NULL;
    if (access(path, F_OK) < 0) {
        fprintf(stderr, "chorus: no database at %s\n", path);
        return NULL;
    }
    int rc = store_open(&s, path, NULL, err, sizeof err);
    if (rc < 0) fprintf(stderr, "chorus: %s: %s\n", path, err[0] ? err : store_strerror(rc));
    return s;
}

static int cmd_backup(int argc, char **argv)
{
    const char *data, *file;
    char err[512] = "";
    int rc = data_only(argc, argv,
                       "usage: chorus backup [--data DIR] FILE\n"
                       "  an online, consistent copy of DIR/chorus.db into FILE\n"
                       "  (FILE must not exist); safe while the server runs\n",
                       &data, 1, &file);
    if (rc) return rc > 0 ? 0 : 2;
    store *s = open_existing(data);
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

static int cmd_check(int argc, char **argv)
{
    const char *data;
    int rc = data_only(argc, argv,
                       "usage: chorus check [--data DIR]\n"
                       "  verify DIR/chorus.db: SQLite integrity, and for every\n"
                       "  document that its log is whole and its snapshots equal\n"
                       "  the replay of the log; exit 1 on any problem\n",
                       &data, 0, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    store *s = open_existing(data);
    if (!s) return 1;
    rc = store_check(s, print_line, NULL);
    store_close(s);
    if (rc < 0 && rc != STORE_ECORRUPT)
        fprintf(stderr, "chorus: check failed: %s\n", store_strerror(rc));
    return rc == 0 ? 0 : 1;
}

const srv_command srv_commands[] = {
    {"serve", cmd_serve},
    {"backup", cmd_backup},
    {"check", cmd_check},
    {"export", srv_cli_export},
    {"import", srv_cli_import},
    {"user", srv_cli_user},
    {"token", srv_cli_token},
    {NULL, NULL},
};
