"""Which brokers are alive, and where the delivery workers reach their Push
service.

`MemoryBrokers` (brokers_memory.py) in the embedded mode, `RedisBrokers`
(brokers_redis.py) in the scaled one; tests/contract/test_timers_brokers.py
checks both against the docstrings.
"""

from __future__ import annotations

from typing import Protocol


class Brokers(Protocol):
    """Liveness of brokers and where workers reach their Push service."""

    async def alive(
        self, broker_id: str, push_target: str, ttl: float, holder: str, *, take: bool = False
    ) -> bool:
        """Say the broker is alive for `ttl` more seconds; `holder` names the
        process saying so (the logic process the broker streams to). With
        `take` (the broker said hello to `holder`), `holder` holds it from now
        on. Without (a renewal), only if `holder` still holds it or nobody does
        (its liveness ran out meanwhile); False, and nothing changes, when
        another process took it over (this one stalled and the broker moved)."""
        ...

    async def gone(self, broker_id: str, holder: str) -> None:
        """Forget the broker, if `holder` is the process that last said it alive;
        otherwise nothing changes: the broker went on with another process (it
        failed over while `holder` stalled), which keeps renewing it."""
        ...

    async def targets(self) -> dict[str, str]:
        """Brokers and their push targets, until `expired` reports them: only
        `expired` declares a broker dead (a deadline passed during an engine
        stall is not a dead broker)."""
        ...

    async def expired(self) -> list[str]:
        """Brokers whose liveness ran out since the last call (each reported once,
        to one caller)."""
        ...
