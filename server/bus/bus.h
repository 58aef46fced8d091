/* bus.h -- Redis pub/sub between the nodes of a cluster (cluster mode).
 *
 * After a commit a node publishes the committed op on one channel; every
 * node subscribes to it at start (so before it loads any document) and
 * hands what it receives to the event loop, which applies it to the open
 * document when it is the next version and otherwise reads the store
 * (collab.h: srv_docs_remote, srv_docs_poke). Pub/sub is at-most-once and
 * Redis may be down: nothing here is needed for correctness, only for
 * speed. While the subscription is down the loop polls the store for every
 * open document, and when it comes back (or at first connection) the loop
 * is told to resynchronise them all (srv_bus_take_resync).
 *
 * Threads: hiredis 0.14 blocks, so the bus runs two threads of its own,
 * one publishing (a bounded queue; on overflow messages are dropped and
 * counted) and one subscribed; each reconnects with backoff. Messages
 * received wait in a list that the loop drains (srv_bus_drain) after
 * wake(arg) told it to. Nothing here touches a session. */
#ifndef CHORUS_SERVER_BUS_H
#define CHORUS_SERVER_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct srv_bus srv_bus;

enum {
    SRV_BUS_OP = 1,               /* a committed op: rec */
    SRV_BUS_PRESENCE,             /* a member joined, moved or left: pres */
    SRV_BUS_ALIVE,                /* the node is there (once a second) */
    SRV_BUS_YIELD                 /* a node keeps losing the race to append
                                     to doc: let it commit once */
};

/* A member's presence on the bus (the node is the message's). */
typedef struct srv_bus_presence {
    const char *doc, *client, *name, *color;
    int64_t version;
    int has_cursor, left;
    uint32_t anchor, head;
} srv_bus_presence;

/* One received message: its strings point into it (freed with it). */
typedef struct srv_bus_msg {
    struct srv_bus_msg *next;
    int kind;                     /* SRV_BUS_* */
    store_oprec rec;              /* SRV_BUS_OP */
    srv_bus_presence pres;        /* SRV_BUS_PRESENCE */
    const char *doc;              /* SRV_BUS_YIELD */
    char node[40];                /* the publishing node */
    void *root;                   /* owned: the parsed JSON they point into */
} srv_bus_msg;

typedef struct srv_bus_stats {
    int up;                       /* subscribed now */
    uint64_t published, dropped, received, bad, reconnects;
} srv_bus_stats;

/* Parse "redis://host[:port][/db]" (db ignored: pub/sub is global) into
 * host (cap bytes) and *port. 0, or -1 with why in err. */
int srv_bus_parse_url(const char *url, char *host, size_t cap, int *port,
                      char *err, size_t errlen);

/* Start the bus to 'url' as node 'node' (a short id, in every message).
 * It connects in the background: a Redis that is down is not an error.
 * wake(arg) is called from the bus's threads when messages or a resync
 * wait. NULL on a bad URL or out of memory (err says). */
srv_bus *srv_bus_new(const char *url, const char *node,
                     void (*wake)(void *arg), void *arg, char *err,
                     size_t errlen);

/* Queue the committed op 'r' for publication (any thread; never blocks). */
void srv_bus_publish(srv_bus *b, const store_oprec *r);
/* The same for a member's presence, and for "this node is alive". */
void srv_bus_publish_presence(srv_bus *b, const srv_bus_presence *p);
void srv_bus_publish_alive(srv_bus *b);
/* Ask the other nodes to hold their appends to 'doc' until they hear this
 * node's next commit of it (collab.h: srv_docs_remote_yield). */
void srv_bus_publish_yield(srv_bus *b, const char *doc);
/* This bus's node name (as given). */
const char *srv_bus_node(const srv_bus *b);

/* The received messages, oldest first (NULL if none); free each with
 * srv_bus_msg_free. */
srv_bus_msg *srv_bus_drain(srv_bus *b);
void srv_bus_msg_free(srv_bus_msg *m);

/* 1 once after each (re)subscription: the loop resynchronises its open
 * documents then. */
int srv_bus_take_resync(srv_bus *b);

void srv_bus_stats_get(srv_bus *b, srv_bus_stats *out);

/* Stop both threads and free. NULL is fine. */
void srv_bus_free(srv_bus *b);

#endif
