"""The storage and routing interfaces, and the records they exchange.

Two families, each with an embedded implementation now and a scaled one later:
- `Store`: durable state (accounts, sessions, messages, acknowledgements,
  pending signals): SQLite in `--data-dir`, PostgreSQL when scaled;
- `Routing`: who is connected where, which sessions exist between whom, who
  waits in MATCH: memory in the logic process, Redis when scaled;
- `Inbox`: the work queue between logic and the delivery worker.
Docstrings state each method's contract; the contract suite checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class StoreUnavailable(RuntimeError):
    """The store's engine cannot be reached (or refuses the connection). The
    message names where it was looked for, never a password."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where an account is connected: a broker and its connection id there."""

    broker_id: str
    conn_id: int


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    nick: str
    token_hash: bytes
    logged_out: bool


@dataclass(slots=True)
class SessionRecord:
    id: int
    members: tuple[int, int]
    closed: bool = False

    def partner_of(self, account_id: int) -> int:
        a, b = self.members
        return b if account_id == a else a


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A DIALOGUE to store; request_id makes it idempotent per sender."""

    session_id: int
    sender_id: int
    content: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    session_id: int
    msg_id: int
    sender_id: int
    content: str
    created_at: int  # milliseconds since the epoch
    duplicate: bool = False  # True when a repeated requestId returned the first message
    closed: bool = False  # True when the session had ended: nothing was stored (msg_id 0)


@dataclass(frozen=True, slots=True)
class Signal:
    """A PUSH_SIGNAL kept until acknowledged (NewSession, PartnerExit, ViewedAck)."""

    receiver_id: int
    session_id: int
    signal_type: str
    sender_id: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What logic loads at start: accounts not logged out and open sessions."""

    accounts: list[Account]
    sessions: list[SessionRecord]


class Store(Protocol):
    """Durable state. Every method commits before it returns."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def snapshot(self) -> Snapshot: ...

    async def create_account(self, nick: str, token_hash: bytes, now_ms: int) -> int:
        """Store a new account and return its id (unique, never reused)."""
        ...

    async def get_account(self, account_id: int) -> Account | None: ...

    async def logout_account(self, account_id: int, now_ms: int) -> None:
        """Mark the account logged out; its token stops working. Idempotent."""
        ...

    async def create_session(
        self, a: int, b: int, now_ms: int, announce: dict[str, Any] | None = None
    ) -> int:
        """Store an open session between a and b. With `announce`, the NewSession
        signal to b (from a, with that data) is kept in the same transaction: one
        commit per match instead of two."""
        ...

    async def get_session(self, session_id: int) -> SessionRecord | None:
        """A session, open or closed."""
        ...

    async def close_session(self, session_id: int, closed_by: int, now_ms: int) -> bool:
        """Close an open session; False if it was already closed."""
        ...

    async def append_messages(
        self,
        batch: Sequence[NewMessage],
        now_ms: int,
        acks: Sequence[tuple[int, int, int]] = (),
    ) -> list[StoredMessage]:
        """Store a batch in ONE transaction (group commit) and return, in order, each
        message with its msgId. msgIds are gap-free and increasing per session. A
        (sender_id, request_id) already stored, before or earlier in the batch,
        stores nothing and returns the first message with duplicate=True. A message
        for a session that is closed (checked inside the transaction, so a LEAVE
        committed first always wins) stores nothing and returns closed=True,
        msg_id 0. `acks` are recorded as by `record_acks`, in the same
        transaction: one commit (one sync to disk) covers both."""
        ...

    async def history(self, session_id: int, after_msg_id: int, limit: int) -> list[StoredMessage]:
        """Messages with msg_id > after_msg_id, in msg_id order, at most limit."""
        ...

    async def unacked(self, session_id: int, account_id: int) -> list[StoredMessage]:
        """The partner's messages after the account's acknowledged msgId, in order."""
        ...

    async def record_acks(self, acks: Sequence[tuple[int, int, int]]) -> None:
        """(session_id, account_id, msg_id): raise each member's acknowledged msgId
        to at least msg_id (never lowers it)."""
        ...

    async def put_signals(self, signals: Sequence[Signal]) -> None:
        """Keep signals until acknowledged; a newer one of the same
        (receiver, session, type) replaces the older."""
        ...

    async def ack_signal(self, receiver_id: int, session_id: int, signal_type: str) -> None: ...

    async def pending_signals(self, receiver_id: int) -> list[Signal]: ...
