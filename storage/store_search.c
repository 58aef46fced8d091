/* store_search.c -- the full-text index (migration 0006): FTS5 with the
 * trigram tokenizer over every document's title and current text.
 *
 * The index trails the log: documents.indexed_version says which version
 * is in it. The server's indexer (store_search_stale, then
 * store_search_put for each) brings quiet documents up to date on a pool
 * thread, never on the commit path; titles and purges reach the index
 * through triggers. Queries of 3 or more code points use the trigram index
 * (a phrase: the query as a substring); shorter ones scan the index's copy
 * of the texts with LIKE (docs/search.md says why and what it costs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

int store_search_stale(store *s, int64_t quiet_before_ms, size_t max,
                       store_docid **ids, size_t *n)
{
    int rc = 0, r;
    if (!s || !ids || !n || !max) return STORE_EINVAL;
    *ids = NULL;
    *n = 0;
    if (s && s->pg) return store_pg__search_stale(s, quiet_before_ms, max, ids, n);
    store_docid *arr = calloc(max, sizeof *arr);
    if (!arr) return STORE_ENOMEM;
    sqlite3_stmt *st = store__prep(
        s, &rc, "SELECT id FROM documents WHERE indexed_version <> version"
                " AND updated_ms < ?1 ORDER BY updated_ms LIMIT ?2",
        "ii", quiet_before_ms, (int64_t)max);
    if (!st) {
        free(arr);
        return rc;
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        snprintf(arr[(*n)++].id, sizeof arr->id, "%s", id ? id : "");
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE && r != SQLITE_ROW) {
        free(arr);
        *n = 0;
        return store__err(r);
    }
    *ids = arr;
    return STORE_OK;
}

/* Inside a write transaction: replace the row of 'id'. */
static int put_tx(store *s, const char *id, int64_t version, const char *text,
                  size_t bytes)
{
    int rc = 0;
    sqlite3_stmt *st = store__prep(s, &rc, "DELETE FROM search WHERE rowid ="
                                           " (SELECT num FROM documents"
                                           " WHERE id = ?1)", "s", id);
    if (!st || (rc = store__exec_done(s, st, 0))) return rc;
    st = store__prep(s, &rc, "INSERT INTO search(rowid, title, body) SELECT"
                             " num, title, ?2 || char(65535) FROM documents"
                             " WHERE id = ?1",
                     "s", id);
    if (!st) return rc;
    sqlite3_bind_text(st, 2, text ? text : "", (int)bytes, SQLITE_STATIC);
    if ((rc = store__exec_done(s, st, 1))) return rc;
    st = store__prep(s, &rc, "UPDATE documents SET indexed_version = ?2"
                             " WHERE id = ?1", "si", id, version);
    return st ? store__exec_done(s, st, 1) : rc;
}

int store_search_put(store *s, const char *id, int64_t version,
                     const char *text, size_t bytes)
{
    int rc;
    if (!s || !id || version < 0 || bytes > INT32_MAX) return STORE_EINVAL;
    if (s && s->pg) return store_pg__search_put(s, id, version, text, bytes);
    if ((rc = store__begin(s, 1))) return rc;
    rc = put_tx(s, id, version, text, bytes);
    if (!rc) rc = store__commit(s);
    if (rc) store__rollback(s);
    return rc;
}

int store_search_index_one(store *s, const char *id)
{
    char *text = NULL;
    size_t bytes = 0;
    int64_t version = 0;
    int rc = store_load(s, id, &text, &bytes, &version);
    if (rc == 0) rc = store_search_put(s, id, version, text, bytes);
    free(text);
    return rc;
}

int store_search_reindex(store *s, int64_t *count)
{
    int rc = 0;
    int64_t done = 0;
    if (s && s->pg) return store_pg__search_reindex(s, count);
    sqlite3_stmt *st = store__prep(s, &rc, "UPDATE documents SET"
                                           " indexed_version = -1", "");
    if (!st || (rc = store__exec_done(s, st, 0))) return rc;
    st = store__prep(s, &rc, "DELETE FROM search", "");
    if (!st || (rc = store__exec_done(s, st, 0))) return rc;
    for (;;) {
        store_docid *ids = NULL;
        size_t n = 0;
        if ((rc = store_search_stale(s, INT64_MAX, 64, &ids, &n))) return rc;
        for (size_t i = 0; i < n && !rc; i++, done++)
            rc = store_search_index_one(s, ids[i].id);
        free(ids);
        if (rc || n == 0) break;
    }
    if (count) *count = done;
    return rc;
}

/* The code points of the UTF-8 s[0..len). */
static size_t cps(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* Append s[0..len) to the FTS5 query being built in *q (*len bytes, *cap
 * allocated) as one quoted string ("..." with quotes doubled), preceded
 * by " OR " unless it is the first. STORE_ENOMEM. */
static int add_string(char **q, size_t *len, size_t *cap, const char *s,
                      size_t slen)
{
    if (*len + 2 * slen + 8 > *cap) {
        size_t ncap = 2 * *cap + 2 * slen + 64;
        char *nq = realloc(*q, ncap);
        if (!nq) return STORE_ENOMEM;
        *q = nq;
        *cap = ncap;
    }
    if (*len) memcpy(*q + *len, " OR ", 4), *len += 4;
    (*q)[(*len)++] = '"';
    for (size_t i = 0; i < slen; i++) {
        if (s[i] == '"') (*q)[(*len)++] = '"';
        (*q)[(*len)++] = s[i];
    }
    (*q)[(*len)++] = '"';
    (*q)[*len] = 0;
    return STORE_OK;
}

/* The LIKE pattern of 'q': %q% with %, _ and \ escaped by \. */
static char *like_pattern(const char *q)
{
    size_t len = strlen(q), j = 0;
    char *p = malloc(2 * len + 3);
    if (!p) return NULL;
    p[j++] = '%';
    for (size_t i = 0; i < len; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\') p[j++] = '\\';
        p[j++] = q[i];
    }
    p[j++] = '%';
    p[j] = 0;
    return p;
}

/* ---- Case folding as the index does it
 *
 * Two-character queries look the index's terms up by prefix, so the prefix
 * must be folded exactly as the trigram tokenizer folds what it indexes.
 * Rather than carry a copy of SQLite's Unicode tables, ask the tokenizer:
 * "ab" followed by U+FFFF is one trigram, folded; its first two code points
 * are the folded query. */

typedef struct fold_ctx {
    char *out;
    size_t cap, len;
} fold_ctx;

static int fold_token(void *ctx, int flags, const char *tok, int n, int start,
                      int end)
{
    fold_ctx *f = ctx;
    (void)flags, (void)start, (void)end;
    if (f->len || n <= 0 || (size_t)n >= f->cap) return SQLITE_OK;
    memcpy(f->out, tok, (size_t)n);
    f->len = (size_t)n;
    return SQLITE_OK;
}

static fts5_api *fts5_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, &api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api && api->iVersion >= 2 ? api : NULL;
}

/* Fold the two code points q[0..len) into out (cap bytes): *outlen bytes.
 * STORE_ESQL when the trigram tokenizer is not there. */
static int fold2(store *s, const char *q, size_t len, char *out, size_t cap,
                 size_t *outlen)
{
    char in[32];
    fts5_api *api = fts5_of(s->db);
    void *ud = NULL;
    fts5_tokenizer tok;
    Fts5Tokenizer *t = NULL;
    const char *args[] = {"case_sensitive", "0"};
    if (len + 3 > sizeof in) return STORE_EINVAL;
    if (!api || api->xFindTokenizer(api, "trigram", &ud, &tok) != SQLITE_OK ||
        tok.xCreate(ud, args, 2, &t) != SQLITE_OK)
        return STORE_ESQL;
    memcpy(in, q, len);
    memcpy(in + len, "\xef\xbf\xbf", 3);
    fold_ctx f = {out, cap, 0};
    int r = tok.xTokenize(t, &f, FTS5_TOKENIZE_QUERY, in, (int)len + 3,
                          fold_token);
    tok.xDelete(t);
    if (r != SQLITE_OK || f.len < 3) return STORE_ESQL;
    *outlen = f.len - 3; /* drop the U+FFFF */
    return STORE_OK;
}

/* ---- Queries
 *
 * No query ranks every match: a common trigram is in thousands of texts,
 * and bm25 over all of them was most of a query's time. The candidates are
 * the CANDIDATES most recently created readable documents that match
 * (FTS5 walks its lists newest rowid first and stops there) together with
 * those whose title matches; they are ranked, best first. */
#define CANDIDATES "200"

#define HIT_COLS "d.id, d.title, d.updated_ms, s.body"
#define RIGHTS " AND d.trashed_ms = 0 AND (?2 = 0 OR EXISTS (SELECT 1" \
    " FROM roles WHERE doc = d.num AND user_id = ?2))"

/* 3 or more characters: ?1 is the phrase, ?4 the phrase in titles. */
static const char *const sql_match =
    "WITH c(num, score) AS ("
    " SELECT num, score FROM (SELECT s.rowid AS num,"
    "  bm25(search, 10.0, 1.0) AS score FROM search s"
    "  JOIN documents d ON d.num = s.rowid"
    "  WHERE search MATCH ?1" RIGHTS " ORDER BY s.rowid DESC LIMIT " CANDIDATES ")"
    " UNION ALL"
    " SELECT num, score FROM (SELECT s.rowid AS num,"
    "  bm25(search, 10.0, 1.0) - 1000.0 AS score FROM search s"
    "  JOIN documents d ON d.num = s.rowid"
    "  WHERE search MATCH ?4" RIGHTS " ORDER BY s.rowid DESC LIMIT " CANDIDATES "))"
    ", top(num, score, updated) AS (SELECT c.num, c.score, d.updated_ms"
    " FROM (SELECT num, min(score) AS score FROM c GROUP BY num) c"
    " JOIN documents d ON d.num = c.num"
    " ORDER BY c.score, d.updated_ms DESC LIMIT ?3)"
    "SELECT " HIT_COLS " FROM top JOIN documents d ON d.num = top.num"
    " JOIN search s ON s.rowid = top.num"
    " ORDER BY top.score, top.updated DESC";

/* 2 characters: ?1 is "abc" OR "abd" OR ... (every indexed trigram that
 * starts with them); ?4 the LIKE pattern, for titles. */
static const char *const sql_pair =
    "WITH c(num, intitle) AS ("
    " SELECT num, 0 FROM (SELECT s.rowid AS num FROM search s"
    "  JOIN documents d ON d.num = s.rowid"
    "  WHERE search MATCH ?1" RIGHTS " ORDER BY s.rowid DESC LIMIT " CANDIDATES ")"
    " UNION ALL"
    " SELECT num, 1 FROM (SELECT d.num FROM documents d"
    "  WHERE d.title LIKE ?4 ESCAPE '\\'" RIGHTS
    "  ORDER BY d.updated_ms DESC LIMIT " CANDIDATES "))"
    ", top(num, intitle, updated) AS (SELECT c.num, c.intitle, d.updated_ms"
    " FROM (SELECT num, max(intitle) AS intitle FROM c GROUP BY num) c"
    " JOIN documents d ON d.num = c.num"
    " ORDER BY c.intitle DESC, d.updated_ms DESC LIMIT ?3)"
    "SELECT " HIT_COLS " FROM top JOIN documents d ON d.num = top.num"
    " JOIN search s ON s.rowid = top.num"
    " ORDER BY top.intitle DESC, top.updated DESC";

/* 1 character: a scan of the texts, stopping at the limit (?1 the LIKE
 * pattern; ?4 unused). The unary + keeps SQLite from handing LIKE to the
 * trigram index, which cannot answer it. */
static const char *const sql_like =
    "SELECT " HIT_COLS " FROM documents d JOIN search s ON s.rowid = d.num"
    " WHERE (d.title LIKE ?1 ESCAPE '\\' OR +s.body LIKE ?1 ESCAPE '\\')"
    RIGHTS " AND ?4 IS NULL ORDER BY d.updated_ms DESC LIMIT ?3";

/* The MATCH expression of a two-character query: every trigram of the
 * index that starts with it, OR-ed; "" when there is none. */
static int pair_terms(store *s, const char *q, char **expr)
{
    char fold[32], hi[40];
    size_t flen = 0, len = 0, cap = 0;
    int rc = fold2(s, q, strlen(q), fold, sizeof fold, &flen), r;
    *expr = NULL;
    if (rc) return rc;
    memcpy(hi, fold, flen);
    hi[flen] = (char)0xff; /* above every UTF-8 continuation of 'fold' */
    sqlite3_stmt *st = store__prep(
        s, &rc, "SELECT term FROM search_terms WHERE term >= ?1 AND term < ?2",
        "");
    if (!st) return rc;
    sqlite3_bind_text(st, 1, fold, (int)flen, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hi, (int)flen + 1, SQLITE_STATIC);
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = add_string(expr, &len, &cap,
                        (const char *)sqlite3_column_text(st, 0),
                        (size_t)sqlite3_column_bytes(st, 0));
    if (!rc && r != SQLITE_DONE) rc = store__err(r);
    sqlite3_finalize(st);
    if (!rc && !*expr && !(*expr = strdup(""))) rc = STORE_ENOMEM;
    if (rc) {
        free(*expr);
        *expr = NULL;
    }
    return rc;
}

/* The index stores each text followed by U+FFFF (migration 0007). */
#define END_MARK "\xef\xbf\xbf"

static int read_hit(sqlite3_stmt *st, store_hit *h)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *title = (const char *)sqlite3_column_text(st, 1);
    const char *body = (const char *)sqlite3_column_text(st, 3);
    h->id = strdup(id ? id : "");
    h->title = strdup(title ? title : "");
    h->updated_ms = sqlite3_column_int64(st, 2);
    h->bytes = (size_t)sqlite3_column_bytes(st, 3);
    if (h->bytes >= 3 && body && !memcmp(body + h->bytes - 3, END_MARK, 3))
        h->bytes -= 3;
    h->body = store__strndup(body ? body : "", h->bytes);
    return h->id && h->title && h->body ? STORE_OK : STORE_ENOMEM;
}

int store_search_query(store *s, const char *q, int64_t user_id, size_t limit,
                       store_hit **out, size_t *n)
{
    int rc = 0, r = SQLITE_DONE;
    const char *sql;
    char *a = NULL, *b = NULL;
    if (!s || !q || !*q || !out || !n || !limit) return STORE_EINVAL;
    *out = NULL;
    *n = 0;
    if (s->pg) return store_pg__search_query(s, q, user_id, limit, out, n);
    size_t len = strlen(q), qn = cps(q, len);
    if (qn >= 3) {
        size_t alen = 0, acap = 0;
        sql = sql_match;
        rc = add_string(&a, &alen, &acap, q, len);
        if (!rc && !(b = malloc(alen + 16))) rc = STORE_ENOMEM;
        if (!rc) snprintf(b, alen + 16, "{title} : %s", a);
    } else if (qn == 2) {
        sql = sql_pair;
        if (!(rc = pair_terms(s, q, &a)) && !(b = like_pattern(q)))
            rc = STORE_ENOMEM;
    } else {
        sql = sql_like;
        if (!(a = like_pattern(q))) rc = STORE_ENOMEM;
    }
    store_hit *arr = rc ? NULL : calloc(limit, sizeof *arr);
    if (!rc && !arr) rc = STORE_ENOMEM;
    /* a pair that starts no trigram is only looked for in titles */
    sqlite3_stmt *st = rc ? NULL : store__prep(s, &rc, sql, "sii",
                                               *a ? a : "\"\"", user_id,
                                               (int64_t)limit);
    if (st && b) sqlite3_bind_text(st, 4, b, -1, SQLITE_STATIC);
    while (st && *n < limit && (r = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = read_hit(st, &arr[(*n)++]))) break;
    if (st && !rc && r != SQLITE_DONE && r != SQLITE_ROW) rc = store__err(r);
    sqlite3_finalize(st);
    free(a);
    free(b);
    if (rc) {
        store_hits_free(arr, *n);
        *n = 0;
        return rc;
    }
    *out = arr;
    return STORE_OK;
}

void store_hits_free(store_hit *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].id);
        free(arr[i].title);
        free(arr[i].body);
    }
    free(arr);
}
