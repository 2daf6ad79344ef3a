"""The writing side of one client WebSocket: carries out what its core decided.

Frames to a client are gathered during one turn of the event loop and written
together at its end, as complete WebSocket frames (server frames are never
masked and there is no compression): a response and a push that meet in one
turn cost one write and one syscall. A client that does not read fills its
transport buffer; past `send_limit` bytes (with the live pushes waiting behind
a replay) it is disconnected instead of growing the broker's memory.

Replays are paced by the transport's flow control: their frames are written
while the transport buffer is below `pace_high` bytes, and the rest when it
drains below a quarter of that (`resume_writing`).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

from picows import WSTransport

from pairchat.broker.core import ConnectionCore
from pairchat.obs import SLOW_CLIENTS

_TEXT = 0x81  # FIN + text opcode
PACE_HIGH = 256 << 10  # bytes in the transport buffer up to which paced frames are written


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((_TEXT, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", _TEXT, 126, n) + payload
    return struct.pack("!BBQ", _TEXT, 127, n) + payload


class Outgoing:
    """The connections with frames waiting for the end of this loop turn."""

    __slots__ = ("dirty", "loop", "scheduled")

    def __init__(self) -> None:
        self.dirty: list[Connection] = []
        self.scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def mark(self, conn: Connection) -> None:
        self.dirty.append(conn)
        if not self.scheduled:
            self.scheduled = True
            if self.loop is None:
                self.loop = asyncio.get_running_loop()
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        for conn in dirty:
            conn.flush()


class Connection:
    """A client's core and the transport its frames go to."""

    __slots__ = (
        "core",
        "ip",
        "outgoing",
        "pace_high",
        "queued",
        "raw",
        "send_calls",
        "send_limit",
        "ws",
    )

    def __init__(
        self,
        core: ConnectionCore,
        ws: WSTransport,
        ip: str,
        send_limit: int,
        outgoing: Outgoing,
        send_calls: Callable[[Connection], None],
    ) -> None:
        """Args:
        send_calls: hands the core's calls to logic (the hub's), for the
            ReplayMore calls that writing paced frames makes.
        """
        self.core = core
        self.ws = ws
        self.raw = ws.underlying_transport
        self.ip = ip
        self.send_limit = send_limit
        self.outgoing = outgoing
        self.send_calls = send_calls
        self.queued = False  # in `outgoing` for the end of this turn
        self.pace_high = min(PACE_HIGH, send_limit // 2)
        self.raw.set_write_buffer_limits(high=self.pace_high, low=self.pace_high // 4)

    @property
    def conn_id(self) -> int:
        return self.core.conn_id

    def emit(self) -> None:
        """Carry out the core's frames and close request (its calls are the hub's)."""
        core = self.core
        if (core.frames or core.paced) and not self.queued:
            self.queued = True
            self.outgoing.mark(self)
        if core.close_request is not None:
            self._close()

    def flush(self) -> None:
        """Write the core's frames of this turn in one write, then paced ones
        while the transport has room for them."""
        self.queued = False
        core = self.core
        if not core.frames and not core.paced:
            return
        raw = self.raw
        if raw.is_closing():
            core.drop_frames()
            return
        if core.frames:
            frames = core.take_frames()
            if len(frames) == 1:
                raw.write(text_frame(frames[0]))
            else:
                raw.write(b"".join(map(text_frame, frames)))
        while core.paced:
            room = self.pace_high - raw.get_write_buffer_size()
            if room < 0:
                break  # resume_writing goes on once the client read some
            raw.write(b"".join(map(text_frame, core.take_paced(room))))
        if core.calls:
            self.send_calls(self)
        if raw.get_write_buffer_size() + core.paced_live > self.send_limit:
            SLOW_CLIENTS.inc()
            self.drop()

    def drop(self) -> None:
        """Give up on the client (it does not read, or no longer answers):
        nothing more is written, and no close handshake is waited for."""
        self.core.abort()
        self.ws.disconnect(graceful=False)

    def _close(self) -> None:
        """Send the close frame the core asked for once what was queued before
        it is written, then close the connection."""
        request = self.core.take_close()
        if request is None:
            return
        self.flush()
        code, reason = request
        # picows takes any code in the range of a close frame, not only its enum's
        self.ws.send_close(code, reason.encode())  # type: ignore[arg-type]
        self.ws.disconnect()
