/* cluster.c -- cluster mode's bus on the loop thread (bus.h says why the
 * bus is only ever a hint).
 *
 * Received ops go to their open documents (srv_docs_remote); after each
 * (re)subscription every open document reads the store once (ops
 * published while this node was not listening were lost); while the bus is
 * down every open document reads the store every second, and while it is
 * up every CLUSTER_POLL_UP_S seconds (a message lost while subscribed
 * would otherwise leave a quiet document behind until its next op). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/net/net.h"

#define CLUSTER_POLL_UP_S 10
#define NODE_GONE_MS 5000         /* no word from a node: its members leave */
#define MAX_NODES 64

/* The other nodes heard of, and when last (the loop thread's). */
static struct {
    char name[40];
    uint64_t seen_ms;
} nodes[MAX_NODES];
static int nnodes;

static void heard(const char *node)
{
    uint64_t now = srv_mono_ms();
    for (int i = 0; i < nnodes; i++)
        if (strcmp(nodes[i].name, node) == 0) {
            nodes[i].seen_ms = now;
            return;
        }
    if (nnodes == MAX_NODES) return; /* its members stay until it leaves */
    snprintf(nodes[nnodes].name, sizeof nodes[nnodes].name, "%s", node);
    nodes[nnodes++].seen_ms = now;
}

/* Nodes not heard of for NODE_GONE_MS: their members leave. */
static void forget_silent(uint64_t now)
{
    for (int i = nnodes - 1; i >= 0; i--) {
        if (now - nodes[i].seen_ms < NODE_GONE_MS) continue;
        srv_info("cluster: node %s is silent; its members leave",
                 nodes[i].name);
        srv_docs_node_gone(srv__g.docs, nodes[i].name);
        nodes[i] = nodes[--nnodes];
    }
}

int srv__cluster_start(void)
{
    char node[300], host[256] = "", err[256];
    if (!srv__g.cfg.bus_url) return 0;
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "%.200s:%d", host, srv__g.cfg.port);
    srv__g.bus = srv_bus_new(srv__g.cfg.bus_url, node, srv__wake, srv__g.ctx,
                             err, sizeof err);
    if (!srv__g.bus) {
        fprintf(stderr, "chorus: %s\n", err);
        return -1;
    }
    srv_info("cluster mode: bus %s, node %s", srv__g.cfg.bus_url, node);
    return 0;
}

void srv__cluster_stop(void)
{
    srv_bus_free(srv__g.bus);
    srv__g.bus = NULL;
}

void srv__cluster_drain(void)
{
    if (!srv__g.bus) return;
    const char *self = srv_bus_node(srv__g.bus);
    for (srv_bus_msg *m = srv_bus_drain(srv__g.bus), *n; m; m = n) {
        n = m->next;
        if (strcmp(m->node, self) != 0) {
            heard(m->node);
            if (m->kind == SRV_BUS_OP) {
                srv_docs_remote(srv__g.docs, &m->rec);
            } else if (m->kind == SRV_BUS_PRESENCE) {
                const srv_bus_presence *b = &m->pres;
                srv_presence_rec p = {b->doc, m->node, b->client, b->name,
                                      b->color, b->version, b->has_cursor,
                                      b->left, b->anchor, b->head};
                srv_docs_remote_presence(srv__g.docs, &p);
            } else if (m->kind == SRV_BUS_YIELD) {
                srv_docs_remote_yield(srv__g.docs, m->doc);
            }
        }
        srv_bus_msg_free(m);
    }
    if (srv_bus_take_resync(srv__g.bus)) {
        srv_docs_poke_all(srv__g.docs);
        srv_docs_presence_again(srv__g.docs);
    }
}

static void poll_all(void)
{
    srv__g.bus_polls++;
    srv_docs_poke_all(srv__g.docs);
}

void srv__cluster_tick(uint64_t now_ms)
{
    static uint64_t last_up_poll;
    srv_bus_stats st;
    if (!srv__g.bus) return;
    srv_bus_publish_alive(srv__g.bus);
    forget_silent(now_ms);
    srv_bus_stats_get(srv__g.bus, &st);
    if (st.up != srv__g.bus_was_up) {
        if (st.up) srv_info("bus %s: subscribed", srv__g.cfg.bus_url);
        else srv_warn("bus %s: down; open documents poll the store every "
                      "second until it is back", srv__g.cfg.bus_url);
        srv__g.bus_was_up = st.up;
    }
    if (!st.up) {
        poll_all();
    } else if (now_ms - last_up_poll >= CLUSTER_POLL_UP_S * 1000) {
        last_up_poll = now_ms;
        poll_all();
    }
}
