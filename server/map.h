/* map.h -- a small string-keyed hash map (open addressing, linear probing)
 * for the server's tables: sessions by document id, clients by id,
 * connections per IP. Keys are copied; values are borrowed pointers.
 * The hash is keyed with a per-process random key (keys come from clients). */
#ifndef CHORUS_SERVER_MAP_H
#define CHORUS_SERVER_MAP_H

#include <stddef.h>

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

#endif
