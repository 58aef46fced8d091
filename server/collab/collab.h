/* collab.h -- server/collab: chorus.v1 on the wire (wire.c) and the
 * document sessions (session.c), the room's one header.
 *
 * A session orders a document's concurrent ops, persists them through a
 * writer and acks and broadcasts them once they are on disk. It reaches
 * everything outside itself through an environment (srv_doc_env): the
 * writer and reader-pool submits, the config values it needs, the clocks,
 * and a table of outputs (send to a member, relay, error, drop). It builds
 * no JSON of its own (the encoders are here, in wire.c) and makes no lws
 * call: collab/ includes nothing of net/, api/, cli/ or lws, so a test can
 * drive a session with a fake writer and fake outputs (tests/test_srv_doc.c).
 *
 * Threads: every function here runs on one thread (the event loop's); the
 * writer and the pool run their jobs elsewhere and their completions are
 * handed back here (srv_docs_on_commits, srv_task.done). */
#ifndef CHORUS_SERVER_COLLAB_H
#define CHORUS_SERVER_COLLAB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ot/ot.h"
#include "server/base/base.h"
#include "storage/store.h"

/* ---- outgoing messages (wire.c): one JSON text, shared by every queue it
 * sits in. The text starts SRV_MSG_PRE bytes into buf, so a transport that
 * needs headroom in front of it (lws: LWS_PRE, which net/ checks is no
 * larger) writes it without a copy. */
#define SRV_MSG_PRE 16

typedef struct srv_msg {
    int refs;
    int whole;             /* queued as a whole answer: not counted against
                              the queue bound (one queue only; net/ sets it) */
    size_t len;            /* JSON bytes, at buf + SRV_MSG_PRE */
    unsigned char *buf;    /* SRV_MSG_PRE headroom, then the JSON, then NUL */
} srv_msg;

/* A new message holding a copy of 'json'; NULL on ENOMEM. refs = 1. */
srv_msg *srv_msg_new(const char *json, size_t len);
/* Serialise 'obj' (compact) into a new message and drop the reference to
 * 'obj' (stolen, as with jansson's _new functions; NULL gives NULL). NULL
 * on ENOMEM. */
srv_msg *srv_msg_take(json_t *obj);
/* Drop one reference; the last frees. NULL is fine. */
void srv_msg_unref(srv_msg *m);

/* ---- chorus.v1 encoders (wire.c). Each returns a new message (refs 1),
 * or NULL on ENOMEM. Strings are borrowed. Doc and client ids must be
 * valid (srv_valid_doc_id, srv_valid_client_id): they are written
 * unquoted-checked; names and messages are quoted by jansson. */
srv_msg *srv_wire_ack(const char *doc, int64_t seq, int64_t version);
/* An "op" around 'wire' (an op's wire JSON text, not parsed again). */
srv_msg *srv_wire_op(const char *doc, int64_t version, const char *wire,
                     const char *client, int64_t seq, const char *user);
/* A member's cursor (has_cursor 0: null) at 'version'. */
srv_msg *srv_wire_presence(const char *doc, const char *client,
                           const char *name, const char *color,
                           int64_t version, int has_cursor, uint32_t anchor,
                           uint32_t head);
/* A member left: cursor null, "left": true. */
srv_msg *srv_wire_left(const char *doc, const char *client, const char *name,
                       const char *color, int64_t version);
/* "joined" at 'version', with the text (bytes long) when 'text' is not
 * NULL, else without (a catch-up went before it). */
srv_msg *srv_wire_joined(const char *doc, int64_t version, const char *text,
                         size_t bytes);
/* {"type":"title","doc","title"}: the document was renamed. */
srv_msg *srv_wire_title(const char *doc, const char *title);
/* {"type":"error",...}; 'doc' may be NULL, 'seq' < 0 for none. */
srv_msg *srv_wire_error(const char *code, const char *message,
                        const char *doc, int64_t seq);
/* The limits a welcome announces. */
typedef struct srv_wire_limits {
    size_t max_message, queue_bytes;
    int ops_per_sec, docs_per_conn, idle_timeout;
} srv_wire_limits;
srv_msg *srv_wire_welcome(const char *client, const char *name,
                          const char *color, const char *server,
                          const srv_wire_limits *limits, const char *mode);

/* ---- chorus.v1 decoding helpers (wire.c) */
#define SRV_CLIENT_MAX 64          /* bytes of a client id */
#define SRV_NAME_MAX 64            /* bytes (and code points) of a name */
/* Doc ids: 1-64 of A-Za-z0-9_.- not starting with a dot. 1 or 0. */
int srv_valid_doc_id(const char *s);
/* Client ids: 1-64 of A-Za-z0-9_.:- . 1 or 0. */
int srv_valid_client_id(const char *s);
/* An optional integer member >= 0 of 'o': 1 present and valid (in *out),
 * 0 absent, -1 present but not a non-negative integer. */
int srv_wire_uint(const json_t *o, const char *key, int64_t *out);
/* Code points a (decoded, hence valid) wire op walks over: its retains and
 * deletes, the trailing retain included, which decoding drops. */
size_t srv_wire_span(const json_t *wire);
/* The colour a client id is shown in: "#rrggbb" into out (8 bytes). */
void srv_wire_color(const char *client, char out[8]);

/* ---- decoding one client message (wire.c). The problems are found here
 * but reported by the caller in the protocol's order, which interleaves
 * them with checks of the connection (docs/protocol.md):
 *  - type SRV_IN_BAD: 'err' at once (not JSON, not an object with a type);
 *  - SRV_IN_HELLO: 'err' once hello is known not to be said already;
 *  - any other: 'err' once the connection has said hello (an unknown type,
 *    a bad doc id, seq or version, a bad join);
 *  - SRV_IN_OP, SRV_IN_PRESENCE: 'late' once the connection is known to be
 *    joined with a role that may edit (the op itself; version and cursor).
 * Strings point into 'root' and live until srv_wire_in_clear. */
enum {
    SRV_IN_BAD, SRV_IN_HELLO, SRV_IN_JOIN, SRV_IN_LEAVE, SRV_IN_OP,
    SRV_IN_PRESENCE, SRV_IN_UNKNOWN
};

typedef struct srv_wire_err {
    const char *code;             /* NULL: no problem */
    const char *message;
    const char *doc;              /* NULL: none */
    int64_t seq;                  /* < 0: none */
} srv_wire_err;

typedef struct srv_wire_in {
    int type;                     /* SRV_IN_* */
    srv_wire_err err, late;
    json_t *root;                 /* the parsed message (owned) */
    const char *doc;              /* join, leave, op, presence */
    const char *client;           /* hello: a valid client id */
    const char *name;             /* hello: "" when none */
    size_t name_cps;              /* hello: code points of name */
    const char *token;            /* hello: a string under 64 bytes, or NULL */
    const char *share;            /* join: a string under 256 bytes, or NULL */
    int has_version;              /* join: resume from 'version' */
    int64_t version, seq;
    int has_cursor;               /* presence: 0 for a null cursor */
    uint32_t anchor, head;
    ot_op *op;                    /* op: decoded (owned until taken) */
    size_t span;                  /* op: srv_wire_span of its wire form */
    char text[200];               /* room for a formatted message */
} srv_wire_in;

/* Decode 'len' bytes of 'data' (not NUL-terminated) into 'in'. Never fails
 * as such: every problem is in in->err or in->late. Clear 'in' after. */
void srv_wire_decode(srv_wire_in *in, const char *data, size_t len);
/* Free what 'in' holds (root, and op unless taken: set in->op NULL). */
void srv_wire_in_clear(srv_wire_in *in);

/* ---- document sessions (session.c) */
typedef struct srv_docs srv_docs;       /* the open documents */
typedef struct srv_session srv_session; /* one open document */

/* What the session tells its members, through net/ (or a test). 'member'
 * is the opaque handle given at join. The session calls these from inside
 * any of its functions, before they return (see each function). */
/* A member's presence as it travels between nodes (cluster mode): its
 * cursor at 'version' (has_cursor 0: none), or that it left. */
typedef struct srv_presence_rec {
    const char *doc, *node, *client, *name, *color;
    int64_t version;
    int has_cursor, left;
    uint32_t anchor, head;
} srv_presence_rec;

typedef struct srv_doc_out {
    /* Queue 'm' for the member (a new reference is taken; the session
     * keeps its own). 'whole': an answer the client cannot do without
     * that may pass the queue bound (a join's text). m NULL: the session
     * ran out of memory building it: the member's connection is closed. */
    void (*send)(void *member, srv_msg *m, int whole);
    /* The same for a broadcast, which may wait for the member's next frame. */
    void (*relay)(void *member, srv_msg *m);
    /* Queue an error (srv_wire_error's arguments). */
    void (*error)(void *member, const char *code, const char *message,
                  const char *doc, int64_t seq);
    /* The member is no longer in 's' (left, refused or failed): forget
     * the join. The session has already let go of it. */
    void (*drop)(void *member, srv_session *s);
    /* Bytes queued for the member that count against the queue bound. */
    size_t (*queued)(void *member);
    /* An op committed (metrics); 'ack_s' >= 0: its author was acked that
     * many seconds after it arrived, < 0: no author to ack. */
    void (*committed)(void *arg, double ack_s);
    /* The op 'r' of this node was committed (cluster mode: published to
     * the other nodes). May be NULL. */
    void (*commit_rec)(void *arg, const store_oprec *r);
    /* A member of this node joined, moved its cursor or left (cluster
     * mode: published). May be NULL. */
    void (*presence_rec)(void *arg, const struct srv_presence_rec *p);
    /* This node lost the race to append to 'doc' twice in a row (cluster
     * mode: ask the others to hold, srv_docs_remote_yield). May be NULL. */
    void (*yield_rec)(void *arg, const char *doc);
} srv_doc_out;

/* Everything a session reaches outside itself. Copied by srv_docs_new. */
typedef struct srv_doc_env {
    const srv_doc_out *out;
    void *out_arg;                  /* for out->committed */
    /* The group-commit writer: queue 'job' (borrowed until it comes back
     * through srv_docs_on_commits). 0, or a STORE_E* code (then it never
     * comes back). */
    int (*write)(void *io, store_job *job);
    /* The reader pool: run t->base.run on a pool thread, then t->done on
     * this one. 0, or a STORE_E* code (then done is never called). */
    int (*read)(void *io, srv_task *t);
    void *io;
    uint64_t (*mono_ms)(void);      /* intervals: the unload timer */
    uint64_t (*wall_ms)(void);      /* stamps stored with ops and docs */
    double (*now_s)(void);          /* monotonic seconds: ack latency */
    int64_t history_window;         /* ops kept in memory per session */
    int64_t snapshot_every;         /* ops between snapshots */
    size_t max_doc_chars;           /* code points a document may reach */
    size_t queue_bytes;             /* a member's queue bound (catch-ups) */
    uint64_t unload_after_ms;       /* an empty session stays this long */
} srv_doc_env;

/* A member's identity, copied in at join. */
typedef struct srv_doc_member {
    void *handle;                   /* net/'s connection: passed to out */
    const char *client;             /* valid client id */
    const char *name;               /* at most SRV_NAME_MAX bytes */
    const char *color;              /* "#rrggbb" */
} srv_doc_member;

/* A new, empty set of sessions using 'env' (copied); NULL on ENOMEM. */
srv_docs *srv_docs_new(const srv_doc_env *env);
/* Free every session (drop is called for each member still in one) and
 * the set. Jobs and tasks still out must have come back first. NULL ok. */
void srv_docs_free(srv_docs *d);
/* Shutdown, once the writer is stopped and drained: write a snapshot of
 * every document with commits since its last one into 'st' directly.
 * Returns 0, or the first STORE_E* code (the others are still tried). */
int srv_docs_flush(srv_docs *d, store *st);
size_t srv_docs_count(const srv_docs *d);
/* Completions from the writer (a list linked by next): each is applied,
 * acked and broadcast, in version order. */
void srv_docs_on_commits(srv_docs *d, store_job *done);
/* Unload the sessions empty for unload_after_ms at 'now_ms' (env's
 * mono_ms clock), snapshotting them first when they have new commits. */
void srv_docs_tick(srv_docs *d, uint64_t now_ms);

/* The loaded session of 'doc', or NULL. Borrowed until the next call
 * into this set (a leave or tick may free it). */
srv_session *srv_docs_get(srv_docs *d, const char *doc);
/* The session of 'doc', opened (a load task submitted, the document
 * created by 'creator' if missing) when not loaded. NULL on ENOMEM or when
 * the pool refuses. Then srv_session_join, or it unloads on a later tick. */
srv_session *srv_docs_open(srv_docs *d, const char *creator, const char *doc);

/* Join 'who' (copied) to 's', answering "joined" (with the text, or the
 * ops after 'version' when has_version) now or once loaded. The caller
 * records the join before calling: on every failure (out of memory,
 * version ahead, too old, a failed load) out->error and out->drop are
 * called, possibly before this returns. */
void srv_session_join(srv_session *s, const srv_doc_member *who,
                      int has_version, int64_t version);
/* 'member' leaves 's' (out->drop is called, and the others see it go).
 * 's' may be freed before this returns. */
void srv_session_leave(srv_session *s, void *member);
/* An op of 'member' made on 'version'; 'op' is stolen. 'span' is the code
 * points its wire form retains and deletes (srv_wire_span). Answers with
 * out->error now, or with an ack once committed. */
void srv_session_op(srv_session *s, void *member, int64_t version,
                    int64_t seq, ot_op *op, size_t span);
/* A cursor of 'member' made on 'version' (has_cursor 0: none). */
void srv_session_presence(srv_session *s, void *member, int64_t version,
                          int has_cursor, uint32_t anchor, uint32_t head);
/* An op made by the server itself (restore, tools) on 'version' of 'doc',
 * as user 'user': transformed, committed and broadcast like a client's.
 * 'op' is stolen. done(arg, rc, version) runs once: rc 0 after the commit
 * (version is the op's), or a STORE_E* code (nothing was applied); it may
 * run before this returns when the document is loaded and refuses the op
 * at once (STORE_ERANGE: the version is not in the window). Opens the document when needed. Returns 0,
 * or STORE_ENOMEM when it could not start (then done is not called). */
typedef void (*srv_submit_done)(void *arg, int rc, int64_t version);
int srv_docs_submit(srv_docs *d, const char *doc, int64_t version, ot_op *op,
                    const char *user, srv_submit_done done, void *arg);

/* An op sent by a client over HTTP (api/writes.c): the same checks and
 * (with a client id; NULL: none) the same (doc, client, seq) dedup as a
 * member's op, answered through
 * done(arg, rc, version) instead of messages. 'op' is stolen; strings are
 * copied. last_seq/last_version: the client's newest committed op on the
 * document as the request read it from storage (last_seq -1: none), used
 * when the session does not know the client yet. done runs once: rc 0
 * after the commit (a resend: at once or at its first sending's commit,
 * with that version), or rc < 0: one of SRV_SUB_E* below (nothing was
 * applied) or a STORE_E* code (server_error; the op may have committed,
 * and resending it with its seq says). It may run before this returns.
 * Returns 0, or STORE_ENOMEM (then done is not called). */
typedef struct srv_op_req {
    const char *doc, *client, *user;
    int64_t version, seq;
    ot_op *op;
    size_t span;              /* srv_wire_span of its wire form */
    int64_t last_seq, last_version;
} srv_op_req;
enum {
    SRV_SUB_EBADOP = -101,    /* bad_op: reaches past the end */
    SRV_SUB_EAHEAD = -102,    /* version_ahead */
    SRV_SUB_EOLD = -103,      /* too_old: not in the window */
    SRV_SUB_ELARGE = -104,    /* too_large: past --max-doc-chars */
    SRV_SUB_ESEQ = -105,      /* bad_message: a seq older than known */
};
int srv_docs_submit_op(srv_docs *d, const srv_op_req *req,
                       srv_submit_done done, void *arg);
/* The protocol's error code of a done() rc (a static string), and in
 * *message a static message. STORE_E* codes are "server_error". */
const char *srv_submit_code(int rc, const char **message);

/* Tell every member of the loaded 'doc' its new title (a "title"
 * message, relayed). Returns how many were told (0 when it is not
 * loaded), or -1 on ENOMEM (nobody was told). */
int srv_docs_retitle(srv_docs *d, const char *doc, const char *title);
/* End the loaded session of 'doc' (moved to the trash): every member gets
 * error 'code' with 'message' and is dropped (out->drop, before this
 * returns); ops not yet committed are neither acked nor broadcast. A
 * later srv_docs_open loads it anew. Returns how many members were
 * dropped (0 when it is not loaded). */
int srv_docs_close(srv_docs *d, const char *doc, const char *code,
                   const char *message);
/* Other writers of the same store (the nodes of a cluster): the store may
 * hold ops of 'doc' that this set has not seen. If 'doc' is loaded, its
 * session reads the ops after its committed version, applies them in
 * version order, relays them to its members, transforms its own ops not
 * yet committed over them and queues those again (catchup.c). Returns 1 if
 * it is loaded, else 0 (nothing to do: a load reads the store). */
int srv_docs_poke(srv_docs *d, const char *doc);
/* srv_docs_poke for every loaded document (a poll when no bus tells). */
void srv_docs_poke_all(srv_docs *d);
/* Another node says it committed 'r' (a bus message: a hint, not the
 * truth). Applied at once when 'doc' is loaded, 'r' is its next version
 * and nothing of its own is out; ignored when already known; otherwise
 * (a gap, own ops out, an op that does not apply) the session reads the
 * store as srv_docs_poke does. Returns 1 if 'doc' is loaded, else 0. */
int srv_docs_remote(srv_docs *d, const store_oprec *r);
/* Another node keeps losing the race to append to 'doc' (out->yield_rec
 * there): each of its lost races costs it a store read and a transaction,
 * and a node that appends back to back would win every one. The session
 * here holds its new ops, unqueued, until it hears another node's op (it
 * then catches up and queues them again, as after a lost race of its own)
 * or, should that op be lost on the bus, until srv_docs_tick a second or
 * two later. Returns 1 if 'doc' is loaded, else 0. */
int srv_docs_remote_yield(srv_docs *d, const char *doc);
/* A member of another node ('p->node') joined, moved or left 'p->doc':
 * its presence is kept with the loaded session (its cursor follows the
 * ops), relayed to the members here and given to those who join later.
 * Returns 1 if 'doc' is loaded, else 0. */
int srv_docs_remote_presence(srv_docs *d, const srv_presence_rec *p);
/* Node 'node' is gone (no word from it for a while): its members leave
 * every document here. */
void srv_docs_node_gone(srv_docs *d, const char *node);
/* Tell out->presence_rec of every ready member here again (after the bus
 * came back: what was said meanwhile was lost). */
void srv_docs_presence_again(srv_docs *d);
/* Counters of the above since start (/metrics). */
typedef struct srv_docs_stats {
    uint64_t remote_ops;          /* other nodes' ops applied */
    uint64_t catchups;            /* store reads for them */
    uint64_t heard_catchups;      /* catch-ups from ops heard on the bus */
    uint64_t conflicts;           /* APPENDs refused: version taken */
    uint64_t yields;              /* holds for another node (asked) */
} srv_docs_stats;
void srv_docs_stats_get(const srv_docs *d, srv_docs_stats *out);

const char *srv_session_id(const srv_session *s);
/* The committed version (what members have seen). */
int64_t srv_session_version(const srv_session *s);

#endif
