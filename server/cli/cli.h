/* cli.h -- the cli room: the subcommands of the chorus binary, the flags
 * table of `chorus serve`, srv_run (serve.c, the composition root that
 * wires the other rooms together) and the helpers the subcommands share.
 *
 * The top of the arrows: cli/ may include any room; no room includes cli/
 * (tests and fuzzers aside). Every subcommand returns its exit status: 0
 * done, 1 failed (one line on stderr), 2 bad usage (one line on stderr). */
#ifndef CHORUS_SERVER_CLI_H
#define CHORUS_SERVER_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "server/base/base.h"
#include "storage/store.h"

typedef struct srv_command {
    const char *name;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} srv_command;

extern const srv_command srv_commands[];

/* cli_user.c: accounts and API tokens of team mode. */
int srv_cli_user(int argc, char **argv);
int srv_cli_token(int argc, char **argv);

/* cli_doc.c: `chorus doc list|rm|restore|purge` (the trash). */
int srv_cli_doc(int argc, char **argv);

/* cli_history.c: `chorus export` and `chorus import`. */
int srv_cli_export(int argc, char **argv);
int srv_cli_import(int argc, char **argv);

/* Fill 'cfg' with the defaults of `chorus serve`'s flags (loopback:8080,
 * ./data, 1 MiB messages...): the flags table in flags.c. */
void srv_config_init(srv_config *cfg);
/* flags.c: the flags of `chorus serve`, one table. Parse argv (argv[0] is
 * "serve") into 'cfg' (filled by srv_config_init first; it borrows argv's
 * strings). Returns 0; 1 after writing --help to stdout; -1 after one line
 * on stderr (bad flag or value, unexpected argument). --log-level takes
 * effect at once (the process's log level). */
int srv_cli_serve_flags(srv_config *cfg, int argc, char **argv);
/* The table as `chorus serve --help`, and as README.md's Markdown table. */
void srv_cli_serve_help(FILE *out);
void srv_cli_serve_readme(FILE *out);

/* serve.c: run the server until SIGINT/SIGTERM. Returns 0 after a clean
 * stop (every acknowledged write is on disk), 1 when it could not start
 * (one line on stderr says why). */
int srv_run(const srv_config *cfg);

/* Parse a whole decimal number in [lo, hi] into *out. 0, or -1 (and one
 * line on stderr naming 'flag'). */
int srv_cli_int(const char *flag, const char *s, long lo, long hi, long *out);

/* Open the database DATA/chorus.db (store_open: migrations applied, the
 * default options), the one way every subcommand opens it. With 'create',
 * DATA is made when missing (one level, 0750) and must be writable, and a
 * missing database is created; without it a missing database is an error.
 * When 'path' is not NULL the database's path is copied there (len bytes).
 * Returns the store (the caller closes it), or NULL after one line on
 * stderr. */
store *srv_cli_db_open(const char *data_dir, int create, char *path,
                       size_t len);

#endif
