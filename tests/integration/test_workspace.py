"""Rename, trash, restore and purge (issue 19), against the real binary,
in open and team mode: PATCH /api/docs/D tells every open editor the new
title ("title" message); DELETE /api/docs/D moves D to the trash, out of
every list and route, and leaves its open editors out (doc_trashed);
GET /api/trash, POST /api/trash/D/restore, DELETE /api/trash/D; each route
with each role, a viewer who tries included; the CLI's `chorus doc`; and
--trash-days purging at start."""
import json
import os
import sqlite3
import subprocess
import time

from chorus_test import BIN, Client, Server, http, http_get, run
from test_auth import team_server, token_of


def api(s, method, path, token=None, body=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    st, _, b = http(method, s.url + path, body, headers=headers)
    try:
        return st, json.loads(b) if b else None
    except ValueError:
        return st, b


def ids(s, path="/api/docs", token=None):
    st, body = api(s, "GET", path, token)
    assert st == 200, body
    return [d["id"] for d in body]


async def test_rename_is_seen_by_every_open_editor_and_checks_the_title():
    with Server() as s:
        assert api(s, "POST", "/api/docs", body={"id": "r1", "title": "old"})[0] == 201
        a = await Client.connect(s)
        b = await Client.connect(s)
        for c in (a, b):
            await c.join("r1")
            await c.expect("joined")
        st, body = api(s, "PATCH", "/api/docs/r1", body={"title": "새 제목 ✨"})
        assert st == 200 and body["title"] == "새 제목 ✨", body
        for c in (a, b):
            m = await c.expect("title")
            assert m == {"type": "title", "doc": "r1", "title": "새 제목 ✨"}, m
        assert api(s, "GET", "/api/docs/r1")[1]["title"] == "새 제목 ✨"
        for bad in ({"title": "a\nb"}, {"title": "x" * 201}, {"title": 5}, {}):
            st, body = api(s, "PATCH", "/api/docs/r1", body=bad)
            assert st == 400 and body["error"] == "bad_request", (bad, body)
        assert api(s, "GET", "/api/docs/r1")[1]["title"] == "새 제목 ✨"
        assert api(s, "PATCH", "/api/docs/nope", body={"title": "t"})[0] == 404
        await a.quiet(0.2)


async def test_trash_leaves_editors_out_and_restore_brings_it_back():
    with Server() as s:
        a = await Client.connect(s)
        await a.join("t1")
        await a.expect("joined")
        await a.send({"type": "op", "doc": "t1", "version": 0, "seq": 1, "op": ["hello"]})
        await a.expect("ack")
        st, body = api(s, "DELETE", "/api/docs/t1")
        assert st == 200 and body["id"] == "t1" and body["trashed"] > 0, body
        m = await a.error("doc_trashed")
        assert m["doc"] == "t1"
        # out of the list, every route, and cannot be joined or created
        assert "t1" not in ids(s)
        for path in ("/api/docs/t1", "/api/docs/t1/text", "/api/docs/t1/history"):
            assert api(s, "GET", path)[0] == 404, path
        assert api(s, "DELETE", "/api/docs/t1")[0] == 404
        assert api(s, "PATCH", "/api/docs/t1", body={"title": "x"})[0] == 404
        assert api(s, "POST", "/api/docs", body={"id": "t1"})[0] == 409
        await a.send({"type": "op", "doc": "t1", "version": 1, "seq": 2, "op": ["x"]})
        assert (await a.expect("error"))["code"] == "not_joined"
        b = await Client.connect(s)
        await b.join("t1")
        assert (await b.error("doc_trashed"))["doc"] == "t1"
        trash = api(s, "GET", "/api/trash")[1]
        assert [d["id"] for d in trash] == ["t1"] and trash[0]["version"] == 1
        # restore: same id, history intact, joinable again
        st, body = api(s, "POST", "/api/trash/t1/restore")
        assert st == 200 and body["id"] == "t1" and body["version"] == 1, body
        assert http_get(s.url + "/api/docs/t1/text")[2] == b"hello"
        assert api(s, "GET", "/api/trash")[1] == []
        await b.join("t1")
        j = await b.expect("joined")
        assert j["text"] == "hello" and j["version"] == 1
        assert api(s, "POST", "/api/trash/t1/restore")[0] == 404


def test_purge_removes_everything_and_frees_the_id():
    with Server() as s:
        assert api(s, "POST", "/api/docs", body={"id": "p1", "title": "one"})[0] == 201
        assert api(s, "DELETE", "/api/trash/p1")[0] == 404  # not in the trash
        assert api(s, "DELETE", "/api/docs/p1")[0] == 200
        st, body = api(s, "DELETE", "/api/trash/p1")
        assert st == 200 and body == {"id": "p1", "purged": True}, body
        assert api(s, "GET", "/api/trash")[1] == []
        assert api(s, "DELETE", "/api/trash/p1")[0] == 404
        st, body = api(s, "POST", "/api/docs", body={"id": "p1", "title": "two"})
        assert st == 201 and body["version"] == 0 and body["title"] == "two", body
        assert api(s, "POST", "/api/trash/bad..id/restore")[0] == 404
        assert api(s, "POST", "/api/trash/.x/restore")[0] == 400


def test_team_mode_each_route_with_each_role():
    with team_server() as s:
        tok = {n: token_of(s, n) for n in ("root", "olga", "eddie", "vera", "nina")}
        assert api(s, "POST", "/api/docs", tok["olga"], {"id": "own"})[0] == 201
        for user, role in (("eddie", "editor"), ("vera", "viewer")):
            assert api(s, "PUT", "/api/docs/own/roles", tok["olga"],
                       {"user": user, "role": role})[0] == 200
        # rename: editors and owners; a viewer is refused, a stranger sees nothing
        assert api(s, "PATCH", "/api/docs/own", tok["vera"], {"title": "v"})[0] == 403
        assert api(s, "PATCH", "/api/docs/own", tok["nina"], {"title": "n"})[0] == 404
        assert api(s, "PATCH", "/api/docs/own", None, {"title": "n"})[0] == 401
        assert api(s, "PATCH", "/api/docs/own", tok["eddie"], {"title": "e"})[0] == 200
        assert api(s, "PATCH", "/api/docs/own", tok["olga"], {"title": "o"})[0] == 200
        # trash: owners and admins only
        for who, want in (("vera", 403), ("eddie", 403), ("nina", 404)):
            assert api(s, "DELETE", "/api/docs/own", tok[who])[0] == want, who
        assert api(s, "DELETE", "/api/docs/own", tok["olga"])[0] == 200
        # the trash lists what the caller may restore
        assert ids(s, "/api/trash", tok["olga"]) == ["own"]
        assert ids(s, "/api/trash", tok["root"]) == ["own"]
        for who in ("eddie", "vera", "nina"):
            assert ids(s, "/api/trash", tok[who]) == [], who
            assert "own" not in ids(s, "/api/docs", tok[who])
        assert api(s, "GET", "/api/trash")[0] == 401
        for who, want in (("vera", 403), ("eddie", 403), ("nina", 404)):
            assert api(s, "POST", "/api/trash/own/restore", tok[who])[0] == want, who
            assert api(s, "DELETE", "/api/trash/own", tok[who])[0] == want, who
        assert api(s, "POST", "/api/trash/own/restore", tok["olga"])[0] == 200
        assert api(s, "GET", "/api/docs/own", tok["vera"])[0] == 200  # roles kept
        assert api(s, "DELETE", "/api/docs/own", tok["root"])[0] == 200
        assert api(s, "DELETE", "/api/trash/own", tok["root"])[0] == 200
        assert api(s, "GET", "/api/docs/own", tok["olga"])[0] == 404


async def test_team_mode_editors_are_left_out_and_joins_refused():
    with team_server() as s:
        tok = {n: token_of(s, n) for n in ("olga", "eddie", "nina")}
        assert api(s, "POST", "/api/docs", tok["olga"], {"id": "tw"})[0] == 201
        assert api(s, "PUT", "/api/docs/tw/roles", tok["olga"],
                   {"user": "eddie", "role": "editor"})[0] == 200
        conns = {}
        for who in ("olga", "eddie"):
            c = await Client.connect(s, hello=False)
            await c.send({"type": "hello", "client": "c" + who, "token": tok[who]})
            await c.expect("welcome")
            await c.join("tw")
            await c.expect("joined")
            conns[who] = c
        assert api(s, "PATCH", "/api/docs/tw", tok["eddie"], {"title": "new"})[0] == 200
        for c in conns.values():
            assert (await c.expect("title"))["title"] == "new"
        assert api(s, "DELETE", "/api/docs/tw", tok["olga"])[0] == 200
        for c in conns.values():
            await c.error("doc_trashed")
        # a join again: those with a role are told it is in the trash; a
        # stranger learns no more than "no access"
        await conns["eddie"].join("tw")
        await conns["eddie"].error("doc_trashed")
        n = await Client.connect(s, hello=False)
        await n.send({"type": "hello", "client": "cnina", "token": tok["nina"]})
        await n.expect("welcome")
        await n.join("tw")
        await n.error("forbidden")


def cli(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True)


def test_cli_doc_list_rm_restore_purge():
    with Server() as s:
        assert api(s, "POST", "/api/docs", body={"id": "c1", "title": "Ünïcode"})[0] == 201
        assert api(s, "POST", "/api/docs", body={"id": "c2"})[0] == 201
        data = s.data
        s.stop()
        p = cli("doc", "list", "--data", data)
        assert p.returncode == 0 and "c1" in p.stdout and "Ünïcode" in p.stdout, p
        p = cli("doc", "rm", "c1", "--data", data)
        assert p.returncode == 0, p.stderr
        p = cli("doc", "list", "--data", data)
        assert "c1" not in p.stdout and "c2" in p.stdout, p.stdout
        p = cli("doc", "list", "--trash", "--data", data)
        assert "c1" in p.stdout and "c2" not in p.stdout, p.stdout
        assert cli("doc", "rm", "c1", "--data", data).returncode != 0
        assert cli("doc", "restore", "c1", "--data", data).returncode == 0
        assert cli("doc", "restore", "c1", "--data", data).returncode != 0
        assert cli("doc", "purge", "c2", "--data", data).returncode != 0  # not trashed
        assert cli("doc", "rm", "c2", "--data", data).returncode == 0
        p = cli("doc", "purge", "c2", "--data", data)
        assert p.returncode == 0, p.stderr
        p = cli("doc", "list", "--trash", "--data", data)
        assert "c2" not in p.stdout, p.stdout
        p = cli("doc", "frob", "--data", data)
        assert p.returncode == 2 and "usage" in p.stderr.lower(), p
        s.start()
        assert ids(s) == ["c1"]


def test_trash_days_purges_old_trash_at_start_and_zero_keeps_it():
    with Server() as s:
        for d in ("old", "new"):
            assert api(s, "POST", "/api/docs", body={"id": d})[0] == 201
            assert api(s, "DELETE", "/api/docs/" + d)[0] == 200
        s.stop()
        db = sqlite3.connect(os.path.join(s.data, "chorus.db"))
        long_ago = int(time.time() * 1000) - 31 * 86400 * 1000
        db.execute("UPDATE documents SET trashed_ms = ? WHERE id = 'old'", (long_ago,))
        db.commit()
        db.close()
        s.flags = ["--trash-days", "0"]
        s.start()
        assert sorted(ids(s, "/api/trash")) == ["new", "old"]
        s.stop()
        s.flags = []
        s.start()
        deadline = time.time() + 5
        while ids(s, "/api/trash") != ["new"] and time.time() < deadline:
            time.sleep(0.1)
        assert ids(s, "/api/trash") == ["new"]
        assert api(s, "POST", "/api/docs", body={"id": "old"})[0] == 201


if __name__ == "__main__":
    run(globals())
