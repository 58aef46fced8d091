"""Rights end when they are taken away (issue 15), against the real binary
in team mode: an open WebSocket that had joined loses what a logout, a
`chorus user remove` or `user passwd` run by another process, a role taken
or lowered (over HTTP, or by another process writing the database), a
revoked share link or an expired login took away: within about a second it
is closed (4401) or told (access_revoked, forbidden), its next op is not
acked and changes nothing, and a new join is refused. Also: a guest's name
never passes for an account's (the Low item of the same review)."""
import asyncio
import json
import os
import sqlite3
import subprocess
import time

import websockets

from chorus_test import BIN, Client, Server, http, http_get, run
from test_auth import add_user, call, team_server, token_of

BOUND = 3.0  # seconds: the server promises about one


async def ws_with(s, token, client):
    """A connection that said hello with 'token' (None: a guest)."""
    c = await Client.connect(s, hello=False)
    msg = {"type": "hello", "client": client}
    if token:
        msg["token"] = token
    await c.send(msg)
    c.welcome = await c.expect("welcome")
    return c


async def join(c, doc, share=None):
    msg = {"type": "join", "doc": doc}
    if share:
        msg["share"] = share
    await c.send(msg)
    return await c.expect("joined", skip=("presence", "op"))


async def edit(c, doc, version, seq, text):
    """An op that must be acked; the version it took."""
    await c.send({"type": "op", "doc": doc, "version": version, "seq": seq, "op": [text]})
    return (await c.expect("ack", skip=("presence", "op")))["version"]


async def taken_away(c, doc, code="access_revoked", bound=BOUND):
    """Wait (at most 'bound' s) until the server closes 'c' or sends it the
    error 'code' for 'doc'. Returns ("closed", close code) or ("error",
    message) and the seconds it took."""
    t0 = time.monotonic()
    while True:
        left = bound - (time.monotonic() - t0)
        assert left > 0, "rights still there after %.1f s" % bound
        try:
            m = await c.recv(left)
        except asyncio.TimeoutError:
            raise AssertionError("rights still there after %.1f s" % bound)
        except websockets.ConnectionClosed as e:
            return ("closed", e.rcvd.code if e.rcvd else None), time.monotonic() - t0
        if m.get("type") == "error" and m.get("code") == code and m.get("doc") == doc:
            return ("error", m), time.monotonic() - t0


async def op_not_acked(c, doc, version, seq):
    """Send an op after the rights ended: it is refused (an error, never
    an ack) or cannot be sent at all (closed)."""
    try:
        await c.send({"type": "op", "doc": doc, "version": version, "seq": seq,
                      "op": ["NO"]})
        while True:
            m = await c.recv(1.0)
            assert m.get("type") != "ack", "an op was acked after its rights ended: %r" % m
            if m.get("type") == "error" and m.get("seq") == seq:
                return m["code"]
    except websockets.ConnectionClosed:
        return "closed"


def text_of(s, doc, token):
    st, h, body = http_get(s.url + "/api/docs/%s/text" % doc,
                           headers={"Authorization": "Bearer " + token})
    assert st == 200, (st, body)
    return body.decode()


async def hello_refused(s, token):
    c = await Client.connect(s, hello=False)
    await c.send({"type": "hello", "client": "again", "token": token})
    await c.error("unauthorized")


async def test_logout_closes_the_sockets_of_that_login_only():
    with team_server() as s:
        root = token_of(s, "root")
        tok, other = token_of(s, "olga"), token_of(s, "olga")
        assert call(s, "POST", "/api/docs", tok, {"id": "d"}) == 201
        c = await ws_with(s, tok, "olga-1")
        o = await ws_with(s, other, "olga-2")  # another login of hers
        v = (await join(c, "d"))["version"]
        v = await edit(c, "d", v, 1, "a")
        await join(o, "d")
        assert call(s, "POST", "/api/logout", tok) == 200
        how, secs = await taken_away(c, "d")
        assert how == ("closed", 4401), how
        assert await op_not_acked(c, "d", v, 2) == "closed"
        assert text_of(s, "d", root) == "a"
        await hello_refused(s, tok)
        # her other login keeps working
        assert await edit(o, "d", v, 1, "b") == v + 1


async def test_cli_user_remove_closes_every_socket_of_the_user():
    with team_server() as s:
        root = token_of(s, "root")
        tok = token_of(s, "eddie")
        p = subprocess.run([BIN, "token", "create", "--user", "eddie", "--data", s.data],
                           capture_output=True, text=True)
        bot_tok = p.stdout.strip()
        assert call(s, "POST", "/api/docs", root, {"id": "d"}) == 201
        assert call(s, "PUT", "/api/docs/d/roles", root,
                    {"user": "eddie", "role": "editor"}) == 200
        c = await ws_with(s, tok, "eddie-web")
        bot = await ws_with(s, bot_tok, "eddie-bot")
        r = await ws_with(s, root, "root-1")
        v = (await join(c, "d"))["version"]
        await join(bot, "d")
        await join(r, "d")
        v = await edit(c, "d", v, 1, "e")
        p = subprocess.run([BIN, "user", "remove", "eddie", "--data", s.data],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        for x in (c, bot):
            how, secs = await taken_away(x, "d")
            assert how == ("closed", 4401), how
        assert await op_not_acked(c, "d", v, 2) == "closed"
        assert await op_not_acked(bot, "d", v, 1) == "closed"
        assert text_of(s, "d", root) == "e"
        await hello_refused(s, tok)
        await hello_refused(s, bot_tok)
        assert await edit(r, "d", v, 1, "r") == v + 1  # others are untouched


async def test_cli_user_passwd_closes_the_sockets_of_its_sessions():
    with team_server() as s:
        root = token_of(s, "root")
        tok = token_of(s, "vera")
        assert call(s, "POST", "/api/docs", tok, {"id": "d"}) == 201
        c = await ws_with(s, tok, "vera-1")
        v = (await join(c, "d"))["version"]
        v = await edit(c, "d", v, 1, "v")
        p = subprocess.run([BIN, "user", "passwd", "vera", "--data", s.data],
                           input="vera-new-password\n", capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        how, secs = await taken_away(c, "d")
        assert how == ("closed", 4401), how
        assert await op_not_acked(c, "d", v, 2) == "closed"
        assert text_of(s, "d", root) == "v"
        await hello_refused(s, tok)


async def test_role_taken_away_over_http_takes_the_document_away():
    with team_server() as s:
        olga, eddie = token_of(s, "olga"), token_of(s, "eddie")
        assert call(s, "POST", "/api/docs", olga, {"id": "d"}) == 201
        assert call(s, "PUT", "/api/docs/d/roles", olga,
                    {"user": "eddie", "role": "editor"}) == 200
        c = await ws_with(s, eddie, "eddie-1")
        v = (await join(c, "d"))["version"]
        v = await edit(c, "d", v, 1, "e")
        await join(c, "other-doc-of-his")  # his own: stays joined
        assert call(s, "PUT", "/api/docs/d/roles", olga,
                    {"user": "eddie", "role": "none"}) == 200
        how, secs = await taken_away(c, "d")
        assert how[0] == "error", how
        assert await op_not_acked(c, "d", v, 2) == "not_joined"
        assert text_of(s, "d", olga) == "e"
        await c.join("d")
        await c.error("forbidden")
        assert await edit(c, "other-doc-of-his", 0, 1, "mine") == 1


async def test_role_lowered_to_viewer_keeps_reading_but_refuses_ops():
    with team_server() as s:
        olga, eddie = token_of(s, "olga"), token_of(s, "eddie")
        assert call(s, "POST", "/api/docs", olga, {"id": "d"}) == 201
        assert call(s, "PUT", "/api/docs/d/roles", olga,
                    {"user": "eddie", "role": "editor"}) == 200
        c = await ws_with(s, eddie, "eddie-1")
        o = await ws_with(s, olga, "olga-1")
        v = (await join(c, "d"))["version"]
        await join(o, "d")
        v = await edit(c, "d", v, 1, "e")
        assert call(s, "PUT", "/api/docs/d/roles", olga,
                    {"user": "eddie", "role": "viewer"}) == 200
        how, secs = await taken_away(c, "d", code="forbidden")
        assert how[0] == "error", how
        assert await op_not_acked(c, "d", v, 2) == "forbidden"
        assert text_of(s, "d", olga) == "e"
        # still reading: olga's op reaches him
        await o.send({"type": "op", "doc": "d", "version": v, "seq": 1, "op": ["o"]})
        m = await c.expect("op")
        assert m["op"] == ["o"] and m["user"]["name"] == "olga"
        # joining again gives what he has now: reading only
        c2 = await ws_with(s, eddie, "eddie-2")
        v = (await join(c2, "d"))["version"]
        await c2.send({"type": "op", "doc": "d", "version": v, "seq": 1, "op": ["x"]})
        await c2.error("forbidden")
        assert text_of(s, "d", olga) == "oe"


async def test_role_taken_away_by_another_process_is_noticed():
    """Any writer of the database (here sqlite3 itself) moves the auth
    generation, which the server polls once a second."""
    with team_server() as s:
        olga, eddie = token_of(s, "olga"), token_of(s, "eddie")
        assert call(s, "POST", "/api/docs", olga, {"id": "d"}) == 201
        assert call(s, "PUT", "/api/docs/d/roles", olga,
                    {"user": "eddie", "role": "editor"}) == 200
        c = await ws_with(s, eddie, "eddie-1")
        v = (await join(c, "d"))["version"]
        v = await edit(c, "d", v, 1, "e")
        con = sqlite3.connect(os.path.join(s.data, "chorus.db"))
        con.execute("DELETE FROM roles WHERE user_id = (SELECT id FROM users"
                    " WHERE name = 'eddie')")
        con.commit()
        con.close()
        how, secs = await taken_away(c, "d")
        assert how[0] == "error", how
        assert await op_not_acked(c, "d", v, 2) == "not_joined"
        assert text_of(s, "d", olga) == "e"
        await c.join("d")
        await c.error("forbidden")


async def test_revoked_share_link_takes_the_document_from_its_guests():
    with team_server() as s:
        olga = token_of(s, "olga")
        assert call(s, "POST", "/api/docs", olga, {"id": "d"}) == 201
        st, h, b = http("POST", s.url + "/api/docs/d/share", {"role": "editor"},
                        headers={"Authorization": "Bearer " + olga})
        share = json.loads(b)["token"]
        g = await ws_with(s, None, "guest-1")
        v = (await join(g, "d", share))["version"]
        v = await edit(g, "d", v, 1, "g")
        assert call(s, "POST", "/api/docs/d/share/revoke", olga) == 200
        how, secs = await taken_away(g, "d")
        assert how[0] == "error", how
        assert await op_not_acked(g, "d", v, 2) == "not_joined"
        assert text_of(s, "d", olga) == "g"
        await g.send({"type": "join", "doc": "d", "share": share})
        await g.error("unauthorized")


async def test_an_expired_login_closes_its_socket():
    with team_server() as s:
        root = token_of(s, "root")
        tok = token_of(s, "nina")
        assert call(s, "POST", "/api/docs", tok, {"id": "d"}) == 201
        con = sqlite3.connect(os.path.join(s.data, "chorus.db"))
        con.execute("UPDATE tokens SET expires_ms = ? WHERE user_id = (SELECT id"
                    " FROM users WHERE name = 'nina')", (int(time.time() * 1000) + 1500,))
        con.commit()
        con.close()
        c = await ws_with(s, tok, "nina-1")
        v = (await join(c, "d"))["version"]
        v = await edit(c, "d", v, 1, "n")
        how, secs = await taken_away(c, "d", bound=BOUND + 1.5)
        assert how == ("closed", 4401), how
        assert await op_not_acked(c, "d", v, 2) == "closed"
        assert text_of(s, "d", root) == "n"
        await hello_refused(s, tok)


async def test_guest_names_never_pass_for_accounts():
    with team_server() as s:
        olga = token_of(s, "olga")
        assert call(s, "POST", "/api/docs", olga, {"id": "d"}) == 201
        st, h, b = http("POST", s.url + "/api/docs/d/share", {"role": "editor"},
                        headers={"Authorization": "Bearer " + olga})
        share = json.loads(b)["token"]
        o = await ws_with(s, olga, "olga-1")
        await join(o, "d")
        g = await Client.connect(s, hello=False)
        await g.send({"type": "hello", "client": "g1", "name": "olga"})
        w = await g.expect("welcome")
        assert w["user"]["name"] == "olga (guest)", w
        v = (await join(g, "d", share))["version"]
        await edit(g, "d", v, 1, "x")
        m = await o.expect("op")
        assert m["user"]["name"] == "olga (guest)", m
        # a long name is cut so the mark always fits in 64 bytes
        g2 = await Client.connect(s, hello=False)
        await g2.send({"type": "hello", "client": "g2", "name": "é" * 32})
        name = (await g2.expect("welcome"))["user"]["name"]
        assert name.endswith(" (guest)") and len(name.encode()) <= 64, name
        g3 = await Client.connect(s, hello=False)
        await g3.send({"type": "hello", "client": "g3xyz"})
        assert (await g3.expect("welcome"))["user"]["name"] == "guest-g3xy (guest)"
        # a restore by the link's guest is recorded as a guest's too
        st, h, b = http("POST", s.url + "/api/docs/d/restore?share=" + share,
                        {"version": 0, "user": "olga"})
        assert st == 200, b
        st, h, b = http_get(s.url + "/api/docs/d/history",
                            headers={"Authorization": "Bearer " + olga})
        users = [op["user"] for op in json.loads(b)["ops"]]
        assert users == ["olga (guest)", "olga (guest)"], users
        # and no account may be named like a guest
        p = subprocess.run([BIN, "user", "add", "mallory (guest)", "--data", s.data],
                           input="mallory-password\n", capture_output=True, text=True)
        assert p.returncode == 2 and "guest" in p.stderr, p


async def test_open_mode_has_nothing_to_revoke_and_names_stay_as_given():
    with Server() as s:
        c = await Client.connect(s, name="alice")
        assert c.welcome["user"]["name"] == "alice"
        assert c.welcome["mode"] == "open"
        v = (await join(c, "d"))["version"]
        assert await edit(c, "d", v, 1, "a") == v + 1
        await asyncio.sleep(1.5)  # a rights tick or more: nothing happens
        assert await edit(c, "d", v + 1, 2, "b") == v + 2
        st, h, b = http_get(s.url + "/api/docs/d/history")
        assert [op["user"] for op in json.loads(b)["ops"]] == ["alice", "alice"]


if __name__ == "__main__":
    run(globals())
