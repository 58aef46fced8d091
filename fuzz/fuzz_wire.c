/* fuzz_wire.c -- the op wire codec (ot/wire.c): any bytes to ot_op_parse,
 * the same bytes through jansson to ot_op_from_json.
 *
 * Properties checked on every input: no crash, leak or undefined
 * behaviour; an accepted op is normalised (no zero or empty component, no
 * two adjacent of one kind, an insert before a delete at one place, no
 * trailing retain) and its base/target lengths match its components; its
 * encoding decodes back to an equal op and encodes to the same text
 * (canonical form); the two decoders agree on what they both accept. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot.h"

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "fuzz_wire: %s (line %d)\n", #x, __LINE__); abort(); } } while (0)

static void check_normal(const ot_op *op)
{
    size_t base = 0, target = 0, n = ot_op_count(op);
    ot_kind prev = 0;
    for (size_t i = 0; i < n; i++) {
        ot_comp c = ot_op_at(op, i);
        CHECK(c.kind >= OT_RETAIN && c.kind <= OT_DELETE);
        CHECK(c.n > 0);
        CHECK(c.kind != prev);
        CHECK(!(prev == OT_DELETE && c.kind == OT_INSERT));
        if (c.kind == OT_INSERT) {
            size_t cps = 0;
            CHECK(c.bytes > 0 && c.text);
            CHECK(ot_utf8_validate(c.text, c.bytes, &cps) == 0 && cps == c.n);
            target += c.n;
        } else {
            base += c.n;
            if (c.kind == OT_RETAIN) target += c.n;
        }
        prev = c.kind;
    }
    CHECK(n == 0 || ot_op_at(op, n - 1).kind != OT_RETAIN);
    CHECK(ot_op_at(op, n).kind == 0);
    CHECK(base == ot_op_base_len(op) && target == ot_op_target_len(op));
    CHECK(ot_op_is_noop(op) == (n == 0));
}

static void round_trip(const ot_op *op)
{
    char *text = ot_op_dumps(op);
    ot_op *back = NULL, *again = NULL, *clone = ot_op_clone(op);
    CHECK(text && clone);
    CHECK(ot_op_parse(&back, text, strlen(text)) == 0);
    CHECK(ot_op_equal(op, back) && ot_op_equal(back, op));
    CHECK(ot_op_equal(op, clone));
    char *text2 = ot_op_dumps(back);
    CHECK(text2 && strcmp(text, text2) == 0);
    json_t *j = ot_op_to_json(op);
    CHECK(j && ot_op_from_json(&again, j) == 0 && ot_op_equal(op, again));
    json_decref(j);
    free(text);
    free(text2);
    ot_op_free(back);
    ot_op_free(again);
    ot_op_free(clone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ot_op *a = NULL, *b = NULL;
    int ra = ot_op_parse(&a, (const char *)data, size);
    CHECK(ra <= 0 && (ra == 0) == (a != NULL));
    CHECK(ot_strerror(ra) != NULL && ot_strerror_name(ra) != NULL);
    if (a) {
        check_normal(a);
        round_trip(a);
    }
    json_error_t e;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &e);
    if (j) {
        int rb = ot_op_from_json(&b, j);
        CHECK(rb <= 0 && (rb == 0) == (b != NULL));
        if (b) {
            check_normal(b);
            round_trip(b);
        }
        if (a && b) CHECK(ot_op_equal(a, b));
        json_decref(j);
    }
    ot_op_free(a);
    ot_op_free(b);
    return 0;
}
