/* cli_history.c -- `chorus export` (a document as txt, md, html, json or a
 * git fast-import stream) and `chorus import` (the json format back into a
 * database).
 *
 * Import validates the whole file before it writes anything: JSON syntax,
 * the format tag, every field, versions 1..N in order, every op applying to
 * the replay, and the final text when the file gives it. It then creates
 * the document and appends every op in one transaction; if that fails the
 * document is deleted again, so a failed import leaves nothing behind. */
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/cli.h"
#include "server/core.h"
#include "server/export.h"

static const char export_help[] =
    "usage: chorus export DOC [--format F] [--version N] [-o FILE] [--data DIR]\n"
    "  write document DOC (at version N, default the current one) as\n"
    "  F = txt (default), md, html, json (the whole history, readable by\n"
    "  chorus import) or git (a git fast-import stream: one commit per edit\n"
    "  session). Output to FILE, default standard output.\n";

static const char import_help[] =
    "usage: chorus import FILE [--as DOC] [--data DIR]\n"
    "  recreate a document from a json export (FILE '-' reads standard\n"
    "  input), with the same versions, ops, users, clients, seqs and times;\n"
    "  as DOC instead of the id in the file with --as. Refuses to overwrite\n"
    "  an existing document. Nothing is written when the file is invalid.\n";

static store *open_db(const char *data, int create)
{
    char path[PATH_MAX], err[512] = "";
    store *s = NULL;
    if (srv_cli_db_path(data, create, path, sizeof path) < 0) return NULL;
    if (!create && access(path, F_OK) < 0) {
        fprintf(stderr, "chorus: no database at %s\n", path);
        return NULL;
    }
    int rc = store_open(&s, path, NULL, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "chorus: %s: %s\n", path, err[0] ? err : store_strerror(rc));
    return s;
}

static int export_error(const char *doc, int64_t version, int rc)
{
    if (rc == STORE_ENOTFOUND)
        fprintf(stderr, "chorus: no document '%s'\n", doc);
    else if (rc == STORE_ERANGE)
        fprintf(stderr, "chorus: document '%s' has no version %" PRId64 "\n",
                doc, version);
    else
        fprintf(stderr, "chorus: export of '%s' failed: %s\n", doc,
                store_strerror(rc));
    return 1;
}

static int export_run(const char *data, const char *doc, int fmt,
                      int64_t version, const char *file)
{
    store *s = open_db(data, 0);
    if (!s) return 1;
    FILE *out = file ? fopen(file, "wb") : stdout;
    if (!out) {
        fprintf(stderr, "chorus: cannot write %s: %m\n", file);
        store_close(s);
        return 1;
    }
    static char vbuf[1 << 16];
    setvbuf(out, vbuf, _IOFBF, sizeof vbuf);
    int rc = srv_export_write(s, doc, version, (srv_export_format)fmt, out);
    store_close(s);
    if (file && fclose(out) != 0 && rc == 0) rc = STORE_EIO;
    if (rc < 0) {
        if (file) unlink(file);
        return export_error(doc, version, rc);
    }
    return 0;
}

int srv_cli_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", 1, 0, 'f'}, {"version", 1, 0, 'v'}, {"output", 1, 0, 'o'},
        {"data", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *data = "./data", *file = NULL, *fname = "txt";
    int64_t version = -1;
    long v;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (opt) {
        case 'h': fputs(export_help, stdout); return 0;
        case 'f': fname = optarg; break;
        case 'o': file = optarg; break;
        case 'd': data = optarg; break;
        case 'v':
            if (srv_cli_int("--version", optarg, 0, LONG_MAX, &v)) return 2;
            version = v;
            break;
        default:
            fprintf(stderr, "chorus export: unknown flag or missing value: %s "
                            "(see chorus export --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    int fmt = srv_export_format_parse(fname);
    if (fmt < 0) {
        fprintf(stderr, "chorus export: --format: '%s' is not txt, md, html, "
                        "json or git\n", fname);
        return 2;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "chorus export: one document id expected (see chorus "
                        "export --help)\n");
        return 2;
    }
    const char *doc = argv[optind];
    if (!srv_valid_doc_id(doc)) {
        fprintf(stderr, "chorus export: bad document id '%s'\n", doc);
        return 2;
    }
    return export_run(data, doc, fmt, version, file);
}

/* ---- import */

typedef struct import {
    const char *id;
    const char *title, *creator;
    int64_t created;
    store_oprec *recs;
    char **wires;
    size_t n;
    char err[512];
} import;

static int fail(import *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(import *im, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->err, sizeof im->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int text_field(const json_t *v, size_t max_cp, int allow_empty)
{
    size_t cps = 0;
    if (!json_is_string(v)) return 0;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return ot_utf8_validate(s, n, &cps) == 0 && !memchr(s, 0, n) &&
           cps <= max_cp && (allow_empty || n > 0);
}

static int valid_client(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_.-:@", s[i]))
            return 0;
    return 1;
}

static int int_field(const json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = json_integer_value(v);
    return 1;
}

/* One op of the file: checked, applied to 'text', kept in im->recs[i]. */
static int import_op(import *im, const json_t *o, size_t i, ot_doc *text)
{
    store_oprec *r = &im->recs[i];
    json_t *user = json_object_get(o, "user");
    json_t *client = json_object_get(o, "client");
    ot_op *op = NULL;
    int rc;
    if (!json_is_object(o)) return fail(im, "ops[%zu] is not an object", i);
    if (!int_field(o, "version", &r->version) || r->version != (int64_t)i + 1)
        return fail(im, "ops[%zu]: version must be %zu (versions are 1..N "
                        "in order)", i, i + 1);
    if (!text_field(user, 64, 1) || json_string_length(user) > 64)
        return fail(im, "op %zu: user must be a string of at most 64 bytes",
                    i + 1);
    if (!json_is_string(client) || !valid_client(json_string_value(client)))
        return fail(im, "op %zu: client must be 1-64 of A-Za-z0-9_.-:@", i + 1);
    if (!int_field(o, "seq", &r->seq) || !int_field(o, "time", &r->time_ms))
        return fail(im, "op %zu: seq and time must be integers >= 0", i + 1);
    if ((rc = ot_op_from_json(&op, json_object_get(o, "op"))) < 0)
        return fail(im, "op %zu: bad op: %s", i + 1, ot_strerror(rc));
    if ((rc = ot_doc_apply(text, op)) < 0) {
        ot_op_free(op);
        return fail(im, "op %zu does not apply to the text before it: %s",
                    i + 1, ot_strerror(rc));
    }
    im->wires[i] = ot_op_dumps(op);
    ot_op_free(op);
    if (!im->wires[i]) return fail(im, "out of memory");
    r->op = im->wires[i];
    r->user = json_string_value(user);
    r->client = json_string_value(client);
    r->doc = im->id;
    return 0;
}

static int import_doc(import *im, const json_t *root, const char *as)
{
    json_t *d = json_object_get(root, "doc"), *v;
    json_t *fv = json_object_get(root, "format_version");
    if (!json_is_object(root)) return fail(im, "not a JSON object");
    v = json_object_get(root, "format");
    if (!json_is_string(v) || strcmp(json_string_value(v), "chorus-history"))
        return fail(im, "not a chorus history (\"format\" must be "
                        "\"chorus-history\")");
    if (!json_is_integer(fv) || json_integer_value(fv) != 1)
        return fail(im, "unsupported format_version (this chorus reads 1)");
    if (!json_is_object(d)) return fail(im, "\"doc\" must be an object");
    v = json_object_get(d, "id");
    im->id = as ? as : json_string_value(v);
    if (!im->id || !srv_valid_doc_id(im->id))
        return fail(im, "bad document id: 1-64 of A-Za-z0-9_.- not starting "
                        "with '.'");
    v = json_object_get(d, "title");
    if (v && !text_field(v, 200, 1))
        return fail(im, "doc title must be a string of at most 200 characters");
    im->title = v ? json_string_value(v) : "";
    v = json_object_get(d, "creator");
    if (v && !text_field(v, 64, 1))
        return fail(im, "doc creator must be a string of at most 64 characters");
    im->creator = v ? json_string_value(v) : "";
    if (!int_field(d, "created", &im->created))
        return fail(im, "doc created must be an integer >= 0 (ms)");
    return 0;
}

static int import_ops(import *im, const json_t *root)
{
    json_t *ops = json_object_get(root, "ops");
    json_t *d = json_object_get(root, "doc"), *want = json_object_get(root, "text");
    int64_t version;
    if (!json_is_array(ops)) return fail(im, "\"ops\" must be an array");
    im->n = json_array_size(ops);
    if (!int_field(d, "version", &version) || version != (int64_t)im->n)
        return fail(im, "doc version must equal the number of ops (%zu)", im->n);
    if (want && !json_is_string(want))
        return fail(im, "\"text\" must be a string");
    im->recs = calloc(im->n + 1, sizeof *im->recs);
    im->wires = calloc(im->n + 1, sizeof *im->wires);
    ot_doc *text = ot_doc_new(NULL, 0);
    int rc = im->recs && im->wires && text ? 0 : fail(im, "out of memory");
    for (size_t i = 0; rc == 0 && i < im->n; i++)
        rc = import_op(im, json_array_get(ops, i), i, text);
    if (rc == 0 && want) {
        size_t bytes = 0;
        char *t = ot_doc_text(text, &bytes);
        if (!t) rc = fail(im, "out of memory");
        else if (bytes != json_string_length(want) ||
                 memcmp(t, json_string_value(want), bytes) != 0)
            rc = fail(im, "the ops do not replay to the \"text\" of the file");
        free(t);
    }
    ot_doc_free(text);
    return rc;
}

static int import_write(import *im, store *s)
{
    store_docinfo d;
    memset(&d, 0, sizeof d);
    int rc = store_doc_get(s, im->id, &d);
    store_docinfo_clear(&d);
    if (rc == 0)
        return fail(im, "document '%s' exists; import never overwrites "
                        "(choose another id with --as)", im->id);
    if (rc != STORE_ENOTFOUND) return fail(im, "%s", store_strerror(rc));
    rc = store_doc_create(s, im->id, im->title, im->creator, im->created);
    if (rc == STORE_EEXIST)
        return fail(im, "document '%s' exists; import never overwrites", im->id);
    if (rc < 0) return fail(im, "cannot create '%s': %s", im->id, store_strerror(rc));
    if ((rc = store_append(s, im->recs, im->n)) < 0) {
        store_doc_delete(s, im->id);
        if (rc == STORE_EDUP)
            return fail(im, "two ops share one (client, seq): nothing imported");
        return fail(im, "writing the ops failed: %s: nothing imported",
                    store_strerror(rc));
    }
    return 0;
}

static void import_free(import *im)
{
    for (size_t i = 0; im->wires && i < im->n; i++) free(im->wires[i]);
    free(im->wires);
    free(im->recs);
}

static int import_run(const char *file, const char *as, const char *data)
{
    import im;
    json_error_t jerr;
    memset(&im, 0, sizeof im);
    size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    json_t *root = strcmp(file, "-") == 0 ? json_loadf(stdin, flags, &jerr)
                                          : json_load_file(file, flags, &jerr);
    int rc = -1;
    store *s = NULL;
    if (!root)
        snprintf(im.err, sizeof im.err, "bad JSON at line %d: %s", jerr.line,
                 jerr.text);
    else if (import_doc(&im, root, as) == 0 && import_ops(&im, root) == 0 &&
             (s = open_db(data, 1)) != NULL)
        rc = import_write(&im, s);
    if (rc == 0)
        printf("imported %s: %zu ops, version %zu\n", im.id, im.n, im.n);
    else if (im.err[0])
        fprintf(stderr, "chorus import: %s: %s\n", file, im.err);
    store_close(s);
    import_free(&im);
    json_decref(root);
    return rc == 0 ? 0 : 1;
}

int srv_cli_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"as", 1, 0, 'a'}, {"data", 1, 0, 'd'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    const char *data = "./data", *as = NULL;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(import_help, stdout);
            return 0;
        }
        if (opt == 'a') as = optarg;
        else if (opt == 'd') data = optarg;
        else {
            fprintf(stderr, "chorus import: unknown flag or missing value: %s "
                            "(see chorus import --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "chorus import: one FILE expected (see chorus import "
                        "--help)\n");
        return 2;
    }
    if (as && !srv_valid_doc_id(as)) {
        fprintf(stderr, "chorus import: --as: bad document id '%s'\n", as);
        return 2;
    }
    return import_run(argv[optind], as, data);
}
