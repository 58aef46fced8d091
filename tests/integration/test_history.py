"""History and export (issue 8) against the real binary: the history and
sessions routes, every export format over HTTP and from `chorus export`,
`chorus import` of the json format, restore and fork, and every route's
errors."""
import asyncio
import datetime
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import tempfile

from chorus_test import (BIN, ROOT, Client, OTClient, Server, apply, http, http_get,
                         normalize, random_op, run)

GAP_MS = 5 * 60 * 1000


def chorus(*args, stdin=None, timeout=60):
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True,
                       input=stdin, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def hdr(h, name):
    return {k.lower(): v for k, v in h.items()}.get(name.lower(), "")


def get_json(url):
    st, h, body = http_get(url)
    return st, json.loads(body) if body else None


def post(url, obj):
    st, h, body = http("POST", url, body=obj, headers={"Content-Type": "application/json"})
    return st, json.loads(body) if body else None


def text_at(s, doc, version=None):
    url = s.url + "/api/docs/%s/text" % doc + ("" if version is None else "?version=%d" % version)
    st, h, body = http_get(url)
    assert st == 200, (st, body)
    return body.decode("utf-8")


def history(s, doc):
    """Every op of 'doc' through the paged history route."""
    ops, after = [], 0
    while True:
        st, page = get_json(s.url + "/api/docs/%s/history?after=%d&limit=7" % (doc, after))
        assert st == 200, page
        ops += page["ops"]
        if page["next"] is None:
            return ops
        after = page["next"]


def make_history(doc, users, n, seed=1, start_ms=1_700_000_000_000, alphabet=None):
    """A generated json export: n ops by 'users' in turns of a few ops, with
    idle gaps now and then; returns (json object, texts by version)."""
    rng = random.Random(seed)
    text, texts, ops, t = "", [""], [], start_ms
    chars = alphabet or ["a", "b", " ", "\n", "한", "👋", "e\u0301", "<", "&"]
    user, clients = users[0], {u: "c%d" % i for i, u in enumerate(users)}
    seqs = {}
    for v in range(1, n + 1):
        if rng.random() < 0.15:
            user = rng.choice(users)
        t += rng.choice([300, 1500, 4000]) if rng.random() > 0.05 else GAP_MS + 1000
        op = random_op(rng, text) if text else ["".join(rng.choice(chars) for _ in range(3))]
        if alphabet:
            op = [c if not isinstance(c, str) else "".join(rng.choice(chars) for _ in c) for c in op]
        text = apply(text, op)
        texts.append(text)
        seqs[user] = seqs.get(user, 0) + 1
        ops.append({"version": v, "user": user, "client": clients[user],
                    "seq": seqs[user], "time": t, "op": op})
    obj = {"format": "chorus-history", "format_version": 1,
           "doc": {"id": doc, "title": "Generated " + doc, "creator": users[0],
                   "created": start_ms, "version": n},
           "ops": ops, "text": text}
    return obj, texts


def import_obj(s, obj, *extra):
    fd, path = tempfile.mkstemp(suffix=".json", dir=s.tmp)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    return chorus("import", path, "--data", s.data, *extra)


def sessions_of(ops):
    """The edit sessions as the server groups them."""
    out = []
    for o in ops:
        if out and out[-1]["user"] == o["user"] and o["time"] - out[-1]["end"] <= GAP_MS:
            cur = out[-1]
            cur["to"], cur["end"] = o["version"], o["time"]
        else:
            out.append({"user": o["user"], "from": o["version"] - 1, "to": o["version"],
                        "start": o["time"], "end": o["time"]})
    return out


def git_name(name):
    out = re.sub(r"[\x00-\x20\x7f<>]+", " ", name).strip(" ")
    return out or "anonymous"


def git_email(name):
    out = ""
    for c in name:
        if "A" <= c <= "Z":
            out += c.lower()
        elif ("a" <= c <= "z") or ("0" <= c <= "9") or c in ".-_":
            out += c
        elif c == " " and out and out[-1] != "-":
            out += "-"
    out = out.rstrip("-.").lstrip("-.")
    return (out or "user") + "@chorus.invalid"


def git(repo, *args):
    p = subprocess.run(["git", "-C", repo] + list(args), capture_output=True, check=True)
    return p.stdout


def fast_import(stream):
    repo = tempfile.mkdtemp(prefix="chorus-git-")
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    p = subprocess.run(["git", "-C", repo, "fast-import", "--quiet"], input=stream,
                       capture_output=True)
    assert p.returncode == 0, p.stderr
    return repo


# ---- json export and import -------------------------------------------------

async def edit_as(s, doc, name, n, rng):
    c = await Client.connect(s, name=name)
    await c.join(doc)
    m = await c.expect("joined")
    ot = OTClient(c, doc, m["text"], m["version"])
    for _ in range(n):
        await ot.edit(random_op(rng, ot.text))
        while not ot.synced:
            await ot.handle(await c.recv())
    await c.close()


async def test_json_export_then_import_gives_the_same_text_at_every_version():
    rng = random.Random(7)
    with Server() as s:
        for name in ("Ann", "Bob", "Ann", "Zoë 👋"):
            await edit_as(s, "live", name, 12, rng)
        st, h, body = http_get(s.url + "/api/docs/live/export?format=json")
        assert st == 200 and hdr(h, "Content-Type") == "application/json", (st, h)
        assert 'filename="live.json"' in hdr(h, "Content-Disposition"), h
        exp = json.loads(body)
        assert exp["format"] == "chorus-history" and exp["doc"]["version"] == 48
        rc, out, err = chorus("export", "live", "--format", "json", "--data", s.data)
        assert rc == 0, err
        assert json.loads(out)["ops"] == exp["ops"]
        path = os.path.join(s.tmp, "live.json")
        with open(path, "wb") as f:
            f.write(body)
        rc, out, err = chorus("import", path, "--as", "copy", "--data", s.data)
        assert rc == 0 and b"imported copy: 48 ops" in out, (rc, out, err)
        for v in range(49):
            assert text_at(s, "copy", v) == text_at(s, "live", v), v
        a, b = history(s, "live"), history(s, "copy")
        assert a == b and [o["version"] for o in a] == list(range(1, 49))
        assert {o["user"] for o in a} == {"Ann", "Bob", "Zoë 👋"}
        # the imported document is a live one: it takes edits
        await edit_as(s, "copy", "Cy", 3, rng)
        assert len(history(s, "copy")) == 51


def test_import_refuses_to_overwrite_and_validates_everything():
    with Server() as s:
        obj, texts = make_history("imp", ["Ann", "Bob"], 30)
        rc, out, err = import_obj(s, obj)
        assert rc == 0, err
        rc, out, err = import_obj(s, obj)
        assert rc == 1 and "exists" in err and len(err.strip().splitlines()) == 1, err
        bad = []
        o = json.loads(json.dumps(obj)); o["ops"][5]["version"] = 9; bad.append(("gap", o))
        o = json.loads(json.dumps(obj)); o["ops"][3]["op"] = [10 ** 6, "x"]; bad.append(("does not apply", o))
        o = json.loads(json.dumps(obj)); o["ops"][3]["op"] = [0, "x"]; bad.append(("bad op", o))
        o = json.loads(json.dumps(obj)); o["text"] += "!"; bad.append(("text", o))
        o = json.loads(json.dumps(obj)); o["ops"][4]["seq"] = o["ops"][2]["seq"]
        o["ops"][4]["client"] = o["ops"][2]["client"]; bad.append(("seq", o))
        o = json.loads(json.dumps(obj)); o["format"] = "other"; bad.append(("format", o))
        o = json.loads(json.dumps(obj)); o["doc"]["version"] = 29; bad.append(("version", o))
        o = json.loads(json.dumps(obj)); o["ops"][1]["client"] = "bad client"; bad.append(("client", o))
        o = json.loads(json.dumps(obj)); o["ops"][1]["time"] = -5; bad.append(("time", o))
        o = json.loads(json.dumps(obj)); o["ops"][1]["user"] = "x" * 65; bad.append(("user", o))
        # the API's title check, the same one: no control characters
        o = json.loads(json.dumps(obj)); o["doc"]["title"] = "a\nb"; bad.append(("title", o))
        o = json.loads(json.dumps(obj)); o["doc"]["title"] = "t" * 201; bad.append(("title", o))
        for i, (why, o) in enumerate(bad):
            rc, out, err = import_obj(s, o, "--as", "bad%d" % i)
            assert rc == 1 and err.startswith("chorus import: "), (why, rc, err)
            if why == "title":
                assert "title must" in err, err
            assert http_get(s.url + "/api/docs/bad%d" % i)[0] == 404, why
        o = json.loads(json.dumps(obj)); o["doc"]["id"] = ".hidden"
        rc, out, err = import_obj(s, o)
        assert rc == 1 and "bad document id" in err, err
        path = os.path.join(s.tmp, "broken.json")
        with open(path, "w") as f:
            f.write('{"format": "chorus-history", ')
        rc, out, err = chorus("import", path, "--as", "broken", "--data", s.data)
        assert rc == 1 and "bad JSON" in err, err
        good = json.dumps(obj)
        raw_cases = ["", "[]", "{", "{}", good + " x", good[:-1] + ',"ops":[]}',
                     good[:-1] + ',"doc":{}}', good.replace('"ops": [', '"ops": {', 1),
                     good.replace('"ops": [', '"ops": [1, ', 1), '{"ops": [] "doc": 1}',
                     '{1: 2}', good.replace('"format": "chorus-history"', '"format": 7'),
                     good.replace('"format_version": 1', '"format_version": 2'),
                     good.replace('"ops": [', '"ops": [{"version": 1, "version": 1}, ', 1)]
        for i, raw in enumerate(raw_cases):
            rc, out, err = chorus("import", "-", "--as", "raw%d" % i, "--data", s.data,
                                  stdin=raw.encode())
            assert rc == 1 and err.startswith("chorus import: -: "), (i, raw[:80], rc, err)
            assert len(err.strip().splitlines()) == 1, err
            assert http_get(s.url + "/api/docs/raw%d" % i)[0] == 404, i
        rc, out, err = chorus("import", os.path.join(s.tmp, "missing.json"), "--data", s.data)
        assert rc == 1 and "cannot read" in err, err
        rc, out, err = chorus("import", "-", "--as", "stdin", "--data", s.data,
                              stdin=json.dumps(obj).encode())
        assert rc == 0, err
        assert text_at(s, "stdin") == texts[-1]
        rc, out, err = chorus("check", "--data", s.data)
        assert rc == 0, out
        rc, _, err = chorus("import", "--data", s.data)
        assert rc == 2


# ---- git --------------------------------------------------------------------

def test_git_export_has_one_commit_per_session_with_authors_dates_and_text():
    users = ["Ann Lee", "bob <b@x>", "Zoë\n\tMüller", "", "  ", "Robert'); DROP"]
    obj, texts = make_history("gitdoc", users, 300, seed=3)
    with Server() as s:
        rc, out, err = import_obj(s, obj)
        assert rc == 0, err
        rc, stream, err = chorus("export", "gitdoc", "--format", "git", "--data", s.data)
        assert rc == 0, err
        st, h, body = http_get(s.url + "/api/docs/gitdoc/export?format=git")
        assert st == 200 and body == stream, st
        assert 'filename="gitdoc.fast-import"' in hdr(h, "Content-Disposition")
        repo = fast_import(stream)
        try:
            want = sessions_of(obj["ops"])
            log = git(repo, "log", "--reverse", "--format=%H%x00%an%x00%ae%x00%at%x00%ct",
                      "main").decode().splitlines()
            assert len(log) == len(want) > 10, (len(log), len(want))
            for line, sess in zip(log, want):
                sha, an, ae, at, ct = line.split("\0")
                assert an == git_name(sess["user"]) and ae == git_email(sess["user"]), (an, ae, sess)
                assert int(at) == sess["start"] // 1000 and int(ct) == sess["end"] // 1000
                blob = git(repo, "show", "%s:gitdoc.txt" % sha)
                assert blob == texts[sess["to"]].encode(), sess
            git(repo, "checkout", "-q", "main")
            with open(os.path.join(repo, "gitdoc.txt"), "rb") as f:
                assert f.read() == text_at(s, "gitdoc").encode()
            # at a version: the history up to it
            rc, part, err = chorus("export", "gitdoc", "--format", "git", "--version", 150,
                                   "--data", s.data)
            repo2 = fast_import(part)
            assert git(repo2, "show", "main:gitdoc.txt") == texts[150].encode()
            shutil.rmtree(repo2)
        finally:
            shutil.rmtree(repo)


# every code point class a user can type. U+0000 is refused by chorus.v1
# (the server's JSON parser), so it comes in through chorus import: storage,
# every export and import carry it (html shows U+FFFD).
NASTY = ("\x01\x07\x08\t\x0b\x0c\r\n\x1b[31m\x7f\x80\x9f \u00a0\u00ad\u200b\u200d"
         "\u2028\u2029\u202e\ufeff\ufffd\uffff\U0001f600\U0010ffff e\u0301 한글 "
         "data 3\nM 100644 inline x\ncommit refs/heads/main\n\"\\'<>&`${}")


async def test_any_text_a_user_can_type_survives_every_export():
    with Server() as s:
        c = await Client.connect(s, name="<evil>\nname\x1b")
        await c.join("nasty")
        m = await c.expect("joined")
        ot = OTClient(c, "nasty", m["text"], m["version"])
        await ot.edit([NASTY])
        await ot.edit([5, NASTY[::-1], -3])  # canonical: insert before delete
        while not ot.synced:
            await ot.handle(await c.recv())
        want = ot.text
        assert text_at(s, "nasty") == want
        for fmt in ("txt", "md"):
            st, h, body = http_get(s.url + "/api/docs/nasty/export?format=" + fmt)
            assert st == 200 and body == want.encode(), fmt
        rc, out, err = chorus("export", "nasty", "--data", s.data)
        assert rc == 0 and out == want.encode()
        st, h, body = http_get(s.url + "/api/docs/nasty/export?format=json")
        exp = json.loads(body)
        assert exp["text"] == want and exp["ops"][0]["user"] == "<evil>\nname\x1b"
        path = os.path.join(s.tmp, "n.json")
        with open(path, "wb") as f:
            f.write(body)
        rc, out, err = chorus("import", path, "--as", "nasty2", "--data", s.data)
        assert rc == 0, err
        assert text_at(s, "nasty2") == want and text_at(s, "nasty2", 1) == text_at(s, "nasty", 1)
        st, h, stream = http_get(s.url + "/api/docs/nasty/export?format=git")
        repo = fast_import(stream)
        try:
            assert git(repo, "show", "main:nasty.txt") == want.encode()
            an = git(repo, "log", "-1", "--format=%an", "main").decode().strip()
            assert an == "evil name", an
        finally:
            shutil.rmtree(repo)
        st, h, body = http_get(s.url + "/api/docs/nasty/export?format=html")
        html = body.decode()
        assert "<evil>" not in html and "\x1b" not in html and "&lt;" in html
        # U+0000 and the rest, through import
        nul = "\x00" + NASTY + "\x00"
        obj = {"format": "chorus-history", "format_version": 1,
               "doc": {"id": "nul", "title": "t", "creator": "", "created": 0, "version": 2},
               "ops": [{"version": 1, "user": "<x>\n", "client": "c", "seq": 1,
                        "time": 5000, "op": [nul]},
                       {"version": 2, "user": "y", "client": "c", "seq": 2,
                        "time": 6000, "op": [1, -1, "\x00\x00"]}],
               "text": "\x00\x00\x00" + nul[2:]}
        rc, out, err = import_obj(s, obj)
        assert rc == 0, err
        want = obj["text"]
        assert text_at(s, "nul") == want
        for fmt in ("txt", "md"):
            assert http_get(s.url + "/api/docs/nul/export?format=" + fmt)[2] == want.encode()
        exp = json.loads(http_get(s.url + "/api/docs/nul/export?format=json")[2])
        assert exp["text"] == want and exp["ops"][0]["op"] == [nul]
        st, h, stream = http_get(s.url + "/api/docs/nul/export?format=git")
        repo = fast_import(stream)
        try:
            assert git(repo, "show", "main:nul.txt") == want.encode()
            assert git(repo, "show", "main~1:nul.txt") == nul.encode()
        finally:
            shutil.rmtree(repo)
        html = http_get(s.url + "/api/docs/nul/export?format=html")[2].decode()
        assert "\x00" not in html and "\ufffd" in html


# ---- a real trace -----------------------------------------------------------

def trace_json(name, doc):
    with gzip.open(os.path.join(ROOT, "tests", "data", "traces", name + ".json.gz")) as f:
        trace = json.load(f)
    ops, text, texts = [], "", [""]
    for txn in trace["txns"]:
        t = int(datetime.datetime.fromisoformat(txn["time"].replace("Z", "+00:00"))
                .timestamp() * 1000)
        for pos, dl, ins in txn["patches"]:
            op = normalize([pos, -dl if dl else 0, ins])
            text = text[:pos] + ins + text[pos + dl:]
            texts.append(text)
            ops.append({"version": len(ops) + 1, "user": "svelte", "client": "trace",
                        "seq": len(ops) + 1, "time": max(t, 0), "op": op})
    assert text == trace["endContent"]
    obj = {"format": "chorus-history", "format_version": 1,
           "doc": {"id": doc, "title": name, "creator": "", "created": 0,
                   "version": len(ops)}, "ops": ops}
    return obj, texts


def test_text_at_every_1000th_version_of_a_replayed_trace_equals_the_replay():
    obj, texts = trace_json("sveltecomponent", "svelte")
    with Server() as s:
        rc, out, err = import_obj(s, obj)
        assert rc == 0, err
        n = len(texts) - 1
        for v in list(range(0, n + 1, 1000)) + [n]:
            assert text_at(s, "svelte", v) == texts[v], v
            st, h, body = http_get(s.url + "/api/docs/svelte/export?format=txt&version=%d" % v)
            assert st == 200 and body == texts[v].encode(), v
            assert 'filename="svelte-v%d.txt"' % v in hdr(h, "Content-Disposition")
        st, h, body = http_get(s.url + "/api/docs/svelte/export?format=json")
        exp = json.loads(body)
        assert len(exp["ops"]) == n and exp["text"] == texts[-1]
        st, h, stream = http_get(s.url + "/api/docs/svelte/export?format=git")
        repo = fast_import(stream)
        try:
            assert git(repo, "show", "main:svelte.txt") == texts[-1].encode()
        finally:
            shutil.rmtree(repo)


# ---- history and sessions routes ---------------------------------------------

def test_history_pages_and_sessions_group_by_user_and_idle_gap():
    obj, texts = make_history("h", ["Ann", "Bob", "Cy"], 120, seed=5)
    with Server() as s:
        assert import_obj(s, obj)[0] == 0
        st, page = get_json(s.url + "/api/docs/h/history")
        assert st == 200 and len(page["ops"]) == 100 and page["next"] == 100
        assert page["version"] == 120
        o = page["ops"][0]
        want = obj["ops"][0]
        assert {k: o[k] for k in ("version", "user", "client", "seq", "time", "op")} == want
        assert o["added"] == len(want["op"][0]) and o["removed"] == 0
        ops = history(s, "h")
        assert [x["op"] for x in ops] == [x["op"] for x in obj["ops"]]
        st, page = get_json(s.url + "/api/docs/h/history?after=120")
        assert st == 200 and page["ops"] == [] and page["next"] is None
        st, page = get_json(s.url + "/api/docs/h/history?after=118&limit=1000")
        assert [x["version"] for x in page["ops"]] == [119, 120]
        want = sessions_of(obj["ops"])
        got, after = [], 0
        while True:
            st, page = get_json(s.url + "/api/docs/h/sessions?limit=3&after=%d" % after)
            assert st == 200 and page["gap_ms"] == GAP_MS
            got += page["sessions"]
            if page["next"] is None:
                break
            after = page["next"]
        assert [(g["user"], g["from"], g["to"], g["start"], g["end"]) for g in got] == \
            [(w["user"], w["from"], w["to"], w["start"], w["end"]) for w in want]
        desc, before = [], None
        while True:
            q = "&before=%d" % before if before is not None else ""
            st, page = get_json(s.url + "/api/docs/h/sessions?order=desc&limit=4" + q)
            assert st == 200, page
            desc += page["sessions"]
            if page["next"] is None:
                break
            before = page["next"]
        assert desc[::-1] == got
        st, page = get_json(s.url + "/api/docs/h/sessions?order=desc&before=121")
        assert st == 404 and page["error"] == "no_version"
        st, page = get_json(s.url + "/api/docs/h/sessions?order=sideways")
        assert st == 400
        for g in got:
            ops_in = obj["ops"][g["from"]:g["to"]]
            assert g["ops"] == len(ops_in)
            assert g["added"] - g["removed"] == len(texts[g["to"]]) - len(texts[g["from"]])


# ---- restore and fork -------------------------------------------------------

async def test_restore_and_fork_leave_the_original_history_untouched():
    obj, texts = make_history("rf", ["Ann", "Bob"], 60, seed=9)
    with Server() as s:
        assert import_obj(s, obj)[0] == 0
        before = history(s, "rf")
        st, r = post(s.url + "/api/docs/rf/restore", {"version": 20, "user": "Ann"})
        assert st == 200 and r == {"doc": "rf", "version": 61, "restored": 20,
                                   "changed": True}, (st, r)
        assert text_at(s, "rf") == texts[20]
        after = history(s, "rf")
        assert after[:60] == before and len(after) == 61
        assert after[60]["user"] == "Ann" and after[60]["client"] == "@server"
        # restoring the text it already has changes nothing
        st, r = post(s.url + "/api/docs/rf/restore", {"version": 61})
        assert st == 200 and r["changed"] is False and r["version"] == 61
        st, r = post(s.url + "/api/docs/rf/fork", {"version": 35, "id": "rf2", "title": "Copy"})
        assert st == 201 and r["id"] == "rf2" and r["title"] == "Copy", r
        assert r["forked_from"] == {"doc": "rf", "version": 35} and r["version"] == 1
        assert text_at(s, "rf2") == texts[35]
        assert history(s, "rf") == after
        st, r = post(s.url + "/api/docs/rf/fork", {"version": 35, "id": "rf2"})
        assert st == 409 and r["error"] == "exists"
        st, r = post(s.url + "/api/docs/rf/fork", {})
        assert st == 201 and re.fullmatch(r"[a-z0-9]{12}", r["id"]), r
        assert text_at(s, r["id"]) == texts[20] and "fork of version 61" in r["title"]
        st, r = post(s.url + "/api/docs/rf/fork", {"version": 0, "id": "empty"})
        assert st == 201 and r["version"] == 0 and text_at(s, "empty") == ""
        # the fork is a document like any other: it can be edited live
        await edit_as(s, "rf2", "Dee", 3, random.Random(1))
        assert len(history(s, "rf2")) == 4 and history(s, "rf") == after


async def test_restore_reaches_a_connected_client_live():
    rng = random.Random(11)
    with Server() as s:
        await edit_as(s, "live", "Ann", 15, rng)
        old = text_at(s, "live", 4)
        c = await Client.connect(s, name="Watcher")
        await c.join("live")
        m = await c.expect("joined")
        ot = OTClient(c, "live", m["text"], m["version"])
        await ot.edit(["typing "])  # an op of its own in flight
        st, r = post(s.url + "/api/docs/live/restore", {"version": 4})
        assert st == 200 and r["changed"], r
        while not (ot.synced and ot.version >= r["version"]):
            msg = await c.recv()
            if msg.get("type") == "op":
                assert msg["user"]["name"] == "restore"
            await ot.handle(msg)
        assert ot.text == text_at(s, "live")
        # the concurrent edit is kept, the rest is version 4's text
        assert ot.text.replace("typing ", "", 1) == old or ot.text == old, (ot.text, old)


# ---- html -------------------------------------------------------------------

def test_html_export_renders_markdown_and_lets_nothing_run():
    md = ("# Title <b>\n\nSome *em* and **strong** and `code <x>` and "
          "[ok](https://example.com/?a=1&b=2) [bad](javascript:alert(1)) "
          "[bad2](JaVaScRiPt:alert(1)) [rel](notes.html#x)\n\n"
          "<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n\n"
          "- one\n- two\n  - nested\n\n1. first\n2. second\n\n"
          "> quoted *text*\n\n```\nfenced <code>\n```\n\n    indented\n\n---\n"
          "\"quotes\" & 'apostrophes' " + "*" * 5000 + "[" * 3000 + "`" * 2000 + "\n")
    obj = {"format": "chorus-history", "format_version": 1,
           "doc": {"id": "page", "title": "<title>&", "creator": "", "created": 0,
                   "version": 1},
           "ops": [{"version": 1, "user": "a", "client": "c", "seq": 1, "time": 0,
                    "op": [md]}]}
    with Server() as s:
        assert import_obj(s, obj)[0] == 0
        st, h, body = http_get(s.url + "/api/docs/page/export?format=html", timeout=10)
        assert st == 200 and hdr(h, "Content-Type").startswith("text/html"), h
        html = body.decode()
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        assert "<title>&lt;title&gt;&amp;</title>" in html
        assert "<script" not in html and "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "href=\"javascript" not in html.lower()
        assert "<h1>Title &lt;b&gt;</h1>" in html
        assert "<em>em</em>" in html and "<strong>strong</strong>" in html
        assert "<code>code &lt;x&gt;</code>" in html
        assert '<a href="https://example.com/?a=1&amp;b=2" rel="nofollow noopener noreferrer">ok</a>' in html
        assert '<a href="notes.html#x"' in html
        assert "<ul>" in html and "<li>one" in html and "<ol>" in html
        assert html.count("<ul>") == 2, html  # the nested list
        assert "<blockquote>" in html and "<em>text</em>" in html
        assert "<pre><code>fenced &lt;code&gt;\n</code></pre>" in html
        assert "<pre><code>indented\n</code></pre>" in html and "<hr />" in html
        # CommonMark's form: <hr />, and ' left as is in text (it is escaped
        # where it could matter, in attribute values)
        assert "&quot;quotes&quot; &amp; 'apostrophes'" in html
        rc, out, err = chorus("export", "page", "--format", "html", "--data", s.data)
        assert rc == 0 and out == body


# ---- errors -----------------------------------------------------------------

def test_every_route_answers_errors_clearly():
    with Server() as s:
        assert import_obj(s, make_history("e", ["Ann"], 10)[0])[0] == 0
        u = s.url + "/api/docs/"
        cases = [
            ("GET", "nope/history", None, 404, "not_found"),
            ("GET", "nope/sessions", None, 404, "not_found"),
            ("GET", "nope/export?format=txt", None, 404, "not_found"),
            ("POST", "nope/restore", {"version": 0}, 404, "not_found"),
            ("POST", "nope/fork", {"version": 0}, 404, "not_found"),
            ("GET", "e/history?after=11", None, 404, "no_version"),
            ("GET", "e/history?after=-1", None, 400, "bad_request"),
            ("GET", "e/history?limit=1001", None, 400, "bad_request"),
            ("GET", "e/history?limit=x", None, 400, "bad_request"),
            ("GET", "e/sessions?after=99", None, 404, "no_version"),
            ("GET", "e/export?format=docx", None, 400, "bad_format"),
            ("GET", "e/export?format=txt&version=11", None, 404, "no_version"),
            ("GET", "e/export?format=git&version=abc", None, 400, "bad_version"),
            ("GET", "e/export?format=json&version=-2", None, 400, "bad_version"),
            ("POST", "e/restore", {"version": 11}, 404, "no_version"),
            ("POST", "e/restore", {"version": -1}, 400, "bad_version"),
            ("POST", "e/restore", {"version": "3"}, 400, "bad_version"),
            ("POST", "e/restore", {}, 400, "bad_version"),
            ("POST", "e/restore", {"version": 1, "user": ""}, 400, "bad_request"),
            ("POST", "e/fork", {"version": 11}, 404, "no_version"),
            ("POST", "e/fork", {"id": "../x"}, 400, "bad_doc_id"),
            ("POST", "e/fork", {"title": 5}, 400, "bad_request"),
            ("POST", "e/fork", [1], 400, "bad_request"),
            ("DELETE", "e/history", None, 405, "method_not_allowed"),
            ("POST", "e/export", {}, 405, "method_not_allowed"),
            ("GET", "e/restore", None, 405, "method_not_allowed"),
            ("GET", "e/fork", None, 405, "method_not_allowed"),
        ]
        for method, path, body, status, code in cases:
            st, h, raw = http(method, u + path, body=body)
            assert st == status, (method, path, st, raw)
            assert json.loads(raw)["error"] == code, (method, path, raw)
        st, h, raw = http("POST", u + "e/restore", body=b"{not json")
        assert st == 400, raw
        assert len(history(s, "e")) == 10  # nothing changed
        rc, out, err = chorus("export", "e", "--format", "docx", "--data", s.data)
        assert rc == 2 and "--format" in err
        rc, out, err = chorus("export", "nope", "--data", s.data)
        assert rc == 1 and "no document" in err
        rc, out, err = chorus("export", "e", "--version", 11, "--data", s.data)
        assert rc == 1 and "no version 11" in err
        out_file = os.path.join(s.tmp, "e.md")
        rc, out, err = chorus("export", "e", "--format", "md", "-o", out_file, "--data", s.data)
        assert rc == 0 and open(out_file, "rb").read() == text_at(s, "e").encode()
        rc, out, err = chorus("export", "e", "--data", os.path.join(s.tmp, "none"))
        assert rc == 1
        for cmd in ("export", "import"):
            rc, out, err = chorus(cmd, "--help")
            assert rc == 0 and b"usage: chorus " + cmd.encode() in out


# ---- team mode ----------------------------------------------------------------

def test_in_team_mode_restore_and_fork_are_authored_by_the_logged_in_user():
    from test_auth import team_server, token_of
    with team_server() as s:
        obj, texts = make_history("t", ["Ann", "Bob"], 20, seed=2)
        assert import_obj(s, obj)[0] == 0
        root = token_of(s, "root")
        auth = {"Authorization": "Bearer " + root, "Content-Type": "application/json"}
        st, h, body = http("POST", s.url + "/api/docs/t/restore",
                           {"version": 5, "user": "mallory"}, headers=auth)
        assert st == 200 and json.loads(body)["version"] == 21, body
        st, h, body = http("POST", s.url + "/api/docs/t/fork",
                           {"id": "t2", "version": 10, "user": "mallory"}, headers=auth)
        r = json.loads(body)
        assert st == 201 and r["creator"] == "root", body
        st, h, body = http_get(s.url + "/api/docs/t/history?after=20", headers=auth)
        assert st == 200 and [o["user"] for o in json.loads(body)["ops"]] == ["root"]
        st, h, body = http_get(s.url + "/api/docs/t2/history", headers=auth)
        assert [o["user"] for o in json.loads(body)["ops"]] == ["root"]
        st, h, body = http_get(s.url + "/api/docs/t2/text", headers=auth)
        assert body.decode() == texts[10]
        assert http_get(s.url + "/api/docs/t/export?format=json")[0] == 401
        assert http_get(s.url + "/api/docs/t/sessions")[0] == 401

if __name__ == "__main__":
    run(globals())
