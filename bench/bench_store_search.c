/* bench_store_search.c -- full-text search on a generated corpus.
 *
 * 10,000 documents of about 10 KB each (Korean, English and C-like code
 * words from a vocabulary of 6,000, common ones more often; a fixed seed) are created with one logged op each and
 * indexed (store_search_reindex). Then: p50/p99 of store_search_query
 * (limit 20, all documents readable) for queries of 2, 3 and 8 characters
 * cut from generated text (so each is found); the index's size as a share of the text (the database
 * file grows by it, the index's own copy of the texts included); and the
 * op throughput of a committing thread (one op a transaction, synchronous
 * FULL) alone against the same with another connection indexing 10
 * documents a second (ten documents going quiet every second: a busy
 * team), and indexing without pause (the worst case: the server's indexer
 * only touches documents that have been quiet). CHORUS_SEARCH_DOCS changes the
 * corpus size; CHORUS_SEARCH_DB=path keeps the corpus there and, when the
 * file exists, reuses it and times the queries only. Timings are in
 * docs/benchmarks.md. */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/store.h"

#define DOC_BYTES 10000
#define QUERIES 200

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_store_search: %s: %s\n", what, store_strerror(rc));
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* A vocabulary of NWORDS pseudo-words: Korean of 2-4 syllables, English
 * of 3-9 letters, and code tokens, so that queries are as selective as in
 * real text (every document does not hold every word). */
#define NWORDS 6000
static char *words[NWORDS];

static void make_words(void)
{
    static const char *const code[] = {
        "int", "return", "static", "struct", "malloc", "free", "goto err;",
        "if (rc < 0)", "for (i = 0; i < n; i++)", "{", "}", "NULL", "->",
    };
    char w[64];
    for (int i = 0; i < NWORDS; i++) {
        size_t n = 0;
        int kind = i % 10;
        if (kind < 4) { /* Hangul: U+AC00 + a syllable among the first 400 */
            for (int k = 2 + (int)rnd(3); k > 0; k--) {
                uint32_t c = 0xac00 + rnd(400) * 7;
                w[n++] = (char)(0xe0 | c >> 12);
                w[n++] = (char)(0x80 | (c >> 6 & 0x3f));
                w[n++] = (char)(0x80 | (c & 0x3f));
            }
        } else if (kind < 9) {
            for (int k = 3 + (int)rnd(7); k > 0; k--)
                w[n++] = "etaoinshrdlucmfwypvbgkjqxz"[rnd(rnd(2) ? 8 : 26)];
        } else {
            n = (size_t)snprintf(w, sizeof w, "%s", code[rnd(13)]);
        }
        w[n] = 0;
        words[i] = strdup(w);
    }
}

/* A document of about DOC_BYTES: words (a Zipf-like choice: low indexes
 * are common), spaces and line breaks. */
static void make_text(char *buf, int doc)
{
    size_t n = 0;
    (void)doc;
    while (n < DOC_BYTES - 64) {
        uint32_t r = rnd(NWORDS);
        const char *w = words[rnd(r + 1)];
        n += (size_t)snprintf(buf + n, DOC_BYTES - n, "%s%s", w,
                              rnd(12) ? " " : "\n");
    }
    buf[n] = 0;
}

/* 'count' queries of 'cps' code points: substrings of generated text
 * that hold no space or line break, so each one is found. */
static char **make_queries(int cps, int count)
{
    char **q = calloc((size_t)count, sizeof *q);
    char *buf = malloc(DOC_BYTES + 1);
    for (int i = 0; i < count;) {
        make_text(buf, 0);
        size_t len = strlen(buf), at = rnd((uint32_t)(len - 64));
        while ((buf[at] & 0xc0) == 0x80) at++;
        size_t end = at;
        int k = 0;
        while (k < cps && buf[end] && buf[end] != ' ' && buf[end] != '\n') {
            end++;
            while ((buf[end] & 0xc0) == 0x80) end++;
            k++;
        }
        if (k < cps) continue;
        q[i++] = strndup(buf + at, end - at);
    }
    free(buf);
    return q;
}

static store *open_db(const char *path)
{
    store *s = NULL;
    store_options o;
    store_options_init(&o);
    char err[256];
    int rc = store_open(&s, path, &o, err, sizeof err);
    if (rc) die(err, rc);
    return s;
}

static void build(store *s, int ndocs, size_t *text_bytes)
{
    char *buf = malloc(DOC_BYTES + 1), *op = malloc(2 * DOC_BYTES + 16);
    char id[32];
    for (int d = 0; d < ndocs; d++) {
        make_text(buf, d);
        size_t k = 0;
        op[k++] = '[', op[k++] = '"';
        for (char *p = buf; *p; p++) {
            if (*p == '"' || *p == '\\') op[k++] = '\\', op[k++] = *p;
            else if (*p == '\n') op[k++] = '\\', op[k++] = 'n';
            else op[k++] = *p;
        }
        op[k++] = '"', op[k++] = ']', op[k] = 0;
        snprintf(id, sizeof id, "doc%05d", d);
        store_oprec r = {id, 1, op, "bench", 1, "bench", 1};
        int rc = store_doc_create_with(s, id, d % 10 ? "" : "분기 계획 Planning",
                                       "bench", 1, 0, &r, 1);
        if (rc) die("create", rc);
        *text_bytes += strlen(buf);
    }
    free(buf);
    free(op);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void time_queries(store *s, const char *name, char **qs, size_t nq)
{
    double t[QUERIES], worst = 0;
    size_t hits = 0;
    const char *worst_q = "";
    for (int i = 0; i < QUERIES; i++) {
        store_hit *h = NULL;
        size_t n = 0;
        double t0 = now_ms();
        int rc = store_search_query(s, qs[i % nq], 0, 20, &h, &n);
        t[i] = now_ms() - t0;
        if (rc) die("query", rc);
        if (t[i] > worst) worst = t[i], worst_q = qs[i % nq];
        hits += n;
        store_hits_free(h, n);
    }
    qsort(t, QUERIES, sizeof *t, cmp);
    printf("search_%s_p50: %.2f ms\n", name, t[QUERIES / 2]);
    printf("search_%s_p99: %.2f ms\n", name, t[QUERIES * 99 / 100]);
    printf("search_%s_hits_per_query: %.1f\n", name, (double)hits / QUERIES);
    /* where a tail comes from: stderr, not a figure */
    fprintf(stderr, "search_%s_slowest: %.2f ms for \"%s\"\n", name, worst,
            worst_q);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* ---- op throughput, with and without an indexer beside it */

typedef struct indexer {
    const char *path;
    int ndocs;
    volatile int stop;
    int pause_ms;                 /* between documents: 0, without pause */
    int64_t done;
} indexer;

static void *index_loop(void *arg)
{
    indexer *x = arg;
    store *s = open_db(x->path);
    char id[32];
    while (!x->stop) {
        snprintf(id, sizeof id, "doc%05d", (int)rnd((uint32_t)x->ndocs));
        if (store_search_index_one(s, id) == 0) x->done++;
        if (x->pause_ms) usleep((useconds_t)x->pause_ms * 1000);
    }
    store_close(s);
    return NULL;
}

static double ops_per_sec(store *s, int64_t *v, double ms)
{
    char seqbuf[32];
    double t0 = now_ms();
    int64_t n = 0;
    while (now_ms() - t0 < ms) {
        ++*v;
        snprintf(seqbuf, sizeof seqbuf, "[%lld,\"x\"]", (long long)(*v - 1));
        store_oprec r = {"hot", *v, seqbuf, "bench", *v, "bench", 1};
        int rc = store_append(s, &r, 1);
        if (rc) die("append", rc);
        n++;
    }
    return (double)n * 1000.0 / (now_ms() - t0);
}

static void throughput(const char *path, int ndocs)
{
    store *s = open_db(path);
    int64_t v = 0;
    int rc = store_doc_create(s, "hot", "", "bench", 1);
    if (rc) die("create hot", rc);
    double off = 0, on[2] = {0, 0};
    int64_t done[2] = {0, 0};
    static const int pauses[2] = {100, 0};
    for (int round = 0; round < 3; round++) { /* interleaved: fairer on a busy machine */
        off += ops_per_sec(s, &v, 1500);
        for (int k = 0; k < 2; k++) {
            indexer x = {path, ndocs, 0, pauses[k], 0};
            pthread_t th;
            pthread_create(&th, NULL, index_loop, &x);
            on[k] += ops_per_sec(s, &v, 1500);
            x.stop = 1;
            pthread_join(th, NULL);
            done[k] += x.done;
        }
    }
    printf("search_ops_per_sec_indexing_off: %.0f ops/s\n", off / 3);
    printf("search_ops_per_sec_indexing_10_docs_per_sec: %.0f ops/s\n", on[0] / 3);
    printf("search_ops_indexing_10_docs_per_sec_cost: %.1f %%\n",
           100.0 * (off - on[0]) / off);
    printf("search_ops_per_sec_indexing_nonstop: %.0f ops/s\n", on[1] / 3);
    printf("search_ops_indexing_nonstop_cost: %.1f %%\n",
           100.0 * (off - on[1]) / off);
    printf("search_docs_indexed_nonstop: %.0f docs/s\n", (double)done[1] / 4.5);
    store_close(s);
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    const char *env = getenv("CHORUS_SEARCH_DOCS");
    const char *keep = getenv("CHORUS_SEARCH_DB"); /* reuse a corpus */
    int ndocs = env ? atoi(env) : 10000;
    char dir[] = "/tmp/chorus-bench-search-XXXXXX", path[256];
    if (ndocs < 10 || !mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/chorus.db", dir);
    if (keep) snprintf(path, sizeof path, "%s", keep);
    make_words();
    store *s;
    if (!keep || file_size(path) == 0) {
        s = open_db(path);
        size_t text = 0;
        build(s, ndocs, &text);
        store_close(s);
        s = open_db(path); /* closing checkpoints: the file holds everything */
        off_t before = file_size(path);
        int64_t n = 0;
        double t0 = now_ms();
        int rc = store_search_reindex(s, &n);
        if (rc) die("reindex", rc);
        double idx_ms = now_ms() - t0;
        store_close(s);
        off_t after = file_size(path);
        printf("search_corpus: %d docs, %.1f MB\n", ndocs, (double)text / 1e6);
        printf("search_index_build: %.1f MB/s\n", (double)text / 1e3 / idx_ms);
        printf("search_index_size_share: %.2f x text\n",
               (double)(after - before) / (double)text);
    }
    s = open_db(path);
    static const int lens[] = {2, 3, 8};
    for (int i = 0; i < 3; i++) {
        char name[16], **q = make_queries(lens[i], 50);
        snprintf(name, sizeof name, "%dchar", lens[i]);
        time_queries(s, name, q, 50);
        for (int k = 0; k < 50; k++) free(q[k]);
        free(q);
    }
    store_close(s);
    if (!keep) throughput(path, ndocs);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
