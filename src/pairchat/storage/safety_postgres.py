"""`Safety` in the scaled store's PostgreSQL schema, as `PostgresStore.safety`:
on the store's own pool, each method one statement (an implicit transaction)
but `report`, which runs in one explicit transaction. The tables are those of
migration 0003_safety.sql.

Many logic processes may report at once: the same (reporter, session) twice
meets on the unique key (INSERT ... ON CONFLICT DO NOTHING), where the second
waits for the first to commit and then returns its report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pairchat.storage.safety import (
    EVIDENCE_LIMIT,
    AuditEntry,
    Ban,
    Report,
    ban_target,
    block_pair,
    blocks_by_account,
    check_limit,
    check_status,
    report_of,
)

# A report's columns and its evidence as a JSON array of
# [msgId, senderId, content, createdAt], in msgId order: one statement, one snapshot.
_REPORT_FIELDS = """
r.id, r.created_at, r.reporter_id, r.reported_id, r.session_id, r.reason, r.note, r.status,
r.resolved_at, r.resolution_note,
coalesce((SELECT json_agg(json_build_array(e.msg_id, e.sender_id, e.content, e.created_at)
ORDER BY e.msg_id) FROM report_evidence e WHERE e.report_id = r.id), '[]')
"""
_SELECT_REPORTS = f"SELECT {_REPORT_FIELDS} FROM reports r "
_INSERT_REPORT = """
INSERT INTO reports (created_at, reporter_id, reported_id, session_id, reason, note)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (reporter_id, session_id) DO NOTHING RETURNING id
"""
_COPY_EVIDENCE = """
INSERT INTO report_evidence (report_id, msg_id, sender_id, content, created_at)
SELECT $1, msg_id, sender_id, content, created_at FROM messages
WHERE session_id = $2 ORDER BY msg_id DESC LIMIT $3
"""
_SET_STATUS = f"""
WITH r AS (
    UPDATE reports SET status = $2, resolution_note = $3,
    resolved_at = CASE WHEN $2 = 'open' THEN NULL ELSE $4::bigint END
    WHERE id = $1 RETURNING *
)
SELECT {_REPORT_FIELDS} FROM r
"""
_BLOCK = """
INSERT INTO blocks (low, high, created_at) VALUES ($1, $2, $3)
ON CONFLICT (low, high) DO NOTHING
"""
_SELECT_BANS = (
    "SELECT id, kind, account_id, network, reason, ends_at, created_at, lifted_at FROM bans "
)
# SKIP LOCKED: rows another purge holds are its chunk, not this one's.
_PURGE_REPORTS = """
WITH gone AS (
    DELETE FROM reports WHERE id IN (
        SELECT id FROM reports WHERE resolved_at < $1 ORDER BY resolved_at, id LIMIT $2
        FOR UPDATE SKIP LOCKED
    ) RETURNING 1
)
SELECT count(*) FROM gone
"""


def _report(row: Any) -> Report:
    return report_of(row[:10], json.loads(row[10]))


async def purge_reports(conn: Any, older_than_ms: int, limit: int, dry_run: bool) -> int:
    """Retention's part of the reports (`Store.purge`), in the caller's
    transaction: those resolved or dismissed before the cutoff, oldest decision
    first, at most `limit`, each with its evidence (by cascade). Returns how
    many went (dry: would go, regardless of limit)."""
    if dry_run:
        due = "SELECT count(*) FROM reports WHERE resolved_at < $1"
        return int(await conn.fetchval(due, older_than_ms))
    return int(await conn.fetchval(_PURGE_REPORTS, older_than_ms, limit))


class PostgresSafety:
    """`Safety` on the pool that `pool()` returns (the store's, once open)."""

    def __init__(self, pool: Callable[[], Any]) -> None:
        self._pool = pool

    # --- reports ---
    async def report(
        self,
        session_id: int,
        reporter_id: int,
        reported_id: int,
        reason: str,
        note: str | None,
        now_ms: int,
        evidence_limit: int = EVIDENCE_LIMIT,
    ) -> tuple[Report, bool]:
        check_limit(evidence_limit)
        pair = block_pair(reporter_id, reported_id)
        async with self._pool().acquire() as conn, conn.transaction():
            report_id = await conn.fetchval(
                _INSERT_REPORT, now_ms, reporter_id, reported_id, session_id, reason, note
            )
            if report_id is None:
                first = await conn.fetchrow(
                    _SELECT_REPORTS + "WHERE r.reporter_id = $1 AND r.session_id = $2",
                    reporter_id,
                    session_id,
                )
                return _report(first), False
            await conn.execute(_COPY_EVIDENCE, report_id, session_id, evidence_limit)
            await conn.execute(_BLOCK, *pair, now_ms)
            stored = await conn.fetchrow(_SELECT_REPORTS + "WHERE r.id = $1", report_id)
        return _report(stored), True

    async def reports(self, status: str | None, limit: int) -> list[Report]:
        check_limit(limit)
        if status is None:
            rows = await self._pool().fetch(_SELECT_REPORTS + "ORDER BY r.id DESC LIMIT $1", limit)
        else:
            rows = await self._pool().fetch(
                _SELECT_REPORTS + "WHERE r.status = $1 ORDER BY r.id DESC LIMIT $2",
                check_status(status),
                limit,
            )
        return [_report(row) for row in rows]

    async def report_by_id(self, report_id: int) -> Report | None:
        row = await self._pool().fetchrow(_SELECT_REPORTS + "WHERE r.id = $1", report_id)
        return None if row is None else _report(row)

    async def set_report_status(
        self, report_id: int, status: str, note: str | None, now_ms: int
    ) -> Report | None:
        row = await self._pool().fetchrow(
            _SET_STATUS, report_id, check_status(status), note, now_ms
        )
        return None if row is None else _report(row)

    async def distinct_reporters(
        self, reported_id: int, since_ms: int, *, include_dismissed: bool = True
    ) -> int:
        return int(
            await self._pool().fetchval(
                "SELECT count(DISTINCT reporter_id) FROM reports "
                "WHERE reported_id = $1 AND created_at >= $2 AND status <> $3",
                reported_id,
                since_ms,
                "" if include_dismissed else "dismissed",
            )
        )

    # --- blocks ---
    async def block(self, a: int, b: int, now_ms: int) -> None:
        await self._pool().execute(_BLOCK, *block_pair(a, b), now_ms)

    async def blocked(self, account_id: int) -> set[int]:
        rows = await self._pool().fetch(
            "SELECT high FROM blocks WHERE low = $1 UNION SELECT low FROM blocks WHERE high = $1",
            account_id,
        )
        return {row[0] for row in rows}

    async def blocks_of(self, account_ids: Iterable[int]) -> dict[int, set[int]]:
        ids = list(account_ids)
        rows = await self._pool().fetch(
            "SELECT low, high FROM blocks WHERE low = ANY($1::bigint[]) "
            "UNION SELECT low, high FROM blocks WHERE high = ANY($1::bigint[])",
            ids,
        )
        return blocks_by_account(ids, ((row[0], row[1]) for row in rows))

    async def all_blocks(self) -> list[tuple[int, int]]:
        rows = await self._pool().fetch("SELECT low, high FROM blocks ORDER BY low, high")
        return [(row[0], row[1]) for row in rows]

    # --- bans and suspensions ---
    async def add_ban(
        self,
        kind: str,
        account_id: int | None,
        network: str | None,
        reason: str,
        until_ms: int | None,
        now_ms: int,
    ) -> Ban:
        network = ban_target(kind, account_id, network)
        ban_id = await self._pool().fetchval(
            "INSERT INTO bans (kind, account_id, network, reason, ends_at, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            kind,
            account_id,
            network,
            reason,
            until_ms,
            now_ms,
        )
        return Ban(int(ban_id), kind, account_id, network, reason, until_ms, now_ms, None)

    async def lift_ban(self, ban_id: int, now_ms: int) -> bool:
        lifted = await self._pool().fetchval(
            "UPDATE bans SET lifted_at = $2 WHERE id = $1 AND lifted_at IS NULL RETURNING id",
            ban_id,
            now_ms,
        )
        return lifted is not None

    async def bans(self, active_at_ms: int | None) -> list[Ban]:
        if active_at_ms is None:
            rows = await self._pool().fetch(_SELECT_BANS + "ORDER BY id DESC")
        else:
            rows = await self._pool().fetch(
                _SELECT_BANS + "WHERE lifted_at IS NULL AND (ends_at IS NULL OR ends_at > $1) "
                "ORDER BY id DESC",
                active_at_ms,
            )
        return [Ban(*row) for row in rows]

    # --- audit ---
    async def audit(self, action: str, target: str, reason: str | None, now_ms: int) -> None:
        await self._pool().execute(
            "INSERT INTO audit (at, action, target, reason) VALUES ($1, $2, $3, $4)",
            now_ms,
            action,
            target,
            reason,
        )

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        rows = await self._pool().fetch(
            "SELECT at, action, target, reason FROM audit ORDER BY id DESC LIMIT $1",
            check_limit(limit),
        )
        return [AuditEntry(*row) for row in rows]

    # --- availability ---
    async def set_available(self, account_id: int, available: bool) -> None:
        if available:
            await self._pool().execute("DELETE FROM unavailable WHERE account_id = $1", account_id)
            return
        await self._pool().execute(
            "INSERT INTO unavailable (account_id) SELECT id FROM accounts WHERE id = $1 "
            "ON CONFLICT DO NOTHING",
            account_id,
        )

    async def available(self, account_id: int) -> bool:
        found = await self._pool().fetchval(
            "SELECT 1 FROM unavailable WHERE account_id = $1", account_id
        )
        return found is None
