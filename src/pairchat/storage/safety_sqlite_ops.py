"""The moderation data in the SQLite store's file: its tables, its writes, and
the one way a report is read back.

Imported by store_sqlite_ops.py, so it runs in the store's writer process
(store_sqlite_writer.py) like the store's own writes: only sqlite3, json and
safety.py's records and checks. `OPS` joins the store's operations; `SCHEMA`
is version 2 of the file (store_sqlite_ops.migrate creates it, on a file of
version 1 too).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from pairchat.storage.safety import (
    Ban,
    Report,
    ban_target,
    block_pair,
    check_limit,
    check_status,
    report_of,
)

# No statement or comment here may hold a semicolon: migrate splits on them.
SCHEMA = """
-- Version 2: moderation (storage/safety.py). A report names existing accounts
-- (retention keeps them while it stays) but not its session, which retention
-- may delete: the evidence is a copy, and goes only with its report.
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    reporter_id INTEGER NOT NULL REFERENCES accounts(id),
    reported_id INTEGER NOT NULL REFERENCES accounts(id),
    session_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    resolved_at INTEGER,
    resolution_note TEXT,
    CHECK ((status = 'open') = (resolved_at IS NULL)),
    UNIQUE (reporter_id, session_id)
);
CREATE INDEX IF NOT EXISTS reports_reported ON reports (reported_id, created_at);
CREATE INDEX IF NOT EXISTS reports_status ON reports (status, id);
CREATE INDEX IF NOT EXISTS reports_resolved ON reports (resolved_at)
    WHERE resolved_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS report_evidence (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    msg_id INTEGER NOT NULL,
    sender_id INTEGER NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (report_id, msg_id)
) WITHOUT ROWID;
-- A blocked pair once, lower id first. No foreign keys: blocks and bans
-- outlive the accounts retention deletes.
CREATE TABLE IF NOT EXISTS blocks (
    low INTEGER NOT NULL,
    high INTEGER NOT NULL CHECK (low < high),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (low, high)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blocks_high ON blocks (high);
CREATE TABLE IF NOT EXISTS bans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('ban', 'suspension')),
    account_id INTEGER,
    network TEXT,
    reason TEXT NOT NULL,
    ends_at INTEGER,
    created_at INTEGER NOT NULL,
    lifted_at INTEGER,
    CHECK ((account_id IS NULL) <> (network IS NULL))
);
CREATE INDEX IF NOT EXISTS bans_unlifted ON bans (id) WHERE lifted_at IS NULL;
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT
);
-- The accounts not available to other users' MATCH (the default is available).
CREATE TABLE IF NOT EXISTS unavailable (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE
);
"""

_REPORT = (
    "SELECT id, created_at, reporter_id, reported_id, session_id, reason, note, status, "
    "resolved_at, resolution_note FROM reports "
)
SELECT_BANS = (
    "SELECT id, kind, account_id, network, reason, ends_at, created_at, lifted_at FROM bans "
)


def select_reports(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[Report]:
    """The reports that `where` (a WHERE clause, with ORDER BY and LIMIT)
    selects, each with its evidence."""
    rows = conn.execute(_REPORT + where, params).fetchall()
    evidence: dict[int, list[Sequence[Any]]] = {row[0]: [] for row in rows}
    if evidence:
        for report_id, *message in conn.execute(
            "SELECT report_id, msg_id, sender_id, content, created_at FROM report_evidence "
            "WHERE report_id IN (SELECT value FROM json_each(?)) ORDER BY report_id, msg_id",
            (json.dumps(list(evidence)),),
        ):
            evidence[report_id].append(message)
    return [report_of(row, evidence[row[0]]) for row in rows]


def report(
    conn: sqlite3.Connection,
    session_id: int,
    reporter_id: int,
    reported_id: int,
    reason: str,
    note: str | None,
    now_ms: int,
    evidence_limit: int,
) -> tuple[Report, bool]:
    """`Safety.report`, in the writer's transaction."""
    check_limit(evidence_limit)
    pair = block_pair(reporter_id, reported_id)
    cur = conn.execute(
        "INSERT INTO reports (created_at, reporter_id, reported_id, session_id, reason, note) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (reporter_id, session_id) DO NOTHING",
        (now_ms, reporter_id, reported_id, session_id, reason, note),
    )
    if cur.rowcount == 0:
        [first] = select_reports(
            conn, "WHERE reporter_id = ? AND session_id = ?", (reporter_id, session_id)
        )
        return first, False
    report_id = cur.lastrowid
    conn.execute(
        "INSERT INTO report_evidence (report_id, msg_id, sender_id, content, created_at) "
        "SELECT ?, msg_id, sender_id, content, created_at FROM messages "
        "WHERE session_id = ? ORDER BY msg_id DESC LIMIT ?",
        (report_id, session_id, evidence_limit),
    ).close()
    block(conn, *pair, now_ms)
    [stored] = select_reports(conn, "WHERE id = ?", (report_id,))
    return stored, True


def set_report_status(
    conn: sqlite3.Connection, report_id: int, status: str, note: str | None, now_ms: int
) -> Report | None:
    cur = conn.execute(
        "UPDATE reports SET status = ?2, resolution_note = ?3, "
        "resolved_at = CASE WHEN ?2 = 'open' THEN NULL ELSE ?4 END WHERE id = ?1",
        (report_id, check_status(status), note, now_ms),
    )
    if cur.rowcount == 0:
        return None
    [changed] = select_reports(conn, "WHERE id = ?", (report_id,))
    return changed


def block(conn: sqlite3.Connection, a: int, b: int, now_ms: int) -> None:
    conn.execute(
        "INSERT INTO blocks (low, high, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (low, high) DO NOTHING",
        (*block_pair(a, b), now_ms),
    ).close()


def add_ban(
    conn: sqlite3.Connection,
    kind: str,
    account_id: int | None,
    network: str | None,
    reason: str,
    until_ms: int | None,
    now_ms: int,
) -> Ban:
    network = ban_target(kind, account_id, network)
    cur = conn.execute(
        "INSERT INTO bans (kind, account_id, network, reason, ends_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (kind, account_id, network, reason, until_ms, now_ms),
    )
    assert cur.lastrowid is not None
    return Ban(cur.lastrowid, kind, account_id, network, reason, until_ms, now_ms, None)


def lift_ban(conn: sqlite3.Connection, ban_id: int, now_ms: int) -> bool:
    cur = conn.execute(
        "UPDATE bans SET lifted_at = ? WHERE id = ? AND lifted_at IS NULL", (now_ms, ban_id)
    )
    return cur.rowcount == 1


def audit(
    conn: sqlite3.Connection, action: str, target: str, reason: str | None, now_ms: int
) -> None:
    conn.execute(
        "INSERT INTO audit (at, action, target, reason) VALUES (?, ?, ?, ?)",
        (now_ms, action, target, reason),
    ).close()


def set_available(conn: sqlite3.Connection, account_id: int, available: bool) -> None:
    if available:
        conn.execute("DELETE FROM unavailable WHERE account_id = ?", (account_id,)).close()
        return
    conn.execute(
        "INSERT INTO unavailable (account_id) SELECT id FROM accounts WHERE id = ? "
        "ON CONFLICT DO NOTHING",
        (account_id,),
    ).close()


def purge_reports(conn: sqlite3.Connection, older_than_ms: int, limit: int, dry_run: bool) -> int:
    """Retention's part of the reports (`Store.purge`): those resolved or
    dismissed before the cutoff, oldest decision first, at most `limit`, each
    with its evidence (at most EVIDENCE_LIMIT messages apiece, unless a caller
    asked for more). Returns how many went (dry: would go, regardless of limit)."""
    if dry_run:
        count: int = conn.execute(
            "SELECT count(*) FROM reports WHERE resolved_at < ?", (older_than_ms,)
        ).fetchone()[0]
        return count
    due = conn.execute(
        "SELECT id FROM reports WHERE resolved_at < ? ORDER BY resolved_at, id LIMIT ?",
        (older_than_ms, limit),
    ).fetchall()
    conn.executemany("DELETE FROM reports WHERE id = ?", due).close()  # evidence: cascade
    return len(due)


# name -> (operation, its arguments' type, its result's type), as store_sqlite_ops.OPS
OPS: dict[str, tuple[Callable[..., Any], Any, Any]] = {
    "report": (
        report,
        tuple[int, int, int, str, str | None, int, int],
        tuple[Report, bool],
    ),
    "set_report_status": (set_report_status, tuple[int, str, str | None, int], Report | None),
    "block": (block, tuple[int, int, int], None),
    "add_ban": (add_ban, tuple[str, int | None, str | None, str, int | None, int], Ban),
    "lift_ban": (lift_ban, tuple[int, int], bool),
    "audit": (audit, tuple[str, str, str | None, int], None),
    "set_available": (set_available, tuple[int, bool], None),
}
