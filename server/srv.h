/* srv.h -- the Chorus server: configuration, and the state every part of
 * server/ shares.
 *
 * Threads: one lws service thread runs every callback and owns every struct
 * below; the storage writer (group commit) and the reader pool run SQLite
 * off that thread and hand results back through store_*_drain() after
 * waking it with lws_cancel_service(). Nothing here is touched by another
 * thread, so nothing here is locked.
 *
 * Map: main.c (CLI) -> serve.c (srv_run: context, loop, shutdown);
 * http.c (routing, responses) with static.c (web/ files) and api.c (JSON
 * API, /metrics); net/ (connections, frames, out queues, the connection
 * side of chorus.v1: net/net.h); collab/ (chorus.v1 messages and one
 * session per open document: OT ordering, persistence: collab/collab.h). */
#ifndef CHORUS_SERVER_SRV_H
#define CHORUS_SERVER_SRV_H

#include <stddef.h>
#include <stdint.h>

#define SRV_VERSION_STRING "chorus " CHORUS_VERSION
#define SRV_SUBPROTOCOL "chorus.v1"
#define SRV_MAX_ORIGINS 16
#define SRV_MAX_HOSTS 16

typedef struct srv_config {
    const char *bind;       /* address to listen on */
    int port;
    const char *data_dir;   /* DATA/chorus.db lives here */
    const char *web_dir;    /* static files; NULL: found beside the binary */
    const char *origins[SRV_MAX_ORIGINS]; /* allowed Origin values */
    int norigins;           /* 0: the server's own origin only */
    const char *hosts[SRV_MAX_HOSTS]; /* more Host names to answer ('*': any) */
    int nhosts;             /* besides the bind address, loopback names and
                               the hosts of 'origins' (gate.c) */
    size_t max_message;     /* bytes, whole client message */
    size_t queue_bytes;     /* per-connection out queue bound */
    size_t max_doc_chars;   /* code points a document may grow to */
    int ops_per_sec;        /* per connection, burst twice that */
    int docs_per_conn;
    int conns_per_ip;
    int idle_timeout;       /* seconds without traffic before ping; hang-up at 2x */
    int hello_timeout;      /* seconds a new connection has to say hello */
    int unload_after;       /* seconds an empty session stays loaded */
    int snapshot_every;     /* ops between snapshots */
    int sync_full;          /* 1: synchronous=FULL (default), 0: NORMAL */
    int wal_prealloc_mib;   /* an empty WAL is filled to this (default 64) */
    int history_window;     /* ops kept in memory per session for transforms */
    int auth;               /* team mode: 1 on, 0 off, -1 auto (on unless
                               bound to loopback) */
    const char *tls_cert;   /* PEM files: serve https/wss on the same port */
    const char *tls_key;
} srv_config;

/* Fill 'cfg' with the defaults (loopback:8080, ./data, 1 MiB messages...). */
void srv_config_init(srv_config *cfg);

/* Run the server until SIGINT/SIGTERM. Returns 0 after a clean stop (every
 * acknowledged write is on disk), 1 when it could not start (one line on
 * stderr says why). */
int srv_run(const srv_config *cfg);

#endif
