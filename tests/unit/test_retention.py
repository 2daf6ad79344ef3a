"""The retention job (logic/retention.py): it purges what is older than the
retention, in the one process holding the lease, and refuses a bad period."""

from __future__ import annotations

import pytest

from pairchat.errors import StartupError
from pairchat.logic.retention import DAY, PURGE_INTERVAL, RetentionJob, interval_of
from pairchat.logic.service import now_ms
from pairchat.storage.leases_memory import MemoryLeases
from pairchat.storage.records import PurgeReport
from pairchat.storage.store_sqlite import SqliteStore


async def test_only_the_lease_holder_purges(store: SqliteStore) -> None:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    s = await store.create_session(a, b, 1)
    await store.close_session(s, a, 2)
    await store.logout_account(a, 2)
    leases = MemoryLeases()
    first = RetentionJob(store, leases, 1.0, holder="p1")
    second = RetentionJob(store, leases, 1.0, holder="p2")
    assert await first.purge_once() == PurgeReport(1, 0, 1)
    await store.logout_account(b, 3)
    assert await second.purge_once() == PurgeReport(0, 0, 0)  # p1 holds the lease
    assert await store.get_account(b) is not None
    await first.release()
    assert await second.purge_once() == PurgeReport(0, 0, 1)
    assert await store.get_account(b) is None


async def test_what_is_younger_than_the_retention_stays(store: SqliteStore) -> None:
    a = await store.create_account("a", b"h", 1)
    await store.logout_account(a, now_ms())
    job = RetentionJob(store, MemoryLeases(), 1.0, holder="p1")
    assert await job.purge_once() == PurgeReport(0, 0, 0)
    assert await store.get_account(a) is not None


def test_the_interval_is_hourly_or_a_tenth_of_a_short_retention() -> None:
    assert interval_of(30 * DAY) == PURGE_INTERVAL
    assert interval_of(60.0) == 6.0


@pytest.mark.parametrize("days", [0.0, -1.0])
async def test_a_retention_not_above_zero_is_refused(store: SqliteStore, days: float) -> None:
    with pytest.raises(StartupError, match="--retention-days must be above 0"):
        RetentionJob(store, MemoryLeases(), days, holder="p1")


async def test_decided_reports_count_in_the_totals_and_the_log(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    s = await store.create_session(a, b, 1)
    report, _ = await store.safety.report(s, a, b, "spam", None, 1)
    await store.safety.set_report_status(report.id, "resolved", None, 2)
    job = RetentionJob(store, MemoryLeases(), 1.0, holder="p1")
    with caplog.at_level("INFO", logger="pairchat.logic"):
        assert await job.purge_once() == PurgeReport(0, 0, 0, 1)
    [purged] = [r for r in caplog.records if r.getMessage() == "purged"]
    assert purged.fields["reports"] == 1  # type: ignore[attr-defined]
    assert await store.safety.report_by_id(report.id) is None
