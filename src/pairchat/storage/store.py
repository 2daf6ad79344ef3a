"""The durable store's interface: accounts, sessions, messages, acknowledgements
and pending signals; and, as `safety`, the moderation data in the same database.

Implemented by `SqliteStore` (store_sqlite.py: one file in `--data-dir`, the
embedded mode) and `PostgresStore` (store_postgres.py: the scaled mode). Both
number a group commit with the one planner of commit_plan.py. The docstrings are
the contract; tests/contract/test_store.py checks every implementation against
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pairchat.storage.records import (
    Account,
    Ack,
    NewMessage,
    PurgeReport,
    SessionRecord,
    Signal,
    Snapshot,
    StoredMessage,
)
from pairchat.storage.safety import Safety


class Store(Protocol):
    """Durable state. Every method commits before it returns."""

    async def open(self) -> None:
        """Connect, and check (SQLite: create or upgrade) the schema.

        Raises:
            StoreUnavailable: the engine cannot be reached.
            SchemaVersionError: the schema is of another version.
        """
        ...

    async def close(self) -> None: ...

    @property
    def safety(self) -> Safety:
        """The moderation data (safety.py), in the same database."""
        ...

    async def snapshot(self) -> Snapshot: ...

    # --- accounts and sessions ---
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

    async def last_msg_id(self, session_id: int) -> int:
        """The session's highest stored msgId: 0 before its first message or for
        a session that does not exist. Open or closed, it never goes down."""
        ...

    async def close_session(self, session_id: int, closed_by: int, now_ms: int) -> bool:
        """Close an open session; False if it was already closed."""
        ...

    # --- messages ---
    async def append_messages(
        self,
        batch: Sequence[NewMessage],
        now_ms: int,
        acks: Sequence[Ack] = (),
    ) -> list[StoredMessage]:
        """Store a batch in ONE transaction (group commit) and return, in order, each
        message with its msgId. msgIds are gap-free and increasing per session. A
        (sender_id, request_id) already stored, before or earlier in the batch,
        stores nothing and returns the first message with duplicate=True. A message
        for a session that is closed (checked inside the transaction, so a LEAVE
        committed first always wins) stores nothing and returns closed=True,
        msg_id 0. Each of `acks` (session_id, account_id, msg_id) raises that
        member's acknowledged msgId to at least msg_id, never lowering it, in the
        same transaction: one commit (one sync to disk) covers both; `batch` may
        be empty.

        Raises:
            LookupError: a message names a session that does not exist (nothing
                of the batch is stored).
        """
        ...

    async def history(self, session_id: int, after_msg_id: int, limit: int) -> list[StoredMessage]:
        """Messages with msg_id > after_msg_id, in msg_id order, at most limit."""
        ...

    async def unacked(
        self, session_id: int, account_id: int, after_msg_id: int = 0, limit: int = 0
    ) -> list[StoredMessage]:
        """The partner's messages after the account's acknowledged msgId and
        after `after_msg_id`, in order; at most `limit` of them (0: all)."""
        ...

    async def backlog(self, session_id: int, account_id: int) -> tuple[int, int]:
        """The account's acknowledged msgId in the session, and how many of the
        partner's messages follow it: (0, 0) for a session or member that does
        not exist."""
        ...

    # --- signals ---
    async def put_signals(self, signals: Sequence[Signal]) -> None:
        """Keep signals until acknowledged; a newer one of the same
        (receiver, session, type) replaces the older."""
        ...

    async def ack_signal(self, receiver_id: int, session_id: int, signal_type: str) -> None: ...

    async def pending_signals(self, receiver_id: int) -> list[Signal]: ...

    # --- retention ---
    async def purge(self, older_than_ms: int, limit: int, dry_run: bool = False) -> PurgeReport:
        """Delete, in ONE short transaction, one chunk of what retention lets go:
        sessions that ended before `older_than_ms` (oldest first), each with its
        messages, members' marks, signals and requestIds; then accounts logged
        out before `older_than_ms` that no session refers to any more. A session
        ended long ago goes even while its partner is active: its messages are
        the partner's too, and they are kept for the same period after it
        ended. Open sessions and accounts still logged in are never touched.
        In the same chunk, reports resolved or dismissed before `older_than_ms`
        go with their evidence (oldest decision first, at most `limit`); open
        reports never go, and an account goes only once no report names it
        either (a report's accounts are evidence). Blocks, bans and the audit
        log are kept: they are small, and safety needs them.

        A chunk holds at most `limit` sessions whose messages total at most
        `limit` (a single larger session goes alone) and at most `limit`
        accounts and `limit` reports; the caller repeats until a report is
        `empty`. With `dry_run` nothing changes and the report counts
        everything a complete purge at this cutoff would delete, regardless of
        `limit`.
        """
        ...
