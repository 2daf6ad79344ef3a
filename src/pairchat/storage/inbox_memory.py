"""`Inbox` (inbox.py) in the one process of the embedded mode, where logic and
the delivery worker share the event loop."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from pairchat.storage.inbox import Entry


class MemoryInbox:
    """One FIFO: with a single consumer, every session's entries stay in order."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Entry]] = []
        self._ready = asyncio.Event()
        self._ids = itertools.count(1)

    async def put(self, entries: Sequence[Entry]) -> None:
        if entries:
            ids = self._ids
            self._items.extend((str(next(ids)), e) for e in entries)
            self._ready.set()

    async def take(self, consumer: str, limit: int) -> list[tuple[str, Entry]]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        out = self._items[:limit]
        del self._items[:limit]
        return out

    async def done(self, consumer: str, ids: Sequence[str]) -> None:
        return None  # taken entries are gone already: the store replays on RECONNECT

    async def close(self) -> None:
        return None
