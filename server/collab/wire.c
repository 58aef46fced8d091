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

srv_msg *srv_wire_title(const char *doc, const char *title)
{
    return srv_msg_take(json_pack("{s:s,s:s,s:s}", "type", "title", "doc", doc,
                                  "title", title));
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

/* ---- decoding one message */

static void set_err(srv_wire_err *e, const char *code, const char *message,
                    const char *doc, int64_t seq)
{
    e->code = code;
    e->message = message;
    e->doc = doc;
    e->seq = seq;
}

static void decode_hello(srv_wire_in *in)
{
    json_t *cl = json_object_get(in->root, "client");
    json_t *nm = json_object_get(in->root, "name");
    json_t *tok = json_object_get(in->root, "token");
    if (!json_is_string(cl) || !srv_valid_client_id(json_string_value(cl))) {
        set_err(&in->err, "bad_message",
                "hello needs \"client\": 1-64 of A-Za-z0-9_.:-", NULL, -1);
        return;
    }
    if (nm && !json_is_null(nm) && !json_is_string(nm)) {
        set_err(&in->err, "bad_message", "\"name\" must be a string", NULL, -1);
        return;
    }
    if (tok && !json_is_null(tok) && !json_is_string(tok)) {
        set_err(&in->err, "bad_message", "\"token\" must be a string", NULL, -1);
        return;
    }
    in->client = json_string_value(cl);
    in->name = json_is_string(nm) ? json_string_value(nm) : "";
    if (ot_utf8_validate(in->name, strlen(in->name), &in->name_cps) < 0 ||
        in->name_cps > SRV_NAME_MAX || strlen(in->name) > SRV_NAME_MAX) {
        set_err(&in->err, "bad_message", "\"name\" is at most 64 characters",
                NULL, -1);
        return;
    }
    if (json_is_string(tok) && json_string_length(tok) < 64)
        in->token = json_string_value(tok);
}

/* The doc member: a valid id, or the problem in in->err (0). */
static int decode_doc(srv_wire_in *in)
{
    json_t *d = json_object_get(in->root, "doc");
    if (!json_is_string(d) || !srv_valid_doc_id(json_string_value(d))) {
        set_err(&in->err, "bad_doc_id",
                "doc ids are 1-64 of A-Za-z0-9_.- not starting with '.'",
                NULL, -1);
        return 0;
    }
    in->doc = json_string_value(d);
    return 1;
}

static void decode_join(srv_wire_in *in)
{
    if (!decode_doc(in)) return;
    json_t *share = json_object_get(in->root, "share");
    in->has_version = srv_wire_uint(in->root, "version", &in->version);
    if (in->has_version < 0 ||
        (share && !json_is_null(share) &&
         !(json_is_string(share) && json_string_length(share) < 256))) {
        set_err(&in->err, "bad_message",
                "\"version\" must be an integer >= 0, \"share\" a link token",
                in->doc, -1);
        return;
    }
    in->share = json_is_string(share) ? json_string_value(share) : NULL;
}

static void decode_op(srv_wire_in *in)
{
    if (!decode_doc(in)) return;
    if (srv_wire_uint(in->root, "seq", &in->seq) <= 0) {
        set_err(&in->err, "bad_message", "\"seq\" must be an integer >= 0",
                in->doc, -1);
        return;
    }
    if (srv_wire_uint(in->root, "version", &in->version) <= 0) {
        set_err(&in->err, "bad_message", "\"version\" must be an integer >= 0",
                in->doc, in->seq);
        return;
    }
    json_t *wire = json_object_get(in->root, "op");
    int rc = ot_op_from_json_strict(&in->op, wire);
    if (rc < 0) {
        snprintf(in->text, sizeof in->text, "bad op: %s", ot_strerror(rc));
        set_err(&in->late, "bad_op", in->text, in->doc, in->seq);
        return;
    }
    in->span = srv_wire_span(wire);
}

static void decode_presence(srv_wire_in *in)
{
    int64_t anchor = 0, head = 0;
    if (!decode_doc(in)) return;
    json_t *cur = json_object_get(in->root, "cursor");
    int ok = srv_wire_uint(in->root, "version", &in->version) > 0 && cur &&
             (json_is_null(cur) ||
              (json_is_object(cur) && srv_wire_uint(cur, "anchor", &anchor) > 0 &&
               srv_wire_uint(cur, "head", &head) > 0 && anchor <= UINT32_MAX &&
               head <= UINT32_MAX));
    if (!ok) {
        set_err(&in->late, "bad_message",
                "presence needs \"version\" and \"cursor\": null or "
                "{\"anchor\":n,\"head\":n}", in->doc, -1);
        return;
    }
    in->has_cursor = !json_is_null(cur);
    in->anchor = (uint32_t)anchor;
    in->head = (uint32_t)head;
}

static void decode_leave(srv_wire_in *in)
{
    decode_doc(in);
}

static const struct {
    const char *name;
    int type;
    void (*decode)(srv_wire_in *in);
} kinds[] = {
    {"op", SRV_IN_OP, decode_op},
    {"presence", SRV_IN_PRESENCE, decode_presence},
    {"join", SRV_IN_JOIN, decode_join},
    {"leave", SRV_IN_LEAVE, decode_leave},
    {"hello", SRV_IN_HELLO, decode_hello},
};

void srv_wire_decode(srv_wire_in *in, const char *data, size_t len)
{
    json_error_t jerr;
    memset(in, 0, sizeof *in);
    in->root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          &jerr);
    if (!in->root) {
        snprintf(in->text, sizeof in->text, "invalid JSON: %s", jerr.text);
        set_err(&in->err, "bad_json", in->text, NULL, -1);
        return;
    }
    json_t *t = json_object_get(in->root, "type");
    if (!json_is_object(in->root) || !json_is_string(t)) {
        set_err(&in->err, "bad_message", "a message is an object with a \"type\"",
                NULL, -1);
        return;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(json_string_value(t), kinds[i].name) == 0) {
            in->type = kinds[i].type;
            kinds[i].decode(in);
            return;
        }
    in->type = SRV_IN_UNKNOWN;
    set_err(&in->err, "bad_message", "unknown message type", NULL, -1);
}

void srv_wire_in_clear(srv_wire_in *in)
{
    ot_op_free(in->op);
    json_decref(in->root);
    in->op = NULL;
    in->root = NULL;
}
