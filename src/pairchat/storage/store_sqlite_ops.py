"""The writes of the SQLite store, and how a connection is opened.

Kept apart from store_sqlite.py because they run in the store's writer process
(store_sqlite_writer.py), which imports only this: sqlite3, msgspec, the
records and the commit planner. Each operation runs inside a transaction the writer
opens (requests that arrive together share one, each in a savepoint); `OPS`
names them with their argument and result types, which is the whole protocol
between the store and its writer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from pairchat.storage import safety_sqlite_ops
from pairchat.storage.commit_plan import fold_acks, plan_commit
from pairchat.storage.records import (
    Ack,
    NewMessage,
    PurgeReport,
    SchemaVersionError,
    Signal,
    StoredMessage,
)
from pairchat.storage.retention import chunk_of

WAL_SIZE_LIMIT = 64 << 20  # bytes of WAL file kept once it starts over

# 2: the moderation tables (safety_sqlite_ops.SCHEMA); migrate() upgrades a file
# of version 1 by creating them.
SCHEMA_VERSION = 2
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
-- Retention (`purge`): the ended sessions oldest first, the logged-out accounts
-- oldest first, and the sessions that refer to an account (also what the
-- foreign keys check when an account is deleted). Created on files of version 1
-- written before them too.
CREATE INDEX IF NOT EXISTS sessions_closed ON sessions (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_member_a ON sessions (member_a);
CREATE INDEX IF NOT EXISTS sessions_member_b ON sessions (member_b);
CREATE INDEX IF NOT EXISTS accounts_logged_out ON accounts (logged_out_at)
    WHERE logged_out_at IS NOT NULL;
"""


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the store's checkpoint thread does it
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")  # the WAL left after a reset
    return conn


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def migrate(conn: sqlite3.Connection) -> None:
    """Create the tables if missing: a new file, or one of an older version, ends
    at SCHEMA_VERSION.

    Raises:
        SchemaVersionError: the file was written by a newer pairchat.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the data dir's schema is version {version}, newer than this pairchat "
            f"({SCHEMA_VERSION}); upgrade pairchat"
        )
    for statement in (SCHEMA + safety_sqlite_ops.SCHEMA).split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def create_account(conn: sqlite3.Connection, nick: str, token_hash: bytes, now_ms: int) -> int:
    cur = conn.execute(
        "INSERT INTO accounts (nick, token_hash, created_at) VALUES (?, ?, ?)",
        (nick, token_hash, now_ms),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def logout_account(conn: sqlite3.Connection, account_id: int, now_ms: int) -> None:
    conn.execute(
        "UPDATE accounts SET logged_out_at = ? WHERE id = ? AND logged_out_at IS NULL",
        (now_ms, account_id),
    ).close()


def create_session(
    conn: sqlite3.Connection, a: int, b: int, now_ms: int, announce: dict[str, Any] | None
) -> int:
    cur = conn.execute(
        "INSERT INTO sessions (member_a, member_b, created_at) VALUES (?, ?, ?)",
        (a, b, now_ms),
    )
    session_id = cur.lastrowid
    assert session_id is not None
    conn.executemany(
        "INSERT INTO members (session_id, account_id) VALUES (?, ?)",
        ((session_id, a), (session_id, b)),
    ).close()
    if announce is not None:
        conn.execute(
            "INSERT OR REPLACE INTO signals "
            "(receiver_id, session_id, signal_type, sender_id, data) "
            "VALUES (?, ?, 'NewSession', ?, ?)",
            (b, session_id, a, json.dumps(announce)),
        ).close()
    return session_id


def close_session(conn: sqlite3.Connection, session_id: int, closed_by: int, now_ms: int) -> bool:
    cur = conn.execute(
        "UPDATE sessions SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL",
        (now_ms, closed_by, session_id),
    )
    return cur.rowcount == 1


def append_messages(
    conn: sqlite3.Connection,
    batch: Sequence[NewMessage],
    now_ms: int,
    acks: Sequence[Ack],
) -> list[StoredMessage]:
    stored = _append(conn, batch, now_ms) if batch else []
    if acks:
        conn.executemany(
            "UPDATE members SET acked_msg_id = ?3 "
            "WHERE session_id = ?1 AND account_id = ?2 AND acked_msg_id < ?3",
            fold_acks(acks),
        ).close()
    return stored


def put_signals(conn: sqlite3.Connection, signals: Sequence[Signal]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO signals "
        "(receiver_id, session_id, signal_type, sender_id, data) VALUES (?, ?, ?, ?, ?)",
        [
            (s.receiver_id, s.session_id, s.signal_type, s.sender_id, json.dumps(s.data))
            for s in signals
        ],
    ).close()


def ack_signal(
    conn: sqlite3.Connection, receiver_id: int, session_id: int, signal_type: str
) -> None:
    conn.execute(
        "DELETE FROM signals WHERE receiver_id = ? AND session_id = ? AND signal_type = ?",
        (receiver_id, session_id, signal_type),
    ).close()


# Accounts logged out before the cutoff that no session or report refers to (a
# report keeps the accounts it names as evidence; two NOT EXISTS rather than one
# OR, so that each probes its index).
_FREE_ACCOUNTS = """
SELECT id FROM accounts a WHERE logged_out_at < ?1
AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.member_a = a.id {alive})
AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.member_b = a.id {alive})
AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.reporter_id = a.id {kept})
AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.reported_id = a.id {kept})
"""
# In a dry run the sessions and reports that the purge would delete first do not count.
_UNLESS_DUE = "AND (s.closed_at IS NULL OR s.closed_at >= ?1)"
_UNLESS_RESOLVED = "AND (r.resolved_at IS NULL OR r.resolved_at >= ?1)"


def purge(conn: sqlite3.Connection, older_than_ms: int, limit: int, dry_run: bool) -> PurgeReport:
    """`Store.purge`: one chunk, in the writer's transaction."""
    if dry_run:
        sessions, messages = conn.execute(
            "SELECT count(*), coalesce(sum(last_msg_id), 0) FROM sessions WHERE closed_at < ?",
            (older_than_ms,),
        ).fetchone()
        accounts = conn.execute(
            "SELECT count(*) FROM "
            f"({_FREE_ACCOUNTS.format(alive=_UNLESS_DUE, kept=_UNLESS_RESOLVED)})",
            (older_than_ms,),
        ).fetchone()[0]
        reports = safety_sqlite_ops.purge_reports(conn, older_than_ms, limit, True)
        return PurgeReport(sessions, messages, accounts, reports)
    chunk = chunk_of(
        conn.execute(
            "SELECT id, member_a, member_b, last_msg_id FROM sessions WHERE closed_at < ? "
            "ORDER BY closed_at, id LIMIT ?",
            (older_than_ms, limit),
        ).fetchall(),
        limit,
    )
    ids = [(c[0],) for c in chunk]
    by_member = [(m, c[0]) for c in chunk for m in (c[1], c[2])]
    # requestIds are keyed by sender: each member's are probed through the key.
    conn.executemany(
        "DELETE FROM request_ids WHERE sender_id = ? AND session_id = ?", by_member
    ).close()
    messages = conn.executemany("DELETE FROM messages WHERE session_id = ?", ids).rowcount
    conn.executemany(
        "DELETE FROM signals WHERE receiver_id = ? AND session_id = ?", by_member
    ).close()
    conn.executemany("DELETE FROM members WHERE session_id = ?", ids).close()
    conn.executemany("DELETE FROM sessions WHERE id = ?", ids).close()
    reports = safety_sqlite_ops.purge_reports(conn, older_than_ms, limit, False)
    accounts = conn.execute(
        "DELETE FROM accounts WHERE id IN "
        f"({_FREE_ACCOUNTS.format(alive='', kept='')} ORDER BY logged_out_at LIMIT ?2)",
        (older_than_ms, limit),
    ).rowcount
    return PurgeReport(len(chunk), max(messages, 0), accounts, reports)


def _append(
    conn: sqlite3.Connection, batch: Sequence[NewMessage], now_ms: int
) -> list[StoredMessage]:
    """One group commit, planned by `commit_plan.plan_commit`: msgIds come from
    sessions.last_msg_id inside the transaction, so they stay gap-free even if
    several writers shared the file.

    What the plan needs (the batch's requestIds stored before, the sessions'
    states) is read with one statement that takes the whole batch as a JSON
    parameter and returns one row; the rows are written with executemany, which
    costs less than JSON per row here, where no other thread wants the GIL."""
    keys = {(m.sender_id, m.request_id) for m in batch if m.request_id is not None}
    found, states = conn.execute(
        "SELECT (SELECT json_group_array(json_array(r.sender_id, r.request_id, r.session_id, "
        "r.msg_id, m.content, m.created_at)) FROM json_each(?1) j "
        "JOIN request_ids r ON r.sender_id = json_extract(j.value, '$[0]') "
        "AND r.request_id = json_extract(j.value, '$[1]') "
        "JOIN messages m ON m.session_id = r.session_id AND m.msg_id = r.msg_id), "
        "(SELECT json_group_array(json_array(id, last_msg_id, closed_at IS NOT NULL)) "
        "FROM sessions WHERE id IN (SELECT value FROM json_each(?2)))",
        (_json(list(keys)), _json(list({m.session_id for m in batch}))),
    ).fetchone()
    stored = {
        (sender, request_id): StoredMessage(session_id, msg_id, sender, content, created, True)
        for sender, request_id, session_id, msg_id, content, created in json.loads(found)
    }
    last: dict[int, int] = {}
    closed: set[int] = set()
    for session_id, last_msg_id, is_closed in json.loads(states):
        last[session_id] = last_msg_id
        if is_closed:
            closed.add(session_id)
    plan = plan_commit(batch, now_ms, last, stored, closed)  # LookupError: the batch rolls back
    if plan.new:
        conn.executemany(
            "INSERT INTO messages (session_id, msg_id, sender_id, content, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(m.session_id, m.msg_id, m.sender_id, m.content, m.created_at) for m in plan.new],
        ).close()
    if plan.claims:
        conn.executemany(
            "INSERT INTO request_ids (sender_id, request_id, session_id, msg_id) "
            "VALUES (?, ?, ?, ?)",
            plan.claims,
        ).close()
    if plan.last_msg_ids:
        conn.executemany(
            "UPDATE sessions SET last_msg_id = ?2 WHERE id = ?1", plan.last_msg_ids.items()
        ).close()
    return plan.results


# name -> (operation, its arguments' type, its result's type)
OPS: dict[str, tuple[Callable[..., Any], Any, Any]] = {
    "migrate": (migrate, tuple[()], None),
    "create_account": (create_account, tuple[str, bytes, int], int),
    "logout_account": (logout_account, tuple[int, int], None),
    "create_session": (create_session, tuple[int, int, int, dict[str, Any] | None], int),
    "close_session": (close_session, tuple[int, int, int], bool),
    "append_messages": (
        append_messages,
        tuple[list[NewMessage], int, list[Ack]],
        list[StoredMessage],
    ),
    "put_signals": (put_signals, tuple[list[Signal]], None),
    "ack_signal": (ack_signal, tuple[int, int, str], None),
    "purge": (purge, tuple[int, int, bool], PurgeReport),
    **safety_sqlite_ops.OPS,
}
