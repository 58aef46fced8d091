/* history.h -- walking a document's op log page by page, and grouping it
 * into edit sessions, for the history routes and every exporter.
 *
 * A walk holds one page of ops (SRV_WALK_PAGE at most) and, when asked to
 * replay, the text at the op last returned: memory depends on the text and
 * the page size, never on the length of the history. An edit session is a
 * run of consecutive ops by one user with no idle gap longer than
 * SRV_SESSION_GAP_MS between two of them. */
#ifndef CHORUS_SERVER_HISTORY_H
#define CHORUS_SERVER_HISTORY_H

#include <stdint.h>

#include "ot/ot.h"
#include "storage/store.h"

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

#endif
