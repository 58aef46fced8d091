"""Team mode (issue 7) against the real binary: an authorization matrix over
every message type and HTTP route x every role (none, logged in without a
role, viewer, editor, owner, admin) x own/other document; wrong passwords,
revoked and expired sessions, token replay after logout, forged, expired
and revoked share links, login floods, and TLS."""
import asyncio
import json
import os
import sqlite3
import subprocess
import tempfile
import time

import websockets

from chorus_test import BIN, Client, Server, free_port, http, http_get, run, make_cert

PASSWORDS = {"root": "root-password", "olga": "olga-password", "eddie": "eddie-password",
             "vera": "vera-password", "nina": "nina-password"}


def add_user(data, name, admin=False):
    args = [BIN, "user", "add", name, "--data", data] + (["--admin"] if admin else [])
    p = subprocess.run(args, input=PASSWORDS[name] + "\n", capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def team_server(*flags):
    tmp = tempfile.mkdtemp(prefix="chorus-auth-")
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    add_user(data, "root", admin=True)
    for n in ("olga", "eddie", "vera", "nina"):
        add_user(data, n)
    return Server("--auth", "on", *flags, data=data)


def login(s, name, password=None):
    st, h, body = http("POST", s.url + "/api/login",
                       {"name": name, "password": password or PASSWORDS[name]})
    return st, h, json.loads(body)


def token_of(s, name):
    st, h, body = login(s, name)
    assert st == 200, body
    assert "HttpOnly" in h["set-cookie"] and "SameSite=Strict" in h["set-cookie"]
    return body["token"]


def call(s, method, path, token=None, body=None, cookie=False):
    headers = {}
    if token:
        headers = {"Cookie": "chorus_session=" + token} if cookie else \
                  {"Authorization": "Bearer " + token}
    st, h, b = http(method, s.url + path, body, headers=headers)
    return st


def setup_docs(s, tokens):
    """'own': owned by olga, eddie editor, vera viewer. 'other': root's."""
    assert call(s, "POST", "/api/docs", tokens["olga"], {"id": "own"}) == 201
    assert call(s, "POST", "/api/docs", tokens["root"], {"id": "other"}) == 201
    assert call(s, "PUT", "/api/docs/own/roles", tokens["olga"],
                {"user": "eddie", "role": "editor"}) == 200
    assert call(s, "PUT", "/api/docs/own/roles", tokens["olga"],
                {"user": "vera", "role": "viewer"}) == 200


ROUTES = [  # (method, path, body, least role that may: viewer/editor/owner)
    ("GET", "/api/docs/{d}", None, "viewer"),
    ("GET", "/api/docs/{d}/text", None, "viewer"),
    ("GET", "/api/docs/{d}/text?version=0", None, "viewer"),
    ("GET", "/api/docs/{d}/history", None, "viewer"),
    ("GET", "/api/docs/{d}/sessions", None, "viewer"),
    ("GET", "/api/docs/{d}/authors", None, "viewer"),
    ("GET", "/api/docs/{d}/authors?version=0", None, "viewer"),
    ("GET", "/api/docs/{d}/export?format=txt", None, "viewer"),
    ("GET", "/api/docs/{d}/export?format=json", None, "viewer"),
    ("POST", "/api/docs/{d}/restore", {"version": 0}, "editor"),
    ("GET", "/api/docs/{d}/roles", None, "owner"),
    ("PUT", "/api/docs/{d}/roles", {"user": "nina", "role": "none"}, "owner"),
    ("POST", "/api/docs/{d}/share", {"role": "viewer"}, "owner"),
]
RANK = {"none": 0, "viewer": 1, "editor": 2, "owner": 3}
# who -> role on 'own' and on 'other'
WHO = {"anonymous": ("none", "none"), "nina": ("none", "none"),
       "vera": ("viewer", "none"), "eddie": ("editor", "none"),
       "olga": ("owner", "none"), "root": ("owner", "owner")}


def test_http_authorization_matrix():
    with team_server() as s:
        tokens = {n: token_of(s, n) for n in PASSWORDS}
        setup_docs(s, tokens)
        failures = []
        for who, roles in WHO.items():
            tok = tokens.get(who)
            for doc, role in zip(("own", "other"), roles):
                for method, path, body, least in ROUTES:
                    st = call(s, method, path.format(d=doc), tok, body)
                    if who == "anonymous":
                        want = 401
                    elif RANK[role] >= RANK[least]:
                        want = 200
                    elif role == "none":  # may not learn that it exists
                        want = 404
                    else:
                        want = 403
                    if st != want:
                        failures.append((who, doc, method, path, st, want))
        assert not failures, failures
        # fork needs an account and read access; it makes the forker owner
        assert call(s, "POST", "/api/docs/own/fork", tokens["vera"], {"id": "vfork"}) == 201
        assert call(s, "GET", "/api/docs/vfork/roles", tokens["vera"]) == 200
        assert call(s, "POST", "/api/docs/own/fork", tokens["nina"], {"id": "nfork"}) == 404
        assert call(s, "POST", "/api/docs/own/fork", None, {"id": "afork"}) == 401
        # the list shows each user only what they may see
        lists = {}
        for who in ("nina", "vera", "olga", "root"):
            st, h, b = http_get(s.url + "/api/docs",
                                headers={"Authorization": "Bearer " + tokens[who]})
            lists[who] = sorted(d["id"] for d in json.loads(b))
        assert lists == {"nina": [], "vera": ["own", "vfork"], "olga": ["own"],
                         "root": ["other", "own", "vfork"]}, lists
        assert call(s, "GET", "/api/docs", None) == 401
        assert call(s, "POST", "/api/docs", None, {"id": "x"}) == 401
        # the session cookie works like the bearer token
        assert call(s, "GET", "/api/docs/own", tokens["vera"], cookie=True) == 200


async def ws_as(s, who, tokens):
    c = await Client.connect(s, hello=False)
    msg = {"type": "hello", "client": "c-" + who}
    if tokens.get(who):
        msg["token"] = tokens[who]
    await c.send(msg)
    c.welcome = await c.expect("welcome")
    return c


async def test_websocket_authorization_matrix():
    with team_server() as s:
        tokens = {n: token_of(s, n) for n in PASSWORDS}
        setup_docs(s, tokens)
        for who, roles in WHO.items():
            c = await ws_as(s, who, tokens)
            if who != "anonymous":
                assert c.welcome["user"]["name"] == who  # the account's name
            for doc, role in zip(("own", "other"), roles):
                await c.join(doc)
                if role == "none":
                    m = await c.expect("error")
                    assert m["code"] == ("unauthorized" if who == "anonymous" else "forbidden"), (who, doc, m)
                    await c.send({"type": "op", "doc": doc, "version": 0, "seq": 1, "op": ["x"]})
                    await c.error("not_joined")
                    continue
                m = await c.expect("joined")
                v = m["version"]
                await c.send({"type": "presence", "doc": doc, "version": v,
                              "cursor": {"anchor": 0, "head": 0}})
                await c.send({"type": "op", "doc": doc, "version": v, "seq": v + 1,
                              "op": [who[0]]})
                if RANK[role] >= RANK["editor"]:
                    ack = await c.expect("ack", skip=("presence", "op"))
                    assert ack["version"] == v + 1
                else:
                    m1 = await c.error("forbidden")
                    m2 = await c.error("forbidden")
                    assert m2["seq"] == v + 1
                await c.send({"type": "leave", "doc": doc})
            await c.close()
        st, h, body = http_get(s.url + "/api/docs/own/text",
                               headers={"Authorization": "Bearer " + tokens["olga"]})
        assert sorted(body.decode()) == sorted("eor"), body  # eddie, olga, root
        # a logged-in user may create a document by joining it, and owns it
        c = await ws_as(s, "nina", tokens)
        await c.join("ninas")
        await c.expect("joined")
        assert call(s, "GET", "/api/docs/ninas/roles", tokens["nina"]) == 200


async def test_bad_logins_sessions_and_replay():
    with team_server() as s:
        st, h, b = login(s, "olga", "wrong-password")
        assert st == 401 and b["error"] == "bad_login"
        st, h, b = login(s, "nobody-here", "whatever-pass")
        assert st == 401 and b["error"] == "bad_login"  # the same answer
        tok = token_of(s, "olga")
        assert call(s, "GET", "/api/docs", tok) == 200
        assert call(s, "POST", "/api/logout", tok) == 200
        assert call(s, "GET", "/api/docs", tok) == 401  # replay after logout
        c = await Client.connect(s, hello=False)
        await c.send({"type": "hello", "client": "replay", "token": tok})
        await c.error("unauthorized")
        # an expired session
        tok = token_of(s, "olga")
        con = sqlite3.connect(os.path.join(s.data, "chorus.db"))
        con.execute("UPDATE tokens SET expires_ms = 1 WHERE kind = 'session'")
        con.commit()
        con.close()
        assert call(s, "GET", "/api/docs", tok) == 401
        # a password change logs out every session
        tok = token_of(s, "eddie")
        p = subprocess.run([BIN, "user", "passwd", "eddie", "--data", s.data],
                           input="eddie-new-password\n", capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert call(s, "GET", "/api/docs", tok) == 401
        assert login(s, "eddie", "eddie-new-password")[0] == 200
        # removing a user revokes everything
        tok = token_of(s, "vera")
        subprocess.run([BIN, "user", "remove", "vera", "--data", s.data], check=True,
                       capture_output=True)
        assert call(s, "GET", "/api/docs", tok) == 401
        # the database holds no token in clear
        con = sqlite3.connect(os.path.join(s.data, "chorus.db"))
        hashes = [r[0] for r in con.execute("SELECT hash FROM tokens")]
        pw = [r[0] for r in con.execute("SELECT pwhash FROM users")]
        con.close()
        assert all(len(h) == 32 for h in hashes)
        assert all(p.startswith("$argon2id$") for p in pw)


def test_api_tokens_for_bots():
    with team_server() as s:
        p = subprocess.run([BIN, "token", "create", "--user", "olga", "--data", s.data],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        tok = p.stdout.strip()
        assert len(tok) == 43
        assert call(s, "POST", "/api/docs", tok, {"id": "botdoc"}) == 201

        async def bot():
            c = await Client.connect(s, hello=False)
            await c.send({"type": "hello", "client": "bot1", "token": tok})
            w = await c.expect("welcome")
            assert w["user"]["name"] == "olga"
            await c.join("botdoc")
            await c.expect("joined")
            await c.send({"type": "op", "doc": "botdoc", "version": 0, "seq": 1, "op": ["beep"]})
            await c.expect("ack")
        asyncio.run(bot())
        p = subprocess.run([BIN, "token", "create", "--user", "ghost", "--data", s.data],
                           capture_output=True, text=True)
        assert p.returncode == 1


async def test_share_links_grant_revoke_expire_and_resist_forgery():
    with team_server() as s:
        tokens = {n: token_of(s, n) for n in ("olga", "nina")}
        assert call(s, "POST", "/api/docs", tokens["olga"], {"id": "shared"}) == 201
        st, h, b = http("POST", s.url + "/api/docs/shared/share", {"role": "editor"},
                        headers={"Authorization": "Bearer " + tokens["olga"]})
        link = json.loads(b)
        assert st == 200 and link["url"].startswith("/d/shared?share=")
        share = link["token"]
        # anyone with the link, even without an account
        assert http_get(s.url + "/api/docs/shared/text?share=" + share)[0] == 200
        c = await Client.connect(s)  # anonymous guest
        await c.send({"type": "join", "doc": "shared", "share": share})
        await c.expect("joined")
        await c.send({"type": "op", "doc": "shared", "version": 0, "seq": 1, "op": ["guest"]})
        await c.expect("ack")
        # a link is for its document only, and for no more than its role
        assert call(s, "POST", "/api/docs", tokens["olga"], {"id": "private"}) == 201
        assert http_get(s.url + "/api/docs/private/text?share=" + share)[0] == 401
        assert http("PUT", s.url + "/api/docs/shared/roles?share=" + share,
                    {"user": "nina", "role": "owner"})[0] == 401
        # forged: a flipped tag, a changed payload
        forged = share[:-2] + ("AA" if share[-2:] != "AA" else "BB")
        assert http_get(s.url + "/api/docs/shared/text?share=" + forged)[0] == 401
        payload, tag = share.split(".")
        import base64
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        raw = raw.replace("\n2\n", "\n3\n")  # claim owner
        evil = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=") + "." + tag
        assert http_get(s.url + "/api/docs/shared/text?share=" + evil)[0] == 401
        # revoked: rotating the epoch kills every older link
        assert call(s, "POST", "/api/docs/shared/share/revoke", tokens["olga"]) == 200
        assert http_get(s.url + "/api/docs/shared/text?share=" + share)[0] == 401
        c2 = await Client.connect(s)
        await c2.send({"type": "join", "doc": "shared", "share": share})
        await c2.error("unauthorized")
        # expired
        st, h, b = http("POST", s.url + "/api/docs/shared/share",
                        {"role": "viewer", "expires_in": 1},
                        headers={"Authorization": "Bearer " + tokens["olga"]})
        short = json.loads(b)["token"]
        assert http_get(s.url + "/api/docs/shared/text?share=" + short)[0] == 200
        time.sleep(1.2)
        assert http_get(s.url + "/api/docs/shared/text?share=" + short)[0] == 401


def test_login_flood_is_limited_and_others_are_served():
    with team_server() as s:
        codes = [login(s, "olga", "wrong-%d" % i)[0] for i in range(8)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
        assert login(s, "olga")[0] == 429  # even the right password, for now
        assert login(s, "eddie")[0] == 200  # another account is not locked
        # per address: many names from one IP
        codes = [login(s, "user%d" % i, "nope-nope")[0] for i in range(25)]
        assert 429 in codes
        assert http_get(s.url + "/healthz")[0] == 200


def test_team_mode_is_default_off_loopback_and_open_on_loopback():
    with Server() as s:  # loopback: open
        assert json.loads(http_get(s.url + "/api/me")[2])["mode"] == "open"
        assert http("POST", s.url + "/api/login", {"name": "x", "password": "y"})[0] == 400
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.Popen([BIN, "serve", "--bind", "0.0.0.0", "--port", str(port),
                              "--data", tmp + "/d"], stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                try:
                    st, h, b = http_get("http://127.0.0.1:%d/api/me" % port)
                    break
                except OSError:
                    time.sleep(0.05)
            assert json.loads(b)["mode"] == "team"
            assert http_get("http://127.0.0.1:%d/api/docs" % port)[0] == 401
        finally:
            p.terminate()
            p.wait(10)


async def test_tls_serves_https_and_wss():
    import ssl
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_cert(tmp)
        port = free_port()
        p = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", tmp + "/d",
                              "--tls-cert", cert, "--tls-key", key],
                             stderr=subprocess.PIPE)
        try:
            ctx = ssl.create_default_context(cafile=cert)
            import urllib.request
            for _ in range(100):
                try:
                    body = urllib.request.urlopen("https://127.0.0.1:%d/healthz" % port,
                                                  context=ctx, timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.05)
            assert body == b"ok\n"
            ws = await websockets.connect("wss://127.0.0.1:%d/ws" % port, ssl=ctx,
                                          subprotocols=["chorus.v1"])
            c = Client(ws)
            await c.send({"type": "hello", "client": "tls"})
            await c.expect("welcome")
            await c.join("secure")
            await c.expect("joined")
            await c.send({"type": "op", "doc": "secure", "version": 0, "seq": 1, "op": ["tls"]})
            assert (await c.expect("ack"))["version"] == 1
            await ws.close()
        finally:
            p.terminate()
            p.wait(10)
        rc = subprocess.run([BIN, "serve", "--port", str(free_port()), "--data", tmp + "/d",
                             "--tls-cert", cert], capture_output=True, text=True)
        assert rc.returncode == 1 and "go together" in rc.stderr


if __name__ == "__main__":
    run(globals())
