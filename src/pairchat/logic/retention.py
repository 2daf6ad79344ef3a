"""Retention: the background job that deletes what `--retention-days` lets go.

Sessions that ended longer ago than the retention period go with their
messages, and so do accounts logged out that long and reports decided that
long ago, with their evidence (`Store.purge` says exactly what). The job runs
in one logic process at a time: the holder of the "purge" lease (`Leases`;
memory in the embedded mode, Redis when scaled) purges every
`interval_of(retention)`, in chunks of `PURGE_CHUNK` so that no transaction
holds the store for long, and extends its lease between chunks; another
process takes over once the holder stops (it releases the lease) or dies (it
lapses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from pairchat.errors import StartupError
from pairchat.obs import event
from pairchat.storage.leases import Leases
from pairchat.storage.records import PurgeReport
from pairchat.storage.store import Store

log = logging.getLogger("pairchat.logic")

LEASE = "purge"
PURGE_INTERVAL = 3600.0  # seconds between purges, unless the retention is short
PURGE_CHUNK = 500  # sessions (and their messages) or accounts per transaction
LEASE_INTERVALS = 3  # a holder that missed this many purges in a row lost its lease
DAY = 86400.0  # seconds


def interval_of(retention: float) -> float:
    """Seconds between purges: hourly, or a tenth of a shorter retention, so
    that nothing outlives the retention period by more than a tenth of it."""
    return min(PURGE_INTERVAL, retention / 10)


class RetentionJob:
    """Purges, in the one process that holds the lease, what ended longer than
    `retention_days` ago.

    Raises:
        StartupError: `retention_days` is not above 0.
    """

    def __init__(self, store: Store, leases: Leases, retention_days: float, holder: str) -> None:
        if not retention_days > 0:
            raise StartupError(f"--retention-days must be above 0, got {retention_days}")
        self.store = store
        self.leases = leases
        self.retention = retention_days * DAY
        self.interval = interval_of(self.retention)
        self.holder = holder

    async def run(self) -> None:
        """Purge at once, then every `interval`, while this process holds the
        lease; until cancelled."""
        while True:
            try:
                if await self._hold():
                    await self.purge_once()
            except Exception as exc:  # the engines recover by themselves; try next time
                event(log, "purge failed", logging.WARNING, error=repr(exc))
            await asyncio.sleep(self.interval)

    async def purge_once(self) -> PurgeReport:
        """Delete everything older than the retention, chunk by chunk, as long
        as this process keeps the lease; returns the totals."""
        cutoff = int((time.time() - self.retention) * 1000)
        sessions = messages = accounts = reports = 0
        while await self._hold():
            report = await self.store.purge(cutoff, PURGE_CHUNK)
            sessions += report.sessions
            messages += report.messages
            accounts += report.accounts
            reports += report.reports
            if report.empty:
                break
        total = PurgeReport(sessions, messages, accounts, reports)
        if not total.empty:
            event(
                log,
                "purged",
                sessions=sessions,
                messages=messages,
                accounts=accounts,
                reports=reports,
            )
        return total

    async def release(self) -> None:
        """Give the lease up (at stop), so another process purges next."""
        with contextlib.suppress(Exception):  # it lapses by itself otherwise
            await self.leases.release(LEASE, self.holder)

    async def _hold(self) -> bool:
        return await self.leases.hold(LEASE, self.holder, LEASE_INTERVALS * self.interval)
