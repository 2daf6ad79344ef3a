"""Acknowledgements of pushes get no response when they succeed and an error
frame (the push's cmd, the code, a msg) when they do not."""

from __future__ import annotations

import json

from .client import Frame, Predicate, is_dialogue
from .users import Pair, Users

UNKNOWN_SESSION = 2**40


def is_ack_error(cmd: str) -> Predicate:
    def match(frame: Frame) -> bool:
        return frame.get("cmd") == cmd and "code" in frame and frame["code"] != 0

    return match


async def test_a_good_ack_gets_no_response_and_stops_the_replay(pair: Pair, users: Users) -> None:
    await pair.a.send(pair.session_id, "one")
    push = await pair.b.expect_push(is_dialogue(pair.session_id, 1))
    await pair.b.ack(push)
    await pair.b.assert_nothing_more(is_ack_error("PUSH_DIALOGUE"))


async def test_acks_of_a_session_one_is_not_in_are_refused(pair: Pair, users: Users) -> None:
    outsider = await users.new("outsider")
    await outsider.send_raw(
        json.dumps(
            {
                "cmd": "PUSH_DIALOGUE",
                "code": 0,
                "requestId": "k1",
                "sessionId": pair.session_id,
                "msgId": 1,
            }
        )
    )
    err = await outsider.expect(is_ack_error("PUSH_DIALOGUE"))
    assert (err["code"], err.get("requestId")) == (6, "k1") and err["msg"]
    foreign = err
    await outsider.send_raw(
        json.dumps(
            {
                "cmd": "PUSH_SIGNAL",
                "code": 0,
                "sessionId": pair.session_id,
                "signalType": "NewSession",
            }
        )
    )
    err = await outsider.expect(is_ack_error("PUSH_SIGNAL"))
    assert err["code"] == 6 and err["msg"]
    await outsider.send_raw(
        json.dumps({"cmd": "PUSH_DIALOGUE", "code": 0, "sessionId": UNKNOWN_SESSION, "msgId": 1})
    )
    err = await outsider.expect(is_ack_error("PUSH_DIALOGUE"))
    # an unknown session is refused like another one's: ids cannot be probed
    assert (err["code"], err["msg"]) == (foreign["code"], foreign["msg"])
    await outsider.send_raw(
        json.dumps(
            {
                "cmd": "PUSH_SIGNAL",
                "code": 0,
                "sessionId": UNKNOWN_SESSION,
                "signalType": "NewSession",
            }
        )
    )
    err = await outsider.expect(is_ack_error("PUSH_SIGNAL"))
    assert (err["code"], err["msg"]) == (foreign["code"], foreign["msg"])
    # the outsider's acks changed nothing for the members
    await pair.a.send(pair.session_id, "still delivered")
    push = await pair.b.expect_push(is_dialogue(pair.session_id, 1))
    assert push["content"] == "still delivered"


async def test_an_ack_beyond_the_last_message_is_refused_and_hides_nothing(
    pair: Pair, users: Users
) -> None:
    for text in ("one", "two"):
        await pair.a.send(pair.session_id, text)
    await pair.b.expect_dialogues(pair.session_id, 2)
    for msg_id in (3, 2**53 - 1):
        err = await pair.b.request("PUSH_DIALOGUE", code=0, sessionId=pair.session_id, msgId=msg_id)
        assert err["code"] == 1 and err["msg"], err
    assert await pair.a.send(pair.session_id, "three") == 3
    await pair.b.expect_push(is_dialogue(pair.session_id, 3))
    # Nothing was acknowledged: RECONNECT replays every message, the later one too.
    b2 = await users.connect(name="b-again")
    await b2.reconnect(pair.b.account_id, pair.b.token)
    replayed = await b2.expect_dialogues(pair.session_id, 3)
    assert [(p["msgId"], p["content"]) for p in replayed] == [
        (1, "one"),
        (2, "two"),
        (3, "three"),
    ]
