"""`Limits` (limits.py) in the one logic process of the embedded mode: counts
in a dict, on a monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Callable

_MIN_SWEEP = 1024  # entries below which expired ones are left for the next check


class MemoryLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Args:
        clock: seconds, never going back.
        """
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (events, end of window)
        self._sweep_at = _MIN_SWEEP

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = self._clock()
        count, end = self._windows.get(key, (0, now))
        if end <= now:
            count, end = 0, now + window
        self._windows[key] = (count + 1, end)
        if len(self._windows) >= self._sweep_at:
            self._sweep(now)
        return end - now if count + 1 > limit else 0.0

    async def blocked(self, key: str, limit: int) -> float:
        now = self._clock()
        count, end = self._windows.get(key, (0, now))
        return end - now if end > now and count >= limit else 0.0

    def _sweep(self, now: float) -> None:
        """Drop ended windows once the dict has doubled since the last sweep:
        keys come from clients (addresses), so they must not pile up."""
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        self._sweep_at = max(_MIN_SWEEP, 2 * len(self._windows))
