/* scan.c -- a minimal JSON scanner for the server's messages.
 *
 * At tens of thousands of ops a second every one of N clients receives
 * every op, so building a jansson tree per message would make the load
 * generator, not the server, the thing measured. This scanner walks a frame
 * once, picks out the few members the generator uses (see lg_msg; chorus.v1
 * and ShareDB names) as spans, and skips every other value by matching
 * brackets outside strings. It checks structure as far as it walks and
 * reports malformed input; it does not decode escapes. */
#include <string.h>

#include "bench/loadgen/lg.h"

typedef struct cur {
    const char *p, *end;
} cur;

static void ws(cur *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* At an opening quote: the body span, and step past the closing quote. */
static int string(cur *c, lg_span *out)
{
    const char *s = ++c->p;
    while (c->p < c->end) {
        const char *q = memchr(c->p, '"', (size_t)(c->end - c->p));
        if (!q) return -1;
        size_t bs = 0; /* a quote after an odd run of backslashes is escaped */
        while (q - bs > s && q[-1 - (ptrdiff_t)bs] == '\\') bs++;
        c->p = q + 1;
        if (bs % 2 == 0) {
            if (out) out->p = s, out->n = (size_t)(q - s);
            return 0;
        }
    }
    return -1;
}

/* Skip any value; a number is parsed into *num when num is not NULL. */
static int value(cur *c, int64_t *num)
{
    ws(c);
    if (c->p >= c->end) return -1;
    char ch = *c->p;
    if (ch == '"') return string(c, NULL);
    if (ch == '{' || ch == '[') {
        int depth = 0;
        while (c->p < c->end) {
            ch = *c->p;
            if (ch == '"') {
                if (string(c, NULL) < 0) return -1;
                continue;
            }
            if (ch == '{' || ch == '[') depth++;
            else if (ch == '}' || ch == ']') depth--;
            c->p++;
            if (depth == 0) return 0;
        }
        return -1;
    }
    int neg = 0;
    int64_t v = 0;
    const char *s = c->p;
    if (ch == '-') neg = 1, c->p++;
    while (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || *c->p == '.' ||
                             *c->p == 'e' || *c->p == 'E' || *c->p == '+' ||
                             *c->p == '-' || (*c->p >= 'a' && *c->p <= 'z'))) {
        if (*c->p >= '0' && *c->p <= '9') v = v * 10 + (*c->p - '0');
        c->p++;
    }
    if (c->p == s) return -1;
    if (num) *num = neg ? -v : v;
    return 0;
}

static int is_str(const cur *c)
{
    return c->p < c->end && *c->p == '"';
}

/* One member of a top-level message ('nested' 0) or of ShareDB's snapshot
 * object "data" ('nested' 1). */
static int member(cur *c, lg_span key, lg_msg *m, int nested);

static int members(cur *c, lg_msg *m, int nested)
{
    if (c->p >= c->end || *c->p != '{') return -1;
    c->p++;
    for (;;) {
        lg_span key;
        ws(c);
        if (c->p < c->end && *c->p == '}') return c->p++, 0;
        if (!is_str(c) || string(c, &key) < 0) return -1;
        ws(c);
        if (c->p >= c->end || *c->p++ != ':') return -1;
        ws(c);
        if (member(c, key, m, nested) < 0) return -1;
        ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') return c->p++, 0;
        return -1;
    }
}

static int member(cur *c, lg_span key, lg_msg *m, int nested)
{
    if (nested) {
        if (lg_span_is(key, "v")) return value(c, &m->version);
        if (lg_span_is(key, "data") && is_str(c)) return string(c, &m->text);
        if (lg_span_is(key, "type")) m->has_doc_type = is_str(c);
        return value(c, NULL);
    }
    /* the first of "type" (chorus.v1) or "a" (ShareDB, whose handshake also
     * carries a "type": its default OT type) names the message */
    if ((lg_span_is(key, "type") || lg_span_is(key, "a")) && m->type.n == 0)
        return is_str(c) ? string(c, &m->type) : -1;
    if ((lg_span_is(key, "client") || lg_span_is(key, "src")) && is_str(c))
        return string(c, &m->client);
    if (lg_span_is(key, "text") && is_str(c)) return string(c, &m->text);
    if (lg_span_is(key, "version") || lg_span_is(key, "v"))
        return value(c, &m->version);
    if (lg_span_is(key, "seq")) return value(c, &m->seq);
    if (lg_span_is(key, "data") && c->p < c->end && *c->p == '{')
        return members(c, m, 1);
    if (lg_span_is(key, "op")) m->has_op = 1;
    else if (lg_span_is(key, "create")) m->has_create = 1;
    else if (lg_span_is(key, "error")) m->has_error = 1;
    return value(c, NULL);
}

static int object(cur *c, lg_msg *m)
{
    memset(m, 0, sizeof *m);
    m->version = m->seq = -1;
    return members(c, m, 0);
}

int lg_span_is(lg_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

int lg_scan_frame(const char *buf, size_t len, lg_msg_fn fn, void *arg)
{
    cur c = {buf, buf + len};
    lg_msg m;
    ws(&c);
    if (c.p < c.end && *c.p == '{') {
        if (object(&c, &m) < 0) return -1;
        fn(arg, &m);
        return 0;
    }
    if (c.p >= c.end || *c.p != '[') return -1;
    c.p++;
    for (;;) {
        ws(&c);
        if (c.p < c.end && *c.p == ']') return 0;
        if (object(&c, &m) < 0) return -1;
        fn(arg, &m);
        ws(&c);
        if (c.p < c.end && *c.p == ',') c.p++;
        else if (c.p < c.end && *c.p == ']') return 0;
        else return -1;
    }
}
