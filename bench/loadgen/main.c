/* main.c -- `loadgen`: command line of the Chorus load generator.
 *
 *   loadgen --port P --clients N [--docs D] --mode closed|paced|idle
 *           [--rate K] [--warmup S] [--duration S] [--server-pid PID]
 *           [--src 127.0.0.2,127.0.0.3] [--procs K] [--name NAME] ...
 *
 * Prints one `NAME_figure: value unit` line a figure on stdout; exit 0, or
 * 1 when the run failed (the reason is on stderr) or the flags are wrong. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/lg.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port P --clients N --mode closed|paced|idle [flags]\n"
            "  --host H          server address (default 127.0.0.1)\n"
            "  --port2 P2        odd clients connect to port P2 (authors\n"
            "                    split across two nodes of a cluster)\n"
            "  --path P          WebSocket path (default /ws); %%s in it is the\n"
            "                    client's document id (/ws?doc=%%s for a proxy)\n"
            "  --proto P         chorus (chorus.v1, default) or sharedb (ShareDB's\n"
            "                    protocol, collection \"docs\", type text-unicode)\n"
            "  --docs D          documents; client i joins doc i %% D (default 1)\n"
            "  --doc-prefix S    document ids are S<index> (default lg-<pid>-)\n"
            "  --rate K          paced: keystrokes/s per client (default 2)\n"
            "  --prefill C       each document's first client inserts C characters\n"
            "                    before the other clients join\n"
            "  --warmup S        seconds before measuring (default 1)\n"
            "  --duration S      seconds measured; idle: settle time (default 5)\n"
            "  --server-pid PID  read the server's CPU and memory from /proc\n"
            "  --src A,B,...     source addresses, round robin (127.0.0.x)\n"
            "  --window W        connections opened at once, per process (default 200)\n"
            "  --procs K         worker processes sharing the clients (default 1)\n"
            "  --name NAME       prefix of every figure (default loadgen)\n");
}

static int split_src(char *list, lg_config *cfg)
{
    int n = 1;
    for (char *p = list; *p; p++) n += *p == ',';
    cfg->src = calloc((size_t)n, sizeof *cfg->src);
    if (!cfg->src) return -1;
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ","))
        cfg->src[cfg->nsrc++] = t;
    return 0;
}

static int parse(int argc, char **argv, lg_config *cfg)
{
    static const struct option opts[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},   {"path", 1, 0, 'P'},
        {"clients", 1, 0, 'n'},  {"docs", 1, 0, 'd'},   {"doc-prefix", 1, 0, 'x'},
        {"mode", 1, 0, 'm'},     {"rate", 1, 0, 'r'},   {"warmup", 1, 0, 'w'},
        {"duration", 1, 0, 't'}, {"server-pid", 1, 0, 's'}, {"src", 1, 0, 'S'},
        {"window", 1, 0, 'W'},   {"name", 1, 0, 'N'},   {"procs", 1, 0, 'k'},
        {"proto", 1, 0, 'o'},   {"prefill", 1, 0, 'F'},
        {"port2", 1, 0, '2'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h': cfg->host = optarg; break;
        case 'p': cfg->port = atoi(optarg); break;
        case '2': cfg->port2 = atoi(optarg); break;
        case 'P': cfg->path = optarg; break;
        case 'n': cfg->clients = atoi(optarg); break;
        case 'd': cfg->docs = atoi(optarg); break;
        case 'x': cfg->doc_prefix = optarg; break;
        case 'm':
            if (strcmp(optarg, "closed") == 0) cfg->mode = LG_CLOSED;
            else if (strcmp(optarg, "paced") == 0) cfg->mode = LG_PACED;
            else if (strcmp(optarg, "idle") == 0) cfg->mode = LG_IDLE;
            else return -1;
            break;
        case 'r': cfg->rate = atof(optarg); break;
        case 'w': cfg->warmup_s = atof(optarg); break;
        case 't': cfg->duration_s = atof(optarg); break;
        case 's': cfg->server_pid = atoi(optarg); break;
        case 'S': if (split_src(optarg, cfg) < 0) return -1; break;
        case 'W': cfg->connect_window = atoi(optarg); break;
        case 'N': cfg->name = optarg; break;
        case 'k': cfg->procs = atoi(optarg); break;
        case 'F': cfg->prefill = atoi(optarg); break;
        case 'o':
            if (strcmp(optarg, "chorus") == 0) cfg->proto = LG_CHORUS;
            else if (strcmp(optarg, "sharedb") == 0) cfg->proto = LG_SHAREDB;
            else return -1;
            break;
        default: return -1;
        }
    }
    if (optind != argc || cfg->port <= 0 || cfg->clients <= 0 ||
        cfg->docs <= 0 || cfg->rate <= 0 || cfg->duration_s <= 0 ||
        cfg->warmup_s < 0 || cfg->connect_window <= 0 || cfg->procs < 1 ||
        cfg->prefill < 0 || cfg->prefill > 4000000 ||
        cfg->procs > LG_MAX_PROCS || cfg->procs > cfg->clients)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static char prefix[48], run_id[32];
    lg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.path = "/ws";
    cfg.docs = 1;
    cfg.mode = -1;
    cfg.rate = 2;
    cfg.warmup_s = 1;
    cfg.duration_s = 5;
    cfg.connect_window = 200;
    cfg.procs = 1;
    cfg.name = "loadgen";
    /* ids unique across runs against one server: pid and start time */
    snprintf(run_id, sizeof run_id, "%d%ld", (int)getpid(), (long)time(NULL) % 100000);
    snprintf(prefix, sizeof prefix, "lg-%s-", run_id);
    cfg.run_id = run_id;
    cfg.doc_prefix = prefix;
    if (parse(argc, argv, &cfg) < 0 || cfg.mode < 0) {
        usage();
        return 2;
    }
    if (cfg.mode == LG_IDLE) cfg.warmup_s = 0;
    int rc = lg_run(&cfg);
    free(cfg.src);
    return rc < 0 ? 1 : 0;
}
