"""One simulated user: a picows WebSocket listener that sets itself up (account,
session) and then sends DIALOGUEs, acknowledges pushes and counts.

Everything per message runs in `on_ws_frame` without a task or an await: a
response frees a window slot and the next DIALOGUE goes out in the same
callback, so the generator spends its CPU on frames, not on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections import Counter
from typing import Any

from picows import WSFrame, WSListener, WSMsgType, WSTransport

from pairchat.bench import wire
from pairchat.bench.wire import Frame

TEXT = WSMsgType.TEXT
now_ns = time.monotonic_ns


class Run:
    """The shared clock marks and counters of all users of one process.

    The send phase runs from `send_from` to `send_until`; only what happens in
    [measure_from, send_until) is counted as sent, acknowledged or delivered.
    Before `go()` every mark lies in the far future, so nothing is sent or
    counted during setup.
    """

    FAR = 1 << 62

    def __init__(self, window: int, padding: bytes) -> None:
        self.window = window  # 0: open loop (a ticker sends)
        self.padding = padding
        self.send_from = self.measure_from = self.send_until = self.FAR
        self.sent = self.acked = self.delivered = 0
        # Everything since the send phase began, for the live msgs/s.
        self.sent_all = self.delivered_all = 0
        self.latencies_ns: array[int] = array("q")
        self.errors: Counter[str] = Counter()
        self.in_flight = 0
        # Set when sending has ended and every DIALOGUE sent has been answered.
        self.idle = asyncio.Event()

    def go(self, send_from: int, warmup_ns: int, duration_ns: int) -> None:
        self.send_from = send_from
        self.measure_from = send_from + warmup_ns
        self.send_until = self.measure_from + duration_ns

    def sending(self, now: int) -> bool:
        return self.send_from <= now < self.send_until

    def answered(self, count: int, now: int) -> None:
        """`count` DIALOGUEs were answered, or will never be (a closed connection)."""
        self.in_flight -= count
        if self.in_flight <= 0 and now >= self.send_until:
            self.idle.set()


class User(WSListener):
    """A pairchat user speaking the wire protocol (docs/protocol.md); `SocketIOUser` wraps the same
    frames in Socket.IO."""

    def __init__(self, run: Run, index: int) -> None:
        super().__init__()
        self.run = run
        self.index = index
        self.transport: WSTransport | None = None
        self.account_id = 0
        self.session_id = 0
        self.in_flight = 0
        self.seq = 0
        self.closed = False
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._session = asyncio.get_running_loop().create_future()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # --- picows callbacks -------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if not self.ready.done():
            self.ready.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is TEXT:
            self.handle(wire.decode_frame(frame.get_payload_as_memoryview()), now_ns())
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closed:
            self.closed = True
            self.run.errors["disconnected by the server"] += 1
        self.run.answered(self.in_flight, now_ns())
        self.in_flight = 0
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("disconnected"))
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("disconnected before ready"))

    # --- frames out -------------------------------------------------------
    def send_request(self, cmd: str, request_id: str, fields: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.send(TEXT, wire.pc_request(cmd, request_id, fields))

    def send_dialogue(self, now: int) -> None:
        assert self.transport is not None
        run = self.run
        self.seq += 1
        self.in_flight += 1
        run.in_flight += 1
        self.transport.send(TEXT, self.dialogue_frame(now))
        run.sent_all += 1
        if run.measure_from <= now < run.send_until:
            run.sent += 1

    def dialogue_frame(self, now: int) -> bytes:
        return wire.PC_DIALOGUE % (
            self.seq,
            self.account_id,
            self.session_id,
            now,
            self.run.padding,
        )

    def ack_dialogue(self, frame: Frame) -> None:
        assert self.transport is not None
        self.transport.send(TEXT, wire.PC_ACK_DIALOGUE % (frame.session_id, frame.msg_id))

    def ack_signal(self, frame: Frame) -> None:
        assert self.transport is not None
        self.transport.send(
            TEXT, wire.PC_ACK_SIGNAL % (frame.session_id, frame.signal_type.encode())
        )

    # --- frames in --------------------------------------------------------
    def handle(self, frame: Frame, now: int) -> None:
        run = self.run
        cmd = frame.cmd
        if cmd == "PUSH_DIALOGUE":
            self.ack_dialogue(frame)
            if run.send_from <= now:
                run.delivered_all += 1
                if run.measure_from <= now < run.send_until:
                    run.delivered += 1
                    run.latencies_ns.append(now - wire.stamp_of(frame.content))
        elif cmd == "DIALOGUE" and frame.request_id[:1] == "d":
            self.in_flight -= 1
            run.answered(1, now)
            if frame.code == 0:
                if run.measure_from <= now < run.send_until:
                    run.acked += 1
            else:
                run.errors[f"DIALOGUE {frame.code}"] += 1
            if run.window and now < run.send_until:
                self.send_dialogue(now)
        elif cmd == "PUSH_SIGNAL":
            self.ack_signal(frame)
            if frame.signal_type == "NewSession" and not self._session.done():
                self._session.set_result(frame.session_id)
            elif frame.signal_type == "PartnerExit" and run.sending(now):
                run.errors["PartnerExit while sending"] += 1
        else:
            fut = self._pending.pop(frame.request_id, None)
            if fut is not None and not fut.done():
                fut.set_result(frame)
            elif frame.code > 0 and frame.request_id[:1] != "r":
                # (A late answer to a setup request given up on is no error.)
                run.errors[f"{cmd} {frame.code}"] += 1

    # --- setup ------------------------------------------------------------
    def _start_request(self, cmd: str, fields: dict[str, Any]) -> asyncio.Future[Frame]:
        self.seq += 1
        request_id = f"r{self.seq}"
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        fut.add_done_callback(lambda _: self._pending.pop(request_id, None))
        self.send_request(cmd, request_id, fields)
        return fut

    async def request(self, cmd: str, fields: dict[str, Any], deadline: float) -> Frame:
        """Sends a setup request and waits for its response until `deadline`
        (of time.monotonic)."""
        fut = self._start_request(cmd, fields)
        return await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic()))

    async def create_account(self, deadline: float) -> None:
        reply = await self.request("CRT_ACCOUNT", {"nickName": f"bench{self.index}"}, deadline)
        if reply.code != 0:
            raise SetupError(f"CRT_ACCOUNT {reply.code}")
        self.account_id = reply.account_id

    async def match(self, deadline: float) -> None:
        """MATCH until this user is in a session. All users MATCH at once, so a
        user may be picked by another while its own MATCH is in flight: the
        NewSession push then names the session, and whatever its own MATCH
        answers later (code 8, or 4 after the match wait) no longer matters."""
        session = self._session
        while not session.done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise SetupError("MATCH timed out")
            reply = self._start_request("MATCH", {"accountId": self.account_id})
            await asyncio.wait([reply, session], timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if session.done() or not reply.done():
                reply.cancel()
                continue
            frame = reply.result()
            if frame.code == 0:
                session.set_result(frame.session_id)
            elif frame.code in (4, 8):
                # Nobody free yet, or picked by someone: the push may follow.
                await asyncio.wait([session], timeout=min(1.0, left))
            else:
                raise SetupError(f"MATCH {frame.code}")
        self.session_id = session.result()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.send_close()
            self.transport.disconnect()


class SocketIOUser(User):
    """The same user behind Socket.IO framing (see `wire`)."""

    def __init__(self, run: Run, index: int) -> None:
        super().__init__(run, index)
        self.ack_id = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        # Ready only once the server confirms the namespace (see on_ws_frame).
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is TEXT:
            payload = frame.get_payload_as_memoryview()
            parsed = wire.sio_frame(payload)
            if isinstance(parsed, Frame):
                self.handle(parsed, now_ns())
            elif parsed is not None:
                transport.send(TEXT, parsed)
            elif wire.sio_connected(payload) and not self.ready.done():
                self.ready.set_result(None)
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def send_request(self, cmd: str, request_id: str, fields: dict[str, Any]) -> None:
        assert self.transport is not None
        self.ack_id += 1
        self.transport.send(TEXT, wire.sio_request(self.ack_id, cmd, request_id, fields))

    def dialogue_frame(self, now: int) -> bytes:
        self.ack_id += 1
        return wire.SIO_DIALOGUE % (
            self.ack_id,
            self.seq,
            self.account_id,
            self.session_id,
            now,
            self.run.padding,
        )

    def ack_dialogue(self, frame: Frame) -> None:
        assert self.transport is not None
        self.transport.send(TEXT, wire.SIO_ACK_DIALOGUE % (frame.session_id, frame.msg_id))

    def ack_signal(self, frame: Frame) -> None:
        assert self.transport is not None
        self.transport.send(
            TEXT, wire.SIO_ACK_SIGNAL % (frame.session_id, frame.signal_type.encode())
        )


class SetupError(Exception):
    """A user could not be connected, given an account or matched."""
