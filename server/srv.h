/* srv.h -- the configuration of a Chorus server (srv_config) and the few
 * names every room of server/ shares: the version string, the WebSocket
 * subprotocol, the bounds of the configuration's arrays.
 *
 * A config is filled by srv_config_init and `chorus serve`'s flags (both
 * from the one flags table, server/cli/flags.c), handed to srv_run
 * (cli/serve.c), copied there once, and read-only from then on; its
 * strings are borrowed from argv, which outlives the server. Being plain
 * data with no behaviour, it sits above the rooms so that any of them may
 * read it: nothing here includes a room. */
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

/* Fill 'cfg' with the defaults of `chorus serve`'s flags (loopback:8080,
 * ./data, 1 MiB messages...): the flags table in server/cli/flags.c. */
void srv_config_init(srv_config *cfg);

#endif
