/* test_srv_ring.c -- the growable FIFO ring of server/base/ring.h: order
 * kept across wrap-around and growth, pops and unpushes, and a freed ring
 * usable again. */
#include <stdint.h>

#include "server/base/base.h"
#include "tests/harness.h"

static void test_elements_come_out_in_the_order_they_went_in_across_growth_and_wrap(void)
{
    srv_ring r;
    srv_ring_init(&r, sizeof(uint64_t));
    uint64_t next_in = 0, next_out = 0, v;
    /* push 3, pop 2, again and again: the head walks round as it grows */
    for (int round = 0; round < 500; round++) {
        for (int i = 0; i < 3; i++) {
            REQUIRE(srv_ring_push(&r, &next_in) == 0);
            next_in++;
        }
        for (int i = 0; i < 2; i++) {
            srv_ring_pop(&r, &v);
            CHECK_EQ_INT(v, next_out);
            next_out++;
        }
        CHECK((r.cap & (r.cap - 1)) == 0 && r.len <= r.cap);
    }
    CHECK_EQ_INT(r.len, next_in - next_out);
    for (size_t i = 0; i < r.len; i++)
        CHECK_EQ_INT(*(uint64_t *)srv_ring_at(&r, i), next_out + i);
    srv_ring_free(&r);
    CHECK(r.buf == NULL && r.len == 0 && r.cap == 0);
}

static void test_an_unpush_takes_back_only_the_last_element(void)
{
    srv_ring r;
    srv_ring_init(&r, sizeof(int));
    for (int i = 0; i < 20; i++) srv_ring_push(&r, &i);
    srv_ring_unpush(&r);
    CHECK_EQ_INT(r.len, 19);
    CHECK_EQ_INT(*(int *)srv_ring_at(&r, 18), 18);
    int v = -1;
    srv_ring_pop(&r, &v);
    CHECK_EQ_INT(v, 0);
    srv_ring_free(&r);
}

static void test_a_freed_ring_can_be_used_again(void)
{
    srv_ring r;
    srv_ring_init(&r, sizeof(char *));
    const char *s = "x";
    srv_ring_push(&r, &s);
    srv_ring_free(&r);
    CHECK_EQ_INT(srv_ring_push(&r, &s), 0);
    const char *out = NULL;
    srv_ring_pop(&r, &out);
    CHECK(out == s);
    srv_ring_free(&r);
}

int main(void)
{
    RUN(test_elements_come_out_in_the_order_they_went_in_across_growth_and_wrap);
    RUN(test_an_unpush_takes_back_only_the_last_element);
    RUN(test_a_freed_ring_can_be_used_again);
    return harness_done();
}
