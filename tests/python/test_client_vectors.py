"""The Python client's op algebra (clients/python/chorus_client/ops.py)
against every conformance vector in tests/vectors/: apply, transform,
compose, invert, cursor, normalise and reject (the wire_hex cases through
parse() on bytes, so none is skipped); plus the server's strict order rule."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from chorus_client import ops  # noqa: E402

VEC = os.path.join(ROOT, "tests", "vectors")
passed = failed = 0


def load(name):
    with open(os.path.join(VEC, name), encoding="utf-8") as f:
        v = json.load(f)
    assert v["format"] == 1 and v["cases"]
    return v["cases"]


def err(fn):
    try:
        fn()
    except ops.OTError as e:
        return e.code
    return None


def check(name, cases, fn):
    global passed, failed
    bad = 0
    for i, c in enumerate(cases):
        try:
            fn(c)
        except AssertionError as e:
            bad += 1
            if bad <= 5:
                print("  %s case %d: %s: %s" % (name, i, json.dumps(c, ensure_ascii=False)[:200], e))
    if bad:
        failed += 1
        print("FAIL %s (%d of %d cases)" % (name, bad, len(cases)))
    else:
        passed += 1
        print("ok   %s (%d cases)" % (name, len(cases)))


def n(op):
    return ops.normalize(op)


def t_apply(c):
    if "error" in c:
        assert err(lambda: ops.apply(c["doc"], n(c["op"]))) == c["error"]
    else:
        assert ops.apply(c["doc"], n(c["op"])) == c["result"]


def t_transform(c):
    f = lambda: ops.transform(n(c["a"]), n(c["b"]), c["side"])  # noqa: E731
    if "error" in c:
        assert err(f) == c["error"]
        return
    r = f()
    assert r == c["result"], r
    assert ops.apply(ops.apply(c["doc"], n(c["b"])), r) == c["doc_result"]


def t_compose(c):
    f = lambda: ops.compose(n(c["a"]), n(c["b"]))  # noqa: E731
    if "error" in c:
        assert err(f) == c["error"]
        return
    r = f()
    assert r == c["result"], r
    assert ops.apply(c["doc"], r) == c["doc_result"]


def t_invert(c):
    f = lambda: ops.invert(n(c["op"]), c["doc"])  # noqa: E731
    if "error" in c:
        assert err(f) == c["error"]
    else:
        assert f() == c["result"]


def t_cursor(c):
    r = ops.transform_pos(c["pos"], n(c["op"]), c["side"])
    assert r == c["result"], r


def t_normalise(c):
    assert ops.parse(c["wire"]) == c["result"]


def t_reject(c):
    wire = bytes.fromhex(c["wire_hex"]) if "wire_hex" in c else c["wire"]
    assert err(lambda: ops.parse(wire)) == c["error"], err(lambda: ops.parse(wire))


def t_strict(_):
    for w in ('[-1,"x"]', '[2,-1,"x"]', '["a",-1,"b"]'):
        assert err(lambda: ops.parse(w, strict=True)) == "OT_EORDER", w
    assert ops.parse('[-1,"x"]') == ["x", -1]
    assert ops.parse('["x",-1]', strict=True) == ["x", -1]


check("apply", load("apply.json"), t_apply)
check("transform", load("transform.json"), t_transform)
check("compose", load("compose.json"), t_compose)
check("invert", load("invert.json"), t_invert)
check("cursor", load("cursor.json"), t_cursor)
check("normalise", load("normalise.json"), t_normalise)
check("reject", load("reject.json"), t_reject)
check("strict order", [None], t_strict)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
