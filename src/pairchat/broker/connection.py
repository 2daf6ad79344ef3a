"""One client WebSocket connection as the hub sees it.

Frames to the client are written straight to the transport as complete
WebSocket frames (server frames are never masked and compression is off), so a
push costs one synchronous write and no task. A client that does not read
fills its transport buffer; past `send_limit` bytes it is disconnected instead
of growing the broker's memory.
"""

from __future__ import annotations

import asyncio
import struct
import time

from aiohttp import web

from pairchat.obs import SLOW_CLIENTS
from pairchat.tasks import spawn

_TEXT = 0x81  # FIN + text opcode


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((_TEXT, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", _TEXT, 126, n) + payload
    return struct.pack("!BBQ", _TEXT, 127, n) + payload


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
        "account_id", "binding", "bucket", "closed", "conn_id", "held", "ip",
        "send_limit", "transport", "ws",
    )

    def __init__(
        self, conn_id: int, ws: web.WebSocketResponse, transport: asyncio.Transport,
        ip: str, bucket: TokenBucket, send_limit: int,
    ) -> None:
        self.conn_id = conn_id
        self.ws = ws
        self.transport = transport
        self.ip = ip
        self.bucket = bucket
        self.send_limit = send_limit
        self.account_id = 0        # the bound account, 0 before CRT_ACCOUNT / RECONNECT
        self.binding = False       # a CRT_ACCOUNT or RECONNECT is in flight
        self.held: list[bytes] = []  # pushes that arrived before the bind response
        self.closed = False

    def send(self, payload: bytes) -> None:
        if self.closed or self.transport.is_closing():
            return
        self.transport.write(text_frame(payload))
        if self.transport.get_write_buffer_size() > self.send_limit:
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
        self.transport.abort()

    def close_soon(self, code: int, reason: str) -> None:
        self.closed = True
        spawn(self.ws.close(code=code, message=reason.encode()))
