/* test_srv_api.c -- the API's route table and its /metrics writer
 * (server/api/), without a network or a pool: the answers tested here are
 * given on the spot (400, 404, 405 with Allow, /metrics), so a request is
 * a plain struct and the environment holds no pool.
 *
 * The /metrics page is written through srv_sb, one bounded appender: it
 * grows as the page grows and, at its limit, fails instead of writing past
 * its buffer (the page had a fixed 8 KiB buffer and offsets that ran past
 * it once the text outgrew it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "tests/harness.h"

static srv_metrics metrics;
static const srv_api_env env = {.metrics = &metrics};

static srv_http_req *new_req(int method, const char *path)
{
    srv_http_req *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->wsi = (struct lws *)(uintptr_t)0x2000;
    r->refs = 1;
    r->resp_fd = -1;
    r->method = method;
    snprintf(r->path, sizeof r->path, "%s", path);
    return r;
}

/* Dispatch and return the request (answered, or not ours: responded 0). */
static srv_http_req *ask(int method, const char *path, int *ours)
{
    srv_http_req *r = new_req(method, path);
    *ours = srv__api_dispatch(&env, r);
    return r;
}

static int has(const srv_http_req *r, const char *s)
{
    return r->resp && strstr(r->resp, s) != NULL;
}

static void test_wrong_method_is_405_with_allow_from_the_table(void)
{
    static const struct {
        int method;
        const char *path, *allow;
    } cases[] = {
        {SRV_DELETE, "/api/docs", "GET, HEAD, POST"},
        {SRV_GET, "/api/login", "POST"},
        {SRV_PUT, "/metrics", "GET, HEAD"},
        {SRV_POST, "/api/docs/notes", "GET, HEAD, DELETE, PATCH"},
        {SRV_POST, "/api/search", "GET, HEAD"},
        {SRV_POST, "/api/trash", "GET, HEAD"},
        {SRV_GET, "/api/trash/notes", "DELETE"},
        {SRV_GET, "/api/trash/notes/restore", "POST"},
        {SRV_POST, "/api/docs/notes/roles", "GET, HEAD, PUT"},
        {SRV_GET, "/api/docs/notes/share/revoke", "POST"},
        {SRV_GET, "/api/docs/notes/restore", "POST"},
        {SRV_OPTIONS, "/api/docs/notes/history", "GET, HEAD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ours = 0;
        srv_http_req *r = ask(cases[i].method, cases[i].path, &ours);
        CHECK(ours);
        CHECK_EQ_INT(r->status, 405);
        CHECK_EQ_STR(r->allow, cases[i].allow);
        CHECK(has(r, "method_not_allowed"));
        srv_http_release(r);
    }
}

static void test_unknown_api_path_is_404_and_others_are_not_ours(void)
{
    int ours = 0;
    srv_http_req *r = ask(SRV_GET, "/api/nope", &ours);
    CHECK(ours && r->status == 404 && has(r, "\"not_found\""));
    srv_http_release(r);
    r = ask(SRV_GET, "/api/docs/notes/nope", &ours);
    CHECK(ours && r->status == 404 && has(r, "no such API route"));
    srv_http_release(r);
    r = ask(SRV_GET, "/api/docs/notes/", &ours);
    CHECK(ours && r->status == 404);
    srv_http_release(r);
    r = ask(SRV_GET, "/index.html", &ours);
    CHECK(!ours && !r->responded);
    srv_http_release(r);
    r = ask(SRV_POST, "/ws", &ours);
    CHECK(!ours && !r->responded);
    srv_http_release(r);
}

static void test_bad_doc_id_is_400_before_method_or_route(void)
{
    static const char *paths[] = {"/api/docs/", "/api/docs/.hidden",
                                  "/api/docs//text", "/api/docs/a%20b/nope",
                                  "/api/trash/.x", "/api/trash//restore"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int ours = 0;
        srv_http_req *r = ask(SRV_DELETE, paths[i], &ours);
        CHECK(ours);
        CHECK_EQ_INT(r->status, 400);
        CHECK(has(r, "bad_doc_id"));
        srv_http_release(r);
    }
}

static void test_sb_grows_and_fails_at_its_limit_without_writing_past(void)
{
    srv_sb b;
    size_t len = 0;
    srv_sb_init(&b, 64);
    for (int i = 0; i < 6; i++) CHECK(srv_sb_printf(&b, "%09d\n", i) == 0);
    CHECK_EQ_INT(b.len, 60);
    CHECK(b.cap <= 64);
    CHECK(srv_sb_printf(&b, "%s", "abcd") < 0);   /* 64 + NUL > 64 */
    CHECK(b.failed);
    CHECK_EQ_INT(b.len, 60);
    CHECK(srv_sb_printf(&b, "x") < 0);            /* stays failed */
    CHECK(srv_sb_take(&b, &len) == NULL);
    CHECK_EQ_INT(len, 0);
    srv_sb_init(&b, 1 << 20);
    CHECK(srv_sb_printf(&b, "%s %d", "n", 42) == 0);
    char *s = srv_sb_take(&b, &len);
    CHECK_EQ_STR(s, "n 42");
    CHECK_EQ_INT(len, 4);
    free(s);
}

static void test_metrics_page_is_whole_or_fails(void)
{
    srv_sb b;
    size_t len = 0;
    metrics.ack_lat_count = UINT64_MAX;
    metrics.conns_total = UINT64_MAX;
    srv_sb_init(&b, 1 << 20);
    CHECK(srv__api_metrics_text(&env, &b) == 0);
    char *page = srv_sb_take(&b, &len);
    REQUIRE(page);
    CHECK_EQ_INT(strlen(page), len);
    CHECK(strstr(page, "chorus_connections_total 18446744073709551615\n"));
    const char *last = "chorus_ack_latency_seconds_count 18446744073709551615\n";
    CHECK(len > strlen(last) && strcmp(page + len - strlen(last), last) == 0);
    free(page);
    for (size_t max = 0; max < len + 1; max += 97) { /* every cut fails */
        srv_sb_init(&b, max);
        CHECK(srv__api_metrics_text(&env, &b) < 0);
        CHECK(b.len < max || b.len == 0);
        srv_sb_clear(&b);
    }
}

static void test_metrics_route_answers_the_page(void)
{
    int ours = 0;
    srv_http_req *r = ask(SRV_GET, "/metrics", &ours);
    CHECK(ours && r->status == 200);
    CHECK_EQ_STR(r->ctype, "text/plain; version=0.0.4");
    CHECK(has(r, "# TYPE chorus_ack_latency_seconds histogram\n"));
    CHECK(r->resp && strlen(r->resp) == r->resp_len);
    srv_http_release(r);
}

int main(void)
{
    RUN(test_wrong_method_is_405_with_allow_from_the_table);
    RUN(test_unknown_api_path_is_404_and_others_are_not_ours);
    RUN(test_bad_doc_id_is_400_before_method_or_route);
    RUN(test_sb_grows_and_fails_at_its_limit_without_writing_past);
    RUN(test_metrics_page_is_whole_or_fails);
    RUN(test_metrics_route_answers_the_page);
    return harness_done();
}
