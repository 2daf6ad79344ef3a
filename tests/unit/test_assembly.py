"""Fragmented messages: joined, refused or closed under their three bounds."""

from __future__ import annotations

from pairchat.broker.assembly import (
    MESSAGE_TOO_BIG,
    NOT_TEXT,
    NOT_UTF8,
    POLICY_VIOLATION,
    TRY_AGAIN_LATER,
    Assembly,
    Budget,
    Close,
    Message,
    Outcome,
    Refuse,
    Start,
)


def feed(assembly: Assembly, start: Start, fin: bool, payload: bytes) -> Outcome:
    return assembly.frame(start, fin, len(payload), lambda: payload)


def test_text_fragments_are_one_message_and_give_their_bytes_back() -> None:
    budget = Budget(100)
    a = Assembly(50, budget)
    assert feed(a, "text", False, b'{"cmd":') is None
    assert a.in_progress and budget.held == 7
    assert feed(a, None, False, b'"PI') is None
    assert feed(a, None, True, b'NG"}') == Message('{"cmd":"PING"}')
    assert not a.in_progress and budget.held == 0


def test_a_message_past_its_limit_closes_1009() -> None:
    budget = Budget(100)
    a = Assembly(10, budget)
    assert feed(a, "text", False, b"123456") is None
    assert feed(a, None, False, b"78901") == Close(MESSAGE_TOO_BIG, "message too big")
    assert not a.in_progress and budget.held == 0


def test_the_process_budget_closes_the_connection_that_would_pass_it_1013() -> None:
    budget = Budget(10)
    first, second = Assembly(100, budget), Assembly(100, budget)
    assert feed(first, "text", False, b"1234567") is None
    outcome = feed(second, "text", False, b"1234")
    assert isinstance(outcome, Close) and outcome.code == TRY_AGAIN_LATER
    assert budget.held == 7 and not second.in_progress
    # the first goes on, and once it ends the budget is free again
    assert feed(first, None, True, b"8") == Message("12345678")
    assert budget.held == 0
    assert feed(second, "text", False, b"123456789") is None


def test_expire_drops_the_message_in_progress_and_closes_1008() -> None:
    budget = Budget(100)
    a = Assembly(100, budget)
    assert a.expire() is None  # nothing in progress: nothing to close
    feed(a, "text", False, b"abc")
    outcome = a.expire()
    assert isinstance(outcome, Close) and outcome.code == POLICY_VIOLATION
    assert not a.in_progress and budget.held == 0


def test_a_new_message_ends_an_unfinished_one() -> None:
    budget = Budget(100)
    a = Assembly(100, budget)
    feed(a, "text", False, b"old")
    assert feed(a, "text", True, b'"new"') == Message('"new"')
    assert budget.held == 0


def test_binary_is_refused_and_its_fragments_are_never_held() -> None:
    budget = Budget(4)
    a = Assembly(4, budget)
    assert feed(a, "binary", True, b"\x00") == Refuse(NOT_TEXT)
    assert feed(a, "binary", False, b"\x00" * 3) is None
    assert feed(a, None, False, b"\x00" * 100) is None  # past every limit: skipped
    assert budget.held == 0 and a.in_progress
    assert feed(a, None, True, b"\x00") == Refuse(NOT_TEXT)
    assert not a.in_progress


def test_bad_utf8_is_refused_and_a_stray_continuation_ignored() -> None:
    a = Assembly(100, Budget(100))
    assert feed(a, None, True, b"x") is None
    feed(a, "text", False, b"\xe2\x82")
    assert feed(a, None, True, b"\xff") == Refuse(NOT_UTF8)
    # a character split across fragments is fine
    feed(a, "text", False, b"\xe2\x82")
    assert feed(a, None, True, b"\xac") == Message("\u20ac")


def test_reset_is_idempotent() -> None:
    budget = Budget(100)
    a = Assembly(100, budget)
    feed(a, "text", False, b"abc")
    a.reset()
    a.reset()
    assert budget.held == 0
