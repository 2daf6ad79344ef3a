"""The SQLite store's contract (storage/base.py docstrings)."""

from __future__ import annotations

from pathlib import Path

from pairchat.storage.base import NewMessage, Signal
from pairchat.storage.sqlite import SqliteStore


async def two_members(store: SqliteStore) -> tuple[int, int, int]:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    return a, b, await store.create_session(a, b, 1)


async def test_msg_ids_are_gap_free_per_session(store: SqliteStore) -> None:
    a, b, s1 = await two_members(store)
    s2 = await store.create_session(a, b, 1)
    batch = [NewMessage(s1 if i % 3 else s2, a, f"m{i}", None) for i in range(30)]
    stored = await store.append_messages(batch, 5)
    for sid in (s1, s2):
        ids = [m.msg_id for m in stored if m.session_id == sid]
        assert ids == list(range(1, len(ids) + 1))
    more = await store.append_messages([NewMessage(s1, b, "next", None)], 6)
    assert more[0].msg_id == 21


async def test_repeated_request_id_stores_nothing_new(store: SqliteStore) -> None:
    a, b, s = await two_members(store)
    first = await store.append_messages([NewMessage(s, a, "hi", "r1")], 5)
    again = await store.append_messages(
        [NewMessage(s, a, "hi", "r1"), NewMessage(s, a, "x", "r2"), NewMessage(s, a, "x", "r2")],
        6,
    )
    assert [(m.msg_id, m.duplicate) for m in again] == [(1, True), (2, False), (2, True)]
    assert first[0].msg_id == 1
    # another sender may use the same requestId
    other = await store.append_messages([NewMessage(s, b, "yo", "r1")], 7)
    assert (other[0].msg_id, other[0].duplicate) == (3, False)
    assert [m.content for m in await store.history(s, 0, 50)] == ["hi", "x", "yo"]


async def test_history_pages(store: SqliteStore) -> None:
    a, _, s = await two_members(store)
    await store.append_messages([NewMessage(s, a, str(i), None) for i in range(10)], 5)
    page = await store.history(s, 3, 4)
    assert [m.msg_id for m in page] == [4, 5, 6, 7]


async def test_acks_never_go_back_and_unacked_is_the_partners_rest(store: SqliteStore) -> None:
    a, b, s = await two_members(store)
    await store.append_messages(
        [NewMessage(s, a, "1", None), NewMessage(s, b, "2", None), NewMessage(s, a, "3", None)], 5
    )
    assert [m.msg_id for m in await store.unacked(s, b)] == [1, 3]
    await store.record_acks([(s, b, 1)])
    await store.record_acks([(s, b, 3), (s, b, 0)])
    await store.record_acks([(s, b, 1)])
    assert await store.unacked(s, b) == []
    assert [m.msg_id for m in await store.unacked(s, a)] == [2]


async def test_signals_replace_and_ack(store: SqliteStore) -> None:
    a, b, s = await two_members(store)
    await store.put_signals([Signal(b, s, "ViewedAck", a, {"msgId": 1})])
    await store.put_signals([Signal(b, s, "ViewedAck", a, {"msgId": 4}),
                             Signal(b, s, "PartnerExit", a, {"accountId": a})])
    pending = await store.pending_signals(b)
    assert {(x.signal_type, x.data.get("msgId")) for x in pending} == {
        ("ViewedAck", 4), ("PartnerExit", None)}
    await store.ack_signal(b, s, "ViewedAck")
    assert [x.signal_type for x in await store.pending_signals(b)] == ["PartnerExit"]


async def test_state_survives_reopening(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path)
    await first.open()
    a = await first.create_account("a", b"t", 1)
    b = await first.create_account("b", b"t", 1)
    s = await first.create_session(a, b, 1)
    closed = await first.create_session(a, b, 1)
    assert await first.close_session(closed, a, 2)
    assert not await first.close_session(closed, a, 3)
    await first.append_messages([NewMessage(s, a, "kept", None)], 2)
    await first.logout_account(b, 3)
    await first.close()

    second = SqliteStore(tmp_path)
    await second.open()
    snap = await second.snapshot()
    assert [x.id for x in snap.accounts] == [a]
    assert [x.id for x in snap.sessions] == [s]
    assert (await second.get_session(closed)).closed  # type: ignore[union-attr]
    assert [m.content for m in await second.history(s, 0, 10)] == ["kept"]
    await second.close()
