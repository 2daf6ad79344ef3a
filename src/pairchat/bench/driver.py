"""The coordinator: runs one workload against one target with several
load-generator processes, keeps the live progress fed, and merges what the
processes measured into one result.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TypeVar

from pairchat.bench import systems
from pairchat.bench.stats import LatencySummary, Tally, merge_tallies
from pairchat.bench.systems import Target
from pairchat.bench.worker import (
    Progress,
    Ready,
    SetupDone,
    StartSending,
    StartSetup,
    WorkerResult,
    WorkerSpec,
    worker_main,
)

# A generator process busier than this share of a core may have held the load back.
BUSY_SHARE = 0.9
START_GRACE = 60.0  # seconds for the processes to start (imports) and to report
# Handshakes in flight over all processes: asyncio servers listen with a backlog
# of 100, and a connection dropped from a full backlog costs a one-second SYN
# retransmit, which would show up as match time.
HANDSHAKES_IN_FLIGHT = 64
LEAD_NS = 100_000_000  # phases start this long after being announced, on every process

_M = TypeVar("_M")


class BenchError(Exception):
    """The run could not be completed."""


@dataclass(frozen=True)
class Workload:
    users: int
    window: int  # in-flight DIALOGUEs per user; 0 for open loop at `rate`
    rate: float  # DIALOGUEs per second per user (open loop)
    duration: float
    warmup: float
    size: int
    procs: int
    setup_timeout: float
    # False: the users only sign in and stay idle for `duration` (a memory probe).
    match: bool = True

    @property
    def loop(self) -> str:
        if not self.match:
            return "idle (signed in, no session, nothing sent)"
        if self.window:
            return f"closed loop, window {self.window}"
        return f"open loop, {self.rate:g} msg/s per user"


@dataclass(frozen=True)
class Snapshot:
    """What the live progress shows of one target."""

    target: str
    phase: str  # starting, connecting, matching, warmup, measuring, draining, done
    users: int
    connected: int
    matched: int
    sent: int  # since the send phase began
    delivered: int
    phase_done: float  # 0..1 through the current phase


@dataclass
class TargetResult:
    name: str
    users: int
    connected: int
    matched: int
    match_seconds: float  # from the first connect until every user was in a session
    seconds: float  # the measured window
    tally: Tally
    generator_cpu: list[float]  # share of a core, per generator process
    server_cpu: dict[str, float] = field(default_factory=dict)  # share of a core, per process
    server_peak_rss_kib: dict[str, int] = field(default_factory=dict)
    machine_busy: float = 0.0  # share of all the machine's CPUs busy in the window
    interrupts: float = 0.0  # of it, the share in irq and softirq (charged to no process)
    # Each server process's resident set before the first user connected and at
    # the end of the measured window (KiB).
    server_rss_start_kib: dict[str, int] = field(default_factory=dict)
    server_rss_end_kib: dict[str, int] = field(default_factory=dict)

    def rss_per_user_kib(self) -> dict[str, float]:
        """How much each server process grew per connected user."""
        if not self.connected:
            return {}
        return {
            label: (end - self.server_rss_start_kib[label]) / self.connected
            for label, end in self.server_rss_end_kib.items()
            if label in self.server_rss_start_kib
        }

    def per_second(self, count: int) -> float:
        return count / self.seconds if self.seconds > 0 else 0.0

    @property
    def latency_ms(self) -> LatencySummary:
        return LatencySummary.of(self.tally.latency_us)

    @property
    def server_cpu_per_message_us(self) -> float:
        """Server CPU time (all its processes) per delivered message, in µs."""
        rate = self.per_second(self.tally.delivered)
        return sum(self.server_cpu.values()) / rate * 1e6 if rate else 0.0

    @property
    def others_cpu(self) -> float:
        """CPU (in cores) that neither the server, the generator nor the kernel's
        interrupt handling used while measuring: other work on the machine,
        which the result had to share the CPUs with."""
        if not self.machine_busy:
            return 0.0
        ours = sum(self.server_cpu.values()) + sum(self.generator_cpu)
        busy = (self.machine_busy - self.interrupts) * (os.cpu_count() or 1)
        return max(0.0, busy - ours)

    @property
    def generator_busy(self) -> bool:
        return any(share > BUSY_SHARE for share in self.generator_cpu)


def split_users(users: int, procs: int) -> list[tuple[int, int]]:
    """(first user index, count) per process, the counts differing by at most one."""
    procs = max(1, min(procs, users))
    base, extra = divmod(users, procs)
    ranges: list[tuple[int, int]] = []
    first = 0
    for i in range(procs):
        count = base + (1 if i < extra else 0)
        ranges.append((first, count))
        first += count
    return ranges


def drive(target: Target, workload: Workload, show: Callable[[Snapshot], None]) -> TargetResult:
    """Runs the workload against the target and returns what was measured.

    Raises:
        BenchError: a generator process died or did not report in time.
    """
    return _Run(target, workload, show).run()


class _Run:
    def __init__(
        self, target: Target, workload: Workload, show: Callable[[Snapshot], None]
    ) -> None:
        self.target = target
        self.workload = workload
        self.show = show
        self.progress: dict[int, Progress] = {}
        self.phase = "starting"
        self.phase_done = 0.0
        self.pipes: list[Connection] = []
        self._closed: set[int] = set()  # processes whose pipe reached its end

    def run(self) -> TargetResult:
        ctx = multiprocessing.get_context("spawn")
        w = self.workload
        procs: list[BaseProcess] = []
        try:
            ranges = split_users(w.users, w.procs)
            gate = max(4, HANDSHAKES_IN_FLIGHT // len(ranges))
            for i, (first, count) in enumerate(ranges):
                ours, theirs = ctx.Pipe()
                spec = WorkerSpec(
                    i,
                    self.target.urls,
                    self.target.dialect,
                    first,
                    count,
                    w.window,
                    w.rate,
                    w.size,
                    w.setup_timeout,
                    gate,
                    w.match,
                )
                proc: BaseProcess = ctx.Process(
                    target=worker_main, args=(theirs, spec), daemon=True, name=f"bench-worker-{i}"
                )
                proc.start()
                theirs.close()
                procs.append(proc)
                self.pipes.append(ours)
            self._collect(Ready, START_GRACE)
            return self._measure()
        finally:
            for pipe in self.pipes:
                pipe.close()
            for proc in procs:
                proc.join(5.0)
                if proc.is_alive():
                    proc.kill()
                    proc.join()

    def _measure(self) -> TargetResult:
        w = self.workload
        servers = self.target.processes()
        rss_start = systems.rss_kib(servers)
        go = time.monotonic_ns() + LEAD_NS
        self._announce(StartSetup(go))
        self.phase = "connecting"
        setups = self._collect(SetupDone, w.setup_timeout + START_GRACE)
        connected = sum(s.connected for s in setups)
        matched = sum(s.matched for s in setups)
        ready = matched if w.match else connected
        match_seconds = (max(s.done_ns for s in setups) - go) / 1e9 if ready else 0.0

        warmup_ns, duration_ns = int(w.warmup * 1e9), int(w.duration * 1e9)
        send_from = time.monotonic_ns() + LEAD_NS
        measure_from, send_until = send_from + warmup_ns, send_from + warmup_ns + duration_ns
        self._announce(StartSending(send_from, warmup_ns, duration_ns))
        cpu: list[dict[str, float]] = []
        rss_end: dict[str, int] = {}
        machine: list[systems.MachineTime] = []

        def on_time(now: int) -> None:
            if now < send_from:
                self.phase, self.phase_done = "matching", 1.0
            elif now < measure_from:
                self.phase, self.phase_done = "warmup", (now - send_from) / max(1, warmup_ns)
            elif now < send_until:
                if not cpu:
                    cpu.append(systems.cpu_seconds(servers))
                    machine.append(systems.machine_time())
                self.phase = "measuring"
                self.phase_done = (now - measure_from) / max(1, duration_ns)
            else:
                if len(cpu) == 1:
                    cpu.append(systems.cpu_seconds(servers))
                    machine.append(systems.machine_time())
                    rss_end.update(systems.rss_kib(servers))
                self.phase, self.phase_done = "draining", 1.0

        results = self._collect(
            WorkerResult,
            w.warmup + w.duration + START_GRACE,
            on_time,
            wake_at=[measure_from, send_until],
        )
        self.phase = "done"
        self._show()
        server_cpu: dict[str, float] = {}
        machine_busy = interrupts = 0.0
        if len(cpu) == 2:
            server_cpu = {
                label: (cpu[1][label] - used) / w.duration
                for label, used in cpu[0].items()
                if label in cpu[1]
            }
            start, end = machine
            if end.total > start.total:
                ticks = end.total - start.total
                machine_busy = (end.busy - start.busy) / ticks
                interrupts = (end.interrupts - start.interrupts) / ticks
        tally = merge_tallies(r.tally for r in results)
        return TargetResult(
            self.target.name,
            w.users,
            connected,
            matched,
            match_seconds,
            max((r.wall_seconds for r in results), default=0.0),
            tally,
            [r.cpu_seconds / r.wall_seconds if r.wall_seconds else 0.0 for r in results],
            server_cpu,
            systems.peak_rss_kib(servers),
            machine_busy,
            interrupts,
            rss_start,
            rss_end,
        )

    def _announce(self, message: object) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def _collect(
        self,
        kind: type[_M],
        timeout: float,
        on_time: Callable[[int], None] | None = None,
        wake_at: list[int] | None = None,
    ) -> list[_M]:
        """Reads the pipes until every process has sent a `kind`, updating the
        progress from what else arrives; returns them in process order."""
        got: dict[int, _M] = {}
        deadline = time.monotonic() + timeout
        marks = sorted(wake_at or [])
        while len(got) < len(self.pipes):
            now = time.monotonic_ns()
            marks = [m for m in marks if m > now]
            pause = min([0.1, *((m - now) / 1e9 for m in marks[:1])])
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{self.target.name}: the load generator did not report "
                    f"{kind.__name__} within {timeout:.0f} s"
                )
            # Every pipe is read, so that no process blocks on a full pipe of
            # progress reports; the end of a pipe is a failure unless its
            # process has sent its `kind` (after its result it exits).
            reading = [p for i, p in enumerate(self.pipes) if i not in self._closed]
            for ready in wait(reading, pause):
                assert isinstance(ready, Connection)
                worker = self.pipes.index(ready)
                try:
                    message = ready.recv()
                except EOFError:
                    if worker in got:
                        self._closed.add(worker)
                        continue
                    raise BenchError(
                        f"{self.target.name}: load generator process {worker} "
                        "died; see its output above"
                    ) from None
                if isinstance(message, Progress):
                    self.progress[message.worker] = message
                elif isinstance(message, kind):
                    got[worker] = message
            if on_time is not None:
                on_time(time.monotonic_ns())
            self._show()
        return [got[i] for i in range(len(self.pipes))]

    def _show(self) -> None:
        p = self.progress.values()
        connected = sum(x.connected for x in p)
        matched = sum(x.matched for x in p)
        users = self.workload.users
        phase, done = self.phase, self.phase_done
        if phase == "connecting":
            if connected >= users:
                phase = "matching"
            done = (matched if phase == "matching" else connected) / max(1, users)
        self.show(
            Snapshot(
                self.target.name,
                phase,
                users,
                connected,
                matched,
                sum(x.sent for x in p),
                sum(x.delivered for x in p),
                done,
            )
        )
