/* main.c -- the chorus binary's entry point: `chorus <command> [flags]`.
 *
 * It only finds the command by name in srv_commands[] (cli.c: serve,
 * backup, check, export, import, user, token, doc) and answers --version and
 * --help itself. Each command parses its own flags and has --help; a bad
 * flag prints one line on stderr and exits 2, a failure prints one line
 * and exits 1. Linked alone into build/chorus (the Makefile keeps it out
 * of libsrv.a, so tests and fuzzers link the rest without a main). */
#include <stdio.h>
#include <string.h>

#include "server/cli/cli.h"
#include "server/base/base.h"

static const char *usage_text =
    "usage: chorus <command> [flags]\n"
    "\n"
    "commands:\n"
    "  serve     run the server (HTTP, WebSocket, the web editor)\n"
    "  backup    write an online, consistent copy of the database\n"
    "  check     verify the database and every document's history\n"
    "  copy      copy a whole deployment, SQLite <-> PostgreSQL\n"
    "  export    write a document's text or history (txt, md, html, json, git)\n"
    "  import    recreate a document from a json export\n"
    "  user      manage accounts (team mode): add, list, passwd, remove\n"
    "  token     create an API token for a bot (team mode)\n"
    "  doc       list documents; move to the trash, restore, purge\n"
    "\n"
    "  Every command takes --store postgresql://... in place of --data DIR\n"
    "  to work on a PostgreSQL store (docs/cluster.md).\n"
    "\n"
    "  chorus <command> --help   flags of one command\n"
    "  chorus --version\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("%s\n", SRV_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    for (const srv_command *c = srv_commands; c->name; c++)
        if (strcmp(c->name, cmd) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "chorus: unknown command '%s' (see chorus --help)\n", cmd);
    return 2;
}
