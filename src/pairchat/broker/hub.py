"""The broker's connection hub: the glue between the cores of its client
connections (`core.py`, which decide) and logic.

It keeps the connections by id and, for every call out to logic, the
connection that waits for its reply; it feeds each core its inputs (frames,
replies, pushes, logic lost) and carries out what the core asks for: calls go
to `call_logic`, frames and closes to the connection's writer. The two calls
of every message (DIALOGUE and its acknowledgement) go to a logic service in
this process as plain calls when there is one (`messages`), and as Exchange
calls like the rest otherwise.

Connections of a dialect whose server pings (`Codec.ping_interval`) get one
timer for all of them, every ping interval (or half of `--heartbeat` if that
is shorter); one silent for 1.5 x `--heartbeat` (the ping and the pong wait of
`/ws`) is dropped, without a close handshake.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from picows import WSTransport

from pairchat.api.links import AckMessage, MessagePath, SendMessage
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.api.v1 import push_pb2 as ppb
from pairchat.broker.codec import MESSAGE_PUSH_PREFIX, Codec
from pairchat.broker.config import BrokerConfig
from pairchat.broker.connection import Connection, Outgoing
from pairchat.broker.core import ConnectionCore, TokenBucket
from pairchat.obs import (
    CONNECTIONS,
    MESSAGES_PUSHED,
    PUSH_LATENCY,
    REQUESTS,
    SIGNALS_PUSHED,
    event,
)

log = logging.getLogger("pairchat.broker")

# items that carry no push to count: a close, the marks of a replay in pages
_NOT_PUSHES = frozenset((ppb.PUSH_KIND_CLOSE, ppb.PUSH_KIND_REPLAY_MORE, ppb.PUSH_KIND_REPLAY_END))


class Hub:
    def __init__(
        self,
        config: BrokerConfig,
        call_logic: Callable[[lpb.Call], bool],
        messages: MessagePath | None = None,
        broker_id: str = "",
    ) -> None:
        """Args:
        config: the limits the broker enforces on clients.
        call_logic: hands a call to logic; False when logic is out of reach.
        messages: a logic service in this process, for the two calls of
            every message; None: they go to `call_logic` as well.
        broker_id: this broker's id, which `messages` routes answers by.
        """
        self.config = config
        self.conns: dict[int, Connection] = {}
        self._call_logic = call_logic
        self._messages = messages
        self._broker_id = broker_id
        self._calls: dict[int, Connection] = {}  # call id -> the connection awaiting its reply
        self._next_call_id = itertools.count(1).__next__
        self._next_conn_id = itertools.count(1).__next__
        self._outgoing = Outgoing()
        self._counters: dict[tuple[str, int], Any] = {}  # (cmd, code) -> labelled counter
        self._pinged: dict[int, Connection] = {}  # connections of dialects whose server pings
        self._beat: asyncio.TimerHandle | None = None

    # --- connections ---
    def connect(self, ws: WSTransport, ip: str, codec: Codec) -> Connection:
        """A client's WebSocket opened, speaking the dialect of `codec`."""
        cfg = self.config
        core = ConnectionCore(
            self._next_conn_id(),
            codec,
            TokenBucket(cfg.rate_limit, cfg.rate_burst, time.monotonic),
            cfg.max_frame_bytes,
            self._next_call_id,
            self._count,
            ip,
        )
        conn = Connection(core, ws, ip, cfg.send_buffer, self._outgoing, self._send_calls)
        self.conns[core.conn_id] = conn
        CONNECTIONS.inc()
        if codec.ping_interval and cfg.heartbeat > 0:
            self._pinged[core.conn_id] = conn
            if self._beat is None:
                every = min(codec.ping_interval, cfg.heartbeat / 2)
                self._beat = asyncio.get_running_loop().call_later(every, self._heartbeat, every)
        return conn

    def disconnect(self, conn: Connection) -> None:
        """The WebSocket closed (without LOGOUT, or after it)."""
        if self.conns.pop(conn.core.conn_id, None) is None:
            return
        CONNECTIONS.dec()
        self._pinged.pop(conn.core.conn_id, None)
        conn.core.socket_closed()
        self._send_calls(conn)

    def close_all(self, code: int, reason: str) -> None:
        for conn in list(self.conns.values()):
            conn.core.close(code, reason)
            conn.emit()

    def _heartbeat(self, every: float) -> None:
        """Ping the connections of dialects whose server pings, and drop the
        ones whose client stopped answering (its socket closes: logic starts
        the account's grace period)."""
        limit = 1.5 * self.config.heartbeat
        for conn in list(self._pinged.values()):
            if conn.core.heartbeat(limit):
                conn.emit()
            else:
                event(
                    log,
                    "heartbeat timeout",
                    logging.DEBUG,
                    conn=conn.conn_id,
                    account=conn.core.account_id,
                )
                conn.drop()
        if not self._pinged:
            self._beat = None  # the next such connection starts it again
            return
        self._beat = asyncio.get_running_loop().call_later(every, self._heartbeat, every)

    # --- frames from clients ---
    def on_text(self, conn: Connection, text: str) -> None:
        core = conn.core
        core.receive_text(text)
        if core.calls:
            self._send_calls(conn)
        conn.emit()

    def refuse(self, conn: Connection, code: int, msg: str) -> None:
        """Answer a frame the core cannot read (see `ConnectionCore.refuse`)."""
        conn.core.refuse(code, msg)
        conn.emit()

    # --- logic ---
    def on_reply(self, reply: lpb.Reply) -> None:
        call_id = reply.call_id
        # a failed acknowledgement has no call id: it names its connection
        conn = self._calls.pop(call_id, None) if call_id else self.conns.get(reply.conn_id)
        if conn is None:
            return
        core = conn.core
        core.receive_reply(reply)
        if core.calls:
            self._send_calls(conn)
        conn.emit()

    def logic_lost(self) -> None:
        """The logic stream broke: fail what is in flight and close every client,
        who will RECONNECT (within the grace period nothing is lost)."""
        waiting, self._calls = self._calls, {}
        # closed connections with calls in flight too: their answers are counted
        for conn in {**dict.fromkeys(waiting.values()), **dict.fromkeys(self.conns.values())}:
            conn.core.logic_lost()
            conn.emit()

    def _send_calls(self, conn: Connection) -> None:
        core = conn.core
        waiting = self._calls
        messages = self._messages
        for call in core.take_calls():
            if isinstance(call, SendMessage):
                waiting[call.call_id] = conn
                if messages is not None:
                    messages.send(self._broker_id, call, self._stored)
                elif not self._call_logic(send_msg_call(call)):
                    del waiting[call.call_id]
                    core.call_failed(call)
            elif isinstance(call, AckMessage):
                if messages is not None:
                    messages.ack(self._broker_id, call, self._ack_refused)
                elif not self._call_logic(ack_call(call)):
                    core.call_failed(call)
            else:
                call_id = call.call_id
                if call_id:
                    waiting[call_id] = conn
                if not self._call_logic(call):
                    if call_id:
                        del waiting[call_id]
                    core.call_failed(call)

    def _stored(self, call_id: int, code: int, msg: str, session_id: int, msg_id: int) -> None:
        conn = self._calls.pop(call_id, None)
        if conn is not None:
            conn.core.receive_stored(call_id, code, msg, session_id, msg_id)
            conn.emit()

    def _ack_refused(self, conn_id: int, request_id: str | None, code: int, msg: str) -> None:
        conn = self.conns.get(conn_id)
        if conn is not None:
            conn.core.ack_refused(request_id, code, msg)
            conn.emit()

    # --- pushes from delivery workers ---
    def deliver(self, items: list[ppb.PushItem]) -> list[int]:
        """Write pushes; return the indexes of items whose connection is gone."""
        missing: list[int] = []
        now_us = time.time() * 1_000_000
        conns = self.conns
        for i, item in enumerate(items):
            conn = conns.get(item.conn_id)
            if conn is None or not conn.core.push(item):
                missing.append(i)
                continue
            if conn.core.calls:  # acknowledged for a client that never does
                self._send_calls(conn)
            conn.emit()
            if item.kind in _NOT_PUSHES:
                continue
            if item.frame.startswith(MESSAGE_PUSH_PREFIX):
                MESSAGES_PUSHED.inc()
                if item.stored_at_us:
                    PUSH_LATENCY.observe(max(0.0, (now_us - item.stored_at_us) / 1e6))
            else:
                SIGNALS_PUSHED.inc()
        return missing

    # --- metrics ---
    def _count(self, cmd: str, code: int) -> None:
        counter = self._counters.get((cmd, code))
        if counter is None:
            counter = self._counters[(cmd, code)] = REQUESTS.labels(cmd, str(int(code)))
        counter.inc()


# --- the two calls of every message as Exchange calls ---
def send_msg_call(call: SendMessage) -> lpb.Call:
    out = lpb.Call(
        call_id=call.call_id,
        account_id=call.account_id,
        conn_id=call.conn_id,
        send_msg=lpb.SendMsg(session_id=call.session_id, content=call.content),
    )
    if call.request_id is not None:
        out.request_id = call.request_id
    return out


def ack_call(call: AckMessage) -> lpb.Call:
    out = lpb.Call(
        account_id=call.account_id,
        conn_id=call.conn_id,
        ack=lpb.Ack(session_id=call.session_id, msg_id=call.msg_id),
    )
    if call.request_id is not None:
        out.request_id = call.request_id
    return out
