"""The frames the load generator sends and reads, in both dialects it speaks.

`pairchat` is the wire protocol of docs/protocol.md: one JSON object per WebSocket text frame.
`socketio` carries the same JSON objects as Socket.IO v4 events over
Engine.IO v4 on a plain WebSocket, so the python-socketio baseline gets
exactly the workload pairchat gets: a request is `42<ackId>["CMD",{...}]`, its
response the acknowledgement `43<ackId>[{...}]`, a push `42["PUSH_...",{...}]`.
Speaking that framing directly over picows (rather than python-socketio's own
client) keeps the generator as cheap per message for the baseline as for
pairchat, so a slower baseline is the server's doing, not the client's.

The hot frames are bytes templates filled with `%`: no dict, no encoder call
per message. The content is the send time (20 digits of a monotonic clock in
nanoseconds, system-wide on Linux so another process can read it) padded
with "x" to the requested size, so it never needs JSON escaping.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec

STAMP_DIGITS = 20
MIN_CONTENT = STAMP_DIGITS


class Dialect(Enum):
    PAIRCHAT = "pairchat"
    SOCKETIO = "socketio"


class Frame(msgspec.Struct, rename="camel"):
    """The fields of any server frame the generator looks at; others are skipped.
    `code` is -1 when absent (pushes have none)."""

    cmd: str = ""
    request_id: str = ""
    code: int = -1
    session_id: int = 0
    msg_id: int = 0
    account_id: int = 0
    content: str = ""
    signal_type: str = ""
    msg: str = ""


decode_frame = msgspec.json.Decoder(Frame).decode
_decode_event = msgspec.json.Decoder(tuple[str, Frame]).decode
_decode_ack = msgspec.json.Decoder(tuple[Frame]).decode
_encode = msgspec.json.Encoder().encode


def padding(size: int) -> bytes:
    """What follows the stamp so that the content is `size` characters long.

    Raises:
        ValueError: `size` cannot hold the stamp.
    """
    if size < MIN_CONTENT:
        raise ValueError(f"content size {size} is below {MIN_CONTENT} (the send stamp)")
    return b"x" * (size - STAMP_DIGITS)


def stamp_of(content: str) -> int:
    """The send time a content carries (nanoseconds)."""
    return int(content[:STAMP_DIGITS])


# --- pairchat: docs/protocol.md --------------------------------------------
# DIALOGUE % (seq, senderId, sessionId, send_ns, padding)
PC_DIALOGUE = (
    b'{"cmd":"DIALOGUE","requestId":"d%d","senderId":%d,"sessionId":%d,"content":"%020d%b"}'
)
# ACK_DIALOGUE % (sessionId, msgId); ACK_SIGNAL % (sessionId, signalType)
PC_ACK_DIALOGUE = b'{"cmd":"PUSH_DIALOGUE","code":0,"sessionId":%d,"msgId":%d}'
PC_ACK_SIGNAL = b'{"cmd":"PUSH_SIGNAL","code":0,"sessionId":%d,"signalType":"%b"}'


def pc_request(cmd: str, request_id: str, fields: dict[str, Any]) -> bytes:
    return _encode({"cmd": cmd, "requestId": request_id, **fields})


# --- socketio: Socket.IO v4 over Engine.IO v4 -------------------------------
SIO_PATH = "/socket.io/?EIO=4&transport=websocket"
EIO_PING = b"2"
EIO_PONG = b"3"
SIO_CONNECT = b"40"
# DIALOGUE % (ackId, seq, senderId, sessionId, send_ns, padding)
SIO_DIALOGUE = b'42%d["DIALOGUE",' + PC_DIALOGUE + b"]"
SIO_ACK_DIALOGUE = b'42["PUSH_DIALOGUE",' + PC_ACK_DIALOGUE + b"]"
SIO_ACK_SIGNAL = b'42["PUSH_SIGNAL",' + PC_ACK_SIGNAL + b"]"


def sio_request(ack_id: int, cmd: str, request_id: str, fields: dict[str, Any]) -> bytes:
    return b'42%d["%b",%b]' % (ack_id, cmd.encode(), pc_request(cmd, request_id, fields))


def sio_frame(payload: bytes | memoryview) -> Frame | bytes | None:
    """Reads one Engine.IO text packet.

    Returns:
        The Frame an event or acknowledgement carries; the bytes to answer with
        for an Engine.IO ping or open packet; None for anything else (the
        namespace connect confirmation "40{...}" is None too: the generator
        waits for it through `sio_connected`).
    """
    kind = payload[:2]
    if kind == b"42":
        event, frame = _decode_event(payload[2:])
        if not frame.cmd:
            frame.cmd = event
        return frame
    if kind == b"43":
        view = bytes(payload)
        return _decode_ack(view[view.index(b"[", 2) :])[0]
    if payload[:1] == EIO_PING:
        return EIO_PONG
    if payload[:1] == b"0":  # Engine.IO open: join the default namespace
        return SIO_CONNECT
    return None


def sio_connected(payload: bytes | memoryview) -> bool:
    """Whether the packet confirms the default namespace connection."""
    return bytes(payload[:2]) == b"40"
