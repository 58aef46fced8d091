"""chorus_client.ops -- the chorus.v1 op algebra in plain Python.

An op is a list: a positive int retains that many code points, a negative
int deletes that many, a str inserts it (Python strings index code points,
as the protocol counts). Every function returns ops in the canonical form
the server keeps: no empty parts, neighbours of one kind merged, an insert
before a delete at the same place, no trailing retain. The server refuses
a delete directly followed by an insert, so ops built here can always be
sent. Checked against every vector in tests/vectors/ (see the test there).
"""
import json
import math

MAX = 2 ** 31
LEFT, RIGHT = "left", "right"


class OTError(ValueError):
    """An op that cannot be decoded or applied; .code is the C name
    (OT_EJSON, OT_ERANGE, ...), as in tests/vectors/."""

    def __init__(self, code, message=""):
        super().__init__("%s: %s" % (code, message) if message else code)
        self.code = code


def push(op, c):
    """Append component 'c' to the canonical 'op' (mutated), keeping it so."""
    if c == 0 or c == "":
        return op
    last = op[-1] if op else None
    if isinstance(c, str):
        if isinstance(last, str):
            op[-1] = last + c
        elif isinstance(last, int) and last < 0:
            if len(op) >= 2 and isinstance(op[-2], str):
                op[-2] += c
            else:
                op.insert(len(op) - 1, c)
        else:
            op.append(c)
    elif isinstance(last, int) and (last > 0) == (c > 0):
        op[-1] = last + c
    else:
        op.append(c)
    return op


def normalize(comps):
    """The canonical form of a list of components."""
    op = []
    for c in comps:
        push(op, c)
    if op and isinstance(op[-1], int) and op[-1] > 0:
        op.pop()
    return op


def base_len(op):
    """Code points the op spans before it applies (retains + deletes)."""
    return sum(abs(c) for c in op if isinstance(c, int))


def target_len(op):
    """Code points the op spans after it applies (retains + inserts)."""
    return sum(c if isinstance(c, int) else len(c) for c in op
               if not (isinstance(c, int) and c < 0))


def _bounded(op, code="OT_ELEN"):
    if base_len(op) > MAX or target_len(op) > MAX:
        raise OTError(code, "op spans more than 2^31 code points")
    return op


def _bad_text(s):
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in s)


def _component(c):
    if isinstance(c, bool) or not isinstance(c, (int, float, str)):
        raise OTError("OT_EJSON", "a component is a number or a string")
    if isinstance(c, str):
        if c == "":
            raise OTError("OT_EEMPTY", "empty insert")
        if _bad_text(c):
            raise OTError("OT_ESURROGATE", "lone surrogate")
        return c
    if isinstance(c, float):
        if not math.isfinite(c) or abs(c) > MAX:
            raise OTError("OT_EBIG", "count too large")
        if c != math.floor(c):
            raise OTError("OT_ENOTINT", "count is not an integer")
        c = int(c)
    if c == 0:
        raise OTError("OT_EZERO", "zero retain or delete")
    if abs(c) > MAX:
        raise OTError("OT_EBIG", "count too large")
    return c


def from_wire(value, strict=False):
    """The canonical op of a decoded JSON value. strict: refuse a delete
    directly followed by an insert (OT_EORDER), as the server does."""
    if not isinstance(value, list):
        raise OTError("OT_EJSON", "an op is a JSON array")
    comps = [_component(c) for c in value]
    if strict:
        for a, b in zip(comps, comps[1:]):
            if isinstance(a, int) and a < 0 and isinstance(b, str):
                raise OTError("OT_EORDER", "inserts go before deletes at the same place")
    return _bounded(normalize(comps), "OT_EBIG")


def parse(text, strict=False):
    """Decode an op from JSON text (str) or bytes (UTF-8)."""
    if isinstance(text, (bytes, bytearray)):
        b = bytes(text)
        for i in range(len(b) - 1):  # CESU-8: an encoded surrogate
            if b[i] == 0xED and 0xA0 <= b[i + 1] <= 0xBF:
                raise OTError("OT_ESURROGATE", "encoded surrogate")
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError:
            raise OTError("OT_EUTF8", "invalid UTF-8") from None

    def no_constants(name):
        raise OTError("OT_EJSON", "not JSON: " + name)
    try:
        value = json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError) as e:
        if isinstance(e, OTError):
            raise
        raise OTError("OT_EJSON", str(e)) from None
    if isinstance(value, float) or isinstance(value, int):
        raise OTError("OT_EJSON", "an op is a JSON array")
    return from_wire(value, strict)


def apply(text, op):
    """The text after 'op'; OT_ERANGE when it spans past the end."""
    if base_len(op) > len(text):
        raise OTError("OT_ERANGE", "op spans past the end of the document")
    out, i = [], 0
    for c in op:
        if isinstance(c, str):
            out.append(c)
        elif c > 0:
            out.append(text[i:i + c])
            i += c
        else:
            i -= c
    out.append(text[i:])
    return "".join(out)


class _Iter:
    """Walks an op component by component, splitting them on demand; past
    the end it yields an endless retain (the implicit trailing one)."""

    def __init__(self, op):
        self.op, self.i, self.off = op, 0, 0

    def peek(self):
        if self.i >= len(self.op):
            return None
        c = self.op[self.i]
        if isinstance(c, str):
            return c[self.off:]
        return c - self.off if c > 0 else c + self.off

    def take(self, n=None):
        c = self.peek()
        if c is None:
            return n if n is not None else 4 * MAX
        size = len(c) if isinstance(c, str) else abs(c)
        if n is None or n >= size:
            self.i += 1
            self.off = 0
            return c
        self.off += n
        if isinstance(c, str):
            return c[:n]
        return n if c > 0 else -n


def transform(a, b, side):
    """a', to apply after b (both made on one text). side LEFT: a's insert
    goes first where both insert; RIGHT: b's (the server's op is b, with
    RIGHT, when it transforms a client's op over a committed one)."""
    ia, ib, out = _Iter(a), _Iter(b), []
    while ia.peek() is not None or ib.peek() is not None:
        ca, cb = ia.peek(), ib.peek()
        if isinstance(ca, str) and (side == LEFT or not isinstance(cb, str)):
            push(out, ia.take())
        elif isinstance(cb, str):
            push(out, len(ib.take()))
        else:
            ca = ca if ca is not None else 4 * MAX
            cb = cb if cb is not None else 4 * MAX
            n = min(abs(ca), abs(cb))
            ta, tb = ia.take(n), ib.take(n)
            if ta < 0:
                if tb > 0:
                    push(out, ta)
            elif tb > 0:
                push(out, n)
    return _bounded(normalize(out))


def compose(a, b):
    """One op with the effect of a then b."""
    ia, ib, out = _Iter(a), _Iter(b), []
    while ia.peek() is not None or ib.peek() is not None:
        ca, cb = ia.peek(), ib.peek()
        if isinstance(ca, int) and ca < 0:
            push(out, ia.take())
        elif isinstance(cb, str):
            push(out, ib.take())
        else:
            ca = ca if ca is not None else 4 * MAX
            cb = cb if cb is not None else 4 * MAX
            n = min(len(ca) if isinstance(ca, str) else ca, abs(cb))
            ta, tb = ia.take(n), ib.take(n)
            if tb > 0:
                push(out, ta)
            elif isinstance(ta, int):
                push(out, tb)
    return _bounded(normalize(out))


def invert(op, text):
    """The op that undoes 'op' applied to 'text' (the text before it)."""
    if base_len(op) > len(text):
        raise OTError("OT_ERANGE", "op spans past the end of the document")
    out, i = [], 0
    for c in op:
        if isinstance(c, str):
            out.append(-len(c))
        elif c > 0:
            out.append(c)
            i += c
        else:
            out.append(text[i:i - c])
            i -= c
    return normalize(out)


def transform_pos(pos, op, side):
    """Where a cursor at 'pos' is after 'op'. An insert exactly at the cursor
    leaves it before the new text with LEFT, after it with RIGHT; a cursor
    in deleted text goes to where the deletion was."""
    i = j = 0
    for c in op:
        if isinstance(c, str):
            if i == pos and side == LEFT:
                return j
            if i > pos:
                break
            j += len(c)
        elif c > 0:
            if pos < i + c:
                return j + (pos - i)
            i += c
            j += c
        else:
            if pos < i - c:
                return j
            i -= c
    return j + (pos - i)


def splice(pos, delete, insert):
    """The op that deletes 'delete' code points at 'pos' and inserts there."""
    return normalize([pos, insert, -delete])


def diff(before, after):
    """An op turning 'before' into 'after': one changed region between the
    common start and end."""
    n = min(len(before), len(after))
    p = 0
    while p < n and before[p] == after[p]:
        p += 1
    s = 0
    while s < n - p and before[len(before) - 1 - s] == after[len(after) - 1 - s]:
        s += 1
    return normalize([p, after[p:len(after) - s], -(len(before) - p - s)])
