"""Authorship (issue 21) against the real binary: GET /api/docs/D/authors
after two users typed over the WebSocket (Hangul, emoji, a combining mark,
a delete across both users' text), at older versions, replays that start
from a checkpoint (seen in /metrics), the team mode's rights (viewer and
share-link reader yes, outsider and anonymous no) and bad input."""
import asyncio
import json
import re

from chorus_test import Client, OTClient, Server, http, http_get, run
from test_auth import team_server, token_of
from test_security_rights import join, ws_with


def authors(s, doc, query="", headers=None):
    st, h, body = http_get(s.url + "/api/docs/%s/authors%s" % (doc, query),
                           headers=headers or {})
    return st, json.loads(body) if body else None


def text_of(s, doc, version=None, headers=None):
    q = "" if version is None else "?version=%d" % version
    st, h, body = http_get(s.url + "/api/docs/%s/text%s" % (doc, q), headers=headers or {})
    assert st == 200, (st, body)
    return body.decode("utf-8")


def metric(s, name):
    st, h, body = http_get(s.url + "/metrics")
    m = re.search(r"^%s (\d+)" % re.escape(name), body.decode(), re.M)
    return int(m.group(1))


def check_cover(a, text):
    """The spans cover the text exactly, in order, merged."""
    at = 0
    for i, (start, end, user) in enumerate(a["spans"]):
        assert start == at and end > start, a
        if i:
            assert user != a["spans"][i - 1][2], a
        at = end
    assert at == a["length"] == len(text), (a, len(text))


def who_wrote(a, text):
    """[(user, their text)] from the spans."""
    return [(u, text[s:e]) for s, e, u in a["spans"]]


async def settle(*clients):
    """Read until every client is synced and nobody hears anything more."""
    while True:
        busy = False
        for c in clients:
            try:
                m = await c.c.recv(0.1)
            except asyncio.TimeoutError:
                continue
            busy = True
            await c.handle(m)
        if not busy and all(c.synced for c in clients):
            return


async def two_typists(s, doc):
    ann_c = await Client.connect(s, name="Ann")
    bob_c = await Client.connect(s, name="Bob")
    for c in (ann_c, bob_c):
        await c.join(doc)
        await c.expect("joined")
    return OTClient(ann_c, doc), OTClient(bob_c, doc)


async def test_spans_follow_who_typed_what():
    with Server() as s:
        ann, bob = await two_typists(s, "d")
        await ann.edit(["Hello "])
        await settle(ann, bob)
        await bob.edit([6, "\ud55c\uad6d\uc5b4 \U0001F600"])  # 한국어 😀
        await settle(ann, bob)
        await ann.edit([11, " e\u0301!"])                    # e + combining acute
        await settle(ann, bob)
        text = text_of(s, "d")
        assert text == "Hello \ud55c\uad6d\uc5b4 \U0001F600 e\u0301!" == ann.text == bob.text
        st, a = authors(s, "d")
        assert st == 200, a
        assert a["doc"] == "d" and a["version"] == 3
        check_cover(a, text)
        assert who_wrote(a, text) == [("Ann", "Hello "), ("Bob", "\ud55c\uad6d\uc5b4 \U0001F600"),
                                      ("Ann", " e\u0301!")], a
        # Bob deletes across the border of his text and Ann's
        await bob.edit([9, -4])
        await settle(ann, bob)
        text = text_of(s, "d")
        st, a = authors(s, "d")
        check_cover(a, text)
        assert who_wrote(a, text) == [("Ann", "Hello "), ("Bob", "\ud55c\uad6d\uc5b4"),
                                      ("Ann", "\u0301!")], a
        # older versions
        for v, want in [(0, []), (1, [("Ann", "Hello ")]),
                        (2, [("Ann", "Hello "), ("Bob", "\ud55c\uad6d\uc5b4 \U0001F600")])]:
            st, a = authors(s, "d", "?version=%d" % v)
            assert st == 200 and a["version"] == v, a
            old = text_of(s, "d", v)
            check_cover(a, old)
            assert who_wrote(a, old) == want, (v, a)
        # HEAD answers like GET, without a body
        st, h, body = http("HEAD", s.url + "/api/docs/d/authors")
        assert st == 200 and body == b""


async def test_a_second_request_replays_only_the_ops_since_a_checkpoint():
    with Server() as s:
        ann, bob = await two_typists(s, "d")
        for i in range(40):
            await (ann if i % 2 else bob).edit([i, "x"] if i else ["x"])
            await settle(ann, bob)
        r0 = metric(s, "chorus_authors_replayed_ops_total")
        assert authors(s, "d")[0] == 200
        assert metric(s, "chorus_authors_replayed_ops_total") - r0 == 40
        assert metric(s, "chorus_authors_cache_checkpoints") == 1
        for i in range(3):
            await ann.edit(["y"])
            await settle(ann, bob)
        st, a = authors(s, "d")
        assert a["version"] == 43
        assert metric(s, "chorus_authors_replayed_ops_total") - r0 == 43  # 3 more
        st, a = authors(s, "d", "?version=42")                            # from 40
        assert a["version"] == 42 and a["spans"][0] == [0, 2, "Ann"], a
        assert metric(s, "chorus_authors_replayed_ops_total") - r0 == 45
        st, a = authors(s, "d", "?version=43")                            # cached
        assert metric(s, "chorus_authors_replayed_ops_total") - r0 == 45
        assert metric(s, "chorus_authors_checkpoint_hits_total") == 3
        check_cover(a, text_of(s, "d"))
        # a document purged and made again under the same id starts afresh
        assert http("DELETE", s.url + "/api/docs/d")[0] == 200
        assert authors(s, "d")[0] == 404
        assert http("DELETE", s.url + "/api/trash/d")[0] == 200
        assert http("POST", s.url + "/api/docs", {"id": "d"})[0] == 201
        st, h, b = http("POST", s.url + "/api/docs/d/append", b"new",
                        headers={"Content-Type": "text/plain"})
        assert st in (200, 201), b
        st, a = authors(s, "d")
        assert st == 200 and a["version"] == 1 and a["length"] == 3, a


async def test_bad_inputs_are_refused_and_change_nothing():
    with Server() as s:
        ann, bob = await two_typists(s, "d")
        await ann.edit(["abc"])
        await settle(ann, bob)
        for q, st_want, code in [("?version=-1", 400, "bad_version"),
                                 ("?version=abc", 400, "bad_version"),
                                 ("?version=", 400, "bad_version"),
                                 ("?version=1.5", 400, "bad_version"),
                                 ("?version=2", 404, "no_version"),
                                 ("?version=99999999999999999999999", 404, "no_version")]:
            st, a = authors(s, "d", q)
            assert (st, a["error"]) == (st_want, code), (q, st, a)
        st, a = authors(s, "missing")
        assert (st, a["error"]) == (404, "not_found")
        st, a = authors(s, ".bad")
        assert (st, a["error"]) == (400, "bad_doc_id")
        st, h, b = http("POST", s.url + "/api/docs/d/authors", {})
        assert st == 405 and "GET" in h.get("allow", h.get("Allow", "")), (st, h)
        st, a = authors(s, "d")
        assert st == 200 and a["spans"] == [[0, 3, "Ann"]], a


async def test_team_mode_viewers_and_share_links_read_it_outsiders_do_not():
    with team_server() as s:
        tok = {n: token_of(s, n) for n in ("olga", "eddie", "vera", "nina")}
        bearer = {n: {"Authorization": "Bearer " + t} for n, t in tok.items()}
        st, h, b = http("POST", s.url + "/api/docs", {"id": "own"}, headers=bearer["olga"])
        assert st == 201, b
        for who, role in (("eddie", "editor"), ("vera", "viewer")):
            st, h, b = http("PUT", s.url + "/api/docs/own/roles", {"user": who, "role": role},
                            headers=bearer["olga"])
            assert st == 200, b
        o = await ws_with(s, tok["olga"], "olga-1")
        e = await ws_with(s, tok["eddie"], "eddie-1")
        v = (await join(o, "own"))["version"]
        await join(e, "own")
        await o.send({"type": "op", "doc": "own", "version": v, "seq": 1, "op": ["olga "]})
        await o.expect("ack", skip=("presence", "op"))
        await e.expect("op", skip=("presence",))
        await e.send({"type": "op", "doc": "own", "version": v + 1, "seq": 1,
                      "op": [5, "eddie"]})
        await e.expect("ack", skip=("presence", "op"))
        want = [[0, 5, "olga"], [5, 10, "eddie"]]
        for who in ("olga", "eddie", "vera"):
            st, a = authors(s, "own", headers=bearer[who])
            assert st == 200 and a["spans"] == want, (who, st, a)
        st, a = authors(s, "own", headers=bearer["nina"])
        assert st == 404, (st, a)           # may not learn that it exists
        st, a = authors(s, "own")
        assert st == 401, (st, a)
        st, h, b = http("POST", s.url + "/api/docs/own/share", {"role": "viewer"},
                        headers=bearer["olga"])
        share = json.loads(b)["token"]
        st, a = authors(s, "own", "?share=" + share + "&version=1")
        assert st == 200 and a["spans"] == [[0, 5, "olga"]], a
        st, a = authors(s, "own", "?share=" + share[:-2] + "xx")
        assert st in (401, 403, 404), (st, a)


run(globals())
