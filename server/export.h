/* export.h -- a document written out as txt, md, html, json (its whole
 * history, see docs/history.md) or a git fast-import stream, to a FILE*.
 * Shared by `chorus export` and GET /api/docs/D/export.
 *
 * Every exporter streams: ops are read a page at a time and replayed into
 * one ot_doc, so memory grows with the text, never with the history. */
#ifndef CHORUS_SERVER_EXPORT_H
#define CHORUS_SERVER_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "storage/store.h"

typedef enum srv_export_format {
    SRV_EXPORT_TXT = 0,
    SRV_EXPORT_MD,
    SRV_EXPORT_HTML,
    SRV_EXPORT_JSON,
    SRV_EXPORT_GIT
} srv_export_format;

/* The format named 'name' ("txt", "md", "html", "json", "git"), or -1. */
int srv_export_format_parse(const char *name);
/* Its Content-Type and file name extension (static strings). */
const char *srv_export_ctype(srv_export_format f);
const char *srv_export_ext(srv_export_format f);

/* Write 'doc' at 'version' (< 0: the current one) in format 'f' to 'out'.
 * Returns 0; STORE_ENOTFOUND (no such doc), STORE_ERANGE (no such
 * version), STORE_ECORRUPT (the stored log does not replay), STORE_ENOMEM,
 * STORE_EIO (writing to 'out' failed), or another read error. On error
 * part of the output may have been written. 'st' is used only during the
 * call. */
int srv_export_write(store *st, const char *doc, int64_t version,
                     srv_export_format f, FILE *out);

/* The git ident of a user name: 'name' (any UTF-8) with <, >, newlines and
 * control characters made spaces, spaces collapsed and trimmed ("anonymous"
 * if nothing is left), into 'out' (NUL-terminated, truncated to fit). */
void srv_export_git_name(const char *name, char *out, size_t outlen);
/* Its e-mail: the name's ASCII letters and digits lowercased, . - _ kept,
 * spaces as '-', the rest dropped ("user" if nothing is left), then
 * "@chorus.invalid". */
void srv_export_git_email(const char *name, char *out, size_t outlen);

/* The `chorus export` and `chorus import` subcommands (cli_history.c), for
 * srv_commands[]: argv[0] is the command name; they return the exit status
 * (0 done, 1 failed with one line on stderr, 2 bad usage). */
int srv_cli_export(int argc, char **argv);
int srv_cli_import(int argc, char **argv);

#endif
