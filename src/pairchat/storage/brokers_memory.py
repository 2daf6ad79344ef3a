"""`Brokers` (brokers.py) in the one logic process of the embedded mode, on
its event loop's clock."""

from __future__ import annotations

import asyncio


class MemoryBrokers:
    def __init__(self) -> None:
        self._targets: dict[str, str] = {}
        self._deadlines: dict[str, float] = {}
        self._holders: dict[str, str] = {}

    async def alive(
        self, broker_id: str, push_target: str, ttl: float, holder: str, *, take: bool = False
    ) -> bool:
        if not take and self._holders.get(broker_id, holder) != holder:
            return False
        self._targets[broker_id] = push_target
        self._deadlines[broker_id] = asyncio.get_running_loop().time() + ttl
        self._holders[broker_id] = holder
        return True

    async def gone(self, broker_id: str, holder: str) -> None:
        if self._holders.get(broker_id) == holder:
            self._forget(broker_id)

    def _forget(self, broker_id: str) -> None:
        self._targets.pop(broker_id, None)
        self._deadlines.pop(broker_id, None)
        self._holders.pop(broker_id, None)

    async def targets(self) -> dict[str, str]:
        return dict(self._targets)

    async def expired(self) -> list[str]:
        now = asyncio.get_running_loop().time()
        dead = [b for b, t in self._deadlines.items() if t < now]
        for broker_id in dead:
            self._forget(broker_id)
        return dead
