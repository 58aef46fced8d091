#!/usr/bin/env python3
"""bot.py URL DOC -- join DOC and answer every line that is "/time" with
the time: it types " -> HH:MM:SS" after it, one character at a time, with
its cursor shown where it types. CHORUS_TOKEN in team mode."""
import asyncio
import os
import sys
import time

import chorus_client


def pending_line(text):
    """The end of the first complete line that is exactly "/time", or None."""
    pos = 0
    for line in text.split("\n")[:-1]:  # complete lines only
        if line.strip() == "/time":
            return pos + len(line)
        pos += len(line) + 1
    return None


async def answer(doc, delay):
    while (end := pending_line(doc.text)) is not None:
        reply = " -> " + time.strftime("%H:%M:%S")
        for i, ch in enumerate(reply):
            end = pending_line(doc.text) if i == 0 else end
            await doc.insert(end, ch)
            end += 1
            await doc.set_cursor(end)
            await asyncio.sleep(delay)
            # others may have typed meanwhile: the cursor moved with their ops
            end = doc.cursor[1] if doc.cursor else end
        await doc.synced()
    await doc.set_cursor(None)


async def run(url, doc_id, delay=0.03, ready=None):
    async with chorus_client.connect(url, name="time-bot",
                                     token=os.environ.get("CHORUS_TOKEN")) as c:
        doc = await c.join(doc_id)
        if ready:
            ready()
        await answer(doc, delay)
        async for ch in doc.changes():
            if ch.op is not None:
                await answer(doc, delay)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print("bot ready", flush=True)
    try:
        asyncio.run(run(sys.argv[1], sys.argv[2]))
    except KeyboardInterrupt:
        pass
