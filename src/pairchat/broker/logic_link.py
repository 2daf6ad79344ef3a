"""The broker's link to logic: one Exchange stream carrying batches of calls
(or, with logic in the same process, `LocalLogicLink`: the same batches
without gRPC).

Calls queued while a batch is being written go out together in the next one,
so the batch size follows the load. The link tries the logic addresses in turn
(client-side failover); when a stream breaks, or logic leaves a heartbeat
unanswered past a deadline (a stopped or hung process keeps its socket open),
the hub fails what is in flight and closes its clients, who reconnect.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import grpc

from pairchat.api import rpc
from pairchat.api.links import Exchange
from pairchat.api.v1 import logic_pb2 as pb
from pairchat.obs import event

log = logging.getLogger("pairchat.broker")

MAX_BATCH = 2000
RETRY_MIN, RETRY_MAX = 0.2, 5.0
# A heartbeat each interval; silence for the deadline is a lost stream. The
# deadline stays below logic's BROKER_TTL (5 s), so a broker whose logic stalls
# fails over before another logic process declares it gone.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_DEADLINE = 3 * HEARTBEAT_INTERVAL


class _Link(abc.ABC):
    """What both links share: calls queued while a batch is out go in the next
    one; `connected` says whether a call can be taken; a link that breaks drops
    what is queued and tells the hub, which fails it and closes its clients."""

    def __init__(
        self,
        hello: pb.BrokerHello,
        on_reply: Callable[[pb.Reply], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.hello = hello
        self._on_reply = on_reply
        self._on_lost = on_lost
        self._pending: list[pb.Call] = []
        self._ready = asyncio.Event()
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    @abc.abstractmethod
    async def _run(self) -> None:
        """Carry the batches until cancelled (each link's own transport)."""

    async def close(self) -> None:
        self.connected = False  # closing is not losing: the hub is told nothing
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def call(self, call: pb.Call) -> bool:
        """Queue a call; False when logic is unreachable (the caller answers code 2)."""
        if not self.connected:
            return False
        self._pending.append(call)
        self._ready.set()
        return True

    async def _next_batch(self) -> list[pb.Call]:
        """The calls queued so far (at most MAX_BATCH), once there is one."""
        if not self._pending:
            self._ready.clear()
            await self._ready.wait()
        calls = self._pending[:MAX_BATCH]
        del self._pending[:MAX_BATCH]
        return calls

    def _lost(self, **why: object) -> None:
        if self.connected:
            event(log, "logic lost", logging.WARNING, **why)
            self.connected = False
            self._pending.clear()
            self._on_lost()


class LogicLink(_Link):
    """Over gRPC to the first reachable of `targets`, reconnecting with backoff;
    a stream is alive while logic answers its heartbeats."""

    def __init__(
        self,
        targets: list[str],
        hello: pb.BrokerHello,
        on_reply: Callable[[pb.Reply], None],
        on_lost: Callable[[], None],
    ) -> None:
        super().__init__(hello, on_reply, on_lost)
        self.targets = targets
        self._heard = 0.0  # loop time of the current stream's last batch of replies

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        """Write queued calls to one stream until it is cancelled. Each stream has
        its own writer, cancelled with the stream, so a dead stream never takes
        calls meant for its successor."""
        await call.write(pb.Calls(calls=[pb.Call(hello=self.hello)]))
        while True:
            await call.write(pb.Calls(calls=await self._next_batch()))

    async def _read(self, call: grpc.aio.StreamStreamCall) -> None:
        """Hand the stream's replies to the hub until logic closes it; every batch
        (heartbeat answers included) shows logic is alive."""
        async for replies in call:
            self._heard = asyncio.get_running_loop().time()
            for reply in replies.replies:
                if reply.WhichOneof("body") != "heartbeat":
                    self._on_reply(reply)
        raise ConnectionError("logic closed the stream")

    async def _watch(self) -> None:
        """Send a heartbeat every HEARTBEAT_INTERVAL; raise once nothing came back
        for HEARTBEAT_DEADLINE. A stopped or hung logic keeps its sockets open,
        so only an answer, not the transport, shows it is serving."""
        loop = asyncio.get_running_loop()
        self._heard = loop.time()
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            silent = loop.time() - self._heard
            if silent > HEARTBEAT_DEADLINE:
                raise TimeoutError(f"logic silent for {silent:.1f}s")
            self.call(pb.Call(heartbeat=pb.Heartbeat()))

    async def _run(self) -> None:
        delay = RETRY_MIN
        attempt = 0
        while True:
            target = self.targets[attempt % len(self.targets)]
            attempt += 1
            try:
                async with grpc.aio.insecure_channel(target, options=rpc.CLIENT_OPTIONS) as channel:
                    await asyncio.wait_for(channel.channel_ready(), timeout=RETRY_MAX)
                    call = rpc.logic_exchange(channel)
                    tasks = [asyncio.create_task(self._write(call))]
                    try:
                        await asyncio.wait_for(call.wait_for_connection(), timeout=RETRY_MAX)
                        self.connected = True
                        delay = RETRY_MIN
                        event(log, "logic connected", target=target)
                        tasks += [
                            asyncio.create_task(self._read(call)),
                            asyncio.create_task(self._watch()),
                        ]
                        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                        for task in done:
                            task.result()  # the first failure of the stream
                        raise ConnectionError("logic stream ended")
                    finally:
                        for task in tasks:
                            task.cancel()
                        call.cancel()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever broke the stream (an RPC error, a stream finished under a
                # write, a timeout): the link is lost and fails over. A link task
                # that died here silently would strand every client of this broker.
                self._lost(target=target, error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX, delay * 2)


class LocalLogicLink(_Link):
    """The same link to a logic service in this process (the embedded mode): the
    hub's calls go to `exchange` as batches of Python objects, with no
    serialization, no gRPC and no second process in the message path."""

    def __init__(
        self,
        exchange: Exchange,
        hello: pb.BrokerHello,
        on_reply: Callable[[pb.Reply], None],
        on_lost: Callable[[], None],
    ) -> None:
        super().__init__(hello, on_reply, on_lost)
        self._exchange = exchange

    def start(self) -> None:
        self.connected = True
        super().start()

    async def _calls(self) -> AsyncIterator[Sequence[pb.Call]]:
        yield [pb.Call(hello=self.hello)]
        while True:
            yield await self._next_batch()

    async def _run(self) -> None:
        try:
            async for replies in self._exchange(self._calls()):
                for reply in replies:
                    self._on_reply(reply)
        finally:
            self._lost(target="in-process")
