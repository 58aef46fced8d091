/* map.c -- string-keyed open-addressing hash map (see map.h).
 * Invariant: cap is 0 or a power of two, and used < cap * 3/4, so a probe
 * always reaches an empty slot.
 *
 * Keys come from clients (document ids, client ids, names): the hash is
 * SipHash (libsodium's crypto_shorthash) under a key drawn at random once
 * per process, so nobody can choose keys that all land in one probe run. */
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/base/base.h"

static char tomb_key;
#define MAP_TOMB (&tomb_key)

static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
    /* randombytes_buf works before sodium_init (it opens the source on
     * first use), and aborts rather than return weak bytes. */
    randombytes_buf(hash_key, sizeof hash_key);
}

static uint64_t hash(const char *s)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)s, strlen(s), hash_key);
    memcpy(&h, out, sizeof h);
    return h;
}

void srv_map_init(srv_map *m)
{
    memset(m, 0, sizeof *m);
}

void srv_map_clear(srv_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != MAP_TOMB)
            free(m->slots[i].key);
    free(m->slots);
    srv_map_init(m);
}

static srv_map_slot *find(const srv_map *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
        srv_map_slot *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != MAP_TOMB && strcmp(s->key, key) == 0) return s;
    }
}

void *srv_map_get(const srv_map *m, const char *key)
{
    srv_map_slot *s = find(m, key);
    return s ? s->val : NULL;
}

/* Every map hashes only after its first grow (cap 0 finds nothing), so
 * the key is drawn here, once per process, whichever map comes first. */
static int grow(srv_map *m)
{
    pthread_once(&hash_key_once, hash_key_init);
    size_t ncap = m->cap ? m->cap * 2 : 16;
    while (m->len * 2 >= ncap) ncap *= 2;
    srv_map_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        srv_map_slot *s = &m->slots[i];
        if (!s->key || s->key == MAP_TOMB) continue;
        size_t j = hash(s->key) & (ncap - 1);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->len;
    return 0;
}

int srv_map_put(srv_map *m, const char *key, void *val)
{
    srv_map_slot *s = find(m, key);
    if (s) {
        s->val = val;
        return 0;
    }
    if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) < 0) return -1;
    char *k = strdup(key);
    if (!k) return -1;
    size_t mask = m->cap - 1;
    size_t i = hash(key) & mask;
    while (m->slots[i].key && m->slots[i].key != MAP_TOMB) i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i].key = k;
    m->slots[i].val = val;
    m->len++;
    return 0;
}

void *srv_map_del(srv_map *m, const char *key)
{
    srv_map_slot *s = find(m, key);
    if (!s) return NULL;
    void *v = s->val;
    free(s->key);
    s->key = MAP_TOMB;
    s->val = NULL;
    m->len--;
    return v;
}

int srv_map_next(const srv_map *m, size_t *i, const char **key, void **val)
{
    for (; *i < m->cap; (*i)++) {
        srv_map_slot *s = &m->slots[*i];
        if (s->key && s->key != MAP_TOMB) {
            *key = s->key;
            *val = s->val;
            (*i)++;
            return 1;
        }
    }
    return 0;
}

size_t srv_map_longest_run(const srv_map *m)
{
    size_t best = 0, run = 0;
    /* twice round, so a run that wraps past the end is counted whole */
    for (size_t i = 0; i < 2 * m->cap; i++) {
        run = m->slots[i & (m->cap - 1)].key ? run + 1 : 0;
        if (run > best) best = run;
    }
    return best < m->cap ? best : m->cap;
}
