"""One load-generator process: its share of the users, driven through the
phases the coordinator announces over a pipe.

The messages are small frozen dataclasses, pickled by `multiprocessing`:
coordinator -> worker `StartSetup` then `StartSending`; worker -> coordinator
`Ready`, `Progress` (every PROGRESS_EVERY seconds), `SetupDone`, `WorkerResult`.
Phases start at absolute times of the monotonic clock (system-wide on Linux),
so every process starts sending in the same millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TypeVar

from picows import ws_connect

from pairchat.bench import wire
from pairchat.bench.client import Run, SetupError, SocketIOUser, User, now_ns
from pairchat.bench.stats import Histogram, Tally

PROGRESS_EVERY = 0.25
# How long unanswered DIALOGUEs may take to come back after sending ends.
DRAIN_SECONDS = 2.0
OPEN_LOOP_TICK = 0.002

_T = TypeVar("_T")


@dataclass(frozen=True)
class WorkerSpec:
    worker: int
    urls: tuple[str, ...]
    dialect: wire.Dialect
    first_user: int
    users: int
    window: int  # in-flight DIALOGUEs per user; 0 for open loop at `rate`
    rate: float  # DIALOGUEs per second per user (open loop)
    size: int
    setup_timeout: float
    connects_in_flight: int
    match: bool  # False: users only sign in and stay idle


@dataclass(frozen=True)
class StartSetup:
    at_ns: int


@dataclass(frozen=True)
class StartSending:
    at_ns: int
    warmup_ns: int
    duration_ns: int


@dataclass(frozen=True)
class Ready:
    worker: int


@dataclass(frozen=True)
class Progress:
    worker: int
    connected: int
    matched: int
    sent: int
    delivered: int


@dataclass(frozen=True)
class SetupDone:
    worker: int
    connected: int
    matched: int
    done_ns: int  # when the last of this process's users was matched (or signed in)


@dataclass(frozen=True)
class WorkerResult:
    worker: int
    tally: Tally
    cpu_seconds: float  # user + system CPU of this process in the measured window
    wall_seconds: float


def worker_main(conn: Connection, spec: WorkerSpec) -> None:
    """The process entry point (multiprocessing target)."""
    import uvloop

    try:
        uvloop.run(_Worker(conn, spec).main())
    finally:
        conn.close()


async def _sleep_until(at_ns: int) -> None:
    await asyncio.sleep(max(0.0, (at_ns - now_ns()) / 1e9))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Worker:
    def __init__(self, conn: Connection, spec: WorkerSpec) -> None:
        self.conn = conn
        self.spec = spec
        self.run = Run(spec.window, wire.padding(spec.size))
        self.users: list[User] = []
        self.connected = 0
        self.matched = 0
        self.inbox: asyncio.Queue[object] = asyncio.Queue()

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._receive)
        self.conn.send(Ready(self.spec.worker))
        setup = await self._next(StartSetup)
        reporter = asyncio.create_task(self._report())
        try:
            await _sleep_until(setup.at_ns)
            done_ns = await self._set_up()
            self.conn.send(SetupDone(self.spec.worker, self.connected, self.matched, done_ns))
            sending = await self._next(StartSending)
            result = await self._send(sending)
        finally:
            reporter.cancel()
            for user in self.users:
                user.close()
            loop.remove_reader(self.conn.fileno())
        self.conn.send(result)

    def _receive(self) -> None:
        try:
            self.inbox.put_nowait(self.conn.recv())
        except EOFError:  # the coordinator is gone: stop rather than run on
            self.inbox.put_nowait(EOFError())

    async def _next(self, kind: type[_T]) -> _T:
        message = await self.inbox.get()
        if not isinstance(message, kind):
            raise SystemExit(
                f"bench worker {self.spec.worker}: expected {kind.__name__}, got {message!r}"
            )
        return message

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            self.conn.send(
                Progress(
                    self.spec.worker,
                    self.connected,
                    self.matched,
                    self.run.sent_all,
                    self.run.delivered_all,
                )
            )

    # --- setup: connect, CRT_ACCOUNT, MATCH -------------------------------
    async def _set_up(self) -> int:
        spec = self.spec
        deadline = time.monotonic() + spec.setup_timeout
        gate = asyncio.Semaphore(spec.connects_in_flight)
        last_matched = [0]

        async def bring_up(index: int) -> None:
            async with gate:
                user = await self._connect(index)
                await user.create_account(deadline)
            self.connected += 1
            if spec.match:
                await user.match(deadline)
                self.matched += 1
            last_matched[0] = now_ns()

        outcomes = await asyncio.gather(
            *(bring_up(spec.first_user + i) for i in range(spec.users)), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                self.run.errors[_setup_error(outcome)] += 1
        return last_matched[0]

    async def _connect(self, index: int) -> User:
        spec = self.spec
        url = spec.urls[index % len(spec.urls)]
        cls = SocketIOUser if spec.dialect is wire.Dialect.SOCKETIO else User
        timeout = max(0.1, self.spec.setup_timeout)
        _, user = await ws_connect(
            lambda: cls(self.run, index),
            url,
            websocket_handshake_timeout=timeout,
            read_buffer_init_size=4096,
        )
        assert isinstance(user, User)
        self.users.append(user)
        await asyncio.wait_for(user.ready, timeout)
        return user

    # --- sending ------------------------------------------------------------
    async def _send(self, start: StartSending) -> WorkerResult:
        run = self.run
        run.go(start.at_ns, start.warmup_ns, start.duration_ns)
        active = [u for u in self.users if u.session_id and not u.closed]
        await _sleep_until(run.send_from)
        ticker: asyncio.Task[None] | None = None
        if run.window:
            now = now_ns()
            for user in active:
                for _ in range(run.window):
                    user.send_dialogue(now)
        else:
            ticker = asyncio.create_task(self._open_loop(active))
        await _sleep_until(run.measure_from)
        cpu0, wall0 = _cpu_seconds(), time.monotonic()
        await _sleep_until(run.send_until)
        cpu1, wall1 = _cpu_seconds(), time.monotonic()
        if ticker is not None:
            await ticker
        run.answered(0, now_ns())  # idle at once if nothing is in flight any more
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.idle.wait(), DRAIN_SECONDS)
        latency = Histogram()
        latency.record_many(ns // 1000 for ns in run.latencies_ns)
        tally = Tally(run.sent, run.acked, run.delivered, latency, Counter(run.errors))
        return WorkerResult(self.spec.worker, tally, cpu1 - cpu0, wall1 - wall0)

    async def _open_loop(self, users: list[User]) -> None:
        """Sends at the set rate whatever the answers: each tick sends what is due
        by the clock, round-robin over the users, so a late tick catches up."""
        if not users:
            return
        run = self.run
        per_ns = self.spec.rate * len(users) / 1e9
        sent = 0
        turn = 0
        while (now := now_ns()) < run.send_until:
            due = int((now - run.send_from) * per_ns) - sent
            for _ in range(due):
                users[turn].send_dialogue(now)
                turn = (turn + 1) % len(users)
            sent += max(0, due)
            await asyncio.sleep(OPEN_LOOP_TICK)


def _setup_error(exc: BaseException) -> str:
    if isinstance(exc, SetupError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "setup timed out"
    detail = str(exc).splitlines()[0][:60] if str(exc) else ""
    return f"connect: {type(exc).__name__}" + (f": {detail}" if detail else "")
