/* run.c -- one run of the load generator: fork the workers, gather their
 * results, print the figures.
 *
 * lws 4.1 as Debian builds it serves on one thread, and its client parses
 * received frames a byte at a time; with every client of a document
 * receiving every op, one process can become the limit before the server
 * does. So a run may spread its clients over several worker processes
 * (--procs), which share one anonymous MAP_SHARED mapping made before the
 * fork: the start barrier, each worker's counters and histograms, and the
 * paced clients' keystroke times (so a worker can time keystrokes typed in
 * another). The parent only forks, waits and reports. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/loadgen/lg.h"

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void merge(const lg_config *cfg, const lg_shared *sh, lg_counts *all)
{
    memset(all, 0, sizeof *all);
    for (int w = 0; w < cfg->procs; w++) {
        const lg_counts *c = &sh->w[w];
        all->acks += c->acks;
        all->ks_typed += c->ks_typed;
        all->k2r_missed += c->k2r_missed;
        all->cpu_s += c->cpu_s;
        for (int b = 0; b < LG_HIST_BUCKETS; b++) {
            all->ack.b[b] += c->ack.b[b];
            all->k2r.b[b] += c->k2r.b[b];
        }
        all->ack.n += c->ack.n;
        all->k2r.n += c->k2r.n;
    }
}

static void report_load(const lg_config *cfg, const lg_shared *sh,
                        const lg_counts *a)
{
    const char *n = cfg->name;
    double d = cfg->duration_s;
    printf("%s_ops_per_sec: %.0f ops/s\n", n, (double)a->acks / d);
    printf("%s_ack_p50: %.2f ms\n", n, lg_hist_pct_ms(&a->ack, 50));
    printf("%s_ack_p99: %.2f ms\n", n, lg_hist_pct_ms(&a->ack, 99));
    if (cfg->mode == LG_PACED) {
        printf("%s_keystrokes_per_sec: %.0f keys/s\n", n, (double)a->ks_typed / d);
        printf("%s_k2r_p50: %.2f ms\n", n, lg_hist_pct_ms(&a->k2r, 50));
        printf("%s_k2r_p99: %.2f ms\n", n, lg_hist_pct_ms(&a->k2r, 99));
        printf("%s_k2r_samples: %llu keystrokes\n", n, (unsigned long long)a->k2r.n);
    }
    double srv = sh->p1.cpu_s - sh->p0.cpu_s;
    if (cfg->server_pid) {
        printf("%s_server_cpu: %.2f s\n", n, srv);
        printf("%s_server_cpu_util: %.0f %%\n", n, 100.0 * srv / d);
        printf("%s_server_peak_rss: %.1f MiB\n", n, (double)sh->p1.hwm_kib / 1024);
    }
    printf("%s_loadgen_cpu_util: %.0f %% (%d procs)\n", n, 100.0 * a->cpu_s / d,
           cfg->procs);
    if (sh->m0 >= 0 && sh->m1 >= 0) {
        double other = sh->m1 - sh->m0 - a->cpu_s - (cfg->server_pid ? srv : 0);
        printf("%s_other_cpu_util: %.0f %% (other processes, of %ld cores)\n", n,
               100.0 * (other > 0 ? other : 0) / d, sysconf(_SC_NPROCESSORS_ONLN));
    }
}

/* Idle: everyone joined, nothing typed. What one more idle connection
 * costs: the server's RSS growth from half the clients to all of them (both
 * settled), per connection. The growth from nothing to all of them, which
 * also holds the fixed costs of a first use, is printed beside it. */
static void report_idle(const lg_config *cfg, const lg_shared *sh,
                        const lg_proc *before)
{
    int second = cfg->clients - cfg->clients / 2;
    double per = (double)(sh->p1.rss_kib - sh->pmid.rss_kib) / second;
    double all = (double)(sh->p1.rss_kib - before->rss_kib) / cfg->clients;
    printf("%s_connections: %d conns\n", cfg->name, cfg->clients);
    printf("%s_server_rss: %.1f MiB (%.1f MiB before connecting, %.1f MiB at half)\n",
           cfg->name, (double)sh->p1.rss_kib / 1024, (double)before->rss_kib / 1024,
           (double)sh->pmid.rss_kib / 1024);
    printf("%s_mem_per_conn: %.2f KiB\n", cfg->name, per);
    printf("%s_mem_per_conn_from_zero: %.2f KiB\n", cfg->name, all);
}

int lg_run(const lg_config *cfg)
{
    size_t typing = cfg->mode == LG_PACED ? (size_t)cfg->clients : 0;
    size_t size = sizeof(lg_shared) + typing * sizeof(lg_typing);
    lg_shared *sh = mmap(NULL, size, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[LG_MAX_PROCS];
    lg_proc before;
    int failed = 0;
    if (sh == MAP_FAILED) {
        perror("loadgen: mmap");
        return -1;
    }
    for (size_t i = 0; i < typing; i++)
        for (int k = 0; k < LG_OP_RING; k++) sh->typing[i].ops[k].seq = -1;
    sh->m0 = sh->m1 = -1;
    raise_fd_limit();
    memset(&before, 0, sizeof before);
    if (cfg->server_pid && lg_proc_read(cfg->server_pid, &before) < 0) {
        fprintf(stderr, "loadgen: cannot read /proc/%d\n", cfg->server_pid);
        munmap(sh, size);
        return -1;
    }
    fflush(stdout);
    for (int w = 0; w < cfg->procs; w++) {
        if ((pids[w] = fork()) == 0) _exit(lg_worker(cfg, sh, w) < 0 ? 1 : 0);
        if (pids[w] < 0) {
            perror("loadgen: fork");
            __atomic_store_n(&sh->failed, 1, __ATOMIC_SEQ_CST);
            for (int v = 0; v < w; v++) waitpid(pids[v], NULL, 0);
            munmap(sh, size);
            return -1;
        }
    }
    for (int w = 0; w < cfg->procs; w++) {
        int st = 0;
        if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            failed = 1;
    }
    failed |= sh->failed;
    if (!failed) {
        if (cfg->mode == LG_IDLE) {
            report_idle(cfg, sh, &before);
        } else {
            lg_counts *all = malloc(sizeof *all);
            if (all) merge(cfg, sh, all), report_load(cfg, sh, all);
            free(all);
        }
    }
    munmap(sh, size);
    return failed ? -1 : 0;
}
