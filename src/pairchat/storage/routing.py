"""Who is connected where, which sessions are open between whom, who waits in
MATCH, and which replays are pending: the shared, non-durable routing state of
a deployment, behind role-sized interfaces.

- `Presence`: routes (account -> broker connection) and who is online;
- `Sessions`: the open sessions and their members;
- `MatchQueue`: pairing, the queue of waiting MATCH requests, and the notices
  that answer a request waiting in another process;
- `ReplayMarks`: the replays pending per (account, session), which hold pushes
  back until the worker meets them;
- `Routing`: all of them, plus loading and closing; one object implements it
  all, since pairing reads presence and sessions in the same atomic step.

`MemoryRouting` (routing_memory.py) implements it in one logic process (the
embedded mode), `RedisRouting` (routing_redis.py) for any number of logic and
worker processes (the scaled mode). The docstrings are the contract;
tests/contract/test_routing.py checks both against them. Every method is
atomic on its own: a caller never observes half of another caller's step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pairchat.storage.records import Route, SessionRecord


@dataclass(frozen=True, slots=True)
class Pairing:
    """The partner `MatchQueue.pair` chose. `waiter` is the token the partner
    waited with when it came from the match queue ("" when it was picked among
    the online accounts): its MATCH request is still open and must be answered.
    `common` holds the interests both named, in the requester's order (() when
    the partner was not waiting: an account picked at random has none)."""

    partner_id: int
    waiter: str = ""
    common: tuple[str, ...] = ()


class Presence(Protocol):
    """Where each online account is connected."""

    async def bind(self, account_id: int, route: Route) -> Route | None:
        """Route the account to a connection, which makes it online; return the
        route this replaced (None if it was offline)."""
        ...

    async def unbind(self, account_id: int, route: Route | None = None) -> bool:
        """Take the account offline if its route is `route` (any route if None);
        True if it was. The match-queue entries of an account that is offline
        after this call are dropped."""
        ...

    async def routes(self, account_ids: Sequence[int]) -> list[Route | None]:
        """The current route of each account, in order (one round trip)."""
        ...

    async def routed_to(self, broker_id: str) -> list[tuple[int, Route]]:
        """Every account routed to a broker, with its route."""
        ...

    async def online_count(self) -> int: ...

    async def forget(self, account_id: int) -> None:
        """The account logged out: offline, out of the match queue, available
        again; its blocks stay. Its sessions must have been ended first."""
        ...


class Sessions(Protocol):
    """The open sessions and who they are between."""

    async def add_session(self, session: SessionRecord) -> None:
        """Record an open session (its members are partners already: `pair`
        reserved that, or it is loaded at start-up)."""
        ...

    async def end_session(self, session_id: int) -> SessionRecord | None:
        """Remove an open session and the partnership; exactly one of several
        concurrent callers gets the record, the others None."""
        ...

    async def session(self, session_id: int) -> SessionRecord | None:
        """An open session, or None (never existed, or ended)."""
        ...

    async def sessions_of(self, account_id: int) -> list[SessionRecord]:
        """The account's open sessions, by id."""
        ...


class MatchQueue(Protocol):
    """Choosing partners, and the MATCH requests waiting for one.

    Interests are normalized by the caller: lowercased, trimmed, 1-24
    characters, at most 5, no duplicates. Any character may occur in them
    (separators such as '|' and ',', '%', spaces, emoji): backends store them
    so that only equal strings compare equal. A `strict` side is in its interest
    phase: it wants a partner sharing at least one of its interests (so a strict
    side without interests matches nobody)."""

    async def pair(
        self,
        account_id: int,
        max_sessions: int,
        waiters_only: bool = False,
        interests: Sequence[str] = (),
        strict: bool = False,
    ) -> Pairing | None:
        """Atomically choose a partner for `account_id`, who names `interests`.

        An account is acceptable when it is online, not `account_id`, not already
        its partner, has fewer than `max_sessions` partners and is not blocked
        with it (`block`). None at once when `account_id` itself has
        `max_sessions` partners.

        1. The match queue: an entry (a waiting MATCH) of an acceptable account
           is acceptable if it shares at least one interest with the requester,
           or if neither side is strict. Of those, the entry sharing the most
           interests is taken out of the queue; among equals the one waiting
           longest (first come, first served). A waiting account is taken
           whether or not it is available (it asked).
        2. Unless `waiters_only` or `strict`: a random acceptable online account
           that is available (`set_available`). A waiting account is taken this
           way only through one of its entries, by the rules of step 1 (a strict
           waiter sharing nothing never), and that entry leaves the queue.

        The two become partners before this returns, so no concurrent `pair` can
        overbook them or pair them twice. None if nobody is acceptable.
        `waiters_only` serves an account that just came online: it is offered to
        the waiting, never paired with someone who did not ask; it names no
        interests and is not strict, so only waiters that are not strict take it.
        Backends may bound the part of the queue one call examines (then
        stopping early only when no better entry is possible)."""
        ...

    async def release(self, a: int, b: int) -> None:
        """Undo a `pair` whose session could not be created."""
        ...

    async def wait(
        self,
        account_id: int,
        token: str,
        interests: Sequence[str] = (),
        strict: bool = False,
    ) -> None:
        """Join the end of the match queue; `token` identifies this MATCH request,
        `interests` and `strict` are what `pair` matches it by. A token queued
        already moves to the end, with the new interests and strictness."""
        ...

    async def stop_waiting(self, account_id: int, token: str) -> bool:
        """Leave the match queue; False if the entry is gone already: `pair` took
        it (its result is then on the way through `notify`) or the account went
        offline."""
        ...

    async def relax(self, account_id: int, token: str) -> bool:
        """The entry's interest wait is over: it keeps its place in the queue but
        is no longer strict (the ordinary rules take it from now on, those
        sharing the most interests still first). False if it is gone already,
        as for `stop_waiting`."""
        ...

    async def waiting_count(self) -> int: ...

    async def block(self, a: int, b: int) -> None:
        """`a` and `b` are never paired again, whichever of them asks (idempotent).
        A block outlives sessions and logins (`forget` keeps it)."""
        ...

    async def load_blocks(self, pairs: Sequence[tuple[int, int]]) -> None:
        """`block` every pair: the durable blocks, loaded by whoever `claim_load`
        chose at start-up."""
        ...

    async def set_available(self, account_id: int, available: bool) -> None:
        """Whether random picks of `pair` may take the account (True for every
        account until said otherwise). An unavailable account is still taken
        through its match-queue entries: it asked. `forget` resets it."""
        ...

    async def notify(self, token: str, payload: bytes) -> None:
        """Deliver a payload to whoever registered for `token` with `on_notify`,
        in whichever process that is. At most once: a payload sent while that
        process is cut off from the engine is lost, and the waiting request ends
        at its deadline."""
        ...

    def on_notify(self, callback: Callable[[str, bytes], None]) -> None:
        """Receive the payloads `notify` sends to tokens of this process."""
        ...

    def make_token(self) -> str:
        """A new token for `wait`, routed back to this process by `notify`."""
        ...


class ReplayMarks(Protocol):
    """Replays queued after a RECONNECT, which hold a session's pushes back."""

    async def begin_replay(self, account_id: int, session_ids: Sequence[int]) -> None:
        """Count one more pending replay for each (account, session): the worker
        holds back that session's pushes to the account until it meets the Replay
        entry. A counter, not a flag: two quick RECONNECTs queue two replays, and
        the first one handled must not release what the second holds back."""
        ...

    async def end_replay(self, account_id: int, session_id: int) -> None:
        """Count one pending replay less (never below zero)."""
        ...

    async def replaying(self, keys: Sequence[tuple[int, int]]) -> list[bool]:
        """For each (account, session): is a replay pending? (one round trip)"""
        ...


class Routing(Presence, Sessions, MatchQueue, ReplayMarks, Protocol):
    """All of the routing state of a deployment, as one logic process uses it."""

    async def claim_load(self) -> bool:
        """True to exactly one caller, the first ever on this routing state: that
        caller loads the open sessions, grace timers and blocks (`load_blocks`)
        from the durable store (after a restart of the embedded mode, or of an
        empty Redis)."""
        ...

    async def close(self) -> None:
        """Stop whatever runs in the background (notice listening); the engine's
        connection belongs to whoever opened it."""
        ...
