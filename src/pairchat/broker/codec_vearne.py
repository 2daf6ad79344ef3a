"""The dialect of vearne/chat and its browser client vearne/chat-ui, served on
`/vearne/ws` (../shared/VEARNE-DIALECT.md; docs/vearne-compat.md).

Frames are `<BASE>_REQ` requests, `<BASE>_RESP` answers and `PUSH_*_REQ`
pushes with numeric ids, read into the requests of `/ws` and checked by the
same rules; the same use cases serve them. The differences, and why:
- Keys are matched case-insensitively, as Go's JSON decoder does (a Go client
  built on vearne's structs sends `MsgId`). A frame that is not a JSON object
  with a known `cmd` gets no answer, as on vearne/chat; a known command with a
  bad field gets its `_RESP` with the code of `/ws` (vearne/chat drops it).
- Identity comes from the connection. MATCH_REQ's `accountId` and
  DIALOGUE_REQ's `senderId` are checked by the core, VIEWED_ACK_REQ's
  `accountId` here (code 6, nothing changed); the ids of PING_REQ and
  PING_RESP are not read: PING_RESP answers with the connection's account.
- chat-ui never acknowledges a push (`acks_on_write`) and answers the server's
  PING_REQ every `PING_INTERVAL` seconds with PING_RESP, which is read as a
  PING that needs no answer (the frame itself shows the client is alive).
- chat-ui throws on a push for a session it does not know and wipes a session
  announced twice. So each connection has a codec of its own that remembers
  the sessions it announced (MATCH_RESP or NewSession): a second announcement
  of one is not sent, and pushes of a session not announced are dropped,
  except on a connection that sent RECONNECT_REQ, whose client kept the
  sessions of its earlier sockets (chat-ui keeps its tabs).
- A MATCH waits for a partner (vearne/chat answers at once). chat-ui sends
  MATCH_REQ while it has no session, and right after its account is made,
  which often pairs it with a waiting user whose NewSession comes first: so a
  MATCH that finds nobody, on a connection whose client was told of a session,
  is not answered (chat-ui would show "There is no uers now" beside its chat).
- Pushes the dialect has no frame for (Typing, PartnerAway, PartnerBack) are
  dropped; a blank nickName (chat-ui sends "" after a reload) becomes
  `BLANK_NICKNAME`, as every nickname must have one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import msgspec
from msgspec import Struct

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.protocol import (
    BadFrame,
    Code,
    CreateAccount,
    Dialogue,
    FrameParser,
    Match,
    Ping,
    Reconnect,
    Request,
    ViewedAck,
)

PING_INTERVAL: Final = 3.0  # seconds between two PING_REQ (vearne/chat's ping.interval)
BLANK_NICKNAME: Final = "anonymous"
_PONG: Final = "\x00PING_RESP"  # the requestId a client's PING_RESP is read with
_NOT_YOURS: Final = "accountId/senderId is not the account of this connection"

# The answer of each command that has one, by its name in docs/protocol.md.
_RESP: Final = {
    "CRT_ACCOUNT": "CRT_ACCOUNT_RESP",
    "RECONNECT": "RECONNECT_RESP",
    "MATCH": "MATCH_RESP",
    "DIALOGUE": "DIALOGUE_RESP",
    "VIEWED_ACK": "VIEWED_ACK_RESP",
}

_read_json = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class _PushData(Struct):
    accountId: int = 0
    nickName: str = ""
    msgId: int = 0


class _Push(Struct):
    """A push as logic encodes it for `/ws` (docs/protocol.md, "Pushes")."""

    cmd: str
    sessionId: int
    senderId: int = 0
    msgId: int = 0
    content: str = ""
    signalType: str = ""
    receiverId: int = 0
    data: _PushData = msgspec.field(default_factory=_PushData)


_read_push = msgspec.json.Decoder(_Push).decode


class VearneCodec:
    """The dialect of vearne/chat for one connection (see the module's rules)."""

    __slots__ = ("_account", "_announced", "_nick", "_parser", "_resumed")

    acks_on_write = True
    ping_interval = PING_INTERVAL

    def __init__(self, parser: FrameParser) -> None:
        """Args:
        parser: the checks of `/ws` (content, nickname), shared by every
            connection of the broker.
        """
        self._parser = parser
        self._account = 0  # the account bound, as the answers said
        self._announced: set[int] = set()  # sessions announced on this connection
        self._resumed = False  # sent RECONNECT_REQ: its client knows older sessions
        self._nick = ""  # the nickName of the last CRT_ACCOUNT_REQ, for its answer

    # --- client frames ---
    def decode(self, text: str) -> Request | BadFrame:
        try:
            obj: Any = _read_json(text)
        except (msgspec.DecodeError, RecursionError):
            return BadFrame("ERROR", None, Code.PARAM_ERR, "frame is not valid JSON")
        if not isinstance(obj, dict):
            return BadFrame("ERROR", None, Code.PARAM_ERR, "frame is not a JSON object")
        fields = {key.lower(): value for key, value in obj.items()}
        cmd = fields.get("cmd")
        if not isinstance(cmd, str):
            return BadFrame("ERROR", None, Code.PARAM_ERR, "cmd is missing or not a string")
        read = _READ.get(cmd)
        if read is None:
            return BadFrame(cmd[:64], None, Code.UNKNOWN_CMD, "unknown cmd")
        return read(self, fields)

    def _create_account(self, fields: dict[str, Any]) -> Request | BadFrame:
        nick = fields.get("nickname")
        self._nick = nick if isinstance(nick, str) else ""
        if nick is None or (isinstance(nick, str) and not nick.strip()):
            nick = BLANK_NICKNAME  # missing and null are "" to Go
        req = _convert(CreateAccount, None, nickName=nick)
        return req if isinstance(req, BadFrame) else self._parser.check_nickname(req)

    def _reconnect(self, fields: dict[str, Any]) -> Request | BadFrame:
        req = _convert(
            Reconnect, None, accountId=fields.get("accountid"), token=fields.get("token")
        )
        if not isinstance(req, BadFrame):
            self._resumed = True  # before its answer: its replay may come first
        return req

    def _match(self, fields: dict[str, Any]) -> Request | BadFrame:
        return _convert(Match, None, accountId=fields.get("accountid"))

    def _dialogue(self, fields: dict[str, Any]) -> Request | BadFrame:
        request_id = fields.get("requestid")
        echo = request_id if isinstance(request_id, str) else None
        req = _convert(
            Dialogue,
            echo,
            senderId=fields.get("senderid"),
            sessionId=fields.get("sessionid"),
            content=fields.get("content"),
            # "" is Go's missing string: no idempotency key, not a shared one
            requestId=request_id or None,
        )
        return req if isinstance(req, BadFrame) else self._parser.check_content(req)

    def _viewed(self, fields: dict[str, Any]) -> Request | BadFrame:
        account = fields.get("accountid")
        req = _convert(
            ViewedAck, None, sessionId=fields.get("sessionid"), msgId=fields.get("msgid")
        )
        if isinstance(req, BadFrame):
            return req
        if type(account) is not int:
            return BadFrame("VIEWED_ACK", None, Code.PARAM_ERR, "accountId: expected `int`")
        if self._account and account != self._account:
            return BadFrame("VIEWED_ACK", None, Code.FORBIDDEN, _NOT_YOURS)
        return req

    def _ping(self, fields: dict[str, Any]) -> Request | BadFrame:
        return Ping()

    def _pong(self, fields: dict[str, Any]) -> Request | BadFrame:
        return Ping(requestId=_PONG)

    # --- answers ---
    def reply(self, cmd: str, request_id: str | None, reply: lpb.Reply | None) -> bytes | None:
        if reply is None:  # PING, answered by the broker itself
            if request_id == _PONG:
                return None
            return _encode({"cmd": "PING_RESP", "accountId": self._account})
        if cmd == "DIALOGUE":
            return self.stored(request_id, reply.stored.session_id, reply.stored.msg_id)
        if cmd == "CRT_ACCOUNT":
            bound = reply.bound
            self._account = bound.account_id
            self._resumed = False  # a new account: its client knows no session yet
            return _encode(
                {
                    "cmd": "CRT_ACCOUNT_RESP",
                    "code": 0,
                    "nickName": bound.nick_name,
                    "accountId": bound.account_id,
                    "token": bound.token,
                }
            )
        if cmd == "RECONNECT":
            self._account = reply.bound.account_id
            return b'{"cmd":"RECONNECT_RESP","code":0}'
        if cmd == "MATCH":
            matched = reply.matched
            if not self._announce(matched.session_id):
                return None  # its NewSession came first
            return _encode(
                {
                    "cmd": "MATCH_RESP",
                    "code": 0,
                    "partnerId": matched.partner_id,
                    "partnerName": matched.partner_name,
                    "sessionId": matched.session_id,
                }
            )
        if cmd == "VIEWED_ACK":
            return b'{"cmd":"VIEWED_ACK_RESP","code":0}'
        return None

    def stored(self, request_id: str | None, session_id: int, msg_id: int) -> bytes:
        return _encode(
            {"cmd": "DIALOGUE_RESP", "code": 0, "requestId": request_id or "", "msgId": msg_id}
        )

    def error(
        self,
        cmd: str,
        request_id: str | None,
        code: int,
        msg: str,
        reply: lpb.Reply | None = None,
    ) -> bytes | None:
        resp = _RESP.get(cmd)
        if resp is None or code == Code.UNKNOWN_CMD:
            return None  # no frame: a frame without cmd, a PING, a failed acknowledgement
        if cmd == "CRT_ACCOUNT":
            fields = {"nickName": self._nick, "accountId": 0, "token": ""}
            return _encode({"cmd": resp, "code": int(code), **fields})
        if cmd == "DIALOGUE":
            return _encode(
                {"cmd": resp, "code": int(code), "requestId": request_id or "", "msgId": 0}
            )
        if cmd == "MATCH" and code == Code.NOT_FOUND and self._announced:
            return None  # its client has a session: a NewSession answered it
        return _encode({"cmd": resp, "code": int(code)})

    # --- server frames ---
    def push(self, frame: bytes) -> bytes | None:
        push = _read_push(frame)
        session_id = push.sessionId
        if push.cmd == "PUSH_DIALOGUE":
            if not self._knows(session_id):
                return None
            return _encode(
                {
                    "cmd": "PUSH_DIALOGUE_REQ",
                    "msgId": push.msgId,
                    "senderId": push.senderId,
                    "sessionId": session_id,
                    "content": push.content,
                }
            )
        kind = push.signalType
        if kind == "NewSession":
            if not self._announce(session_id):
                return None  # its MATCH_RESP came first
            data: dict[str, Any] = {
                "accountId": push.data.accountId,
                "nickName": push.data.nickName,
            }
            return self._signal(push, push.senderId, data)
        if not self._knows(session_id):
            return None
        if kind == "PartnerExit":
            return self._signal(push, 0, {"accountId": push.data.accountId})  # 0: the system
        if kind == "ViewedAck":
            return _encode(
                {
                    "cmd": "PUSH_VIEWED_ACK_REQ",
                    "sessionId": session_id,
                    "accountId": push.data.accountId,
                    "msgId": push.data.msgId,
                }
            )
        return None  # Typing, PartnerAway, PartnerBack: the dialect has no frame

    def ping(self, account_id: int) -> bytes:
        return _encode({"cmd": "PING_REQ", "accountId": account_id})

    @staticmethod
    def _signal(push: _Push, sender_id: int, data: dict[str, Any]) -> bytes:
        return _encode(
            {
                "cmd": "PUSH_SIGNAL_REQ",
                "senderId": sender_id,
                "sessionId": push.sessionId,
                "receiverId": push.receiverId,
                "signalType": push.signalType,
                "data": data,
            }
        )

    # --- what the client knows ---
    def _announce(self, session_id: int) -> bool:
        """Record an announcement of the session; False if it had one."""
        if session_id in self._announced:
            return False
        self._announced.add(session_id)
        return True

    def _knows(self, session_id: int) -> bool:
        return self._resumed or session_id in self._announced


_R = TypeVar("_R", CreateAccount, Reconnect, Match, Dialogue, ViewedAck)


def _convert(kind: type[_R], request_id: str | None, **fields: Any) -> _R | BadFrame:
    """`fields` as a request of `kind`, by the types and ranges of `/ws`."""
    try:
        return msgspec.convert(fields, kind, strict=True)
    except msgspec.ValidationError as exc:
        cmd = str(kind.__struct_config__.tag)
        return BadFrame(cmd, request_id, Code.PARAM_ERR, str(exc))


# How each command of the dialect is read (the rest are unknown: no answer).
_READ: Final[dict[str, Callable[[VearneCodec, dict[str, Any]], Request | BadFrame]]] = {
    "CRT_ACCOUNT_REQ": VearneCodec._create_account,
    "RECONNECT_REQ": VearneCodec._reconnect,
    "MATCH_REQ": VearneCodec._match,
    "DIALOGUE_REQ": VearneCodec._dialogue,
    "VIEWED_ACK_REQ": VearneCodec._viewed,
    "PING_REQ": VearneCodec._ping,
    "PING_RESP": VearneCodec._pong,
}
