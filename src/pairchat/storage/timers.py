"""Offline grace periods that outlive the process that set them.

`MemoryTimers` (timers_memory.py) in the embedded mode, `RedisTimers`
(timers_redis.py) in the scaled one; tests/contract/test_timers_brokers.py
checks both against the docstrings.
"""

from __future__ import annotations

from typing import Protocol


class Timers(Protocol):
    """Offline grace periods: a deadline per account."""

    async def set(self, account_id: int, due: float) -> None:
        """Set (or move) the account's deadline, in seconds since the epoch."""
        ...

    async def cancel(self, account_id: int) -> None: ...

    async def take_due(self, now: float) -> list[int]:
        """Remove and return the accounts whose deadline is <= now; each is
        returned to exactly one caller, across processes."""
        ...
