"""The embedded implementations of the routing interfaces (storage/routing.py),
for one logic process that also runs the delivery worker. Everything lives in
the process and runs on its event loop, so each method is trivially atomic."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import uuid
from collections import deque
from collections.abc import Callable, Sequence

from pairchat.delivery.entries import Entry
from pairchat.storage.base import Route, SessionRecord
from pairchat.storage.routing import Pairing

_SAMPLES = 8  # random picks tried before one full pass over the online accounts


class MemoryRouting:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()
        self._routes: dict[int, Route] = {}
        self._online: list[int] = []
        self._online_index: dict[int, int] = {}
        self._partners: dict[int, set[int]] = {}
        self._sessions: dict[int, SessionRecord] = {}
        self._sessions_of: dict[int, set[int]] = {}
        self._queue: deque[tuple[int, str]] = deque()
        self._replaying: dict[tuple[int, int], int] = {}
        self._notify: Callable[[str, bytes], None] | None = None
        self._loaded = False

    # --- presence ---
    async def bind(self, account_id: int, route: Route) -> Route | None:
        previous = self._routes.get(account_id)
        self._routes[account_id] = route
        if account_id not in self._online_index:
            self._online_index[account_id] = len(self._online)
            self._online.append(account_id)
        return previous

    async def unbind(self, account_id: int, route: Route | None = None) -> bool:
        current = self._routes.get(account_id)
        if current is None or (route is not None and current != route):
            return False
        del self._routes[account_id]
        index = self._online_index.pop(account_id)
        last = self._online.pop()
        if last != account_id:
            self._online[index] = last
            self._online_index[last] = index
        self._drop_waiters(account_id)
        return True

    async def routes(self, account_ids: Sequence[int]) -> list[Route | None]:
        get = self._routes.get
        return [get(a) for a in account_ids]

    async def routed_to(self, broker_id: str) -> list[tuple[int, Route]]:
        return [(a, r) for a, r in self._routes.items() if r.broker_id == broker_id]

    async def online_count(self) -> int:
        return len(self._online)

    # --- sessions ---
    async def add_session(self, session: SessionRecord) -> None:
        self._sessions[session.id] = session
        a, b = session.members
        self._partners.setdefault(a, set()).add(b)
        self._partners.setdefault(b, set()).add(a)
        self._sessions_of.setdefault(a, set()).add(session.id)
        self._sessions_of.setdefault(b, set()).add(session.id)

    async def end_session(self, session_id: int) -> SessionRecord | None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return None
        a, b = session.members
        self._partners.get(a, set()).discard(b)
        self._partners.get(b, set()).discard(a)
        self._sessions_of.get(a, set()).discard(session_id)
        self._sessions_of.get(b, set()).discard(session_id)
        return SessionRecord(session.id, session.members, closed=True)

    async def session(self, session_id: int) -> SessionRecord | None:
        return self._sessions.get(session_id)

    async def sessions_of(self, account_id: int) -> list[SessionRecord]:
        return [self._sessions[s] for s in sorted(self._sessions_of.get(account_id, ()))]

    # --- matching ---
    def _acceptable(self, me: int, other: int, max_sessions: int) -> bool:
        return (
            other != me
            and other in self._routes
            and other not in self._partners.get(me, ())
            and len(self._partners.get(other, ())) < max_sessions
        )

    async def pair(
        self, account_id: int, max_sessions: int, waiters_only: bool = False
    ) -> Pairing | None:
        if len(self._partners.get(account_id, ())) >= max_sessions:
            return None
        chosen: Pairing | None = None
        for entry in self._queue:
            if self._acceptable(account_id, entry[0], max_sessions):
                self._queue.remove(entry)
                chosen = Pairing(entry[0], entry[1])
                break
        if chosen is None and not waiters_only:
            for other in self._random_online():
                if self._acceptable(account_id, other, max_sessions):
                    chosen = Pairing(other)
                    break
        if chosen is not None:
            self._partners.setdefault(account_id, set()).add(chosen.partner_id)
            self._partners.setdefault(chosen.partner_id, set()).add(account_id)
        return chosen

    def _random_online(self) -> itertools.chain[int]:
        n = len(self._online)
        if n == 0:
            return itertools.chain()
        start = self._rng.randrange(n)
        picks = [self._online[self._rng.randrange(n)] for _ in range(min(n, _SAMPLES))]
        sweep = [self._online[(start + i) % n] for i in range(n)]
        return itertools.chain(picks, sweep)

    async def release(self, a: int, b: int) -> None:
        self._partners.get(a, set()).discard(b)
        self._partners.get(b, set()).discard(a)

    async def wait(self, account_id: int, token: str) -> None:
        self._queue.append((account_id, token))

    async def stop_waiting(self, account_id: int, token: str) -> bool:
        try:
            self._queue.remove((account_id, token))
        except ValueError:
            return False
        return True

    async def waiting_count(self) -> int:
        return len(self._queue)

    def _drop_waiters(self, account_id: int) -> None:
        if any(a == account_id for a, _ in self._queue):
            self._queue = deque(e for e in self._queue if e[0] != account_id)

    async def notify(self, token: str, payload: bytes) -> None:
        if self._notify is not None:
            self._notify(token, payload)

    def on_notify(self, callback: Callable[[str, bytes], None]) -> None:
        self._notify = callback

    def make_token(self) -> str:
        return uuid.uuid4().hex

    # --- replay markers ---
    async def begin_replay(self, account_id: int, session_ids: Sequence[int]) -> None:
        for session_id in session_ids:
            key = (account_id, session_id)
            self._replaying[key] = self._replaying.get(key, 0) + 1

    async def end_replay(self, account_id: int, session_id: int) -> None:
        key = (account_id, session_id)
        count = self._replaying.get(key, 0) - 1
        if count > 0:
            self._replaying[key] = count
        else:
            self._replaying.pop(key, None)

    async def replaying(self, keys: Sequence[tuple[int, int]]) -> list[bool]:
        marked = self._replaying
        return [k in marked for k in keys] if marked else [False] * len(keys)

    # --- accounts ---
    async def claim_load(self) -> bool:
        first, self._loaded = not self._loaded, True
        return first

    async def forget(self, account_id: int) -> None:
        await self.unbind(account_id)
        self._drop_waiters(account_id)
        self._partners.pop(account_id, None)
        self._sessions_of.pop(account_id, None)

    async def close(self) -> None:
        return None


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


class MemoryInbox:
    """One FIFO: with a single consumer, every session's entries stay in order."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Entry]] = []
        self._ready = asyncio.Event()
        self._ids = itertools.count(1)

    async def put(self, entries: Sequence[Entry]) -> None:
        if entries:
            ids = self._ids
            self._items.extend((str(next(ids)), e) for e in entries)
            self._ready.set()

    async def take(self, consumer: str, limit: int) -> list[tuple[str, Entry]]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        out = self._items[:limit]
        del self._items[:limit]
        return out

    async def done(self, consumer: str, ids: Sequence[str]) -> None:
        return None  # taken entries are gone already: the store replays on RECONNECT

    async def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._items)


class MemoryBrokers:
    def __init__(self) -> None:
        self._targets: dict[str, str] = {}
        self._deadlines: dict[str, float] = {}

    async def alive(self, broker_id: str, push_target: str, ttl: float) -> None:
        self._targets[broker_id] = push_target
        self._deadlines[broker_id] = asyncio.get_running_loop().time() + ttl

    async def gone(self, broker_id: str) -> None:
        self._targets.pop(broker_id, None)
        self._deadlines.pop(broker_id, None)

    async def targets(self) -> dict[str, str]:
        return dict(self._targets)

    async def expired(self) -> list[str]:
        now = asyncio.get_running_loop().time()
        dead = [b for b, t in self._deadlines.items() if t < now]
        for broker_id in dead:
            await self.gone(broker_id)
        return dead
