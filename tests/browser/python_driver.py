"""Two chorus_client connections editing one document at random for
tests/browser/python_client.test.mjs: argv URL DOC SEED ROUNDS. Prints
"ready" once both joined, edits, then waits for a line on stdin (the page
has finished), lets the document settle and prints one JSON line: both
clients' texts and versions."""
import asyncio
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
import chorus_client  # noqa: E402

CHARS = ["p", "q", " ", "\n", "글", "🎉"]


async def edits(doc, rng, rounds):
    for _ in range(rounds):
        t = doc.text
        pos = rng.randint(0, len(t))
        if pos < len(t) and rng.random() < 0.25:
            await doc.delete(pos, 1)
        else:
            await doc.insert(pos, "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 3))))
        await doc.set_cursor(rng.randint(0, len(doc.text)))
        await asyncio.sleep(rng.random() * 0.03)


async def main(url, doc_id, seed, rounds):
    rng = random.Random(seed)
    async with chorus_client.connect(url, name="py-a") as a, \
            chorus_client.connect(url, name="py-b") as b:
        da, db = await a.join(doc_id), await b.join(doc_id)
        print("ready", flush=True)
        await asyncio.gather(edits(da, rng, rounds), edits(db, rng, rounds))
        await da.synced(10)
        await db.synced(10)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)
        last = None
        while (da.text, da.version, db.version) != last:  # quiet for 0.5 s
            last = (da.text, da.version, db.version)
            await asyncio.sleep(0.5)
        print(json.dumps({"a": da.text, "b": db.text, "va": da.version, "vb": db.version},
                         ensure_ascii=False), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
