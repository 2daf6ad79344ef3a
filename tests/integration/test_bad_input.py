"""Bad input: each gets its code and a `msg`, changes nothing, and leaves the
connection usable (a PING after it is answered) and other users unaffected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .client import ChatClient, Frame, is_dialogue, is_signal
from .harness import System
from .users import Pair, Users

UNKNOWN_SESSION = 2**40


def assert_error(response: Frame, code: int, cmd: str | None = None) -> None:
    assert response.get("code") == code, response
    assert isinstance(response.get("msg"), str) and response["msg"], response
    if cmd is not None:
        assert response.get("cmd") == cmd, response


def is_error_frame(frame: Frame) -> bool:
    return frame.get("cmd") == "ERROR" and "code" in frame


async def assert_untouched(pair: Pair, next_msg_id: int = 1) -> None:
    """Both still chat, the session's next msgIds are unchanged, and neither was
    pushed anything before the probes (so nothing was stored or delivered): a
    push caused by the bad input would have been queued before the probes'."""
    await pair.a.ping()
    await pair.b.ping()
    for sender, receiver, msg_id in (
        (pair.a, pair.b, next_msg_id),
        (pair.b, pair.a, next_msg_id + 1),
    ):
        assert await sender.send(pair.session_id, "probe") == msg_id
        push = await receiver.expect_push(is_dialogue(pair.session_id))
        assert (push["msgId"], push["content"]) == (msg_id, "probe")
    for client in (pair.a, pair.b):
        unexpected = client.pushes(
            lambda f: not is_signal("NewSession")(f) and not is_dialogue(pair.session_id)(f)
        )
        assert unexpected == [], unexpected
    history = await pair.a.history(pair.session_id)
    assert [m["msgId"] for m in history] == list(range(1, next_msg_id + 2))


# --- frames that are not requests ---
@pytest.mark.parametrize(
    "text",
    ["hello", '{"cmd": ', "", "\u00e9t\u00e9"],
    ids=["word", "truncated", "empty", "non-ascii"],
)
async def test_non_json_text_is_error_code_1(pair: Pair, text: str) -> None:
    await pair.a.send_raw(text)
    assert_error(await pair.a.expect(is_error_frame), 1, "ERROR")
    await assert_untouched(pair)


@pytest.mark.parametrize("text", ["[1, 2]", "42", '"PING"', "null", "true"])
async def test_json_that_is_not_an_object_is_error_code_1(pair: Pair, text: str) -> None:
    await pair.a.send_raw(text)
    assert_error(await pair.a.expect(is_error_frame), 1, "ERROR")
    await assert_untouched(pair)


async def test_deeply_nested_json_is_error_code_1(pair: Pair) -> None:
    depth = 1000  # far below the frame size limit, beyond any sensible nesting
    await pair.a.send_raw("[" * depth + "]" * depth)
    assert_error(await pair.a.expect(is_error_frame), 1, "ERROR")
    await assert_untouched(pair)


async def test_deeply_nested_field_is_refused_or_ignored(pair: Pair) -> None:
    depth = 1000
    nested = "[" * depth + "]" * depth
    response = await pair.a.request_raw(
        f'{{"cmd": "PING", "requestId": "deep", "extra": {nested}}}', "deep"
    )
    assert response["code"] in (0, 1), response
    await assert_untouched(pair)


async def test_binary_frame_is_error_code_1(pair: Pair) -> None:
    await pair.a.send_raw(json.dumps({"cmd": "PING", "requestId": "bin"}).encode())
    assert_error(await pair.a.expect(is_error_frame), 1, "ERROR")
    await assert_untouched(pair)


@pytest.mark.parametrize(
    "frame", [{"sessionId": 1}, {"cmd": 5}, {"cmd": None}], ids=["missing", "number", "null"]
)
async def test_missing_or_non_string_cmd_is_code_1(pair: Pair, frame: dict[str, Any]) -> None:
    response = await pair.a.request_raw(json.dumps({**frame, "requestId": "no-cmd"}), "no-cmd")
    assert_error(response, 1, "ERROR")
    await assert_untouched(pair)


async def test_unknown_cmd_is_code_3(pair: Pair) -> None:
    response = await pair.a.request("TELEPORT", sessionId=pair.session_id)
    assert_error(response, 3, "TELEPORT")
    await assert_untouched(pair)


async def test_unknown_cmd_before_binding_is_code_3(users: Users) -> None:
    client = await users.connect()
    assert_error(await client.request("FLY"), 3, "FLY")
    await client.ping()


# --- wrongly typed and missing fields ---
WRONG_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "session-id-string": ("DIALOGUE", {"sessionId": "{session}", "content": "x"}),
    "session-id-float": ("DIALOGUE", {"sessionId": 1.5, "content": "x"}),
    "content-number": ("DIALOGUE", {"content": 42}),
    "content-null": ("DIALOGUE", {"content": None}),
    "sender-id-string": ("DIALOGUE", {"senderId": "{me}", "content": "x"}),
    "sender-id-bool": ("DIALOGUE", {"senderId": True, "content": "x"}),
    "history-limit-bool": ("HISTORY", {"limit": True}),
    "history-after-string": ("HISTORY", {"afterMsgId": "0"}),
    "history-session-list": ("HISTORY", {"sessionId": [1]}),
    "viewed-msg-id-string": ("VIEWED_ACK", {"msgId": "1"}),
    "typing-session-object": ("TYPING", {"sessionId": {"id": 1}}),
    "leave-session-bool": ("LEAVE", {"sessionId": False}),
    "match-account-string": ("MATCH", {"accountId": "{me}"}),
    "logout-account-bool": ("LOGOUT", {"accountId": True}),
    "ping-request-id-number": ("PING", {"requestId": 7}),
}


def fill(pair: Pair, cmd: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """A valid request of `cmd` in the pair's session, with `overrides` applied."""
    a = pair.a
    base: dict[str, dict[str, Any]] = {
        "DIALOGUE": {"senderId": a.account_id, "sessionId": pair.session_id, "content": "x"},
        "HISTORY": {"sessionId": pair.session_id},
        "VIEWED_ACK": {"sessionId": pair.session_id, "msgId": 1},
        "TYPING": {"sessionId": pair.session_id},
        "LEAVE": {"sessionId": pair.session_id},
        "MATCH": {"accountId": a.account_id},
        "LOGOUT": {"accountId": a.account_id},
        "PING": {},
    }
    fields = {**base[cmd], **overrides}
    for key, value in fields.items():
        if value == "{session}":
            fields[key] = str(pair.session_id)
        elif value == "{me}":
            fields[key] = str(a.account_id)
    return fields


@pytest.mark.parametrize("case", list(WRONG_TYPES), ids=list(WRONG_TYPES))
async def test_wrongly_typed_field_is_code_1(pair: Pair, case: str) -> None:
    cmd, overrides = WRONG_TYPES[case]
    fields = fill(pair, cmd, overrides)
    request_id = f"typed-{case}"
    if "requestId" in fields:  # a requestId that is not a string cannot be echoed
        await pair.a.send_raw(json.dumps({"cmd": cmd, **fields}))
        response = await pair.a.expect(lambda f: f.get("cmd") == cmd and "code" in f)
    else:
        response = await pair.a.request_raw(
            json.dumps({"cmd": cmd, "requestId": request_id, **fields}), request_id
        )
    assert_error(response, 1, cmd)
    await assert_untouched(pair)


MISSING: dict[str, tuple[str, str]] = {
    "dialogue-content": ("DIALOGUE", "content"),
    "dialogue-session": ("DIALOGUE", "sessionId"),
    "dialogue-sender": ("DIALOGUE", "senderId"),
    "history-session": ("HISTORY", "sessionId"),
    "viewed-msg-id": ("VIEWED_ACK", "msgId"),
    "viewed-session": ("VIEWED_ACK", "sessionId"),
    "typing-session": ("TYPING", "sessionId"),
    "leave-session": ("LEAVE", "sessionId"),
    "match-account": ("MATCH", "accountId"),
    "logout-account": ("LOGOUT", "accountId"),
}


@pytest.mark.parametrize("case", list(MISSING), ids=list(MISSING))
async def test_missing_field_is_code_1(pair: Pair, case: str) -> None:
    cmd, missing = MISSING[case]
    fields = fill(pair, cmd, {})
    del fields[missing]
    assert_error(await pair.a.request(cmd, **fields), 1, cmd)
    await assert_untouched(pair)


@pytest.mark.parametrize(
    "fields", [{}, {"accountId": 1}, {"token": "t"}], ids=["nothing", "no-token", "no-account"]
)
async def test_reconnect_without_its_fields_is_code_1(users: Users, fields: dict[str, Any]) -> None:
    client = await users.connect()
    assert_error(await client.request("RECONNECT", **fields), 1, "RECONNECT")
    await client.ping()


async def test_request_id_over_64_characters_is_code_1(pair: Pair) -> None:
    echoed = await pair.a.request("PING", request_id="r" * 64)
    assert echoed["code"] == 0 and echoed["requestId"] == "r" * 64
    await pair.a.send_raw(
        json.dumps({"cmd": "DIALOGUE", "requestId": "r" * 65, **fill(pair, "DIALOGUE", {})})
    )
    assert_error(await pair.a.expect(lambda f: f.get("cmd") == "DIALOGUE"), 1, "DIALOGUE")
    await assert_untouched(pair)


# --- nickName ---
@pytest.mark.parametrize(
    "nick",
    [
        "",
        "   ",
        "x" * 33,
        "bell\x07",
        "new\nline",
        "tab\there",
        "zero\u200bwidth",
        "nul\x00",
        "evil\u202egnp.exe",
        "iso\u2067late\u2069",
        "latin\u200djoiner",
    ],
    ids=[
        "empty",
        "blank",
        "33-chars",
        "bell",
        "newline",
        "tab",
        "zero-width",
        "nul",
        "rtl-override",
        "rtl-isolate",
        "zwj-between-letters",
    ],
)
async def test_invalid_nickname_is_code_1(users: Users, nick: str) -> None:
    client = await users.connect()
    assert_error(await client.request("CRT_ACCOUNT", nickName=nick), 1, "CRT_ACCOUNT")
    await client.ping()
    # Nothing was bound: the connection is still anonymous.
    assert (await client.request("MATCH", accountId=1))["code"] == 5
    await client.create_account("valid")  # and can still create an account


async def test_nickname_of_32_characters_after_trimming_is_accepted(users: Users) -> None:
    client = await users.connect()
    response = await client.call("CRT_ACCOUNT", nickName="  " + "n" * 32 + "  ")
    assert response["nickName"] == "n" * 32


async def test_nickname_with_emoji_sequences_reaches_the_partner(users: Users) -> None:
    nick = "Zoé 👨\u200d👩\u200d👧 🇫🇷 👍🏽 1\ufe0f\u20e3"
    matcher = await users.new(nick)
    partner = await users.new()
    matched = await matcher.match()
    assert matched["partnerId"] == partner.account_id, matched
    signal = await partner.expect_push(is_signal("NewSession", matched["sessionId"]))
    assert signal["data"] == {"accountId": matcher.account_id, "nickName": nick}, signal


@pytest.mark.parametrize("nick", [17, None, ["a"]], ids=["number", "null", "list"])
async def test_nickname_of_wrong_type_is_code_1(users: Users, nick: object) -> None:
    client = await users.connect()
    assert_error(await client.request("CRT_ACCOUNT", nickName=nick), 1, "CRT_ACCOUNT")
    await client.ping()


# --- before binding, as another account, outside one's sessions ---
UNBOUND_COMMANDS: dict[str, dict[str, Any]] = {
    "MATCH": {"accountId": 1},
    "DIALOGUE": {"senderId": 1, "sessionId": 1, "content": "x"},
    "LEAVE": {"sessionId": 1},
    "LOGOUT": {"accountId": 1},
    "HISTORY": {"sessionId": 1},
    "VIEWED_ACK": {"sessionId": 1, "msgId": 1},
    "TYPING": {"sessionId": 1},
}


@pytest.mark.parametrize("cmd", list(UNBOUND_COMMANDS))
async def test_command_before_binding_is_code_5(users: Users, pair: Pair, cmd: str) -> None:
    anonymous = await users.connect()
    fields = dict(UNBOUND_COMMANDS[cmd])
    for key in ("accountId", "senderId"):
        if key in fields:
            fields[key] = pair.a.account_id
    if "sessionId" in fields:
        fields["sessionId"] = pair.session_id
    assert_error(await anonymous.request(cmd, **fields), 5, cmd)
    await anonymous.ping()
    await assert_untouched(pair)


async def test_acting_as_another_account_is_code_6(pair: Pair) -> None:
    a, b = pair.a, pair.b
    forged = await a.request(
        "DIALOGUE", senderId=b.account_id, sessionId=pair.session_id, content="I am b"
    )
    assert_error(forged, 6, "DIALOGUE")
    assert_error(await a.request("MATCH", accountId=b.account_id), 6, "MATCH")
    assert_error(await a.request("LOGOUT", accountId=b.account_id), 6, "LOGOUT")
    await assert_untouched(pair)
    # b was not logged out by a's forged LOGOUT, nor a by its refused one.
    assert await b.send(pair.session_id, "still me") == 3
    await a.expect_push(is_dialogue(pair.session_id, 3))


SESSION_COMMANDS: dict[str, dict[str, Any]] = {
    "DIALOGUE": {"content": "intrusion"},
    "HISTORY": {},
    "LEAVE": {},
    "VIEWED_ACK": {"msgId": 1},
    "TYPING": {},
}


def session_request(client: ChatClient, cmd: str, session_id: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"sessionId": session_id, **SESSION_COMMANDS[cmd]}
    if cmd == "DIALOGUE":
        fields["senderId"] = client.account_id
    return fields


@pytest.mark.parametrize("cmd", list(SESSION_COMMANDS))
async def test_session_of_others_is_code_6(users: Users, pair: Pair, cmd: str) -> None:
    outsider = await users.new()
    response = await outsider.request(cmd, **session_request(outsider, cmd, pair.session_id))
    assert_error(response, 6, cmd)
    await outsider.ping()
    await assert_untouched(pair)
    assert outsider.pushes(lambda f: True) == []


@pytest.mark.parametrize("cmd", list(SESSION_COMMANDS))
async def test_unknown_session_is_answered_like_another_ones(
    users: Users, pair: Pair, cmd: str
) -> None:
    """Code 6 with the same msg whether the session exists or not: session ids
    cannot be probed."""
    outsider = await users.new()
    unknown = await outsider.request(cmd, **session_request(outsider, cmd, UNKNOWN_SESSION))
    foreign = await outsider.request(cmd, **session_request(outsider, cmd, pair.session_id))
    assert_error(unknown, 6, cmd)
    assert (unknown["code"], unknown["msg"]) == (foreign["code"], foreign["msg"])
    assert unknown["msg"] == "not a member of this session"
    await assert_untouched(pair)


async def test_dialogue_on_a_closed_session_is_code_7(pair: Pair) -> None:
    assert await pair.a.send(pair.session_id, "bye") == 1
    await pair.a.call("LEAVE", sessionId=pair.session_id)
    for member in (pair.a, pair.b):
        response = await member.request(
            "DIALOGUE", **session_request(member, "DIALOGUE", pair.session_id)
        )
        assert_error(response, 7, "DIALOGUE")
        await member.ping()
    history = await pair.b.history(pair.session_id)
    assert [m["content"] for m in history] == ["bye"]


@pytest.mark.parametrize("cmd", ["VIEWED_ACK", "TYPING"])
async def test_signal_on_a_closed_session_is_code_7(pair: Pair, cmd: str) -> None:
    await pair.b.call("LEAVE", sessionId=pair.session_id)
    response = await pair.a.request(cmd, **session_request(pair.a, cmd, pair.session_id))
    assert_error(response, 7, cmd)
    await pair.a.ping()


async def test_leave_twice_is_code_7(pair: Pair) -> None:
    await pair.a.call("LEAVE", sessionId=pair.session_id)
    assert_error(await pair.a.request("LEAVE", sessionId=pair.session_id), 7, "LEAVE")
    assert_error(await pair.b.request("LEAVE", sessionId=pair.session_id), 7, "LEAVE")


# --- sizes and values ---
async def test_content_over_max_content_is_code_9(pair: Pair, system: System) -> None:
    limit = system.flags.max_content
    assert await pair.a.send(pair.session_id, "c" * limit) == 1
    await pair.b.expect_push(is_dialogue(pair.session_id, 1))
    fields = session_request(pair.a, "DIALOGUE", pair.session_id)
    fields["content"] = "c" * (limit + 1)
    response = await pair.a.request("DIALOGUE", **fields)
    assert_error(response, 9, "DIALOGUE")
    await assert_untouched(pair, next_msg_id=2)


async def test_frame_over_max_frame_bytes_is_code_9(pair: Pair, system: System) -> None:
    limit = system.flags.max_frame_bytes
    frame = json.dumps({"cmd": "PING", "requestId": "big", "pad": "p" * limit})
    await pair.a.send_raw(frame)
    response = await pair.a.expect(lambda f: f.get("code") == 9)
    assert_error(response, 9)
    await assert_untouched(pair)


async def test_frame_over_max_frame_bytes_in_utf8_is_code_9(pair: Pair, system: System) -> None:
    """The limit is on bytes: three-byte characters count three times."""
    limit = system.flags.max_frame_bytes
    frame = json.dumps(
        {"cmd": "PING", "requestId": "big-utf8", "pad": "\u20ac" * (limit // 2)}, ensure_ascii=False
    )
    assert len(frame) < limit < len(frame.encode())
    await pair.a.send_raw(frame)
    response = await pair.a.expect(lambda f: "code" in f and f.get("cmd") in ("ERROR", "PING"))
    assert_error(response, 9)
    await assert_untouched(pair)


@pytest.mark.parametrize(
    "paging",
    [{"limit": 0}, {"limit": 201}, {"limit": -1}, {"afterMsgId": -1}],
    ids=["limit-0", "limit-201", "limit-negative", "after-negative"],
)
async def test_history_paging_out_of_range_is_code_1(pair: Pair, paging: dict[str, Any]) -> None:
    assert_error(await pair.a.request("HISTORY", sessionId=pair.session_id, **paging), 1, "HISTORY")
    assert (await pair.a.request("HISTORY", sessionId=pair.session_id, limit=200))["code"] == 0
    await assert_untouched(pair)


# --- after LOGOUT ---
async def test_after_logout_requests_are_code_5(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    token = a.token
    await a.call("LOGOUT", accountId=a.account_id)
    for cmd, fields in (
        ("MATCH", {"accountId": a.account_id}),
        ("DIALOGUE", {"senderId": a.account_id, "sessionId": session_id, "content": "x"}),
        ("HISTORY", {"sessionId": session_id}),
        ("TYPING", {"sessionId": session_id}),
        ("LOGOUT", {"accountId": a.account_id}),
    ):
        assert_error(await a.request(cmd, **fields), 5, cmd)
    await a.ping()
    assert_error(await a.request("RECONNECT", accountId=a.account_id, token=token), 5, "RECONNECT")
    elsewhere = await users.connect()
    assert_error(
        await elsewhere.request("RECONNECT", accountId=a.account_id, token=token), 5, "RECONNECT"
    )
