"""The records the storage interfaces exchange, and the errors they stop a
process with at start.

Plain frozen dataclasses (SessionRecord alone is mutable: routing marks it
closed): no engine, no I/O, so the SQLite writer process can import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pairchat.errors import StartupError

Ack = tuple[int, int, int]  # (session_id, account_id, msg_id): acknowledged up to msg_id


class StoreUnavailable(StartupError):
    """The store's engine cannot be reached (or refuses the connection). The
    message names where it was looked for, never a password. Raised at start
    (the process stops) and while serving (the request answers code 2)."""


class SchemaVersionError(StartupError):
    """The durable store's schema is of another version than this pairchat's."""


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
class PurgeReport:
    """What one `Store.purge` call deleted (or, dry, would delete): sessions
    with their members, signals and requestIds, their messages, accounts, and
    reports with their evidence."""

    sessions: int
    messages: int
    accounts: int
    reports: int = 0

    @property
    def empty(self) -> bool:
        return not (self.sessions or self.accounts or self.reports)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What logic loads at start: accounts not logged out and open sessions."""

    accounts: list[Account]
    sessions: list[SessionRecord]
