"""The embedded durable store: one SQLite file in WAL mode with synchronous=FULL.

All writes run on one writer thread with its own connection, so transactions
never contend; reads run on a second thread and connection (WAL lets them read
while the writer commits). A committed transaction is on disk: synchronous=FULL
syncs the WAL at every commit, which is what lets DIALOGUE answer code 0 only
after its message is durable. Batching many messages into one transaction is the
caller's job (`logic.commit.GroupCommit`).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from pairchat.storage.base import (
    Account,
    NewMessage,
    SessionRecord,
    Signal,
    Snapshot,
    StoredMessage,
)

T = TypeVar("T")

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nick TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    logged_out_at INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_a INTEGER NOT NULL REFERENCES accounts(id),
    member_b INTEGER NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    closed_at INTEGER,
    closed_by INTEGER,
    last_msg_id INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS members (
    session_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    acked_msg_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, account_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    session_id INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    sender_id INTEGER NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, msg_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS request_ids (
    sender_id INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    session_id INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    PRIMARY KEY (sender_id, request_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signals (
    receiver_id INTEGER NOT NULL,
    session_id INTEGER NOT NULL,
    signal_type TEXT NOT NULL,
    sender_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (receiver_id, session_id, signal_type)
) WITHOUT ROWID;
"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class SqliteStore:
    """`Store` on a SQLite file (see the module docstring for the threading)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "pairchat.sqlite3"
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")
        self._local = threading.local()

    # --- lifecycle ---
    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._write(self._migrate)

    async def close(self) -> None:
        for pool in (self._writer_pool, self._reader_pool):
            await asyncio.get_running_loop().run_in_executor(pool, self._close_conn)
            pool.shutdown(wait=True)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn

    def _close_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._writer_pool, self._in_transaction, fn
        )

    async def _write_one(self, sql: str, params: Any) -> None:
        """One statement in its own transaction. Runs and closes its cursor on the
        writer thread: a cursor dropped on the event loop's thread would use the
        connection from there while the writer uses it ("API misuse")."""
        await self._write(lambda conn: conn.execute(sql, params).close())

    async def _write_many(self, sql: str, rows: Any) -> None:
        await self._write(lambda conn: conn.executemany(sql, rows).close())

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_pool, lambda: fn(self._conn())
        )

    def _in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"the data dir's schema is version {version}, newer than this pairchat "
                f"({SCHEMA_VERSION}); upgrade pairchat"
            )
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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
        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO accounts (nick, token_hash, created_at) VALUES (?, ?, ?)",
                (nick, token_hash, now_ms),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._write(write)

    async def get_account(self, account_id: int) -> Account | None:
        def read(conn: sqlite3.Connection) -> Account | None:
            row = conn.execute(
                "SELECT id, nick, token_hash, logged_out_at FROM accounts WHERE id = ?",
                (account_id,),
            ).fetchone()
            return None if row is None else Account(row[0], row[1], row[2], row[3] is not None)

        return await self._read(read)

    async def logout_account(self, account_id: int, now_ms: int) -> None:
        await self._write_one(
            "UPDATE accounts SET logged_out_at = ? WHERE id = ? AND logged_out_at IS NULL",
            (now_ms, account_id),
        )

    async def create_session(
        self, a: int, b: int, now_ms: int, announce: dict[str, Any] | None = None
    ) -> int:
        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO sessions (member_a, member_b, created_at) VALUES (?, ?, ?)",
                (a, b, now_ms),
            )
            session_id = cur.lastrowid
            assert session_id is not None
            conn.executemany(
                "INSERT INTO members (session_id, account_id) VALUES (?, ?)",
                ((session_id, a), (session_id, b)),
            )
            if announce is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO signals "
                    "(receiver_id, session_id, signal_type, sender_id, data) "
                    "VALUES (?, ?, 'NewSession', ?, ?)",
                    (b, session_id, a, json.dumps(announce)),
                )
            return session_id

        return await self._write(write)

    async def get_session(self, session_id: int) -> SessionRecord | None:
        def read(conn: sqlite3.Connection) -> SessionRecord | None:
            row = conn.execute(
                "SELECT member_a, member_b, closed_at FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            return None if row is None else SessionRecord(
                session_id, (row[0], row[1]), row[2] is not None
            )

        return await self._read(read)

    async def close_session(self, session_id: int, closed_by: int, now_ms: int) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE sessions SET closed_at = ?, closed_by = ? "
                "WHERE id = ? AND closed_at IS NULL",
                (now_ms, closed_by, session_id),
            )
            return cur.rowcount == 1

        return await self._write(write)

    # --- messages ---
    async def append_messages(
        self, batch: Sequence[NewMessage], now_ms: int
    ) -> list[StoredMessage]:
        return await self._write(lambda conn: _append(conn, batch, now_ms))

    async def history(self, session_id: int, after_msg_id: int, limit: int) -> list[StoredMessage]:
        def read(conn: sqlite3.Connection) -> list[StoredMessage]:
            rows = conn.execute(
                "SELECT msg_id, sender_id, content, created_at FROM messages "
                "WHERE session_id = ? AND msg_id > ? ORDER BY msg_id LIMIT ?",
                (session_id, after_msg_id, limit),
            )
            return [StoredMessage(session_id, r[0], r[1], r[2], r[3]) for r in rows]

        return await self._read(read)

    async def unacked(self, session_id: int, account_id: int) -> list[StoredMessage]:
        def read(conn: sqlite3.Connection) -> list[StoredMessage]:
            rows = conn.execute(
                "SELECT m.msg_id, m.sender_id, m.content, m.created_at FROM messages m "
                "JOIN members k ON k.session_id = m.session_id AND k.account_id = ? "
                "WHERE m.session_id = ? AND m.msg_id > k.acked_msg_id AND m.sender_id != ? "
                "ORDER BY m.msg_id",
                (account_id, session_id, account_id),
            )
            return [StoredMessage(session_id, r[0], r[1], r[2], r[3]) for r in rows]

        return await self._read(read)

    async def record_acks(self, acks: Sequence[tuple[int, int, int]]) -> None:
        # One statement for the batch (see _append on why not executemany).
        await self._write_one(
            "UPDATE members SET acked_msg_id = json_extract(j.value, '$[2]') "
            "FROM json_each(?) j WHERE members.session_id = json_extract(j.value, '$[0]') "
            "AND members.account_id = json_extract(j.value, '$[1]') "
            "AND members.acked_msg_id < json_extract(j.value, '$[2]')",
            (_json(list(acks)),),
        )

    # --- signals ---
    async def put_signals(self, signals: Sequence[Signal]) -> None:
        await self._write_many(
            "INSERT OR REPLACE INTO signals "
            "(receiver_id, session_id, signal_type, sender_id, data) VALUES (?, ?, ?, ?, ?)",
            [(s.receiver_id, s.session_id, s.signal_type, s.sender_id, json.dumps(s.data))
             for s in signals],
        )

    async def ack_signal(self, receiver_id: int, session_id: int, signal_type: str) -> None:
        await self._write_one(
            "DELETE FROM signals WHERE receiver_id = ? AND session_id = ? AND signal_type = ?",
            (receiver_id, session_id, signal_type),
        )

    async def pending_signals(self, receiver_id: int) -> list[Signal]:
        def read(conn: sqlite3.Connection) -> list[Signal]:
            rows = conn.execute(
                "SELECT session_id, signal_type, sender_id, data FROM signals "
                "WHERE receiver_id = ? ORDER BY session_id",
                (receiver_id,),
            )
            return [Signal(receiver_id, r[0], r[1], r[2], json.loads(r[3])) for r in rows]

        return await self._read(read)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _append(
    conn: sqlite3.Connection, batch: Sequence[NewMessage], now_ms: int
) -> list[StoredMessage]:
    """One group commit: msgIds come from sessions.last_msg_id inside the
    transaction, so they stay gap-free even if several writers shared the file.

    Each statement carries the whole batch as one JSON parameter and returns
    at most one row: the sqlite3 module gives up the GIL at every step of a
    statement and must win it back from the busy event loop, so a batch costs
    a handful of steps rather than a few per message."""
    keys = [(m.sender_id, m.request_id) for m in batch if m.request_id is not None]
    # Requests stored before (by requestId) and the sessions' states: one step.
    found, states = conn.execute(
        "SELECT (SELECT json_group_array(json_array(r.sender_id, r.request_id, r.session_id, "
        "r.msg_id, m.content, m.created_at)) FROM json_each(?1) j "
        "JOIN request_ids r ON r.sender_id = json_extract(j.value, '$[0]') "
        "AND r.request_id = json_extract(j.value, '$[1]') "
        "JOIN messages m ON m.session_id = r.session_id AND m.msg_id = r.msg_id), "
        "(SELECT json_group_array(json_array(id, last_msg_id, closed_at IS NOT NULL)) "
        "FROM sessions WHERE id IN (SELECT value FROM json_each(?2)))",
        (_json(list(set(keys))), _json(list({m.session_id for m in batch}))),
    ).fetchone()
    seen: dict[tuple[int, str], StoredMessage] = {}
    for sender, request_id, session_id, msg_id, content, created in json.loads(found):
        seen[(sender, request_id)] = StoredMessage(
            session_id, msg_id, sender, content, created, True)
    last: dict[int, int] = {}
    closed: set[int] = set()
    for session_id, last_msg_id, is_closed in json.loads(states):
        if is_closed:
            closed.add(session_id)
        else:
            last[session_id] = last_msg_id
    unknown = {m.session_id for m in batch} - last.keys() - closed
    if unknown:
        raise LookupError(f"no such session: {sorted(unknown)}")  # the batch rolls back
    first_last = dict(last)
    out: list[StoredMessage] = []
    rows: list[tuple[int, int, int, str, int]] = []
    request_rows: list[tuple[int, str, int, int]] = []
    for m in batch:
        key = (m.sender_id, m.request_id) if m.request_id is not None else None
        if key is not None:
            earlier = seen.get(key)
            if earlier is not None:  # stored before, or earlier in this batch
                out.append(earlier if earlier.duplicate else StoredMessage(
                    earlier.session_id, earlier.msg_id, earlier.sender_id, earlier.content,
                    earlier.created_at, True))
                continue
        if m.session_id in closed:
            out.append(StoredMessage(m.session_id, 0, m.sender_id, m.content, now_ms,
                                     closed=True))
            continue
        msg_id = last[m.session_id] = last[m.session_id] + 1
        stored = StoredMessage(m.session_id, msg_id, m.sender_id, m.content, now_ms)
        out.append(stored)
        rows.append((m.session_id, msg_id, m.sender_id, m.content, now_ms))
        if key is not None:
            seen[key] = stored
            request_rows.append((m.sender_id, key[1], m.session_id, msg_id))
    if rows:
        conn.execute(
            "INSERT INTO messages (session_id, msg_id, sender_id, content, created_at) "
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
            "json_extract(value, '$[2]'), json_extract(value, '$[3]'), "
            "json_extract(value, '$[4]') FROM json_each(?)",
            (_json(rows),),
        )
    if request_rows:
        conn.execute(
            "INSERT INTO request_ids (sender_id, request_id, session_id, msg_id) "
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
            "json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?)",
            (_json(request_rows),),
        )
    moved = [(session_id, msg_id) for session_id, msg_id in last.items()
             if msg_id != first_last[session_id]]
    if moved:
        conn.execute(
            "UPDATE sessions SET last_msg_id = json_extract(j.value, '$[1]') "
            "FROM json_each(?) j WHERE sessions.id = json_extract(j.value, '$[0]')",
            (_json(moved),),
        )
    return out
