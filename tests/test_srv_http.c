/* test_srv_http.c -- HTTP answers stored in a request (server/base/
 * http_req.c), without a network: a request is a plain struct whose wsi is
 * a fake pointer and whose 'writable' hook counts the calls.
 *
 * The property: an answer's body and its length always agree, even when
 * the copy of a fixed text fails (strdup is replaced too, and made to
 * fail on demand): never a NULL body with a length, which the writer
 * would read from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/base/base.h"
#include "tests/harness.h"

static int fail_strdup;
static int writable_calls;

static void writable(srv_http_req *r)
{
    (void)r;
    writable_calls++;
}

char *strdup(const char *s)
{
    if (fail_strdup) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static srv_http_req *new_req(int method, const char *path)
{
    srv_http_req *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->wsi = (struct lws *)(uintptr_t)0x2000;
    r->refs = 1;
    r->resp_fd = -1;
    r->writable = writable;
    r->method = method;
    snprintf(r->path, sizeof r->path, "%s", path);
    return r;
}

/* Body and length agree: a body of 'resp_len' bytes, or none and 0. */
static int consistent(const srv_http_req *r)
{
    return r->responded && (r->resp != NULL || r->resp_len == 0);
}

static void test_json_answer_without_memory_has_no_length_without_body(void)
{
    srv_http_req *r = new_req(SRV_GET, "/api/docs");
    fail_strdup = 1;
    srv_http_json(r, 200, NULL);   /* as when json_dumps runs out */
    fail_strdup = 0;
    CHECK(consistent(r));
    CHECK_EQ_INT(r->status, 500);
    srv_http_release(r);
}

static void test_json_answer_ends_with_a_newline(void)
{
    srv_http_req *r = new_req(SRV_GET, "/api/me");
    srv_http_json(r, 200, json_pack("{s:i}", "a", 1));
    REQUIRE(r->resp);
    CHECK_EQ_INT(r->resp_len, 8);
    CHECK(memcmp(r->resp, "{\"a\":1}\n", 8) == 0);
    CHECK(writable_calls > 0);
    srv_http_release(r);
}

static void test_text_answer_without_memory_is_empty_not_null_with_length(void)
{
    srv_http_req *r = new_req(SRV_GET, "/healthz");
    fail_strdup = 1;
    srv_http_text(r, 404, "not found\n");
    fail_strdup = 0;
    CHECK(consistent(r));
    CHECK_EQ_INT(r->status, 404);
    CHECK_EQ_INT(r->resp_len, 0);
    srv_http_release(r);
}

static void test_text_answer_copies_the_text_with_its_length(void)
{
    srv_http_req *r = new_req(SRV_GET, "/healthz");
    srv_http_text(r, 200, "ok\n");
    REQUIRE(r->resp);
    CHECK_EQ_INT(r->resp_len, 3);
    CHECK(memcmp(r->resp, "ok\n", 3) == 0);
    CHECK_EQ_STR(r->ctype, SRV_HTTP_TEXT);
    srv_http_release(r);
}

static void test_second_answer_and_answer_to_gone_client_are_dropped(void)
{
    srv_http_req *r = new_req(SRV_GET, "/x");
    srv_http_text(r, 200, "first\n");
    srv_http_text(r, 500, "second\n");
    CHECK_EQ_INT(r->status, 200);
    CHECK_EQ_INT(r->resp_len, 6);
    srv_http_release(r);
    r = new_req(SRV_GET, "/x");
    r->wsi = NULL;
    srv_http_text(r, 200, "nobody\n");
    CHECK(!r->responded && !r->resp);
    srv_http_release(r);
}

int main(void)
{
    RUN(test_text_answer_without_memory_is_empty_not_null_with_length);
    RUN(test_text_answer_copies_the_text_with_its_length);
    RUN(test_second_answer_and_answer_to_gone_client_are_dropped);
    RUN(test_json_answer_without_memory_has_no_length_without_body);
    RUN(test_json_answer_ends_with_a_newline);
    return harness_done();
}
