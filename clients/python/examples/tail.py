#!/usr/bin/env python3
"""tail.py URL DOC -- print a document, then every change to it, live.
URL: ws://host:port/ws or http://host:port; CHORUS_TOKEN in team mode."""
import asyncio
import os
import sys

import chorus_client


async def main(url, doc_id):
    async with chorus_client.connect(url, name="tail", token=os.environ.get("CHORUS_TOKEN")) as c:
        doc = await c.join(doc_id)
        print(doc.text, end="" if doc.text.endswith("\n") else "\n", flush=True)
        print("--- version %d" % doc.version, flush=True)
        async for ch in doc.changes():
            if ch.op is not None:
                who = (ch.user or {}).get("name", ch.client)
                print("--- version %d by %s: %s" % (ch.version, who, ch.op), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except KeyboardInterrupt:
        pass
