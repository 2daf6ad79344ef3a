"""One client WebSocket connection as the hub sees it.

Frames to a client are gathered during one turn of the event loop and written
together at its end, as complete WebSocket frames (server frames are never
masked and there is no compression): a response and a push that meet in one
turn cost one write and one syscall. A client that does not read fills its
transport buffer; past `send_limit` bytes it is disconnected instead of
growing the broker's memory.
"""

from __future__ import annotations

import asyncio
import struct
import time

from picows import WSTransport

from pairchat.obs import SLOW_CLIENTS
from pairchat.storage.base import Route

_TEXT = 0x81  # FIN + text opcode


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


class TokenBucket:
    """Requests per second with a burst allowance."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Connection:
    __slots__ = (
        "account_id",
        "binding",
        "bucket",
        "closed",
        "conn_id",
        "held",
        "ip",
        "out",
        "outgoing",
        "raw",
        "route",
        "send_limit",
        "ws",
    )

    def __init__(
        self,
        conn_id: int,
        ws: WSTransport,
        ip: str,
        bucket: TokenBucket,
        send_limit: int,
        outgoing: Outgoing,
    ) -> None:
        self.conn_id = conn_id
        self.outgoing = outgoing
        self.out: list[bytes] = []  # frames of this turn
        self.ws = ws
        self.raw = ws.underlying_transport
        self.ip = ip
        self.bucket = bucket
        self.send_limit = send_limit
        self.account_id = 0  # the bound account, 0 before CRT_ACCOUNT / RECONNECT
        self.binding = False  # a CRT_ACCOUNT or RECONNECT is in flight
        self.held: list[bytes] = []  # pushes that arrived before the bind response
        self.closed = False
        self.route: Route | None = None  # (broker, conn_id), for logic in this process

    def send(self, payload: bytes) -> None:
        if self.closed:
            return
        out = self.out
        if not out:
            self.outgoing.mark(self)
        out.append(text_frame(payload))

    def flush(self) -> None:
        out = self.out
        if not out:
            return
        self.out = []
        raw = self.raw
        if self.closed or raw.is_closing():
            return
        raw.write(out[0] if len(out) == 1 else b"".join(out))
        if raw.get_write_buffer_size() > self.send_limit:
            SLOW_CLIENTS.inc()
            self.abort()

    def push(self, payload: bytes) -> None:
        """A server push: held back while the bind response is still on its way, so
        a client always learns its account before it gets the account's pushes."""
        if self.binding:
            self.held.append(payload)
        else:
            self.send(payload)

    def release_held(self) -> None:
        held, self.held = self.held, []
        for payload in held:
            self.send(payload)

    def abort(self) -> None:
        self.closed = True
        self.ws.disconnect(graceful=False)

    def close_soon(self, code: int, reason: str) -> None:
        """Send a close frame with `code`, then close the connection once what
        was queued before it is written."""
        if self.closed:
            return
        self.flush()  # what was sent before the close goes first
        self.closed = True
        # picows takes any code in the range of a close frame, not only its enum's
        self.ws.send_close(code, reason.encode())  # type: ignore[arg-type]
        self.ws.disconnect()
