/* history.h -- the history room: walking a document's op log, grouping it
 * into edit sessions, writing a document out (txt, md, html, json, git
 * fast-import) and rendering Markdown to safe HTML. Used by the history
 * routes of the HTTP API and by `chorus export`; it knows nothing of HTTP,
 * lws or the CLI (arrows point down: api, cli -> history -> storage -> ot).
 *
 * Memory never grows with the length of a history: a walk holds one page
 * of ops (SRV_WALK_PAGE at most) and, when replaying, one text; every
 * exporter streams. An edit session is a run of consecutive ops by one
 * user with no idle gap longer than SRV_SESSION_GAP_MS between two. */
#ifndef CHORUS_SERVER_HISTORY_H
#define CHORUS_SERVER_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ot/ot.h"
#include "storage/store.h"

/* ---- the walk and edit sessions (history.c) */

#define SRV_WALK_PAGE 2048
#define SRV_SESSION_GAP_MS (5 * 60 * 1000)

typedef struct srv_walk {
    store *st;
    char doc[65];
    int64_t after;       /* version of the last op handed out */
    int64_t end;         /* last version to visit */
    store_oprec *page;
    size_t n, i;
    ot_op *op;           /* the op last handed out, parsed */
    ot_doc *text;        /* replay: the text after that op, or NULL */
} srv_walk;

/* Start a walk over the ops of 'doc' with after < version <= end (end < 0:
 * up to the current version, read now). With 'replay', w->text holds the
 * text after each op handed out (it starts as the text at 'after').
 * Returns 0, STORE_ENOTFOUND (no such doc), STORE_ERANGE (after or end
 * beyond the document, or after > end), STORE_ECORRUPT, STORE_ENOMEM;
 * on error nothing needs clearing. 'st' is borrowed for the whole walk. */
int srv_walk_init(srv_walk *w, store *st, const char *doc, int64_t after,
                  int64_t end, int replay);

/* The next op: returns 1 and sets *rec (borrowed until the next call) with
 * w->op parsed (and w->text advanced when replaying); 0 at the end;
 * STORE_ECORRUPT when a stored op does not parse, does not apply, or the
 * log has a gap; STORE_ENOMEM or another read error. */
int srv_walk_next(srv_walk *w, const store_oprec **rec);

/* Free what the walk holds. Accepts a walk that failed to start. */
void srv_walk_clear(srv_walk *w);

/* One edit session. */
typedef struct srv_edit_session {
    char user[256];
    char client[72];     /* the client of its first op */
    int64_t from, to;    /* versions: the text at 'from', then at 'to' */
    int64_t start_ms, end_ms;
    int64_t ops;
    uint64_t added, removed;  /* code points */
} srv_edit_session;

typedef struct srv_sessions {
    srv_edit_session cur;
    int open;
    int64_t gap_ms;
} srv_sessions;

/* Start grouping with the given idle gap (<= 0: SRV_SESSION_GAP_MS). */
void srv_sessions_init(srv_sessions *g, int64_t gap_ms);

/* Add one op. Returns 1 when the op starts a new session and so closes the
 * previous one, copied into *done (the op is then the first of the new
 * one); else 0. */
int srv_sessions_feed(srv_sessions *g, const store_oprec *rec,
                      const ot_op *op, srv_edit_session *done);

/* Close the session in progress into *done: 1, or 0 when there is none. */
int srv_sessions_flush(srv_sessions *g, srv_edit_session *done);

/* ---- exports (export.c): formats in docs/history.md */

typedef enum srv_export_format {
    SRV_EXPORT_TXT = 0,
    SRV_EXPORT_MD,
    SRV_EXPORT_HTML,
    SRV_EXPORT_JSON,
    SRV_EXPORT_GIT
} srv_export_format;

/* The format named 'name' ("txt", "md", "html", "json", "git"), or -1. */
int srv_export_format_parse(const char *name);
/* Its Content-Type and file name extension (static strings). */
const char *srv_export_ctype(srv_export_format f);
const char *srv_export_ext(srv_export_format f);

/* Write 'doc' at 'version' (< 0: the current one) in format 'f' to 'out'.
 * Returns 0; STORE_ENOTFOUND (no such doc), STORE_ERANGE (no such
 * version), STORE_ECORRUPT (the stored log does not replay), STORE_ENOMEM,
 * STORE_EIO (writing to 'out' failed), or another read error. On error
 * part of the output may have been written. 'st' is used only during the
 * call. */
int srv_export_write(store *st, const char *doc, int64_t version,
                     srv_export_format f, FILE *out);

/* The git ident of a user name: 'name' (any UTF-8) with <, >, newlines and
 * control characters made spaces, spaces collapsed and trimmed ("anonymous"
 * if nothing is left), into 'out' (NUL-terminated, truncated to fit). */
void srv_export_git_name(const char *name, char *out, size_t outlen);
/* Its e-mail: the name's ASCII letters and digits lowercased, . - _ kept,
 * spaces as '-', the rest dropped ("user" if nothing is left), then
 * "@chorus.invalid". */
void srv_export_git_email(const char *name, char *out, size_t outlen);

/* ---- Markdown (markdown.c), for the html export
 *
 * Safety is the point: raw HTML in the source is shown as text; links keep
 * only http:, https:, mailto: and relative targets (others are shown as
 * their source) and carry rel="nofollow noopener noreferrer"; an image
 * becomes a link to it, so opening an export fetches nothing; control
 * characters become U+FFFD; nesting is bounded (SRV_MD_MAX_DEPTH). */

/* Block quotes, lists, emphasis and links open at most this many HTML
 * elements around any content; deeper ones give it to the deepest kept. */
#define SRV_MD_MAX_DEPTH 32

/* Text longer than this is not parsed as Markdown: libcmark keeps a node
 * per element (about 130 bytes of memory per byte of input at worst, a
 * nest of block quotes) and aborts the process when memory runs out, so
 * the input it sees is bounded. Longer text is shown as written, escaped,
 * in one <pre>. */
#define SRV_MD_MAX_BYTES (1024 * 1024)

/* Write the HTML body fragment for 'len' bytes of UTF-8 Markdown 'text' to
 * 'out': CommonMark rendered by libcmark (linear time in 'len', whatever
 * the input), made safe as said above; over SRV_MD_MAX_BYTES, a note and
 * the text escaped in a <pre>. Returns 0, or -1 when
 * writing failed (ferror) or memory ran out while making it safe (then
 * nothing was written). libcmark's own allocator aborts the process when
 * memory runs out during parse or render. */
int srv_md_render(FILE *out, const char *text, size_t len);

/* Write 'len' bytes of 'text' escaped for HTML text and attribute values
 * (& < > " ' and control characters). Returns 0 or -1 (ferror). */
int srv_md_escape(FILE *out, const char *text, size_t len);

/* 1 when 'url' (len bytes) is a link target we emit: http:, https:,
 * mailto: or a relative reference, with no spaces or control bytes. */
int srv_md_safe_url(const char *url, size_t len);

/* ---- authorship (authors.c): who wrote each code point
 *
 * An srv_authors is the attribution of a document's text at one version:
 * runs of code points, each with the user of the op that inserted them
 * (retains keep a code point's author, deletes remove it). Adjacent runs of
 * one user are merged, so equal attributions have equal runs. Invariant:
 * no run is empty and the runs' lengths sum to 'length', the text's length
 * in code points. The algorithm and the cache: docs/history.md. */

typedef struct srv_author_run {
    uint32_t len;                /* code points, > 0 */
    uint32_t who;                /* index into names */
} srv_author_run;

typedef struct srv_authors srv_authors;
struct srv_authors {
    char doc[65];                /* "" until built for a document */
    int64_t created_ms;          /* the document's: a re-made id differs */
    int64_t version;
    size_t length;               /* code points */
    srv_author_run *runs;
    size_t n, cap;
    char **names;                /* every user seen, owned; some may have no
                                    run left */
    size_t nnames, names_cap;
    /* the cache's (lws thread only) */
    int refs;
    srv_authors *prev, *next;
};

/* An empty attribution (version 0, one reference), or NULL (no memory). */
srv_authors *srv_authors_new(void);
/* A deep copy of 'a' with one reference and no cache links, or NULL. */
srv_authors *srv_authors_clone(const srv_authors *a);
/* Drop one reference; the last frees. Accepts NULL. Lws thread once the
 * attribution is in a cache. */
void srv_authors_unref(srv_authors *a);

/* Apply 'op' to 'a', its inserts written by 'user'. Returns 0;
 * STORE_ERANGE when the op spans more than a->length; STORE_ENOMEM. On
 * error a's runs are unchanged. a->version is left to the caller. */
int srv_authors_apply(srv_authors *a, const ot_op *op, const char *user);

/* The user of run 'r' of 'a' (borrowed from 'a'). */
const char *srv_authors_user(const srv_authors *a, const srv_author_run *r);

/* Bytes of memory 'a' holds (what the cache counts). */
size_t srv_authors_bytes(const srv_authors *a);

/* The attribution of 'doc' at 'version' (< 0: the current one), made by
 * replaying the ops after 'from' (a checkpoint of the same document made
 * earlier, borrowed and only read; NULL, one of another incarnation of
 * the id or one past 'version': from version 0). Up to 'nkeep' more
 * checkpoints, at multiples of SRV_AUTHORS_EVERY passed on the way (the
 * newest ones), go to keep[] (*nkept set). *replayed is the number of ops
 * applied. Returns 0 with *out owned by the caller; STORE_ENOTFOUND,
 * STORE_ERANGE (no such version), STORE_ECORRUPT (the log does not
 * replay), STORE_ENOMEM; on error nothing is returned. Runs on a pool
 * thread ('st' is used only during the call). */
#define SRV_AUTHORS_EVERY 1024
int srv_authors_build(store *st, const char *doc, int64_t version,
                      const srv_authors *from, srv_authors **out,
                      srv_authors **keep, size_t nkeep, size_t *nkept,
                      int64_t *replayed);

/* Checkpoints kept in memory, least recently used dropped first once they
 * hold more than max_bytes. Used on the lws thread only, so unlocked: a
 * pool task reads a checkpoint it holds a reference to, and only its
 * attribution (doc, created_ms, version, length, runs, names), which never
 * changes once made; 'refs', 'prev' and 'next' are the lws thread's. */
typedef struct srv_authors_cache {
    size_t max_bytes, bytes, count;
    srv_authors *head, *tail;    /* most recently used first */
    uint64_t requests, hits, replayed_ops;  /* for /metrics */
} srv_authors_cache;

#define SRV_AUTHORS_CACHE_BYTES (32u * 1024 * 1024)

void srv_authors_cache_init(srv_authors_cache *c, size_t max_bytes);
/* Drop every checkpoint (those a task still holds live on until it is
 * done). */
void srv_authors_cache_clear(srv_authors_cache *c);
/* The checkpoint of 'doc' with the greatest version <= 'version' (any
 * version when 'version' < 0), with a reference taken for the caller
 * (srv_authors_unref), or NULL. */
srv_authors *srv_authors_cache_get(srv_authors_cache *c, const char *doc,
                                   int64_t version);
/* Add 'a' (the caller's reference passes to the cache; NULL is ignored).
 * A checkpoint of the same document and version already there is kept
 * and 'a' dropped; those of another incarnation of the id are dropped.
 * Then the least recently used go until the bytes fit. */
void srv_authors_cache_put(srv_authors_cache *c, srv_authors *a);

#endif
