"""The `Store` contract (storage/store.py docstrings), run against every backend."""

from __future__ import annotations

import asyncio

import pytest

from pairchat.storage.records import NewMessage, Signal, StoredMessage
from pairchat.storage.store import Store
from tests.contract.conftest import DEADLINE, Backend


async def two_members(store: Store) -> tuple[int, int, int]:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    return a, b, await store.create_session(a, b, 1)


# --- msgIds and requestIds ---
async def test_msg_ids_are_gap_free_per_session(store: Store) -> None:
    a, b, s1 = await two_members(store)
    s2 = await store.create_session(a, b, 1)
    batch = [NewMessage(s1 if i % 3 else s2, a, f"m{i}", None) for i in range(30)]
    stored = await store.append_messages(batch, 5)
    for sid in (s1, s2):
        ids = [m.msg_id for m in stored if m.session_id == sid]
        assert ids == list(range(1, len(ids) + 1))
    more = await store.append_messages([NewMessage(s1, b, "next", None)], 6)
    assert more[0].msg_id == 21


async def test_repeated_request_id_stores_nothing_new(store: Store) -> None:
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


async def test_a_duplicate_returns_the_first_message_whole(store: Store) -> None:
    a, b, s = await two_members(store)
    s2 = await store.create_session(a, b, 1)
    await store.append_messages([NewMessage(s, a, "first", "r1")], 5)
    # a repeat names another session and content: the first message still wins
    [again] = await store.append_messages([NewMessage(s2, a, "second", "r1")], 9)
    assert again == StoredMessage(s, 1, a, "first", 5, duplicate=True)
    assert await store.history(s2, 0, 10) == []


async def test_a_failing_batch_stores_nothing(store: Store) -> None:
    a, _, s = await two_members(store)
    assert await store.append_messages([], 5) == []
    # the contract names no error type for an unknown session, only atomicity
    with pytest.raises(Exception):  # noqa: B017
        await store.append_messages(
            [NewMessage(s, a, "kept?", "r1"), NewMessage(s + 1000, a, "bad", None)], 5
        )
    assert await store.history(s, 0, 10) == []
    [stored] = await store.append_messages([NewMessage(s, a, "kept", "r1")], 6)
    assert (stored.msg_id, stored.duplicate) == (1, False)


@pytest.mark.parametrize("instances", [1, 2])
async def test_msg_ids_stay_gap_free_under_concurrent_batches(
    backend: Backend, instances: int
) -> None:
    """Batches sent at once, from one store or from two (two processes on one
    database), each spanning two sessions in either order."""
    stores = [await backend.open_store() for _ in range(instances)]
    a, b, s1 = await two_members(stores[0])
    s2 = await stores[0].create_session(a, b, 1)
    tasks, per_batch = 12, 40

    def batch(t: int) -> list[NewMessage]:
        first, second = (s1, s2) if t % 2 else (s2, s1)
        return [
            NewMessage(first if i % 3 else second, (a, b)[i % 2], f"{t}:{i}", None)
            for i in range(per_batch)
        ]

    results = await asyncio.wait_for(
        asyncio.gather(
            *(stores[t % instances].append_messages(batch(t), 10 + t) for t in range(tasks))
        ),
        DEADLINE,
    )

    for t, stored in enumerate(results):
        assert [m.content for m in stored] == [m.content for m in batch(t)]
        assert not any(m.duplicate for m in stored)
        for sid in (s1, s2):  # a batch's messages keep their order within a session
            ids = [m.msg_id for m in stored if m.session_id == sid]
            assert ids == sorted(ids)
    for sid in (s1, s2):
        history = await stores[-1].history(sid, 0, tasks * per_batch)
        assert [m.msg_id for m in history] == list(range(1, len(history) + 1))
        by_id = {m.msg_id: m.content for stored in results for m in stored if m.session_id == sid}
        assert {m.msg_id: m.content for m in history} == by_id
    assert sum(len(r) for r in results) == tasks * per_batch


async def test_request_ids_racing_from_two_stores_are_stored_once(backend: Backend) -> None:
    """Two processes store the same requestIds at once, to the same session and
    (a client retrying elsewhere with a stale session) to another one."""
    one, two = await backend.open_store(), await backend.open_store()
    a, b, s1 = await two_members(one)
    s2 = await one.create_session(a, b, 1)
    rounds, per_batch = 8, 10
    sends = []
    for r in range(rounds):
        keys = [f"r{r}-{i}" for i in range(per_batch)]
        other = s1 if r % 2 else s2
        sends.append(one.append_messages([NewMessage(s1, a, f"one {k}", k) for k in keys], 5))
        sends.append(
            two.append_messages([NewMessage(other, a, f"two {k}", k) for k in reversed(keys)], 6)
        )
    results = await asyncio.wait_for(asyncio.gather(*sends), DEADLINE)

    by_key: dict[str, list[StoredMessage]] = {}
    for sent, stored in enumerate(results):
        keys = [f"r{sent // 2}-{i}" for i in range(per_batch)]
        for key, m in zip(keys if sent % 2 == 0 else reversed(keys), stored, strict=True):
            by_key.setdefault(key, []).append(m)
    history = {m.content: m for sid in (s1, s2) for m in await one.history(sid, 0, 1000)}
    assert len(history) == rounds * per_batch  # one message per requestId
    for key, (x, y) in by_key.items():
        assert sorted([x.duplicate, y.duplicate]) == [False, True], key
        kept = y if x.duplicate else x
        assert (x.session_id, x.msg_id, x.content) == (y.session_id, y.msg_id, y.content)
        assert (history[kept.content].session_id, history[kept.content].msg_id) == (
            kept.session_id,
            kept.msg_id,
        )
        assert kept.content.endswith(key)
    for sid in (s1, s2):
        ids = [m.msg_id for m in await two.history(sid, 0, 1000)]
        assert ids == list(range(1, len(ids) + 1))


# --- reading ---
async def test_a_closed_session_refuses_messages_in_the_same_batch(store: Store) -> None:
    a, b, s = await two_members(store)
    other = await store.create_session(a, b, 1)
    await store.append_messages([NewMessage(s, a, "before", "r0")], 2)
    assert await store.close_session(s, b, 3)
    out = await store.append_messages(
        [
            NewMessage(s, a, "late", "r1"),
            NewMessage(other, a, "fine", None),
            NewMessage(s, a, "before", "r0"),
        ],
        4,
    )
    assert [(m.msg_id, m.closed, m.duplicate) for m in out] == [
        (0, True, False),
        (1, False, False),
        (1, False, True),
    ]
    assert [m.content for m in await store.history(s, 0, 10)] == ["before"]


async def test_history_pages(store: Store) -> None:
    a, _, s = await two_members(store)
    await store.append_messages([NewMessage(s, a, str(i), None) for i in range(10)], 5)
    page = await store.history(s, 3, 4)
    assert [m.msg_id for m in page] == [4, 5, 6, 7]


async def test_last_msg_id_is_the_highest_stored_of_the_session(store: Store) -> None:
    a, b, s = await two_members(store)
    other = await store.create_session(a, b, 1)
    assert await store.last_msg_id(s) == 0
    assert await store.last_msg_id(s + 1000) == 0  # no such session
    await store.append_messages([NewMessage(s, a, str(i), f"r{i}") for i in range(3)], 5)
    await store.append_messages([NewMessage(other, b, "x", None)], 6)
    assert (await store.last_msg_id(s), await store.last_msg_id(other)) == (3, 1)
    await store.append_messages([NewMessage(s, a, "0", "r0")], 7)  # a duplicate stores nothing
    assert await store.close_session(s, b, 8)
    await store.append_messages([NewMessage(s, a, "late", None)], 9)  # refused: closed
    assert await store.last_msg_id(s) == 3


async def test_acks_never_go_back_and_unacked_is_the_partners_rest(store: Store) -> None:
    a, b, s = await two_members(store)
    await store.append_messages(
        [NewMessage(s, a, "1", None), NewMessage(s, b, "2", None), NewMessage(s, a, "3", None)], 5
    )
    assert [m.msg_id for m in await store.unacked(s, b)] == [1, 3]
    assert await store.append_messages([], 6, [(s, b, 1)]) == []
    await store.append_messages([], 7, [(s, b, 3), (s, b, 0)])
    await store.append_messages([], 8, [(s, b, 1)])
    assert await store.unacked(s, b) == []
    assert [m.msg_id for m in await store.unacked(s, a)] == [2]


async def test_unacked_pages_and_the_backlog_count(store: Store) -> None:
    a, b, s = await two_members(store)
    senders = [a, a, b, a, a, b, a]  # msgIds 1..7; b's own are never b's backlog
    await store.append_messages([NewMessage(s, x, str(i), None) for i, x in enumerate(senders)], 5)
    assert await store.backlog(s, b) == (0, 5)
    assert [m.msg_id for m in await store.unacked(s, b, limit=2)] == [1, 2]
    assert [m.msg_id for m in await store.unacked(s, b, 2, 2)] == [4, 5]
    assert [m.msg_id for m in await store.unacked(s, b, 5)] == [7]
    await store.append_messages([], 6, [(s, b, 4)])
    assert await store.backlog(s, b) == (4, 2)
    # the acknowledged msgId wins over an earlier `after_msg_id`
    assert [m.msg_id for m in await store.unacked(s, b, 1, 1)] == [5]
    assert await store.backlog(s, a) == (0, 2)
    assert await store.backlog(s + 1000, a) == (0, 0)  # no such session
    assert await store.backlog(s, a + b + 1000) == (0, 0)  # not a member


async def test_acks_commit_with_a_batch_or_alone(store: Store) -> None:
    a, b, s = await two_members(store)
    await store.append_messages([NewMessage(s, a, "1", None), NewMessage(s, a, "2", None)], 5)
    # acks ride with the next batch: the highest of a member's wins, never lowering
    [third] = await store.append_messages([NewMessage(s, a, "3", None)], 6, [(s, b, 2), (s, b, 1)])
    assert third.msg_id == 3
    assert [m.msg_id for m in await store.unacked(s, b)] == [3]
    # with no message at all, the acks alone are written
    assert await store.append_messages([], 7, [(s, b, 3)]) == []
    assert await store.unacked(s, b) == []
    await store.append_messages([NewMessage(s, b, "x", None)], 8, [(s, b, 1)])
    assert await store.unacked(s, b) == []


async def test_a_failing_batch_keeps_its_acks_out(store: Store) -> None:
    a, b, s = await two_members(store)
    await store.append_messages([NewMessage(s, a, "1", None)], 5)
    with pytest.raises(Exception):  # noqa: B017
        await store.append_messages([NewMessage(s + 1000, a, "bad", None)], 6, [(s, b, 1)])
    assert [m.msg_id for m in await store.unacked(s, b)] == [1]


# --- signals ---
async def test_signals_replace_and_ack(store: Store) -> None:
    a, b, s = await two_members(store)
    await store.put_signals([Signal(b, s, "ViewedAck", a, {"msgId": 1})])
    await store.put_signals(
        [
            Signal(b, s, "ViewedAck", a, {"msgId": 4}),
            Signal(b, s, "PartnerExit", a, {"accountId": a}),
        ]
    )
    pending = await store.pending_signals(b)
    assert {(x.signal_type, x.data.get("msgId")) for x in pending} == {
        ("ViewedAck", 4),
        ("PartnerExit", None),
    }
    await store.ack_signal(b, s, "ViewedAck")
    assert [x.signal_type for x in await store.pending_signals(b)] == ["PartnerExit"]


async def test_the_last_signal_of_a_key_in_one_call_wins(store: Store) -> None:
    a, b, s = await two_members(store)
    await store.put_signals(
        [Signal(b, s, "ViewedAck", a, {"msgId": 2}), Signal(b, s, "ViewedAck", a, {"msgId": 3})]
    )
    assert [x.data for x in await store.pending_signals(b)] == [{"msgId": 3}]


# --- lifecycle ---
async def test_state_survives_reopening(backend: Backend) -> None:
    first = await backend.open_store()
    a = await first.create_account("a", b"t", 1)
    b = await first.create_account("b", b"t", 1)
    s = await first.create_session(a, b, 1)
    closed = await first.create_session(a, b, 1)
    assert await first.close_session(closed, a, 2)
    assert not await first.close_session(closed, a, 3)
    await first.append_messages([NewMessage(s, a, "kept", None)], 2)
    await first.logout_account(b, 3)
    await backend.close_store(first)

    second = await backend.open_store()
    snap = await second.snapshot()
    assert [x.id for x in snap.accounts] == [a]
    assert [x.id for x in snap.sessions] == [s]
    assert (await second.get_session(closed)).closed  # type: ignore[union-attr]
    assert [m.content for m in await second.history(s, 0, 10)] == ["kept"]


async def test_a_reopened_store_continues_ids_acks_and_signals(backend: Backend) -> None:
    first = await backend.open_store()
    a, b, s = await two_members(first)
    await first.append_messages([NewMessage(s, a, "1", "r1"), NewMessage(s, a, "2", "r2")], 5)
    await first.append_messages([], 6, [(s, b, 1)])
    await first.put_signals([Signal(b, s, "NewSession", a, {"nick": "a"})])
    await first.logout_account(a, 6)
    await backend.close_store(first)

    second = await backend.open_store()
    account = await second.get_account(a)
    assert account is not None and (account.nick, account.token_hash) == ("a", b"h")
    assert account.logged_out
    assert await second.get_account(a + b + 100) is None
    session = await second.get_session(s)
    assert session is not None and set(session.members) == {a, b} and not session.closed
    stored = await second.append_messages(
        [NewMessage(s, a, "again", "r2"), NewMessage(s, b, "3", "r3")], 7
    )
    assert [(m.msg_id, m.content, m.duplicate) for m in stored] == [(2, "2", True), (3, "3", False)]
    assert [m.msg_id for m in await second.unacked(s, b)] == [2]
    assert [(x.signal_type, x.data) for x in await second.pending_signals(b)] == [
        ("NewSession", {"nick": "a"})
    ]
    assert [x.id for x in (await second.snapshot()).accounts] == [b]


async def test_a_session_can_be_announced_in_its_own_transaction(store: Store) -> None:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    quiet = await store.create_session(a, b, 2)
    told = await store.create_session(a, b, 3, {"accountId": a, "nickName": "a"})
    [signal] = await store.pending_signals(b)
    assert (signal.session_id, signal.signal_type, signal.sender_id, signal.data) == (
        told,
        "NewSession",
        a,
        {"accountId": a, "nickName": "a"},
    )
    assert quiet != told and await store.pending_signals(a) == []
