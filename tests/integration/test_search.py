"""Full-text search (issue 19), against the real binary: GET /api/search
finds titles and current texts in every script (Hangul two-syllable words
inside longer ones, kana, Han, emoji, combining marks, Latin in any case),
with snippets whose match positions are code points of their text; never a
document the caller cannot read nor one in the trash; the index follows
edits, renames, restores and purges, survives kill -9 (caught up at start)
and is rebuilt by `chorus check --reindex`."""
import asyncio
import json
import subprocess
import time
import urllib.parse

from chorus_test import BIN, Client, Server, http, run
from test_auth import team_server, token_of

WAIT = 8.0  # seconds: quiet 1.5 s, then the next indexer pass (1 s)

TEXTS = {
    "ko": "다음 주 배포일정을 정리합니다. 서버 배포는 월요일.",
    "ja": "きょうはカタカナのテキストとひらがなを試します。",
    "zh": "我们在北京开会讨论全文检索。",
    "emoji": "release 🚀🎉 party 👍🏽 done",
    "marks": "cafe\u0301 and re\u0301sume\u0301 (decomposed)",
    "latin": "The Quick Brown FOX jumps; Straße ÉCOLE école",
}


def search(s, q, token=None, limit=None, status=200):
    url = s.url + "/api/search?q=" + urllib.parse.quote(q)
    if limit is not None:
        url += "&limit=%d" % limit
    headers = {"Authorization": "Bearer " + token} if token else {}
    st, _, body = http("GET", url, headers=headers)
    assert st == status, (q, st, body)
    return json.loads(body)


def found(s, q, **kw):
    return [h["id"] for h in search(s, q, **kw)]


def eventually(fn, what, wait=WAIT):
    t0 = time.time()
    while True:
        v = fn()
        if v:
            return v
        assert time.time() - t0 < wait, "not within %.0f s: %s" % (wait, what)
        time.sleep(0.2)


async def put(s, doc, text, token=None):
    """Create 'doc' holding 'text' (over the WebSocket, as the editor does)."""
    c = await Client.connect(s, hello=not token)
    if token:
        await c.send({"type": "hello", "client": "c" + doc, "token": token})
        await c.expect("welcome")
    await c.join(doc)
    j = await c.expect("joined")
    await c.send({"type": "op", "doc": doc, "version": j["version"], "seq": 1,
                  "op": ([len(j["text"])] if j["text"] else []) + [text]})
    await c.expect("ack")
    await c.close()


def check_positions(hits, q, fold=str.lower):
    """Every match span of every snippet covers the query (code points)."""
    for h in hits:
        for sn in h["snippets"]:
            assert sn["match"], sn
            for a, b in sn["match"]:
                assert fold(sn["text"][a:b]) == fold(q), (q, sn)


async def test_every_script_is_found_with_code_point_snippets():
    with Server() as s:
        for doc, text in TEXTS.items():
            await put(s, doc, text)
        eventually(lambda: found(s, "배포"), "the index")
        cases = [("배포", ["ko"]), ("배포일정", ["ko"]), ("서버", ["ko"]),
                 ("カタカナ", ["ja"]), ("テキ", ["ja"]), ("ひら", ["ja"]),
                 ("北京", ["zh"]), ("全文检索", ["zh"]), ("🚀🎉", ["emoji"]),
                 ("👍🏽", ["emoji"]), ("🎉", ["emoji"]),
                 ("re\u0301sume\u0301", ["marks"]), ("e\u0301", ["marks"]),
                 ("quick brown", ["latin"]), ("QUICK", ["latin"]), ("fox", ["latin"]),
                 ("école", ["latin"]), ("ÉCOLE", ["latin"]), ("straße", ["latin"]),
                 ("nothing here", [])]
        for q, want in cases:
            hits = search(s, q)
            assert [h["id"] for h in hits] == want, (q, hits)
            check_positions(hits, q)
        h = search(s, "école")[0]
        # both ÉCOLE and école are matched, at code point positions
        assert len(h["snippets"][0]["match"]) == 2, h
        assert h["title"] == "" and h["updated"] > 0


async def test_titles_renames_limits_and_bad_queries():
    with Server() as s:
        for i in range(5):
            assert http("POST", s.url + "/api/docs",
                        {"id": "t%d" % i, "title": "Roadmap %d" % i})[0] == 201
        eventually(lambda: len(found(s, "roadmap")) == 5, "titles indexed")
        assert len(found(s, "roadmap", limit=2)) == 2
        assert http("PATCH", s.url + "/api/docs/t0", {"title": "회의록"})[0] == 200
        assert found(s, "회의") == ["t0"]  # a rename is in the index at once
        assert "t0" not in found(s, "roadmap")
        assert search(s, "회의")[0]["snippets"] == []  # the body holds nothing
        for q in ("", "x" * 201):
            search(s, q, status=400)
        for lim in ("0", "101", "x"):
            st, _, _ = http("GET", s.url + "/api/search?q=ab&limit=" + lim)
            assert st == 400
        st, _, _ = http("GET", s.url + "/api/search")
        assert st == 400
        # hostile text is data: JSON strings, positions, nothing else
        await put(s, "h1", '<script>alert("x")</script> \'quoted\' "dq"')
        eventually(lambda: search(s, '"dq"'), "hostile text")
        sn = search(s, "<script>")[0]["snippets"][0]
        assert sn["text"].startswith('<script>alert("x")') and sn["match"] == [[0, 8]], sn
        assert found(s, "<scr") == ["h1"] and found(s, "'quoted'") == ["h1"]


async def test_the_index_follows_edits_trash_restore_and_purge():
    with Server() as s:
        await put(s, "f1", "alpha version")
        eventually(lambda: found(s, "alpha") == ["f1"], "first text")
        c = await Client.connect(s)
        await c.join("f1")
        j = await c.expect("joined")
        await c.send({"type": "op", "doc": "f1", "version": j["version"], "seq": 1,
                      "op": [-5, 8, " beta"]})  # "alpha version" -> " version beta"
        await c.expect("ack")
        eventually(lambda: found(s, "beta") == ["f1"], "the edit")
        assert found(s, "alpha") == []
        assert http("DELETE", s.url + "/api/docs/f1")[0] == 200
        assert found(s, "beta") == [] and found(s, "be") == []
        assert http("POST", s.url + "/api/trash/f1/restore")[0] == 200
        assert found(s, "beta") == ["f1"]
        assert http("DELETE", s.url + "/api/docs/f1")[0] == 200
        assert http("DELETE", s.url + "/api/trash/f1")[0] == 200
        assert http("POST", s.url + "/api/docs", {"id": "f1"})[0] == 201
        assert found(s, "beta") == []


async def test_team_mode_finds_only_what_the_caller_may_read():
    with team_server() as s:
        tok = {n: token_of(s, n) for n in ("root", "olga", "eddie", "vera", "nina")}
        await put(s, "mine", "비밀 계획 secret plan", token=tok["olga"])
        await put(s, "theirs", "비밀 다른 문서 secret other", token=tok["nina"])
        assert http("PUT", s.url + "/api/docs/mine/roles",
                    {"user": "vera", "role": "viewer"},
                    headers={"Authorization": "Bearer " + tok["olga"]})[0] == 200
        eventually(lambda: len(found(s, "secret", token=tok["root"])) == 2, "both")
        for q in ("secret", "비밀"):
            assert found(s, q, token=tok["olga"]) == ["mine"]
            assert found(s, q, token=tok["vera"]) == ["mine"]
            assert found(s, q, token=tok["nina"]) == ["theirs"]
            assert found(s, q, token=tok["eddie"]) == []
            assert sorted(found(s, q, token=tok["root"])) == ["mine", "theirs"]
        st, _, _ = http("GET", s.url + "/api/search?q=secret")
        assert st == 401


async def test_survives_kill_9_and_check_reindex_rebuilds():
    with Server() as s:
        await put(s, "k9", "written just before the crash 크래시")
        s.kill9()  # before the document was quiet long enough to be indexed
        s.start()
        eventually(lambda: found(s, "크래시") == ["k9"], "caught up at start")
        s.stop()
        p = subprocess.run([BIN, "check", "--reindex", "--data", s.data],
                           capture_output=True, text=True)
        assert p.returncode == 0 and "search index rebuilt: 1 documents" in p.stdout, p
        s.start()
        assert found(s, "크래시") == ["k9"] and found(s, "crash") == ["k9"]


if __name__ == "__main__":
    run(globals())
