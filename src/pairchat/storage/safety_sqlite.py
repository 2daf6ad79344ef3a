"""`Safety` in the embedded store's SQLite file, as `SqliteStore.safety`.

It shares the store's machinery rather than opening the file again: writes go
to the store's writer process as operations of safety_sqlite_ops.OPS (so they
commit with the store's group commit), reads run on the store's reader thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from pairchat.storage.safety import (
    EVIDENCE_LIMIT,
    AuditEntry,
    Ban,
    Report,
    blocks_by_account,
    check_limit,
    check_status,
)
from pairchat.storage.safety_sqlite_ops import SELECT_BANS, select_reports
from pairchat.storage.store_sqlite_writer import SqliteWriter

T = TypeVar("T")


class Reader(Protocol):
    """The store's way to run a read on its reader thread."""

    def __call__(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]: ...


class SqliteSafety:
    """`Safety` through a `SqliteStore`'s writer and reader."""

    def __init__(self, writer: SqliteWriter, read: Reader) -> None:
        self._writer = writer
        self._read = read

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
        stored: tuple[Report, bool] = await self._writer.call(
            "report", session_id, reporter_id, reported_id, reason, note, now_ms, evidence_limit
        )
        return stored

    async def reports(self, status: str | None, limit: int) -> list[Report]:
        check_limit(limit)
        if status is None:
            return await self._read(
                lambda conn: select_reports(conn, "ORDER BY id DESC LIMIT ?", (limit,))
            )
        check_status(status)
        return await self._read(
            lambda conn: select_reports(
                conn, "WHERE status = ? ORDER BY id DESC LIMIT ?", (status, limit)
            )
        )

    async def report_by_id(self, report_id: int) -> Report | None:
        found = await self._read(lambda conn: select_reports(conn, "WHERE id = ?", (report_id,)))
        return found[0] if found else None

    async def set_report_status(
        self, report_id: int, status: str, note: str | None, now_ms: int
    ) -> Report | None:
        changed: Report | None = await self._writer.call(
            "set_report_status", report_id, status, note, now_ms
        )
        return changed

    async def distinct_reporters(
        self, reported_id: int, since_ms: int, *, include_dismissed: bool = True
    ) -> int:
        excluded = "" if include_dismissed else "dismissed"

        def read(conn: sqlite3.Connection) -> int:
            count: int = conn.execute(
                "SELECT count(DISTINCT reporter_id) FROM reports "
                "WHERE reported_id = ? AND created_at >= ? AND status != ?",
                (reported_id, since_ms, excluded),
            ).fetchone()[0]
            return count

        return await self._read(read)

    # --- blocks ---
    async def block(self, a: int, b: int, now_ms: int) -> None:
        await self._writer.call("block", a, b, now_ms)

    async def blocked(self, account_id: int) -> set[int]:
        def read(conn: sqlite3.Connection) -> set[int]:
            rows = conn.execute(
                "SELECT high FROM blocks WHERE low = ?1 "
                "UNION SELECT low FROM blocks WHERE high = ?1",
                (account_id,),
            )
            return {row[0] for row in rows}

        return await self._read(read)

    async def blocks_of(self, account_ids: Iterable[int]) -> dict[int, set[int]]:
        ids = list(account_ids)

        def read(conn: sqlite3.Connection) -> list[tuple[int, int]]:
            return conn.execute(
                "SELECT low, high FROM blocks WHERE low IN (SELECT value FROM json_each(?1)) "
                "UNION "
                "SELECT low, high FROM blocks WHERE high IN (SELECT value FROM json_each(?1))",
                (json.dumps(ids),),
            ).fetchall()

        return blocks_by_account(ids, await self._read(read))

    async def all_blocks(self) -> list[tuple[int, int]]:
        return await self._read(
            lambda conn: [
                (row[0], row[1])
                for row in conn.execute("SELECT low, high FROM blocks ORDER BY low, high")
            ]
        )

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
        ban: Ban = await self._writer.call(
            "add_ban", kind, account_id, network, reason, until_ms, now_ms
        )
        return ban

    async def lift_ban(self, ban_id: int, now_ms: int) -> bool:
        lifted: bool = await self._writer.call("lift_ban", ban_id, now_ms)
        return lifted

    async def bans(self, active_at_ms: int | None) -> list[Ban]:
        def read(conn: sqlite3.Connection) -> list[Ban]:
            if active_at_ms is None:
                rows = conn.execute(SELECT_BANS + "ORDER BY id DESC")
            else:
                rows = conn.execute(
                    SELECT_BANS + "WHERE lifted_at IS NULL AND (ends_at IS NULL OR ends_at > ?) "
                    "ORDER BY id DESC",
                    (active_at_ms,),
                )
            return [Ban(*row) for row in rows]

        return await self._read(read)

    # --- audit ---
    async def audit(self, action: str, target: str, reason: str | None, now_ms: int) -> None:
        await self._writer.call("audit", action, target, reason, now_ms)

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        check_limit(limit)
        return await self._read(
            lambda conn: [
                AuditEntry(*row)
                for row in conn.execute(
                    "SELECT at, action, target, reason FROM audit ORDER BY id DESC LIMIT ?",
                    (limit,),
                )
            ]
        )

    # --- availability ---
    async def set_available(self, account_id: int, available: bool) -> None:
        await self._writer.call("set_available", account_id, available)

    async def available(self, account_id: int) -> bool:
        return await self._read(
            lambda conn: (
                conn.execute(
                    "SELECT 1 FROM unavailable WHERE account_id = ?", (account_id,)
                ).fetchone()
                is None
            )
        )
