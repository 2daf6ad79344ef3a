"""Client frames: parse and validate one JSON text frame into a typed request.

Rules (docs/protocol.md):
- a frame is one JSON object with a string `cmd`; anything else is answered
  with cmd ERROR, code 1;
- an unknown `cmd` is code 3; a missing or wrongly typed field, or an invalid
  value, is code 1; content over the configured limit is code 9;
- fields a request does not define are ignored (clients may be newer).

The fast path decodes straight into the tagged union of request structs; only a
frame that fails it is decoded again, generically, to say precisely what is wrong.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta, Struct

from pairchat.protocol.codes import Code
from pairchat.protocol.nickname import has_hidden_characters

MAX_ID: Final = 2**53 - 1  # the largest integer every JSON client can represent exactly
MAX_HISTORY_LIMIT: Final = 200
MAX_NICKNAME: Final = 32
MAX_INTERESTS: Final = 5
MAX_INTEREST: Final = 24  # characters of one interest, after trimming
MAX_NOTE: Final = 500  # characters of a REPORT's note
REPORT_REASONS: Final = ("spam", "abuse", "sexual", "minor", "other")

Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
MsgId = Annotated[int, Meta(ge=0, le=MAX_ID)]
RequestId = Annotated[str, Meta(max_length=64)]
_REQUEST_ID: Final = re.compile(r'"requestId"\s*:\s*"([^"\\]{0,64})"')
SIGNAL_TYPES: Final = frozenset(
    {"NewSession", "PartnerExit", "ViewedAck", "Typing", "PartnerAway", "PartnerBack"}
)


class _Request(Struct, tag_field="cmd", kw_only=True):
    requestId: RequestId | None = None


class CreateAccount(_Request, tag="CRT_ACCOUNT"):
    nickName: str


class Reconnect(_Request, tag="RECONNECT"):
    accountId: Id
    token: Annotated[str, Meta(min_length=1, max_length=256)]


class Match(_Request, tag="MATCH"):
    accountId: Id
    # normalized by the parser: trimmed, lowercased, without repeats
    interests: Annotated[list[str], Meta(max_length=MAX_INTERESTS)] = []


class CancelMatch(_Request, tag="CANCEL_MATCH"):
    pass


class Availability(_Request, tag="AVAILABILITY"):
    available: bool


class Report(_Request, tag="REPORT"):
    sessionId: Id
    reason: Literal["spam", "abuse", "sexual", "minor", "other"]
    note: Annotated[str, Meta(max_length=MAX_NOTE)] | None = None


class Block(_Request, tag="BLOCK"):
    sessionId: Id


class Dialogue(_Request, tag="DIALOGUE"):
    senderId: Id
    sessionId: Id
    content: str


class Leave(_Request, tag="LEAVE"):
    sessionId: Id


class Logout(_Request, tag="LOGOUT"):
    accountId: Id


class History(_Request, tag="HISTORY"):
    sessionId: Id
    afterMsgId: MsgId = 0
    limit: Annotated[int, Meta(ge=1, le=MAX_HISTORY_LIMIT)] = 50


class ViewedAck(_Request, tag="VIEWED_ACK"):
    sessionId: Id
    msgId: Id


class Typing(_Request, tag="TYPING"):
    sessionId: Id


class Ping(_Request, tag="PING"):
    pass


class DialogueAck(_Request, tag="PUSH_DIALOGUE"):
    """A client's acknowledgement of a PUSH_DIALOGUE."""

    sessionId: Id
    msgId: Id
    code: Annotated[int, Meta(ge=0, le=0)] = 0


class SignalAck(_Request, tag="PUSH_SIGNAL"):
    """A client's acknowledgement of a PUSH_SIGNAL."""

    sessionId: Id
    signalType: str
    code: Annotated[int, Meta(ge=0, le=0)] = 0


Request = (
    CreateAccount
    | Reconnect
    | Match
    | CancelMatch
    | Availability
    | Report
    | Block
    | Dialogue
    | Leave
    | Logout
    | History
    | ViewedAck
    | Typing
    | Ping
    | DialogueAck
    | SignalAck
)

_REQUEST_TYPES: Final = (
    CreateAccount,
    Reconnect,
    Match,
    CancelMatch,
    Availability,
    Report,
    Block,
    Dialogue,
    Leave,
    Logout,
    History,
    ViewedAck,
    Typing,
    Ping,
    DialogueAck,
    SignalAck,
)
CMD_OF: Final[dict[type, str]] = {t: str(t.__struct_config__.tag) for t in _REQUEST_TYPES}
COMMANDS: Final = frozenset(CMD_OF.values())


class BadFrame(Struct, frozen=True):
    """A frame that gets an error response instead of reaching a use case."""

    cmd: str
    requestId: str | None
    code: Code
    msg: str


class FrameParser:
    """Turns frames into requests; one per broker, shared by its connections."""

    def __init__(self, max_content: int = 4096) -> None:
        self.max_content = max_content
        self._typed = msgspec.json.Decoder(Request)
        self._generic = msgspec.json.Decoder()

    def parse(self, frame: str | bytes) -> Request | BadFrame:
        try:
            req: Request = self._typed.decode(frame)
        except (msgspec.MsgspecError, RecursionError):  # deep nesting hits the C stack guard
            return self._explain(frame)
        if isinstance(req, Dialogue):
            return self.check_content(req)
        if isinstance(req, CreateAccount):
            return self.check_nickname(req)
        if isinstance(req, Match) and req.interests:
            return self._check_interests(req)
        if isinstance(req, SignalAck) and req.signalType not in SIGNAL_TYPES:
            return BadFrame("PUSH_SIGNAL", req.requestId, Code.PARAM_ERR, "unknown signalType")
        return req

    # The checks of values, public for the other dialects, whose requests are
    # built from their own frames and checked by the same rules.
    def check_content(self, req: Dialogue) -> Request | BadFrame:
        """A DIALOGUE's content: not blank, at most `max_content` characters."""
        if len(req.content) > self.max_content:
            return BadFrame(
                "DIALOGUE",
                req.requestId,
                Code.TOO_LARGE,
                f"content is over {self.max_content} characters",
            )
        if not req.content.strip():
            return BadFrame("DIALOGUE", req.requestId, Code.PARAM_ERR, "content is empty")
        return req

    def check_nickname(self, req: CreateAccount) -> Request | BadFrame:
        """A CRT_ACCOUNT's nickName, trimmed: 1-32 characters, none hidden."""
        nick = req.nickName.strip()
        if not 1 <= len(nick) <= MAX_NICKNAME:
            return BadFrame(
                "CRT_ACCOUNT",
                req.requestId,
                Code.PARAM_ERR,
                f"nickName must be 1-{MAX_NICKNAME} characters",
            )
        if has_hidden_characters(nick):
            return BadFrame(
                "CRT_ACCOUNT",
                req.requestId,
                Code.PARAM_ERR,
                "nickName has control characters",
            )
        if nick != req.nickName:
            return msgspec.structs.replace(req, nickName=nick)
        return req

    def _check_interests(self, req: Match) -> Request | BadFrame:
        interests: list[str] = []
        for interest in req.interests:
            tag = interest.strip().lower()
            if not 1 <= len(tag) <= MAX_INTEREST:
                return BadFrame(
                    "MATCH",
                    req.requestId,
                    Code.PARAM_ERR,
                    f"each interest must be 1-{MAX_INTEREST} characters",
                )
            if has_hidden_characters(tag):
                msg = "an interest has control characters"
                return BadFrame("MATCH", req.requestId, Code.PARAM_ERR, msg)
            if tag not in interests:
                interests.append(tag)
        return msgspec.structs.replace(req, interests=interests)

    def _explain(self, frame: str | bytes) -> BadFrame:
        """Say why a frame failed the fast path (only for bad frames)."""
        try:
            obj: Any = self._generic.decode(frame)
        except msgspec.MsgspecError:
            return BadFrame("ERROR", None, Code.PARAM_ERR, "frame is not valid JSON")
        except RecursionError:
            # Too deep to decode at all; still echo the requestId so the client
            # can match the error (a best-effort look at the raw text).
            text = frame.decode(errors="replace") if isinstance(frame, bytes) else frame
            found = _REQUEST_ID.search(text)
            return BadFrame(
                "ERROR",
                found.group(1) if found else None,
                Code.PARAM_ERR,
                "frame is nested too deeply",
            )
        if not isinstance(obj, dict):
            return BadFrame("ERROR", None, Code.PARAM_ERR, "frame is not a JSON object")
        rid = obj.get("requestId")
        request_id = rid if isinstance(rid, str) and len(rid) <= 64 else None
        cmd = obj.get("cmd")
        if not isinstance(cmd, str):
            return BadFrame("ERROR", request_id, Code.PARAM_ERR, "cmd is missing or not a string")
        if cmd not in COMMANDS:
            return BadFrame(cmd[:64], request_id, Code.UNKNOWN_CMD, "unknown cmd")
        try:
            req: Request = msgspec.convert(obj, Request, strict=True)
        except msgspec.ValidationError as exc:
            return BadFrame(cmd, request_id, Code.PARAM_ERR, _reason(exc))
        # Decoding the frame typed failed but converting its object did not: only
        # possible for JSON the generic decoder reads differently (duplicate keys).
        return BadFrame(cmd, getattr(req, "requestId", None), Code.PARAM_ERR, "malformed frame")


def _reason(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    # msgspec says "Expected `int`, got `str` - at `$.sessionId`"; name the field plainly.
    if " - at `$." in text:
        what, _, where = text.partition(" - at `$.")
        return f"{where.rstrip('`')}: {what[0].lower()}{what[1:]}"
    return text[0].lower() + text[1:] if text else "invalid request"


_encode = msgspec.json.Encoder().encode


def encode_response(
    cmd: str, request_id: str | None, fields: dict[str, Any] | None = None
) -> bytes:
    """A success response (code 0) to a request."""
    out: dict[str, Any] = {"cmd": cmd}
    if request_id is not None:
        out["requestId"] = request_id
    out["code"] = 0
    if fields:
        out.update(fields)
    return _encode(out)


def encode_error(
    cmd: str, request_id: str | None, code: int, msg: str, fields: dict[str, Any] | None = None
) -> bytes:
    out: dict[str, Any] = {"cmd": cmd}
    if request_id is not None:
        out["requestId"] = request_id
    out["code"] = int(code)
    out["msg"] = msg
    if fields:
        out.update(fields)
    return _encode(out)


def encode_push_dialogue(
    sender_id: int, session_id: int, msg_id: int, content: str, created_at: int
) -> bytes:
    return _encode(
        {
            "cmd": "PUSH_DIALOGUE",
            "senderId": sender_id,
            "sessionId": session_id,
            "msgId": msg_id,
            "content": content,
            "createdAt": created_at,
        }
    )


def encode_push_signal(
    signal_type: str, sender_id: int, receiver_id: int, session_id: int, data: dict[str, Any]
) -> bytes:
    return _encode(
        {
            "cmd": "PUSH_SIGNAL",
            "signalType": signal_type,
            "senderId": sender_id,
            "sessionId": session_id,
            "receiverId": receiver_id,
            "data": data,
        }
    )
