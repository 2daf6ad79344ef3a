"""Moderation (logic/moderation.py) over a real SQLite store: what `refusal`
answers for accounts and addresses, bans made through another process within
a refresh, lifting, automatic suspension after reports, and the audit."""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pairchat.logic import moderation as moderation_module
from pairchat.logic.moderation import Moderation, refusal_message
from pairchat.storage.safety import Ban, Safety
from pairchat.storage.store_sqlite import SqliteStore

DEADLINE = 5.0  # seconds: the longest a test waits for a refresh
REFRESH = DEADLINE / 100


class Ended:
    """The `end_sessions` callback: records (account, reason)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    async def __call__(self, account_id: int, reason: str) -> None:
        self.calls.append((account_id, reason))


@pytest.fixture
async def ended() -> Ended:
    return Ended()


@pytest.fixture
async def moderation(store: SqliteStore, ended: Ended) -> AsyncIterator[Moderation]:
    m = Moderation(store.safety, 2, ended, refresh=REFRESH)
    await m.start()
    yield m
    await m.stop()


async def accounts(store: SqliteStore, n: int) -> list[int]:
    return [await store.create_account(f"u{i}", b"h", 1) for i in range(n)]


async def report(store: SqliteStore, reporter: int, reported: int) -> int:
    """A session of the two, then a report of it; the report's id."""
    s = await store.create_session(reporter, reported, 1)
    found, _ = await store.safety.report(
        s, reporter, reported, "spam", None, int(time.time() * 1000)
    )
    return found.id


async def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(REFRESH / 2)


# --- refusal ---
async def test_a_banned_account_is_refused_from_anywhere(
    moderation: Moderation, store: SqliteStore, ended: Ended
) -> None:
    a, b = await accounts(store, 2)
    assert moderation.refusal(a, "192.0.2.1") is None
    ban = await moderation.ban("ban", a, None, "spam", None)
    assert moderation.refusal(a, "192.0.2.1") == "banned: spam"
    assert moderation.refusal(a, "") == "banned: spam"
    assert moderation.refusal(b, "192.0.2.1") is None
    assert moderation.address_refusal("192.0.2.1") is None
    assert ended.calls == [(a, "spam")]
    assert (ban.kind, ban.account_id, ban.network, ban.until) == ("ban", a, None, None)


async def test_a_timed_ban_says_until_when_and_ends(
    moderation: Moderation, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    [a] = await accounts(store, 1)
    ban = await moderation.ban("ban", a, None, "spam", 90.0)
    assert ban.until is not None
    message = moderation.refusal(a, "")
    assert message == refusal_message(ban)
    assert message is not None and message.startswith("banned until ") and "UTC: spam" in message
    until = ban.until
    monkeypatch.setattr(moderation_module, "now_ms", lambda: until)
    assert moderation.refusal(a, "") is None


def test_the_refusal_message_never_shows_a_minute_before_the_end() -> None:
    until = calendar.timegm((2026, 12, 3, 10, 0, 30)) * 1000
    ban = Ban(1, "ban", 1, None, "spam", until, 0, None)
    assert refusal_message(ban) == "banned until 2026-12-03 10:01 UTC: spam"
    suspended = Ban(2, "suspension", 1, None, "reported by 3 accounts", None, 0, None)
    assert refusal_message(suspended) == (
        "suspended until a moderator decides: reported by 3 accounts"
    )


@pytest.mark.parametrize(
    ("network", "inside", "outside"),
    [
        ("10.0.0.0/8", ["10.1.2.3", "10.255.255.255", "::ffff:10.0.0.1"], ["11.0.0.1", "::1"]),
        ("203.0.113.7", ["203.0.113.7"], ["203.0.113.8"]),
        ("2001:db8::/64", ["2001:db8::1", "2001:DB8::ffff"], ["2001:db8:0:1::1", "10.0.0.1"]),
    ],
)
async def test_an_address_ban_refuses_every_address_of_its_network(
    moderation: Moderation,
    store: SqliteStore,
    ended: Ended,
    network: str,
    inside: list[str],
    outside: list[str],
) -> None:
    [a] = await accounts(store, 1)
    await moderation.ban("ban", None, network, "abuse", None)
    for address in inside:
        assert moderation.address_refusal(address) == "banned: abuse", address
        assert moderation.refusal(a, address) == "banned: abuse", address
    for address in [*outside, "?", ""]:
        assert moderation.address_refusal(address) is None, address
        assert moderation.refusal(a, address) is None, address
    assert ended.calls == []  # an address names no account


async def test_the_longest_of_several_bans_is_the_one_told(
    moderation: Moderation,
) -> None:
    await moderation.ban("ban", None, "198.51.100.0/24", "for an hour", 3600.0)
    await moderation.ban("ban", None, "198.51.0.0/16", "for good", None)
    assert moderation.address_refusal("198.51.100.1") == "banned: for good"


async def test_a_malformed_address_or_duration_is_refused_and_stores_nothing(
    moderation: Moderation, store: SqliteStore
) -> None:
    [a] = await accounts(store, 1)
    for address in ("10.0.0.1/8", "300.1.1.1", "example.org", ""):
        with pytest.raises(ValueError):
            await moderation.ban("ban", None, address, "x", None)
    for duration in (0.0, -1.0, float("inf"), 1e12):
        with pytest.raises(ValueError):
            await moderation.ban("ban", a, None, "x", duration)
    with pytest.raises(ValueError):
        await moderation.ban("ban", a, "10.0.0.0/8", "both", None)
    with pytest.raises(ValueError):
        await moderation.ban("mute", a, None, "kind", None)
    assert await moderation.bans(active=False) == []
    assert await moderation.audit_log(10) == []


# --- several processes ---
async def test_a_ban_or_lift_through_another_process_applies_within_a_refresh(
    moderation: Moderation, store: SqliteStore, ended: Ended
) -> None:
    [a] = await accounts(store, 1)
    other = Moderation(store.safety, 2, ended, refresh=REFRESH)
    await other.start()
    try:
        ban = await other.ban("ban", a, None, "spam", None)
        net = await other.ban("suspension", None, "192.0.2.0/24", "wait", None)
        await eventually(lambda: moderation.refusal(a, "") == "banned: spam")
        await eventually(
            lambda: (
                moderation.address_refusal("192.0.2.9")
                == "suspended until a moderator decides: wait"
            )
        )
        assert await other.lift(ban.id) == ban
        assert await other.lift(net.id) == net
        assert other.refusal(a, "192.0.2.9") is None  # at once where it was lifted
        await eventually(lambda: moderation.refusal(a, "192.0.2.9") is None)
    finally:
        await other.stop()


class GatedSafety:
    """The store's Safety, whose next `bans` call waits for the test."""

    def __init__(self, safety: Safety) -> None:
        self._safety = safety
        self.armed = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.returned = asyncio.Event()

    async def bans(self, active_at_ms: int | None) -> list[Ban]:
        gated, self.armed = self.armed, False
        if gated:
            self.entered.set()
        found = await self._safety.bans(active_at_ms)
        if gated:
            await self.release.wait()
            self.returned.set()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._safety, name)


async def test_a_reload_that_started_before_a_ban_does_not_undo_it(
    store: SqliteStore, ended: Ended
) -> None:
    [a] = await accounts(store, 1)
    gated = GatedSafety(store.safety)
    m = Moderation(gated, 2, ended, refresh=REFRESH)
    await m.start()
    try:
        gated.armed = True
        await gated.entered.wait()  # the reload read the bans: none yet
        await m.ban("ban", a, None, "spam", None)
        gated.release.set()
        await gated.returned.wait()
        assert m.refusal(a, "") == "banned: spam"
    finally:
        await m.stop()


# --- reports ---
async def test_reports_by_enough_accounts_suspend_until_a_moderator_decides(
    moderation: Moderation, store: SqliteStore, ended: Ended
) -> None:
    target, x, y, z = await accounts(store, 4)
    await report(store, x, target)
    await report(store, x, target)  # the same reporter again: still one
    await moderation.reported(target, int(time.time() * 1000))
    assert moderation.refusal(target, "") is None
    await report(store, y, target)
    await moderation.reported(target, int(time.time() * 1000))
    message = "suspended until a moderator decides: reported by 2 accounts"
    assert moderation.refusal(target, "") == message
    assert ended.calls == [(target, "reported by 2 accounts")]
    await report(store, z, target)
    await moderation.reported(target, int(time.time() * 1000))  # suspended already
    [suspension] = await moderation.bans(active=True)
    assert (suspension.kind, suspension.account_id, suspension.until) == (
        "suspension",
        target,
        None,
    )
    assert len(ended.calls) == 1
    [entry] = await moderation.audit_log(10)
    assert (entry.action, entry.target, entry.reason) == (
        "auto-suspend",
        f"account {target}",
        "reported by 2 accounts",
    )


async def test_dismissed_reports_and_old_ones_do_not_count(
    moderation: Moderation, store: SqliteStore
) -> None:
    target, x, y = await accounts(store, 3)
    first = await report(store, x, target)
    await moderation.decide(first, "dismissed", "a misunderstanding")
    await report(store, y, target)
    await moderation.reported(target, int(time.time() * 1000))
    assert moderation.refusal(target, "") is None
    day_later = int(time.time() * 1000) + moderation_module.REPORT_WINDOW_MS + 1
    await report(store, x, target)
    await moderation.reported(target, day_later)
    assert moderation.refusal(target, "") is None


async def test_a_threshold_of_0_never_suspends(store: SqliteStore, ended: Ended) -> None:
    target, *reporters = await accounts(store, 4)
    m = Moderation(store.safety, 0, ended, refresh=REFRESH)
    await m.start()
    try:
        for reporter in reporters:
            await report(store, reporter, target)
        await m.reported(target, int(time.time() * 1000))
        assert m.refusal(target, "") is None and ended.calls == []
    finally:
        await m.stop()


async def test_a_failing_suspension_is_logged_not_raised(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    target, x, y = await accounts(store, 3)

    async def fail(account_id: int, reason: str) -> None:
        raise RuntimeError("the sessions could not end")

    end: Callable[[int, str], Awaitable[None]] = fail
    m = Moderation(store.safety, 2, end, refresh=REFRESH)
    await m.start()
    try:
        await report(store, x, target)
        await report(store, y, target)
        await m.reported(target, int(time.time() * 1000))
        assert m.refusal(target, "") is not None  # the suspension holds
        assert any(r.getMessage() == "ending sessions failed" for r in caplog.records)
    finally:
        await m.stop()


# --- moderators ---
async def test_a_moderators_ban_replaces_the_suspension_and_every_action_is_audited(
    moderation: Moderation, store: SqliteStore, ended: Ended
) -> None:
    target, x, y = await accounts(store, 3)
    first = await report(store, x, target)
    await report(store, y, target)
    await moderation.reported(target, int(time.time() * 1000))
    [suspension] = await moderation.bans(active=True)
    ban = await moderation.ban("ban", target, None, "spam, confirmed", 3600.0)
    assert [b.id for b in await moderation.bans(active=True)] == [ban.id]
    decided = await moderation.decide(first, "resolved", "banned for an hour")
    assert decided is not None and decided.status == "resolved"
    assert await moderation.decide(first + 100, "resolved", None) is None
    with pytest.raises(ValueError):
        await moderation.decide(first, "open", None)
    assert await moderation.lift(ban.id) == ban
    assert await moderation.lift(ban.id) is None  # lifted already
    assert await moderation.lift(ban.id + 100) is None
    assert moderation.refusal(target, "") is None
    actions = [(e.action, e.target, e.reason) for e in await moderation.audit_log(10)]
    assert actions == [
        ("lift", f"account {target}", f"ban {ban.id}"),
        ("resolve", f"report {first}", "banned for an hour"),
        ("lift", f"account {target}", f"replaced by ban {ban.id}"),
        ("ban", f"account {target}", "spam, confirmed"),
        ("auto-suspend", f"account {target}", "reported by 2 accounts"),
    ]
    assert [call[0] for call in ended.calls] == [target, target]
    assert {b.id for b in await moderation.bans(active=False)} == {suspension.id, ban.id}
