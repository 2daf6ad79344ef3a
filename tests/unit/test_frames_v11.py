"""The version 1.1 requests (docs/protocol.md): MATCH's interests, CANCEL_MATCH,
AVAILABILITY, REPORT and BLOCK, parsed and checked without I/O."""

from __future__ import annotations

import json

import pytest

from pairchat.protocol import (
    Availability,
    BadFrame,
    Block,
    CancelMatch,
    Code,
    FrameParser,
    Match,
    Report,
    SignalAck,
)

parser = FrameParser(max_content=10)


def parse(obj: object) -> object:
    return parser.parse(json.dumps(obj))


def bad(obj: object) -> BadFrame:
    result = parse(obj)
    assert isinstance(result, BadFrame), result
    return result


def test_match_interests_are_trimmed_lowercased_and_deduplicated() -> None:
    assert parse({"cmd": "MATCH", "accountId": 1}) == Match(accountId=1, interests=[])
    got = parse(
        {"cmd": "MATCH", "accountId": 1, "interests": [" Jazz ", "jazz", "Ünïcode", "a|b,c"]}
    )
    assert got == Match(accountId=1, interests=["jazz", "ünïcode", "a|b,c"])


@pytest.mark.parametrize(
    "interests",
    [
        ["a", "b", "c", "d", "e", "f"],  # over 5
        ["x" * 25],  # over 24 characters
        ["   "],  # empty once trimmed
        [""],
        ["ok", 3],  # not a string
        "music",  # not a list
        ["bad\u202eone"],  # a bidi override
        ["tab\there"],
    ],
)
def test_bad_interests_are_code_1(interests: object) -> None:
    refused = bad({"cmd": "MATCH", "accountId": 1, "interests": interests, "requestId": "m"})
    assert (refused.cmd, refused.requestId, refused.code) == ("MATCH", "m", Code.PARAM_ERR)


def test_exactly_five_interests_of_24_characters_pass() -> None:
    tags = [c * 24 for c in "abcde"]
    assert parse({"cmd": "MATCH", "accountId": 1, "interests": tags}) == Match(
        accountId=1, interests=tags
    )


def test_cancel_match_and_availability() -> None:
    assert parse({"cmd": "CANCEL_MATCH", "requestId": "c"}) == CancelMatch(requestId="c")
    assert parse({"cmd": "AVAILABILITY", "available": False}) == Availability(available=False)
    assert bad({"cmd": "AVAILABILITY"}).code == Code.PARAM_ERR
    assert bad({"cmd": "AVAILABILITY", "available": "no"}).code == Code.PARAM_ERR
    assert bad({"cmd": "AVAILABILITY", "available": 0}).code == Code.PARAM_ERR


@pytest.mark.parametrize("reason", ["spam", "abuse", "sexual", "minor", "other"])
def test_report_reasons(reason: str) -> None:
    assert parse({"cmd": "REPORT", "sessionId": 4, "reason": reason}) == Report(
        sessionId=4,
        reason=reason,  # type: ignore[arg-type]
    )


def test_report_note_and_bad_reports() -> None:
    note = "n" * 500
    assert parse({"cmd": "REPORT", "sessionId": 4, "reason": "spam", "note": note}) == Report(
        sessionId=4, reason="spam", note=note
    )
    assert bad({"cmd": "REPORT", "sessionId": 4, "reason": "rude"}).code == Code.PARAM_ERR
    assert bad({"cmd": "REPORT", "sessionId": 4}).code == Code.PARAM_ERR
    too_long = {"cmd": "REPORT", "sessionId": 4, "reason": "spam", "note": "n" * 501}
    assert bad(too_long).code == Code.PARAM_ERR
    assert bad({"cmd": "REPORT", "sessionId": 0, "reason": "spam"}).code == Code.PARAM_ERR


def test_block() -> None:
    assert parse({"cmd": "BLOCK", "sessionId": 4}) == Block(sessionId=4)
    assert bad({"cmd": "BLOCK", "sessionId": "4"}).code == Code.PARAM_ERR


@pytest.mark.parametrize("signal", ["PartnerAway", "PartnerBack"])
def test_the_new_signals_are_acknowledged_like_the_others(signal: str) -> None:
    ack = {"cmd": "PUSH_SIGNAL", "code": 0, "sessionId": 1, "signalType": signal}
    assert parse(ack) == SignalAck(sessionId=1, signalType=signal)
