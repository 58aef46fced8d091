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

#include "server/cli/cli.h"
#include "server/api/api.h"
#include "server/collab/collab.h"
#include "server/history/history.h"

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
    store *s = srv_cli_db_open(data, 0, NULL, 0);
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
        {"data", 1, 0, 'd'}, {"store", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
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

/* ---- import
 *
 * The file is read whole (its bytes), but parsed one op at a time: the top
 * level is scanned here and each member value, each op of "ops", decoded
 * alone by jansson (JSON_DISABLE_EOF_CHECK reports how far it read). What
 * is kept per op is its record and its strings in one arena, about 100
 * bytes, instead of a tree of JSON values for the whole history. */

typedef struct import {
    json_t *top;           /* top-level members other than "ops" */
    int seen_ops;
    store_oprec *recs;     /* strings filled in from the arena at the end */
    size_t *offs;          /* op i: wire, user, client at arena + offs[i] */
    size_t n, cap;
    char *arena;
    size_t alen, acap;
    ot_doc *text;          /* the replay so far */
    const char *id, *title, *creator;
    int64_t created;
    char err[512];
} import;

static int fail(import *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(import *im, const char *fmt, ...)
{
    va_list ap;
    if (im->err[0]) return -1; /* keep the first reason */
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

/* Copy s and its NUL into the arena. 0 or -1. */
static int arena_add(import *im, const char *s)
{
    size_t n = strlen(s) + 1;
    if (im->alen + n > im->acap) {
        size_t cap = im->acap ? im->acap * 2 : 1 << 16;
        while (cap < im->alen + n) cap *= 2;
        char *a = realloc(im->arena, cap);
        if (!a) return -1;
        im->arena = a;
        im->acap = cap;
    }
    memcpy(im->arena + im->alen, s, n);
    im->alen += n;
    return 0;
}

static int keep_op(import *im, store_oprec *r, const char *wire,
                   const char *user, const char *client)
{
    if (im->n == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 1024;
        store_oprec *recs = realloc(im->recs, cap * sizeof *recs);
        if (recs) im->recs = recs;
        size_t *offs = recs ? realloc(im->offs, cap * sizeof *offs) : NULL;
        if (!offs) return fail(im, "out of memory");
        im->offs = offs;
        im->cap = cap;
    }
    im->offs[im->n] = im->alen;
    if (arena_add(im, wire) || arena_add(im, user) || arena_add(im, client))
        return fail(im, "out of memory");
    im->recs[im->n++] = *r;
    return 0;
}

/* One op of the file (the next version): checked, applied to the replay,
 * kept. */
static int import_op(import *im, const json_t *o)
{
    size_t i = im->n;
    store_oprec r;
    json_t *user = json_object_get(o, "user");
    json_t *client = json_object_get(o, "client");
    ot_op *op = NULL;
    int rc;
    memset(&r, 0, sizeof r);
    if (!json_is_object(o)) return fail(im, "ops[%zu] is not an object", i);
    if (!int_field(o, "version", &r.version) || r.version != (int64_t)i + 1)
        return fail(im, "ops[%zu]: version must be %zu (versions are 1..N "
                        "in order)", i, i + 1);
    if (!text_field(user, 64, 1) || json_string_length(user) > 64)
        return fail(im, "op %zu: user must be a string of at most 64 bytes",
                    i + 1);
    if (!json_is_string(client) || !valid_client(json_string_value(client)))
        return fail(im, "op %zu: client must be 1-64 of A-Za-z0-9_.-:@", i + 1);
    if (!int_field(o, "seq", &r.seq) || !int_field(o, "time", &r.time_ms))
        return fail(im, "op %zu: seq and time must be integers >= 0", i + 1);
    if ((rc = ot_op_from_json(&op, json_object_get(o, "op"))) < 0)
        return fail(im, "op %zu: bad op: %s", i + 1, ot_strerror(rc));
    if ((rc = ot_doc_apply(im->text, op)) < 0) {
        ot_op_free(op);
        return fail(im, "op %zu does not apply to the text before it: %s",
                    i + 1, ot_strerror(rc));
    }
    char *wire = ot_op_dumps(op);
    ot_op_free(op);
    rc = wire ? keep_op(im, &r, wire, json_string_value(user),
                        json_string_value(client))
              : fail(im, "out of memory");
    free(wire);
    return rc;
}

/* ---- scanning the top level */

typedef struct scan {
    const char *p;
    size_t len, pos;
} scan;

static char peek(scan *s)
{
    while (s->pos < s->len && strchr(" \t\r\n", s->p[s->pos]) && s->p[s->pos])
        s->pos++;
    return s->pos < s->len ? s->p[s->pos] : 0;
}

static int expect(import *im, scan *s, const char *chars)
{
    char c = peek(s);
    if (c && strchr(chars, c)) {
        s->pos++;
        return c;
    }
    return fail(im, "bad JSON at byte %zu: expected %s", s->pos,
                chars[1] ? "',' or a closing bracket" : chars);
}

static json_t *value(import *im, scan *s)
{
    json_error_t e;
    peek(s);
    json_t *v = json_loadb(s->p + s->pos, s->len - s->pos,
                           JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK |
                               JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!v) {
        fail(im, "bad JSON at byte %zu: %s", s->pos + (size_t)e.position, e.text);
        return NULL;
    }
    s->pos += (size_t)e.position;
    return v;
}

static int scan_ops(import *im, scan *s)
{
    if (im->seen_ops++) return fail(im, "\"ops\" appears twice");
    if (expect(im, s, "[") < 0) return -1;
    if (peek(s) == ']') {
        s->pos++;
        return 0;
    }
    for (;;) {
        json_t *o = value(im, s);
        int rc = o ? import_op(im, o) : -1;
        json_decref(o);
        if (rc < 0) return -1;
        if ((rc = expect(im, s, ",]")) < 0) return -1;
        if (rc == ']') return 0;
    }
}

static int scan_member(import *im, scan *s)
{
    json_t *k = value(im, s), *v;
    int rc = -1;
    if (!k) return -1;
    const char *key = json_string_value(k);
    if (!key) rc = fail(im, "bad JSON at byte %zu: a key must be a string", s->pos);
    else if (expect(im, s, ":") < 0) rc = -1;
    else if (strcmp(key, "ops") == 0) rc = scan_ops(im, s);
    else if (json_object_get(im->top, key))
        rc = fail(im, "bad JSON: key \"%s\" appears twice", key);
    else if ((v = value(im, s)) != NULL) {
        rc = json_object_set_new(im->top, key, v) ? fail(im, "out of memory") : 0;
        if (rc == 0 && strcmp(key, "format") == 0 &&
            (!json_is_string(v) || strcmp(json_string_value(v), "chorus-history")))
            rc = fail(im, "not a chorus history (\"format\" must be "
                          "\"chorus-history\")");
    }
    json_decref(k);
    return rc;
}

static int scan_file(import *im, const char *buf, size_t len)
{
    scan s = {buf, len, 0};
    int rc;
    if (peek(&s) != '{') return fail(im, "not a JSON object");
    s.pos++;
    if (peek(&s) == '}') s.pos++;
    else
        do {
            if (scan_member(im, &s) < 0 || (rc = expect(im, &s, ",}")) < 0)
                return -1;
        } while (rc == ',');
    if (peek(&s)) return fail(im, "bad JSON at byte %zu: data after the end", s.pos);
    return 0;
}

static int import_doc(import *im, const char *as)
{
    json_t *d = json_object_get(im->top, "doc"), *v;
    json_t *fv = json_object_get(im->top, "format_version");
    v = json_object_get(im->top, "format");
    if (!json_is_string(v) || strcmp(json_string_value(v), "chorus-history"))
        return fail(im, "not a chorus history (\"format\" must be "
                        "\"chorus-history\")");
    if (!json_is_integer(fv) || json_integer_value(fv) != 1)
        return fail(im, "unsupported format_version (this chorus reads 1)");
    if (!json_is_object(d)) return fail(im, "\"doc\" must be an object");
    if (!im->seen_ops) return fail(im, "\"ops\" must be an array");
    v = json_object_get(d, "id");
    im->id = as ? as : json_string_value(v);
    if (!im->id || !srv_valid_doc_id(im->id))
        return fail(im, "bad document id: 1-64 of A-Za-z0-9_.- not starting "
                        "with '.'");
    v = json_object_get(d, "title");
    const char *why = v ? srv_title_problem(v) : NULL; /* the API's check */
    if (why) return fail(im, "doc %s", why);
    im->title = v ? json_string_value(v) : "";
    v = json_object_get(d, "creator");
    if (v && !text_field(v, 64, 1))
        return fail(im, "doc creator must be a string of at most 64 characters");
    im->creator = v ? json_string_value(v) : "";
    if (!int_field(d, "created", &im->created))
        return fail(im, "doc created must be an integer >= 0 (ms)");
    int64_t version;
    if (!int_field(d, "version", &version) || version != (int64_t)im->n)
        return fail(im, "doc version must equal the number of ops (%zu)", im->n);
    return 0;
}

static int check_text(import *im)
{
    json_t *want = json_object_get(im->top, "text");
    size_t bytes = 0;
    if (!want) return 0;
    if (!json_is_string(want)) return fail(im, "\"text\" must be a string");
    char *t = ot_doc_text(im->text, &bytes);
    int rc = 0;
    if (!t) rc = fail(im, "out of memory");
    else if (bytes != json_string_length(want) ||
             memcmp(t, json_string_value(want), bytes) != 0)
        rc = fail(im, "the ops do not replay to the \"text\" of the file");
    free(t);
    return rc;
}

static int import_write(import *im, store *s)
{
    store_docinfo d;
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i < im->n; i++) {
        store_oprec *r = &im->recs[i];
        r->doc = im->id;
        r->op = im->arena + im->offs[i];
        r->user = r->op + strlen(r->op) + 1;
        r->client = r->user + strlen(r->user) + 1;
    }
    int rc = store_doc_get(s, im->id, &d);
    store_docinfo_clear(&d);
    if (rc == 0)
        return fail(im, "document '%s' exists; import never overwrites "
                        "(choose another id with --as)", im->id);
    if (rc != STORE_ENOTFOUND) return fail(im, "%s", store_strerror(rc));
    /* one transaction: a crash leaves the whole document or nothing */
    rc = store_doc_create_with(s, im->id, im->title, im->creator, im->created, 0,
                               im->recs, im->n);
    if (rc == STORE_EEXIST)
        return fail(im, "document '%s' exists; import never overwrites", im->id);
    if (rc < 0) {
        if (rc == STORE_EDUP)
            return fail(im, "a client's seqs must grow from op to op (two ops"
                            " share one, or a later one is lower): nothing"
                            " imported");
        return fail(im, "writing the ops failed: %s: nothing imported",
                    store_strerror(rc));
    }
    return 0;
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    *len = n;
    return buf;
}

static int import_run(const char *file, const char *as, const char *data)
{
    import im;
    memset(&im, 0, sizeof im);
    int rc = -1, std = strcmp(file, "-") == 0;
    size_t len = 0;
    store *s = NULL;
    FILE *f = std ? stdin : fopen(file, "rb");
    char *buf = f ? read_all(f, &len) : NULL;
    if (f && !std) fclose(f);
    im.top = json_object();
    im.text = ot_doc_new(NULL, 0);
    if (!buf) fail(&im, "cannot read: %m");
    else if (!im.top || !im.text) fail(&im, "out of memory");
    else if (scan_file(&im, buf, len) == 0 && import_doc(&im, as) == 0 &&
             check_text(&im) == 0 && (s = srv_cli_db_open(data, 1, NULL, 0)) != NULL)
        rc = import_write(&im, s);
    if (rc == 0)
        printf("imported %s: %zu ops, version %zu\n", im.id, im.n, im.n);
    else if (im.err[0])
        fprintf(stderr, "chorus import: %s: %s\n", file, im.err);
    store_close(s);
    free(buf);
    free(im.recs);
    free(im.offs);
    free(im.arena);
    ot_doc_free(im.text);
    json_decref(im.top);
    return rc == 0 ? 0 : 1;
}

int srv_cli_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"as", 1, 0, 'a'}, {"data", 1, 0, 'd'}, {"store", 1, 0, 'd'}, {"help", 0, 0, 'h'},
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
