/* bench_srv_markdown.c -- the html export's Markdown renderer (libcmark
 * plus our safety pass) on libcmark's pathological inputs, at a small and
 * a ten times larger input: linear time shows as a growth near 10x, a
 * quadratic one as near 100x. The repeated cases run at n = 10^4 and 10^5
 * repetitions; the built ones (lists, backticks: input grows as n^2;
 * references: as n) at the n that makes their input 10x larger. First,
 * the peak RSS of one 1 MiB block-quote nest (one cmark node per '>'),
 * the worst memory per input byte we know of. The tests check the output
 * (tests/test_srv_export.c); this only times it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "server/history/history.h"
#include "tests/markdown_cases.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Best of three renders of case 'c' at n, in ms; its input size in *len. */
static double time_case(const md_case *c, size_t n, size_t *len)
{
    char *src = md_case_build(c, n, len);
    double best = 1e300;
    FILE *sink = fopen("/dev/null", "w");
    if (!src || !sink) {
        fprintf(stderr, "bench_srv_markdown: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < 3; i++) {
        double t0 = now_ms();
        srv_md_render(sink, src, *len);
        double t = now_ms() - t0;
        if (t < best) best = t;
    }
    fclose(sink);
    free(src);
    return best;
}

static void peak_rss(void)
{
    size_t n = 1 << 20;
    char *src = malloc(n);
    FILE *sink = fopen("/dev/null", "w");
    struct rusage ru;
    if (!src || !sink) exit(1);
    memset(src, '>', n);
    srv_md_render(sink, src, n);
    getrusage(RUSAGE_SELF, &ru);
    printf("md_block_quotes_1mib_peak_rss: %ld KiB\n", ru.ru_maxrss);
    fclose(sink);
    free(src);
}

int main(void)
{
    peak_rss();
    for (size_t i = 0; i < sizeof md_cases / sizeof *md_cases; i++) {
        const md_case *c = &md_cases[i];
        size_t small = 10000, large = 100000, ls, ll;
        if (c->build == md_nested_lists || c->build == md_backticks)
            small = 100, large = 316;
        else if (c->build == md_references)
            small = 1000, large = 10000;
        double ts = time_case(c, small, &ls), tl = time_case(c, large, &ll);
        printf("md_%s_%zuk_bytes: %.2f ms\n", c->name, ls / 1000, ts);
        printf("md_%s_%zuk_bytes: %.2f ms\n", c->name, ll / 1000, tl);
        printf("md_%s_growth: %.1f x (input %.1f x; linear ~ the same)\n",
               c->name, ts > 0 ? tl / ts : 0.0, (double)ll / (double)ls);
    }
    return 0;
}
