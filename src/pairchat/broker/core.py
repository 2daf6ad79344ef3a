"""One client connection as the broker sees it, without I/O: inputs in, outputs
out, in the manner of websockets' `Protocol` and h11's `Connection`.

Inputs are method calls: a text frame from the client (`receive_text`), logic's
reply to one of its calls (`receive_reply`), a call logic could not take
(`call_failed`), a push (`push`), logic lost (`logic_lost`), a close request
(`close`), a writer that gave up on the client (`abort`), the socket closed
(`socket_closed`). Outputs wait in the core until the glue takes them: payloads
for the client in order (`frames`), calls for logic (`calls`) and a close frame
to send (`close_request`). No socket, no event loop, no clock of its own (the
token bucket's is injected), and no dialect: a `Codec` reads and writes frames.

The rules of a connection's life:
- It acts as at most one account, bound by a successful CRT_ACCOUNT or
  RECONNECT; `accountId` and `senderId` in requests must be that account
  (code 6). Before an account is bound only PING and the two binds are served
  (code 5). One bind at a time (code 1); once bound, only a RECONNECT of the
  same account may bind again (code 6).
- BINDING keeps the account the connection had (none, or the one a RECONNECT
  renews): requests go on as in the state it came from. Pushes arriving while
  BINDING are held and written after the bind's answer, so a client always
  learns its account before its pushes.
- A push of kind CLOSE (the account bound elsewhere) closes with 4000 and
  drops the account, so that the close does not report the account offline.
- In CLOSING and CLOSED nothing more is written and frames are not read; the
  answers still count in the metrics. A bind that succeeds there is reported
  closed to logic at once (the client left before it learnt its account).
- When the socket closes, logic is told if an account was bound.
- Logic lost: every pending call is answered code 2, then the connection closes
  with 1012 (the client reconnects; nothing is lost within the grace period).

`broker/state.py` holds the whole state machine (`TRANSITIONS`): an input that
changes the state does so through one of its entries, and any other change is
a bug.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from pairchat.api.links import AckMessage, SendMessage
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.api.v1 import push_pb2 as ppb
from pairchat.broker.codec import Codec
from pairchat.broker.state import BINDING, BOUND, CLOSED, CLOSING, TRANSITIONS, UNBOUND, Event
from pairchat.obs import event
from pairchat.protocol import (
    BadFrame,
    Code,
    CreateAccount,
    Dialogue,
    DialogueAck,
    History,
    Leave,
    Logout,
    Match,
    Ping,
    Reconnect,
    SignalAck,
    Typing,
    ViewedAck,
)
from pairchat.protocol.frames import CMD_OF

log = logging.getLogger("pairchat.broker")

LogicCall = lpb.Call | SendMessage | AckMessage
"""What a core asks of logic: the two calls of every message as plain tuples
(the hub gives them to a logic service in this process as they are, or turns
them into protobuf for a stream), everything else as Logic.Exchange calls."""


_CRT_ACCOUNT: Final = CMD_OF[CreateAccount]
_RECONNECT: Final = CMD_OF[Reconnect]
_BINDS: Final = (_CRT_ACCOUNT, _RECONNECT)
_LOGOUT: Final = CMD_OF[Logout]
_DIALOGUE: Final = CMD_OF[Dialogue]
_PUSH_DIALOGUE: Final = CMD_OF[DialogueAck]
_UNKNOWN: Final = "UNKNOWN"  # the metric label of every unknown command
_CLOSE_KIND: Final = ppb.PUSH_KIND_CLOSE
_UNAVAILABLE: Final = "server unavailable, retry"
_NOT_YOURS: Final = "accountId/senderId is not the account of this connection"


class TokenBucket:
    """Requests per second with a burst allowance."""

    __slots__ = ("burst", "clock", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        """Args:
        rate: tokens added per second of `clock`.
        burst: the most tokens kept; the bucket starts full.
        clock: seconds, never going back (`time.monotonic`).
        """
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.stamp = clock()

    def take(self) -> bool:
        """Spend a token; False when there is none left."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ConnectionCore:
    """The state and decisions of one client connection (see the module's rules).

    Outputs wait in `frames`, `calls` and `close_request` until the glue takes
    them (`take_frames`, `take_calls`, `take_close`); the glue hands every call
    to logic before the next input, and reports one it could not hand over
    with `call_failed`.
    """

    __slots__ = (
        "_address",
        "_bucket",
        "_codec",
        "_count",
        "_held",
        "_max_frame_bytes",
        "_next_call_id",
        "_pending",
        "account_id",
        "calls",
        "close_request",
        "conn_id",
        "frames",
        "state",
    )

    def __init__(
        self,
        conn_id: int,
        codec: Codec,
        bucket: TokenBucket,
        max_frame_bytes: int,
        next_call_id: Callable[[], int],
        count: Callable[[str, int], None],
        address: str = "",
    ) -> None:
        """Args:
        conn_id: unique within the broker's life; logic addresses pushes by it.
        codec: the dialect of the path the client connected to.
        bucket: the client's request allowance (bad frames spend it too).
        max_frame_bytes: UTF-8 bytes in one client frame (over it: code 9).
        next_call_id: call ids unique within the broker (shared by its cores).
        count: records each answer by command and code (the request metric).
        address: the client's IP address, which logic's per-address limits
            count its binds by.
        """
        self.conn_id = conn_id
        self._codec = codec
        self._bucket = bucket
        self._max_frame_bytes = max_frame_bytes
        self._next_call_id = next_call_id
        self._count = count
        self._address = address
        self.state = UNBOUND
        self.account_id = 0  # the bound account; 0 for none
        self._pending: dict[int, tuple[str, str | None]] = {}  # call id -> (cmd, requestId)
        self._held: list[bytes] = []  # pushes waiting for the bind's answer
        self.frames: list[bytes] = []
        self.calls: list[LogicCall] = []
        self.close_request: tuple[int, str] | None = None

    # --- outputs ---
    def take_frames(self) -> list[bytes]:
        """The payloads for the client so far, in order."""
        frames, self.frames = self.frames, []
        return frames

    def take_calls(self) -> list[LogicCall]:
        """The calls for logic so far, in order."""
        calls, self.calls = self.calls, []
        return calls

    def take_close(self) -> tuple[int, str] | None:
        """The close frame to send (code, reason) after the frames queued before it."""
        request, self.close_request = self.close_request, None
        return request

    # --- inputs: the client ---
    def receive_text(self, text: str) -> None:
        """A text frame from the client."""
        state = self.state
        if state is CLOSING or state is CLOSED:
            return
        limit = self._max_frame_bytes
        # A character is at most 4 UTF-8 bytes: encode only when it could matter.
        if len(text) * 4 > limit and (len(text) > limit or len(text.encode()) > limit):
            self._error("ERROR", None, Code.TOO_LARGE, "frame too large")
            return
        allowed = self._bucket.take()  # bad frames count too: they cost work to answer
        req = self._codec.decode(text)
        if type(req) is BadFrame:
            label = _UNKNOWN if req.code == Code.UNKNOWN_CMD else req.cmd
            if allowed:
                self._error(req.cmd, req.requestId, req.code, req.msg, label)
            else:
                self._error(req.cmd, req.requestId, Code.RATE_LIMITED, "too many requests", label)
            return
        if not allowed:
            cmd = CMD_OF[type(req)]
            self._error(cmd, req.requestId, Code.RATE_LIMITED, "too many requests")
        elif type(req) is Ping:
            self._answer("PING", req.requestId, None)
        elif type(req) is CreateAccount or type(req) is Reconnect:
            self._bind(req)
        elif not self.account_id:
            cmd = CMD_OF[type(req)]
            msg = "no account: send CRT_ACCOUNT or RECONNECT first"
            self._error(cmd, req.requestId, Code.UNAUTHORIZED, msg)
        else:
            _SERVE[type(req)](self, req)

    def refuse(self, code: int, msg: str) -> None:
        """Answer ERROR to a frame the core never saw (binary, not UTF-8, or one
        whose handling failed): not rate limited, not counted."""
        self._write(self._codec.error("ERROR", None, code, msg))

    # --- inputs: logic ---
    def receive_reply(self, reply: lpb.Reply) -> None:
        """Logic's reply to one of this connection's calls, or (call_id 0) a
        failed acknowledgement that names its command and requestId itself."""
        call_id = reply.call_id
        if not call_id:
            self._error(reply.cmd, reply.request_id or None, reply.code, reply.msg)
            return
        expected = self._pending.pop(call_id, None)
        if expected is None:
            return
        cmd, request_id = expected
        if reply.code:
            if cmd in _BINDS:
                self._bind_refused()
            self._error(cmd, request_id, reply.code, reply.msg)
            return
        if cmd in _BINDS:
            self._bound(cmd, request_id, reply)
            return
        if cmd == _LOGOUT:
            event(log, "logged out", account=self.account_id, conn=self.conn_id)
            self.account_id = 0
            self._move(Event.LOGGED_OUT)
        self._answer(cmd, request_id, reply)

    def receive_stored(
        self, call_id: int, code: int, msg: str, session_id: int, msg_id: int
    ) -> None:
        """Logic's answer to a SendMessage (see `api.links.Stored`)."""
        expected = self._pending.pop(call_id, None)
        if expected is None:
            return
        cmd, request_id = expected
        if code:
            self._error(cmd, request_id, code, msg)
            return
        self._count(cmd, Code.OK)
        self._write(self._codec.stored(request_id, session_id, msg_id))

    def ack_refused(self, request_id: str | None, code: int, msg: str) -> None:
        """Logic refused an AckMessage of this connection."""
        self._error(_PUSH_DIALOGUE, request_id, code, msg)

    def call_failed(self, call: LogicCall) -> None:
        """Logic could not take `call` (it is out of reach): answer code 2."""
        if isinstance(call, AckMessage):
            self._error(_PUSH_DIALOGUE, call.request_id, Code.INTERNAL_ERR, _UNAVAILABLE)
            return
        call_id = call.call_id
        if call_id:
            expected = self._pending.pop(call_id, None)
            if expected is None:
                return
            cmd, request_id = expected
            if cmd in _BINDS:
                self._bind_refused()
            self._error(cmd, request_id, Code.INTERNAL_ERR, _UNAVAILABLE)
        elif isinstance(call, lpb.Call) and call.HasField("ack"):
            cmd = CMD_OF[SignalAck] if call.ack.signal_type else CMD_OF[DialogueAck]
            # the requestId as logic echoes it when it refuses an ack
            self._error(cmd, call.request_id or None, Code.INTERNAL_ERR, _UNAVAILABLE)
        # A ConnectionClosed report needs no answer: logic out of reach learns it
        # from the broken stream.

    def push(self, item: ppb.PushItem) -> bool:
        """A push for this connection. False when it is not this connection's to
        take (closing, or bound to another account): the sender keeps it."""
        state = self.state
        if state is BOUND:
            if self.account_id != item.account_id:
                return False
        elif state is not BINDING:
            return False
        if item.kind == _CLOSE_KIND:
            event(log, "connection replaced", account=item.account_id, conn=self.conn_id)
            self.account_id = 0  # its close must not report the account offline
            self._close(Event.REPLACED, 4000, "account connected elsewhere")
            return True
        frame = self._codec.push(item.frame)
        if frame is not None:
            if state is BINDING:
                self._held.append(frame)
            else:
                self.frames.append(frame)
        return True

    def logic_lost(self) -> None:
        """The link to logic broke: what it had is answered code 2, then the
        connection closes so that the client reconnects."""
        pending, self._pending = self._pending, {}
        for cmd, request_id in pending.values():
            self._error(cmd, request_id, Code.INTERNAL_ERR, _UNAVAILABLE)
        self.close(1012, "service restart")

    # --- inputs: the connection itself ---
    def close(self, code: int, reason: str) -> None:
        """Close with `code` once the frames queued so far are written."""
        state = self.state
        if state is not CLOSING and state is not CLOSED:
            self._close(Event.CLOSE, code, reason)

    def abort(self) -> None:
        """The glue dropped the transport: nothing more is written."""
        self._move(Event.ABORT)
        self.frames = []
        self._held = []

    def socket_closed(self) -> None:
        """The socket is gone; logic is told if an account was bound."""
        self._move(Event.SOCKET_CLOSED)
        self.frames = []
        self._held = []
        self.close_request = None
        if self.account_id:
            self._report_closed(self.account_id)

    # --- requests ---
    def _bind(self, req: CreateAccount | Reconnect) -> None:
        cmd = CMD_OF[type(req)]
        if self.state is BINDING:
            msg = "an account is already being bound to this connection"
            self._error(cmd, req.requestId, Code.PARAM_ERR, msg)
            return
        if self.account_id and not (type(req) is Reconnect and req.accountId == self.account_id):
            msg = "this connection is bound to another account"
            self._error(cmd, req.requestId, Code.FORBIDDEN, msg)
            return
        if isinstance(req, CreateAccount):
            call = lpb.Call(create_account=lpb.CreateAccount(nick_name=req.nickName))
        else:
            call = lpb.Call(reconnect=lpb.Reconnect(account_id=req.accountId, token=req.token))
        call.address = self._address
        self._move(Event.BIND)
        self._forward(cmd, req.requestId, call)

    def _dialogue(self, req: Dialogue) -> None:
        if req.senderId != self.account_id:
            self._error("DIALOGUE", req.requestId, Code.FORBIDDEN, _NOT_YOURS)
            return
        call_id = self._next_call_id()
        self._pending[call_id] = (_DIALOGUE, req.requestId)
        self.calls.append(
            SendMessage(
                call_id, self.account_id, self.conn_id, req.sessionId, req.content, req.requestId
            )
        )

    def _ack_message(self, req: DialogueAck) -> None:
        """Acks go without a call id: logic answers only if one fails."""
        self.calls.append(
            AckMessage(self.account_id, self.conn_id, req.sessionId, req.msgId, req.requestId)
        )

    def _ack_signal(self, req: SignalAck) -> None:
        """Acks go without a call id: logic answers only if one fails."""
        ack = lpb.Ack(session_id=req.sessionId, signal_type=req.signalType)
        call = lpb.Call(account_id=self.account_id, conn_id=self.conn_id, ack=ack)
        if req.requestId is not None:
            call.request_id = req.requestId
        self.calls.append(call)

    def _typing(self, req: Typing) -> None:
        self._forward(
            "TYPING", req.requestId, lpb.Call(typing=lpb.Typing(session_id=req.sessionId))
        )

    def _viewed(self, req: ViewedAck) -> None:
        call = lpb.Call(viewed_ack=lpb.ViewedAck(session_id=req.sessionId, msg_id=req.msgId))
        self._forward("VIEWED_ACK", req.requestId, call)

    def _match(self, req: Match) -> None:
        if req.accountId != self.account_id:
            self._error("MATCH", req.requestId, Code.FORBIDDEN, _NOT_YOURS)
            return
        self._forward("MATCH", req.requestId, lpb.Call(match=lpb.Match()))

    def _leave(self, req: Leave) -> None:
        self._forward("LEAVE", req.requestId, lpb.Call(leave=lpb.Leave(session_id=req.sessionId)))

    def _logout(self, req: Logout) -> None:
        if req.accountId != self.account_id:
            self._error("LOGOUT", req.requestId, Code.FORBIDDEN, _NOT_YOURS)
            return
        self._forward("LOGOUT", req.requestId, lpb.Call(logout=lpb.Logout()))

    def _history(self, req: History) -> None:
        page = lpb.History(session_id=req.sessionId, after_msg_id=req.afterMsgId, limit=req.limit)
        self._forward("HISTORY", req.requestId, lpb.Call(history=page))

    def _forward(self, cmd: str, request_id: str | None, call: lpb.Call) -> None:
        call_id = self._next_call_id()
        call.call_id = call_id
        call.account_id = self.account_id
        call.conn_id = self.conn_id
        if request_id is not None:
            call.request_id = request_id
        self._pending[call_id] = (cmd, request_id)
        self.calls.append(call)

    # --- binding ---
    def _bound(self, cmd: str, request_id: str | None, reply: lpb.Reply) -> None:
        account_id = reply.bound.account_id
        state = self.state
        if state is CLOSING or state is CLOSED:
            self._report_closed(account_id)  # the client left before it learnt its account
            return
        self.account_id = account_id
        self._move(Event.BIND_OK)
        event(log, "bound", account=account_id, conn=self.conn_id, cmd=cmd)
        self._answer(cmd, request_id, reply)
        self._release_held()

    def _bind_refused(self) -> None:
        if self.state is BINDING:
            self._move(Event.REBIND_REFUSED if self.account_id else Event.BIND_REFUSED)
            self._release_held()

    def _release_held(self) -> None:
        if self._held:
            self.frames.extend(self._held)
            self._held = []

    # --- state ---
    def _move(self, what: Event) -> None:
        self.state = TRANSITIONS[self.state][what]

    def _close(self, what: Event, code: int, reason: str) -> None:
        self._move(what)
        self._held = []
        self.close_request = (code, reason)

    def _report_closed(self, account_id: int) -> None:
        call = lpb.Call(account_id=account_id, conn_id=self.conn_id, closed=lpb.ConnectionClosed())
        self.calls.append(call)

    # --- answers ---
    def _answer(self, cmd: str, request_id: str | None, reply: lpb.Reply | None) -> None:
        self._count(cmd, Code.OK)
        self._write(self._codec.reply(cmd, request_id, reply))

    def _error(
        self, cmd: str, request_id: str | None, code: int, msg: str, label: str | None = None
    ) -> None:
        self._count(label or cmd, code)
        self._write(self._codec.error(cmd, request_id, code, msg))

    def _write(self, frame: bytes | None) -> None:
        """Queue an answer for the client, unless the connection is closing."""
        state = self.state
        if frame is not None and state is not CLOSING and state is not CLOSED:
            self.frames.append(frame)


# What serves each request of a bound connection (PING and binds are served
# before the account check).
_SERVE: Final[dict[type, Callable[[ConnectionCore, Any], None]]] = {
    Dialogue: ConnectionCore._dialogue,
    DialogueAck: ConnectionCore._ack_message,
    SignalAck: ConnectionCore._ack_signal,
    Typing: ConnectionCore._typing,
    ViewedAck: ConnectionCore._viewed,
    Match: ConnectionCore._match,
    Leave: ConnectionCore._leave,
    Logout: ConnectionCore._logout,
    History: ConnectionCore._history,
}
