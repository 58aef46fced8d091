"""chorus_client -- a Python client for Chorus (chorus.v1 over WebSocket,
written against docs/protocol.md; depends only on `websockets`).

    import asyncio, chorus_client

    async def main():
        async with chorus_client.connect("ws://127.0.0.1:8080/ws", name="bot") as c:
            doc = await c.join("notes")
            await doc.insert(len(doc.text), "hello\\n")
            await doc.synced()

    asyncio.run(main())

The op algebra (apply, transform, compose, invert, cursors) is in
chorus_client.ops and passes every vector in tests/vectors/.
"""
from . import ops
from .client import ChorusError, Change, Connection, Document, connect
from .ops import OTError

__all__ = ["ops", "ChorusError", "Change", "Connection", "Document", "OTError", "connect"]
__version__ = "0.1.0"
