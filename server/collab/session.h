/* session.h -- inside collab/'s document sessions: the structs that
 * session.c (ops, commits, presence, lifetime) and join.c (loading a
 * document, joining members, catch-up) share, and the calls between them.
 * Not a contract for anyone else: collab.h is the room's. Invariants: the
 * window ring holds exactly the versions base+1..version; a member is in
 * s->m exactly while net/ (or a test) holds the join, and drop tells it. */
#ifndef CHORUS_SERVER_COLLAB_SESSION_H
#define CHORUS_SERVER_COLLAB_SESSION_H

#include <assert.h>

#include "server/base/base.h"
#include "server/collab/collab.h"

enum { SESS_LOADING, SESS_READY, SESS_FAILED };

typedef struct sess_op {           /* one op of the window */
    ot_op *op;                     /* as applied: transformed to its version */
    ot_op *orig;                   /* until committed: the op as made on */
    int64_t made_on;               /* this version (a catch-up puts other
                                      ops before it: catchup.c) */
    char *wire;                    /* its wire JSON text */
    char client[SRV_CLIENT_MAX + 1];
    char user[SRV_NAME_MAX + 1];
    int64_t seq;
    int64_t time_ms;
    double t_recv;                 /* when it arrived, for ack latency */
    size_t len_after;              /* code points of the text after it */
    int out;                       /* its APPEND is with the writer */
    srv_submit_done done;          /* server-made ops: told of the commit */
    void *done_arg;
} sess_op;

typedef struct sess_client {       /* a client's newest op in this document */
    int64_t last_seq;              /* -1: none */
    int64_t last_version;
    int pending;                   /* last op queued, not yet committed */
} sess_client;

typedef struct sess_member {
    void *h;                       /* net/'s handle, for the outputs */
    uint64_t id;                   /* survives the handle: tasks look it up */
    /* identity, copied in at join into one block of exactly its size,
     * "client\0name\0#rrggbb\0" (owned, freed by srv__sess_drop):
     * thousands of members sit idle, so none holds room for the longest
     * id and name. M_NAME and M_COLOR find the other two. */
    char *client;
    int64_t version;               /* the version it asked to resume from */
    uint32_t anchor, head;         /* at s->committed */
    unsigned char name_off;        /* M_NAME: client + name_off */
    unsigned char ready;           /* "joined" was sent */
    unsigned char waiting;         /* a join task is running for it */
    unsigned char has_version;
    unsigned char has_cursor;
    srv_msg *pres;                 /* its presence message, built once per */
    int64_t pres_version;          /* version and cursor: a join storm sends
                                      each to every joiner */
} sess_member;

#define M_NAME(m) ((m)->client + (m)->name_off)
#define M_COLOR(m) (M_NAME(m) + strlen(M_NAME(m)) + 1)

typedef struct sess_remote {      /* a member of another node (catchup.c) */
    char client[SRV_CLIENT_MAX + 1];
    char name[SRV_NAME_MAX + 1];
    char color[8];
    char node[40];
    int has_cursor;
    uint32_t anchor, head;         /* at s->committed */
} sess_remote;

typedef struct sess_heard {       /* an op heard on the bus (catchup.c) */
    store_oprec rec;               /* its strings are in mem */
    char *mem;
} sess_heard;

typedef struct sess_submit {      /* a submitted op waiting for a load */
    struct sess_submit *next;
    ot_op *op;
    int64_t version;               /* made on; a waiter: the one awaited */
    char user[SRV_NAME_MAX + 1];
    srv_submit_done done;
    void *arg;
    /* an HTTP op (srv_docs_submit_op): is_op; client[0] for dedup */
    int is_op;
    char client[SRV_CLIENT_MAX + 1];
    int64_t seq, last_seq, last_version;
    size_t span;
} sess_submit;

struct srv_docs {
    srv_doc_env env;
    srv_map sessions;              /* doc id -> srv_session (live ones) */
    uint64_t next_member_id;
    srv_docs_stats stats;          /* catchup.c */
};

struct srv_session {
    char id[65];
    srv_docs *docs;                /* its set, and through it the env */
    int state;
    ot_doc *doc;                   /* text at 'committed' */
    int64_t committed, version, base;
    size_t len;                    /* code points at 'version' */
    size_t base_len;               /* code points at 'base' */
    srv_ring win;                  /* of sess_op: versions base+1..version */
    sess_member *m;
    int nm, mcap;
    srv_map clients;               /* client id -> sess_client */
    int64_t last_snapshot;
    size_t ops_bytes;              /* wire bytes committed since it */
    uint64_t empty_since;
    sess_submit *submits;          /* submitted ops waiting for the load */
    sess_submit *waiters;          /* resent HTTP ops waiting for the
                                      commit of their first sending */
    int inflight;                  /* writer jobs and tasks holding it */
    /* Another writer on the same store (a node of a cluster) may take a
     * version first (catchup.c). 'held': new ops wait in the window,
     * unqueued, until the catch-up; 'poked': one is wanted; it starts once
     * no APPEND is out. */
    int appending;                 /* APPEND jobs out */
    int held, poked, catching_up;
    int fresh;                     /* the next APPEND has store_job.fresh */
    int conflicts;                 /* catch-ups since the last commit */
    uint64_t yield_ms;             /* holding for another node's commit
                                      since then (mono ms; 0: not) */
    sess_remote *rm;               /* other nodes' members (cluster mode) */
    int nrm, rmcap;
    sess_heard *heard;             /* other nodes' ops heard, not applied */
    int nheard, heardcap;
    int dead;                      /* out of the table; freed at inflight 0 */
};

typedef struct commit_job {        /* an APPEND, with what its commit needs */
    store_job job;
    srv_session *sess;
    char client[SRV_CLIENT_MAX + 1]; /* the record's strings live here: */
    char user[SRV_NAME_MAX + 1];     /* the window ring moves when it grows */
} commit_job;

typedef struct snap_job {          /* a SNAPSHOT, standalone */
    store_job job;
    char doc[65];
    char *text;
} snap_job;

/* Members are found by handle, by the id a task holds, by client id. */
static inline const srv_doc_env *srv__sess_env(const srv_session *s)
{
    return &s->docs->env;
}

static inline sess_op *srv__sess_win_at(srv_session *s, int64_t v)
{
    assert(v > s->base && v <= s->version);
    return srv_ring_at(&s->win, (size_t)(v - s->base - 1));
}

static inline sess_member *srv__sess_member(srv_session *s, void *h)
{
    for (int i = 0; i < s->nm; i++)
        if (s->m[i].h == h) return &s->m[i];
    return NULL;
}

/* Outputs: each takes the message it is given (NULL: out of memory). */
void srv__sess_send(srv_session *s, void *h, srv_msg *m, int whole);
void srv__sess_error(srv_session *s, void *h, const char *code,
                     const char *message, int64_t seq);
/* Send 'out' (stolen) to every ready member but 'except'. */
void srv__sess_broadcast(srv_session *s, srv_msg *out, void *except);
/* A new reference to m's presence message (NULL on ENOMEM). */
srv_msg *srv__sess_presence(srv_session *s, sess_member *m);
/* Remove member i (out->drop tells net/). */
void srv__sess_drop(srv_session *s, int i);
/* Tell the member why and drop it. */
void srv__sess_refuse(srv_session *s, sess_member *m, const char *code,
                      const char *why);
/* Refuse every member with 'code' and 'why' and retire 's': nothing more
 * is applied, acked or broadcast; server-made ops waiting are told. */
void srv__sess_end(srv_session *s, const char *code, const char *why);
/* Tell every member the document is gone, and retire the session. */
void srv__sess_fail(srv_session *s, const char *why);
/* Out of the table; freed once nothing holds it (maybe now). */
void srv__sess_retire(srv_session *s);
/* The op path shared with submit.c (session.c). Transform 'op' made on
 * version v over the window ops after it: 0 or an OT_E* code. */
int srv__sess_rebase(srv_session *s, ot_op **op, int64_t v);
/* Queue 'op' (taken on success) as version s->version + 1, of 'len_after'
 * code points: 'orig' (taken on success too) made on version 'made_on' and
 * rebased; 'done' is told of its commit. 0, or -1 on ENOMEM or a refusing
 * writer (nothing changed). */
int srv__sess_queue_op(srv_session *s, const char *client, const char *user,
                       int64_t seq, ot_op *op, ot_op *orig, int64_t made_on,
                       size_t len_after, srv_submit_done done, void *arg);
/* Code points of the text at 'version' (base <= version <= s->version). */
size_t srv__sess_len_at(srv_session *s, int64_t version);
/* Run the submitted ops waiting for the load (submit.c). */
void srv__sess_run_submits(srv_session *s);
/* Answer the waiters for version 'v' (submit.c) (0 and v), or all of them with
 * 'rc' < 0 (v ignored). */
void srv__sess_run_waiters(srv_session *s, int64_t v, int rc);
/* Give the window op at version v to the writer (session.c): 0 or -1. */
int srv__sess_submit_append(srv_session *s, int64_t v);
/* Move the members' cursors over a committed op of 'author' (session.c). */
void srv__sess_move_cursors(srv_session *s, const ot_op *op,
                            const char *author);
/* Drop the window's oldest committed ops past the history window. */
void srv__sess_win_evict(srv_session *s);
/* Catching up with other writers (catchup.c): an APPEND came back
 * refused (another writer took its version); start the catch-up once no
 * APPEND is out (called after each commit too). */
void srv__sess_conflict(srv_session *s);
/* After an APPEND refused: from the second in a row, ask the other nodes
 * to hold (out->yield_rec). */
void srv__sess_lost_race(srv_session *s);
/* A yield held longer than it may: catch up and go on; 1 if it did (the
 * session may be failed and freed). */
int srv__sess_yield_tick(srv_session *s, uint64_t now_ms);
void srv__sess_catchup_maybe(srv_session *s);
/* Presence across nodes (catchup.c): tell the other nodes about local
 * member 'm' (left: it leaves); send the joiner 'm' the other nodes'
 * members. */
void srv__sess_publish_presence(srv_session *s, sess_member *m, int left);
void srv__sess_send_remotes(srv_session *s, sess_member *m);

#endif
