#!/usr/bin/python3
"""generate.py -- write the Chorus OT conformance vectors (tests/vectors/*.json).

Run once from the project root (/usr/bin/python3 tests/vectors/generate.py);
the output is committed, and both the C engine (tests/test_ot_vectors.c) and
the browser client's OT (tests/js/) must reproduce every expectation exactly.

The expectations come from this file's own reference model, written
independently of ot/: Python strings index code points, and transform and
compose work one code point ("atom") at a time over ops stretched to the
document's length, the slowest and plainest way to state the rules. Every
generated case is also checked here for the algebra's laws (convergence,
compose = apply in turn, invert undoes) before it is written. Rejection
cases are hand-written with the error each must give (see README.md).
"""
import json
import os
import random

OUT = os.path.dirname(os.path.abspath(__file__))
SEED = 20261125
MAX = 2 ** 31

# ---- the reference model ---------------------------------------------------

def push(op, c):
    """Append component c (int > 0 retain, int < 0 delete, str insert) to a
    normalised op: merge like kinds; an insert goes before a delete."""
    if c == 0 or c == "":
        return
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
    elif isinstance(last, int) and not isinstance(last, bool) and (last > 0) == (c > 0):
        op[-1] = last + c
    else:
        op.append(c)


def normalise(comps):
    op = []
    for c in comps:
        push(op, c)
    if op and isinstance(op[-1], int) and op[-1] > 0:
        op.pop()
    return op


def base_len(op):
    return sum(abs(c) for c in op if isinstance(c, int))


def target_len(op):
    return sum(c if isinstance(c, int) else len(c) for c in op if not (isinstance(c, int) and c < 0))


def apply(doc, op):
    if base_len(op) > len(doc):
        raise ValueError("OT_ERANGE")
    out, i = [], 0
    for c in op:
        if isinstance(c, str):
            out.append(c)
        elif c > 0:
            out.append(doc[i:i + c])
            i += c
        else:
            i -= c
    out.append(doc[i:])
    return "".join(out)


def atoms(op, length):
    """The op as one atom per code point: ('r',), ('d',) or ('i', ch),
    stretched with retains to span 'length' code points."""
    out = []
    for c in op:
        if isinstance(c, str):
            out.extend(("i", ch) for ch in c)
        elif c > 0:
            out.extend([("r",)] * c)
        else:
            out.extend([("d",)] * -c)
    out.extend([("r",)] * (length - base_len(op)))
    return out


def from_atoms(xs):
    return normalise([x[1] if x[0] == "i" else (1 if x[0] == "r" else -1) for x in xs])


def transform(a, b, side, length):
    """a' to apply after b; side 'left': a's insert goes first at a tie."""
    A, B, out, i, j = atoms(a, length), atoms(b, length), [], 0, 0
    while i < len(A) or j < len(B):
        a_ins = i < len(A) and A[i][0] == "i"
        b_ins = j < len(B) and B[j][0] == "i"
        if a_ins and (side == "left" or not b_ins):
            out.append(A[i]); i += 1
        elif b_ins:
            out.append(("r",)); j += 1
        else:
            if A[i][0] == "r" and B[j][0] == "r":
                out.append(("r",))
            elif A[i][0] == "d" and B[j][0] == "r":
                out.append(("d",))
            i += 1; j += 1
    return from_atoms(out)


def compose(a, b, length):
    A = atoms(a, length)
    B = atoms(b, length - base_len(a) + target_len(a))
    out, i, j = [], 0, 0
    while i < len(A) or j < len(B):
        if j < len(B) and B[j][0] == "i":
            out.append(B[j]); j += 1
        elif i < len(A) and A[i][0] == "d":
            out.append(A[i]); i += 1
        else:
            x, y = A[i], B[j]
            if y[0] == "r":
                out.append(x)
            elif x[0] == "r":
                out.append(("d",))
            i += 1; j += 1
    return from_atoms(out)


def invert(op, doc):
    if base_len(op) > len(doc):
        raise ValueError("OT_ERANGE")
    out, i = [], 0
    for c in op:
        if isinstance(c, str):
            out.append(-len(c))
        elif c > 0:
            out.append(c); i += c
        else:
            out.append(doc[i:i - c]); i -= c
    return normalise(out)


def transform_pos(pos, op, side):
    i = j = 0
    for x in atoms(op, max(pos, base_len(op))):
        if x[0] == "i":
            if i == pos and side == "left":
                return j
            j += 1
        elif x[0] == "r":
            if i == pos:
                return j
            i += 1; j += 1
        else:
            if i == pos:
                return j
            i += 1
    return j + (pos - i)

# ---- random cases ------------------------------------------------------------

PIECES = ["a", "b", "c", " ", "\n", "한", "글", "👋", "😀", "e\u0301", "\u0308",
          "é", "xyz", "日本", "👍🏽"]
rng = random.Random(SEED)


def rtext(n):
    s = ""
    while len(s) < n:
        s += rng.choice(PIECES)
    return s


def rop(length):
    comps, pos = [], 0
    for _ in range(rng.randrange(4)):
        skip = rng.randint(0, length - pos)
        comps.append(skip); pos += skip
        if rng.random() < 0.5 and pos < length:
            d = rng.randint(1, min(6, length - pos))
            comps.append(-d); pos += d
        else:
            comps.append(rtext(rng.randint(1, 5)))
    if rng.random() < 0.25:
        comps.append(length - pos)
    return normalise(comps)


def rdoc():
    return "" if rng.random() < 0.15 else rtext(rng.randint(1, 40))

# ---- the vector files ----------------------------------------------------------

def transform_cases():
    hand = [("ab", [1, "x"], [1, "y"]), ("abcd", [3, "x"], [-2]),
            ("abcd", [1, "x"], [-3]), ("abcde", [-3], [1, -3]),
            ("abcdefg", [2, -3], [3, "zz"]), ("xyz", ["ab", -2], ["c"]),
            ("", ["a"], ["b"]), ("한글x", [2, "👋"], ["é", 1, -1]),
            ("abc", [], [1, "q", -1]), ("abc", [3, "x"], [3, "y"])]
    cases = []
    pairs = hand + [(d, rop(len(d)), rop(len(d))) for d in (rdoc() for _ in range(400))]
    for doc, a, b in pairs:
        for side in ("right", "left"):
            a2 = transform(a, b, side, len(doc))
            b2 = transform(b, a, "left" if side == "right" else "right", len(doc))
            r1, r2 = apply(apply(doc, b), a2), apply(apply(doc, a), b2)
            assert r1 == r2, (doc, a, b, side)
            cases.append({"doc": doc, "a": a, "b": b, "side": side,
                          "result": a2, "doc_result": r1})
    cases.append({"a": [2147483647, "x"], "b": ["y"], "side": "right",
                  "error": "OT_ELEN"})
    return cases


def compose_cases():
    hand = [("ab", [1, "x"], [2, "y"]), ("abc", ["abc"], [1, -1]),
            ("abcd", [2, "x"], [-4]), ("", ["héllo"], [1, -3, "E"]),
            ("abcdefg", [1, "x"], [5, -1]), ("ab", ["ab"], [-2]),
            ("abc", [], [2, "q"]), ("abc", [-1], [-1])]
    cases = []
    for doc, a, b in hand + [(d, a, rop(len(apply(d, a))))
                             for d in (rdoc() for _ in range(300))
                             for a in [rop(len(d))]]:
        ab = compose(a, b, len(doc))
        r = apply(doc, ab)
        assert r == apply(apply(doc, a), b), (doc, a, b)
        cases.append({"doc": doc, "a": a, "b": b, "result": ab, "doc_result": r})
    cases.append({"a": [-2147483648], "b": [-2147483648], "error": "OT_ELEN"})
    return cases


def invert_cases():
    hand = [("abcdef", [1, "XY", -2, 1, -1]), ("한👋", [-1, 1, "z"]),
            ("abc", []), ("", ["new"])]
    cases = []
    for doc, op in hand + [(d, rop(len(d))) for d in (rdoc() for _ in range(300))]:
        inv = invert(op, doc)
        assert apply(apply(doc, op), inv) == doc, (doc, op)
        cases.append({"doc": doc, "op": op, "result": inv})
    cases.append({"doc": "abcde", "op": [5, -1], "error": "OT_ERANGE"})
    return cases


def cursor_cases():
    hand = [([2, "xy", -2], p, s) for p in range(7) for s in ("left", "right")]
    hand += [([6, "z"], 6, "left"), ([6, "z"], 6, "right"), ([-3], 1, "right"),
             ([1, "q"], 10, "left")]
    cases = []
    rand = []
    for _ in range(300):
        n = rng.randint(0, 30)
        rand.append((rop(n), rng.randint(0, n + 2), rng.choice(("left", "right"))))
    for op, pos, side in hand + rand:
        cases.append({"op": op, "pos": pos, "side": side,
                      "result": transform_pos(pos, op, side)})
    return cases


def apply_cases():
    hand = [("hello", [5, " world"]), ("hello", [1, "ELL", -3]),
            ("한👋e\u0301z", [1, -1]), ("한👋e\u0301z", [3, -1]),
            ("한👋e\u0301z", [4, "글"]), ("abc", [-3]), ("", ["x"]),
            ("abc", [])]
    cases = []
    for doc, op in hand + [(d, rop(len(d))) for d in (rdoc() for _ in range(200))]:
        cases.append({"doc": doc, "op": op, "result": apply(doc, op)})
    for doc, op in [("abc", [4, "x"]), ("abc", [2, -2]), ("", [-1]),
                    ("abc", ["zz", 3, -1]), ("👋", [2])]:
        try:
            apply(doc, op)
            err = None
        except ValueError as e:
            err = str(e)
        if op == [2]:  # a trailing retain only: the identity, it applies
            cases.append({"doc": doc, "op": op, "result": doc})
        else:
            assert err == "OT_ERANGE"
            cases.append({"doc": doc, "op": op, "error": err})
    return cases


def normalise_cases():
    texts = ['[1,2,"a","b",-1,-2]', '[-2,"ab"]', '[3,"x",5]', '[5]', '[]',
             '["a",-1,"b",-1,2]', '[2.0,"x",-1e0]', '[2147483648]',
             '[-2147483648]', '["\\ud83d\\udc4b"]', '[ 1 , "a" ]',
             '["a\\u0000b"]', '[1,"x",-1,"y",1]', '[-1,-1,"p",-1,"q"]']
    out = []
    for t in texts:
        val = [int(c) if isinstance(c, float) else c for c in json.loads(t)]
        out.append({"wire": t, "result": normalise(val)})
    return out


def reject_cases():
    text = [("{}", "OT_EJSON"), ("5", "OT_EJSON"), ('"abc"', "OT_EJSON"),
            ("null", "OT_EJSON"), ("[null]", "OT_EJSON"), ("[true]", "OT_EJSON"),
            ("[[1]]", "OT_EJSON"), ('[{"retain":1}]', "OT_EJSON"), ("[1,", "OT_EJSON"),
            ("", "OT_EJSON"), ("nope", "OT_EJSON"), ("[1,]", "OT_EJSON"),
            ("[0]", "OT_EZERO"), ("[-0]", "OT_EZERO"), ('[3,"a",0]', "OT_EZERO"),
            ("[0.0]", "OT_EZERO"),
            ("[1.5]", "OT_ENOTINT"), ("[-0.25]", "OT_ENOTINT"), ('["a",2.5]', "OT_ENOTINT"),
            ('[""]', "OT_EEMPTY"), ('[1,"",2]', "OT_EEMPTY"),
            ("[2147483649]", "OT_EBIG"), ("[-2147483649]", "OT_EBIG"),
            ("[2147483648,-1]", "OT_EBIG"), ('[2147483648,"x"]', "OT_EBIG"),
            ("[99999999999999999999]", "OT_EBIG"), ("[1e300]", "OT_EBIG"),
            ('["\\ud800"]', "OT_ESURROGATE"), ('["x\\udfff"]', "OT_ESURROGATE"),
            ('["\\udc4b\\ud83d"]', "OT_ESURROGATE"), ('["\\ud83dx"]', "OT_ESURROGATE")]
    raw = [(b'["\xff"]', "OT_EUTF8"), (b'["\xc0\xaf"]', "OT_EUTF8"),
           (b'["a\xe2\x82"]', "OT_EUTF8"), (b'["\xf4\x90\x80\x80"]', "OT_EUTF8"),
           (b'["\xed\xa0\x80"]', "OT_ESURROGATE"),
           (b'["\xed\xa0\xbd\xed\xb1\x8b"]', "OT_ESURROGATE")]
    return ([{"wire": t, "error": e} for t, e in text] +
            [{"wire_hex": b.hex(), "error": e} for b, e in raw])


def main():
    files = {
        "apply": apply_cases(), "transform": transform_cases(),
        "compose": compose_cases(), "invert": invert_cases(),
        "cursor": cursor_cases(), "normalise": normalise_cases(),
        "reject": reject_cases(),
    }
    for name, cases in files.items():
        path = os.path.join(OUT, name + ".json")
        with open(path, "w", encoding="utf-8") as f:  # one case a line
            f.write('{"format":1,"generator":"tests/vectors/generate.py",'
                    f'"seed":{SEED},"cases":[\n')
            f.write(",\n".join(json.dumps(c, ensure_ascii=False,
                                           separators=(",", ":"))
                                for c in cases))
            f.write("\n]}\n")
        print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
