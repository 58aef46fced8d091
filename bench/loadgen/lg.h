/* lg.h -- the Chorus load generator: shared types of bench/loadgen.
 *
 * One process, one lws service thread, N WebSocket clients speaking
 * chorus.v1 to one server. A run connects every client (a bounded number at
 * a time), waits until all have joined their document, warms up, then
 * measures for a fixed time and prints one `name: value unit` line a figure.
 *
 * Key invariant: a client never has more than one op in flight, and always
 * sends it on the newest version it has seen, with positions inside the
 * length that version is known to have (only inserts are generated, so the
 * length is at least the length at join plus one per op seen since). */
#ifndef CHORUS_LOADGEN_LG_H
#define CHORUS_LOADGEN_LG_H

#include <stddef.h>
#include <stdint.h>

/* ---- latency histograms (hist.c): log-linear, about 1.5% resolution */
#define LG_HIST_BUCKETS 2560
typedef struct lg_hist {
    uint64_t n;
    uint64_t b[LG_HIST_BUCKETS];
} lg_hist;

/* Record one latency of 'us' microseconds. */
void lg_hist_add(lg_hist *h, uint64_t us);
/* The p-th percentile (0..100) in milliseconds; 0 when empty. */
double lg_hist_pct_ms(const lg_hist *h, double p);

/* ---- the server process (hist.c, from /proc) */
typedef struct lg_proc {
    double cpu_s;       /* user + system seconds, every thread */
    long rss_kib;       /* VmRSS */
    long hwm_kib;       /* VmHWM: peak RSS */
} lg_proc;

/* Read /proc/<pid>/stat and status. Returns 0, or -1 when they cannot be
 * read (then *out is zeroed). */
int lg_proc_read(int pid, lg_proc *out);

/* CPU seconds the whole machine has been busy (all cores, from /proc/stat),
 * or -1 when it cannot be read. */
double lg_machine_busy(void);

/* ---- server messages (scan.c) */
typedef struct lg_span {
    const char *p;
    size_t n;
} lg_span;

typedef struct lg_msg {     /* the fields of one message the generator uses */
    lg_span type;           /* chorus "type", ShareDB "a" */
    lg_span client;         /* chorus "client", ShareDB "src" */
    lg_span text;           /* raw JSON string body, escapes not decoded:
                               chorus "text", ShareDB "data"."data" */
    int64_t version;        /* chorus "version", ShareDB "v" (or "data"."v");
                               -1 when absent */
    int64_t seq;            /* -1 when absent */
    int has_op, has_create, has_error;  /* members present */
    int has_doc_type;       /* ShareDB "data"."type" is a string */
} lg_msg;

typedef void (*lg_msg_fn)(void *arg, const lg_msg *m);

/* Call 'fn' for each message of a frame: one object, or an array of them.
 * Returns 0, or -1 on malformed JSON (messages before the error were
 * delivered). 'buf' is borrowed; spans point into it. */
int lg_scan_frame(const char *buf, size_t len, lg_msg_fn fn, void *arg);

/* 1 when span 's' equals the NUL-terminated 'lit'. */
int lg_span_is(lg_span s, const char *lit);

/* ---- the run (run.c forks workers; client.c is one worker) */
enum lg_mode { LG_CLOSED, LG_PACED, LG_IDLE };
enum lg_proto { LG_CHORUS, LG_SHAREDB };

typedef struct lg_config {
    const char *host;
    int port;
    int port2;              /* > 0: odd clients connect here (two nodes) */
    const char *path;
    int clients;            /* N */
    int docs;               /* D: client i joins doc i % D */
    const char *doc_prefix; /* docs are <prefix><index> */
    const char *run_id;     /* client ids are lg-<run_id>-<i> */
    int mode;
    int proto;              /* LG_CHORUS or LG_SHAREDB */
    double rate;            /* LG_PACED: keystrokes per second per client */
    int prefill;            /* characters each document's first client
                               inserts before the others join (0: none) */
    double warmup_s, duration_s; /* LG_IDLE: duration is the settle time */
    int server_pid;         /* 0: no server figures */
    const char **src;       /* source addresses, round robin; NULL: any */
    int nsrc;
    int connect_window;     /* connections being opened at once, per worker */
    int procs;              /* worker processes; client i is worker i % procs */
    const char *name;       /* prefix of every printed figure */
} lg_config;

/* ---- WebSocket framing over lws raw sockets (ws.c) */
enum { LG_WS_OPEN = -1, LG_WS_TEXT = 1, LG_WS_CLOSE = 8, LG_WS_PING = 9,
       LG_WS_PONG = 10 };
#define LG_WS_HDR 14        /* room before a payload for its frame header */

typedef struct lg_ws {
    char *buf;              /* received, not yet parsed */
    size_t len, cap;
    char *msg;              /* a message arriving in several frames */
    size_t msg_len;
    int open;               /* the upgrade was answered 101 */
} lg_ws;

/* Called with LG_WS_OPEN once, then each whole text message (NUL after
 * it) and each control frame's payload. A negative return stops the feed. */
typedef int (*lg_ws_fn)(void *arg, int kind, const char *data, size_t len);

/* The upgrade request for cfg's host, port and path (and chorus.v1 unless
 * speaking ShareDB's protocol); a "%s" in the path becomes 'doc', the
 * client's document id (a proxy may hash by it). Its length, or -1 when
 * cap is too small. */
int lg_ws_request(char *buf, size_t cap, const lg_config *cfg,
                  const char *doc);
/* Write the header of a client frame carrying 'len' bytes into 'buf'
 * (LG_WS_HDR bytes at most); returns its length. */
size_t lg_ws_frame(unsigned char *buf, int opcode, size_t len);
/* Take in bytes received; 0, or -1 on a refused upgrade, a malformed
 * frame, memory, or fn's refusal. */
int lg_ws_feed(lg_ws *w, const char *in, size_t len, lg_ws_fn fn, void *arg);
void lg_ws_free(lg_ws *w);

/* Run one workload to the end and print its figures. Returns 0, or -1 when
 * the run could not complete (connection failures, server errors); the
 * reason is printed on stderr. */
int lg_run(const lg_config *cfg);

/* ---- what workers share (one MAP_SHARED mapping made before the fork) */
#define LG_KS_RING 4096     /* keystroke times kept per client */
#define LG_OP_RING 256      /* sent ops remembered per client */
#define LG_MAX_PROCS 16

typedef struct lg_sent_op {
    int64_t seq;
    uint32_t k0, k1;        /* the author's keystrokes k0..k1-1 */
} lg_sent_op;

/* A paced client's typing, readable by every worker: the one that receives
 * another's op finds the keystroke times here. Written only by the
 * client's own worker; a reader checks seq, so a torn read is discarded. */
typedef struct lg_typing {
    volatile uint32_t ks_next;        /* keystrokes typed so far */
    double ks_ts[LG_KS_RING];
    lg_sent_op ops[LG_OP_RING];
} lg_typing;

typedef struct lg_counts {  /* one worker's results */
    uint64_t acks, ks_typed, k2r_missed;
    double cpu_s;           /* the worker's own CPU while measuring */
    lg_hist ack, k2r;
} lg_counts;

typedef struct lg_shared {
    int ready;              /* clients joined, over all workers (atomic) */
    int failed;             /* a worker failed: everyone stops */
    int started;            /* 0, then 1 once t_start is set (atomic) */
    double t_start;         /* every client joined: load starts */
    lg_proc p0, p1;         /* the server at the window's start and end */
    /* LG_IDLE: the first half of the clients joins, settles, the server is
     * read (pmid), then the rest joins: the growth from pmid to p1 is what
     * idle connections cost, without the fixed costs of a first use
     * (documents, database caches, a runtime's warm-up) */
    int half;               /* 0 opening, 1 settling, 2 read (atomic) */
    double t_half;
    lg_proc pmid;
    double m0, m1;          /* lg_machine_busy() then */
    lg_counts w[LG_MAX_PROCS];
    lg_typing typing[];     /* LG_PACED: one per client */
} lg_shared;

/* Worker 'w' of a run: open its clients (i % procs == w), play the
 * workload, leave its results in sh->w[w]. Returns 0 or -1 (reason on
 * stderr, sh->failed set). */
int lg_worker(const lg_config *cfg, lg_shared *sh, int w);

double lg_now(void);        /* monotonic seconds */

#endif
