#!/usr/bin/env python3
"""append.py URL DOC TEXT -- append TEXT to DOC over HTTP (no WebSocket):
POST URL/api/docs/DOC/append. URL: http://host:port. In team mode the API
token (chorus token create --user NAME) comes from CHORUS_TOKEN. Prints
the version the text took; exits 1 with the server's error otherwise."""
import json
import os
import sys
import urllib.error
import urllib.request


def append(url, doc, text, token=None):
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request("%s/api/docs/%s/append" % (url.rstrip("/"), doc),
                                 data=text.encode("utf-8"), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["version"]
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        raise SystemExit("%d %s: %s" % (e.code, body.get("error"), body.get("message")))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(append(sys.argv[1], sys.argv[2], sys.argv[3], os.environ.get("CHORUS_TOKEN")))
