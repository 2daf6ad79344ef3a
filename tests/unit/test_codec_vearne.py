"""The dialect of vearne/chat (broker/codec_vearne.py): every frame of
VEARNE-DIALECT.md, byte for byte where the spec quotes one (its section 4 is a
session captured between the real server and chat-ui), and every bad frame."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.broker.codec import Codec, PushKey, push_key
from pairchat.broker.codec_vearne import BLANK_NICKNAME, PING_INTERVAL, VearneCodec
from pairchat.protocol import (
    BadFrame,
    Code,
    CreateAccount,
    Dialogue,
    FrameParser,
    Match,
    Ping,
    Reconnect,
    ViewedAck,
    encode_push_dialogue,
    encode_push_signal,
)

MAX_CONTENT = 20
ALICE, BOB = 29, 30
SESSION = 22
TOKEN = "dsYLDARHEe5gRFQKuuIBQ111rhtsNP"
REQUEST_ID = "1b4bf1b0-eded-11f1-b8ec-a949f9628dfc"
PARSER = FrameParser(MAX_CONTENT)


def codec() -> VearneCodec:
    return VearneCodec(PARSER)


def frame(cmd: str, **fields: Any) -> str:
    return json.dumps({"cmd": cmd, **fields})


def created(c: VearneCodec, account_id: int = ALICE, nick: str = "alice") -> bytes | None:
    bound = lpb.AccountBound(account_id=account_id, nick_name=nick, token=TOKEN)
    return c.reply("CRT_ACCOUNT", None, lpb.Reply(call_id=1, bound=bound))


def bound_codec(account_id: int = ALICE) -> VearneCodec:
    c = codec()
    created(c, account_id)
    return c


def matched(c: VearneCodec, session_id: int = SESSION, partner: int = BOB) -> bytes | None:
    m = lpb.Matched(session_id=session_id, partner_id=partner, partner_name="bob", online=2)
    return c.reply("MATCH", None, lpb.Reply(call_id=1, matched=m))


def new_session(session_id: int = SESSION, sender: int = BOB, receiver: int = ALICE) -> bytes:
    data = {"accountId": sender, "nickName": "bob", "commonInterests": ["jazz"]}
    return encode_push_signal("NewSession", sender, receiver, session_id, data)


def signal(kind: str, data: dict[str, Any], session_id: int = SESSION) -> bytes:
    return encode_push_signal(kind, BOB, ALICE, session_id, data)


def dialogue(session_id: int = SESSION, msg_id: int = 80) -> bytes:
    return encode_push_dialogue(BOB, session_id, msg_id, "hi alice, bob here", 1795743840361)


def test_the_dialect_is_a_codec_without_client_acks_that_pings() -> None:
    dialect: Codec = codec()
    assert dialect.acks_on_write is True
    assert dialect.ping_interval == PING_INTERVAL == 3.0


# --- client frames ---
def test_crt_account_req() -> None:
    assert codec().decode(frame("CRT_ACCOUNT_REQ", nickName=" alice ")) == CreateAccount(
        nickName="alice"
    )


@pytest.mark.parametrize(
    "text",
    [
        frame("CRT_ACCOUNT_REQ", nickName="  "),
        frame("CRT_ACCOUNT_REQ", nickName=None),
        frame("CRT_ACCOUNT_REQ"),
    ],
)
def test_a_blank_nickname_becomes_the_placeholder(text: str) -> None:
    """chat-ui sends "" after a reload of /chat; vearne/chat keeps it empty."""
    assert codec().decode(text) == CreateAccount(nickName=BLANK_NICKNAME)


def test_a_nickname_the_rules_of_ws_refuse_is_answered_with_its_code() -> None:
    c = codec()
    long = "x" * 33
    bad = c.decode(frame("CRT_ACCOUNT_REQ", nickName=long))
    assert isinstance(bad, BadFrame) and (bad.cmd, bad.code) == ("CRT_ACCOUNT", Code.PARAM_ERR)
    assert c.error(bad.cmd, bad.requestId, bad.code, bad.msg) == (
        b'{"cmd":"CRT_ACCOUNT_RESP","code":1,"nickName":"' + long.encode() + b'",'
        b'"accountId":0,"token":""}'
    )
    hidden = c.decode(frame("CRT_ACCOUNT_REQ", nickName="a\u202eb"))
    assert isinstance(hidden, BadFrame) and hidden.code == Code.PARAM_ERR
    wrong_type = c.decode(frame("CRT_ACCOUNT_REQ", nickName=7))
    assert isinstance(wrong_type, BadFrame) and wrong_type.code == Code.PARAM_ERR
    assert c.error("CRT_ACCOUNT", None, Code.PARAM_ERR, "x") == (
        b'{"cmd":"CRT_ACCOUNT_RESP","code":1,"nickName":"","accountId":0,"token":""}'
    )


def test_reconnect_req() -> None:
    assert codec().decode(frame("RECONNECT_REQ", accountId=ALICE, token=TOKEN)) == Reconnect(
        accountId=ALICE, token=TOKEN
    )


def test_match_req() -> None:
    assert codec().decode(frame("MATCH_REQ", accountId=ALICE)) == Match(accountId=ALICE)


def test_dialogue_req_keeps_its_request_id() -> None:
    text = (
        '{"cmd":"DIALOGUE_REQ","senderId":29,"sessionId":22,"content":"hello from alice",'
        '"requestId":"1b4bf1b0-eded-11f1-b8ec-a949f9628dfc"}'
    )
    assert codec().decode(text) == Dialogue(
        senderId=ALICE, sessionId=SESSION, content="hello from alice", requestId=REQUEST_ID
    )


def test_dialogue_req_without_request_id_has_no_idempotency_key() -> None:
    """Go's missing string is "": it must not make every message one."""
    for fields in ({"requestId": ""}, {}):
        req = codec().decode(frame("DIALOGUE_REQ", senderId=1, sessionId=2, content="x", **fields))
        assert req == Dialogue(senderId=1, sessionId=2, content="x", requestId=None)


def test_dialogue_req_content_is_checked_by_the_rules_of_ws() -> None:
    c = codec()
    long = c.decode(frame("DIALOGUE_REQ", senderId=1, sessionId=2, content="x" * 21, requestId="r"))
    assert long == BadFrame("DIALOGUE", "r", Code.TOO_LARGE, "content is over 20 characters")
    blank = c.decode(frame("DIALOGUE_REQ", senderId=1, sessionId=2, content=" ", requestId="r"))
    assert blank == BadFrame("DIALOGUE", "r", Code.PARAM_ERR, "content is empty")


@pytest.mark.parametrize(
    "fields",
    [
        {"senderId": "29", "sessionId": 22, "content": "x"},  # a string id
        {"senderId": 29, "sessionId": 22.5, "content": "x"},  # not an integer
        {"senderId": -1, "sessionId": 22, "content": "x"},  # not a uint64
        {"senderId": 29, "content": "x"},  # no session
        {"senderId": 29, "sessionId": 22, "content": "x", "requestId": "r" * 65},
    ],
)
def test_dialogue_req_with_a_bad_field_is_answered_code_1(fields: dict[str, Any]) -> None:
    c = codec()
    bad = c.decode(frame("DIALOGUE_REQ", **fields))
    assert isinstance(bad, BadFrame) and (bad.cmd, bad.code) == ("DIALOGUE", Code.PARAM_ERR)
    request_id = fields.get("requestId", "")
    assert json.loads(c.error(bad.cmd, bad.requestId, bad.code, bad.msg) or b"") == {
        "cmd": "DIALOGUE_RESP",
        "code": 1,
        "requestId": request_id,
        "msgId": 0,
    }


def test_a_request_id_that_is_not_a_string_is_echoed_empty() -> None:
    c = codec()
    bad = c.decode(frame("DIALOGUE_REQ", senderId=1, sessionId=2, content="x", requestId=7))
    assert isinstance(bad, BadFrame) and bad.requestId is None
    assert c.error(bad.cmd, bad.requestId, bad.code, bad.msg) == (
        b'{"cmd":"DIALOGUE_RESP","code":1,"requestId":"","msgId":0}'
    )


def test_viewed_ack_req_matches_keys_in_any_case() -> None:
    """chat-ui writes msgId, vearne/chat's struct says MsgId: Go accepts both."""
    c = bound_codec()
    for key in ("msgId", "MsgId", "MSGID"):
        text = json.dumps({"cmd": "VIEWED_ACK_REQ", "sessionId": 22, "accountId": 29, key: 80})
        assert c.decode(text) == ViewedAck(sessionId=SESSION, msgId=80)


def test_viewed_ack_req_for_another_account_is_code_6() -> None:
    c = bound_codec()
    bad = c.decode(frame("VIEWED_ACK_REQ", sessionId=22, accountId=BOB, msgId=80))
    assert isinstance(bad, BadFrame) and (bad.cmd, bad.code) == ("VIEWED_ACK", Code.FORBIDDEN)
    assert c.error(bad.cmd, bad.requestId, bad.code, bad.msg) == (
        b'{"cmd":"VIEWED_ACK_RESP","code":6}'
    )


def test_viewed_ack_req_before_an_account_is_left_to_the_core() -> None:
    """Unbound, the core answers it code 5 like any request."""
    assert codec().decode(frame("VIEWED_ACK_REQ", sessionId=22, accountId=BOB, msgId=80)) == (
        ViewedAck(sessionId=SESSION, msgId=80)
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"sessionId": 22, "accountId": "29", "msgId": 80},
        {"sessionId": 22, "msgId": 80},
        {"sessionId": 22, "accountId": 29, "msgId": 0},
        {"sessionId": 22, "accountId": 29},
    ],
)
def test_viewed_ack_req_with_a_bad_field_is_code_1(fields: dict[str, Any]) -> None:
    bad = bound_codec().decode(frame("VIEWED_ACK_REQ", **fields))
    assert isinstance(bad, BadFrame) and (bad.cmd, bad.code) == ("VIEWED_ACK", Code.PARAM_ERR)


def test_ping_req_and_ping_resp_are_pings_whatever_their_id() -> None:
    c = codec()
    assert c.decode(frame("PING_REQ", accountId=12345)) == Ping()
    pong = c.decode(frame("PING_RESP", accountId="not even a number"))
    assert isinstance(pong, Ping) and pong.requestId is not None


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"cmd":"MATCH_REQ"',
        "[1, 2]",
        '"CRT_ACCOUNT_REQ"',
        '{"nickName":"alice"}',
        '{"cmd":7}',
        "[" * 100_000,
    ],
)
def test_frames_without_a_command_get_no_answer(text: str) -> None:
    c = codec()
    bad = c.decode(text)
    assert isinstance(bad, BadFrame) and (bad.cmd, bad.code) == ("ERROR", Code.PARAM_ERR)
    assert c.error(bad.cmd, bad.requestId, bad.code, bad.msg) is None


@pytest.mark.parametrize(
    "cmd",
    [
        "PUSH_DIALOGUE_RESP",  # vearne/chat has structs for these but no handler
        "PUSH_SIGNAL_RESP",
        "PUSH_VIEWED_ACK_RESP",
        "CRT_ACCOUNT_RESP",
        "crt_account_req",  # cmd values are case-sensitive
        "DIALOGUE",  # the commands of /ws are not this dialect's
        "LOGOUT",
        "NOPE",
    ],
)
def test_unknown_commands_get_no_answer(cmd: str) -> None:
    c = codec()
    bad = c.decode(frame(cmd, accountId=ALICE, sessionId=SESSION, content="x"))
    assert bad == BadFrame(cmd, None, Code.UNKNOWN_CMD, "unknown cmd")
    assert c.error(bad.cmd, bad.requestId, bad.code, bad.msg) is None


# --- answers ---
def test_crt_account_resp() -> None:
    c = codec()
    assert created(c) == (
        b'{"cmd":"CRT_ACCOUNT_RESP","code":0,"nickName":"alice","accountId":29,'
        b'"token":"dsYLDARHEe5gRFQKuuIBQ111rhtsNP"}'
    )


def test_reconnect_resp() -> None:
    c = codec()
    bound = lpb.AccountBound(account_id=ALICE, nick_name="alice", available=True)
    assert c.reply("RECONNECT", None, lpb.Reply(call_id=1, bound=bound)) == (
        b'{"cmd":"RECONNECT_RESP","code":0}'
    )
    assert c.reply("PING", None, None) == b'{"cmd":"PING_RESP","accountId":29}'


def test_match_resp() -> None:
    assert matched(codec()) == (
        b'{"cmd":"MATCH_RESP","code":0,"partnerId":30,"partnerName":"bob","sessionId":22}'
    )


def test_dialogue_resp_echoes_the_request_id() -> None:
    c = codec()
    stored = (
        b'{"cmd":"DIALOGUE_RESP","code":0,"requestId":"1b4bf1b0-eded-11f1-b8ec-a949f9628dfc",'
        b'"msgId":79}'
    )
    assert c.stored(REQUEST_ID, SESSION, 79) == stored
    reply = lpb.Reply(call_id=1, stored=lpb.MsgStored(session_id=SESSION, msg_id=79))
    assert c.reply("DIALOGUE", REQUEST_ID, reply) == stored
    assert (
        c.stored(None, SESSION, 79) == b'{"cmd":"DIALOGUE_RESP","code":0,"requestId":"","msgId":79}'
    )


def test_viewed_ack_resp() -> None:
    assert codec().reply("VIEWED_ACK", None, lpb.Reply(call_id=1)) == (
        b'{"cmd":"VIEWED_ACK_RESP","code":0}'
    )


def test_ping_resp_names_the_connections_account() -> None:
    c = codec()
    assert c.reply("PING", None, None) == b'{"cmd":"PING_RESP","accountId":0}'
    created(c)
    assert c.reply("PING", None, None) == b'{"cmd":"PING_RESP","accountId":29}'


def test_a_pong_is_not_answered() -> None:
    c = bound_codec()
    pong = c.decode(frame("PING_RESP", accountId=ALICE))
    assert isinstance(pong, Ping)
    assert c.reply("PING", pong.requestId, None) is None
    assert c.error("PING", pong.requestId, Code.RATE_LIMITED, "too many requests") is None


def test_commands_the_dialect_has_no_answer_for_send_nothing() -> None:
    c = bound_codec()
    assert c.reply("LEAVE", None, lpb.Reply(call_id=1)) is None
    for cmd in ("LEAVE", "PUSH_DIALOGUE", "PUSH_SIGNAL", "ERROR"):
        assert c.error(cmd, None, Code.SESSION_CLOSED, "x") is None


@pytest.mark.parametrize(
    ("cmd", "code", "expected"),
    [
        ("MATCH", Code.NOT_FOUND, b'{"cmd":"MATCH_RESP","code":4}'),
        ("MATCH", Code.RATE_LIMITED, b'{"cmd":"MATCH_RESP","code":8}'),
        ("RECONNECT", Code.UNAUTHORIZED, b'{"cmd":"RECONNECT_RESP","code":5}'),
        ("VIEWED_ACK", Code.SESSION_CLOSED, b'{"cmd":"VIEWED_ACK_RESP","code":7}'),
        (
            "DIALOGUE",
            Code.SESSION_CLOSED,
            b'{"cmd":"DIALOGUE_RESP","code":7,"requestId":"r","msgId":0}',
        ),
    ],
)
def test_errors_carry_the_codes_of_ws(cmd: str, code: Code, expected: bytes) -> None:
    assert codec().error(cmd, "r", code, "why") == expected


# --- sessions the client knows ---
def test_match_resp_and_new_session_announce_a_session_once() -> None:
    """A user waiting in MATCH gets both for one session, in either order."""
    c = bound_codec()
    assert matched(c) is not None
    assert c.push(new_session()) is None
    d = bound_codec()
    assert d.push(new_session()) is not None
    assert matched(d) is None


def test_new_session_is_push_signal_req_without_common_interests() -> None:
    assert bound_codec().push(new_session()) == (
        b'{"cmd":"PUSH_SIGNAL_REQ","senderId":30,"sessionId":22,"receiverId":29,'
        b'"signalType":"NewSession","data":{"accountId":30,"nickName":"bob"}}'
    )


def test_pushes_of_an_announced_session() -> None:
    c = bound_codec()
    matched(c)
    assert c.push(dialogue()) == (
        b'{"cmd":"PUSH_DIALOGUE_REQ","msgId":80,"senderId":30,"sessionId":22,'
        b'"content":"hi alice, bob here"}'
    )
    assert c.push(signal("ViewedAck", {"accountId": BOB, "msgId": 79})) == (
        b'{"cmd":"PUSH_VIEWED_ACK_REQ","sessionId":22,"accountId":30,"msgId":79}'
    )
    assert c.push(signal("PartnerExit", {"accountId": BOB})) == (
        b'{"cmd":"PUSH_SIGNAL_REQ","senderId":0,"sessionId":22,"receiverId":29,'
        b'"signalType":"PartnerExit","data":{"accountId":30}}'
    )


@pytest.mark.parametrize("kind", ["Typing", "PartnerAway", "PartnerBack"])
def test_signals_the_dialect_has_no_frame_for_are_dropped(kind: str) -> None:
    c = bound_codec()
    matched(c)
    assert c.push(signal(kind, {"accountId": BOB})) is None


def test_pushes_of_a_session_never_announced_are_dropped() -> None:
    c = bound_codec()
    matched(c, session_id=SESSION)
    other = SESSION + 1
    assert c.push(dialogue(other)) is None
    assert c.push(signal("PartnerExit", {"accountId": BOB}, other)) is None
    assert c.push(signal("ViewedAck", {"accountId": BOB, "msgId": 1}, other)) is None


def test_a_reconnected_client_knows_the_sessions_of_its_earlier_sockets() -> None:
    """Known as soon as RECONNECT_REQ is read: its replay may precede its answer."""
    c = codec()
    assert isinstance(c.decode(frame("RECONNECT_REQ", accountId=ALICE, token=TOKEN)), Reconnect)
    assert c.push(dialogue()) is not None
    assert c.push(signal("PartnerExit", {"accountId": BOB})) is not None
    # a NewSession it was never written (replayed) is still its first announcement
    assert c.push(new_session()) is not None
    assert c.push(new_session()) is None


def test_a_new_account_knows_no_session_even_after_a_reconnect_attempt() -> None:
    c = codec()
    c.decode(frame("RECONNECT_REQ", accountId=ALICE, token=TOKEN))  # refused, say
    created(c, BOB)
    assert c.push(dialogue()) is None


def test_a_bad_reconnect_req_changes_nothing() -> None:
    c = codec()
    bad = c.decode(frame("RECONNECT_REQ", accountId=ALICE))
    assert isinstance(bad, BadFrame) and (bad.cmd, bad.code) == ("RECONNECT", Code.PARAM_ERR)
    assert c.push(dialogue()) is None


def test_a_match_that_finds_nobody_once_a_session_was_announced_is_not_answered() -> None:
    """chat-ui's first MATCH_REQ races the NewSession of a user who waited; it
    sends no other while it has a session."""
    c = bound_codec()
    assert c.error("MATCH", None, Code.NOT_FOUND, "no partner available") is not None
    c.push(new_session())
    assert c.error("MATCH", None, Code.NOT_FOUND, "no partner available") is None
    assert c.error("MATCH", None, Code.RATE_LIMITED, "at most 16") is not None


# --- server frames ---
def test_ping_req_names_the_account() -> None:
    assert codec().ping(ALICE) == b'{"cmd":"PING_REQ","accountId":29}'


def test_push_keys_are_read_from_the_frames_of_ws() -> None:
    assert push_key(dialogue(msg_id=80)) == PushKey(SESSION, 80, "")
    assert push_key(new_session()) == PushKey(SESSION, 0, "NewSession")
