/* base.h -- server/base: what every room of server/ may use and that
 * knows nothing of lws, sessions or HTTP: the log, a string-keyed map,
 * the clocks.
 *
 * Rooms above (auth, history, collab, net, api, cli) include this; base/
 * includes nothing of server/ (tools/check-includes.sh enforces the
 * direction). */
#ifndef CHORUS_SERVER_BASE_H
#define CHORUS_SERVER_BASE_H

#include <stddef.h>
#include <stdint.h>

/* ---- the log (log.c): lines on stderr, with time and level.
 * Only server/ logs (ot/ and storage/ return codes). Levels: error, warn,
 * info, debug; --log-level or CHORUS_LOG picks the threshold. */
enum { SRV_LOG_ERROR = 0, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

void srv_log_set_level(int level);
/* Parse "error", "warn", "info" or "debug"; -1 when unknown. */
int srv_log_parse_level(const char *name);
void srv_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define srv_err(...) srv_log(SRV_LOG_ERROR, __VA_ARGS__)
#define srv_warn(...) srv_log(SRV_LOG_WARN, __VA_ARGS__)
#define srv_info(...) srv_log(SRV_LOG_INFO, __VA_ARGS__)
#define srv_debug(...) srv_log(SRV_LOG_DEBUG, __VA_ARGS__)

/* ---- a small string-keyed hash map (map.c), open addressing with linear
 * probing, for the server's tables: sessions by document id, clients by
 * id, connections per IP. Keys are copied; values are borrowed pointers.
 * The hash is keyed with a per-process random key (keys come from
 * clients). Not locked: each map belongs to one thread. */
typedef struct srv_map_slot {
    char *key;                   /* NULL: empty; MAP_TOMB: deleted */
    void *val;
} srv_map_slot;

typedef struct srv_map {
    srv_map_slot *slots;
    size_t cap;                  /* power of two, or 0 */
    size_t len;                  /* live keys */
    size_t used;                 /* live + tombstones */
} srv_map;

void srv_map_init(srv_map *m);
void srv_map_clear(srv_map *m);  /* frees keys, not values */
void *srv_map_get(const srv_map *m, const char *key);
/* Insert or replace. Returns 0, or -1 on ENOMEM (map unchanged). */
int srv_map_put(srv_map *m, const char *key, void *val);
/* Remove; returns the value or NULL. */
void *srv_map_del(srv_map *m, const char *key);

/* The longest run of occupied slots (live or deleted): how far a probe may
 * have to walk. For tests and /metrics-style checks; O(cap). */
size_t srv_map_longest_run(const srv_map *m);

/* Iterate: for (size_t i = 0; srv_map_next(m, &i, &k, &v);) */
int srv_map_next(const srv_map *m, size_t *i, const char **key, void **val);

/* ---- clocks (clock.c) */
/* Wall-clock milliseconds since 1970: for what is stored or compared with
 * stored times (stamps, expiries). */
uint64_t srv_wall_ms(void);
/* Monotonic milliseconds: for every interval (rate limits, timers, idle
 * sessions), which a wall-clock step must not stretch or cut short. */
uint64_t srv_mono_ms(void);
double srv_now_s(void);           /* monotonic seconds, for latencies */

#endif
