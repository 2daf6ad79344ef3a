"""Rate limits for the log lines a client can cause: at most one line per key
(a connection, an address, a kind of event) per interval; the next line says
how many were suppressed. A client must not be able to fill the disk or hide
other events in a flood. The clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Final

OVERFLOW: Final = "*"  # the key shared by new keys while the table is full of live ones


class LogLimiter:
    """Whether a line may be logged now, per key."""

    __slots__ = ("_clock", "_keys", "interval", "max_keys")

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._keys: dict[Hashable, list[float]] = {}  # key -> [last line's time, suppressed]

    def admit(self, key: Hashable) -> int | None:
        """None if the line is suppressed; else log it, with the number of
        lines of this key suppressed since its last one."""
        now = self._clock()
        entry = self._keys.get(key)
        if entry is None:
            if len(self._keys) >= self.max_keys:
                self._prune(now)
                if len(self._keys) >= self.max_keys:
                    key = OVERFLOW
                    entry = self._keys.get(key)
            if entry is None:
                self._keys[key] = [now, 0]
                return 0
        if now - entry[0] < self.interval:
            entry[1] += 1
            return None
        suppressed = int(entry[1])
        entry[0], entry[1] = now, 0
        return suppressed

    def forget(self, key: Hashable) -> None:
        """Drop a key that cannot come back (a closed connection)."""
        self._keys.pop(key, None)

    def _prune(self, now: float) -> None:
        # Keys past their interval are dropped with their count: bounded memory
        # matters more than the count of an old burst.
        stale = [k for k, (last, _) in self._keys.items() if now - last >= self.interval]
        for k in stale:
            del self._keys[k]
