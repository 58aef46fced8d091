/* fuzz_proto.c -- every chorus.v1 client message, through proto.c and the
 * document sessions, on a real store (fuzz_env.h).
 *
 * An input is a script of lines. A line's first byte picks one of three
 * connections (byte % 4 in 0..2) and the rest of the line is one whole
 * message, handed to srv__proto_handle exactly as ws.c would after
 * reassembly; first byte % 4 == 3 is an action instead: the next byte
 * closes that connection (as a dropped socket would) and opens a new one in
 * its place. After each line the harness runs the storage threads to
 * completion (fenv_pump) and reads every connection's queue: each queued
 * message must be one JSON object with a string "type", an "error" must
 * carry a documented code, an "ack" a version >= 1. A connection the
 * server decided to close is closed as lws would. At the end every
 * connection goes, every session unloads, and `chorus check` must find the
 * database clean (fenv_reset). The sessions run behind their seam with the
 * server's own environment (fuzz_env.h); tests/test_srv_doc.c drives them
 * with a fake one. */
#include <stdint.h>

#include "fuzz/fuzz_env.h"

#define NCONN 3

static srv_conn *conns[NCONN];

static srv_conn *conn_new(int slot)
{
    srv_conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    static uint64_t next_id = 1;
    c->wsi = (struct lws *)(uintptr_t)(0x1000 + 16 * slot);
    c->id = next_id++;
    c->client = c->name = c->token = srv__no_str;
    srv_ring_init(&c->q, sizeof(srv_msg *));
    snprintf(c->ip, sizeof c->ip, "127.0.0.1");
    c->tokens = srv__g.cfg.ops_per_sec * 2.0;
    c->tokens_ms = srv_mono_ms();
    c->next = srv__g.conns;
    if (c->next) c->next->prev = c;
    srv__g.conns = c;
    srv__g.nconns++;
    return c;
}

static const char *codes[] = {
    "bad_json", "bad_message", "hello_required", "bad_doc_id", "not_joined",
    "bad_op", "version_ahead", "too_old", "rate_limited", "too_large",
    "forbidden", "access_revoked", "unauthorized", "server_error",
};

static void check_msg(json_t *m)
{
    json_t *t = json_object_get(m, "type");
    if (!json_is_object(m) || !json_is_string(t)) abort();
    const char *type = json_string_value(t);
    if (strcmp(type, "error") == 0) {
        const char *code = json_string_value(json_object_get(m, "code"));
        size_t i = 0;
        while (code && i < sizeof codes / sizeof codes[0] &&
               strcmp(code, codes[i]) != 0)
            i++;
        if (!code || i == sizeof codes / sizeof codes[0]) abort();
    } else if (strcmp(type, "ack") == 0) {
        if (json_integer_value(json_object_get(m, "version")) < 1) abort();
    }
}

/* Read (and free) what the server queued for 'c', as a client would. */
static void consume(srv_conn *c)
{
    while (c->q.len) {
        srv_msg *m;
        srv_ring_pop(&c->q, &m);
        c->q_bytes -= m->len;
        if (m->whole) c->q_whole -= m->len;
        srv__g.queued_bytes -= m->len;
        json_error_t e;
        json_t *v = json_loadb((const char *)m->buf + SRV_MSG_PRE, m->len, 0, &e);
        if (!v) {
            fprintf(stderr, "fuzz: the server sent bad JSON: %.*s\n",
                    (int)m->len, (const char *)m->buf + SRV_MSG_PRE);
            abort();
        }
        check_msg(v);
        json_decref(v);
        srv_msg_unref(m);
    }
}

/* What ws.c does on LWS_CALLBACK_CLOSED. */
static void conn_gone(int slot)
{
    srv_conn *c = conns[slot];
    srv__proto_closed(c);
    consume(c);
    if (c->prev) c->prev->next = c->next;
    else srv__g.conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv__g.nconns--;
    srv_ring_free(&c->q);
    free(c->rx);
    srv_conn_set_str(&c->client, NULL);
    srv_conn_set_str(&c->name, NULL);
    srv_conn_set_str(&c->token, NULL);
    free(c->joins);
    free(c);
    conns[slot] = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fenv_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int i = 0; i < NCONN; i++) conns[i] = conn_new(i);
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        if (end > pos) {
            int pick = data[pos] % 4;
            if (pick < NCONN) {
                /* A copy exactly 'len' long: no terminator to lean on. */
                size_t len = end - pos - 1;
                char *msg = malloc(len ? len : 1);
                if (!msg) abort();
                memcpy(msg, data + pos + 1, len);
                srv__proto_handle(conns[pick], msg, len);
                free(msg);
            } else if (end > pos + 1) {
                int slot = data[pos + 1] % NCONN;
                conn_gone(slot);
                conns[slot] = conn_new(slot);
            }
        }
        fenv_pump();
        for (int i = 0; i < NCONN; i++) {
            consume(conns[i]);
            if (conns[i]->close_code) { /* the server closed it */
                conn_gone(i);
                conns[i] = conn_new(i);
            }
        }
        pos = end + 1;
    }
    for (int i = 0; i < NCONN; i++) conn_gone(i);
    fenv_reset();
    return 0;
}
