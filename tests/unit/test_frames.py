"""Frame parsing and validation: every rule of docs/protocol.md's framing, no I/O."""

from __future__ import annotations

import json

import pytest

from pairchat.protocol import (
    BadFrame,
    Code,
    CreateAccount,
    Dialogue,
    DialogueAck,
    FrameParser,
    History,
    Ping,
    SignalAck,
    encode_error,
    encode_push_dialogue,
    encode_response,
)

parser = FrameParser(max_content=10)


def parse(obj: object) -> object:
    return parser.parse(json.dumps(obj))


def bad(frame: object) -> BadFrame:
    result = parser.parse(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    assert isinstance(result, BadFrame), result
    return result


def test_valid_dialogue() -> None:
    req = parse(
        {"cmd": "DIALOGUE", "requestId": "r1", "senderId": 1, "sessionId": 2, "content": "hi"}
    )
    assert req == Dialogue(senderId=1, sessionId=2, content="hi", requestId="r1")


def test_unknown_fields_are_ignored() -> None:
    assert parse({"cmd": "PING", "future": [1, 2]}) == Ping()


@pytest.mark.parametrize("frame", ["not json", "{", b"\xff\xfe", ""])
def test_not_json(frame: str | bytes) -> None:
    err = bad(frame)
    assert (err.cmd, err.code, err.requestId) == ("ERROR", Code.PARAM_ERR, None)


@pytest.mark.parametrize("frame", ["[1]", "3", '"DIALOGUE"', "null"])
def test_not_an_object(frame: str) -> None:
    assert bad(frame).code == Code.PARAM_ERR


def test_missing_or_wrong_cmd() -> None:
    assert bad({"requestId": "x"}).code == Code.PARAM_ERR
    assert bad({"cmd": 7}).cmd == "ERROR"


def test_unknown_cmd_echoes_cmd_and_request_id() -> None:
    err = bad({"cmd": "SHOUT", "requestId": "q"})
    assert (err.cmd, err.code, err.requestId) == ("SHOUT", Code.UNKNOWN_CMD, "q")


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"senderId": "1", "sessionId": 2, "content": "a"}, "senderId"),
        ({"senderId": True, "sessionId": 2, "content": "a"}, "senderId"),
        ({"senderId": 1, "sessionId": 2.5, "content": "a"}, "sessionId"),
        ({"senderId": 1, "sessionId": 0, "content": "a"}, "sessionId"),
        ({"senderId": 1, "sessionId": -4, "content": "a"}, "sessionId"),
        ({"senderId": 1, "sessionId": 2**60, "content": "a"}, "sessionId"),
        ({"senderId": 1, "sessionId": 2, "content": 5}, "content"),
        ({"senderId": 1, "content": "a"}, "sessionId"),
    ],
)
def test_wrong_types_and_values_name_the_field(fields: dict[str, object], field: str) -> None:
    err = bad({"cmd": "DIALOGUE", "requestId": "r", **fields})
    assert (err.cmd, err.code, err.requestId) == ("DIALOGUE", Code.PARAM_ERR, "r")
    assert field in err.msg


def test_request_id_rules() -> None:
    assert bad({"cmd": "PING", "requestId": "x" * 65}).code == Code.PARAM_ERR
    assert bad({"cmd": "PING", "requestId": 5}).code == Code.PARAM_ERR
    assert parse({"cmd": "PING", "requestId": "x" * 64}) == Ping(requestId="x" * 64)


def test_content_limits() -> None:
    ok = parse({"cmd": "DIALOGUE", "senderId": 1, "sessionId": 1, "content": "é" * 10})
    assert isinstance(ok, Dialogue)
    err = bad({"cmd": "DIALOGUE", "senderId": 1, "sessionId": 1, "content": "a" * 11})
    assert err.code == Code.TOO_LARGE
    assert bad({"cmd": "DIALOGUE", "senderId": 1, "sessionId": 1, "content": "  "}).code == 1


def test_nickname_is_trimmed_and_checked() -> None:
    assert parse({"cmd": "CRT_ACCOUNT", "nickName": "  ann "}) == CreateAccount(nickName="ann")
    for nick in ["", "   ", "x" * 33, "a\nb", "a\u200bb", "a\x00"]:
        assert bad({"cmd": "CRT_ACCOUNT", "nickName": nick}).code == Code.PARAM_ERR, nick
    assert parse({"cmd": "CRT_ACCOUNT", "nickName": "Zoë 😀"}) == CreateAccount(nickName="Zoë 😀")


ACCEPTED_NICKNAMES = [
    "👨\u200d👩\u200d👧",  # family: ZWJ between emoji
    "ann 👩🏽\u200d💻",  # skin tone, then ZWJ
    "🏳\ufe0f\u200d🌈",  # ZWJ after an emoji presentation selector
    "🙂\u200d\u2194\ufe0f",  # ZWJ before a text symbol shown as emoji
    "🇫🇷 Zoé",  # flag: regional indicator pair
    "👍🏽",  # skin-tone modifier
    "1\ufe0f\u20e3 keycap",  # keycap
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England: tag sequence
    "क\u094d\u200dष",  # Devanagari half form: ZWJ after a virama
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: ZWNJ between letters
    "👨\u200d👩\u200d👧\u200d👦" * 4 + "abcd",  # 32 code points
]

REFUSED_NICKNAMES = [
    "a\u202eb",  # right-to-left override
    *[f"x{chr(cp)}y" for cp in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]],  # bidi
    "a\u200eb",  # left-to-right mark
    "a\ufeffb",  # BOM
    "a\u00adb",  # soft hyphen
    "a\x7fb",  # DEL
    "a\u2028b",  # line separator
    "a\u200db",  # ZWJ between Latin letters
    "\u200d👩",  # ZWJ with nothing before it
    "👩\u200d",  # ZWJ with nothing after it
    "a\u200cb",  # ZWNJ outside a joining script
    "a\U000e0067\U000e007f",  # tags without a black flag
    "🏴\U000e0067\U000e0062",  # tag sequence without CANCEL TAG
    "🏴\U000e0067 x\U000e007f",  # tag sequence broken by text
    "👨\u200d👩\u200d👧\u200d👦" * 4 + "abcde",  # 33 code points
]


@pytest.mark.parametrize("nick", ACCEPTED_NICKNAMES)
def test_nickname_accepts_emoji_sequences_and_script_joiners(nick: str) -> None:
    assert parse({"cmd": "CRT_ACCOUNT", "nickName": nick}) == CreateAccount(nickName=nick)


@pytest.mark.parametrize("nick", REFUSED_NICKNAMES)
def test_nickname_refuses_hidden_and_reordering_characters(nick: str) -> None:
    assert bad({"cmd": "CRT_ACCOUNT", "nickName": nick}).code == Code.PARAM_ERR


def test_history_defaults_and_bounds() -> None:
    assert parse({"cmd": "HISTORY", "sessionId": 3}) == History(sessionId=3, afterMsgId=0, limit=50)
    assert bad({"cmd": "HISTORY", "sessionId": 3, "limit": 0}).code == Code.PARAM_ERR
    assert bad({"cmd": "HISTORY", "sessionId": 3, "limit": 201}).code == Code.PARAM_ERR
    assert bad({"cmd": "HISTORY", "sessionId": 3, "afterMsgId": -1}).code == Code.PARAM_ERR


def test_push_acknowledgements() -> None:
    assert parse({"cmd": "PUSH_DIALOGUE", "code": 0, "sessionId": 1, "msgId": 4}) == DialogueAck(
        sessionId=1, msgId=4
    )
    assert parse(
        {"cmd": "PUSH_SIGNAL", "code": 0, "sessionId": 1, "signalType": "PartnerExit"}
    ) == SignalAck(sessionId=1, signalType="PartnerExit")
    assert (
        bad({"cmd": "PUSH_SIGNAL", "code": 0, "sessionId": 1, "signalType": "Bogus"}).code
        == Code.PARAM_ERR
    )
    assert bad({"cmd": "PUSH_DIALOGUE", "code": 3, "sessionId": 1, "msgId": 4}).code == 1


def test_encoders() -> None:
    assert json.loads(encode_response("DIALOGUE", "r", {"msgId": 2})) == {
        "cmd": "DIALOGUE",
        "requestId": "r",
        "code": 0,
        "msgId": 2,
    }
    assert json.loads(encode_response("PING", None)) == {"cmd": "PING", "code": 0}
    assert json.loads(encode_error("MATCH", None, Code.NOT_FOUND, "none")) == {
        "cmd": "MATCH",
        "code": 4,
        "msg": "none",
    }
    push = json.loads(encode_push_dialogue(1, 2, 3, "<b>x</b>", 99))
    assert push == {
        "cmd": "PUSH_DIALOGUE",
        "senderId": 1,
        "sessionId": 2,
        "msgId": 3,
        "content": "<b>x</b>",
        "createdAt": 99,
    }


def test_deep_nesting_is_a_param_error_not_a_crash() -> None:
    err = bad("[" * 100_000 + "]" * 100_000)
    assert (err.cmd, err.code) == ("ERROR", Code.PARAM_ERR)
    nested = '{"cmd":"PING","extra":' + "[" * 100_000 + "]" * 100_000 + "}"
    assert bad(nested).code == Code.PARAM_ERR
