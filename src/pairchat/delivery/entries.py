"""What logic puts in the inbox for the delivery worker."""

from __future__ import annotations

from dataclasses import dataclass

from pairchat.storage.memory import Route


@dataclass(frozen=True, slots=True)
class Push:
    """A frame for an account's current connection, if it has one. Pushes that
    find no connection are dropped: the store replays them on RECONNECT."""

    recipient: int
    session_id: int
    frame: bytes
    stored_at_us: int = 0  # commit time of a dialogue message, 0 for signals


@dataclass(frozen=True, slots=True)
class Replay:
    """After RECONNECT: send the account everything it has not acknowledged."""

    account_id: int
    route: Route


@dataclass(frozen=True, slots=True)
class Close:
    """Close a connection the account no longer uses (replaced, or logged out)."""

    account_id: int
    route: Route
