"""The broker's connection hub: frames in from clients, calls out to logic,
replies and pushes back to the right connection.

The hub enforces what the broker owns: a connection acts as exactly one
account, bound by a successful CRT_ACCOUNT or RECONNECT; `senderId` and
`accountId` must be that account; rate and size limits. Everything else is
decided by logic.

With logic in the same process (`Shortcut`), the two commands of every
message, DIALOGUE and its PUSH_DIALOGUE acknowledgement, call the use cases
directly and answer from their callback; every other command, and these two
for a session the logic has not cached yet, takes the batched call path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.api.v1 import push_pb2 as ppb
from pairchat.broker.connection import Connection
from pairchat.logic.service import SESSION_ENDED, STORE_FAILED, NotCached
from pairchat.obs import CONNECTIONS, MESSAGES_PUSHED, PUSH_LATENCY, REQUESTS, SIGNALS_PUSHED, event
from pairchat.protocol import (
    BadFrame,
    Code,
    CreateAccount,
    Dialogue,
    DialogueAck,
    FrameParser,
    History,
    Leave,
    Logout,
    Match,
    Ping,
    ProtocolError,
    Reconnect,
    SignalAck,
    Typing,
    ViewedAck,
    encode_error,
    encode_response,
)
from pairchat.protocol.frames import CMD_OF, Request
from pairchat.storage.base import Route, StoredMessage

log = logging.getLogger("pairchat.broker")

_DIALOGUE_PREFIX = b'{"cmd":"PUSH_DIALOGUE"'


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame_bytes: int = 65536
    max_content: int = 4096
    rate: float = 200.0
    burst: float = 400.0
    send_limit: int = 1 << 20


class Shortcut(Protocol):
    """The hot use cases of a logic service in this process (`LogicService`):
    plain calls that raise `ProtocolError`, or `NotCached` for the slow path."""

    def send(
        self,
        account_id: int,
        route: Route,
        session_id: int,
        content: str,
        request_id: str | None,
        done: Callable[[StoredMessage | BaseException], None],
    ) -> None: ...

    def ack_message(self, account_id: int, route: Route, session_id: int, msg_id: int) -> None: ...


@dataclass(slots=True)
class _Pending:
    conn: Connection
    cmd: str
    request_id: str | None


class Hub:
    def __init__(
        self,
        limits: Limits,
        call_logic: Callable[[lpb.Call], bool],
        shortcut: Shortcut | None = None,
        broker_id: str = "",
    ) -> None:
        self.limits = limits
        self._shortcut = shortcut
        self._broker_id = broker_id
        self.parser = FrameParser(limits.max_content)
        self.conns: dict[int, Connection] = {}
        self._call_logic = call_logic
        self._pending: dict[int, _Pending] = {}
        self._next_call = 0
        self._next_conn = 0
        self._counters: dict[tuple[str, int], Any] = {}  # (cmd, code) -> labelled counter

    def next_conn_id(self) -> int:
        self._next_conn += 1
        return self._next_conn

    # --- connections ---
    def add(self, conn: Connection) -> None:
        self.conns[conn.conn_id] = conn
        if self._shortcut is not None:
            conn.route = Route(self._broker_id, conn.conn_id)
        CONNECTIONS.inc()

    def remove(self, conn: Connection) -> None:
        """The WebSocket closed (without LOGOUT, or after it)."""
        conn.closed = True
        if self.conns.pop(conn.conn_id, None) is None:
            return
        CONNECTIONS.dec()
        if conn.account_id:
            self._call_logic(
                lpb.Call(
                    account_id=conn.account_id, conn_id=conn.conn_id, closed=lpb.ConnectionClosed()
                )
            )

    def logic_lost(self) -> None:
        """The logic stream broke: fail what is in flight and close every client,
        who will RECONNECT (within the grace period nothing is lost)."""
        pending, self._pending = self._pending, {}
        for p in pending.values():
            self._answer_error(p, Code.INTERNAL_ERR, "server unavailable, retry")
        for conn in list(self.conns.values()):
            conn.close_soon(1012, "service restart")

    # --- frames from clients ---
    def on_frame(self, conn: Connection, data: str) -> None:
        limit = self.limits.max_frame_bytes
        # A character is at most 4 UTF-8 bytes: encode only when it could matter.
        if len(data) * 4 > limit and (len(data) > limit or len(data.encode()) > limit):
            self._reply(
                conn,
                encode_error("ERROR", None, Code.TOO_LARGE, "frame too large"),
                "ERROR",
                Code.TOO_LARGE,
            )
            return
        allowed = conn.bucket.take()  # bad frames count too: they cost work to answer
        req = self.parser.parse(data)
        if isinstance(req, BadFrame):
            if allowed:
                self._reply(
                    conn,
                    encode_error(req.cmd, req.requestId, req.code, req.msg),
                    req.cmd if req.code != Code.UNKNOWN_CMD else "UNKNOWN",
                    req.code,
                )
            else:
                self._error(conn, req.cmd, req.requestId, Code.RATE_LIMITED, "too many requests")
            return
        cmd = CMD_OF[type(req)]
        if not allowed:
            self._error(conn, cmd, req.requestId, Code.RATE_LIMITED, "too many requests")
            return
        if type(req) is Ping:
            self._reply(conn, encode_response("PING", req.requestId), "PING", Code.OK)
            return
        if type(req) is CreateAccount or type(req) is Reconnect:
            self._bind(conn, cmd, req)
            return
        if not conn.account_id:
            self._error(
                conn,
                cmd,
                req.requestId,
                Code.UNAUTHORIZED,
                "no account: send CRT_ACCOUNT or RECONNECT first",
            )
            return
        if isinstance(req, DialogueAck | SignalAck):
            self._acknowledge(conn, req)
            return
        call = self._to_call(conn, req)
        if call is not None:
            self._forward(conn, cmd, req.requestId, call)

    def _acknowledge(self, conn: Connection, req: DialogueAck | SignalAck) -> None:
        """Acks go without a call_id: logic answers only if one fails."""
        if self._shortcut is not None and type(req) is DialogueAck:
            try:
                assert conn.route is not None
                self._shortcut.ack_message(conn.account_id, conn.route, req.sessionId, req.msgId)
                return
            except ProtocolError as exc:
                self._error(conn, "PUSH_DIALOGUE", req.requestId, exc.code, exc.msg)
                return
            except NotCached:
                pass
        if isinstance(req, DialogueAck):
            ack = lpb.Ack(session_id=req.sessionId, msg_id=req.msgId)
        else:
            ack = lpb.Ack(session_id=req.sessionId, signal_type=req.signalType)
        call = lpb.Call(account_id=conn.account_id, conn_id=conn.conn_id, ack=ack)
        if req.requestId is not None:
            call.request_id = req.requestId
        if not self._call_logic(call):
            self._error(
                conn,
                CMD_OF[type(req)],
                req.requestId,
                Code.INTERNAL_ERR,
                "server unavailable, retry",
            )

    def _to_call(self, conn: Connection, req: Request) -> lpb.Call | None:
        acct = conn.account_id
        t = type(req)
        if t is Dialogue:
            assert isinstance(req, Dialogue)
            if req.senderId != acct:
                return self._forbidden(conn, "DIALOGUE", req.requestId)
            if self._shortcut is not None and self._send_here(conn, req):
                return None
            return lpb.Call(send_msg=lpb.SendMsg(session_id=req.sessionId, content=req.content))
        if t is Typing:
            assert isinstance(req, Typing)
            return lpb.Call(typing=lpb.Typing(session_id=req.sessionId))
        if t is ViewedAck:
            assert isinstance(req, ViewedAck)
            return lpb.Call(viewed_ack=lpb.ViewedAck(session_id=req.sessionId, msg_id=req.msgId))
        if t is Match:
            assert isinstance(req, Match)
            if req.accountId != acct:
                return self._forbidden(conn, "MATCH", req.requestId)
            return lpb.Call(match=lpb.Match())
        if t is Leave:
            assert isinstance(req, Leave)
            return lpb.Call(leave=lpb.Leave(session_id=req.sessionId))
        if t is Logout:
            assert isinstance(req, Logout)
            if req.accountId != acct:
                return self._forbidden(conn, "LOGOUT", req.requestId)
            return lpb.Call(logout=lpb.Logout())
        if t is History:
            assert isinstance(req, History)
            return lpb.Call(
                history=lpb.History(
                    session_id=req.sessionId, after_msg_id=req.afterMsgId, limit=req.limit
                )
            )
        raise AssertionError(f"unhandled request {t.__name__}")

    def _send_here(self, conn: Connection, req: Dialogue) -> bool:
        """DIALOGUE straight to the logic service of this process; False when it
        must take the call path (a session that service has not cached)."""
        assert self._shortcut is not None
        request_id = req.requestId

        def done(result: StoredMessage | BaseException) -> None:
            if isinstance(result, BaseException):
                self._error(conn, "DIALOGUE", request_id, Code.INTERNAL_ERR, STORE_FAILED)
            elif result.closed:
                self._error(conn, "DIALOGUE", request_id, Code.SESSION_CLOSED, SESSION_ENDED)
            else:
                self._reply(
                    conn,
                    encode_response(
                        "DIALOGUE",
                        request_id,
                        {"sessionId": result.session_id, "msgId": result.msg_id},
                    ),
                    "DIALOGUE",
                    Code.OK,
                )

        try:
            assert conn.route is not None
            self._shortcut.send(
                conn.account_id, conn.route, req.sessionId, req.content, request_id, done
            )
        except ProtocolError as exc:
            self._error(conn, "DIALOGUE", request_id, exc.code, exc.msg)
        except NotCached:
            return False
        return True

    def _forbidden(self, conn: Connection, cmd: str, request_id: str | None) -> lpb.Call | None:
        """Answer code 6; returns None, the call _to_call does not make."""
        self._error(
            conn,
            cmd,
            request_id,
            Code.FORBIDDEN,
            "accountId/senderId is not the account of this connection",
        )
        return None

    def _bind(self, conn: Connection, cmd: str, req: CreateAccount | Reconnect) -> None:
        if conn.binding:
            self._error(
                conn,
                cmd,
                req.requestId,
                Code.PARAM_ERR,
                "an account is already being bound to this connection",
            )
            return
        if conn.account_id and not (
            isinstance(req, Reconnect) and req.accountId == conn.account_id
        ):
            self._error(
                conn,
                cmd,
                req.requestId,
                Code.FORBIDDEN,
                "this connection is bound to another account",
            )
            return
        if isinstance(req, CreateAccount):
            call = lpb.Call(create_account=lpb.CreateAccount(nick_name=req.nickName))
        else:
            call = lpb.Call(reconnect=lpb.Reconnect(account_id=req.accountId, token=req.token))
        conn.binding = True
        self._forward(conn, cmd, req.requestId, call)

    def _forward(self, conn: Connection, cmd: str, request_id: str | None, call: lpb.Call) -> None:
        self._next_call += 1
        call.call_id = self._next_call
        call.account_id = conn.account_id
        call.conn_id = conn.conn_id
        if request_id is not None:
            call.request_id = request_id
        pending = _Pending(conn, cmd, request_id)
        if not self._call_logic(call):
            if cmd in ("CRT_ACCOUNT", "RECONNECT"):
                conn.binding = False
            self._answer_error(pending, Code.INTERNAL_ERR, "server unavailable, retry")
            return
        self._pending[self._next_call] = pending

    # --- replies from logic ---
    def on_reply(self, reply: lpb.Reply) -> None:
        if reply.call_id == 0:  # a failed acknowledgement
            conn = self.conns.get(reply.conn_id)
            if conn is not None:
                self._error(conn, reply.cmd, reply.request_id or None, reply.code, reply.msg)
            return
        p = self._pending.pop(reply.call_id, None)
        if p is None:
            return
        if reply.code:
            if p.cmd in ("CRT_ACCOUNT", "RECONNECT"):
                p.conn.binding = False
                p.conn.release_held()
            self._answer_error(p, reply.code, reply.msg)
            return
        conn = p.conn
        body = reply.WhichOneof("body")
        fields: dict[str, Any] | None = None
        if body == "stored":
            fields = {"sessionId": reply.stored.session_id, "msgId": reply.stored.msg_id}
        elif body == "bound":
            b = reply.bound
            if p.cmd == "CRT_ACCOUNT":
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
            conn.binding = False
            if conn.closed:
                # The client left before it learnt its account: tell logic now.
                self._call_logic(
                    lpb.Call(
                        account_id=b.account_id, conn_id=conn.conn_id, closed=lpb.ConnectionClosed()
                    )
                )
                return
            conn.account_id = b.account_id
            event(log, "bound", account=b.account_id, conn=conn.conn_id, cmd=p.cmd)
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
        elif p.cmd == "LOGOUT":
            event(log, "logged out", account=conn.account_id, conn=conn.conn_id)
            conn.account_id = 0
        self._reply(conn, encode_response(p.cmd, p.request_id, fields), p.cmd, Code.OK)
        if body == "bound":
            conn.release_held()

    # --- pushes from delivery workers ---
    def deliver(self, items: list[ppb.PushItem]) -> list[int]:
        """Write pushes; return the indexes of items whose connection is gone."""
        missing: list[int] = []
        now_us = time.time() * 1_000_000
        conns = self.conns
        for i, item in enumerate(items):
            conn = conns.get(item.conn_id)
            if (
                conn is None
                or conn.closed
                or (conn.account_id != item.account_id and not conn.binding)
            ):
                missing.append(i)
                continue
            if item.kind == ppb.PUSH_KIND_CLOSE:
                event(log, "connection replaced", account=item.account_id, conn=conn.conn_id)
                conn.account_id = 0  # its close must not report the account offline
                conn.close_soon(4000, "account connected elsewhere")
                continue
            conn.push(item.frame)
            if item.frame.startswith(_DIALOGUE_PREFIX):
                MESSAGES_PUSHED.inc()
                if item.stored_at_us:
                    PUSH_LATENCY.observe(max(0.0, (now_us - item.stored_at_us) / 1e6))
            else:
                SIGNALS_PUSHED.inc()
        return missing

    # --- answering ---
    def _answer_error(self, p: _Pending, code: int, msg: str) -> None:
        self._reply(p.conn, encode_error(p.cmd, p.request_id, code, msg), p.cmd, code)

    def _error(
        self, conn: Connection, cmd: str, request_id: str | None, code: int, msg: str
    ) -> None:
        self._reply(conn, encode_error(cmd, request_id, code, msg), cmd, code)

    def _reply(self, conn: Connection, frame: bytes, cmd: str, code: int) -> None:
        counter = self._counters.get((cmd, code))
        if counter is None:
            counter = self._counters[(cmd, code)] = REQUESTS.labels(cmd, str(int(code)))
        counter.inc()
        conn.send(frame)
