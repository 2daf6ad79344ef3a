"""`pairchat purge [--dry-run]`: the retention policy applied once, by hand, to
a deployment's store (docs/operations.md, Retention).

It deletes what the background job of logic (`RetentionJob`) would: sessions
that ended more than `--retention-days` ago with their messages, accounts
logged out that long that nothing refers to any more, and reports decided that
long ago with their evidence (`Store.purge` says exactly what). With
`--dry-run` it only counts them. It prints what it deleted, or would delete.

It may run while the deployment does. Embedded, it opens the SQLite file with
a writer process of its own: SQLite serialises its transactions with those of
the running logic (each chunk is one short transaction; logic's writer waits
for it, as it waits for a checkpoint). Scaled, PostgreSQL does, and a purge
running meanwhile in logic skips the rows this one holds. It takes no lease:
two purges at the same cutoff delete the same rows once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from pairchat.errors import StartupError
from pairchat.logic.retention import DAY, PURGE_CHUNK
from pairchat.storage.backends import BackendConfig
from pairchat.storage.records import PurgeReport
from pairchat.storage.store import Store


@dataclass(slots=True)
class _Totals:
    """What a purge deleted so far (kept by the caller, so that a purge that
    fails midway still says what it did)."""

    sessions: int = 0
    messages: int = 0
    accounts: int = 0
    reports: int = 0

    def add(self, report: PurgeReport) -> None:
        self.sessions += report.sessions
        self.messages += report.messages
        self.accounts += report.accounts
        self.reports += report.reports

    @property
    def deleted(self) -> bool:
        return bool(self.sessions or self.messages or self.accounts or self.reports)

    def lines(self) -> list[str]:
        return [
            f"  sessions: {self.sessions} (ended before the cutoff, with their members' "
            "marks and requestIds)",
            f"  messages: {self.messages} (of those sessions)",
            f"  accounts: {self.accounts} (logged out before the cutoff, in no session "
            "or open report any more)",
            f"  reports: {self.reports} (resolved or dismissed before the cutoff, with "
            "their evidence)",
        ]


def purge_command(backends: BackendConfig, retention_days: float, dry_run: bool) -> int:
    """`pairchat purge`: purge (or count) and print; returns the exit code: 0
    done, 1 the store could not be opened or the purge failed, 2 a bad flag."""
    if not retention_days > 0:
        print(
            f"pairchat purge: --retention-days must be above 0, got {retention_days}",
            file=sys.stderr,
        )
        return 2
    cutoff_s = time.time() - retention_days * DAY
    totals = _Totals()
    try:
        where = asyncio.run(_purge(backends, int(cutoff_s * 1000), dry_run, totals))
    except Exception as exc:  # the store is out of reach, or failed midway
        # a StartupError says what to do; anything else is named with its type
        why = str(exc) if isinstance(exc, StartupError) else repr(exc)
        print(f"pairchat purge: {why}", file=sys.stderr)
        if not dry_run and totals.deleted:
            print("deleted before it stopped:", *totals.lines(), sep="\n", file=sys.stderr)
        return 1
    cutoff = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(cutoff_s))
    print(f"store: {where}")
    print(f"retention: {retention_days:g} days: cutoff {cutoff}")
    print("would delete (dry run, nothing changed):" if dry_run else "deleted:")
    print(*totals.lines(), sep="\n")
    return 0


async def _purge(backends: BackendConfig, cutoff_ms: int, dry_run: bool, totals: _Totals) -> str:
    """Open the store, purge into `totals`, close; returns what store it was.

    Raises:
        StartupError: the store cannot be opened (unreachable, missing, of
            another schema version).
    """
    store, where = await _open(backends)
    try:
        if dry_run:
            totals.add(await store.purge(cutoff_ms, PURGE_CHUNK, dry_run=True))
            return where
        while True:
            report = await store.purge(cutoff_ms, PURGE_CHUNK)
            totals.add(report)
            if report.empty:
                return where
    finally:
        await store.close()


async def _open(backends: BackendConfig) -> tuple[Store, str]:
    """The store of `backends` (PostgreSQL with a URL, else the SQLite file of
    the data dir, which must exist), opened, and how to name it."""
    if backends.database_url:
        from pairchat.storage.store_postgres import PostgresStore
        from pairchat.storage.store_postgres_schema import safe_url

        postgres = PostgresStore(backends.database_url, backends.db_schema)
        await postgres.open()
        return postgres, (
            f"PostgreSQL schema {backends.db_schema!r} at {safe_url(backends.database_url)}"
        )
    from pairchat.storage.store_sqlite import SqliteStore

    sqlite = SqliteStore(backends.data_dir)
    if not sqlite.path.is_file():
        raise StartupError(f"no pairchat store at {sqlite.path}: check --data-dir")
    try:
        await sqlite.open()
    except BaseException:
        await sqlite.close()  # its writer process, if it started
        raise
    return sqlite, f"SQLite {sqlite.path}"
