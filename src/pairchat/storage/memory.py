"""In-memory routing, match queue and inbox: the embedded backends that live in
the one logic process. Everything here is synchronous and single-threaded (the
logic's event loop), which is what makes each step atomic."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pairchat.storage.base import SessionRecord


@dataclass(frozen=True, slots=True)
class Route:
    """Where an account is connected: a broker and its connection id there."""

    broker_id: str
    conn_id: int


@dataclass(slots=True)
class Presence:
    """What routing knows of one account that has not logged out."""

    account_id: int
    nick: str
    route: Route | None = None
    sessions: set[int] = field(default_factory=set)  # open sessions
    partners: set[int] = field(default_factory=set)  # accounts with an open or pending session
    reserved: int = 0  # sessions being created for this account right now


class Routing:
    """Accounts, their routes and sessions, and the set of online accounts.

    Contract: `online` holds exactly the accounts whose route is set; a session is
    in `sessions` until it is closed and in both members' `Presence.sessions` while
    it is open.
    """

    def __init__(self) -> None:
        self.accounts: dict[int, Presence] = {}
        self.sessions: dict[int, SessionRecord] = {}
        self._online: list[int] = []
        self._online_index: dict[int, int] = {}

    # --- accounts and routes ---
    def add_account(self, account_id: int, nick: str) -> Presence:
        presence = self.accounts.get(account_id)
        if presence is None:
            presence = self.accounts[account_id] = Presence(account_id, nick)
        return presence

    def remove_account(self, account_id: int) -> None:
        self.unbind(account_id)
        self.accounts.pop(account_id, None)

    def bind(self, account_id: int, route: Route) -> Route | None:
        """Route the account to a connection; return the route it replaced."""
        presence = self.accounts[account_id]
        previous, presence.route = presence.route, route
        if account_id not in self._online_index:
            self._online_index[account_id] = len(self._online)
            self._online.append(account_id)
        return previous

    def unbind(self, account_id: int, route: Route | None = None) -> bool:
        """Drop the account's route (only if it is `route`, when given)."""
        presence = self.accounts.get(account_id)
        if presence is None or presence.route is None:
            return False
        if route is not None and presence.route != route:
            return False
        presence.route = None
        index = self._online_index.pop(account_id)
        last = self._online.pop()
        if last != account_id:
            self._online[index] = last
            self._online_index[last] = index
        return True

    def route_of(self, account_id: int) -> Route | None:
        presence = self.accounts.get(account_id)
        return None if presence is None else presence.route

    def on_broker(self, broker_id: str) -> list[int]:
        """Accounts routed to a broker."""
        return [
            p.account_id for p in self.accounts.values()
            if p.route is not None and p.route.broker_id == broker_id
        ]

    @property
    def online_count(self) -> int:
        return len(self._online)

    def random_online(self, rng: random.Random) -> Iterator[int]:
        """Online accounts in a random order, lazily: a few random picks first
        (cheap when most accounts qualify), then one full pass from a random offset."""
        n = len(self._online)
        if n == 0:
            return
        for _ in range(min(n, 8)):
            yield self._online[rng.randrange(n)]
        start = rng.randrange(n)
        for i in range(n):
            if i < len(self._online):
                yield self._online[(start + i) % len(self._online)]

    # --- sessions ---
    def open_session(self, session: SessionRecord) -> None:
        self.sessions[session.id] = session
        for member in session.members:
            presence = self.accounts.get(member)
            if presence is not None:
                presence.sessions.add(session.id)
                presence.partners.add(session.partner_of(member))

    def forget_session(self, session_id: int) -> None:
        """Drop a closed session (the store still has it)."""
        session = self.sessions.get(session_id)
        if session is not None and session.closed:
            del self.sessions[session_id]

    def close_session(self, session_id: int) -> SessionRecord | None:
        """Mark a session closed; None if unknown or closed already."""
        session = self.sessions.get(session_id)
        if session is None or session.closed:
            return None
        session.closed = True
        for member in session.members:
            presence = self.accounts.get(member)
            if presence is not None:
                presence.sessions.discard(session_id)
                presence.partners.discard(session.partner_of(member))
        return session


@dataclass(slots=True)
class Waiter:
    account_id: int
    future: asyncio.Future[object]


class MatchQueue:
    """Accounts waiting in MATCH, first come first served."""

    def __init__(self) -> None:
        self._queue: deque[Waiter] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, waiter: Waiter) -> None:
        self._queue.append(waiter)

    def remove(self, waiter: Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._queue.remove(waiter)

    def take_first(self, acceptable: Callable[[int], bool]) -> Waiter | None:
        """Remove and return the first live waiter for which acceptable(account_id)
        is true; waiters whose request already ended are dropped on the way."""
        for waiter in list(self._queue):
            if waiter.future.done():
                self._queue.remove(waiter)
                continue
            if acceptable(waiter.account_id):
                self._queue.remove(waiter)
                return waiter
        return None

    def drop_account(self, account_id: int) -> list[Waiter]:
        gone = [w for w in self._queue if w.account_id == account_id]
        for waiter in gone:
            self._queue.remove(waiter)
        return gone


class Inbox:
    """The queue between logic and the delivery worker: FIFO, so pushes of one
    session leave in msgId order. Entries are the worker's `delivery.entries`."""

    def __init__(self) -> None:
        self._items: list[object] = []
        self._ready = asyncio.Event()

    def put(self, entry: object) -> None:
        self._items.append(entry)
        self._ready.set()

    def put_many(self, entries: list[object]) -> None:
        if entries:
            self._items.extend(entries)
            self._ready.set()

    async def take(self) -> list[object]:
        """Everything queued, in order, waiting until there is something."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        items, self._items = self._items, []
        return items

    def __len__(self) -> int:
        return len(self._items)
