/* bench_ot_ops.c -- transform throughput and single-op apply latency.
 *
 * transform: single-character ops (insert or delete at a random place) each
 * transformed through a 10-op history of single-character ops, as the
 * server does for a client 10 revisions behind; counted per ot_transform()
 * call, allocation of the result included.
 * apply: one op (a one-character insert or delete at a random position) on
 * a 1 MB document of mixed text (ASCII, Hangul, emoji, combining marks),
 * timed one by one; the median is printed, and the same on a 1 KB document
 * in the same run, with their ratio (the buffer must not care about size).
 * typing: the mean cost of a keystroke typed at one place of a 1 MB and of
 * a 1 KB document (timed as a whole: one keystroke is below the clock's
 * resolution). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ot/ot.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const char *const pieces[] = {"a", "b", " ", "e", "한", "글", "👋",
                                     "e\xcc\x81", "x", "\n"};

/* A random one-code-point op on a document of 'len' (> 0) code points. */
static ot_op *one_char_op(size_t len)
{
    ot_op *op = ot_op_new();
    const char *p = pieces[rnd() % 10];
    if (rnd() % 2) {
        ot_op_retain(op, (uint32_t)(rnd() % len));
        ot_op_delete(op, 1);
    } else {
        ot_op_retain(op, (uint32_t)(rnd() % (len + 1)));
        if (ot_op_insert(op, p, strlen(p))) abort();
    }
    return op;
}

static void bench_transform(void)
{
    /* 1024 distinct client ops, each sent through the history 200 times: a
     * server transforms an op it has just decoded (hot in cache) against
     * recent history (also hot) */
    enum { HIST = 10, OPS = 1024, REPEAT = 200, ROUNDS = 15 };
    ot_op *hist[HIST], *ops[OPS];
    for (int i = 0; i < HIST; i++) hist[i] = one_char_op(10000);
    for (int i = 0; i < OPS; i++) ops[i] = one_char_op(10000);
    double best = 1e300;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (int k = 0; k < REPEAT * OPS; k++) {
            ot_op *cur = ops[k % OPS], *next;
            for (int h = 0; h < HIST; h++) {
                if (ot_transform(&next, cur, hist[h], OT_RIGHT)) abort();
                if (h) ot_op_free(cur);
                cur = next;
            }
            ot_op_free(cur);
        }
        double ns = now_ns() - t0;
        if (ns < best) best = ns;
    }
    printf("transform_single_char_vs_10_history: %.1f M transforms/s\n",
           (double)REPEAT * OPS * HIST / best * 1e3);
    for (int i = 0; i < HIST; i++) ot_op_free(hist[i]);
    for (int i = 0; i < OPS; i++) ot_op_free(ops[i]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Mixed text of about 'bytes' bytes. */
static char *mixed_text(size_t bytes, size_t *len)
{
    char *s = malloc(bytes + 8);
    size_t n = 0;
    while (n < bytes) {
        const char *p = pieces[rnd() % 10];
        if (rnd() % 4) p = "abcdefgh";
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    *len = n;
    return s;
}

/* Median ns of one apply on a document of about 'bytes' bytes: 1024
 * prepared ops (a one-character insert, then a delete, at random places;
 * each pair keeps the length) cycled for N samples. */
static double apply_median(size_t bytes)
{
    enum { N = 200000, OPS = 1024 };
    size_t len;
    char *text = mixed_text(bytes, &len);
    ot_doc *d = ot_doc_new(text, len);
    double *t = malloc(N * sizeof *t);
    ot_op *ops[OPS];
    for (int i = 0; i < OPS; i++) {
        ot_op *op = ot_op_new();
        size_t cps = ot_doc_len(d) - (i % 2);
        ot_op_retain(op, (uint32_t)(rnd() % cps));
        if (i % 2) {
            ot_op_delete(op, 1);
        } else {
            const char *p = pieces[rnd() % 7];
            if (ot_op_insert(op, p, strlen(p))) abort();
        }
        ops[i] = op;
    }
    for (int i = 0; i < N; i++) {
        double t0 = now_ns();
        int rc = ot_doc_apply(d, ops[i % OPS]);
        t[i] = now_ns() - t0;
        if (rc) abort();
    }
    qsort(t, N, sizeof *t, cmp_double);
    double med = t[N / 2];
    for (int i = 0; i < OPS; i++) ot_op_free(ops[i]);
    free(t);
    free(text);
    ot_doc_free(d);
    return med;
}

/* Median ns of reading the clock twice around nothing. */
static double clock_overhead(void)
{
    enum { N = 100001 };
    static double t[N];
    for (int i = 0; i < N; i++) {
        double t0 = now_ns();
        t[i] = now_ns() - t0;
    }
    qsort(t, N, sizeof *t, cmp_double);
    return t[N / 2];
}

/* Mean ns of one keystroke (a one-character insert after the previous one)
 * in a document of about 'bytes' bytes, typed at a random place. */
static double typing_mean(size_t bytes)
{
    enum { N = 200000 };
    size_t len;
    char *text = mixed_text(bytes, &len);
    ot_doc *d = ot_doc_new(text, len);
    ot_op **ops = malloc(N * sizeof *ops);
    size_t at = rnd() % ot_doc_len(d);
    for (int i = 0; i < N; i++) {
        const char *p = pieces[i % 7];
        ops[i] = ot_op_new();
        ot_op_retain(ops[i], (uint32_t)(at + (size_t)i));
        if (ot_op_insert(ops[i], p, strlen(p))) abort();
    }
    double t0 = now_ns();
    for (int i = 0; i < N; i++)
        if (ot_doc_apply(d, ops[i])) abort();
    double mean = (now_ns() - t0) / N;
    for (int i = 0; i < N; i++) ot_op_free(ops[i]);
    free(ops);
    free(text);
    ot_doc_free(d);
    return mean;
}

int main(void)
{
    bench_transform();
    double big = apply_median(1 << 20), small = apply_median(1 << 10);
    printf("apply_random_pos_1mb_median: %.3f us\n", big / 1e3);
    printf("apply_random_pos_1kb_median: %.3f us\n", small / 1e3);
    printf("apply_1mb_over_1kb: %.2f x\n", big / small);
    printf("apply_clock_overhead_median: %.3f us\n", /* in the above */
           clock_overhead() / 1e3);
    big = typing_mean(1 << 20);
    small = typing_mean(1 << 10);
    printf("typing_1mb_mean: %.1f ns/keystroke\n", big);
    printf("typing_1kb_mean: %.1f ns/keystroke\n", small);
    printf("typing_1mb_over_1kb: %.2f x\n", big / small);
    return 0;
}
