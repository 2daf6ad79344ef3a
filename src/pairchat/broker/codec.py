"""The dialect seam: how one WebSocket path writes the protocol on the wire.

The connection core (`core.py`) decides with typed requests, logic's replies
and command names; a `Codec` is everything it needs to know about the text on
the wire: reading a client frame, writing answers, and turning a push (the
frame logic encoded for `/ws`) into this dialect's frame. `JsonCodec` is the
dialect of `/ws` (docs/protocol.md). Another dialect is another codec, picked by
path in the gateway; the core does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.protocol import BadFrame, FrameParser, Request, encode_error, encode_response

# Logic encodes every push in the JSON of /ws; a message's push starts so (the
# hub counts messages and signals apart by it).
MESSAGE_PUSH_PREFIX: Final = b'{"cmd":"PUSH_DIALOGUE"'


class Codec(Protocol):
    """One dialect of the wire protocol. Commands are named as in docs/protocol.md
    (`DIALOGUE`, `PUSH_SIGNAL`, ...) or `ERROR` for a frame that has none; a
    codec spells them in its dialect. A method that returns None sends nothing
    for it (a dialect may have no frame for an answer or a push)."""

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

    def error(self, cmd: str, request_id: str | None, code: int, msg: str) -> bytes | None:
        """The error answer to `cmd`: `code` from docs/protocol.md's table, `msg` a short reason."""
        ...

    def push(self, frame: bytes) -> bytes | None:
        """This dialect's frame for a push logic encoded as `/ws` JSON."""
        ...


class JsonCodec:
    """The dialect of `/ws`: one JSON object per text frame, as docs/protocol.md says.
    Stateless: one instance serves every connection of a broker."""

    __slots__ = ("decode",)

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

    def error(self, cmd: str, request_id: str | None, code: int, msg: str) -> bytes:
        return encode_error(cmd, request_id, code, msg)

    def push(self, frame: bytes) -> bytes:
        return frame  # logic already wrote it in this dialect
