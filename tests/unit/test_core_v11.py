"""The connection core serves the version 1.1 requests: each becomes its logic
call, and logic's answers (MATCH's interests and `online`, code 10) reach the
client as docs/protocol.md writes them."""

from __future__ import annotations

import pytest

from pairchat.api.v1 import logic_pb2 as lpb
from tests.unit.test_core import CONN, ME, bound_client, ok, unbound


@pytest.mark.parametrize(
    ("cmd", "fields", "body", "expected"),
    [
        ("CANCEL_MATCH", {}, "cancel_match", lpb.CancelMatch()),
        ("AVAILABILITY", {"available": False}, "availability", lpb.SetAvailability()),
        ("AVAILABILITY", {"available": True}, "availability", lpb.SetAvailability(available=True)),
        (
            "REPORT",
            {"sessionId": 4, "reason": "abuse", "note": "rude"},
            "report",
            lpb.Report(session_id=4, reason="abuse", note="rude"),
        ),
        (
            "REPORT",
            {"sessionId": 4, "reason": "spam"},
            "report",
            lpb.Report(session_id=4, reason="spam"),
        ),
        ("BLOCK", {"sessionId": 4}, "block", lpb.Block(session_id=4)),
        (
            "MATCH",
            {"accountId": ME, "interests": ["Jazz", "go"]},
            "match",
            lpb.Match(interests=["jazz", "go"]),
        ),
    ],
)
def test_each_request_is_its_call_and_its_answer_comes_back(
    cmd: str, fields: dict[str, object], body: str, expected: object
) -> None:
    c = bound_client()
    c.send(cmd, requestId="r", **fields)
    call = c.call()
    assert (call.WhichOneof("body"), call.account_id, call.conn_id) == (body, ME, CONN)
    assert getattr(call, body) == expected
    c.core.receive_reply(ok(call))
    [answer] = c.frames()
    assert answer == {"cmd": cmd, "requestId": "r", "code": 0}


def test_nobody_available_tells_how_many_are_online() -> None:
    c = bound_client()
    c.send("MATCH", requestId="m", accountId=ME)
    call = c.call()
    refusal = lpb.Reply(call_id=call.call_id, code=4, msg="none", matched=lpb.Matched(online=5))
    c.core.receive_reply(refusal)
    assert c.frames() == [{"cmd": "MATCH", "requestId": "m", "code": 4, "msg": "none", "online": 5}]
    assert ("MATCH", 4) in c.counted


def test_a_banned_account_is_told_why() -> None:
    c = bound_client()
    c.send("LEAVE", requestId="l", sessionId=3)
    call = c.call()
    c.core.receive_reply(lpb.Reply(call_id=call.call_id, code=10, msg="banned: spam"))
    assert c.frames() == [{"cmd": "LEAVE", "requestId": "l", "code": 10, "msg": "banned: spam"}]


def test_v11_requests_need_an_account() -> None:
    c = unbound()
    for cmd in ("CANCEL_MATCH", "BLOCK"):
        c.send(cmd, requestId=cmd, sessionId=1)
    assert [(f["cmd"], f["code"]) for f in c.frames()] == [("CANCEL_MATCH", 5), ("BLOCK", 5)]
