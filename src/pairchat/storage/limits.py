"""Rate limits shared by every logic process: event counts per key in a window.

`MemoryLimits` (limits_memory.py) in the embedded mode, `RedisLimits`
(limits_redis.py) in the scaled one, so that a client reaching several logic
processes meets one limit; tests/contract/test_limits.py checks both against
the docstrings.
"""

from __future__ import annotations

from typing import Protocol


class Limits(Protocol):
    """Fixed windows of events per key: a key's window opens at its first event
    and lasts `window` seconds; then the key starts afresh. Keys are the
    caller's (e.g. "accounts:203.0.113.9"); each implementation keeps them apart
    from every other name it stores."""

    async def hit(self, key: str, limit: int, window: float) -> float:
        """Count one event for `key` (atomically, across processes).

        Returns 0.0 while the window holds at most `limit` events, this one
        included; otherwise the seconds until the window ends (> 0), when the
        caller may retry. Events over the limit are counted too but never
        extend the window.
        """
        ...

    async def blocked(self, key: str, limit: int) -> float:
        """Count nothing: the seconds until `key`'s window ends if it holds
        `limit` events or more (> 0), else 0.0."""
        ...
