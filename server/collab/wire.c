/* wire.c -- chorus.v1 on the wire: the messages the server sends (built
 * here and nowhere else) and the small decoders the connection side uses
 * on what clients send. docs/protocol.md is the contract.
 *
 * A message is built once and shared by reference (srv_msg): a broadcast
 * to a thousand members is one text. The hot ones (ack, op) are written as
 * text around their parts, with no JSON tree: an op's wire form is stored
 * as text and put in unparsed; ids are of a JSON-safe alphabet (callers
 * pass validated ones) and names are quoted by jansson. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/collab/collab.h"

/* ---- messages */

srv_msg *srv_msg_new(const char *json, size_t len)
{
    srv_msg *m = malloc(sizeof *m);
    if (!m) return NULL;
    m->buf = malloc(SRV_MSG_PRE + len + 1);
    if (!m->buf) {
        free(m);
        return NULL;
    }
    memcpy(m->buf + SRV_MSG_PRE, json, len);
    m->buf[SRV_MSG_PRE + len] = 0;
    m->len = len;
    m->refs = 1;
    m->whole = 0;
    return m;
}

srv_msg *srv_msg_take(json_t *obj)
{
    if (!obj) return NULL;
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) return NULL;
    srv_msg *m = srv_msg_new(s, strlen(s));
    free(s);
    return m;
}

void srv_msg_unref(srv_msg *m)
{
    if (m && --m->refs == 0) {
        free(m->buf);
        free(m);
    }
}

/* ---- encoders */

srv_msg *srv_wire_ack(const char *doc, int64_t seq, int64_t version)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf,
                     "{\"type\":\"ack\",\"doc\":\"%s\",\"seq\":%lld,\"version\":%lld}",
                     doc, (long long)seq, (long long)version);
    if (n < 0 || (size_t)n >= sizeof buf) return NULL;
    return srv_msg_new(buf, (size_t)n);
}

srv_msg *srv_wire_op(const char *doc, int64_t version, const char *wire,
                     const char *client, int64_t seq, const char *user)
{
    json_t *u = json_string(user);
    char *quoted = u ? json_dumps(u, JSON_ENCODE_ANY) : NULL;
    json_decref(u);
    if (!quoted) return NULL;
    size_t cap = strlen(doc) + strlen(wire) + strlen(client) + strlen(quoted) + 128;
    char *buf = malloc(cap);
    srv_msg *m = NULL;
    if (buf) {
        int n = snprintf(buf, cap,
                         "{\"type\":\"op\",\"doc\":\"%s\",\"version\":%lld,\"op\":%s,"
                         "\"client\":\"%s\",\"seq\":%lld,\"user\":{\"name\":%s}}",
                         doc, (long long)version, wire, client, (long long)seq, quoted);
        if (n > 0 && (size_t)n < cap) m = srv_msg_new(buf, (size_t)n);
    }
    free(buf);
    free(quoted);
    return m;
}

static json_t *user_json(const char *name, const char *color)
{
    json_t *u = json_pack("{s:s}", "name", name);
    if (u && color) json_object_set_new(u, "color", json_string(color));
    return u;
}

srv_msg *srv_wire_presence(const char *doc, const char *client,
                           const char *name, const char *color,
                           int64_t version, int has_cursor, uint32_t anchor,
                           uint32_t head)
{
    json_t *cur = has_cursor ? json_pack("{s:I,s:I}", "anchor", (json_int_t)anchor,
                                         "head", (json_int_t)head)
                             : json_null();
    return srv_msg_take(json_pack("{s:s,s:s,s:s,s:o,s:I,s:o}", "type",
                                  "presence", "doc", doc, "client", client,
                                  "user", user_json(name, color), "version",
                                  (json_int_t)version, "cursor", cur));
}

srv_msg *srv_wire_left(const char *doc, const char *client, const char *name,
                       const char *color, int64_t version)
{
    return srv_msg_take(json_pack("{s:s,s:s,s:s,s:o,s:I,s:n,s:b}", "type",
                                  "presence", "doc", doc, "client", client,
                                  "user", user_json(name, color), "version",
                                  (json_int_t)version, "cursor", "left", 1));
}

srv_msg *srv_wire_joined(const char *doc, int64_t version, const char *text,
                         size_t bytes)
{
    if (!text)
        return srv_msg_take(json_pack("{s:s,s:s,s:I}", "type", "joined", "doc",
                                      doc, "version", (json_int_t)version));
    json_t *jt = json_stringn(text, bytes);
    if (!jt) return NULL;
    return srv_msg_take(json_pack("{s:s,s:s,s:I,s:o}", "type", "joined", "doc",
                                  doc, "version", (json_int_t)version, "text",
                                  jt));
}

srv_msg *srv_wire_error(const char *code, const char *message,
                        const char *doc, int64_t seq)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code,
                          "message", message);
    if (o && doc) json_object_set_new(o, "doc", json_string(doc));
    if (o && seq >= 0) json_object_set_new(o, "seq", json_integer(seq));
    return srv_msg_take(o);
}

srv_msg *srv_wire_welcome(const char *client, const char *name,
                          const char *color, const char *server,
                          const srv_wire_limits *l, const char *mode)
{
    json_t *limits = json_pack("{s:I,s:i,s:i,s:I,s:i}", "max_message",
                               (json_int_t)l->max_message, "ops_per_sec",
                               l->ops_per_sec, "docs_per_conn",
                               l->docs_per_conn, "queue_bytes",
                               (json_int_t)l->queue_bytes, "idle_timeout",
                               l->idle_timeout);
    return srv_msg_take(json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:o,s:s}", "type",
                                  "welcome", "client", client, "user", "name",
                                  name, "color", color, "server", server,
                                  "limits", limits, "mode", mode));
}

/* ---- decoding */

static int id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

int srv_valid_doc_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i])) return 0;
    return 1;
}

int srv_valid_client_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SRV_CLIENT_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]) && s[i] != ':') return 0;
    return 1;
}

int srv_wire_uint(const json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = json_integer_value(v);
    return 1;
}

size_t srv_wire_span(const json_t *wire)
{
    size_t i, span = 0;
    json_t *v;
    json_array_foreach(wire, i, v) {
        json_int_t n = json_is_integer(v) ? json_integer_value(v)
                     : json_is_real(v) ? (json_int_t)json_real_value(v) : 0;
        span += (size_t)(n < 0 ? -n : n);
    }
    return span;
}

static const char *palette[] = {
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080",
    "#f032e6", "#9a6324", "#800000", "#808000", "#000075", "#469990",
};

void srv_wire_color(const char *client, char out[8])
{
    uint32_t h = 2166136261u;
    for (const char *p = client; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    snprintf(out, 8, "%s", palette[h % (sizeof palette / sizeof palette[0])]);
}
