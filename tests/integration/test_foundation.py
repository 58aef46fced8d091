"""The binary, its flags, start-up refusals, migrations, static files, the
WebSocket gate and clean shutdown (issue 2), against the real build/chorus."""
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import websockets

from chorus_test import BIN, ROOT, Client, Server, free_port, http, http_get, raw_http, run


def chorus(*args, timeout=10):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def make_web(tmp):
    web = os.path.join(tmp, "web")
    os.makedirs(os.path.join(web, "sub"))
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("<!doctype html><title>Chorus</title>index")
    with open(os.path.join(web, "editor.html"), "w") as f:
        f.write("<!doctype html>editor")
    with open(os.path.join(web, "sub", "app.js"), "w") as f:
        f.write("export const x = 1;\n")
    with open(os.path.join(web, ".hidden"), "w") as f:
        f.write("hidden")
    with open(os.path.join(tmp, "secret.txt"), "w") as f:
        f.write("SECRET")
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(web, "link.txt"))
    return web


def test_version_and_help():
    rc, out, _ = chorus("--version")
    assert rc == 0 and out.startswith("chorus "), out
    for cmd in ("serve", "backup", "check"):
        rc, out, err = chorus(cmd, "--help")
        assert rc == 0 and "usage: chorus " + cmd in out, (cmd, out, err)
    rc, out, _ = chorus("--help")
    assert rc == 0 and "serve" in out


def test_bad_flags_give_one_line_and_exit_2():
    cases = [("serve", "--port", "abc"), ("serve", "--port", "70000"),
             ("serve", "--nope"), ("serve", "--sync", "sometimes"),
             ("serve", "--port"), ("serve", "extra"), ("frobnicate",)]
    for args in cases:
        rc, out, err = chorus(*args)
        assert rc == 2, (args, rc, err)
        lines = [l for l in err.splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0].startswith("chorus"), (args, err)


def test_port_in_use_is_one_clear_line():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = chorus("serve", "--port", str(port), "--data", tmp + "/d")
    s.close()
    assert rc == 1, (rc, err)
    assert "address already in use" in err and len(err.strip().splitlines()) == 1, err


def test_unwritable_data_dir_is_refused():
    with tempfile.TemporaryDirectory() as tmp:
        ro = os.path.join(tmp, "ro")
        os.mkdir(ro, 0o500)
        # root ignores mode bits: a data dir under a regular file cannot exist.
        blocker = os.path.join(tmp, "file")
        open(blocker, "w").close()
        for data in (blocker + "/data", blocker):
            rc, out, err = chorus("serve", "--port", str(free_port()), "--data", data)
            assert rc == 1 and err.startswith("chorus: "), (data, rc, err)
            assert len(err.strip().splitlines()) == 1, err


def test_migrations_applied_once_and_newer_refused():
    with Server() as s:
        db = os.path.join(s.data, "chorus.db")
        s.stop()
        con = sqlite3.connect(db)
        v1 = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        con.close()
        assert v1 >= 1 and {"documents", "ops", "snapshots"} <= tables, (v1, tables)
        assert mode == "wal", mode
        s.start()  # a second start applies nothing and keeps the data
        s.stop()
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA user_version").fetchone()[0] == v1
        con.execute("PRAGMA user_version = %d" % (v1 + 100))
        con.commit()
        con.close()
        rc, out, err = chorus("serve", "--port", str(free_port()), "--data", s.data)
        assert rc == 1 and "newer" in err and len(err.strip().splitlines()) == 1, err


def test_healthz_and_static_files():
    with tempfile.TemporaryDirectory() as tmp:
        web = make_web(tmp)
        with Server("--web", web) as s:
            assert http_get(s.url + "/healthz")[::2] == (200, b"ok\n")
            st, h, body = http_get(s.url + "/")
            assert st == 200 and b"index" in body and h["content-type"].startswith("text/html")
            st, h, body = http_get(s.url + "/sub/app.js")
            assert st == 200 and "javascript" in h["content-type"], h
            st, h, body = http_get(s.url + "/d/some-doc")
            assert st == 200 and b"editor" in body
            assert http_get(s.url + "/nope.html")[0] == 404
            assert http_get(s.url + "/.hidden")[0] == 404
            assert http_get(s.url + "/link.txt")[0] == 404  # a link out of web/
            assert http("DELETE", s.url + "/")[0] == 405


def test_path_traversal_never_leaves_web():
    with tempfile.TemporaryDirectory() as tmp:
        web = make_web(tmp)
        with Server("--web", web) as s:
            for path in (b"/../secret.txt", b"/sub/../../secret.txt",
                         b"/%2e%2e/secret.txt", b"/%2E%2E/secret.txt",
                         b"/sub/%2e%2e/%2e%2e/secret.txt", b"/..%2fsecret.txt",
                         b"/%2e%2e%2fsecret.txt", b"/sub/..%5c..%5csecret.txt",
                         b"//etc/passwd", b"/%00", b"/sub%2f..%2f..%2fsecret.txt"):
                resp = raw_http(s.port, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert b"SECRET" not in resp, path
                assert b"root:" not in resp, path
            assert http_get(s.url + "/healthz")[0] == 200  # still up


async def test_websocket_handshake_and_refusals():
    with Server() as s:
        c = await Client.connect(s)
        assert c.ws.subprotocol == "chorus.v1"
        assert c.welcome["server"].startswith("chorus ")
        await c.close()
        for kw, url in (({"subprotocols": ["other.v9"]}, s.ws_url),
                        ({}, s.ws_url),
                        ({"subprotocols": ["chorus.v1"]}, s.ws_url.replace("/ws", "/other")),
                        ({"subprotocols": ["chorus.v1"], "origin": "http://evil.example"}, s.ws_url)):
            try:
                ws = await websockets.connect(url, open_timeout=5, **kw)
            except (websockets.exceptions.InvalidStatusCode,
                    websockets.exceptions.InvalidHandshake) as e:
                continue
            await ws.close()
            raise AssertionError("handshake should fail: %r %s" % (kw, url))
        # the server's own origin is allowed
        ws = await websockets.connect(s.ws_url, subprotocols=["chorus.v1"],
                                      origin="http://127.0.0.1:%d" % s.port)
        await ws.close()


async def test_allowed_origin_flag():
    with Server("--allow-origin", "https://docs.example") as s:
        ws = await websockets.connect(s.ws_url, subprotocols=["chorus.v1"],
                                      origin="https://docs.example")
        await ws.close()
        try:
            await websockets.connect(s.ws_url, subprotocols=["chorus.v1"],
                                     origin="http://127.0.0.1:%d" % s.port)
            raise AssertionError("origin not in the list must be refused")
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 403


async def test_clean_shutdown_closes_clients_with_1001_and_exits_0():
    s = Server()
    try:
        c = await Client.connect(s)
        await c.join("shut")
        await c.expect("joined")
        oc = __import__("chorus_test").OTClient(c, "shut")
        await oc.edit(["hello"])
        m = await c.expect("ack")
        assert m["version"] == 1
        s.proc.send_signal(signal.SIGTERM)
        try:
            await c.recv(10)
            raise AssertionError("expected close")
        except websockets.exceptions.ConnectionClosed as e:
            assert e.code == 1001, e.code
        assert s.proc.wait(15) == 0, s.log()
        s.start()
        assert http_get(s.url + "/api/docs/shut/text")[2] == b"hello"
        s.stop(signal.SIGINT)
        assert s.proc.returncode == 0
    finally:
        s.close()


def test_web_dir_found_beside_the_binary_from_any_cwd():
    if not os.path.exists(os.path.join(ROOT, "web", "index.html")):
        raise AssertionError("web/index.html missing from the repository")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", "d"], cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                try:
                    st, h, body = http_get("http://127.0.0.1:%d/" % port)
                    break
                except OSError:
                    time.sleep(0.05)
            assert st == 200 and b"<" in body
            assert os.path.exists(os.path.join(tmp, "d", "chorus.db"))
        finally:
            p.terminate()
            p.wait(10)


def test_bare_connections_and_garbage_do_not_crash_the_server():
    with Server() as s:
        for payload in (b"", b"\x16\x03\x01\x02\x00", b"GARBAGE\r\n\r\n",
                        b"GET / HTTP/1.1\r\n", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
                        b"POST /api/docs HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"):
            sock = socket.create_connection(("127.0.0.1", s.port))
            if payload:
                sock.sendall(payload)
            sock.close()
        time.sleep(0.3)
        assert s.proc.poll() is None, s.log()
        assert http_get(s.url + "/healthz")[0] == 200


def test_make_install_honours_destdir_and_prefix():
    with tempfile.TemporaryDirectory() as dest:
        build = os.environ.get("BUILD", "build")
        p = subprocess.run(["make", "-s", "install", "BUILD=" + build, "DESTDIR=" + dest,
                            "PREFIX=/opt/chorus"], cwd=ROOT, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        binary = os.path.join(dest, "opt/chorus/bin/chorus")
        assert os.access(binary, os.X_OK)
        assert os.path.exists(os.path.join(dest, "opt/chorus/share/chorus/web/index.html"))
        assert os.listdir(os.path.join(dest, "opt/chorus/share/chorus/migrations"))
        port = free_port()
        srv = subprocess.Popen([binary, "serve", "--port", str(port), "--data", dest + "/d"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                try:
                    st, h, body = http_get("http://127.0.0.1:%d/" % port)
                    break
                except OSError:
                    time.sleep(0.05)
            assert st == 200  # the web files were found from the installed binary
        finally:
            srv.terminate()
            srv.wait(10)


if __name__ == "__main__":
    run(globals())
