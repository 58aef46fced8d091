/* fuzz_http.c -- the HTTP side without a network: static path resolution
 * (srv__static_resolve, srv__mime_type), query arguments (srv_http_arg) and
 * the API's whole route table (srv__api_dispatch: /api/docs..., /history,
 * /sessions, /export, /restore, /fork, /metrics) on a real store
 * (fuzz_env.h), under an srv_api_env made of fuzz_env's server.
 *
 * An input is a request: first byte the method (and bit 0x80: team mode),
 * then the path up to '\n', then "name=value" argument lines up to an
 * empty line, then the body. What lws does before (reading the request
 * line, percent-decoding, splitting the query) is lws's and not fuzzed here.
 * Properties: a path resolves only to a regular file inside the web root,
 * never a hidden one, never through a link out; every API request is
 * answered exactly once with a status in 200..599, and a JSON answer
 * parses; the database stays clean (`chorus check`). POST /api/login is
 * skipped in team mode (a password hash costs ~100 ms: fuzzing it would
 * be all the time there is); in open mode it answers 400 at once. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fuzz/fuzz_env.h"
#include "server/api/api.h"
#include "server/net/net.h"

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "fuzz_http: %s (line %d)\n", #x, __LINE__); abort(); } } while (0)

static char root[PATH_MAX];

static void put_file(const char *rel, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

/* A web root with what a resolver must get right: files, a directory, a
 * hidden file, links inside and out of the root, a fifo. */
static void make_web_root(void)
{
    char dir[PATH_MAX], p[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/web", fenv_dir);
    CHECK(mkdir(dir, 0755) == 0 && realpath(dir, root));
    snprintf(p, sizeof p, "%s/sub", root);
    CHECK(mkdir(p, 0755) == 0);
    put_file("index.html", "<!doctype html>");
    put_file("editor.html", "<!doctype html>");
    put_file("chorus.js", "export {}");
    put_file("sub/a.css", "p{}");
    put_file(".secret", "no");
    snprintf(p, sizeof p, "%s/out", root);
    CHECK(symlink("/etc", p) == 0);
    snprintf(p, sizeof p, "%s/passwd.txt", root);
    CHECK(symlink("/etc/passwd", p) == 0);
    snprintf(p, sizeof p, "%s/sub/in.js", root);
    CHECK(symlink("../chorus.js", p) == 0);
    snprintf(p, sizeof p, "%s/fifo", root);
    CHECK(mkfifo(p, 0644) == 0);
    snprintf(srv__g.web_root, sizeof srv__g.web_root, "%s", root);
}

static store *seed_store;
static srv_api_env api_env;
static srv_authors_cache authors; /* emptied after each input */
static srv_map rate;              /* HTTP writes' buckets (writes.c) */

static void gauges(srv_api_gauges *g)
{
    g->conns = srv__g.nconns;
    g->open_docs = srv_docs_count(srv__g.docs);
    g->queued_bytes = srv__g.queued_bytes;
}

/* Each input starts with one document, "notes", three ops long, so the
 * routes on a document have something to read, restore and fork. */
static void seed_notes(void)
{
    static const char *ops[] = {"[\"hello\"]", "[5,\" w\\u00f6rld\"]", "[1,-2,\"\\ud83d\\ude00\"]"};
    store_oprec rec[3];
    CHECK(store_doc_create(seed_store, "notes", "Notes", "fuzz", 1000) == 0);
    for (int i = 0; i < 3; i++) {
        rec[i] = (store_oprec){"notes", i + 1, ops[i], "c1", i + 1, "fuzz", 1000 + i};
    }
    CHECK(store_append(seed_store, rec, 3) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fenv_init();
    make_web_root();
    api_env.cfg = &srv__g.cfg;
    api_env.pool = srv__g.pool;
    api_env.submit_auth = srv_task_submit_auth;
    api_env.writer = srv__g.writer;
    api_env.docs = srv__g.docs;
    api_env.metrics = &srv__g.metrics;
    api_env.gauges = gauges;
    api_env.rights_changed = srv_rights_changed;
    srv_authors_cache_init(&authors, 1 << 20);
    api_env.authors = &authors;
    srv_map_init(&rate);
    api_env.rate = &rate;
    CHECK(store_open(&seed_store, srv__g.db_path, NULL, NULL, 0) == 0);
    CHECK(srv_auth_init(seed_store, srv__g.db_path) == 0);
    return 0;
}

static void check_static(const char *path)
{
    char out[PATH_MAX];
    struct stat st;
    if (srv__static_resolve(root, path, out, sizeof out) < 0) return;
    size_t rl = strlen(root);
    CHECK(strncmp(out, root, rl) == 0 && out[rl] == '/');
    CHECK(!strstr(out + rl, "/."));
    CHECK(stat(out, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(srv__mime_type(out) != NULL);
}

static void check_answer(const srv_http_req *r)
{
    CHECK(r->responded == 1);
    CHECK(r->status >= 200 && r->status <= 599);
    CHECK(r->ctype != NULL);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%d %s -> %d %.*s\n", r->method, r->path, r->status,
                r->resp ? (int)(r->resp_len < 120 ? r->resp_len : 120) : 0,
                r->resp ? r->resp : "");
    if (strcmp(r->ctype, "application/json") == 0 && r->resp) {
        json_error_t e;
        json_t *v = json_loadb(r->resp, r->resp_len, 0, &e);
        CHECK(v);
        json_decref(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    srv_http_req *r = calloc(1, sizeof *r);
    CHECK(r);
    r->wsi = (struct lws *)(uintptr_t)0x2000;
    r->refs = 1;
    r->resp_fd = -1;
    r->method = 1 + (data[0] & 0x7f) % 7;
    int team = data[0] & 0x80;
    snprintf(r->ip, sizeof r->ip, "127.0.0.1");
    size_t pos = 1, line = 0;
    while (pos <= size) {       /* path, then argument lines */
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size, len = end - pos;
        if (line > 0 && len == 0) {
            pos = end + 1;
            break;
        }
        char *dst = line == 0 ? r->path : r->args[r->nargs];
        size_t cap = line == 0 ? sizeof r->path : sizeof r->args[0];
        if (line == 0 || r->nargs < SRV_HTTP_MAX_ARGS) {
            if (len >= cap) len = cap - 1;
            memcpy(dst, data + pos, len);
            dst[len] = 0;       /* lws hands strings: cut at a NUL too */
            if (line > 0) r->nargs++;
        }
        line++;
        pos = end + 1;
        if (!nl) break;
    }
    if (pos < size) {
        r->body_len = size - pos;
        r->body = malloc(r->body_len + 1);
        CHECK(r->body);
        memcpy(r->body, data + pos, r->body_len);
        r->body[r->body_len] = 0;
    }
    seed_notes();
    check_static(r->path);
    for (int i = 0; i < r->nargs; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s", r->args[i]);
        char *eq = strchr(name, '=');
        if (eq) *eq = 0;
        const char *v = srv_http_arg(r, name);
        CHECK(!eq || v != NULL);
    }
    if (!(team && strstr(r->path, "/api/login"))) {
        srv_auth_set_team(team != 0);
        if (srv__api_dispatch(&api_env, r)) {
            fenv_pump();
            check_answer(r);
        }
        srv_auth_set_team(0);
    }
    srv_http_release(r);
    srv_authors_cache_clear(&authors);
    fenv_reset();
    return 0;
}
