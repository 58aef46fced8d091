/* test_srv_wire.c -- chorus.v1 on the wire (server/collab/wire.c): the
 * exact text of the messages the server sends most, and the decoder's
 * problems, each in the stage the protocol reports it (collab.h). */
#include "server/collab/collab.h"
#include "tests/harness.h"

static int msg_is(srv_msg *m, const char *want)
{
    int ok = m && m->len == strlen(want) &&
             memcmp(m->buf + SRV_MSG_PRE, want, m->len) == 0;
    if (!ok)
        fprintf(stderr, "  got %.*s\n", m ? (int)m->len : 6,
                m ? (const char *)m->buf + SRV_MSG_PRE : "(null)");
    srv_msg_unref(m);
    return ok;
}

static void test_ack_op_and_error_messages_are_these_exact_texts(void)
{
    CHECK(msg_is(srv_wire_ack("d", 3, 7),
                 "{\"type\":\"ack\",\"doc\":\"d\",\"seq\":3,\"version\":7}"));
    CHECK(msg_is(srv_wire_op("d", 2, "[1,\"x\"]", "c1", 5, "Ann \"A\""),
                 "{\"type\":\"op\",\"doc\":\"d\",\"version\":2,\"op\":[1,\"x\"],"
                 "\"client\":\"c1\",\"seq\":5,\"user\":{\"name\":\"Ann \\\"A\\\"\"}}"));
    CHECK(msg_is(srv_wire_error("too_old", "m", "d", 4),
                 "{\"type\":\"error\",\"code\":\"too_old\",\"message\":\"m\","
                 "\"doc\":\"d\",\"seq\":4}"));
    CHECK(msg_is(srv_wire_error("bad_json", "m", NULL, -1),
                 "{\"type\":\"error\",\"code\":\"bad_json\",\"message\":\"m\"}"));
    CHECK(msg_is(srv_wire_joined("d", 9, "hé", 3),
                 "{\"type\":\"joined\",\"doc\":\"d\",\"version\":9,\"text\":\"hé\"}"));
}

static void decode(srv_wire_in *in, const char *text)
{
    srv_wire_decode(in, text, strlen(text));
}

static void test_a_message_that_is_not_an_object_with_a_type_is_bad_at_once(void)
{
    srv_wire_in in;
    decode(&in, "{\"type\":");
    CHECK(in.type == SRV_IN_BAD && strcmp(in.err.code, "bad_json") == 0);
    srv_wire_in_clear(&in);
    decode(&in, "[1]");
    CHECK(in.type == SRV_IN_BAD && strcmp(in.err.code, "bad_message") == 0);
    srv_wire_in_clear(&in);
    decode(&in, "{\"type\":\"op\",\"type\":\"op\"}"); /* duplicate keys */
    CHECK(in.type == SRV_IN_BAD && strcmp(in.err.code, "bad_json") == 0);
    srv_wire_in_clear(&in);
}

static void test_an_unknown_type_or_bad_doc_is_an_early_problem(void)
{
    srv_wire_in in;
    decode(&in, "{\"type\":\"dance\"}");
    CHECK(in.type == SRV_IN_UNKNOWN && strcmp(in.err.code, "bad_message") == 0);
    srv_wire_in_clear(&in);
    decode(&in, "{\"type\":\"leave\",\"doc\":\".x\"}");
    CHECK(in.type == SRV_IN_LEAVE && strcmp(in.err.code, "bad_doc_id") == 0);
    srv_wire_in_clear(&in);
    decode(&in, "{\"type\":\"op\",\"doc\":\"d\",\"seq\":1}");
    CHECK(in.err.code && strcmp(in.err.message, "\"version\" must be an integer >= 0") == 0);
    CHECK_EQ_INT(in.err.seq, 1);
    srv_wire_in_clear(&in);
}

static void test_a_bad_op_or_cursor_is_a_late_problem_reported_after_access(void)
{
    srv_wire_in in;
    decode(&in, "{\"type\":\"op\",\"doc\":\"d\",\"seq\":1,\"version\":0,\"op\":[0]}");
    CHECK(in.err.code == NULL && in.late.code && strcmp(in.late.code, "bad_op") == 0);
    CHECK(in.op == NULL);
    srv_wire_in_clear(&in);
    decode(&in, "{\"type\":\"presence\",\"doc\":\"d\",\"version\":0}");
    CHECK(in.err.code == NULL && in.late.code != NULL);
    srv_wire_in_clear(&in);
}

static void test_a_delete_followed_by_an_insert_is_a_bad_op_naming_the_rule(void)
{
    srv_wire_in in;
    decode(&in, "{\"type\":\"op\",\"doc\":\"d\",\"seq\":3,\"version\":0,"
                "\"op\":[1,-1,\"x\"]}");
    CHECK(in.err.code == NULL && in.late.code && strcmp(in.late.code, "bad_op") == 0);
    CHECK(strstr(in.late.message, "inserts go before deletes") != NULL);
    CHECK_EQ_INT(in.late.seq, 3);
    CHECK(in.op == NULL);
    srv_wire_in_clear(&in);
    decode(&in, "{\"type\":\"op\",\"doc\":\"d\",\"seq\":3,\"version\":0,"
                "\"op\":[1,\"x\",-1]}");
    CHECK(!in.err.code && !in.late.code && in.op);
    srv_wire_in_clear(&in);
}

static void test_a_good_op_is_decoded_with_its_span(void)
{
    srv_wire_in in;
    decode(&in, "{\"type\":\"op\",\"doc\":\"d\",\"seq\":4,\"version\":2,"
                "\"op\":[2,\"ab\",-1,3]}");
    CHECK(in.type == SRV_IN_OP && !in.err.code && !in.late.code && in.op);
    CHECK_EQ_STR(in.doc, "d");
    CHECK_EQ_INT(in.seq, 4);
    CHECK_EQ_INT(in.version, 2);
    CHECK_EQ_INT(in.span, 6); /* the trailing retain counts */
    srv_wire_in_clear(&in);
}

static void test_hello_keeps_a_short_token_and_checks_the_name(void)
{
    srv_wire_in in;
    decode(&in, "{\"type\":\"hello\",\"client\":\"c:1\",\"token\":\"t\"}");
    CHECK(in.type == SRV_IN_HELLO && !in.err.code);
    CHECK_EQ_STR(in.client, "c:1");
    CHECK_EQ_STR(in.name, "");
    CHECK_EQ_STR(in.token, "t");
    srv_wire_in_clear(&in);
    decode(&in, "{\"type\":\"hello\",\"client\":\"c\",\"name\":7}");
    CHECK(in.err.code && strcmp(in.err.message, "\"name\" must be a string") == 0);
    srv_wire_in_clear(&in);
    decode(&in, "{\"type\":\"hello\",\"client\":\"\"}");
    CHECK(in.err.code != NULL);
    srv_wire_in_clear(&in);
}

int main(void)
{
    RUN(test_ack_op_and_error_messages_are_these_exact_texts);
    RUN(test_a_message_that_is_not_an_object_with_a_type_is_bad_at_once);
    RUN(test_an_unknown_type_or_bad_doc_is_an_early_problem);
    RUN(test_a_bad_op_or_cursor_is_a_late_problem_reported_after_access);
    RUN(test_a_delete_followed_by_an_insert_is_a_bad_op_naming_the_rule);
    RUN(test_a_good_op_is_decoded_with_its_span);
    RUN(test_hello_keeps_a_short_token_and_checks_the_name);
    return harness_done();
}
