"""The /ws dialect: the exact bytes of every answer built from logic's replies."""

from __future__ import annotations

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.broker.codec import MESSAGE_PUSH_PREFIX, Codec, JsonCodec
from pairchat.protocol import BadFrame, Code, Dialogue, encode_push_dialogue

codec = JsonCodec(max_content=10)


def test_json_codec_is_a_codec() -> None:
    dialect: Codec = codec
    assert dialect.decode('{"cmd":"PING"}') is not None


def test_decode_reads_requests_and_bad_frames() -> None:
    frame = '{"cmd":"DIALOGUE","senderId":1,"sessionId":2,"content":"%s","requestId":"r"}'
    assert codec.decode(frame % "hi") == Dialogue(
        senderId=1, sessionId=2, content="hi", requestId="r"
    )
    too_long = "content is over 10 characters"
    assert codec.decode(frame % ("x" * 11)) == BadFrame("DIALOGUE", "r", Code.TOO_LARGE, too_long)


def test_reply_without_fields() -> None:
    assert codec.reply("PING", None, None) == b'{"cmd":"PING","code":0}'
    assert codec.reply("LEAVE", "r", lpb.Reply(call_id=1)) == (
        b'{"cmd":"LEAVE","requestId":"r","code":0}'
    )


def test_reply_stored() -> None:
    reply = lpb.Reply(call_id=1, stored=lpb.MsgStored(session_id=3, msg_id=4))
    assert codec.reply("DIALOGUE", "r", reply) == (
        b'{"cmd":"DIALOGUE","requestId":"r","code":0,"sessionId":3,"msgId":4}'
    )


def test_reply_bound_to_crt_account() -> None:
    reply = lpb.Reply(call_id=1, bound=lpb.AccountBound(account_id=7, nick_name="al", token="tk"))
    assert codec.reply("CRT_ACCOUNT", None, reply) == (
        b'{"cmd":"CRT_ACCOUNT","code":0,"nickName":"al","accountId":7,"token":"tk"}'
    )


def test_reply_bound_to_reconnect() -> None:
    bound = lpb.AccountBound(
        account_id=7,
        nick_name="al",
        token="tk",
        sessions=[lpb.SessionRef(session_id=3, partner_id=8, partner_name="bo")],
        available=True,
    )
    assert codec.reply("RECONNECT", "r", lpb.Reply(call_id=1, bound=bound)) == (
        b'{"cmd":"RECONNECT","requestId":"r","code":0,"accountId":7,"nickName":"al",'
        b'"available":true,"sessions":[{"sessionId":3,"partnerId":8,"partnerName":"bo"}]}'
    )


def test_reply_matched() -> None:
    matched = lpb.Matched(
        session_id=3, partner_id=8, partner_name="bo", common_interests=["jazz"], online=12
    )
    assert codec.reply("MATCH", None, lpb.Reply(call_id=1, matched=matched)) == (
        b'{"cmd":"MATCH","code":0,"partnerId":8,"partnerName":"bo","sessionId":3,'
        b'"commonInterests":["jazz"],"online":12}'
    )


def test_reply_history() -> None:
    page = lpb.HistoryPage(
        session_id=3,
        messages=[lpb.StoredMessage(msg_id=1, sender_id=8, content="hi", created_at=5)],
    )
    assert codec.reply("HISTORY", None, lpb.Reply(call_id=1, history=page)) == (
        b'{"cmd":"HISTORY","code":0,"sessionId":3,'
        b'"messages":[{"msgId":1,"senderId":8,"content":"hi","createdAt":5}]}'
    )
    empty = lpb.Reply(call_id=1, history=lpb.HistoryPage(session_id=3))
    assert codec.reply("HISTORY", None, empty) == (
        b'{"cmd":"HISTORY","code":0,"sessionId":3,"messages":[]}'
    )


def test_error() -> None:
    assert codec.error("MATCH", "r", Code.NOT_FOUND, "nobody") == (
        b'{"cmd":"MATCH","requestId":"r","code":4,"msg":"nobody"}'
    )
    assert codec.error("ERROR", None, 1, "bad") == b'{"cmd":"ERROR","code":1,"msg":"bad"}'


def test_nobody_available_says_how_many_are_online() -> None:
    refusal = lpb.Reply(call_id=1, code=4, msg="nobody", matched=lpb.Matched(online=3))
    assert codec.error("MATCH", "r", Code.NOT_FOUND, "nobody", refusal) == (
        b'{"cmd":"MATCH","requestId":"r","code":4,"msg":"nobody","online":3}'
    )
    plain = lpb.Reply(call_id=1, code=6, msg="no")
    assert codec.error("LEAVE", None, 6, "no", plain) == b'{"cmd":"LEAVE","code":6,"msg":"no"}'


def test_pushes_pass_unchanged_and_messages_are_told_by_their_prefix() -> None:
    frame = encode_push_dialogue(1, 2, 3, "hi", 4)
    assert codec.push(frame) is frame
    assert frame.startswith(MESSAGE_PUSH_PREFIX)


def test_ws_clients_acknowledge_pushes_and_websocket_pings_are_the_heartbeat() -> None:
    dialect: Codec = codec
    assert dialect.acks_on_write is False
    assert dialect.ping_interval == 0
    assert dialect.ping(7) is None
