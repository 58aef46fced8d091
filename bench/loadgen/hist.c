/* hist.c -- latency histograms and the server's CPU and memory from /proc.
 *
 * The histogram is log-linear: exact below 128 us, then 64 buckets per
 * power of two (at most 1.6% error), so recording is a few instructions and
 * millions of samples a second cost nothing next to the I/O being measured.
 * Percentiles report the middle of the bucket they fall in. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/lg.h"

double lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bucket_of(uint64_t v)
{
    if (v < 128) return (int)v;
    int e = 63 - __builtin_clzll(v); /* >= 7 */
    int shift = e - 6;
    int b = (shift + 1) * 64 + (int)((v >> shift) - 64);
    return b < LG_HIST_BUCKETS ? b : LG_HIST_BUCKETS - 1;
}

/* The middle of bucket 'b', in microseconds. */
static double bucket_mid(int b)
{
    if (b < 128) return b;
    int shift = b / 64 - 1;
    double lo = (double)((uint64_t)(b % 64 + 64) << shift);
    return lo + (double)((uint64_t)1 << shift) / 2;
}

void lg_hist_add(lg_hist *h, uint64_t us)
{
    h->b[bucket_of(us)]++;
    h->n++;
}

double lg_hist_pct_ms(const lg_hist *h, double p)
{
    if (h->n == 0) return 0;
    uint64_t rank = (uint64_t)((double)h->n * p / 100.0);
    if (rank >= h->n) rank = h->n - 1;
    uint64_t seen = 0;
    for (int b = 0; b < LG_HIST_BUCKETS; b++) {
        seen += h->b[b];
        if (seen > rank) return bucket_mid(b) / 1000.0;
    }
    return bucket_mid(LG_HIST_BUCKETS - 1) / 1000.0;
}

static long status_kib(const char *status, const char *key)
{
    const char *p = strstr(status, key);
    long v = 0;
    if (p && sscanf(p + strlen(key), " %ld", &v) == 1) return v;
    return 0;
}

int lg_proc_read(int pid, lg_proc *out)
{
    char path[64], buf[4096];
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* fields after the ")" closing the command name: state is field 3,
     * utime 14 and stime 15 */
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                     &ut, &st) != 2)
        return -1;
    out->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (!(f = fopen(path, "r"))) return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    out->rss_kib = status_kib(buf, "VmRSS:");
    out->hwm_kib = status_kib(buf, "VmHWM:");
    return 0;
}

double lg_machine_busy(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8) return -1;
    /* user nice system idle iowait irq softirq steal: all but idle, iowait */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}
