"""`Timers` (timers.py) in the one logic process of the embedded mode: a heap
of deadlines on its event loop."""

from __future__ import annotations

import heapq


class MemoryTimers:
    def __init__(self) -> None:
        self._due: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []

    async def set(self, account_id: int, due: float) -> None:
        self._due[account_id] = due
        heapq.heappush(self._heap, (due, account_id))

    async def cancel(self, account_id: int) -> None:
        self._due.pop(account_id, None)

    async def take_due(self, now: float) -> list[int]:
        out: list[int] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, account_id = heapq.heappop(heap)
            if self._due.get(account_id) == due:  # not cancelled nor moved
                del self._due[account_id]
                out.append(account_id)
        return out
