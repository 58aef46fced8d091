/* export.c -- write a document as txt, md, html, json or a git fast-import
 * stream (formats in docs/history.md).
 *
 * txt, md and html need only the text at one version (store_text_at: a
 * snapshot plus a short replay). json and git walk the whole log a page at
 * a time (srv_walk) and replay it into one ot_doc, writing as they go: the
 * process holds one page and one text whatever the length of the history.
 * Any byte a user can type survives: JSON strings are escaped here (U+0000
 * included), git blobs and messages are exact-length `data` blocks. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/history/history.h"

static const struct {
    const char *name, *ctype, *ext;
} formats[] = {
    [SRV_EXPORT_TXT] = {"txt", "text/plain; charset=utf-8", "txt"},
    [SRV_EXPORT_MD] = {"md", "text/markdown; charset=utf-8", "md"},
    [SRV_EXPORT_HTML] = {"html", "text/html; charset=utf-8", "html"},
    [SRV_EXPORT_JSON] = {"json", "application/json", "json"},
    [SRV_EXPORT_GIT] = {"git", "application/octet-stream", "fast-import"},
};

int srv_export_format_parse(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(name, formats[i].name) == 0) return (int)i;
    return -1;
}

const char *srv_export_ctype(srv_export_format f)
{
    return formats[f].ctype;
}

const char *srv_export_ext(srv_export_format f)
{
    return formats[f].ext;
}

/* ---- JSON strings: UTF-8 kept, " \ and control characters escaped */

static void json_str(FILE *out, const char *s, size_t len)
{
    size_t from = 0;
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        fwrite(s + from, 1, i - from, out);
        from = i + 1;
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        default: fprintf(out, "\\u%04x", c);
        }
    }
    fwrite(s + from, 1, len - from, out);
    fputc('"', out);
}

static void json_cstr(FILE *out, const char *s)
{
    json_str(out, s ? s : "", s ? strlen(s) : 0);
}

/* ---- txt, md, html: the text at one version */

static int text_at(store *st, const char *doc, int64_t version,
                   store_docinfo *d, char **text, size_t *bytes)
{
    int64_t v;
    int rc = store_doc_get(st, doc, d);
    if (rc < 0) return rc;
    if (version < 0) rc = store_load(st, doc, text, bytes, &v);
    else rc = store_text_at(st, doc, version, text, bytes);
    if (rc < 0) store_docinfo_clear(d);
    return rc;
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
    "'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"generator\" content=\"Chorus\">\n<title>";

static const char html_style[] =
    "</title>\n<style>\nbody{max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "font:16px/1.6 system-ui,sans-serif;color:#222}\n"
    "pre{background:#f5f5f5;padding:.75rem;overflow-x:auto}\n"
    "code{font-family:ui-monospace,monospace;font-size:.9em}\n"
    "blockquote{margin:0;padding-left:1rem;border-left:3px solid #ccc;"
    "color:#555}\n</style>\n</head>\n<body>\n<main>\n";

static void write_html(FILE *out, const store_docinfo *d, const char *text,
                       size_t bytes)
{
    const char *title = d->title && d->title[0] ? d->title : d->id;
    fputs(html_head, out);
    srv_md_escape(out, title, strlen(title));
    fputs(html_style, out);
    srv_md_render(out, text, bytes);
    fputs("</main>\n</body>\n</html>\n", out);
}

static int write_text(store *st, const char *doc, int64_t version,
                      srv_export_format f, FILE *out)
{
    store_docinfo d;
    char *text = NULL;
    size_t bytes = 0;
    memset(&d, 0, sizeof d);
    int rc = text_at(st, doc, version, &d, &text, &bytes);
    if (rc < 0) return rc;
    if (f == SRV_EXPORT_HTML) write_html(out, &d, text, bytes);
    else fwrite(text, 1, bytes, out);
    free(text);
    store_docinfo_clear(&d);
    return 0;
}

/* ---- json: metadata, every op, the text at the end */

static void json_head(FILE *out, const store_docinfo *d, int64_t version,
                      int64_t now_ms)
{
    fputs("{\"format\":\"chorus-history\",\"format_version\":1,\n\"doc\":{\"id\":",
          out);
    json_cstr(out, d->id);
    fputs(",\"title\":", out);
    json_cstr(out, d->title);
    fputs(",\"creator\":", out);
    json_cstr(out, d->creator);
    fprintf(out, ",\"created\":%" PRId64 ",\"version\":%" PRId64 "},\n"
                 "\"exported\":%" PRId64 ",\n\"ops\":[",
            d->created_ms, version, now_ms);
}

/* The op is written as stored: the walk has parsed it, so it is valid wire
 * JSON (the server and import store the canonical form). */
static void json_op(FILE *out, const store_oprec *r, int first)
{
    fprintf(out, "%s\n{\"version\":%" PRId64 ",\"user\":", first ? "" : ",",
            r->version);
    json_cstr(out, r->user);
    fputs(",\"client\":", out);
    json_cstr(out, r->client);
    fprintf(out, ",\"seq\":%" PRId64 ",\"time\":%" PRId64 ",\"op\":%s}",
            r->seq, r->time_ms, r->op);
}

static int json_tail(FILE *out, const ot_doc *text)
{
    size_t bytes = 0;
    char *t = ot_doc_text(text, &bytes);
    if (!t) return STORE_ENOMEM;
    fputs("\n],\n\"text\":", out);
    json_str(out, t, bytes);
    fputs("}\n", out);
    free(t);
    return 0;
}

static int walk_start(store *st, const char *doc, int64_t version,
                      store_docinfo *d, srv_walk *w)
{
    memset(d, 0, sizeof *d);
    int rc = store_doc_get(st, doc, d);
    if (rc < 0) return rc;
    if (version < 0) version = d->version;
    if ((rc = srv_walk_init(w, st, doc, 0, version, 1)) < 0)
        store_docinfo_clear(d);
    return rc;
}

static int write_json(store *st, const char *doc, int64_t version, FILE *out,
                      int64_t now_ms)
{
    store_docinfo d;
    srv_walk w;
    const store_oprec *r;
    int rc = walk_start(st, doc, version, &d, &w);
    if (rc < 0) return rc;
    json_head(out, &d, w.end, now_ms);
    int first = 1;
    while ((rc = srv_walk_next(&w, &r)) == 1 && !ferror(out)) {
        json_op(out, r, first);
        first = 0;
    }
    if (rc == 0) rc = json_tail(out, w.text);
    srv_walk_clear(&w);
    store_docinfo_clear(&d);
    return rc;
}

/* ---- git fast-import: one commit per edit session */

void srv_export_git_name(const char *name, char *out, size_t outlen)
{
    size_t n = 0;
    int space = 1; /* drops leading spaces and collapses runs */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned char c = *p;
        if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == ' ') {
            if (!space && n + 1 < outlen) out[n++] = ' ';
            space = 1;
            continue;
        }
        if (n + 1 >= outlen) break;
        out[n++] = (char)c;
        space = 0;
    }
    while (n && (out[n - 1] == ' ' || (unsigned char)out[n - 1] >= 0x80)) {
        /* a cut UTF-8 sequence or a trailing space: back to a boundary */
        if (out[n - 1] == ' ') n--;
        else {
            size_t s = n - 1;
            while (s && ((unsigned char)out[s] & 0xc0) == 0x80) s--;
            unsigned char lead = (unsigned char)out[s];
            size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
            if (n - s == need) break;
            n = s;
        }
    }
    if (n == 0) snprintf(out, outlen, "anonymous");
    else out[n] = 0;
}

void srv_export_git_email(const char *name, char *out, size_t outlen)
{
    static const char domain[] = "@chorus.invalid";
    size_t n = 0, max = outlen > sizeof domain + 64 ? 64 : outlen - sizeof domain;
    for (const char *p = name; *p && n < max; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z') out[n++] = (char)(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_')
            out[n++] = c;
        else if (c == ' ' && n && out[n - 1] != '-') out[n++] = '-';
    }
    while (n && (out[n - 1] == '-' || out[n - 1] == '.')) n--;
    size_t lead = 0;
    while (lead < n && (out[lead] == '-' || out[lead] == '.')) lead++;
    memmove(out, out + lead, n - lead);
    n -= lead;
    if (n == 0) n = (size_t)snprintf(out, outlen, "user");
    snprintf(out + n, outlen - n, "%s", domain);
}

static int git_commit(FILE *out, const char *doc, const srv_edit_session *s,
                      const ot_doc *text)
{
    char name[256], email[128], msg[1024];
    size_t bytes = 0;
    srv_export_git_name(s->user, name, sizeof name);
    srv_export_git_email(s->user, email, sizeof email);
    int64_t t0 = s->start_ms > 0 ? s->start_ms / 1000 : 0;
    int64_t t1 = s->end_ms > 0 ? s->end_ms / 1000 : 0;
    int len = snprintf(msg, sizeof msg,
                       "%s: +%" PRIu64 " -%" PRIu64 " characters\n\n"
                       "Versions %" PRId64 " to %" PRId64 " (%" PRId64
                       " ops), client %s.\n",
                       name, s->added, s->removed, s->from, s->to, s->ops,
                       s->client);
    if (len < 0 || (size_t)len >= sizeof msg) len = (int)strlen(msg);
    char *t = ot_doc_text(text, &bytes);
    if (!t) return STORE_ENOMEM;
    fprintf(out, "commit refs/heads/main\n"
                 "author %s <%s> %" PRId64 " +0000\n"
                 "committer %s <%s> %" PRId64 " +0000\n"
                 "data %d\n%s\n"
                 "M 100644 inline %s.txt\ndata %zu\n",
            name, email, t0, name, email, t1, len, msg, doc, bytes);
    fwrite(t, 1, bytes, out);
    fputs("\n\n", out);
    free(t);
    return 0;
}

static int write_git(store *st, const char *doc, int64_t version, FILE *out)
{
    store_docinfo d;
    srv_walk w;
    srv_sessions g;
    srv_edit_session done;
    const store_oprec *r;
    /* The walk replays each op before we see it, so the text at the end of
     * a session (before the next op) is kept by replaying here instead. */
    int rc = walk_start(st, doc, version, &d, &w);
    if (rc < 0) return rc;
    ot_doc *text = w.text;
    w.text = NULL;
    srv_sessions_init(&g, 0);
    fputs("feature done\nreset refs/heads/main\n\n", out);
    while ((rc = srv_walk_next(&w, &r)) == 1 && !ferror(out)) {
        if (srv_sessions_feed(&g, r, w.op, &done) &&
            (rc = git_commit(out, d.id, &done, text)) < 0)
            break;
        if ((rc = ot_doc_apply(text, w.op)) < 0) {
            rc = rc == OT_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
            break;
        }
    }
    if (rc == 0 && srv_sessions_flush(&g, &done))
        rc = git_commit(out, d.id, &done, text);
    if (rc == 0) fputs("done\n", out);
    ot_doc_free(text);
    srv_walk_clear(&w);
    store_docinfo_clear(&d);
    return rc;
}

int srv_export_write(store *st, const char *doc, int64_t version,
                     srv_export_format f, FILE *out)
{
    int rc;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    switch (f) {
    case SRV_EXPORT_TXT:
    case SRV_EXPORT_MD:
    case SRV_EXPORT_HTML: rc = write_text(st, doc, version, f, out); break;
    case SRV_EXPORT_JSON: rc = write_json(st, doc, version, out, now_ms); break;
    case SRV_EXPORT_GIT: rc = write_git(st, doc, version, out); break;
    default: return STORE_EINVAL;
    }
    if (rc == 0 && (fflush(out) != 0 || ferror(out))) rc = STORE_EIO;
    return rc;
}
