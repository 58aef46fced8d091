/* bench_store_textat.c -- text at a random version of a long history.
 *
 * Loads the automerge-paper editing trace (259,778 edits; Martin Kleppmann
 * et al., CC BY 4.0, see tests/data/traces/README.md) into a temporary
 * database as one logged op per edit, with a snapshot every
 * snapshot_every ops (default 200), then times store_text_at at random
 * versions: the median must be at most 5 ms. For reference, in the same
 * run, the full replay from the empty text (what text_at would cost with no
 * snapshots) is timed once. The final text is checked against the trace's
 * endContent, so a wrong replay cannot pass for a fast one. */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ot/ot.h"
#include "storage/store.h"

#define SAMPLES 301

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_store_textat: %s: %s\n", what, why);
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static json_t *load_trace(void)
{
    const char *paths[] = { "tests/data/traces/automerge-paper.json.gz",
                            "/work/shared/traces/automerge-paper.json.gz" };
    char cmd[300];
    json_error_t jerr;
    for (size_t i = 0; i < 2; i++) {
        if (access(paths[i], R_OK) != 0) continue;
        snprintf(cmd, sizeof cmd, "gzip -dc '%s'", paths[i]);
        FILE *f = popen(cmd, "r");
        json_t *t = f ? json_loadf(f, 0, &jerr) : NULL;
        if (f) pclose(f);
        if (!t) die(paths[i], jerr.text);
        return t;
    }
    die("trace", "automerge-paper.json.gz not found");
    return NULL;
}

/* The wire op of trace patch [pos, del, "ins"] (code points). */
static char *wire_op(json_t *patch)
{
    ot_op *op = ot_op_new();
    const char *ins = json_string_value(json_array_get(patch, 2));
    size_t pos = (size_t)json_integer_value(json_array_get(patch, 0));
    size_t del = (size_t)json_integer_value(json_array_get(patch, 1));
    char *out;
    if (!op || !ins || ot_op_retain(op, (uint32_t)pos) ||
        ot_op_delete(op, (uint32_t)del) ||
        ot_op_insert(op, ins, strlen(ins)))
        die("trace", "bad patch");
    out = ot_op_dumps(op);
    ot_op_free(op);
    return out;
}

/* Append every patch of the trace to document "paper"; returns the count. */
static int64_t fill(store *s, json_t *trace)
{
    enum { BATCH = 2000 };
    static store_oprec recs[BATCH];
    static char *ops[BATCH];
    size_t ti, pi, n = 0;
    int64_t v = 0;
    json_t *txn, *patch;
    json_array_foreach(json_object_get(trace, "txns"), ti, txn) {
        json_array_foreach(json_object_get(txn, "patches"), pi, patch) {
            ops[n] = wire_op(patch);
            ++v;
            store_oprec r = { "paper", v, ops[n], "trace", v, "kleppmann",
                              1600000000000 + v };
            recs[n++] = r;
            if (n == BATCH) {
                if (store_append(s, recs, n)) die("append", "failed");
                for (size_t i = 0; i < n; i++) free(ops[i]);
                n = 0;
            }
        }
    }
    if (n && store_append(s, recs, n)) die("append", "failed");
    for (size_t i = 0; i < n; i++) free(ops[i]);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR"), *e = getenv("CHORUS_SNAPSHOT_EVERY");
    double t[SAMPLES], t0, full;
    char dir[256], path[300], err[256], *text;
    size_t bytes;
    store_options o;
    int64_t versions;
    store *s;
    json_t *trace = load_trace();
    store_options_init(&o);
    if (e) o.snapshot_every = atoi(e);
    snprintf(dir, sizeof dir, "%s/chorus-bench-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) die("mkdtemp", dir);
    snprintf(path, sizeof path, "%s/paper.db", dir);
    if (store_open(&s, path, &o, err, sizeof err)) die("open", err);
    if (store_doc_create(s, "paper", "automerge-paper", "trace", 1))
        die("create", "paper");
    t0 = now_ms();
    versions = fill(s, trace);
    printf("store_textat_load: %lld ops in %.0f ms (snapshot every %d)\n",
           (long long)versions, now_ms() - t0, o.snapshot_every);
    if (store_load(s, "paper", &text, &bytes, NULL)) die("load", "failed");
    if (strcmp(text, json_string_value(json_object_get(trace, "endContent"))))
        die("replay", "final text differs from endContent");
    free(text);
    srand(42);
    for (int i = 0; i < SAMPLES; i++) {
        int64_t v = (int64_t)(((uint64_t)rand() << 16 ^ (uint64_t)rand()) %
                              (uint64_t)(versions + 1));
        t0 = now_ms();
        if (store_text_at(s, "paper", v, &text, &bytes)) die("text_at", "");
        t[i] = now_ms() - t0;
        free(text);
    }
    qsort(t, SAMPLES, sizeof t[0], cmp_double);
    printf("store_textat_median: %.3f ms (target <= 5)\n", t[SAMPLES / 2]);
    printf("store_textat_p90: %.3f ms\n", t[SAMPLES * 9 / 10]);
    t0 = now_ms(); /* reference: the whole log replayed, no snapshot */
    {
        store_oprec *recs;
        size_t n;
        ot_doc *d = ot_doc_new(NULL, 0);
        ot_op *op;
        if (store_ops_after(s, "paper", 0, 0, &recs, &n)) die("ops", "");
        for (size_t i = 0; i < n; i++) {
            if (ot_op_parse(&op, recs[i].op, strlen(recs[i].op)) ||
                ot_doc_apply(d, op))
                die("replay", recs[i].op);
            ot_op_free(op);
        }
        store_oprecs_free(recs);
        ot_doc_free(d);
    }
    full = now_ms() - t0;
    printf("store_textat_full_replay_reference: %.1f ms (%.0f x the median)\n",
           full, full / t[SAMPLES / 2]);
    store_close(s);
    json_decref(trace);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
