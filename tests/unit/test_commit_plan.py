"""The group-commit planner and the ack folding both stores share
(storage/commit_plan.py), driven with plain values: no database."""

from __future__ import annotations

import pytest

from pairchat.storage.commit_plan import fold_acks, plan_commit
from pairchat.storage.records import NewMessage, StoredMessage

NOW = 1_700_000_000_000


def msg(session: int, sender: int, content: str, request: str | None = None) -> NewMessage:
    return NewMessage(session, sender, content, request)


# --- numbering ---
def test_messages_take_each_sessions_next_msg_ids_in_batch_order() -> None:
    batch = [msg(1, 10, "a"), msg(2, 20, "b"), msg(1, 11, "c"), msg(2, 21, "d"), msg(1, 10, "e")]
    plan = plan_commit(batch, NOW, {1: 4, 2: 0}, {})
    assert [(m.session_id, m.msg_id, m.content) for m in plan.results] == [
        (1, 5, "a"),
        (2, 1, "b"),
        (1, 6, "c"),
        (2, 2, "d"),
        (1, 7, "e"),
    ]
    assert plan.new == plan.results
    assert all(m.created_at == NOW and not m.duplicate and not m.closed for m in plan.results)
    assert plan.last_msg_ids == {1: 7, 2: 2}


def test_msg_ids_never_leave_a_gap_whatever_else_the_batch_holds() -> None:
    batch = [
        msg(1, 10, "one", "r1"),
        msg(2, 20, "refused"),  # session 2 is closed
        msg(1, 10, "repeat", "r1"),
        msg(1, 10, "stored before", "r0"),
        msg(1, 11, "two"),
    ]
    stored = {(10, "r0"): StoredMessage(1, 3, 10, "stored before", NOW - 5, duplicate=True)}
    plan = plan_commit(batch, NOW, {1: 7, 2: 9}, stored, {2})
    assert [m.msg_id for m in plan.new] == [8, 9]
    assert plan.last_msg_ids == {1: 9}


def test_only_sessions_that_advanced_are_to_be_written() -> None:
    stored = {(10, "r"): StoredMessage(1, 1, 10, "x", NOW - 1, duplicate=True)}
    plan = plan_commit([msg(1, 10, "x", "r")], NOW, {1: 1}, stored)
    assert plan.new == [] and plan.claims == [] and plan.last_msg_ids == {}


def test_an_empty_batch_plans_nothing() -> None:
    plan = plan_commit([], NOW, {}, {})
    assert (plan.results, plan.new, plan.claims, plan.last_msg_ids) == ([], [], [], {})


# --- duplicates by requestId ---
def test_a_request_id_stored_before_returns_its_first_message() -> None:
    first = StoredMessage(1, 3, 10, "hello", NOW - 60_000)
    plan = plan_commit([msg(1, 10, "hello again", "r1")], NOW, {1: 5}, {(10, "r1"): first})
    [result] = plan.results
    assert result == StoredMessage(1, 3, 10, "hello", NOW - 60_000, duplicate=True)
    assert plan.new == [] and plan.claims == []


def test_a_request_id_repeated_within_the_batch_is_stored_once() -> None:
    batch = [msg(1, 10, "x", "r2"), msg(1, 10, "y", "r3"), msg(1, 10, "x", "r2")]
    plan = plan_commit(batch, NOW, {1: 0}, {})
    assert [(m.msg_id, m.content, m.duplicate) for m in plan.results] == [
        (1, "x", False),
        (2, "y", False),
        (1, "x", True),
    ]
    assert [m.msg_id for m in plan.new] == [1, 2]


def test_request_ids_are_per_sender_and_messages_without_one_never_repeat() -> None:
    batch = [msg(1, 10, "a", "r"), msg(1, 11, "b", "r"), msg(1, 10, "c"), msg(1, 10, "c")]
    plan = plan_commit(batch, NOW, {1: 0}, {})
    assert [m.msg_id for m in plan.results] == [1, 2, 3, 4]
    assert not any(m.duplicate for m in plan.results)


def test_claims_come_in_key_order_with_their_msg_ids() -> None:
    batch = [msg(2, 20, "a", "r9"), msg(1, 11, "b", "r1"), msg(1, 10, "c", "r5"), msg(1, 10, "d")]
    plan = plan_commit(batch, NOW, {1: 0, 2: 0}, {})
    assert plan.claims == [(10, "r5", 1, 2), (11, "r1", 1, 1), (20, "r9", 2, 1)]


# --- closed and unknown sessions ---
def test_a_message_to_a_closed_session_stores_nothing() -> None:
    plan = plan_commit([msg(1, 10, "late", "r1")], NOW, {1: 4}, {}, {1})
    assert plan.results == [StoredMessage(1, 0, 10, "late", NOW, closed=True)]
    assert plan.new == [] and plan.claims == [] and plan.last_msg_ids == {}


def test_a_repeat_of_a_message_stored_before_the_session_closed_is_a_duplicate() -> None:
    first = StoredMessage(1, 2, 10, "kept", NOW - 1)
    plan = plan_commit([msg(1, 10, "kept", "r1")], NOW, {1: 2}, {(10, "r1"): first}, {1})
    assert plan.results == [StoredMessage(1, 2, 10, "kept", NOW - 1, duplicate=True)]


def test_a_closed_session_need_not_have_a_last_msg_id() -> None:
    plan = plan_commit([msg(3, 10, "late")], NOW, {}, {}, {3})
    assert [m.closed for m in plan.results] == [True]


def test_an_unknown_session_refuses_the_whole_batch() -> None:
    with pytest.raises(LookupError, match=r"no such session: \[7, 9\]"):
        plan_commit([msg(1, 10, "ok"), msg(9, 10, "x"), msg(7, 10, "y")], NOW, {1: 0}, {})
    stored = {(10, "r"): StoredMessage(1, 1, 10, "x", NOW - 1, duplicate=True)}
    with pytest.raises(LookupError):  # even when the message is a repeat
        plan_commit([msg(9, 10, "x", "r")], NOW, {}, stored)


# --- acks ---
def test_acks_fold_to_the_highest_msg_id_per_member_in_key_order() -> None:
    acks = [(2, 20, 1), (1, 11, 4), (2, 20, 7), (1, 10, 3), (2, 20, 5), (1, 11, 0)]
    assert fold_acks(acks) == [(1, 10, 3), (1, 11, 4), (2, 20, 7)]


def test_no_acks_fold_to_none() -> None:
    assert fold_acks([]) == []
