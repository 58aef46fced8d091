/* bench_ot_replay.c -- replay every editing trace through the Chorus buffer
 * and through a naive flat UTF-8 buffer (memmove, code points found by
 * scanning from the start), in the same run; print ms, ops/s and the ratio.
 *
 * The patches are turned into ops before the clock starts: what is timed is
 * ot_doc_apply() on a buffer that starts empty, patch by patch. Each figure
 * is the best of several runs (the machine is shared and noisy).
 * With an argument, "bench_ot_replay --ms TRACE", it prints only the Chorus
 * replay time of TRACE in ms (bench/ot_replay.bench.mjs uses it). */
#include <time.h>

#include "tests/test_ot_trace.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One replay through ot_doc; returns ms, or -1 on a wrong result. */
static double replay_chorus(const trace *t, ot_op **ops)
{
    ot_doc *d = ot_doc_new(NULL, 0);
    double t0 = now_ms();
    for (size_t i = 0; i < t->n; i++)
        if (ot_doc_apply(d, ops[i])) return -1;
    double ms = now_ms() - t0;
    size_t bytes;
    char *text = ot_doc_text(d, &bytes);
    int ok = text && bytes == t->end_bytes && !memcmp(text, t->end, bytes);
    free(text);
    ot_doc_free(d);
    return ok ? ms : -1;
}

/* Byte offset of code point 'cp' in a flat buffer; all-ASCII is direct. */
static size_t flat_offset(const char *s, size_t bytes, size_t cps, size_t cp)
{
    if (bytes == cps) return cp;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && cp-- == 0) return i;
    return bytes;
}

static double replay_flat(const trace *t)
{
    size_t cap = 1 << 16, len = 0, cps = 0;
    char *buf = malloc(cap);
    double t0 = now_ms();
    for (size_t i = 0; i < t->n; i++) {
        const trace_patch *p = &t->p[i];
        size_t a = flat_offset(buf, len, cps, p->pos);
        size_t b = flat_offset(buf, len, cps, p->pos + p->del);
        while (len - (b - a) + p->ins_bytes > cap) buf = realloc(buf, cap *= 2);
        memmove(buf + a + p->ins_bytes, buf + b, len - b);
        memcpy(buf + a, p->ins, p->ins_bytes);
        len = len - (b - a) + p->ins_bytes;
        cps = cps - p->del;
        for (size_t k = 0; k < p->ins_bytes; k++)
            cps += ((unsigned char)p->ins[k] & 0xC0) != 0x80;
    }
    double ms = now_ms() - t0;
    int ok = len == t->end_bytes && !memcmp(buf, t->end, len);
    free(buf);
    return ok ? ms : -1;
}

static double best_chorus(const trace *t, ot_op **ops, int runs)
{
    double best = 1e300;
    for (int r = 0; r < runs; r++) {
        double ms = replay_chorus(t, ops);
        if (ms < 0) return -1;
        if (ms < best) best = ms;
    }
    return best;
}

static int bench_trace(const char *name, int quiet)
{
    trace *t = trace_load(name);
    if (!t) return -1;
    ot_op **ops = malloc(t->n * sizeof *ops);
    for (size_t i = 0; i < t->n; i++) ops[i] = trace_op(&t->p[i]);
    double c = best_chorus(t, ops, 15);
    if (quiet) {
        printf("%.3f\n", c);
    } else {
        double f = replay_flat(t), f2 = replay_flat(t);
        if (f2 < f) f = f2;
        if (c < 0 || f < 0) return -1;
        printf("replay_%s_chorus: %.2f ms\n", name, c);
        printf("replay_%s_chorus_rate: %.0f ops/s\n", name, t->n / c * 1e3);
        printf("replay_%s_flat: %.2f ms\n", name, f);
        printf("replay_%s_flat_rate: %.0f ops/s\n", name, t->n / f * 1e3);
        printf("replay_%s_flat_over_chorus: %.1f x\n", name, f / c);
    }
    for (size_t i = 0; i < t->n; i++) ot_op_free(ops[i]);
    free(ops);
    trace_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    int status = 0;
    if (argc == 3 && strcmp(argv[1], "--ms") == 0)
        return bench_trace(argv[2], 1) ? 1 : 0;
    for (size_t i = 0; i < TRACE_COUNT; i++) {
        if (bench_trace(trace_names[i], 0)) {
            fprintf(stderr, "replay_%s: FAILED\n", trace_names[i]);
            status = 1;
        }
    }
    return status;
}
