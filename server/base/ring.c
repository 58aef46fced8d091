/* ring.c -- growth of the FIFO ring (ring.h); the fast paths are inline
 * there. Growing copies the elements, front first, into a new array twice
 * the size, so their order and the ring's contents are unchanged. */
#include <stdint.h>
#include <stdlib.h>

#include "server/base/base.h"

void srv_ring_init(srv_ring *r, size_t size)
{
    memset(r, 0, sizeof *r);
    r->size = size;
}

void srv_ring_free(srv_ring *r)
{
    free(r->buf);
    r->buf = NULL;
    r->head = r->len = r->cap = 0;
}

int srv__ring_grow(srv_ring *r, size_t first)
{
    size_t ncap = r->cap ? r->cap * 2 : first;
    assert(ncap && (ncap & (ncap - 1)) == 0 && r->len <= r->cap);
    if (ncap > SIZE_MAX / 2 / r->size) return -1;
    unsigned char *nb = malloc(ncap * r->size);
    if (!nb) return -1;
    size_t front = r->cap - r->head; /* elements before the wrap */
    if (front > r->len) front = r->len;
    if (r->len) {
        memcpy(nb, r->buf + r->head * r->size, front * r->size);
        memcpy(nb + front * r->size, r->buf, (r->len - front) * r->size);
    }
    free(r->buf);
    r->buf = nb;
    r->cap = ncap;
    r->head = 0;
    return 0;
}
