"""The embedded durable store: one SQLite file in WAL mode with synchronous=FULL.

Every write runs in the store's writer process (store_sqlite_writer.py),
one transaction at a time on one connection, so transactions never contend;
reads run on a thread of this process with a connection of their own (WAL lets
them read while the writer commits). A committed transaction is on disk:
synchronous=FULL syncs the WAL at every commit, which is what lets DIALOGUE
answer code 0 only after its message is durable. Batching many messages into
one transaction is the caller's job (group commit); the operations themselves
are in store_sqlite_ops.py.

Checkpoints (copying the WAL back into the database file, with its own fsync)
run on a second thread every `CHECKPOINT_INTERVAL`: left to SQLite's automatic
checkpoint they would run inside a COMMIT, and hold back every message of that
group commit for as long. Each one first copies what it can without blocking
the writer (PASSIVE), then blocks it only for the few frames written meanwhile
(RESTART), so that the writer's next transaction starts the WAL file over
instead of growing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pairchat.obs import event
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
from pairchat.storage.safety_sqlite import SqliteSafety
from pairchat.storage.store_sqlite_ops import connect, purge
from pairchat.storage.store_sqlite_writer import SqliteWriter

T = TypeVar("T")

CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints of the WAL
RESTART_TRIES = 50  # tries of each checkpoint's RESTART while the writer is busy
RESTART_PAUSE = 0.002  # seconds between them
log = logging.getLogger("pairchat.storage")


class SqliteStore:
    """`Store` on a SQLite file (see the module docstring for who does what)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "pairchat.sqlite3"
        self._writer = SqliteWriter(self.path)
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")
        self._checkpoint_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._checkpoints: asyncio.Task[None] | None = None
        self._local = threading.local()
        self.safety = SqliteSafety(self._writer, self._read)

    @property
    def writer(self) -> SqliteWriter:
        """The writer process's client (its pid, calls in flight)."""
        return self._writer

    # --- lifecycle ---
    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._writer.call("migrate")
        self._checkpoints = asyncio.create_task(self._checkpoint_loop())

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
        await self._writer.close()
        for pool in (self._reader_pool, self._checkpoint_pool):
            await asyncio.get_running_loop().run_in_executor(pool, self._close_conn)
            pool.shutdown(wait=True)

    async def _checkpoint_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            try:
                await loop.run_in_executor(self._checkpoint_pool, self._checkpoint)
            except sqlite3.Error as exc:  # tried again at the next interval
                event(log, "checkpoint failed", logging.WARNING, error=repr(exc))

    def _checkpoint(self) -> None:
        conn = self._conn()
        # Never wait holding a lock: SQLite's busy handler sleeps in steps of up
        # to 25 ms, and a RESTART that sleeps while it holds the write lock holds
        # the group commit back for as long. A RESTART that finds the writer busy
        # fails at once and is tried again RESTART_TRIES times, a moment apart.
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
        for _ in range(RESTART_TRIES):
            try:
                (busy, _, _) = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            except sqlite3.OperationalError as exc:  # locked: the writer is committing
                if "locked" not in str(exc):
                    raise
                busy = 1
            if not busy:
                return
            time.sleep(RESTART_PAUSE)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    def _close_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_pool, lambda: fn(self._conn())
        )

    # --- accounts and sessions ---
    async def snapshot(self) -> Snapshot:
        def read(conn: sqlite3.Connection) -> Snapshot:
            accounts = [
                Account(row[0], row[1], row[2], False)
                for row in conn.execute(
                    "SELECT id, nick, token_hash FROM accounts WHERE logged_out_at IS NULL"
                )
            ]
            sessions = [
                SessionRecord(row[0], (row[1], row[2]))
                for row in conn.execute(
                    "SELECT id, member_a, member_b FROM sessions WHERE closed_at IS NULL"
                )
            ]
            return Snapshot(accounts, sessions)

        return await self._read(read)

    async def create_account(self, nick: str, token_hash: bytes, now_ms: int) -> int:
        id_: int = await self._writer.call("create_account", nick, token_hash, now_ms)
        return id_

    async def get_account(self, account_id: int) -> Account | None:
        def read(conn: sqlite3.Connection) -> Account | None:
            row = conn.execute(
                "SELECT id, nick, token_hash, logged_out_at FROM accounts WHERE id = ?",
                (account_id,),
            ).fetchone()
            return None if row is None else Account(row[0], row[1], row[2], row[3] is not None)

        return await self._read(read)

    async def logout_account(self, account_id: int, now_ms: int) -> None:
        await self._writer.call("logout_account", account_id, now_ms)

    async def create_session(
        self, a: int, b: int, now_ms: int, announce: dict[str, Any] | None = None
    ) -> int:
        id_: int = await self._writer.call("create_session", a, b, now_ms, announce)
        return id_

    async def get_session(self, session_id: int) -> SessionRecord | None:
        def read(conn: sqlite3.Connection) -> SessionRecord | None:
            row = conn.execute(
                "SELECT member_a, member_b, closed_at FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            return (
                None
                if row is None
                else SessionRecord(session_id, (row[0], row[1]), row[2] is not None)
            )

        return await self._read(read)

    async def last_msg_id(self, session_id: int) -> int:
        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT last_msg_id FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            return 0 if row is None else int(row[0])

        return await self._read(read)

    async def close_session(self, session_id: int, closed_by: int, now_ms: int) -> bool:
        closed: bool = await self._writer.call("close_session", session_id, closed_by, now_ms)
        return closed

    # --- messages ---
    async def append_messages(
        self,
        batch: Sequence[NewMessage],
        now_ms: int,
        acks: Sequence[Ack] = (),
    ) -> list[StoredMessage]:
        stored: list[StoredMessage] = await self._writer.call(
            "append_messages", list(batch), now_ms, list(acks)
        )
        return stored

    async def history(self, session_id: int, after_msg_id: int, limit: int) -> list[StoredMessage]:
        def read(conn: sqlite3.Connection) -> list[StoredMessage]:
            rows = conn.execute(
                "SELECT msg_id, sender_id, content, created_at FROM messages "
                "WHERE session_id = ? AND msg_id > ? ORDER BY msg_id LIMIT ?",
                (session_id, after_msg_id, limit),
            )
            return [StoredMessage(session_id, r[0], r[1], r[2], r[3]) for r in rows]

        return await self._read(read)

    async def unacked(
        self, session_id: int, account_id: int, after_msg_id: int = 0, limit: int = 0
    ) -> list[StoredMessage]:
        def read(conn: sqlite3.Connection) -> list[StoredMessage]:
            rows = conn.execute(
                "SELECT m.msg_id, m.sender_id, m.content, m.created_at FROM messages m "
                "JOIN members k ON k.session_id = m.session_id AND k.account_id = ? "
                "WHERE m.session_id = ? AND m.msg_id > max(k.acked_msg_id, ?) "
                "AND m.sender_id != ? ORDER BY m.msg_id LIMIT ?",
                (account_id, session_id, after_msg_id, account_id, limit or -1),
            )
            return [StoredMessage(session_id, r[0], r[1], r[2], r[3]) for r in rows]

        return await self._read(read)

    async def backlog(self, session_id: int, account_id: int) -> tuple[int, int]:
        def read(conn: sqlite3.Connection) -> tuple[int, int]:
            row = conn.execute(
                "SELECT k.acked_msg_id, (SELECT count(*) FROM messages m "
                "WHERE m.session_id = k.session_id AND m.msg_id > k.acked_msg_id "
                "AND m.sender_id != k.account_id) "
                "FROM members k WHERE k.session_id = ? AND k.account_id = ?",
                (session_id, account_id),
            ).fetchone()
            return (0, 0) if row is None else (row[0], row[1])

        return await self._read(read)

    # --- signals ---
    async def put_signals(self, signals: Sequence[Signal]) -> None:
        await self._writer.call("put_signals", list(signals))

    async def ack_signal(self, receiver_id: int, session_id: int, signal_type: str) -> None:
        await self._writer.call("ack_signal", receiver_id, session_id, signal_type)

    async def pending_signals(self, receiver_id: int) -> list[Signal]:
        def read(conn: sqlite3.Connection) -> list[Signal]:
            rows = conn.execute(
                "SELECT session_id, signal_type, sender_id, data FROM signals "
                "WHERE receiver_id = ? ORDER BY session_id",
                (receiver_id,),
            )
            return [Signal(receiver_id, r[0], r[1], r[2], json.loads(r[3])) for r in rows]

        return await self._read(read)

    # --- retention ---
    async def purge(self, older_than_ms: int, limit: int, dry_run: bool = False) -> PurgeReport:
        if dry_run:  # only reads: the reader thread, leaving the writer alone
            return await self._read(lambda conn: purge(conn, older_than_ms, limit, True))
        report: PurgeReport = await self._writer.call("purge", older_than_ms, limit, False)
        return report
