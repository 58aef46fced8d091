/* ot.h -- Chorus operational transformation: ops, transform, document buffer.
 *
 * An op is a sequence of components over a document: retain n, insert text,
 * delete n. Counts and positions are Unicode code points; text is UTF-8.
 * Every op implicitly retains whatever follows its last component, which is
 * why the wire form may omit a trailing retain: an op "spans" the first
 * ot_op_base_len() code points and applies to any document at least that
 * long. Ops are always kept normalised (no zero or empty components, adjacent
 * components of one kind merged, an insert before a delete at one place, no
 * trailing retain), so equal edits compare equal with ot_op_equal().
 *
 * The library is pure: no I/O, no globals; jansson only in the wire codec.
 * Every function is safe on any input; errors are negative OT_E* codes.
 * Threads: functions taking const pointers only read, so one op or document
 * may be read from several threads at once; a document being changed
 * (ot_doc_apply) must not be used elsewhere at the same time. */
#ifndef CHORUS_OT_H
#define CHORUS_OT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct ot_op ot_op;   /* normalised op: retain/insert/delete */
typedef struct ot_doc ot_doc; /* document buffer: B-tree of UTF-8 leaves */

/* Tie-break side for transform: which of two inserts at one place goes first.
 * The side names the first argument: OT_LEFT, it goes first; OT_RIGHT, the
 * other op goes first. */
enum { OT_LEFT = 0, OT_RIGHT = 1 };

/* Errors: negative and distinct. ot_strerror() names each one. */
enum {
    OT_ENOMEM = -1,     /* out of memory */
    OT_EJSON = -2,      /* not a JSON array, bad JSON, bad component type */
    OT_EZERO = -3,      /* a zero retain or delete on the wire */
    OT_ENOTINT = -4,    /* a number that is not an integer */
    OT_EEMPTY = -5,     /* an empty insert string on the wire */
    OT_EBIG = -6,       /* a count, an op or a wire text beyond the limits */
    OT_EUTF8 = -7,      /* invalid UTF-8 (overlong, truncated, > U+10FFFF) */
    OT_ESURROGATE = -8, /* a lone or encoded surrogate (\ud800, CESU-8) */
    OT_ERANGE = -9,     /* the op spans more than the document holds */
    OT_ELEN = -10,      /* a compose/transform result would span more than
                           OT_MAX_LEN code points */
    OT_EORDER = -11,    /* strict decoding only: a delete directly followed
                           by an insert (inserts go before deletes) */
};

/* Limits: every count on the wire is at most OT_MAX_LEN; an op spans at most
 * OT_MAX_LEN code points before and after; its inserted text is at most
 * OT_MAX_LEN bytes; ot_op_parse() takes at most OT_MAX_WIRE bytes. */
#define OT_MAX_LEN ((size_t)1 << 31)
#define OT_MAX_WIRE ((size_t)64 << 20)

/* A static English description of 'err' ("unknown error" if not ours). */
const char *ot_strerror(int err);

/* The symbolic name of 'err', e.g. "OT_EZERO" (as used in tests/vectors). */
const char *ot_strerror_name(int err);

/* ---- Building and inspecting ops ------------------------------------- */

/* Component kinds and the public view of one component. */
typedef enum ot_kind { OT_RETAIN = 1, OT_INSERT = 2, OT_DELETE = 3 } ot_kind;
typedef struct ot_comp {
    ot_kind kind;
    uint32_t n;       /* code points retained, inserted or deleted */
    const char *text; /* OT_INSERT: UTF-8, NOT NUL-terminated; else NULL */
    size_t bytes;     /* OT_INSERT: bytes of text; else 0 */
} ot_comp;

/* A new empty op (the identity), or NULL when out of memory. */
ot_op *ot_op_new(void);

/* Free 'op'; NULL is accepted. */
void ot_op_free(ot_op *op);

/* A deep copy of 'op', or NULL when out of memory. */
ot_op *ot_op_clone(const ot_op *op);

/* Make 'op' the identity again, keeping its memory for reuse. */
void ot_op_clear(ot_op *op);

/* Append a component, keeping the op normalised. A zero count or an empty
 * string is a no-op that returns 0. Returns 0; OT_EBIG when the op would
 * span more than OT_MAX_LEN code points (or hold more than OT_MAX_LEN bytes
 * of text); OT_EUTF8 / OT_ESURROGATE for bad text; OT_ENOMEM. On error the op
 * is unchanged. 's' is copied. */
int ot_op_retain(ot_op *op, uint32_t n);
int ot_op_insert(ot_op *op, const char *s, size_t bytes);
int ot_op_delete(ot_op *op, uint32_t n);

/* Inspecting: ot_op_count() components, numbered from 0; ot_op_at() returns
 * component i (i < count) by value. Its 'text' points into 'op' and stays
 * valid until 'op' is next modified or freed. There is never a trailing
 * retain, no two adjacent components share a kind, and an insert always
 * precedes a delete at the same place. A walk looks like:
 *
 *     for (size_t i = 0; i < ot_op_count(op); i++) {
 *         ot_comp c = ot_op_at(op, i);
 *         switch (c.kind) { case OT_RETAIN: ... }
 *     }
 */
size_t ot_op_count(const ot_op *op);
ot_comp ot_op_at(const ot_op *op, size_t i); /* i >= count: kind 0 */

/* Code points the op spans before (retained + deleted) and after (retained
 * + inserted) it is applied; the implicit trailing retain is not counted. */
size_t ot_op_base_len(const ot_op *op);
size_t ot_op_target_len(const ot_op *op);

/* Code points inserted and deleted by 'op' (either pointer may be NULL). */
void ot_op_stats(const ot_op *op, size_t *inserted, size_t *deleted);

/* 1 when 'a' and 'b' are the same edit, else 0. */
int ot_op_equal(const ot_op *a, const ot_op *b);

/* 1 when the op changes nothing (no component at all), else 0. */
int ot_op_is_noop(const ot_op *op);

/* ---- Wire codec (JSON) ------------------------------------------------ */

/* Decode a wire op: a JSON array where a positive integer retains, a string
 * inserts and a negative integer deletes. Validates and normalises. On
 * success *out is a new op owned by the caller. Errors: OT_EJSON (not an
 * array, or a component of another type), OT_EZERO, OT_ENOTINT, OT_EEMPTY,
 * OT_EBIG (|n| > OT_MAX_LEN, or the op spans more than OT_MAX_LEN),
 * OT_EUTF8, OT_ESURROGATE, OT_ENOMEM; then *out is NULL. 'wire' is
 * borrowed. A number written as a real is accepted only when integral. */
int ot_op_from_json(ot_op **out, const json_t *wire);

/* The same, but refusing an op not written in the canonical order: a
 * delete component directly followed by an insert component ([-1,"x"])
 * gives OT_EORDER instead of being reordered. A peer that wrote it that
 * way does not normalise as we do, and would place concurrent inserts
 * differently and diverge without any error; refusing it shows the
 * mistake on its first such edit. Every other rule and error is that of
 * ot_op_from_json(); adjacent components of one kind are still merged. */
int ot_op_from_json_strict(ot_op **out, const json_t *wire);

/* The same from JSON text of 'len' bytes (need not be NUL-terminated).
 * Also OT_EBIG when len > OT_MAX_WIRE or a number overflows, OT_EJSON for
 * bad syntax, OT_EUTF8 for invalid UTF-8 in the text and OT_ESURROGATE for a
 * lone surrogate escape such as "\ud800". (When memory runs out inside
 * jansson it sometimes reports a syntax error: OT_EJSON is then possible.) */
int ot_op_parse(ot_op **out, const char *json, size_t len);

/* The wire form of 'op' (trailing retain omitted) as a new reference, or
 * NULL when out of memory. */
json_t *ot_op_to_json(const ot_op *op);

/* The compact wire JSON text of 'op', malloc'd and NUL-terminated (the
 * caller frees it), or NULL when out of memory. */
char *ot_op_dumps(const ot_op *op);

/* ---- Algebra ---------------------------------------------------------- */

/* Transform 'a' against the concurrent 'b' (both made on one document):
 * *out = a', to apply after b, such that b then a' and a then b' (with
 * b' = transform(b, a, !side)) give one document. 'side' breaks ties between
 * inserts at one place: OT_RIGHT means b's insert goes first (b is the op
 * already committed on the server), OT_LEFT means a's goes first.
 * Returns 0, OT_ELEN, OT_ENOMEM (then *out is NULL). */
int ot_transform(ot_op **out, const ot_op *a, const ot_op *b, int side);

/* *out = one op with the effect of 'a' then 'b'. Returns 0, OT_ELEN,
 * OT_ENOMEM (then *out is NULL). */
int ot_compose(ot_op **out, const ot_op *a, const ot_op *b);

/* *out = the op that undoes 'op' after it was applied to 'pre' (the
 * document before 'op'). Returns 0, OT_ERANGE when 'op' spans more than
 * 'pre', OT_ELEN, OT_ENOMEM (then *out is NULL). */
int ot_invert(ot_op **out, const ot_op *op, const ot_doc *pre);

/* Where a cursor at code point 'pos' (before 'op') is after 'op'. An insert
 * exactly at the cursor moves it along with OT_RIGHT (the op's text goes
 * before the cursor) and leaves it before the text with OT_LEFT; a cursor in
 * deleted text goes to the start of the deletion. Never fails. */
size_t ot_transform_pos(size_t pos, const ot_op *op, int side);

/* ---- Document buffer -------------------------------------------------- */

/* A new document holding a copy of 'utf8' ('bytes' long; NULL with 0 is an
 * empty document). Returns NULL on invalid UTF-8, a surrogate or no memory. */
ot_doc *ot_doc_new(const char *utf8, size_t bytes);

/* Free 'doc'; NULL is accepted. */
void ot_doc_free(ot_doc *doc);

/* A deep copy of 'doc', or NULL when out of memory. */
ot_doc *ot_doc_clone(const ot_doc *doc);

/* Apply 'op' to 'doc'. Returns 0; OT_ERANGE when the op spans more than the
 * document holds; OT_ENOMEM. On error 'doc' is unchanged. 'op' is borrowed.
 * Cost: O(components x log n), sequential edits hitting a cached leaf; an op
 * with many or large inserts is applied by rebuilding the text, O(n). */
int ot_doc_apply(ot_doc *doc, const ot_op *op);

/* Length in code points and in UTF-8 bytes. O(1). */
size_t ot_doc_len(const ot_doc *doc);
size_t ot_doc_bytes(const ot_doc *doc);

/* A malloc'd NUL-terminated copy of the whole text (the caller frees it);
 * its length in bytes goes to *bytes when not NULL. NULL when out of
 * memory. The text may itself contain NUL (U+0000) characters. */
char *ot_doc_text(const ot_doc *doc, size_t *bytes);

/* A malloc'd NUL-terminated copy of code points [pos, pos + n), or NULL
 * when out of memory or the range passes the end. */
char *ot_doc_slice(const ot_doc *doc, size_t pos, size_t n, size_t *bytes);

/* Self-check of the buffer's internal invariants (tree shape, counts, UTF-8
 * of every leaf, cache): 0 when they hold, -1 otherwise. O(n); for tests. */
int ot_doc_check(const ot_doc *doc);

/* ---- UTF-8 ------------------------------------------------------------ */

/* Check 's' ('bytes' long) is valid UTF-8 without surrogates. Returns 0 (and
 * the number of code points in *codepoints when not NULL), OT_EUTF8 or
 * OT_ESURROGATE (an encoded U+D800..U+DFFF, as in CESU-8). */
int ot_utf8_validate(const char *s, size_t bytes, size_t *codepoints);

#endif
