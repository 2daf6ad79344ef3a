"""The `Store.purge` contract (storage/store.py docstrings), run against every
backend: what retention deletes, what it keeps, dry runs and chunks."""

from __future__ import annotations

import pytest

from pairchat.storage.records import NewMessage, PurgeReport, Signal
from pairchat.storage.store import Store

OLD = 1_000  # ms: ended or logged out before the cutoff
CUTOFF = 5_000
RECENT = 9_000  # ms: after it


async def ended_session(store: Store, a: int, b: int, at: int, messages: int = 2) -> int:
    """A session of a and b with `messages` messages (each with a requestId, and
    a signal to b), ended by a at `at`."""
    s = await store.create_session(a, b, 1, announce={"why": "test"})
    if messages:
        await store.append_messages(
            [NewMessage(s, a if i % 2 else b, f"m{i}", f"r{s}-{i}") for i in range(messages)],
            2,
            acks=[(s, b, 1)],
        )
    await store.put_signals([Signal(a, s, "PartnerExit", b)])
    assert await store.close_session(s, a, at)
    return s


async def purge_all(store: Store, cutoff: int, limit: int = 100) -> PurgeReport:
    total = PurgeReport(0, 0, 0)
    while not (report := await store.purge(cutoff, limit)).empty:
        total = PurgeReport(
            total.sessions + report.sessions,
            total.messages + report.messages,
            total.accounts + report.accounts,
        )
    return total


async def test_purge_deletes_old_sessions_and_logged_out_accounts(store: Store) -> None:
    gone = await store.create_account("gone", b"h", 1)
    active = await store.create_account("active", b"h", 1)
    s = await ended_session(store, gone, active, OLD, messages=3)
    await store.logout_account(gone, OLD)
    assert await purge_all(store, CUTOFF) == PurgeReport(1, 3, 1)
    assert await store.get_account(gone) is None
    assert await store.get_session(s) is None
    assert await store.history(s, 0, 50) == []
    assert await store.last_msg_id(s) == 0
    assert await store.pending_signals(gone) == []
    assert await store.pending_signals(active) == []
    active_account = await store.get_account(active)
    assert active_account is not None and not active_account.logged_out


async def test_purge_keeps_what_is_recent_or_still_in_use(store: Store) -> None:
    recent = await store.create_account("recent", b"h", 1)
    active = await store.create_account("active", b"h", 1)
    other = await store.create_account("other", b"h", 1)
    # ended recently: kept, and so is its member who logged out long ago
    kept = await ended_session(store, recent, active, RECENT)
    await store.logout_account(recent, OLD)
    # still open, between an active account and one logged out long ago
    open_ = await store.create_session(other, active, 1)
    await store.append_messages([NewMessage(open_, other, "hi", None)], 2)
    await store.logout_account(other, OLD)
    assert await purge_all(store, CUTOFF) == PurgeReport(0, 0, 0)
    for account in (recent, active, other):
        assert await store.get_account(account) is not None
    assert len(await store.history(kept, 0, 50)) == 2
    assert [m.content for m in await store.history(open_, 0, 50)] == ["hi"]
    # an account logged out after the cutoff stays, even without sessions
    late = await store.create_account("late", b"h", 1)
    await store.logout_account(late, RECENT)
    assert (await store.purge(CUTOFF, 10)).empty
    assert await store.get_account(late) is not None


async def test_an_old_session_goes_while_its_partner_stays_active(store: Store) -> None:
    a = await store.create_account("a", b"h", 1)
    partner = await store.create_account("partner", b"h", 1)
    old = await ended_session(store, a, partner, OLD)
    current = await store.create_session(a, partner, 3)
    assert await purge_all(store, CUTOFF) == PurgeReport(1, 2, 0)
    assert await store.get_session(old) is None
    assert await store.get_session(current) is not None
    # the partner's requestIds of the purged session are free again
    [again] = await store.append_messages([NewMessage(current, partner, "new", f"r{old}-0")], 4)
    assert (again.session_id, again.msg_id, again.duplicate) == (current, 1, False)
    assert await store.unacked(current, a) == [again]


async def test_an_account_goes_once_its_last_session_went(store: Store) -> None:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    old = await ended_session(store, a, b, OLD)
    newer = await ended_session(store, a, b, RECENT)
    await store.logout_account(a, OLD)
    await store.logout_account(b, OLD)
    assert await purge_all(store, CUTOFF) == PurgeReport(1, 2, 0)  # `newer` holds both
    assert await store.get_session(old) is None
    assert await purge_all(store, RECENT + 1) == PurgeReport(1, 2, 2)
    assert await store.get_session(newer) is None
    assert await store.get_account(a) is None and await store.get_account(b) is None


async def test_a_dry_run_counts_everything_and_changes_nothing(store: Store) -> None:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    c = await store.create_account("c", b"h", 1)
    sessions = [await ended_session(store, a, b, OLD, messages=i) for i in range(4)]
    await ended_session(store, b, c, RECENT)  # keeps b, c
    await store.logout_account(a, OLD)
    await store.logout_account(b, OLD)
    expected = PurgeReport(4, 0 + 1 + 2 + 3, 1)
    assert await store.purge(CUTOFF, 1, dry_run=True) == expected
    assert await store.purge(CUTOFF, 1, dry_run=True) == expected
    for s in sessions:
        assert await store.get_session(s) is not None
    assert await store.get_account(a) is not None
    assert await purge_all(store, CUTOFF) == expected


async def test_purge_goes_in_chunks_of_limit(store: Store) -> None:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    small = [await ended_session(store, a, b, OLD + i, messages=1) for i in range(5)]
    # 5 sessions of 1 message: at most 2 sessions whose messages total at most 2
    assert await store.purge(CUTOFF, 2) == PurgeReport(2, 2, 0)
    assert [await store.get_session(s) is None for s in small] == [True] * 2 + [False] * 3
    assert await store.purge(CUTOFF, 2) == PurgeReport(2, 2, 0)
    big = await ended_session(store, a, b, OLD + 10, messages=7)
    # the oldest is taken first; a session larger than the limit goes alone
    assert await store.purge(CUTOFF, 2) == PurgeReport(1, 1, 0)
    assert await store.purge(CUTOFF, 2) == PurgeReport(1, 7, 0)
    assert await store.get_session(big) is None
    await store.logout_account(a, OLD)
    await store.logout_account(b, OLD)
    assert await store.purge(CUTOFF, 1) == PurgeReport(0, 0, 1)
    assert await store.purge(CUTOFF, 1) == PurgeReport(0, 0, 1)
    assert (await store.purge(CUTOFF, 1)).empty


async def test_a_limit_below_one_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await store.purge(CUTOFF, 0)
