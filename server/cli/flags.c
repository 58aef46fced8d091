/* flags.c -- the flags of `chorus serve`, as one table: each row gives the
 * flag's name, its argument, its default (set by srv_config_init and shown
 * to people), its meaning and how it is parsed. The parser, `chorus serve
 * --help` and the flags table of README.md all come from it
 * (tests/test_srv_cli_flags.c compares README.md with the table,
 * tests/integration/test_cli_flags.py README.md with --help).
 *
 * Invariant: srv_config_init applies each row's 'init' through the same
 * setter a flag uses, so a default can never be a value the flag refuses. */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/base/base.h"
#include "server/cli/cli.h"

typedef struct flag flag;
typedef int (*setter)(srv_config *cfg, const flag *f, const char *arg);

struct flag {
    const char *name;   /* without the leading "--" */
    const char *arg;    /* its argument as shown: "N", "full|normal" */
    const char *init;   /* what srv_config_init applies; NULL: nothing */
    const char *shown;  /* the default for people, Markdown */
    const char *help;   /* the meaning, Markdown (backticks only) */
    setter set;
    size_t off;         /* the field of srv_config it sets */
    long lo, hi;        /* range of a number */
};

#define AT(field) offsetof(srv_config, field)

/* ---- setters: 0, or -1 after one line on stderr */

static int set_str(srv_config *cfg, const flag *f, const char *arg)
{
    *(const char **)((char *)cfg + f->off) = arg;
    return 0;
}

/* The number 'arg' within the flag's range into *v: 0, or -1 (said). */
static int number(const flag *f, const char *arg, long *v)
{
    char name[64];
    snprintf(name, sizeof name, "--%s", f->name);
    return srv_cli_int(name, arg, f->lo, f->hi, v);
}

static int set_int(srv_config *cfg, const flag *f, const char *arg)
{
    long v;
    if (number(f, arg, &v) < 0) return -1;
    *(int *)((char *)cfg + f->off) = (int)v;
    return 0;
}

static int set_size(srv_config *cfg, const flag *f, const char *arg)
{
    long v;
    if (number(f, arg, &v) < 0) return -1;
    *(size_t *)((char *)cfg + f->off) = (size_t)v;
    return 0;
}

static int set_origin(srv_config *cfg, const flag *f, const char *arg)
{
    (void)f;
    if (cfg->norigins == SRV_MAX_ORIGINS) {
        fprintf(stderr, "chorus: at most %d --allow-origin\n", SRV_MAX_ORIGINS);
        return -1;
    }
    cfg->origins[cfg->norigins++] = arg;
    return 0;
}

static int set_host(srv_config *cfg, const flag *f, const char *arg)
{
    (void)f;
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
}

static int set_sync(srv_config *cfg, const flag *f, const char *arg)
{
    (void)f;
    if (strcmp(arg, "full") == 0) cfg->sync_full = 1;
    else if (strcmp(arg, "normal") == 0) cfg->sync_full = 0;
    else {
        fprintf(stderr, "chorus: --sync: '%s' is not full or normal\n", arg);
        return -1;
    }
    return 0;
}

static int set_auth(srv_config *cfg, const flag *f, const char *arg)
{
    (void)f;
    if (strcmp(arg, "on") == 0) cfg->auth = 1;
    else if (strcmp(arg, "off") == 0) cfg->auth = 0;
    else if (strcmp(arg, "auto") == 0) cfg->auth = -1;
    else {
        fprintf(stderr, "chorus: --auth: '%s' is not on, off or auto\n", arg);
        return -1;
    }
    return 0;
}

/* The log level is the process's, not the config's: set at once. */
static int set_log(srv_config *cfg, const flag *f, const char *arg)
{
    (void)cfg, (void)f;
    int v = srv_log_parse_level(arg);
    if (v < 0) {
        fprintf(stderr, "chorus: --log-level: '%s' is not error, warn, info "
                        "or debug\n", arg);
        return -1;
    }
    srv_log_set_level(v);
    return 0;
}

/* ---- the table */

static const flag flags[] = {
    {"bind", "ADDR", "127.0.0.1", "`127.0.0.1`", "address to listen on",
     set_str, AT(bind), 0, 0},
    {"port", "N", "8080", "`8080`", "port for HTTP and WebSocket",
     set_int, AT(port), 1, 65535},
    {"data", "DIR", "./data", "`./data`",
     "data directory; the database is `DIR/chorus.db`",
     set_str, AT(data_dir), 0, 0},
    {"store", "URL", NULL, "none (SQLite in `--data`)",
     "a PostgreSQL database holding the whole state instead: "
     "`postgresql://USER@HOST:PORT/DB` (docs/cluster.md)",
     set_str, AT(store_url), 0, 0},
    {"web", "DIR", NULL, "beside the binary",
     "web files (`../web` from `build/chorus`, `../share/chorus/web` when "
     "installed)", set_str, AT(web_dir), 0, 0},
    {"allow-origin", "O", NULL, "the server's own origin",
     "allowed browser `Origin` for the WebSocket and for requests that "
     "change anything, repeatable; `*` allows any", set_origin, 0, 0, 0},
    {"allow-host", "NAME", NULL,
     "bind address, `localhost`, `127.0.0.1`, `::1`, hosts of "
     "`--allow-origin`; any IP when bound to `0.0.0.0`/`::`",
     "more `Host` names to answer (others get `421`: no DNS rebinding), "
     "repeatable; `*` turns the check off", set_host, 0, 0, 0},
    {"max-message", "BYTES", "1048576", "1048576", "largest client message",
     set_size, AT(max_message), 1024, 64L << 20},
    {"max-doc-chars", "N", "4194304", "4194304",
     "largest document, in code points: an op that would grow one past it "
     "is refused (`too_large`); ops that do not grow it always pass",
     set_size, AT(max_doc_chars), 1024, 1L << 30},
    {"queue-bytes", "BYTES", "8388608", "8388608",
     "per-connection send queue; a client that falls further behind is "
     "closed (1008)", set_size, AT(queue_bytes), 65536, 1L << 30},
    {"ops-per-sec", "N", "500", "500",
     "ops per second per connection (burst 2N)",
     set_int, AT(ops_per_sec), 1, 1000000},
    {"docs-per-conn", "N", "32", "32", "documents one connection may join",
     set_int, AT(docs_per_conn), 1, 10000},
    {"conns-per-ip", "N", "4096", "4096",
     "open WebSockets per client address",
     set_int, AT(conns_per_ip), 1, 1000000},
    {"idle-timeout", "S", "30", "30",
     "ping after S idle seconds; hang up after 2S+5",
     set_int, AT(idle_timeout), 1, 3600},
    {"hello-timeout", "S", "10", "10",
     "seconds a new connection has to say hello",
     set_int, AT(hello_timeout), 1, 3600},
    {"unload-after", "S", "30", "30",
     "unload a document from memory S seconds after its last client leaves",
     set_int, AT(unload_after), 0, 86400},
    {"trash-days", "N", "30", "30",
     "purge a document N days after it was moved to the trash (checked at "
     "start and hourly); 0 keeps the trash until it is emptied by hand",
     set_int, AT(trash_days), 0, 36500},
    {"snapshot-every", "N", "200", "200", "ops between stored snapshots",
     set_int, AT(snapshot_every), 1, 1000000},
    {"history-window", "N", "4096", "4096",
     "ops kept in memory per open document for transforms",
     set_int, AT(history_window), 16, 10000000},
    {"sync", "full|normal", "full", "`full`",
     "`full`: durable across power loss. `normal`: faster, but a power loss "
     "(not a crash) may lose edits that were already acknowledged",
     set_sync, 0, 0, 0},
    {"wal-prealloc", "MIB", "64", "64",
     "fill an empty write-ahead log with zeros at start so commits "
     "overwrite instead of growing a file (fsyncs 2-3x faster on ext4); 0 "
     "turns it off; skipped on a nearly full disk",
     set_int, AT(wal_prealloc_mib), 0, 64},
    {"auth", "on|off|auto", "auto", "`auto`",
     "team mode (accounts, roles, share links). `auto`: on unless bound to "
     "a loopback address, so a server exposed on a network is never open "
     "by accident", set_auth, 0, 0, 0},
    {"tls-cert", "FILE", NULL, "none",
     "PEM certificate: serve https and wss on the same port (with "
     "`--tls-key`)", set_str, AT(tls_cert), 0, 0},
    {"tls-key", "FILE", NULL, "none", "the PEM private key of `--tls-cert`",
     set_str, AT(tls_key), 0, 0},
    {"bus", "URL", NULL, "none",
     "cluster mode: Redis pub/sub between the nodes that share one store, "
     "`redis://host:port` (docs/cluster.md)", set_str, AT(bus_url), 0, 0},
    {"log-level", "L", NULL, "`info`",
     "`error`, `warn`, `info` or `debug` (also `CHORUS_LOG`)",
     set_log, 0, 0, 0},
};

#define NFLAGS (sizeof flags / sizeof flags[0])

void srv_config_init(srv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].init && flags[i].set(cfg, &flags[i], flags[i].init) < 0)
            abort(); /* a default the flag refuses: a bug in the table */
}

/* ---- parsing */

enum { OPT_HELP = 'h', OPT_FIRST = 256 };

int srv_cli_serve_flags(srv_config *cfg, int argc, char **argv)
{
    struct option opts[NFLAGS + 2];
    int opt;
    for (size_t i = 0; i < NFLAGS; i++)
        opts[i] = (struct option){flags[i].name, 1, NULL, OPT_FIRST + (int)i};
    opts[NFLAGS] = (struct option){"help", 0, NULL, OPT_HELP};
    opts[NFLAGS + 1] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            srv_cli_serve_help(stdout);
            return 1;
        }
        if (opt < OPT_FIRST) {
            fprintf(stderr, "chorus serve: unknown flag or missing value: %s "
                            "(see chorus serve --help)\n", argv[optind - 1]);
            return -1;
        }
        const flag *f = &flags[opt - OPT_FIRST];
        if (f->set(cfg, f, optarg) < 0) return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "chorus serve: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* ---- writing the table out */

/* In help text, a space that does not break a line. */
#define NBSP '\x01'

/* 's' without Markdown: backticks dropped, NBSP a space. */
static void put_plain(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '`') fputc(s[i] == NBSP ? ' ' : s[i], out);
}

#define HELP_COL 23
#define HELP_WIDTH 79

/* 'text' from column HELP_COL, wrapped at HELP_WIDTH, continuation lines
 * at HELP_COL too. */
static void put_wrapped(FILE *out, const char *text)
{
    int col = HELP_COL;
    for (const char *p = text; *p;) {
        size_t w = strcspn(p, " ");
        int plain = 0;
        for (size_t i = 0; i < w; i++) plain += p[i] != '`';
        if (p != text && col + 1 + plain > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_COL, "");
            col = HELP_COL;
        } else if (p != text) {
            fputc(' ', out);
            col++;
        }
        put_plain(out, p, w);
        col += plain;
        p += w;
        while (*p == ' ') p++;
    }
    fputc('\n', out);
}

void srv_cli_serve_help(FILE *out)
{
    char text[1024], head[64];
    fputs("usage: chorus serve [flags]\n\n", out);
    for (size_t i = 0; i < NFLAGS; i++) {
        const flag *f = &flags[i];
        int n = snprintf(head, sizeof head, "  --%s %s", f->name, f->arg);
        fputs(head, out);
        if (n >= HELP_COL - 1) fprintf(out, "\n%*s", HELP_COL, "");
        else fprintf(out, "%*s", HELP_COL - n, "");
        snprintf(text, sizeof text, "%s (default:%c%s)", f->help, NBSP, f->shown);
        put_wrapped(out, text);
    }
}

/* A table cell: '|' escaped. */
static void put_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', out);
        fputc(*s, out);
    }
}

void srv_cli_serve_readme(FILE *out)
{
    fputs("| flag | default | meaning |\n|---|---|---|\n", out);
    for (size_t i = 0; i < NFLAGS; i++) {
        fprintf(out, "| `--%s ", flags[i].name);
        put_cell(out, flags[i].arg);
        fputs("` | ", out);
        put_cell(out, flags[i].shown);
        fputs(" | ", out);
        put_cell(out, flags[i].help);
        fputs(" |\n", out);
    }
}
