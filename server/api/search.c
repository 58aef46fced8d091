/* search.c -- GET /api/search?q=...&limit=N: the documents the caller may
 * read whose title or current text holds q, best first:
 *
 *   [{"id","title","updated","snippets":[{"text","match":[[s,e],...]}]}]
 *
 * The index (storage/store_search.c) finds the documents; the snippets
 * are cut here, on the pool thread, from the indexed text: up to
 * SNIPPETS windows around the matches, each position a code point of its
 * snippet's "text" (never HTML: the page sets it as text). Matching folds
 * case the way the index does for the scripts that have it (Latin, Greek,
 * Cyrillic; others are matched as written). Access: team mode, the
 * documents the user has a role on (admins all); open mode, all. */
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"
#include "server/api/api.h"

#define Q_MAX_CPS 200
#define LIMIT_DEFAULT 20
#define LIMIT_MAX 100
#define SNIPPETS 3
#define BEFORE 30                 /* code points of context before a match */
#define AFTER 60                  /* and after it */

typedef struct search_job {
    srv_api_task t;               /* first */
    char q[256];
    size_t limit;
} search_job;

/* ---- code points */

/* Decode valid UTF-8 s[0..len) into a new array (*n code points). */
static uint32_t *decode(const char *s, size_t len, size_t *n)
{
    uint32_t *cp = malloc((len + 1) * sizeof *cp);
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    *n = 0;
    while (cp && p < end) {
        uint32_t c = *p++;
        int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        c &= more == 3 ? 0x07 : more == 2 ? 0x0f : more == 1 ? 0x1f : 0x7f;
        while (more-- > 0 && p < end) c = (c << 6) | (*p++ & 0x3f);
        cp[(*n)++] = c;
    }
    return cp;
}

/* Append code points cp[0..n) to 'b' as UTF-8. */
static void encode(srv_sb *b, const uint32_t *cp, size_t n)
{
    char buf[4 * 64 + 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        if (c < 0x80) buf[k++] = (char)c;
        else if (c < 0x800) {
            buf[k++] = (char)(0xc0 | c >> 6);
            buf[k++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            buf[k++] = (char)(0xe0 | c >> 12);
            buf[k++] = (char)(0x80 | (c >> 6 & 0x3f));
            buf[k++] = (char)(0x80 | (c & 0x3f));
        } else {
            buf[k++] = (char)(0xf0 | c >> 18);
            buf[k++] = (char)(0x80 | (c >> 12 & 0x3f));
            buf[k++] = (char)(0x80 | (c >> 6 & 0x3f));
            buf[k++] = (char)(0x80 | (c & 0x3f));
        }
        if (k >= sizeof buf - 5 || i + 1 == n) {
            buf[k] = 0;
            srv_sb_printf(b, "%s", buf);
            k = 0;
        }
    }
}

/* Lower case for the scripts whose case the index folds most often:
 * ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals. */
static uint32_t fold(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0xc0) return c;
    if ((c <= 0xde && c != 0xd7) || (c >= 0x391 && c <= 0x3a9) ||
        (c >= 0x410 && c <= 0x42f))
        return c + 32;
    if (c >= 0x400 && c <= 0x40f) return c + 80;
    int odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e);
    int even_upper = (c >= 0x100 && c <= 0x137 && c != 0x130) ||
                     (c >= 0x14a && c <= 0x177);
    if ((odd_upper && (c & 1)) || (even_upper && !(c & 1))) return c + 1;
    return c;
}

/* The first i >= from where q[0..m) matches t (folded), or n. */
static size_t find(const uint32_t *t, size_t n, const uint32_t *q, size_t m,
                   size_t from)
{
    for (size_t i = from; m && i + m <= n; i++) {
        size_t k = 0;
        while (k < m && fold(t[i + k]) == q[k]) k++;
        if (k == m) return i;
    }
    return n;
}

/* ---- snippets */

/* One snippet of t around the match at 'at': its window [start, end), and
 * every match inside it. Returns the end of the window. */
static size_t snippet(json_t *arr, const uint32_t *t, size_t n,
                      const uint32_t *q, size_t m, size_t at)
{
    size_t start = at > BEFORE ? at - BEFORE : 0;
    size_t end = at + m + AFTER < n ? at + m + AFTER : n;
    json_t *match = json_array();
    for (size_t i = at; i < end && i + m <= end; i = find(t, n, q, m, i + m)) {
        json_array_append_new(match, json_pack("[I,I]", (json_int_t)(i - start),
                                               (json_int_t)(i - start + m)));
    }
    srv_sb b;
    srv_sb_init(&b, 16 * (BEFORE + AFTER + Q_MAX_CPS));
    encode(&b, t + start, end - start);
    size_t len = 0;
    char *text = srv_sb_take(&b, &len);
    if (text && match)
        json_array_append_new(arr, json_pack("{s:s%,s:O}", "text", text, len,
                                             "match", match));
    free(text);
    json_decref(match);
    return end;
}

static json_t *snippets(const store_hit *h, const uint32_t *q, size_t m)
{
    size_t n = 0;
    uint32_t *t = decode(h->body, h->bytes, &n);
    json_t *arr = json_array();
    size_t at = t ? find(t, n, q, m, 0) : n;
    for (int k = 0; arr && at < n && k < SNIPPETS; k++) {
        size_t end = snippet(arr, t, n, q, m, at);
        at = find(t, n, q, m, end > at + m ? end : at + m);
    }
    free(t);
    return arr;
}

static int build_search(store *st, srv_api_task *t)
{
    search_job *j = (search_job *)t;
    store_hit *hits = NULL;
    size_t n = 0, m = 0;
    int64_t user = srv_auth_team() && !t->who.admin ? t->who.user_id : 0;
    int rc = store_search_query(st, j->q, user, j->limit, &hits, &n);
    if (rc < 0) return srv__api_storage_error(t, rc);
    uint32_t *q = decode(j->q, strlen(j->q), &m);
    for (size_t i = 0; q && i < m; i++) q[i] = fold(q[i]);
    json_t *arr = q ? json_array() : NULL;
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:I,s:o}", "id", hits[i].id, "title",
                           hits[i].title, "updated",
                           (json_int_t)hits[i].updated_ms, "snippets",
                           snippets(&hits[i], q, m)));
    free(q);
    store_hits_free(hits, n);
    return srv__api_json(t, 200, arr, 0);
}

void srv__api_search(const srv_api_call *c)
{
    const char *q = srv_http_arg(c->r, "q"), *lim = srv_http_arg(c->r, "limit");
    size_t cps = 0;
    long limit = LIMIT_DEFAULT;
    char *end = NULL;
    if (lim) limit = strtol(lim, &end, 10);
    if (!q || !*q || strlen(q) >= sizeof(((search_job *)0)->q) ||
        ot_utf8_validate(q, strlen(q), &cps) || cps > Q_MAX_CPS) {
        srv_http_error(c->r, 400, "bad_query",
                       "q must be 1-200 characters of valid UTF-8");
        return;
    }
    if (lim && (!*lim || *end || limit < 1 || limit > LIMIT_MAX)) {
        srv_http_error(c->r, 400, "bad_limit", "limit must be 1-100");
        return;
    }
    search_job *j = srv__api_task_new(c, sizeof *j, build_search);
    if (!j) return;
    snprintf(j->q, sizeof j->q, "%s", q);
    j->limit = (size_t)limit;
    srv__api_start(&j->t);
}
