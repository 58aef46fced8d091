/* harness.h -- the one small test harness every C test program uses.
 *
 * A test program is a main() that calls RUN(test_fn) for each case and
 * returns harness_done(). CHECK* macros record a failure and let the case go
 * on, so one run reports every broken assertion. The closing line is
 * "N passed, N failed" (counted per case), which tests/run sums up.
 *
 * Seeded randomized tests take their seed from harness_seed() (the
 * CHORUS_SEED environment variable, else the clock) and their size from
 * harness_iters() (scaled by CHORUS_ITERS_SCALE); a failing case prints the
 * seed so the run can be repeated exactly. */
#ifndef CHORUS_TESTS_HARNESS_H
#define CHORUS_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int harness_case_failed;
static int harness_passed;
static int harness_failed;
static uint64_t harness_seed_value;
static int harness_seed_used;

static void harness_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
    harness_case_failed = 1;
}

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) harness_fail(__FILE__, __LINE__, #cond);                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                   \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_) {                                                      \
            fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", __FILE__,   \
                    __LINE__, #a, #b, a_, b_);                               \
            harness_case_failed = 1;                                         \
        }                                                                    \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                   \
    do {                                                                     \
        const char *a_ = (a), *b_ = (b);                                     \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                             \
            fprintf(stderr, "  %s:%d: %s == %s: \"%.200s\" != \"%.200s\"\n", \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",          \
                    b_ ? b_ : "(null)");                                     \
            harness_case_failed = 1;                                         \
        }                                                                    \
    } while (0)

/* Stop the current case at once (for a check the rest depends on). */
#define REQUIRE(cond)                                                        \
    do {                                                                     \
        if (!(cond)) {                                                       \
            harness_fail(__FILE__, __LINE__, #cond);                         \
            return;                                                          \
        }                                                                    \
    } while (0)

__attribute__((unused)) static uint64_t harness_seed(void)
{
    if (!harness_seed_used) {
        const char *s = getenv("CHORUS_SEED");
        harness_seed_value = s ? strtoull(s, NULL, 0)
                                : (uint64_t)time(NULL) ^ (uint64_t)clock();
        harness_seed_used = 1;
    }
    return harness_seed_value;
}

/* 'dflt' scaled by CHORUS_ITERS_SCALE (default 1): "a longer run is one flag
 * away" (make test CHORUS_ITERS_SCALE=100). */
__attribute__((unused)) static long harness_iters(long dflt)
{
    const char *s = getenv("CHORUS_ITERS_SCALE");
    double k = s ? atof(s) : 1.0;
    if (k <= 0) k = 1.0;
    return (long)(dflt * k);
}

static void harness_run(const char *name, void (*fn)(void))
{
    harness_case_failed = 0;
    fn();
    if (harness_case_failed) {
        harness_failed++;
        printf("FAIL %s\n", name);
        if (harness_seed_used)
            printf("     (seed %" PRIu64 ": rerun with CHORUS_SEED=%" PRIu64
                   ")\n", harness_seed_value, harness_seed_value);
    } else {
        harness_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

#define RUN(fn) harness_run(#fn, fn)

static int harness_done(void)
{
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}

#endif
