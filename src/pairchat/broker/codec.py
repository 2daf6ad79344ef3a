"""The dialect seam: how one WebSocket path writes the protocol on the wire.

The connection core (`core.py`) decides with typed requests, logic's replies
and command names; a `Codec` is everything it needs to know about the text on
the wire: reading a client frame, writing answers, and turning a push (the
frame logic encoded for `/ws`) into this dialect's frame. `JsonCodec` is the
dialect of `/ws` (docs/protocol.md). Another dialect is another codec, picked by
path in the gateway; the core does not change. A codec may also say that its
clients never acknowledge pushes (`acks_on_write`: the core acknowledges them
when they are written) and that its server pings (`ping_interval`, `ping`).
A codec that keeps state of its own (what its client was told) is made for one
connection; a stateless one serves them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple, Protocol

import msgspec

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.protocol import BadFrame, FrameParser, Request, encode_error, encode_response

# Logic encodes every push in the JSON of /ws; a message's push starts so (the
# hub counts messages and signals apart by it).
MESSAGE_PUSH_PREFIX: Final = b'{"cmd":"PUSH_DIALOGUE"'


class PushKey(NamedTuple):
    """What the acknowledgement of a push names (docs/protocol.md): a message of
    a session (msg_id), or a signal (signal_type)."""

    session_id: int
    msg_id: int
    signal_type: str


class _PushFields(msgspec.Struct):
    sessionId: int
    msgId: int = 0
    signalType: str = ""


_read_push_fields = msgspec.json.Decoder(_PushFields).decode


def push_key(frame: bytes) -> PushKey:
    """The key of a push as logic encodes it (`/ws` JSON, whatever the dialect)."""
    fields = _read_push_fields(frame)
    return PushKey(fields.sessionId, fields.msgId, fields.signalType)


class Codec(Protocol):
    """One dialect of the wire protocol. Commands are named as in docs/protocol.md
    (`DIALOGUE`, `PUSH_SIGNAL`, ...) or `ERROR` for a frame that has none; a
    codec spells them in its dialect. A method that returns None sends nothing
    for it (a dialect may have no frame for an answer or a push)."""

    acks_on_write: bool
    """Its clients never acknowledge pushes: the connection acknowledges each
    push to logic on their behalf once its frame is handed to the socket, or
    once `push` gave it no frame (at-most-once for what a drop loses in flight)."""

    ping_interval: float
    """Seconds between the dialect's own server pings (`ping`); 0 for none."""

    def decode(self, text: str) -> Request | BadFrame:
        """Read one text frame into a request, or into the BadFrame that answers
        it. A BadFrame's `cmd` is a command name or `ERROR`, except with code
        UNKNOWN_CMD, where it is whatever the client sent (never a metric label)."""
        ...

    def reply(self, cmd: str, request_id: str | None, reply: lpb.Reply | None) -> bytes | None:
        """The success answer (code 0) to `cmd` from logic's `reply`, or with no
        fields (None: a command the broker answers itself, PING)."""
        ...

    def stored(self, request_id: str | None, session_id: int, msg_id: int) -> bytes | None:
        """The success answer to a DIALOGUE: its message is stored as msgId."""
        ...

    def error(
        self,
        cmd: str,
        request_id: str | None,
        code: int,
        msg: str,
        reply: lpb.Reply | None = None,
    ) -> bytes | None:
        """The error answer to `cmd`: `code` from docs/protocol.md's table, `msg` a
        short reason; `reply`, logic's refusal when it came from logic, may carry
        fields for it (MATCH code 4: `online`)."""
        ...

    def push(self, frame: bytes) -> bytes | None:
        """This dialect's frame for a push logic encoded as `/ws` JSON."""
        ...

    def ping(self, account_id: int) -> bytes | None:
        """The dialect's server ping to a connection bound to `account_id`."""
        ...


class JsonCodec:
    """The dialect of `/ws`: one JSON object per text frame, as docs/protocol.md says.
    Stateless: one instance serves every connection of a broker."""

    __slots__ = ("decode",)

    acks_on_write = False  # clients acknowledge every push themselves
    ping_interval = 0.0  # WebSocket pings are its heartbeat (the gateway's)

    def __init__(self, max_content: int) -> None:
        """Args:
        max_content: characters in a DIALOGUE's content (over it: code 9).
        """
        self.decode: Callable[[str], Request | BadFrame] = FrameParser(max_content).parse

    def reply(self, cmd: str, request_id: str | None, reply: lpb.Reply | None) -> bytes:
        if reply is None:
            return encode_response(cmd, request_id)
        body = reply.WhichOneof("body")
        fields: dict[str, Any] | None = None
        if body == "stored":
            return self.stored(request_id, reply.stored.session_id, reply.stored.msg_id)
        if body == "bound":
            b = reply.bound
            if cmd == "CRT_ACCOUNT":
                fields = {"nickName": b.nick_name, "accountId": b.account_id, "token": b.token}
            else:
                fields = {
                    "accountId": b.account_id,
                    "nickName": b.nick_name,
                    "available": b.available,
                    "sessions": [
                        {
                            "sessionId": s.session_id,
                            "partnerId": s.partner_id,
                            "partnerName": s.partner_name,
                        }
                        for s in b.sessions
                    ],
                }
        elif body == "matched":
            m = reply.matched
            fields = {
                "partnerId": m.partner_id,
                "partnerName": m.partner_name,
                "sessionId": m.session_id,
                "commonInterests": list(m.common_interests),
                "online": m.online,
            }
        elif body == "history":
            h = reply.history
            fields = {
                "sessionId": h.session_id,
                "messages": [
                    {
                        "msgId": m.msg_id,
                        "senderId": m.sender_id,
                        "content": m.content,
                        "createdAt": m.created_at,
                    }
                    for m in h.messages
                ],
            }
        return encode_response(cmd, request_id, fields)

    def stored(self, request_id: str | None, session_id: int, msg_id: int) -> bytes:
        return encode_response("DIALOGUE", request_id, {"sessionId": session_id, "msgId": msg_id})

    def error(
        self,
        cmd: str,
        request_id: str | None,
        code: int,
        msg: str,
        reply: lpb.Reply | None = None,
    ) -> bytes:
        if reply is not None and reply.HasField("matched"):
            return encode_error(cmd, request_id, code, msg, {"online": reply.matched.online})
        return encode_error(cmd, request_id, code, msg)

    def push(self, frame: bytes) -> bytes:
        return frame  # logic already wrote it in this dialect

    def ping(self, account_id: int) -> None:
        return None
