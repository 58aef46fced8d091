/* test_srv_map.c -- the server's string-keyed map (server/map.c).
 *
 * Its keys come from clients (document ids, client ids, names), so the
 * hash is keyed per process: keys chosen to collide under a fixed hash
 * (here FNV-1a, which the map used before) must not pile up in one probe
 * run. */
#include <stdint.h>

#include "server/base/base.h"
#include "tests/harness.h"

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void test_put_get_del_and_iterate(void)
{
    srv_map m;
    srv_map_init(&m);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "doc-%d", i);
        REQUIRE(srv_map_put(&m, k, (void *)(intptr_t)(i + 1)) == 0);
    }
    CHECK_EQ_INT(m.len, 1000);
    for (int i = 0; i < 1000; i += 2) {
        snprintf(k, sizeof k, "doc-%d", i);
        CHECK_EQ_INT((intptr_t)srv_map_del(&m, k), i + 1);
    }
    int seen = 0;
    const char *key;
    void *val;
    for (size_t i = 0; srv_map_next(&m, &i, &key, &val);) seen++;
    CHECK_EQ_INT(seen, 500);
    CHECK(srv_map_get(&m, "doc-2") == NULL);
    CHECK_EQ_INT((intptr_t)srv_map_get(&m, "doc-3"), 4);
    CHECK(srv_map_put(&m, "doc-3", (void *)7) == 0);
    CHECK_EQ_INT((intptr_t)srv_map_get(&m, "doc-3"), 7);
    CHECK_EQ_INT(m.len, 500);
    srv_map_clear(&m);
}

static void test_keys_chosen_to_collide_do_not_share_a_probe_run(void)
{
    /* 1000 keys whose FNV-1a hashes agree in their low 11 bits: under
     * that hash, in a map of 2048 slots, they would fill one run. */
    enum { N = 1000, BITS = 11 };
    srv_map m;
    srv_map_init(&m);
    char k[32];
    uint64_t want = fnv1a("x0") & ((1u << BITS) - 1);
    int found = 0;
    for (uint64_t i = 0; found < N; i++) {
        snprintf(k, sizeof k, "x%llu", (unsigned long long)i);
        if ((fnv1a(k) & ((1u << BITS) - 1)) != want) continue;
        REQUIRE(srv_map_put(&m, k, (void *)1) == 0);
        found++;
    }
    size_t run = srv_map_longest_run(&m);
    fprintf(stderr, "  %d colliding keys in %zu slots: longest run %zu\n", N,
            m.cap, run);
    CHECK(m.cap == 2048);
    CHECK(run < 200);
    srv_map_clear(&m);
}

int main(void)
{
    RUN(test_put_get_del_and_iterate);
    RUN(test_keys_chosen_to_collide_do_not_share_a_probe_run);
    return harness_done();
}
