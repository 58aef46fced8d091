/* bench_srv_authors.c -- GET .../authors's work: attribution replayed from
 * version 0 over a long history, and from a checkpoint a few ops back (what
 * the cache makes of a second request).
 *
 * Loads the automerge-paper editing trace (259,778 edits; Martin Kleppmann
 * et al., CC BY 4.0, see tests/data/traces/README.md) into a temporary
 * database as one op per edit, four users taking turns every 200 ops, then
 * times srv_authors_build: the full replay (no checkpoint), and replays of
 * the last 10 and 100 ops from a checkpoint (median of 21). The reference in
 * the same run is store_text_at of the current version (what /text costs).
 * The full replay's length is checked against the stored text, so a wrong
 * attribution cannot pass for a fast one. */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/history/history.h"

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_srv_authors: %s: %s\n", what, why);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static char *wire_op(json_t *patch)
{
    ot_op *op = ot_op_new();
    const char *ins = json_string_value(json_array_get(patch, 2));
    size_t pos = (size_t)json_integer_value(json_array_get(patch, 0));
    size_t del = (size_t)json_integer_value(json_array_get(patch, 1));
    if (!op || !ins || ot_op_retain(op, (uint32_t)pos) ||
        ot_op_delete(op, (uint32_t)del) || ot_op_insert(op, ins, strlen(ins)))
        die("trace", "bad patch");
    char *out = ot_op_dumps(op);
    ot_op_free(op);
    return out;
}

/* Every patch of the trace as ops of "paper"; returns how many. */
static int64_t fill(store *s)
{
    enum { BATCH = 4000 };
    static const char *users[] = {"Martin", "Annette", "Peter", "Mark"};
    static store_oprec recs[BATCH];
    static char *ops[BATCH];
    json_error_t jerr;
    FILE *f = popen("gzip -dc tests/data/traces/automerge-paper.json.gz", "r");
    json_t *trace = f ? json_loadf(f, 0, &jerr) : NULL, *txn, *patch;
    if (f) pclose(f);
    if (!trace) die("automerge-paper.json.gz", "cannot read");
    size_t ti, pi, n = 0;
    int64_t v = 0;
    if (store_doc_create(s, "paper", "paper", "Martin", 1)) die("create", "paper");
    json_array_foreach(json_object_get(trace, "txns"), ti, txn) {
        json_array_foreach(json_object_get(txn, "patches"), pi, patch) {
            ops[n] = wire_op(patch);
            ++v;
            store_oprec r = {"paper", v, ops[n], "trace", v, users[(v / 200) % 4], v};
            recs[n++] = r;
            if (n == BATCH) {
                if (store_append(s, recs, n)) die("append", "paper");
                for (size_t i = 0; i < n; i++) free(ops[i]);
                n = 0;
            }
        }
    }
    if (n && store_append(s, recs, n)) die("append", "paper");
    for (size_t i = 0; i < n; i++) free(ops[i]);
    json_decref(trace);
    return v;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median ms of 21 builds of the current version from 'from'. */
static double median_from(store *s, const srv_authors *from)
{
    double t[21];
    srv_authors *keep[1], *out = NULL;
    size_t nk;
    int64_t replayed;
    for (int i = 0; i < 21; i++) {
        double t0 = now_s();
        if (srv_authors_build(s, "paper", -1, from, &out, keep, 0, &nk, &replayed))
            die("build", "from a checkpoint");
        t[i] = (now_s() - t0) * 1e3;
        srv_authors_unref(out);
    }
    qsort(t, 21, sizeof *t, cmp);
    return t[10];
}

int main(void)
{
    char dir[] = "/tmp/chorus-bench-authors-XXXXXX", path[128], err[256];
    store *s;
    if (!mkdtemp(dir)) die("mkdtemp", "failed");
    snprintf(path, sizeof path, "%s/chorus.db", dir);
    if (store_open(&s, path, NULL, err, sizeof err)) die("open", err);
    int64_t n = fill(s);

    srv_authors *full = NULL, *keep[4], *back10 = NULL, *back100 = NULL;
    size_t nk = 0;
    int64_t replayed = 0;
    double t0 = now_s();
    if (srv_authors_build(s, "paper", -1, NULL, &full, keep, 4, &nk, &replayed))
        die("build", "full replay");
    double full_s = now_s() - t0;
    while (nk) srv_authors_unref(keep[--nk]);
    char *text = NULL;
    size_t bytes = 0, cps = 0;
    t0 = now_s();
    if (store_text_at(s, "paper", n, &text, &bytes)) die("text_at", "current");
    double text_ms = (now_s() - t0) * 1e3;
    ot_utf8_validate(text, bytes, &cps);
    free(text);
    if (full->length != cps || replayed != n) die("check", "runs do not cover the text");
    if (srv_authors_build(s, "paper", n - 10, NULL, &back10, keep, 0, &nk, &replayed) ||
        srv_authors_build(s, "paper", n - 100, NULL, &back100, keep, 0, &nk, &replayed))
        die("build", "checkpoints");

    printf("authors_full_replay_%lld_ops: %.2f s\n", (long long)n, full_s);
    printf("authors_runs_at_end: %zu runs over %zu code points\n", full->n, full->length);
    printf("authors_from_checkpoint_10_ops: %.2f ms\n", median_from(s, back10));
    printf("authors_from_checkpoint_100_ops: %.2f ms\n", median_from(s, back100));
    printf("text_at_current_version (reference): %.2f ms\n", text_ms);
    srv_authors_unref(full);
    srv_authors_unref(back10);
    srv_authors_unref(back100);
    store_close(s);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
