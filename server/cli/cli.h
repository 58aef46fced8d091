/* cli.h -- the subcommands of the chorus binary and the helpers they
 * share: flag parsing and finding the data directory. */
#ifndef CHORUS_SERVER_CLI_H
#define CHORUS_SERVER_CLI_H

#include <stddef.h>

typedef struct srv_command {
    const char *name;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} srv_command;

extern const srv_command srv_commands[];

/* cli_user.c: accounts and API tokens of team mode. */
int srv_cli_user(int argc, char **argv);
int srv_cli_token(int argc, char **argv);

/* cli_history.c: `chorus export` and `chorus import`. */
int srv_cli_export(int argc, char **argv);
int srv_cli_import(int argc, char **argv);

/* Parse a whole decimal number in [lo, hi] into *out. 0, or -1 (and one
 * line on stderr naming 'flag'). */
int srv_cli_int(const char *flag, const char *s, long lo, long hi, long *out);

/* DATA/chorus.db into 'out'. Creates DATA when 'create' (one level, 0750).
 * 0, or -1 with one line on stderr. */
int srv_cli_db_path(const char *data_dir, int create, char *out, size_t len);

#endif
