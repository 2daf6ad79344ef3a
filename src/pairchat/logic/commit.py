"""Group commit: DIALOGUEs that arrive while a transaction is running are stored
together in the next one. One fsync then covers a whole batch, which is how a
durable store reaches tens of thousands of messages per second. Acknowledged
msgIds ride in the same transactions: they never cost a commit of their own
while messages flow."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pairchat.obs import COMMIT_BATCH, COMMIT_SECONDS, MESSAGES_STORED, event
from pairchat.storage.records import NewMessage, StoredMessage
from pairchat.storage.store import Store

log = logging.getLogger("pairchat.logic")

RETRY_DELAY = 1.0  # seconds before the next transaction after one failed

Done = Callable[[StoredMessage | BaseException], None]


class GroupCommit:
    """Stores submitted messages in batches, one transaction per batch, in
    submission order; `on_committed` sees every batch right after its commit and
    before any `done` callback runs, so it can queue pushes in msgId order."""

    def __init__(
        self,
        store: Store,
        on_committed: Callable[[list[StoredMessage]], Awaitable[None]],
        max_batch: int = 2000,
    ) -> None:
        self._store = store
        self._on_committed = on_committed
        self._max_batch = max_batch
        self._pending: list[tuple[NewMessage, Done]] = []
        self._acks: dict[tuple[int, int], int] = {}  # (session, account) -> msgId
        self._ready = asyncio.Event()

    def submit(self, message: NewMessage, done: Done) -> None:
        self._pending.append((message, done))
        self._ready.set()

    def ack(self, session_id: int, account_id: int, msg_id: int) -> None:
        """Record an acknowledged msgId with the next transaction (never lowering
        the mark; an ack lost with the process means a replayed duplicate,
        which clients drop)."""
        key = (session_id, account_id)
        if self._acks.get(key, 0) < msg_id:
            self._acks[key] = msg_id
            self._ready.set()

    async def run(self) -> None:
        while True:
            if not self._pending and not self._acks:
                self._ready.clear()
                await self._ready.wait()
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            acks, self._acks = self._acks, {}
            if not await self._commit(batch, acks):
                await asyncio.sleep(RETRY_DELAY)

    async def _commit(
        self, batch: list[tuple[NewMessage, Done]], acks: dict[tuple[int, int], int]
    ) -> bool:
        started = time.perf_counter()
        try:
            stored = await self._store.append_messages(
                [m for m, _ in batch],
                int(time.time() * 1000),
                [(s, a, m) for (s, a), m in acks.items()],
            )
        except Exception as exc:  # the store failed: every caller gets code 2, may retry
            event(
                log,
                "commit failed",
                logging.ERROR,
                messages=len(batch),
                acks=len(acks),
                error=repr(exc),
            )
            for (session_id, account_id), msg_id in acks.items():  # kept for the next try
                self.ack(session_id, account_id, msg_id)
            for _, done in batch:
                done(exc)
            return False
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        if not batch:
            return True
        COMMIT_BATCH.observe(len(batch))
        MESSAGES_STORED.inc(sum(1 for s in stored if s.msg_id and not s.duplicate))
        # A repeated requestId is pushed again too: its first push may be the one
        # that failed to queue (at-least-once; receivers drop duplicates).
        try:
            await self._on_committed([s for s in stored if s.msg_id])
        except Exception as exc:
            # Stored but not queued: answer code 2, so the client retries with the
            # same requestId, which queues the push again (and RECONNECT replays it).
            event(
                log, "queueing pushes failed", logging.ERROR, messages=len(stored), error=repr(exc)
            )
            for _, done in batch:
                done(exc)
            return True
        for (_, done), result in zip(batch, stored, strict=True):
            done(result)
        return True
