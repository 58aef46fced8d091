/* ring.h -- a growable FIFO ring of fixed-size elements: the out queue of a
 * connection (net/ws.c), the held relays (net/relay.c) and a session's
 * window of ops (collab/session.c) are each one of these.
 *
 * Elements are copied in and out by value. The capacity is 0 or a power of
 * two, so an index is a mask, not a division; growing doubles it and
 * unwraps the elements to the front of a new array. Invariant (asserted):
 * len <= cap, head < cap when cap > 0, and index i < len on every access.
 * Not locked: a ring belongs to one thread. */
#ifndef CHORUS_SERVER_BASE_RING_H
#define CHORUS_SERVER_BASE_RING_H

#include <assert.h>
#include <stddef.h>
#include <string.h>

typedef struct srv_ring {
    unsigned char *buf;           /* cap elements of 'size' bytes, or NULL */
    size_t size;                  /* bytes per element */
    size_t head;                  /* index of the front element */
    size_t len;                   /* elements held */
    size_t cap;                   /* 0 or a power of two */
} srv_ring;

/* An empty ring of elements of 'size' bytes (no allocation). */
void srv_ring_init(srv_ring *r, size_t size);
/* Free the storage; the elements (copies) are forgotten, len becomes 0. */
void srv_ring_free(srv_ring *r);
/* Make room for one more element: 0, or -1 on ENOMEM (ring unchanged).
 * Called by srv_ring_push; the first growth makes room for 'first'. */
int srv__ring_grow(srv_ring *r, size_t first);

/* Element i from the front (0 <= i < len), borrowed until the ring next
 * grows or is freed. */
static inline void *srv_ring_at(const srv_ring *r, size_t i)
{
    assert(i < r->len && r->cap && (r->cap & (r->cap - 1)) == 0);
    return r->buf + ((r->head + i) & (r->cap - 1)) * r->size;
}

/* Copy 'elem' in at the back. 0, or -1 on ENOMEM (ring unchanged). */
static inline int srv_ring_push(srv_ring *r, const void *elem)
{
    if (r->len == r->cap && srv__ring_grow(r, 16) < 0) return -1;
    r->len++;
    memcpy(srv_ring_at(r, r->len - 1), elem, r->size);
    return 0;
}

/* Remove the back element (the last pushed), undoing a push; the ring
 * must not be empty. */
static inline void srv_ring_unpush(srv_ring *r)
{
    assert(r->len > 0);
    r->len--;
}

/* Copy the front element to 'out' (may be NULL) and remove it; the ring
 * must not be empty. */
static inline void srv_ring_pop(srv_ring *r, void *out)
{
    assert(r->len > 0);
    if (out) memcpy(out, srv_ring_at(r, 0), r->size);
    r->head = (r->head + 1) & (r->cap - 1);
    r->len--;
}

#endif
