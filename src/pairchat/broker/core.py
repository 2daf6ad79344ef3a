"""One client connection as the broker sees it, without I/O: inputs in, outputs
out, in the manner of websockets' `Protocol` and h11's `Connection`.

Inputs are method calls: a text frame from the client (`receive_text`), logic's
reply to one of its calls (`receive_reply`), a call logic could not take
(`call_failed`), a push (`push`), logic lost (`logic_lost`), a close request
(`close`), a writer that gave up on the client (`abort`), the socket closed
(`socket_closed`), the dialect's heartbeat (`heartbeat`). Outputs wait in the
core until the glue takes them: payloads for the client in order (`frames`),
calls for logic (`calls`) and a close frame to send (`close_request`). No
socket, no event loop, no clock of its own (the token bucket's is injected),
and no dialect: a `Codec` reads and writes frames.

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
- Replays are paced: their frames wait in the core until the glue has room in
  the socket for them (`take_paced`), and so do the live pushes that arrive
  behind them, which keeps their order. A replay page that ends with a
  REPLAY_MORE mark becomes a ReplayMore call when the glue reaches the mark;
  until the session's REPLAY_END, its live pushes are dropped (the next page
  reads them from the store, in order). Only live pushes waiting there count
  towards the glue's slow-client limit (`paced_live`): a client is never
  dropped for the size of its own replay.
- A push of kind CLOSE (the account bound elsewhere) closes with 4000 and
  drops the account, so that the close does not report the account offline.
- In CLOSING and CLOSED nothing more is written and frames are not read; the
  answers still count in the metrics. A bind that succeeds there is reported
  closed to logic at once (the client left before it learnt its account).
- When the socket closes, logic is told if an account was bound.
- A dialect whose clients never acknowledge pushes (`Codec.acks_on_write`):
  each push is acknowledged on the client's behalf when its frame is taken
  for the socket (`take_frames`, `take_paced`), or at once when the codec has
  no frame for it; frames dropped unwritten are not acknowledged, so a
  RECONNECT replays them.
- A dialect whose server pings (`Codec.ping_interval`): a bound connection
  gets the dialect's ping at each `heartbeat`, and one that has sent nothing
  for the silence limit is gone (the glue drops it).
- Logic lost: every pending call is answered code 2, then the connection closes
  with 1012 (the client reconnects; nothing is lost within the grace period).

`broker/state.py` holds the whole state machine (`TRANSITIONS`): an input that
changes the state does so through one of its entries, and any other change is
a bug.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from pairchat.api.links import AckMessage, SendMessage
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.api.v1 import push_pb2 as ppb
from pairchat.broker.codec import Codec, push_key
from pairchat.broker.state import BINDING, BOUND, CLOSED, CLOSING, TRANSITIONS, UNBOUND, Event
from pairchat.obs import event
from pairchat.protocol import (
    Availability,
    BadFrame,
    Block,
    CancelMatch,
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
    Report,
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
_FRAME_KIND: Final = ppb.PUSH_KIND_FRAME
_REPLAY_KIND: Final = ppb.PUSH_KIND_REPLAY
_MORE_KIND: Final = ppb.PUSH_KIND_REPLAY_MORE
_END_KIND: Final = ppb.PUSH_KIND_REPLAY_END
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
        self.stamp = clock()  # the last take

    def idle(self) -> float:
        """Seconds since the last take (since the bucket was made, before one)."""
        return self.clock() - self.stamp

    def take(self) -> bool:
        """Spend a token; False when there is none left."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Paced(NamedTuple):
    """A frame waiting for room in the socket, or a REPLAY_MORE mark."""

    frame: bytes
    live: bool = False  # a live push behind a replay (not part of the replay)
    more: tuple[int, int] | None = None  # a mark: (session, msgId the next page starts after)
    ack: LogicCall | None = None  # acknowledged once written (`Codec.acks_on_write`)


class ConnectionCore:
    """The state and decisions of one client connection (see the module's rules).

    Outputs wait in `frames`, `calls` and `close_request` until the glue takes
    them (`take_frames`, `take_calls`, `take_close`); the glue hands every call
    to logic before the next input, and reports one it could not hand over
    with `call_failed`.
    """

    __slots__ = (
        "_acks",
        "_acks_on_write",
        "_address",
        "_bucket",
        "_codec",
        "_count",
        "_max_frame_bytes",
        "_next_call_id",
        "_paced",
        "_pending",
        "_replaying",
        "account_id",
        "calls",
        "close_request",
        "conn_id",
        "frames",
        "paced_live",
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
        # pushes waiting for room in the socket (and, while BINDING, for the answer)
        self._paced: deque[Paced] = deque()
        self.paced_live = 0  # bytes of live pushes in `_paced`
        self._replaying: set[int] = set()  # sessions whose replay goes on in pages
        self._acks_on_write = codec.acks_on_write
        self._acks: list[LogicCall] = []  # the acknowledgements of pushes in `frames`
        self.frames: list[bytes] = []
        self.calls: list[LogicCall] = []
        self.close_request: tuple[int, str] | None = None

    # --- outputs ---
    def take_frames(self) -> list[bytes]:
        """The payloads for the client so far, in order, for the socket (their
        pushes count as delivered: `Codec.acks_on_write`)."""
        frames, self.frames = self.frames, []
        if self._acks:
            self.calls += self._acks
            self._acks = []
        return frames

    def drop_frames(self) -> None:
        """Forget the payloads so far: they will never be written."""
        self.frames = []
        self._acks = []

    def take_calls(self) -> list[LogicCall]:
        """The calls for logic so far, in order."""
        calls, self.calls = self.calls, []
        return calls

    @property
    def paced(self) -> bool:
        """Frames wait for room in the socket (`take_paced`)."""
        return bool(self._paced) and self.state is not BINDING

    def take_paced(self, room: int) -> list[bytes]:
        """The waiting frames, in order, until they fill `room` bytes (the last
        one may pass it); nothing while BINDING. A REPLAY_MORE mark met on the
        way becomes a ReplayMore call for logic."""
        if self.state is BINDING:
            return []
        paced = self._paced
        out: list[bytes] = []
        while paced and room >= 0:
            frame, live, more, ack = paced.popleft()
            if more is not None:
                session_id, after = more
                call = lpb.ReplayMore(session_id=session_id, after_msg_id=after)
                self.calls.append(
                    lpb.Call(account_id=self.account_id, conn_id=self.conn_id, replay_more=call)
                )
                continue
            out.append(frame)
            room -= len(frame)
            if live:
                self.paced_live -= len(frame)
            if ack is not None:
                self.calls.append(ack)
        return out

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
            self._error(cmd, request_id, reply.code, reply.msg, reply=reply)
            return
        if cmd in _BINDS:
            self._bound(cmd, request_id, reply)
            return
        if cmd == _LOGOUT:
            event(log, "logged out", logging.DEBUG, account=self.account_id, conn=self.conn_id)
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
        kind = item.kind
        if kind == _FRAME_KIND:
            if self._replaying and item.session_id in self._replaying:
                return True  # the replay's next page reads it from the store
            frame = self._codec.push(item.frame)
            if frame is None:
                if self._acks_on_write:
                    self.calls.append(self._ack_of(item))  # delivered as far as it goes
            elif state is BINDING or self._paced:
                ack = self._ack_of(item) if self._acks_on_write else None
                self._paced.append(Paced(frame, True, None, ack))
                self.paced_live += len(frame)
            else:
                self.frames.append(frame)
                if self._acks_on_write:
                    self._acks.append(self._ack_of(item))
        elif kind == _REPLAY_KIND:
            frame = self._codec.push(item.frame)
            ack = self._ack_of(item) if self._acks_on_write else None
            if frame is not None:
                self._paced.append(Paced(frame, ack=ack))
            elif ack is not None:
                self.calls.append(ack)
        elif kind == _MORE_KIND:
            self._replaying.add(item.session_id)
            self._paced.append(Paced(b"", more=(item.session_id, item.msg_id)))
        elif kind == _END_KIND:
            self._replaying.discard(item.session_id)
        elif kind == _CLOSE_KIND:
            event(
                log,
                "connection replaced",
                logging.DEBUG,
                account=item.account_id,
                conn=self.conn_id,
            )
            self.account_id = 0  # its close must not report the account offline
            self._close(Event.REPLACED, 4000, "account connected elsewhere")
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
        self.drop_frames()
        self._drop_paced()

    def socket_closed(self) -> None:
        """The socket is gone; logic is told if an account was bound."""
        self._move(Event.SOCKET_CLOSED)
        self.drop_frames()
        self._drop_paced()
        self.close_request = None
        if self.account_id:
            self._report_closed(self.account_id)

    def heartbeat(self, silence_limit: float) -> bool:
        """The dialect's ping is due (every `Codec.ping_interval` seconds). A
        bound connection gets the ping, which names its account; False when
        its client has sent nothing for `silence_limit` seconds: it is gone,
        and the glue drops the transport (then `abort`)."""
        if self.state is not BOUND:
            return True
        if self._bucket.idle() > silence_limit:
            return False
        self._write(self._codec.ping(self.account_id))
        return True

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
        call = lpb.Call(match=lpb.Match(interests=req.interests))
        self._forward("MATCH", req.requestId, call)

    def _cancel_match(self, req: CancelMatch) -> None:
        self._forward("CANCEL_MATCH", req.requestId, lpb.Call(cancel_match=lpb.CancelMatch()))

    def _availability(self, req: Availability) -> None:
        call = lpb.Call(availability=lpb.SetAvailability(available=req.available))
        self._forward("AVAILABILITY", req.requestId, call)

    def _report(self, req: Report) -> None:
        report = lpb.Report(session_id=req.sessionId, reason=req.reason, note=req.note or "")
        self._forward("REPORT", req.requestId, lpb.Call(report=report))

    def _block(self, req: Block) -> None:
        self._forward("BLOCK", req.requestId, lpb.Call(block=lpb.Block(session_id=req.sessionId)))

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

    def _ack_of(self, item: ppb.PushItem) -> LogicCall:
        """The acknowledgement a client of the `/ws` dialect would send for a
        push, for a dialect whose clients send none."""
        key = push_key(item.frame)
        if key.msg_id:
            return AckMessage(item.account_id, self.conn_id, key.session_id, key.msg_id, None)
        ack = lpb.Ack(session_id=key.session_id, signal_type=key.signal_type)
        return lpb.Call(account_id=item.account_id, conn_id=self.conn_id, ack=ack)

    # --- binding ---
    def _bound(self, cmd: str, request_id: str | None, reply: lpb.Reply) -> None:
        account_id = reply.bound.account_id
        state = self.state
        if state is CLOSING or state is CLOSED:
            self._report_closed(account_id)  # the client left before it learnt its account
            return
        self.account_id = account_id
        self._move(Event.BIND_OK)
        event(log, "bound", logging.DEBUG, account=account_id, conn=self.conn_id, cmd=cmd)
        self._answer(cmd, request_id, reply)

    def _bind_refused(self) -> None:
        if self.state is BINDING:
            self._move(Event.REBIND_REFUSED if self.account_id else Event.BIND_REFUSED)

    # --- state ---
    def _move(self, what: Event) -> None:
        self.state = TRANSITIONS[self.state][what]

    def _close(self, what: Event, code: int, reason: str) -> None:
        self._move(what)
        self._drop_paced()
        self.close_request = (code, reason)

    def _drop_paced(self) -> None:
        self._paced.clear()
        self.paced_live = 0
        self._replaying.clear()

    def _report_closed(self, account_id: int) -> None:
        call = lpb.Call(account_id=account_id, conn_id=self.conn_id, closed=lpb.ConnectionClosed())
        self.calls.append(call)

    # --- answers ---
    def _answer(self, cmd: str, request_id: str | None, reply: lpb.Reply | None) -> None:
        self._count(cmd, Code.OK)
        self._write(self._codec.reply(cmd, request_id, reply))

    def _error(
        self,
        cmd: str,
        request_id: str | None,
        code: int,
        msg: str,
        label: str | None = None,
        reply: lpb.Reply | None = None,
    ) -> None:
        self._count(label or cmd, code)
        self._write(self._codec.error(cmd, request_id, code, msg, reply))

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
    CancelMatch: ConnectionCore._cancel_match,
    Availability: ConnectionCore._availability,
    Report: ConnectionCore._report,
    Block: ConnectionCore._block,
    Leave: ConnectionCore._leave,
    Logout: ConnectionCore._logout,
    History: ConnectionCore._history,
}
