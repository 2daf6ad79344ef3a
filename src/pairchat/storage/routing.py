"""The shared, non-durable state of a deployment, behind small interfaces:

- `Routing`: who is connected where (routes and presence), which sessions are
  open between whom, the match queue, and which replays are pending;
- `Timers`: offline grace periods that outlive the process that set them;
- `Inbox`: the work queue from logic to the delivery workers;
- `Brokers`: which brokers are alive and where their Push service listens.

`storage.memory` implements them in one logic process (the embedded mode);
`storage.redis` for any number of logic and worker processes (the scaled mode).
The docstrings are the contract; tests/contract checks every implementation
against them. Every method is atomic on its own: a caller never observes half
of another caller's step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pairchat.delivery.entries import Entry
from pairchat.storage.base import Route, SessionRecord

__all__ = ["Brokers", "Inbox", "Pairing", "Route", "Routing", "Timers"]


@dataclass(frozen=True, slots=True)
class Pairing:
    """The partner `Routing.pair` chose. `waiter` is the token the partner waited
    with when it came from the match queue ("" when it was picked among the
    online accounts): its MATCH request is still open and must be answered."""

    partner_id: int
    waiter: str = ""


class Routing(Protocol):
    # --- presence ---
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

    # --- sessions ---
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

    # --- matching ---
    async def pair(
        self, account_id: int, max_sessions: int, waiters_only: bool = False
    ) -> Pairing | None:
        """Atomically choose a partner for `account_id`: the longest-waiting
        acceptable account in the match queue (taken out of it), else (unless
        `waiters_only`) a random acceptable online account. Acceptable: online, not
        `account_id`, not already its partner, fewer than `max_sessions` partners.
        None as well when `account_id` itself has `max_sessions` partners.
        The two become partners before this returns, so no concurrent `pair` can
        overbook them or pair them twice. None if nobody is acceptable.
        `waiters_only` serves an account that just came online: it is offered to
        the waiting, never paired with someone who did not ask."""
        ...

    async def release(self, a: int, b: int) -> None:
        """Undo a `pair` whose session could not be created."""
        ...

    async def wait(self, account_id: int, token: str) -> None:
        """Join the end of the match queue; `token` identifies this MATCH request."""
        ...

    async def stop_waiting(self, account_id: int, token: str) -> bool:
        """Leave the match queue; False if the entry is gone already: `pair` took
        it (its result is then on the way through `notify`) or the account went
        offline."""
        ...

    async def waiting_count(self) -> int: ...

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

    # --- replay markers ---
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

    # --- accounts ---
    async def claim_load(self) -> bool:
        """True to exactly one caller, the first ever on this routing state: that
        caller loads the open sessions and grace timers from the durable store
        (after a restart of the embedded mode, or of an empty Redis)."""
        ...

    async def forget(self, account_id: int) -> None:
        """The account logged out: offline, out of the match queue. Its sessions
        must have been ended first."""
        ...

    async def close(self) -> None: ...


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


class Inbox(Protocol):
    """The queue from logic to the delivery workers. Entries of one session are
    taken in the order they were put (their `session_id` is the ordering key); an
    entry taken but not marked done is taken again by another consumer once the
    first is gone (at-least-once)."""

    async def put(self, entries: Sequence[Entry]) -> None: ...

    async def take(self, consumer: str, limit: int) -> list[tuple[str, Entry]]:
        """Up to `limit` entries with their ids, waiting until there is one."""
        ...

    async def done(self, consumer: str, ids: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class Brokers(Protocol):
    """Liveness of brokers and where workers reach their Push service."""

    async def alive(self, broker_id: str, push_target: str, ttl: float) -> None:
        """Say the broker is alive for `ttl` more seconds."""
        ...

    async def gone(self, broker_id: str) -> None: ...

    async def targets(self) -> dict[str, str]:
        """Brokers and their push targets, until `expired` reports them: only
        `expired` declares a broker dead (a deadline passed during an engine
        stall is not a dead broker)."""
        ...

    async def expired(self) -> list[str]:
        """Brokers whose liveness ran out since the last call (each reported once,
        to one caller)."""
        ...
