/* wire.c -- the JSON wire form of ops (the only user of jansson in ot/).
 *
 * Wire form: a JSON array; a positive integer retains, a negative integer
 * deletes, a string inserts; a trailing retain may be omitted. Decoding
 * validates everything a peer could get wrong (see ot.h for the error of
 * each fault) and normalises through the ordinary builders, so a decoded op
 * equals the same edit built any other way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ot/ot_int.h"

/* A count from a JSON number: 0 with *v set (nonzero), or an error. */
static int number(const json_t *j, double *v)
{
    double d;
    if (json_is_integer(j)) {
        json_int_t i = json_integer_value(j);
        if (i == 0) return OT_EZERO;
        if (i > (json_int_t)OT_MAX_LEN || i < -(json_int_t)OT_MAX_LEN)
            return OT_EBIG;
        *v = (double)i;
        return 0;
    }
    d = json_real_value(j);
    if (!isfinite(d)) return OT_EBIG;
    if (d != floor(d)) return OT_ENOTINT;
    if (d == 0) return OT_EZERO;
    if (fabs(d) > (double)OT_MAX_LEN) return OT_EBIG;
    *v = d;
    return 0;
}

/* Append one wire component to 'op'. */
static int component(ot_op *op, const json_t *j)
{
    if (json_is_number(j)) {
        double v;
        int rc = number(j, &v);
        if (rc) return rc;
        return v > 0 ? ot_op_retain(op, (uint32_t)v)
                     : ot_op_delete(op, (uint32_t)-v);
    }
    if (json_is_string(j)) {
        size_t bytes = json_string_length(j);
        if (bytes == 0) return OT_EEMPTY;
        return ot_op_insert(op, json_string_value(j), bytes);
    }
    return OT_EJSON;
}

/* OT_EORDER when a delete component of 'wire' (an array) is directly
 * followed by an insert, else 0. Other faults are left to component(). */
static int order(const json_t *wire)
{
    size_t n = json_array_size(wire);
    for (size_t i = 1; i < n; i++) {
        const json_t *prev = json_array_get(wire, i - 1);
        int del = json_is_integer(prev) ? json_integer_value(prev) < 0
                  : json_is_real(prev)  ? json_real_value(prev) < 0
                                        : 0;
        if (del && json_is_string(json_array_get(wire, i))) return OT_EORDER;
    }
    return 0;
}

int ot_op_from_json_strict(ot_op **out, const json_t *wire)
{
    *out = NULL;
    if (!json_is_array(wire)) return OT_EJSON;
    int rc = ot_op_from_json(out, wire);
    if (rc == 0 && (rc = order(wire)) != 0) {
        ot_op_free(*out);
        *out = NULL;
    }
    return rc;
}

int ot_op_from_json(ot_op **out, const json_t *wire)
{
    *out = NULL;
    if (!json_is_array(wire)) return OT_EJSON;
    ot_op *op = ot_op_new();
    if (!op) return OT_ENOMEM;
    size_t n = json_array_size(wire);
    for (size_t i = 0; i < n; i++) {
        int rc = component(op, json_array_get(wire, i));
        if (rc) {
            ot_op_free(op);
            return rc;
        }
    }
    *out = op;
    return 0;
}

/* Map a jansson decoding failure to our error. */
static int load_error(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_unknown: /* jansson's failed allocations at start-up */
    case json_error_out_of_memory: return OT_ENOMEM;
    case json_error_numeric_overflow: return OT_EBIG;
    case json_error_invalid_utf8: return OT_EUTF8;
    case json_error_invalid_syntax:
        /* jansson's only message for a lone surrogate escape */
        if (strncmp(e->text, "invalid Unicode", 15) == 0)
            return OT_ESURROGATE;
        return OT_EJSON;
    default: return OT_EJSON;
    }
}

int ot_op_parse(ot_op **out, const char *json, size_t len)
{
    json_error_t e;
    *out = NULL;
    if (len > OT_MAX_WIRE) return OT_EBIG;
    int rc = ot_utf8_validate(json, len, NULL);
    if (rc) return rc;
    json_t *j = json_loadb(json, len,
                           JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
                               JSON_DECODE_ANY,
                           &e);
    if (!j) return load_error(&e);
    rc = ot_op_from_json(out, j);
    json_decref(j);
    return rc;
}

json_t *ot_op_to_json(const ot_op *op)
{
    json_t *a = json_array();
    if (!a) return NULL;
    uint32_t n = ot__op_len(op);
    for (uint32_t i = 0; i < n; i++) {
        const ot__comp *c = &op->c[i];
        json_t *v;
        if (c->kind == OT_INSERT)
            v = json_stringn_nocheck(op->text + c->off, c->bytes);
        else if (c->kind == OT_RETAIN)
            v = json_integer((json_int_t)c->n);
        else
            v = json_integer(-(json_int_t)c->n);
        if (json_array_append_new(a, v)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

char *ot_op_dumps(const ot_op *op)
{
    json_t *j = ot_op_to_json(op);
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}
