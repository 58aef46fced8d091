/* serve.c -- `chorus serve` once its flags are parsed (flags.c): the
 * composition root, which makes the lws context, the storage writer and
 * pools and wires the rooms to them, then runs the service loop until a
 * clean stop.
 *
 * Start-up refuses, with one line on stderr and exit 1, what would
 * otherwise fail later: a data dir that cannot be written, a database newer
 * than the binary, a port already taken, a web dir without index.html.
 * Stop (SIGINT/SIGTERM): close every client with 1001, let the writer commit
 * everything queued, then destroy the context; exit 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/api/api.h"
#include "server/auth/auth.h"
#include "server/cli/cli.h"
#include "server/net/net.h"
#include "server/base/base.h"

srv srv__g;

/* Loopback addresses: where open mode is the safe default. */
static int is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strcmp(addr, "localhost") == 0;
}

/* ---- finding web/ */

static int has_index(const char *dir, char *real, size_t len)
{
    char path[PATH_MAX + 16], r[PATH_MAX];
    if (!realpath(dir, r) || strlen(r) >= len) return 0;
    snprintf(path, sizeof path, "%s/index.html", r);
    if (access(path, R_OK) != 0) return 0;
    strcpy(real, r);
    return 1;
}

/* The web dir: --web, else beside the binary (build/chorus -> ../web,
 * build/asan/chorus -> ../../web), else
 * where `make install` put it (bin/chorus -> ../share/chorus/web). */
static int find_web_root(const char *flag, char *out, size_t len)
{
    char exe[PATH_MAX], cand[PATH_MAX + 32];
    if (flag) {
        if (has_index(flag, out, len)) return 0;
        fprintf(stderr, "chorus: --web %s: no index.html there\n", flag);
        return -1;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        /* build/chorus, build/asan/chorus, PREFIX/bin/chorus */
        static const char *rel[] = {"/../web", "/../../web",
                                    "/../share/chorus/web"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
            if (has_index(cand, out, len)) return 0;
        }
    }
    fprintf(stderr, "chorus: cannot find the web files (index.html); "
                    "pass --web DIR\n");
    return -1;
}

/* ---- start-up checks */

/* Try the address ourselves first, so "in use" is one clear line. */
static int check_port(const char *bind_addr, int port)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    struct sockaddr *sa;
    socklen_t salen;
    int fam;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, bind_addr, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&a4, salen = sizeof a4, fam = AF_INET;
    } else if (inet_pton(AF_INET6, bind_addr, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&a6, salen = sizeof a6, fam = AF_INET6;
    } else {
        fprintf(stderr, "chorus: --bind %s: not an IPv4 or IPv6 address\n",
                bind_addr);
        return -1;
    }
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) return 0; /* let lws report it */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, sa, salen);
    int e = errno;
    close(fd);
    if (rc == 0) return 0;
    fprintf(stderr, "chorus: cannot listen on %s:%d: %s\n", bind_addr, port,
            e == EADDRINUSE ? "address already in use" : strerror(e));
    return -1;
}

/* The database opens (created, migrated) before anything else starts,
 * and the server key is read from it (or made). */
static int open_database(const char *data_dir, char *path, size_t len)
{
    store *s = srv_cli_db_open(data_dir, 1, path, len);
    int rc = s ? srv_auth_init(s, path) : -1;
    store_close(s);
    return rc;
}

/* ---- the loop */

static void on_signal(int sig)
{
    (void)sig;
    srv__g.stopping = 1;
    if (srv__g.ctx) lws_cancel_service(srv__g.ctx);
}

static int check_tls(const srv_config *cfg)
{
    if (!cfg->tls_cert && !cfg->tls_key) return 0;
    if (!cfg->tls_cert || !cfg->tls_key) {
        fprintf(stderr, "chorus: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (access(cfg->tls_cert, R_OK) < 0 || access(cfg->tls_key, R_OK) < 0) {
        fprintf(stderr, "chorus: cannot read %s: %s\n",
                access(cfg->tls_cert, R_OK) < 0 ? cfg->tls_cert : cfg->tls_key,
                strerror(errno));
        return -1;
    }
    return 0;
}

static lws_sorted_usec_list_t tick_sul;

/* After connections, documents, commits or indexing come or go, hand the
 * heap's free pages back to the system (a join storm leaves handshake
 * buffers, queues and texts behind): once on the tick that sees the
 * change, and once more when the storage threads have had time to give
 * their idle page caches back (STORE__IDLE_MS). An idle or a steady server
 * never pays for it. */
#define TRIM_AGAIN_MS 3000

static void trim_heap(uint64_t now_ms)
{
    static uint64_t seen[5], again_ms;
    uint64_t now[5] = {srv__g.metrics.conns_total, (uint64_t)srv__g.nconns,
                       srv_docs_count(srv__g.docs), srv__g.metrics.commits,
                       srv__g.indexed_total};
    if (memcmp(now, seen, sizeof now) != 0) {
        memcpy(seen, now, sizeof now);
        again_ms = now_ms + TRIM_AGAIN_MS;
        malloc_trim(0);
    } else if (again_ms && now_ms >= again_ms) {
        again_ms = 0;
        malloc_trim(0);
    }
}

/* ---- the trash: purge what has been there --trash-days */

#define EXPIRE_EVERY_MS (3600 * 1000)

typedef struct expire_task {
    srv_task t;
    int64_t before_ms;
    int64_t purged;
} expire_task;

static int run_expire(store *st, store_task *base)
{
    expire_task *e = (expire_task *)base;
    return store_trash_expire(st, e->before_ms, &e->purged);
}

static void expire_done(srv_task *t)
{
    expire_task *e = (expire_task *)t;
    if (t->base.result < 0)
        srv_warn("purging the trash failed: %s (again in an hour)",
                 store_strerror(t->base.result));
    else if (e->purged)
        srv_info("purged %lld documents trashed over %d days ago",
                 (long long)e->purged, srv__g.cfg.trash_days);
    free(e);
}

/* At the first tick, then hourly: a pool task purges the old trash. */
static void expire_trash(uint64_t now_ms)
{
    static uint64_t next_ms;
    if (srv__g.cfg.trash_days <= 0 || now_ms < next_ms) return;
    next_ms = now_ms + EXPIRE_EVERY_MS;
    expire_task *e = calloc(1, sizeof *e);
    if (!e) return;
    e->before_ms = (int64_t)srv_wall_ms() -
                   (int64_t)srv__g.cfg.trash_days * 86400 * 1000;
    e->t.base.run = run_expire;
    e->t.done = expire_done;
    if (srv_task_submit(&e->t) < 0) free(e);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    uint64_t now = srv_mono_ms();
    expire_trash(now);
    srv__index_tick();
    srv__cluster_tick(now);
    srv_docs_tick(srv__g.docs, now);
    srv__rights_tick(srv_wall_ms());
    trim_heap(now);
    lws_sul_schedule(srv__g.ctx, 0, sul, on_tick, LWS_US_PER_SEC);
}

static struct lws_protocols protocols[] = {
    {"http", srv__http_callback, sizeof(void *), 1024, 0, NULL, 0},
    /* rx_buffer_size: lws allocates it for every connection (most sit
     * idle), messages arrive in pieces of that size and ws.c joins them.
     * tx_packet_size: what one send() may take; left 0 it would be the
     * receive buffer's size, and a batch would leave in 256-byte sends. */
    {SRV_SUBPROTOCOL, srv__ws_callback, sizeof(void *), 256, 0, NULL,
     4u << 20},
    {NULL, NULL, 0, 0, 0, NULL, 0}
};

static const struct lws_http_mount mount = {
    .mountpoint = "/",
    .mountpoint_len = 1,
    .origin_protocol = LWSMPRO_CALLBACK,
    .protocol = "http",
    .origin = "http",
};

static lws_retry_bo_t retry;

/* HTTP: net's environment (the "http" protocol's user pointer) and the
 * API's, which net reaches only through http_env.route. */
static srv_api_env api_env;
static srv_map api_rate; /* HTTP writes' buckets: the process's lifetime */
static srv_http_env http_env;
static srv_authors_cache api_authors; /* GET .../authors checkpoints */

static void api_gauges(srv_api_gauges *g)
{
    g->conns = srv__g.nconns;
    g->open_docs = srv_docs_count(srv__g.docs);
    g->queued_bytes = srv__g.queued_bytes;
    if (srv__g.bus) {
        srv_bus_stats bs;
        srv_docs_stats ds;
        srv_bus_stats_get(srv__g.bus, &bs);
        srv_docs_stats_get(srv__g.docs, &ds);
        g->cluster = 1;
        g->bus_up = bs.up;
        g->bus_published = bs.published;
        g->bus_received = bs.received;
        g->bus_dropped = bs.dropped;
        g->bus_polls = srv__g.bus_polls;
        g->remote_ops = ds.remote_ops;
        g->catchups = ds.catchups;
        g->heard_catchups = ds.heard_catchups;
        g->conflicts = ds.conflicts;
        g->yields = ds.yields;
    }
}

/* Once the context and the pools exist, before the loop serves anything. */
static void wire_http(void)
{
    api_env.cfg = &srv__g.cfg;
    api_env.tls = srv__g.tls;
    api_env.pool = srv__g.pool;
    api_env.submit_auth = srv_task_submit_auth;
    api_env.writer = srv__g.writer;
    api_env.docs = srv__g.docs;
    srv_map_init(&api_rate);
    api_env.rate = &api_rate;
    api_env.metrics = &srv__g.metrics;
    api_env.gauges = api_gauges;
    api_env.rights_changed = srv_rights_changed;
    srv_authors_cache_init(&api_authors, SRV_AUTHORS_CACHE_BYTES);
    api_env.authors = &api_authors;
    http_env.cfg = &srv__g.cfg;
    http_env.web_root = srv__g.web_root;
    http_env.route = srv_api_route;
    http_env.route_arg = &api_env;
    http_env.wake = srv__drain;
}

static void lws_logger(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    srv_log(level == LLL_ERR ? SRV_LOG_ERROR : SRV_LOG_WARN, "lws: %.*s",
            (int)n, line);
}

static int create_context(void)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    retry.secs_since_valid_ping = (uint16_t)srv__g.cfg.idle_timeout;
    retry.secs_since_valid_hangup = (uint16_t)(srv__g.cfg.idle_timeout * 2 + 5);
    info.port = srv__g.cfg.port;
    info.iface = srv__g.cfg.bind;
    protocols[0].user = &http_env;
    info.protocols = protocols;
    info.mounts = &mount;
    info.retry_and_idle_policy = &retry;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_DISABLE_IPV6 * 0;
    info.max_http_header_data = 8192;
    info.timeout_secs = 30;
    info.fd_limit_per_thread = 0;
    info.pt_serv_buf_size = 64 * 1024;
    info.vhost_name = "chorus";
    /* HTTP/1.1 only, also over TLS: lws 4.1.6 ignores rx flow control on
     * HTTP/2 streams (which ws.c relies on against a stalled peer) and
     * leaves an HTTP/2 body without a length unanswered. Every response
     * here is small or one file, so multiplexing gains little. */
    info.alpn = "http/1.1";
    if (srv__g.cfg.tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = srv__g.cfg.tls_cert;
        info.ssl_private_key_filepath = srv__g.cfg.tls_key;
        srv__g.tls = 1;
    }
    info.user = &srv__g;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
    srv__g.ctx = lws_create_context(&info);
    if (!srv__g.ctx) {
        fprintf(stderr, "chorus: cannot start the server on %s:%d%s\n",
                srv__g.cfg.bind, srv__g.cfg.port,
                srv__g.cfg.tls_cert ? " (check --tls-cert and --tls-key)" : "");
        return -1;
    }
    return 0;
}

static void stop_clients(void)
{
    for (srv_conn *c = srv__g.conns; c; c = c->next)
        srv_conn_close(c, 1001, "server shutting down");
    double deadline = srv_now_s() + 3.0;
    while (srv__g.nconns > 0 && srv_now_s() < deadline)
        lws_service(srv__g.ctx, 0);
}

int srv_run(const srv_config *cfg)
{
    char err[512] = "";
    int rc = 1;
    memset(&srv__g, 0, sizeof srv__g);
    srv__g.cfg = *cfg;
    srv_map_init(&srv__g.ip_counts);
    if (find_web_root(cfg->web_dir, srv__g.web_root, sizeof srv__g.web_root) < 0 ||
        open_database(cfg->store_url ? cfg->store_url : cfg->data_dir,
                      srv__g.db_path, sizeof srv__g.db_path) < 0 ||
        check_tls(cfg) < 0 || check_port(cfg->bind, cfg->port) < 0 ||
        create_context() < 0)
        return 1;
    srv_auth_set_team(cfg->auth < 0 ? !is_loopback(cfg->bind) : cfg->auth);

    store_options opt;
    store_options_init(&opt);
    opt.sync = cfg->sync_full ? STORE_SYNC_FULL : STORE_SYNC_NORMAL;
    opt.snapshot_every = cfg->snapshot_every;
    opt.auto_snapshot = 0;
    opt.wal_prealloc_mib = cfg->wal_prealloc_mib;
    srv__g.writer = store_writer_new(srv__g.db_path, &opt, srv__wake, srv__g.ctx,
                                     err, sizeof err);
    if (srv__g.writer)
        srv__g.pool = store_pool_new(srv__g.db_path, &opt, 2, srv__wake, srv__g.ctx,
                                     err, sizeof err);
    if (srv__g.pool)
        srv__g.auth_pool = store_pool_new(srv__g.db_path, &opt, 2, srv__wake,
                                          srv__g.ctx, err, sizeof err);
    if (srv__g.auth_pool && srv__docs_start() < 0)
        snprintf(err, sizeof err, "out of memory");
    if (srv__g.docs && srv__cluster_start() < 0) {
        srv__docs_stop();
        goto out;
    }
    if (!srv__g.writer || !srv__g.pool || !srv__g.auth_pool || !srv__g.docs) {
        fprintf(stderr, "chorus: %s: %s\n", srv__g.db_path, err);
        goto out;
    }
    wire_http();
    if (srv__relay_ticker_start(srv__g.ctx) < 0) /* relays then go at once */
        srv_warn("cannot start the relay ticker: broadcasts are not batched");
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    lws_sul_schedule(srv__g.ctx, 0, &tick_sul, on_tick, LWS_US_PER_SEC);
    srv_info("%s listening on %s://%s:%d/ (%s mode; data %s, web %s)",
             SRV_VERSION_STRING, srv__g.tls ? "https" : "http", cfg->bind,
             cfg->port, srv_auth_team() ? "team" : "open", srv__g.db_path,
             srv__g.web_root);

    while (!srv__g.stopping)
        if (lws_service(srv__g.ctx, 0) < 0) break;

    srv_info("stopping: closing %d connections", srv__g.nconns);
    stop_clients();
    srv__docs_stop();
    rc = 0;
out:
    srv__cluster_stop();
    srv__relay_ticker_stop();
    lws_sul_cancel(&tick_sul);
    store_pool_free(srv__g.auth_pool);
    store_pool_free(srv__g.pool);
    store_writer_free(srv__g.writer);
    if (srv__g.ctx) lws_context_destroy(srv__g.ctx);
    srv__http_free_all(&http_env);
    srv_authors_cache_clear(&api_authors);
    srv_map_clear(&srv__g.ip_counts);
    if (rc == 0) srv_info("stopped cleanly");
    return rc;
}
