"""`Routing` (routing.py) in the one logic process of the embedded mode, which
also runs the delivery worker. Everything lives in the process and runs on its
event loop, so each method is trivially atomic."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pairchat.storage.records import Route, SessionRecord
from pairchat.storage.routing import Pairing

_SAMPLES = 8  # random picks tried before one full pass over the online accounts


@dataclass(frozen=True, slots=True)
class _Entry:
    """A waiting MATCH request."""

    account_id: int
    token: str
    interests: frozenset[str]
    strict: bool


class MemoryRouting:
    """`Routing` in plain structures. `pair` examines the whole match queue, so
    its random picks skip every waiting account (the queue had its say on them);
    it samples a few random online accounts before it sweeps them all, which
    keeps it cheap with many online.

    Args:
        rng: where random picks come from (a seeded one in tests).
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()
        self._routes: dict[int, Route] = {}
        self._online: list[int] = []
        self._online_index: dict[int, int] = {}
        self._partners: dict[int, set[int]] = {}
        self._sessions: dict[int, SessionRecord] = {}
        self._sessions_of: dict[int, set[int]] = {}
        # (account, token) -> entry, oldest first (dicts keep insertion order)
        self._queue: dict[tuple[int, str], _Entry] = {}
        self._waits: dict[int, set[str]] = {}  # account -> the tokens it waits with
        self._blocks: dict[int, set[int]] = {}
        self._unavailable: set[int] = set()
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

    async def forget(self, account_id: int) -> None:
        await self.unbind(account_id)
        self._drop_waiters(account_id)
        self._partners.pop(account_id, None)
        self._sessions_of.pop(account_id, None)
        self._unavailable.discard(account_id)

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

    # --- match queue ---
    def _acceptable(self, me: int, other: int, max_sessions: int) -> bool:
        return (
            other != me
            and other in self._routes
            and other not in self._partners.get(me, ())
            and len(self._partners.get(other, ())) < max_sessions
            and other not in self._blocks.get(me, ())
        )

    async def pair(
        self,
        account_id: int,
        max_sessions: int,
        waiters_only: bool = False,
        interests: Sequence[str] = (),
        strict: bool = False,
    ) -> Pairing | None:
        if len(self._partners.get(account_id, ())) >= max_sessions:
            return None
        chosen = self._best_waiter(account_id, max_sessions, tuple(interests), strict)
        if chosen is None and not (waiters_only or strict):
            for other in self._random_online():
                if (
                    other not in self._waits
                    and other not in self._unavailable
                    and self._acceptable(account_id, other, max_sessions)
                ):
                    chosen = Pairing(other)
                    break
        if chosen is not None:
            self._partners.setdefault(account_id, set()).add(chosen.partner_id)
            self._partners.setdefault(chosen.partner_id, set()).add(account_id)
        return chosen

    def _best_waiter(
        self, account_id: int, max_sessions: int, interests: tuple[str, ...], strict: bool
    ) -> Pairing | None:
        """Take the acceptable entry sharing the most interests, the oldest among
        equals, out of the queue."""
        best: _Entry | None = None
        best_common: tuple[str, ...] = ()
        for entry in self._queue.values():
            common = tuple(i for i in interests if i in entry.interests)
            if (
                (best is None or len(common) > len(best_common))
                and (common or not (strict or entry.strict))
                and self._acceptable(account_id, entry.account_id, max_sessions)
            ):
                best, best_common = entry, common
                if len(common) == len(interests):
                    break  # nothing can share more
        if best is None:
            return None
        self._remove(best.account_id, best.token)
        return Pairing(best.account_id, best.token, best_common)

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

    async def wait(
        self,
        account_id: int,
        token: str,
        interests: Sequence[str] = (),
        strict: bool = False,
    ) -> None:
        self._remove(account_id, token)  # a token waiting again joins the end
        self._queue[account_id, token] = _Entry(account_id, token, frozenset(interests), strict)
        self._waits.setdefault(account_id, set()).add(token)

    async def stop_waiting(self, account_id: int, token: str) -> bool:
        return self._remove(account_id, token)

    async def relax(self, account_id: int, token: str) -> bool:
        entry = self._queue.get((account_id, token))
        if entry is None:
            return False
        # assigning an existing key keeps its place in the (ordered) queue
        self._queue[account_id, token] = replace(entry, strict=False)
        return True

    async def waiting_count(self) -> int:
        return len(self._queue)

    def _remove(self, account_id: int, token: str) -> bool:
        if self._queue.pop((account_id, token), None) is None:
            return False
        tokens = self._waits[account_id]
        tokens.discard(token)
        if not tokens:
            del self._waits[account_id]
        return True

    def _drop_waiters(self, account_id: int) -> None:
        for token in self._waits.pop(account_id, ()):
            del self._queue[account_id, token]

    async def block(self, a: int, b: int) -> None:
        self._blocks.setdefault(a, set()).add(b)
        self._blocks.setdefault(b, set()).add(a)

    async def load_blocks(self, pairs: Sequence[tuple[int, int]]) -> None:
        for a, b in pairs:
            await self.block(a, b)

    async def set_available(self, account_id: int, available: bool) -> None:
        if available:
            self._unavailable.discard(account_id)
        else:
            self._unavailable.add(account_id)

    async def notify(self, token: str, payload: bytes) -> None:
        if self._notify is not None:
            self._notify(token, payload)

    def on_notify(self, callback: Callable[[str, bytes], None]) -> None:
        self._notify = callback

    def make_token(self) -> str:
        return uuid.uuid4().hex

    # --- replay marks ---
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

    # --- loading and closing ---
    async def claim_load(self) -> bool:
        first, self._loaded = not self._loaded, True
        return first

    async def close(self) -> None:
        return None
