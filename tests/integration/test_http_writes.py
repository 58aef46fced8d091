"""HTTP writes (issue 20) against the real binary: POST .../ops, PUT .../text
with If-Match/ETag, POST .../append; answered after the commit, relayed
live to WebSocket editors, converging with people typing meanwhile; a
retried op applied once; every refusal (role, rate, size, bad op, bad
version, bad If-Match) answered as docs/http.md says."""
import asyncio
import json
import random
import threading

from chorus_test import Client, OTClient, Server, http, http_get, random_text, run
from test_auth import call, setup_docs, team_server, token_of

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def post_op(s, doc, body, headers=None):
    st, h, b = http("POST", s.url + "/api/docs/%s/ops" % doc, body, headers=headers)
    return st, json.loads(b)


def put_text(s, doc, text, version=None, headers=None):
    hd = dict(TEXT, **(headers or {}))
    if version is not None:
        hd["If-Match"] = '"%s"' % version
    st, h, b = http("PUT", s.url + "/api/docs/%s/text" % doc, text.encode(), headers=hd)
    return st, json.loads(b)


def append(s, doc, text, headers=None):
    st, h, b = http("POST", s.url + "/api/docs/%s/append" % doc, text.encode(),
                    headers=dict(TEXT, **(headers or {})))
    return st, json.loads(b)


def get_text(s, doc):
    st, h, b = http_get(s.url + "/api/docs/%s/text" % doc)
    assert st == 200, (st, b)
    return b.decode(), {k.lower(): v for k, v in h.items()}["etag"]


async def test_each_write_commits_and_is_relayed_live():
    with Server() as s:
        c = await Client.connect(s)
        await c.join("d")
        await c.expect("joined")
        assert post_op(s, "d", {"version": 0, "op": ["hello"]}) == (200, {"version": 1})
        m = await c.expect("op")
        assert m["version"] == 1 and m["op"] == ["hello"] and m["client"] == "@http"
        assert append(s, "d", " world 👋") == (200, {"version": 2})
        assert (await c.expect("op"))["op"] == [5, " world 👋"]
        text, etag = get_text(s, "d")
        assert text == "hello world 👋" and etag == '"2"'
        assert put_text(s, "d", "Hello world 👋!") == (200, {"version": 3})
        assert (await c.expect("op"))["version"] == 3
        assert get_text(s, "d") == ("Hello world 👋!", '"3"')
        # changes inside multi-byte characters that share their first bytes
        assert put_text(s, "d", "Hellö world 👋!")[0] == 200
        assert put_text(s, "d", "Hellò world 😀!")[0] == 200
        assert get_text(s, "d") == ("Hellò world 😀!", '"5"')
        assert (await c.expect("op"))["version"] == 4
        assert (await c.expect("op"))["version"] == 5
        st, h, b = http_get(s.url + "/api/docs/d/text?version=1")
        assert b == b"hello" and {k.lower(): v for k, v in h.items()}["etag"] == '"1"'


def test_put_creates_a_missing_document_with_201():
    with Server() as s:
        assert put_text(s, "fresh", "new text") == (201, {"version": 1})
        assert get_text(s, "fresh") == ("new text", '"1"')
        assert put_text(s, "fresh", "new text") == (200, {"version": 1})  # no change


async def test_put_with_if_match_keeps_what_others_typed_meanwhile():
    with Server() as s:
        c = await Client.connect(s)
        await c.join("d")
        await c.expect("joined")
        ot = OTClient(c, "d")
        assert put_text(s, "d", "line one\nline two\n") == (200, {"version": 1})
        await c.expect("op")
        text, etag = get_text(s, "d")
        ot.text, ot.version = text, 1
        await ot.edit(["> "])  # someone types at the start meanwhile
        while not ot.synced:
            await ot.handle(await c.expect("ack"))
        # the script read version 1 and changes the second line
        assert put_text(s, "d", "line one\nline 2\n", version=etag.strip('"'))[0] == 200
        assert get_text(s, "d")[0] == "> line one\nline 2\n"
        # without If-Match the text is replaced as it is now
        assert put_text(s, "d", "all new")[0] == 200
        assert get_text(s, "d")[0] == "all new"


def test_a_retried_op_is_applied_once_with_its_version():
    with Server() as s:
        body = {"version": 0, "op": ["a"], "client": "script-1", "seq": 1}
        assert post_op(s, "d2", {"version": 0, "op": ["x"]})[0] == 404  # no such doc yet
        assert put_text(s, "d2", "")[0] == 201
        assert post_op(s, "d2", body) == (200, {"version": 1})
        assert post_op(s, "d2", body) == (200, {"version": 1})
        # concurrent retries of a new op: one applies, all get its version
        body = {"version": 1, "op": [1, "b"], "client": "script-1", "seq": 2}
        results = []
        ths = [threading.Thread(target=lambda: results.append(post_op(s, "d2", body)))
               for _ in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        assert results == [(200, {"version": 2})] * 8, results
        assert get_text(s, "d2") == ("ab", '"2"')
        # an older seq than the client's newest, once forgotten, is refused
        s.restart()
        assert post_op(s, "d2", dict(body, seq=1)) == (200, {"version": 1})


def test_refusals():
    with Server("--max-doc-chars", "1024", "--ops-per-sec", "1000") as s:
        assert put_text(s, "d", "abc")[0] == 201
        for op, word in (([-1, "x"], "inserts go before deletes"), ([5, "x"], "past the end"),
                         ([0], "zero"), ("x", "")):
            st, b = post_op(s, "d", {"version": 1, "op": op})
            assert st == 400 and b["error"] == "bad_op" and word in b["message"], (op, b)
        st, b = post_op(s, "d", {"version": 9, "op": ["x"]})
        assert st == 409 and b["error"] == "version_ahead"
        for body in ({"op": ["x"]}, {"version": -1, "op": ["x"]},
                     {"version": 1, "op": ["x"], "client": "a b", "seq": 1},
                     {"version": 1, "op": ["x"], "client": "a"}):
            st, b = post_op(s, "d", body)
            assert st == 400 and b["error"] == "bad_message", (body, b)
        st, b = post_op(s, "d", {"version": 1, "op": ["x" * 1100]})
        assert st == 413 and b["error"] == "too_large"
        for bad in ("7", '"x"', '"-1"', '"1" , "2"', "W/\"1\""):
            st, b = put_text(s, "d", "q", headers={"If-Match": bad})
            assert st == 400 and b["error"] == "bad_if_match", (bad, b)
        st, b = put_text(s, "d", "q", version=50)
        assert st == 412 and b["error"] == "version_ahead"
        st, h, b = http("PUT", s.url + "/api/docs/d/text", b"q", headers={"Content-Type": "application/json"})
        assert st == 415
        st, h, b = http("POST", s.url + "/api/docs/d/append", b"\xff", headers=TEXT)
        assert st == 400 and json.loads(b)["error"] == "bad_request"
        st, h, b = http("POST", s.url + "/api/docs/d/append", b"x" * (1 << 20 + 1), headers=TEXT)
        assert st == 413
        st, b = append(s, "nope", "x")
        assert st == 404 and b["error"] == "not_found"
        assert get_text(s, "d") == ("abc", '"1"')


def test_writes_are_rate_limited_per_token_and_address():
    with Server("--ops-per-sec", "5") as s:
        assert put_text(s, "d", "")[0] == 201
        codes = [append(s, "d", "x")[0] for _ in range(30)]
        assert codes.count(429) > 0 and codes[:9] == [200] * 9, codes
        st, b = append(s, "d", "x")
        assert st == 429 and b["error"] == "rate_limited"
        # another token is another bucket
        assert append(s, "d", "y", headers={"Authorization": "Bearer zzz"})[0] == 200


def test_team_mode_roles():
    with team_server() as s:
        tokens = {n: token_of(s, n) for n in ("root", "olga", "eddie", "vera", "nina")}
        setup_docs(s, tokens)

        def as_(name, method, path, body=None, ctype=None):
            headers = {"Authorization": "Bearer " + tokens[name]} if name else {}
            if ctype:
                headers["Content-Type"] = ctype
            return http(method, s.url + path, body, headers=headers)[0]

        cases = [("POST", "/api/docs/own/ops", {"version": 0, "op": ["x"]}, None),
                 ("POST", "/api/docs/own/append", b"x", TEXT["Content-Type"]),
                 ("PUT", "/api/docs/own/text", b"x", TEXT["Content-Type"])]
        for method, path, body, ctype in cases:
            got = {n: as_(n, method, path, body, ctype) for n in (None, "nina", "vera", "eddie", "olga", "root")}
            assert got[None] == 401 and got["nina"] == 404 and got["vera"] == 403, (path, got)
            assert all(got[n] in (200, 201) for n in ("eddie", "olga", "root")), (path, got)
        # PUT creates a document owned by its creator
        assert as_("nina", "PUT", "/api/docs/ninas/text", b"mine", TEXT["Content-Type"]) == 201
        assert call(s, "GET", "/api/docs/ninas/roles", tokens["nina"]) == 200
        assert as_("vera", "PUT", "/api/docs/ninas/text", b"x", TEXT["Content-Type"]) == 404


async def test_concurrent_http_writes_while_websocket_clients_type_converge():
    with Server() as s:
        rng = random.Random(2020)
        assert put_text(s, "d", "start\n")[0] == 201
        clients = []
        for i in range(3):
            c = await Client.connect(s)
            await c.join("d")
            m = await c.expect("joined")
            clients.append(OTClient(c, "d", m["text"], m["version"]))
        appended, stop = [], threading.Event()

        def script():
            n = 0
            while not stop.is_set() and n < 40:
                st, b = append(s, "d", "<%d>" % n)
                assert st == 200, b
                appended.append("<%d>" % n)
                text, etag = get_text(s, "d")
                st, b = put_text(s, "d", text.replace("a", "A", 1), version=etag.strip('"'))
                assert st == 200, b
                n += 1

        th = threading.Thread(target=script)
        th.start()

        typed = [0]

        async def typist(ot):
            for _ in range(40):  # inserts only: then nothing may vanish
                t = random_text(rng, rng.randint(1, 3))
                typed[0] += len(t)
                pos = rng.randint(0, len(ot.text))
                await ot.edit([pos, t] if pos else [t])
                try:
                    while True:
                        await ot.handle(await ot.c.recv(timeout=0.01))
                except asyncio.TimeoutError:
                    pass

        await asyncio.gather(*(typist(ot) for ot in clients))
        stop.set()
        await asyncio.get_running_loop().run_in_executor(None, th.join)
        for ot in clients:
            while not ot.synced:
                await ot.handle(await ot.c.recv())
        await asyncio.sleep(0.3)
        for ot in clients:
            try:
                while True:
                    await ot.handle(await ot.c.recv(timeout=0.3))
            except asyncio.TimeoutError:
                pass
        final, etag = get_text(s, "d")
        assert all(ot.text == final for ot in clients), [ot.text for ot in clients] + [final]
        assert all(ot.version == int(etag.strip('"')) for ot in clients)
        # nothing typed or appended was lost (the PUTs only change a to A)
        assert len(final) == len("start\n") + typed[0] + len("".join(appended))
        assert "".join(ch for ch in final if ch in "<>0123456789") == "".join(appended)


def test_writes_to_a_trashed_document_are_refused_and_the_server_keeps_serving():
    """A trashed document cannot be written over HTTP: PUT (which would
    create it) is 409, append and ops 404; after a restore they work."""
    with Server() as s:
        assert put_text(s, "t", "hello") == (201, {"version": 1})
        st, h, b = http("DELETE", s.url + "/api/docs/t")
        assert st == 200, b
        st, body = put_text(s, "t", "again")
        assert st == 409 and body["error"] == "exists", body
        assert append(s, "t", "more")[0] == 404
        assert post_op(s, "t", {"version": 1, "op": [5, "x"]})[0] == 404
        assert http_get(s.url + "/healthz")[0] == 200
        st, h, b = http("POST", s.url + "/api/trash/t/restore")
        assert st == 200, b
        assert append(s, "t", "!") == (200, {"version": 2})
        assert get_text(s, "t") == ("hello!", '"2"')


if __name__ == "__main__":
    run(globals())
