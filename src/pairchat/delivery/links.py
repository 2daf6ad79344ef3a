"""Streams from a delivery worker to each broker's Push service.

One `PushLink` per broker keeps a Deliver stream open and writes whatever was
queued since its last write as one batch, so the batch size follows the load.
A broker that cannot be reached loses the pushes queued for it: its clients
lost their connections too, and RECONNECT replays from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import grpc

from pairchat.api import rpc
from pairchat.api.links import PushSink
from pairchat.api.v1 import push_pb2 as pb
from pairchat.obs import PUSHES_MISSED, event
from pairchat.storage.brokers import Brokers
from pairchat.tasks import spawn

log = logging.getLogger("pairchat.delivery")

MAX_BATCH = 2000
RETRY_DELAY = 0.5
FOLLOW_INTERVAL = 0.5  # seconds between looks at the live brokers


def _answered(ok: bool) -> asyncio.Future[bool]:
    future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    future.set_result(ok)
    return future


class PushLink:
    def __init__(self, broker_id: str, target: str) -> None:
        self.broker_id = broker_id
        self.target = target
        self._pending: list[pb.PushItem] = []
        self._ready = asyncio.Event()
        self._batch_id = 0
        # send() futures by the end index of their items in _pending, then by batch
        self._waiting: deque[tuple[int, asyncio.Future[bool]]] = deque()
        self._in_flight: deque[tuple[int, list[asyncio.Future[bool]]]] = deque()
        self._channel = grpc.aio.insecure_channel(target, options=rpc.CLIENT_OPTIONS)
        self._task = asyncio.create_task(self._run())

    def send(self, items: list[pb.PushItem]) -> asyncio.Future[bool]:
        """Queue pushes; the future says whether the broker answered for them
        (True) or the stream broke first (False)."""
        self._pending.extend(items)
        self._ready.set()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((len(self._pending), future))
        return future

    def _answered(self, batch_id: int) -> None:
        while self._in_flight and self._in_flight[0][0] <= batch_id:
            _, futures = self._in_flight.popleft()
            for future in futures:
                if not future.done():
                    future.set_result(True)

    def _fail_all(self) -> None:
        for _, futures in self._in_flight:
            for future in futures:
                if not future.done():
                    future.set_result(False)
        self._in_flight.clear()
        for _, future in self._waiting:
            if not future.done():
                future.set_result(False)
        self._waiting.clear()

    async def close(self) -> None:
        self._fail_all()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._channel.close()

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        """Write queued pushes to one stream until it is cancelled (one writer per
        stream, so a broken stream never swallows pushes meant for the next)."""
        while True:
            if not self._pending:
                self._ready.clear()
                await self._ready.wait()
            items = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            self._batch_id += 1
            # The send() futures whose items are all in this batch ride with it.
            taken = len(items)
            futures = []
            while self._waiting and self._waiting[0][0] <= taken:
                futures.append(self._waiting.popleft()[1])
            self._waiting = deque((end - taken, f) for end, f in self._waiting)
            self._in_flight.append((self._batch_id, futures))
            await call.write(pb.PushBatch(batch_id=self._batch_id, items=items))

    async def _run(self) -> None:
        while True:
            try:
                call = rpc.push_deliver(self._channel)
                writer = asyncio.create_task(self._write(call))
                try:
                    async for delivered in call:
                        PUSHES_MISSED.inc(len(delivered.missing))
                        self._answered(delivered.batch_id)
                finally:
                    writer.cancel()
                    call.cancel()
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                dropped = len(self._pending)
                self._pending.clear()
                self._fail_all()
                event(
                    log,
                    "push stream lost",
                    logging.WARNING,
                    broker=self.broker_id,
                    status=exc.code().name,
                    dropped=dropped,
                )
            await asyncio.sleep(RETRY_DELAY)


class PushLinks:
    """The worker's links, by broker id, as brokers say hello and go away, and
    the brokers of this very process (the embedded mode), pushed to directly."""

    def __init__(self) -> None:
        self._links: dict[str, PushLink] = {}
        self._local: dict[str, PushSink] = {}

    def attach(self, broker_id: str, deliver: PushSink) -> None:
        """A broker in this process: its pushes are handed to `deliver` (which
        returns the indexes of the items whose connection is gone) at once."""
        self._local[broker_id] = deliver

    def detach(self, broker_id: str) -> None:
        self._local.pop(broker_id, None)

    def register(self, broker_id: str, target: str) -> None:
        if broker_id in self._local:
            return
        link = self._links.get(broker_id)
        if link is not None and link.target == target:
            return
        if link is not None:
            spawn(link.close())
        self._links[broker_id] = PushLink(broker_id, target)

    def unregister(self, broker_id: str) -> None:
        link = self._links.pop(broker_id, None)
        if link is not None:
            spawn(link.close())

    def send(self, broker_id: str, items: list[pb.PushItem]) -> asyncio.Future[bool]:
        local = self._local.get(broker_id)
        if local is not None:
            PUSHES_MISSED.inc(len(local(items)))
            return _answered(True)
        link = self._links.get(broker_id)
        if link is None:  # gone: its clients lost their connections and will replay
            return _answered(False)
        return link.send(items)

    async def follow(self, brokers: Brokers, every: float = FOLLOW_INTERVAL) -> None:
        """Keep the links matched to the live brokers (a worker that is not in the
        process the brokers stream to learns of them this way)."""
        while True:
            try:
                self.sync(await brokers.targets())
            except Exception as exc:  # the backend reconnects by itself
                event(log, "broker list unavailable", logging.WARNING, error=repr(exc))
            await asyncio.sleep(every)

    def has(self, broker_id: str) -> bool:
        return broker_id in self._links or broker_id in self._local

    def sync(self, targets: dict[str, str]) -> None:
        """Match the links to the live brokers (a standalone worker polls them)."""
        for broker_id in [b for b in self._links if b not in targets]:
            self.unregister(broker_id)
        for broker_id, target in targets.items():
            self.register(broker_id, target)

    async def close(self) -> None:
        links, self._links = list(self._links.values()), {}
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
