/* markdown.c -- Markdown to HTML for the html export, on libcmark
 * (CommonMark; see history.h for the contract).
 *
 * libcmark parses and renders in time linear in the input, whatever the
 * delimiters (its test suite holds the pathological cases; so does ours).
 * Between parse and render one pass over the tree makes the output ours:
 * raw HTML becomes text, links and images keep only the targets
 * srv_md_safe_url accepts (with rel="nofollow noopener noreferrer"; an
 * image becomes a link to it, so opening an export fetches nothing), fenced
 * code loses its info string, and containers nested deeper than MAX_DEPTH
 * give their content to the deepest one kept. Control characters of the
 * output become U+FFFD, as srv_md_escape does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmark.h>

#include "server/history/history.h"

/* A list and its item count as one level. */
#define MAX_DEPTH SRV_MD_MAX_DEPTH

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

int srv_md_escape(FILE *out, const char *s, size_t len)
{
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\t': case '\n': case '\r': break;
        default:
            if (c < 0x20 || c == 0x7f) rep = REPLACEMENT;
        }
        if (!rep) continue;
        fwrite(s + from, 1, i - from, out);
        fputs(rep, out);
        from = i + 1;
    }
    fwrite(s + from, 1, len - from, out);
    return ferror(out) ? -1 : 0;
}

int srv_md_safe_url(const char *u, size_t len)
{
    if (len == 0 || len > 2048) return 0;
    size_t colon = len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' ||
            c == '\'' || c == '`' || c == '\\')
            return 0;
        if (colon == len && (c == '/' || c == '?' || c == '#')) colon = len + 1;
        if (colon == len && c == ':') colon = i;
    }
    if (colon >= len) return 1; /* relative: no scheme */
    return (colon == 4 && strncasecmp(u, "http", 4) == 0) ||
           (colon == 5 && strncasecmp(u, "https", 5) == 0) ||
           (colon == 6 && strncasecmp(u, "mailto", 6) == 0);
}

/* ---- small strings for custom nodes: 'a' then 's' escaped, then 'b' */

static char *wrap_escaped(const char *a, const char *s, const char *b)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f) return NULL;
    fputs(a, f);
    srv_md_escape(f, s, strlen(s));
    fputs(b, f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- links and images */

/* An autolink (<url>) has one text child spelling its target. */
static int is_autolink(cmark_node *n, const char *url)
{
    cmark_node *t = cmark_node_first_child(n);
    const char *lit = t ? cmark_node_get_literal(t) : NULL;
    if (!lit || cmark_node_next(t) || cmark_node_get_type(t) != CMARK_NODE_TEXT)
        return 0;
    return strcmp(lit, url) == 0 ||
           (strncmp(url, "mailto:", 7) == 0 && strcmp(lit, url + 7) == 0);
}

static int in_link(cmark_node *n)
{
    while ((n = cmark_node_parent(n)) != NULL)
        if (cmark_node_get_type(n) == CMARK_NODE_LINK) return 1;
    return 0;
}

/* The custom inline that stands for link (or image) 'n': a link with our
 * attributes around its text, or its source written out as text. Its
 * enter/exit strings are copied by cmark. NULL when memory ran out. */
static cmark_node *link_stand_in(cmark_node *n)
{
    const char *url = cmark_node_get_url(n);
    int image = cmark_node_get_type(n) == CMARK_NODE_IMAGE;
    char *enter, *leave;
    if (!url) url = "";
    if (image && in_link(n)) { /* no link in a link: the alt text alone */
        enter = strdup("");
        leave = strdup("");
    } else if (srv_md_safe_url(url, strlen(url))) {
        enter = wrap_escaped("<a href=\"", url,
                             "\" rel=\"nofollow noopener noreferrer\">");
        leave = strdup("</a>");
    } else if (!image && is_autolink(n, url)) {
        enter = strdup("&lt;");
        leave = strdup("&gt;");
    } else {
        enter = strdup(image ? "![" : "[");
        leave = wrap_escaped("](", url, ")");
    }
    cmark_node *c = enter && leave ? cmark_node_new(CMARK_NODE_CUSTOM_INLINE)
                                  : NULL;
    if (c && (!cmark_node_set_on_enter(c, enter) ||
              !cmark_node_set_on_exit(c, leave))) {
        cmark_node_free(c);
        c = NULL;
    }
    free(enter);
    free(leave);
    return c;
}

/* Put 'by' where 'n' is, give it n's children, free n. */
static void replace(cmark_node *n, cmark_node *by)
{
    cmark_node *ch;
    while ((ch = cmark_node_first_child(n)) != NULL)
        cmark_node_append_child(by, ch);
    cmark_node_insert_before(n, by);
    cmark_node_free(n);
}

/* Raw HTML, which cmark would drop, shown as the text it is. */
static cmark_node *html_as_text(cmark_node *n)
{
    const char *lit = cmark_node_get_literal(n);
    size_t len = lit ? strlen(lit) : 0;
    cmark_node *t = cmark_node_new(CMARK_NODE_TEXT), *p = t;
    if (!t) return NULL;
    if (cmark_node_get_type(n) == CMARK_NODE_HTML_BLOCK) {
        while (len && lit[len - 1] == '\n') len--;
        p = cmark_node_new(CMARK_NODE_PARAGRAPH);
        if (!p || !cmark_node_append_child(p, t)) {
            cmark_node_free(p ? p : t);
            return NULL;
        }
    }
    char *copy = strndup(lit ? lit : "", len);
    int ok = copy && cmark_node_set_literal(t, copy);
    free(copy);
    if (!ok) {
        cmark_node_free(p);
        return NULL;
    }
    return p;
}

/* The pass over the tree with cmark's iterator: nodes are replaced only on
 * their EXIT event (or ENTER of a leaf), as cmark.h allows, and the
 * iterator is reset to the stand-in. -1 when memory ran out. */
static int make_safe(cmark_node *root)
{
    cmark_iter *it = cmark_iter_new(root);
    cmark_event_type ev;
    int rc = 0;
    if (!it) return -1;
    while (rc == 0 && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it), *by = NULL;
        cmark_node_type t = cmark_node_get_type(n);
        if (t == CMARK_NODE_CODE_BLOCK) {
            cmark_node_set_fence_info(n, "");
            continue;
        }
        if ((t == CMARK_NODE_LINK || t == CMARK_NODE_IMAGE) &&
            ev == CMARK_EVENT_EXIT)
            by = link_stand_in(n);
        else if (t == CMARK_NODE_HTML_INLINE || t == CMARK_NODE_HTML_BLOCK)
            by = html_as_text(n);
        else
            continue;
        if (!by) rc = -1;
        else {
            replace(n, by);
            cmark_iter_reset(it, by, CMARK_EVENT_EXIT);
        }
    }
    cmark_iter_free(it);
    return rc;
}

/* ---- bounding the depth */

static int opens_element(cmark_node *n)
{
    switch (cmark_node_get_type(n)) {
    case CMARK_NODE_BLOCK_QUOTE: case CMARK_NODE_LIST: case CMARK_NODE_EMPH:
    case CMARK_NODE_STRONG: case CMARK_NODE_LINK: case CMARK_NODE_IMAGE:
        return 1;
    default:
        return 0;
    }
}

/* Move n's content before n and free it (a list gives its items'
 * content). Returns the first node moved, else the node after n, else
 * NULL (then the walk climbs from 'parent'). */
static cmark_node *flatten(cmark_node *n)
{
    cmark_node *first = NULL, *after = cmark_node_next(n), *ch, *sub;
    int list = cmark_node_get_type(n) == CMARK_NODE_LIST;
    while ((ch = cmark_node_first_child(n)) != NULL) {
        if (!list) sub = ch;
        else if ((sub = cmark_node_first_child(ch)) == NULL) {
            cmark_node_free(ch);
            continue;
        }
        if (!first) first = sub;
        cmark_node_insert_before(n, sub);
    }
    cmark_node_free(n);
    return first ? first : after;
}

/* A walk in document order that may edit the tree, so it follows the
 * links by hand: each node is visited once and moved at most once. */
static void bound_depth(cmark_node *root)
{
    cmark_node *n = cmark_node_first_child(root), *parent = root;
    int depth = 0;
    while (n) {
        if (opens_element(n) && depth >= MAX_DEPTH) {
            if ((n = flatten(n)) != NULL) continue;
        } else if (cmark_node_first_child(n)) {
            depth += opens_element(n);
            parent = n;
            n = cmark_node_first_child(n);
            continue;
        } else {
            parent = cmark_node_parent(n);
            n = cmark_node_next(n);
        }
        while (!n && parent != root) {
            depth -= opens_element(parent);
            n = cmark_node_next(parent);
            parent = cmark_node_parent(parent);
        }
    }
}

/* ---- render */

/* 'html' with control characters (but tab, newline, return) as U+FFFD. */
static int put_clean(FILE *out, const char *s)
{
    size_t from = 0, i = 0;
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n' || c == '\r')
            continue;
        fwrite(s + from, 1, i - from, out);
        fputs(REPLACEMENT, out);
        from = i + 1;
    }
    fwrite(s + from, 1, i - from, out);
    return ferror(out) ? -1 : 0;
}

/* Text too long to hand to libcmark (SRV_MD_MAX_BYTES): as written. */
static int render_plain(FILE *out, const char *text, size_t len)
{
    fprintf(out, "<p><em>This document is %zu bytes long, over the %d KiB "
            "shown as Markdown: its text follows as written.</em></p>\n"
            "<pre>", len, SRV_MD_MAX_BYTES / 1024);
    if (srv_md_escape(out, text, len) < 0) return -1;
    fputs("</pre>\n", out);
    return ferror(out) ? -1 : 0;
}

int srv_md_render(FILE *out, const char *text, size_t len)
{
    int rc = -1;
    if (len > SRV_MD_MAX_BYTES) return render_plain(out, text, len);
    cmark_node *doc = cmark_parse_document(text, len, CMARK_OPT_VALIDATE_UTF8);
    if (!doc) return -1;
    if (make_safe(doc) == 0) {
        bound_depth(doc);
        char *html = cmark_render_html(doc, CMARK_OPT_DEFAULT);
        if (html) rc = put_clean(out, html);
        free(html);
    }
    cmark_node_free(doc);
    return rc;
}
