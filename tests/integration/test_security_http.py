"""The HTTP findings of the security review (issue 15) against the real
binary: long Origin headers at the WebSocket gate, cross-site and same-site
requests that change state, Host names of DNS rebinding, parallel wrong
logins, what a user without a role may learn of a document's existence,
request bodies without a length, and 405 with Allow. Every test starts its
own server on loopback and is bounded by socket timeouts."""
import concurrent.futures
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

from chorus_test import BIN, Client, Server, free_port, http, http_get, run, make_cert
from test_auth import PASSWORDS, team_server, token_of

EVIL = "http://evil.example"


def raw(port, method, path, headers=(), body=b"", timeout=5, wrap=None):
    """(status, {header: value}, body bytes, seconds) of one raw request;
    status 0 when nothing came back before 'timeout'."""
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    if not any(k.lower() == "host" for k, v in headers):
        head += "Host: 127.0.0.1:%d\r\n" % port
    head += "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if wrap:
        s = wrap(s)
    out = b""
    try:
        s.sendall(head.encode() + body)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            h, sep, rest = out.partition(b"\r\n\r\n")
            if sep:
                hdrs = parse_headers(h)
                if hdrs.get("content-length") and len(rest) >= int(hdrs["content-length"]):
                    break
                if b" 101 " in h.split(b"\r\n")[0]:
                    break
    except (socket.timeout, ConnectionResetError):
        pass
    finally:
        s.close()
    h, _, rest = out.partition(b"\r\n\r\n")
    line = h.split(b"\r\n")[0].split(b" ")
    status = int(line[1]) if len(line) > 1 and line[1].isdigit() else 0
    return status, parse_headers(h), rest, time.time() - t0


def parse_headers(head):
    out = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.decode("latin-1").partition(":")
        out[k.strip().lower()] = v.strip()
    return out


def upgrade(port, origin=None, host=None):
    """The status of a WebSocket upgrade to /ws (101 when accepted)."""
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
               ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Protocol", "chorus.v1")]
    if host is not None:
        headers.append(("Host", host))
    if origin is not None:
        headers.append(("Origin", origin))
    return raw(port, "GET", "/ws", headers)[0]


def api(s, method, path, body=None, token=None, headers=None):
    """(status, parsed JSON or raw bytes) of an API call."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    st, _, b = http(method, s.url + path, body, headers=h)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, b


# ---- 1. Origin headers longer than the server's buffer -----------------------

def long_origins(own, n):
    """Two foreign origins of n bytes: a long sub-domain of another site, and
    one that starts like 'own'."""
    sub = "http://" + "a" * (n - len("http://.evil.example")) + ".evil.example"
    pre = own + "." + "b" * (n - len(own) - len(".evil.example") - 1) + ".evil.example"
    assert len(sub) == n and len(pre) == n
    return sub, pre


def test_long_origins_are_refused_in_open_and_team_mode():
    for flags in ((), ("--auth", "on")):
        with Server(*flags) as s:
            own = "http://127.0.0.1:%d" % s.port
            for n in (300, 1000, 4000):
                for origin in long_origins(own, n):
                    st = upgrade(s.port, origin=origin)
                    assert st == 403, (flags, n, origin[:40], st)
            assert upgrade(s.port, origin=EVIL) == 403
            assert upgrade(s.port, origin=own) == 101, flags
            assert upgrade(s.port) == 101  # no Origin: not a browser


def test_long_origin_is_refused_even_with_an_allow_list():
    with Server("--allow-origin", "https://docs.example") as s:
        for origin in long_origins("https://docs.example", 4000):
            assert upgrade(s.port, origin=origin) == 403
        assert upgrade(s.port, origin="https://docs.example") == 101


def test_host_too_long_to_read_is_refused():
    with Server("--allow-host", "*") as s:  # only the origin check decides
        host = "h" * 2000
        assert upgrade(s.port, origin="http://" + host, host=host) == 403
        assert upgrade(s.port, origin="http://127.0.0.1:%d" % s.port) == 101


# ---- 2. state-changing requests from other origins, and their bodies -----------

def restore_setup(s):
    """Document 'd' with text 'hello' at version 1 (open mode)."""
    import asyncio

    async def go():
        c = await Client.connect(s)
        await c.join("d")
        await c.expect("joined")
        await c.send({"type": "op", "doc": "d", "version": 0, "seq": 1, "op": ["hello"]})
        await c.expect("ack")
        await c.close()
    asyncio.run(go())


def text_of(s, doc):
    return http_get(s.url + "/api/docs/%s/text" % doc)[2]


def test_json_bodies_need_a_json_content_type():
    with Server() as s:
        restore_setup(s)
        for ctype in ("text/plain", "application/x-www-form-urlencoded",
                      "multipart/form-data; boundary=x", "application/jsonx", None):
            h = {"Content-Type": ctype} if ctype else {}
            st, _, b, _ = raw(s.port, "POST", "/api/docs/d/restore",
                              list(h.items()) + [("Content-Length", "13")],
                              b'{"version":0}')
            assert st == 415 and json.loads(b)["error"] == "unsupported_media_type", (ctype, st, b)
            st, _, b, _ = raw(s.port, "POST", "/api/docs", list(h.items()) +
                              [("Content-Length", "10")], b'{"id":"x"}')
            assert st == 415, (ctype, st, b)
        assert text_of(s, "d") == b"hello"
        assert http_get(s.url + "/api/docs/x")[0] == 404
        st, b = api(s, "POST", "/api/docs", {"id": "y"},
                    headers={"Content-Type": "Application/JSON; charset=utf-8"})
        assert st == 201, b
        st, b = api(s, "POST", "/api/docs/d/restore", {"version": 0})
        assert st == 200 and b["changed"], b
        assert text_of(s, "d") == b""
        # an empty body needs no type: it is {}
        st, _, b, _ = raw(s.port, "POST", "/api/docs", [("Content-Length", "0")])
        assert st == 201, b


def state_changes(s, tok):
    """(method, path, body) of every state-changing route, as olga."""
    return [
        ("POST", "/api/docs", {"id": "new1"}),
        ("POST", "/api/login", {"name": "olga", "password": PASSWORDS["olga"]}),
        ("POST", "/api/logout", None),
        ("PUT", "/api/docs/own/roles", {"user": "nina", "role": "editor"}),
        ("POST", "/api/docs/own/share", {"role": "editor"}),
        ("POST", "/api/docs/own/share/revoke", None),
        ("POST", "/api/docs/own/restore", {"version": 0}),
        ("POST", "/api/docs/own/fork", {"id": "fork1"}),
    ]


def team_state(s, tok):
    """What the state-changing routes would change, as seen by olga."""
    docs = sorted(d["id"] for d in api(s, "GET", "/api/docs", token=tok)[1])
    roles = api(s, "GET", "/api/docs/own/roles", token=tok)[1]
    return docs, roles, api(s, "GET", "/api/docs/own/text", token=tok)[1]


def test_foreign_origins_change_nothing_on_any_route():
    with team_server() as s:
        tok = token_of(s, "olga")
        assert api(s, "POST", "/api/docs", {"id": "own"}, tok)[0] == 201
        before = team_state(s, tok)
        port = s.port
        foreign = [{"Origin": EVIL}, {"Origin": "null"},
                   {"Origin": "http://127.0.0.1:%d" % (port + 1)},  # same site
                   {"Origin": "http://localhost.evil.example:%d" % port},
                   {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}]
        for h in foreign:
            for method, path, body in state_changes(s, tok):
                st, b = api(s, method, path, body, tok, headers=h)
                assert st == 403 and b["error"] == "forbidden_origin", (h, method, path, st, b)
        assert team_state(s, tok) == before
        assert api(s, "GET", "/api/me", token=tok)[1]["user"]["name"] == "olga"  # not logged out
        # the same requests from the server's own origin are served
        own = {"Origin": "http://127.0.0.1:%d" % port, "Sec-Fetch-Site": "same-origin"}
        for method, path, body in state_changes(s, tok):
            if path == "/api/logout":
                continue
            st, b = api(s, method, path, body, tok, headers=own)
            assert st in (200, 201), (method, path, st, b)
        # the own origin is the one the browser used: by name, too
        own = {"Origin": "http://localhost:%d" % port, "Host": "localhost:%d" % port}
        assert api(s, "POST", "/api/logout", None, tok, headers=own)[0] == 200
        assert api(s, "GET", "/api/docs", token=tok)[0] == 401


def test_allow_origin_entries_may_change_state():
    with Server("--allow-origin", "https://docs.example") as s:
        st, b = api(s, "POST", "/api/docs", {"id": "a"},
                    headers={"Origin": "https://docs.example"})
        assert st == 201, b
        st, b = api(s, "POST", "/api/docs", {"id": "b"},
                    headers={"Origin": "https://docs.example.evil.example"})
        assert st == 403, b


# ---- 3. Host names (DNS rebinding) ------------------------------------------

def test_unknown_host_is_misdirected():
    with Server() as s:
        evil = [("Host", "evil.example:%d" % s.port)]
        for path in ("/api/docs", "/", "/api/docs/x/text", "/index.html"):
            st, h, b, _ = raw(s.port, "GET", path, evil)
            assert st == 421, (path, st, b)
        st, _, b, _ = raw(s.port, "POST", "/api/docs",
                          evil + [("Content-Length", "0")])
        assert st == 421 and json.loads(http_get(s.url + "/api/docs")[2]) == [], b
        assert upgrade(s.port, host="evil.example:%d" % s.port) == 421
        assert upgrade(s.port, host="evil.example", origin="http://evil.example") == 421
        for host in ("localhost:%d" % s.port, "LocalHost", "127.0.0.1:%d" % s.port,
                     "127.0.0.1", "[::1]:%d" % s.port):
            st, _, b, _ = raw(s.port, "GET", "/api/docs", [("Host", host)])
            assert st == 200, (host, st, b)
        assert upgrade(s.port, host="localhost:%d" % s.port,
                       origin="http://localhost:%d" % s.port) == 101
        st, _, b, _ = raw(s.port, "GET", "/healthz", evil)
        assert st == 200  # a probe may use any name


def test_allow_host_names_and_star():
    with Server("--allow-host", "docs.example", "--allow-origin",
                "https://pad.example:8443") as s:
        for host in ("docs.example", "DOCS.example:%d" % s.port, "pad.example",
                     "pad.example:443", "localhost"):
            assert raw(s.port, "GET", "/api/docs", [("Host", host)])[0] == 200, host
        assert raw(s.port, "GET", "/", [("Host", "other.example")])[0] == 421
        assert upgrade(s.port, host="docs.example:%d" % s.port,
                       origin="https://pad.example:8443") == 101
    with Server("--allow-host", "*") as s:
        assert raw(s.port, "GET", "/api/docs", [("Host", "evil.example")])[0] == 200


def test_any_address_takes_ip_literals_but_not_names():
    with Server("--bind", "0.0.0.0", "--auth", "off") as s:
        for host in ("10.1.2.3:%d" % s.port, "[fe80::1]:%d" % s.port, "192.168.0.7"):
            assert raw(s.port, "GET", "/api/docs", [("Host", host)])[0] == 200, host
        for host in ("evil.example", "10.1.2.3.evil.example", "[evil]"):
            assert raw(s.port, "GET", "/api/docs", [("Host", host)])[0] == 421, host


def test_allow_host_flag_is_documented_and_checked():
    p = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True)
    assert "--allow-host" in p.stdout
    p = subprocess.run([BIN, "serve", "--port", str(free_port()), "--allow-host", ""],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--allow-host" in p.stderr


# ---- 4. parallel wrong logins ----------------------------------------------------

def test_parallel_wrong_logins_are_limited_as_they_start():
    with team_server() as s:
        def attempt(i):
            return http("POST", s.url + "/api/login",
                        {"name": "olga", "password": "wrong-%d" % i}, timeout=60)[0]
        with concurrent.futures.ThreadPoolExecutor(30) as pool:
            codes = list(pool.map(attempt, range(30)))
        assert codes.count(401) <= 5 and codes.count(401) + codes.count(429) == 30, codes
        st, _, _ = http("POST", s.url + "/api/login",
                        {"name": "olga", "password": PASSWORDS["olga"]})
        assert st == 429  # the account stays limited for the window
        assert token_of(s, "eddie")  # another account is not


def test_successful_logins_do_not_use_up_the_address_limit():
    with team_server() as s:
        for i in range(22):
            assert http("POST", s.url + "/api/login",
                        {"name": "eddie", "password": PASSWORDS["eddie"]})[0] == 200, i


# ---- 5. what a user without a role learns -------------------------------------

def test_hidden_and_missing_documents_answer_the_same():
    with team_server() as s:
        t = {n: token_of(s, n) for n in ("olga", "nina", "vera", "root")}
        assert api(s, "POST", "/api/docs", {"id": "secret"}, t["olga"])[0] == 201
        assert api(s, "PUT", "/api/docs/secret/roles", {"user": "vera", "role": "viewer"},
                   t["olga"])[0] == 200
        routes = [("GET", "", None), ("GET", "/text", None), ("GET", "/history", None),
                  ("GET", "/sessions", None), ("GET", "/export?format=txt", None),
                  ("GET", "/roles", None), ("PUT", "/roles", {"user": "nina", "role": "owner"}),
                  ("POST", "/share", {"role": "editor"}), ("POST", "/share/revoke", None),
                  ("POST", "/restore", {"version": 0}), ("POST", "/fork", {"id": "f1"})]
        for method, rest, body in routes:
            hidden = api(s, method, "/api/docs/secret" + rest, body, t["nina"])
            missing = api(s, method, "/api/docs/nosuch" + rest, body, t["nina"])
            assert hidden == missing and hidden[0] == 404, (method, rest, hidden, missing)
            # a guest with a share link of nothing learns nothing either
            q = ("&" if "?" in rest else "?") + "share=x.y"
            assert api(s, method, "/api/docs/secret" + rest + q, body) == \
                api(s, method, "/api/docs/nosuch" + rest + q, body), (method, rest)
        # readers and admins keep precise answers
        assert api(s, "POST", "/api/docs/secret/restore", {"version": 0}, t["vera"])[0] == 403
        assert api(s, "GET", "/api/docs/secret/roles", None, t["vera"])[0] == 403
        assert api(s, "GET", "/api/docs/nosuch", None, t["root"])[0] == 404
        # creating a taken id: precise for those who can read it
        st, b = api(s, "POST", "/api/docs", {"id": "secret"}, t["nina"])
        assert st == 409 and b["error"] == "id_unavailable", b
        st, b = api(s, "POST", "/api/docs/other/fork", {"id": "secret"}, t["nina"])
        assert st == 404, b  # nina cannot read 'other' (missing) either
        assert api(s, "POST", "/api/docs", {"id": "mine"}, t["nina"])[0] == 201
        st, b = api(s, "POST", "/api/docs/mine/fork", {"id": "secret"}, t["nina"])
        assert st == 409 and b["error"] == "id_unavailable", b
        for who in ("olga", "vera", "root"):
            st, b = api(s, "POST", "/api/docs", {"id": "secret"}, t[who])
            assert st == 409 and b["error"] == "exists", (who, b)
        assert "nina" not in json.dumps(api(s, "GET", "/api/docs/secret/roles", None,
                                            t["olga"])[1])


# ---- 6. request bodies without a length ---------------------------------------

def no_length_cases(port, wrap=None):
    cases = [("POST", "/api/docs", []),
             ("PUT", "/api/docs/d/roles", []),
             ("POST", "/api/docs", [("Transfer-Encoding", "chunked")]),
             ("POST", "/api/docs/d/restore", [("Transfer-Encoding", "chunked"),
                                              ("Content-Type", "application/json")])]
    for method, path, h in cases:
        body = b"5\r\n{\"a\":\r\n0\r\n\r\n" if h else b""
        st, hdrs, b, secs = raw(port, method, path, h, body, timeout=10, wrap=wrap)
        assert st == 411 and secs < 3, (method, path, h, st, secs)
        assert json.loads(b)["error"] == "length_required", b


def test_bodies_without_a_length_are_answered_at_once():
    with Server() as s:
        no_length_cases(s.port)
        assert json.loads(http_get(s.url + "/api/docs")[2]) == []
        for method in ("PUT", "PATCH", "POST"):  # an empty body is a length
            st, _, b, secs = raw(s.port, method, "/api/docs/d/roles",
                                 [("Content-Length", "0")], timeout=10)
            assert st in (400, 405) and secs < 3, (method, st, secs)


def test_bodies_without_a_length_are_answered_at_once_over_tls():
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_cert(tmp)
        port = free_port()
        p = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", tmp + "/d",
                              "--tls-cert", cert, "--tls-key", key],
                             stderr=subprocess.DEVNULL)
        ctx = ssl.create_default_context(cafile=cert)
        ctx.set_alpn_protocols(["http/1.1"])
        wrap = lambda sock: ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        try:
            for _ in range(100):
                try:
                    if raw(port, "GET", "/healthz", wrap=wrap)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            no_length_cases(port, wrap)
        finally:
            p.terminate()
            p.wait(10)


# ---- 7. methods and titles ---------------------------------------------------------

def test_unknown_methods_on_known_routes_are_405_with_allow():
    with Server() as s:
        cases = [("OPTIONS", "/api/docs", "GET, HEAD, POST"),
                 ("DELETE", "/api/docs", "GET, HEAD, POST"),
                 ("GET", "/api/login", "POST"), ("PATCH", "/api/me", "GET, HEAD"),
                 ("PUT", "/api/docs/d", "GET, HEAD, DELETE, PATCH"),
                 ("OPTIONS", "/api/docs/d/roles", "GET, HEAD, PUT"),
                 ("GET", "/api/docs/d/share", "POST"),
                 ("PUT", "/api/docs/d/history", "GET, HEAD"),
                 ("GET", "/api/docs/d/restore", "POST"),
                 ("POST", "/metrics", "GET, HEAD"), ("DELETE", "/", "GET, HEAD")]
        for method, path, allow in cases:
            st, h, b, _ = raw(s.port, method, path, [("Content-Length", "0")])
            assert st == 405 and h.get("allow") == allow, (method, path, st, h)
        assert raw(s.port, "OPTIONS", "/api/nothing", [])[0] == 404


def test_titles_with_control_characters_are_refused_as_such():
    with Server() as s:
        for title in ("\u0000", "a\u0000b", "line\nbreak", "\u001b[31m", "\u007f", "\u0085"):
            for path in ("/api/docs", "/api/docs/d/fork"):
                body = json.dumps({"title": title}).encode()
                st, b = api(s, "POST", path, body)
                assert st == 400 and "control character" in b["message"], (title, path, b)
        assert api(s, "POST", "/api/docs", {"id": "d", "title": "Tabs\tare\tnot ok"})[0] == 400
        assert json.loads(http_get(s.url + "/api/docs")[2]) == []
        st, b = api(s, "POST", "/api/docs", {"id": "d", "title": "Notes ✎ 👋"})
        assert st == 201 and b["title"] == "Notes ✎ 👋"
        st, b = api(s, "POST", "/api/docs", b'{"id":"e\\u0000x"}')
        assert st == 400 and b["error"] == "bad_request", b


if __name__ == "__main__":
    run(globals())
