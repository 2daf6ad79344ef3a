"""The `Safety` contract (storage/safety.py docstrings), run against every
backend as `Store.safety`: reports and their evidence, blocks, bans, the audit
log, availability, their retention, and the upgrade of a database of the
previous schema version."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

import pairchat.storage.store_postgres_schema as migrate_module
from pairchat.addresses import normalize_network
from pairchat.storage import store_sqlite_ops
from pairchat.storage.records import NewMessage, PurgeReport
from pairchat.storage.safety import (
    AuditEntry,
    Ban,
    EvidenceMessage,
    Report,
)
from pairchat.storage.store import Store
from pairchat.storage.store_postgres import PostgresStore
from pairchat.storage.store_postgres_schema import migrate, quote_ident
from pairchat.storage.store_sqlite import SqliteStore
from tests.contract.conftest import DEADLINE, Backend

OLD = 1_000  # ms: decided, ended or logged out before the cutoff
CUTOFF = 5_000
RECENT = 9_000  # ms: after it


async def accounts(store: Store, n: int) -> list[int]:
    return [await store.create_account(f"u{i}", b"h", 1) for i in range(n)]


async def chat(store: Store, a: int, b: int, messages: int) -> int:
    """A session of a and b with `messages` messages, a and b in turn."""
    s = await store.create_session(a, b, 1)
    if messages:
        await store.append_messages(
            [NewMessage(s, (a, b)[i % 2], f"m{i + 1}", None) for i in range(messages)], 2
        )
    return s


async def purge_all(store: Store, cutoff: int, limit: int = 100) -> PurgeReport:
    total = PurgeReport(0, 0, 0, 0)
    while not (report := await store.purge(cutoff, limit)).empty:
        total = PurgeReport(
            total.sessions + report.sessions,
            total.messages + report.messages,
            total.accounts + report.accounts,
            total.reports + report.reports,
        )
    return total


# --- reports ---
async def test_a_report_copies_the_last_messages_and_blocks_the_pair(store: Store) -> None:
    a, b, c = await accounts(store, 3)
    s = await chat(store, a, b, 60)
    report, created = await store.safety.report(s, a, b, "spam", "buy stuff", 100)
    assert created
    assert (report.reporter_id, report.reported_id, report.session_id) == (a, b, s)
    assert (report.reason, report.note, report.status, report.created_at) == (
        "spam",
        "buy stuff",
        "open",
        100,
    )
    assert (report.resolved_at, report.resolution_note) == (None, None)
    assert [m.msg_id for m in report.evidence] == list(range(11, 61))
    assert report.evidence[0] == EvidenceMessage(11, a, "m11", 2)
    assert await store.safety.report_by_id(report.id) == report
    assert await store.safety.blocked(a) == {b}
    assert await store.safety.blocked(b) == {a}
    assert await store.safety.blocked(c) == set()
    # a smaller evidence limit, and a session without messages
    short, _ = await store.safety.report(s, b, a, "abuse", None, 101, evidence_limit=2)
    assert [m.content for m in short.evidence] == ["m59", "m60"]
    quiet = await chat(store, a, c, 0)
    empty, _ = await store.safety.report(quiet, c, a, "other", None, 102)
    assert empty.evidence == () and empty.note is None


async def test_reporting_the_same_session_again_changes_nothing(store: Store) -> None:
    a, b = await accounts(store, 2)
    s = await chat(store, a, b, 3)
    first, created = await store.safety.report(s, a, b, "spam", "one", 100)
    await store.append_messages([NewMessage(s, b, "more", None)], 3)
    again, created_again = await store.safety.report(s, a, b, "abuse", "two", 200)
    assert created and not created_again
    assert again == first
    assert [r.id for r in await store.safety.reports(None, 10)] == [first.id]
    # the same reporter in another session is another report
    other = await chat(store, a, b, 1)
    _, created = await store.safety.report(other, a, b, "spam", None, 300)
    assert created


async def test_a_report_refuses_a_self_report_and_a_negative_evidence_limit(
    store: Store,
) -> None:
    a, b = await accounts(store, 2)
    s = await chat(store, a, b, 1)
    with pytest.raises(ValueError):
        await store.safety.report(s, a, a, "spam", None, 100)
    with pytest.raises(ValueError):
        await store.safety.report(s, a, b, "spam", None, 100, evidence_limit=-1)
    assert await store.safety.reports(None, 10) == []
    assert await store.safety.blocked(a) == set()


async def test_reports_racing_from_two_stores_are_stored_once(backend: Backend) -> None:
    one, two = await backend.open_store(), await backend.open_store()
    a, b = await accounts(one, 2)
    s = await chat(one, a, b, 2)
    results = await asyncio.wait_for(
        asyncio.gather(
            *(store.safety.report(s, a, b, "spam", None, 100) for store in (one, two, one, two))
        ),
        DEADLINE,
    )
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({report for report, _ in results}) == 1
    assert len(await two.safety.reports(None, 10)) == 1


async def test_evidence_outlives_the_sessions_messages(store: Store) -> None:
    a, b = await accounts(store, 2)
    s = await chat(store, a, b, 3)
    report, _ = await store.safety.report(s, a, b, "abuse", None, OLD)
    assert await store.close_session(s, a, OLD)
    assert await purge_all(store, CUTOFF) == PurgeReport(1, 3, 0, 0)
    assert await store.history(s, 0, 10) == []
    kept = await store.safety.report_by_id(report.id)
    assert kept == report
    assert [m.content for m in kept.evidence] == ["m1", "m2", "m3"]


async def test_reports_are_listed_newest_first_by_status(store: Store) -> None:
    a, b, c = await accounts(store, 3)
    ids = []
    for reporter, reported in ((a, b), (b, c), (c, a), (a, c)):
        s = await chat(store, reporter, reported, 1)
        report, _ = await store.safety.report(s, reporter, reported, "spam", None, 100)
        ids.append(report.id)
    await store.safety.set_report_status(ids[1], "resolved", None, 200)
    await store.safety.set_report_status(ids[2], "dismissed", None, 200)
    safety = store.safety
    assert [r.id for r in await safety.reports(None, 10)] == ids[::-1]
    assert [r.id for r in await safety.reports(None, 2)] == [ids[3], ids[2]]
    assert [r.id for r in await safety.reports("open", 10)] == [ids[3], ids[0]]
    assert [r.id for r in await safety.reports("resolved", 10)] == [ids[1]]
    assert [r.id for r in await safety.reports("dismissed", 10)] == [ids[2]]
    assert all(len(r.evidence) == 1 for r in await safety.reports(None, 10))
    assert await safety.reports("open", 0) == []
    for bad in ("all", "closed"):
        with pytest.raises(ValueError):
            await safety.reports(bad, 10)
    with pytest.raises(ValueError):
        await safety.reports(None, -1)
    assert await safety.report_by_id(ids[-1] + 100) is None


async def test_a_status_change_records_when_and_the_moderators_note(store: Store) -> None:
    a, b = await accounts(store, 2)
    s = await chat(store, a, b, 2)
    report, _ = await store.safety.report(s, a, b, "abuse", "reporter's words", 100)
    resolved = await store.safety.set_report_status(report.id, "resolved", "banned them", 200)
    assert resolved is not None
    assert (resolved.status, resolved.resolved_at, resolved.resolution_note) == (
        "resolved",
        200,
        "banned them",
    )
    assert resolved.note == "reporter's words" and resolved.evidence == report.evidence
    assert await store.safety.report_by_id(report.id) == resolved
    dismissed = await store.safety.set_report_status(report.id, "dismissed", None, 300)
    assert dismissed is not None
    assert (dismissed.status, dismissed.resolved_at, dismissed.resolution_note) == (
        "dismissed",
        300,
        None,
    )
    reopened = await store.safety.set_report_status(report.id, "open", "look again", 400)
    assert reopened is not None
    assert (reopened.status, reopened.resolved_at, reopened.resolution_note) == (
        "open",
        None,
        "look again",
    )
    assert await store.safety.set_report_status(report.id + 100, "resolved", None, 500) is None
    with pytest.raises(ValueError):
        await store.safety.set_report_status(report.id, "closed", None, 500)
    assert await store.safety.report_by_id(report.id) == reopened


async def test_distinct_reporters_count_accounts_within_the_window(store: Store) -> None:
    target, x, y, z = await accounts(store, 4)
    for reporter, at in ((x, 100), (x, 200), (y, 200), (z, 300)):
        s = await chat(store, reporter, target, 1)
        await store.safety.report(s, reporter, target, "spam", None, at)
    s = await chat(store, target, x, 1)
    await store.safety.report(s, target, x, "spam", None, 400)  # against x, not target
    [last] = await store.safety.reports(None, 1)
    await store.safety.set_report_status(last.id, "dismissed", None, 500)
    safety = store.safety
    assert await safety.distinct_reporters(target, 0) == 3
    assert await safety.distinct_reporters(target, 200) == 3  # at since_ms counts
    assert await safety.distinct_reporters(target, 201) == 1
    assert await safety.distinct_reporters(target, 301) == 0
    assert await safety.distinct_reporters(x, 0) == 1  # whatever its status
    assert await safety.distinct_reporters(y, 0) == 0


async def test_distinct_reporters_may_leave_dismissed_reports_out(store: Store) -> None:
    target, x, y, z = await accounts(store, 4)
    found = {}
    for reporter in (x, y, z):
        s = await chat(store, reporter, target, 1)
        found[reporter], _ = await store.safety.report(s, reporter, target, "spam", None, 100)
    s = await chat(store, x, target, 1)
    await store.safety.report(s, x, target, "abuse", None, 100)  # x's second, left open
    await store.safety.set_report_status(found[x].id, "dismissed", None, 200)
    await store.safety.set_report_status(found[y].id, "dismissed", None, 200)
    await store.safety.set_report_status(found[z].id, "resolved", None, 200)
    safety = store.safety
    assert await safety.distinct_reporters(target, 0) == 3
    # x still counts through its other report; resolved ones count
    assert await safety.distinct_reporters(target, 0, include_dismissed=False) == 2
    assert await safety.distinct_reporters(target, 101, include_dismissed=False) == 0


# --- blocks ---
async def test_blocks_are_symmetric_and_idempotent(store: Store) -> None:
    a, b, c, d = await accounts(store, 4)
    safety = store.safety
    await safety.block(a, b, 1)
    await safety.block(b, a, 2)
    await safety.block(a, b, 3)
    await safety.block(c, a, 4)
    assert await safety.blocked(a) == {b, c}
    assert await safety.blocked(b) == {a}
    assert await safety.blocked(c) == {a}
    assert await safety.blocked(d) == set()
    assert await safety.blocks_of([a, b, d]) == {a: {b, c}, b: {a}, d: set()}
    assert await safety.blocks_of([]) == {}
    assert await safety.all_blocks() == [(a, b), (a, c)]
    with pytest.raises(ValueError):
        await safety.block(d, d, 5)
    assert await safety.blocked(d) == set()


# --- bans and suspensions ---
async def test_bans_are_active_until_they_end_or_are_lifted(store: Store) -> None:
    a, b = await accounts(store, 2)
    safety = store.safety
    forever = await safety.add_ban("ban", a, None, "abuse", None, 100)
    assert forever == Ban(forever.id, "ban", a, None, "abuse", None, 100, None)
    timed = await safety.add_ban("suspension", b, None, "reports", 500, 200)
    single = await safety.add_ban("ban", None, " 203.0.113.7 ", "spam", None, 300)
    ipv6 = await safety.add_ban("ban", None, "2001:DB8::/32", "spam", 1_000, 400)
    assert (single.network, ipv6.network) == ("203.0.113.7/32", "2001:db8::/32")
    newest_first = [ipv6, single, timed, forever]
    assert await safety.bans(None) == newest_first
    assert await safety.bans(450) == newest_first
    assert await safety.bans(500) == [ipv6, single, forever]  # until is exclusive
    assert await safety.bans(1_000) == [single, forever]

    assert await safety.lift_ban(single.id, 600)
    assert not await safety.lift_ban(single.id, 700)  # lifted already
    assert not await safety.lift_ban(ipv6.id + 100, 700)  # unknown
    assert await safety.bans(650) == [ipv6, forever]
    everything = await safety.bans(None)
    assert [x.id for x in everything] == [x.id for x in newest_first]
    assert everything[1].lifted_at == 600
    assert everything[2] == timed  # expired, still listed


@pytest.mark.parametrize(
    ("kind", "account", "network"),
    [
        ("ban", None, None),  # neither
        ("ban", 1, "203.0.113.7"),  # both
        ("mute", 1, None),  # unknown kind
        ("ban", None, "203.0.113.7/24"),  # host bits set
        ("ban", None, "not an address"),
    ],
)
async def test_a_ban_that_names_no_valid_target_is_refused(
    store: Store, kind: str, account: int | None, network: str | None
) -> None:
    with pytest.raises(ValueError):
        await store.safety.add_ban(kind, account, network, "x", None, 1)
    assert await store.safety.bans(None) == []


# --- audit and availability ---
async def test_the_audit_log_is_newest_first(store: Store) -> None:
    safety = store.safety
    await safety.audit("ban", "account:7", "spam", 100)
    await safety.audit("dismiss", "report:3", None, 200)
    await safety.audit("lift", "ban:1", "appeal", 300)
    assert await safety.audit_log(10) == [
        AuditEntry(300, "lift", "ban:1", "appeal"),
        AuditEntry(200, "dismiss", "report:3", None),
        AuditEntry(100, "ban", "account:7", "spam"),
    ]
    assert [e.at for e in await safety.audit_log(2)] == [300, 200]
    with pytest.raises(ValueError):
        await safety.audit_log(-1)


async def test_availability_defaults_to_true_and_is_kept(store: Store) -> None:
    a, b = await accounts(store, 2)
    safety = store.safety
    assert await safety.available(a)
    await safety.set_available(a, False)
    await safety.set_available(a, False)
    assert not await safety.available(a)
    assert await safety.available(b)
    await safety.set_available(a, True)
    await safety.set_available(a, True)
    assert await safety.available(a)
    await safety.set_available(b + 100, False)  # no such account: ignored
    assert await safety.available(b + 100)


async def test_safety_data_survives_reopening(backend: Backend) -> None:
    first = await backend.open_store()
    a, b, c = await accounts(first, 3)
    s = await chat(first, a, b, 2)
    report, _ = await first.safety.report(s, a, b, "abuse", None, 100)
    await first.safety.block(a, c, 100)
    ban = await first.safety.add_ban("suspension", b, None, "reports", None, 100)
    await first.safety.audit("suspend", f"account:{b}", "reports", 100)
    await first.safety.set_available(c, False)
    await backend.close_store(first)

    second = await backend.open_store()
    assert await second.safety.report_by_id(report.id) == report
    assert await second.safety.all_blocks() == [(a, b), (a, c)]
    assert await second.safety.bans(200) == [ban]
    assert await second.safety.audit_log(5) == [
        AuditEntry(100, "suspend", f"account:{b}", "reports")
    ]
    assert not await second.safety.available(c)
    assert await second.safety.available(a)
    # ids go on, never reused
    again, created = await second.safety.report(s, b, a, "spam", None, 200)
    assert created and again.id > report.id


# --- retention ---
async def test_purge_keeps_open_reports_and_the_accounts_they_name(store: Store) -> None:
    a, b = await accounts(store, 2)
    s = await chat(store, a, b, 2)
    report, _ = await store.safety.report(s, a, b, "abuse", None, OLD)
    await store.safety.add_ban("ban", b, None, "abuse", None, OLD)
    await store.safety.audit("ban", f"account:{b}", "abuse", OLD)
    await store.safety.set_available(a, False)
    assert await store.close_session(s, a, OLD)
    await store.logout_account(a, OLD)
    await store.logout_account(b, OLD)
    assert await store.purge(CUTOFF, 10, dry_run=True) == PurgeReport(1, 2, 0, 0)
    assert await purge_all(store, CUTOFF) == PurgeReport(1, 2, 0, 0)
    assert await store.safety.report_by_id(report.id) == report
    assert await store.get_account(a) is not None and await store.get_account(b) is not None
    # decided after the cutoff: still kept
    await store.safety.set_report_status(report.id, "resolved", None, RECENT)
    assert (await store.purge(CUTOFF, 10)).empty
    assert await store.safety.report_by_id(report.id) is not None
    # decided before a later cutoff: the report goes, then its accounts;
    # blocks, bans and the audit log stay
    assert await store.purge(RECENT + 1, 10, dry_run=True) == PurgeReport(0, 0, 2, 1)
    assert await purge_all(store, RECENT + 1) == PurgeReport(0, 0, 2, 1)
    assert await store.safety.report_by_id(report.id) is None
    assert await store.get_account(a) is None and await store.get_account(b) is None
    assert await store.safety.all_blocks() == [(a, b)]
    assert [x.account_id for x in await store.safety.bans(None)] == [b]
    assert len(await store.safety.audit_log(10)) == 1
    assert await store.safety.available(a)  # its setting went with the account


async def test_purge_deletes_decided_reports_in_chunks(store: Store) -> None:
    reporter, *others = await accounts(store, 4)
    ids = []
    for i, other in enumerate(others):
        s = await chat(store, reporter, other, 2)
        report, _ = await store.safety.report(s, reporter, other, "spam", None, 1)
        await store.safety.set_report_status(report.id, "dismissed", None, OLD + i)
        ids.append(report.id)
    s = await chat(store, reporter, others[0], 1)
    still_open, _ = await store.safety.report(s, reporter, others[0], "spam", None, 1)
    assert await store.purge(CUTOFF, 1, dry_run=True) == PurgeReport(0, 0, 0, 3)
    # oldest decision first, at most `limit` a chunk
    assert await store.purge(CUTOFF, 2) == PurgeReport(0, 0, 0, 2)
    assert [await store.safety.report_by_id(i) is None for i in ids] == [True, True, False]
    assert await store.purge(CUTOFF, 2) == PurgeReport(0, 0, 0, 1)
    assert (await store.purge(CUTOFF, 2)).empty
    assert [r.id for r in await store.safety.reports(None, 10)] == [still_open.id]


# --- the records' JSON ---
def test_the_records_json_is_the_moderation_apis() -> None:
    evidence = (EvidenceMessage(4, 2, "hi", 50),)
    report = Report(9, 100, 1, 2, 3, "spam", None, "open", None, None, evidence)
    assert report.as_dict() == {
        "id": 9,
        "createdAt": 100,
        "reporterId": 1,
        "reportedId": 2,
        "sessionId": 3,
        "reason": "spam",
        "note": None,
        "status": "open",
        "resolvedAt": None,
        "resolutionNote": None,
        "evidence": [{"msgId": 4, "senderId": 2, "content": "hi", "createdAt": 50}],
    }
    assert Ban(1, "ban", 7, None, "abuse", None, 100, None).as_dict() == {
        "id": 1,
        "kind": "ban",
        "accountId": 7,
        "reason": "abuse",
        "until": None,
        "createdAt": 100,
        "liftedAt": None,
    }
    assert Ban(2, "suspension", None, "10.0.0.0/8", "x", 500, 100, 300).as_dict() == {
        "id": 2,
        "kind": "suspension",
        "address": "10.0.0.0/8",
        "reason": "x",
        "until": 500,
        "createdAt": 100,
        "liftedAt": 300,
    }
    assert AuditEntry(5, "ban", "account:7", None).as_dict() == {
        "at": 5,
        "action": "ban",
        "target": "account:7",
        "reason": None,
    }


def test_networks_are_normalized() -> None:
    assert normalize_network("2001:db8::1") == "2001:db8::1/128"
    assert normalize_network("192.0.2.0/24") == "192.0.2.0/24"
    with pytest.raises(ValueError):
        normalize_network("192.0.2.1/24")


# --- upgrading a database of the previous version ---
async def test_a_sqlite_file_of_version_1_is_upgraded_at_open(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "pairchat.sqlite3")
    conn.executescript(store_sqlite_ops.SCHEMA)  # version 1: the store's tables alone
    conn.execute("INSERT INTO accounts (nick, token_hash, created_at) VALUES ('old', x'01', 1)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    store = SqliteStore(tmp_path)
    try:
        await store.open()
        await check_upgraded(store)
    finally:
        await store.close()
    conn = sqlite3.connect(tmp_path / "pairchat.sqlite3")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store_sqlite_ops.SCHEMA_VERSION
    finally:
        conn.close()


async def test_a_postgres_schema_of_version_2_is_upgraded_by_migrate(
    pg_schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, schema = pg_schema
    shipped = migrate_module.migrations()
    [safety] = [m for m in shipped if m.name == "0003_safety"]
    with monkeypatch.context() as patch:
        patch.setattr(migrate_module, "migrations", lambda: shipped[: safety.version - 1])
        await migrate(url, schema)
    conn = await asyncpg.connect(url, server_settings={"search_path": quote_ident(schema)})
    try:
        await conn.execute(
            "INSERT INTO accounts (nick, token_hash, created_at) VALUES ('old', '\\x01', 1)"
        )
    finally:
        await conn.close()
    assert await migrate(url, schema) == [m.name for m in shipped[safety.version - 1 :]]
    store = PostgresStore(url, schema, pool_min=1, pool_max=2)
    await store.open()
    try:
        await check_upgraded(store)
    finally:
        await store.close()


async def check_upgraded(store: Store) -> None:
    """The account stored before the upgrade is there, and safety works."""
    [old] = (await store.snapshot()).accounts
    assert old.nick == "old"
    new = await store.create_account("new", b"h", 2)
    s = await chat(store, old.id, new, 1)
    report, created = await store.safety.report(s, new, old.id, "spam", None, 3)
    assert created and [m.content for m in report.evidence] == ["m1"]
    assert await store.safety.blocked(old.id) == {new}
    assert await store.safety.available(old.id)
