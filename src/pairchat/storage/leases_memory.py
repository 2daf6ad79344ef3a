"""`Leases` (leases.py) in the one logic process of the embedded mode, on its
event loop's clock."""

from __future__ import annotations

import asyncio


class MemoryLeases:
    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}  # name -> (holder, deadline)

    async def hold(self, name: str, holder: str, ttl: float) -> bool:
        now = asyncio.get_running_loop().time()
        current = self._held.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._held[name] = (holder, now + ttl)
        return True

    async def release(self, name: str, holder: str) -> None:
        current = self._held.get(name)
        if current is not None and current[0] == holder:
            del self._held[name]
