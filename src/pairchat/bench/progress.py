"""The live progress bar: one line per target, on stderr so that the report on
stdout stays clean when piped."""

from __future__ import annotations

import time
from collections import deque
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from pairchat.bench.driver import Snapshot

RATE_WINDOW = 1.0  # seconds over which the live msgs/s is averaged


class LiveProgress:
    """A context manager; `show` is the driver's progress callback."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.fields[target]:<22}"),
            TextColumn("{task.fields[phase]:<10}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._samples: dict[str, deque[tuple[float, int]]] = {}

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def show(self, snap: Snapshot) -> None:
        task = self._tasks.get(snap.target)
        if task is None:
            task = self._progress.add_task("", total=1.0, target=snap.target, phase="", detail="")
            self._tasks[snap.target] = task
            self._samples[snap.target] = deque()
        samples = self._samples[snap.target]
        now = time.monotonic()
        samples.append((now, snap.delivered))
        while len(samples) > 2 and samples[1][0] < now - RATE_WINDOW:
            samples.popleft()
        span = samples[-1][0] - samples[0][0]
        rate = (samples[-1][1] - samples[0][1]) / span if span > 0 else 0.0
        detail = f"users {snap.connected}/{snap.users} connected, {snap.matched} matched"
        if snap.phase in ("warmup", "measuring", "draining", "done"):
            detail += f", {rate:,.0f} msg/s delivered"
        self._progress.update(
            task, completed=min(1.0, snap.phase_done), phase=snap.phase, detail=detail
        )
