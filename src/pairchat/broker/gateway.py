"""The broker's HTTP face, on picows: the WebSocket at /ws, /healthz, /metrics
and the web client's static files at /. Checks what HTTP can: Origin,
connections per address. Each WebSocket path speaks one dialect (a `Codec`).

picows parses the upgrade request and hands each frame to a callback with no
task and no await in between, which is the cheapest way to carry frames in
Python (see docs/benchmarks.md). It serves plain GETs too, one response per
connection (`Connection: close`): enough for health checks, metrics and the
few files of the web client, which are read into memory at start.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from pairchat.broker.codec import Codec, JsonCodec
from pairchat.broker.config import BrokerConfig
from pairchat.broker.connection import Connection
from pairchat.broker.hub import Hub
from pairchat.obs import event, health, metrics
from pairchat.protocol import Code

log = logging.getLogger("pairchat.broker")
# picows logs every TCP connection with its peer address at info level: only its
# warnings and errors are kept (the gateway logs connections as events itself).
PICOWS_LOG = logging.getLogger("pairchat.broker.picows")
PICOWS_LOG.setLevel(logging.WARNING)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
HARD_FRAME_LIMIT = 1 << 20  # a frame or message past this closes the connection (1009)
HANDSHAKE_TIMEOUT = 10.0  # seconds a new TCP connection has to send its request

_TEXT, _BINARY, _CONT, _CLOSE = (
    WSMsgType.TEXT,
    WSMsgType.BINARY,
    WSMsgType.CONTINUATION,
    WSMsgType.CLOSE,
)
_NOT_TEXT = "binary frames are not supported: send JSON text"
_NOT_UTF8 = "the frame is not valid UTF-8"
_NO_CLIENT = (
    b"pairchat broker: the web client is not built (run `make install`); "
    b"WebSocket clients connect to /ws.\n"
)


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    headers: dict[str, str]


def _load_static(root: Path) -> dict[str, _File]:
    """Every file of the built web client by URL path; `/` is index.html. Only
    these paths are ever served, so no request can reach another file."""
    files: dict[str, _File] = {}
    if not (root / "index.html").is_file():
        return files
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        url = "/" + path.relative_to(root).as_posix()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        # Vite names assets by their content's hash: they never change.
        cache = "public, max-age=31536000, immutable" if url.startswith("/assets/") else "no-cache"
        files[url] = _File(path.read_bytes(), {"Content-Type": kind, "Cache-Control": cache})
    files["/"] = files["/index.html"]
    return files


def _response(
    status: int,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> WSUpgradeResponseWithListener:
    extra = {"Content-Type": content_type, **(headers or {})}
    if status == 200:
        response = WSUpgradeResponse.create_ok_response(body, extra)
    else:
        response = WSUpgradeResponse.create_error_response(status, body, extra)
    return WSUpgradeResponseWithListener(response, None)


class Gateway:
    def __init__(self, hub: Hub, config: BrokerConfig, healthy: Callable[[], bool]) -> None:
        self.hub = hub
        self.config = config
        self.healthy = healthy
        self._per_ip: Counter[str] = Counter()
        self._static = _load_static(STATIC_DIR)
        # a frame, or a message of fragments, past this closes the connection (1009)
        self.max_message = max(HARD_FRAME_LIMIT, config.max_frame_bytes * 2)
        json_codec = JsonCodec(config.max_content)
        # The dialect of each WebSocket path: a codec for each new connection.
        self._dialects: dict[str, Callable[[], Codec]] = {"/ws": lambda: json_codec}

    async def start(self, host: str, port: int) -> asyncio.Server:
        heartbeat = self.config.heartbeat
        return await ws_create_server(
            self.route,
            host,
            port,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
            logger_name=PICOWS_LOG,
            # A client silent for `heartbeat` seconds is pinged; one that does not
            # answer within half of that more is dropped.
            enable_auto_ping=heartbeat > 0,
            auto_ping_idle_timeout=heartbeat or 1.0,
            auto_ping_reply_timeout=(heartbeat or 2.0) / 2,
            auto_ping_strategy=WSAutoPingStrategy.PING_WHEN_IDLE,
            max_frame_size=self.max_message,
            read_buffer_init_size=1024,
            backlog=4096,
        )

    # --- HTTP ---
    def route(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener:
        """Pick what answers a GET: the WebSocket, an ops endpoint or a file."""
        path = unquote(urlsplit(request.path.decode("latin-1")).path)
        dialect = self._dialects.get(path)
        if dialect is not None:
            if not self._origin_ok(request):
                event(log, "origin refused", logging.WARNING, origin=request.headers.get("Origin"))
                return _response(403, b"origin not allowed\n")
            return _Client(self, dialect())
        if path == "/healthz":
            return _response(*health(self.healthy), "application/json; charset=utf-8")
        if path == "/metrics":
            return _response(200, *metrics())
        if not self._static:
            if path == "/":
                return _response(200, _NO_CLIENT)
            return _response(404, b"not found\n")
        found = self._static.get(path)
        if found is None:
            return _response(404, b"not found\n")
        return _response(200, found.body, found.headers["Content-Type"], found.headers)

    def _origin_ok(self, request: WSUpgradeRequest) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: Origin protects browsers' users only
        if origin in self.config.allowed_origins or "*" in self.config.allowed_origins:
            return True
        host = request.headers.get("Host", "")
        return urlsplit(origin).netloc.lower() == host.lower()

    # --- connections ---
    def connected(self, client: _Client, transport: WSTransport) -> Connection | None:
        peer = transport.underlying_transport.get_extra_info("peername")
        ip = str(peer[0]) if peer else "?"
        if self._per_ip[ip] >= self.config.max_conns_per_ip:
            event(log, "too many connections", logging.WARNING, ip=ip)
            transport.send_close(
                WSCloseCode.TRY_AGAIN_LATER, b"too many connections from this address"
            )
            transport.disconnect()
            return None
        conn = self.hub.connect(transport, ip, client.codec)
        self._per_ip[ip] += 1
        event(log, "connected", conn=conn.conn_id, ip=ip)
        return conn

    def disconnected(self, conn: Connection, close_code: int | None) -> None:
        self.hub.disconnect(conn)
        self._per_ip[conn.ip] -= 1
        if not self._per_ip[conn.ip]:
            del self._per_ip[conn.ip]
        event(log, "disconnected", conn=conn.conn_id, account=conn.core.account_id, code=close_code)

    def text(self, conn: Connection, data: str) -> None:
        try:
            self.hub.on_text(conn, data)
        except Exception as exc:  # a bug must cost one request, not the connection
            event(log, "frame failed", logging.ERROR, conn=conn.conn_id, error=repr(exc))
            self.hub.refuse(conn, Code.INTERNAL_ERR, "internal error")

    def refuse(self, conn: Connection, msg: str) -> None:
        """Answer code 1 to a message that is not text the core can read."""
        self.hub.refuse(conn, Code.PARAM_ERR, msg)


class _Client(WSListener):
    """One WebSocket: frames to the hub, fragments joined into messages."""

    __slots__ = ("close_code", "codec", "conn", "gateway", "parts", "size")

    def __init__(self, gateway: Gateway, codec: Codec) -> None:
        super().__init__()
        self.gateway = gateway
        self.codec = codec  # the dialect of the path it connected to
        self.conn: Connection | None = None
        self.parts: list[bytes] | None = None  # a fragmented message being received
        self.size = 0
        self.close_code: int | None = None  # the client's, if it sent one

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.conn = self.gateway.connected(self, transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        conn = self.conn
        if conn is not None:
            self.conn = None
            self.gateway.disconnected(conn, self.close_code)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        conn = self.conn
        if conn is None:
            return
        kind = frame.msg_type
        if kind is _TEXT and frame.fin:
            try:
                data = frame.get_payload_as_utf8_text()
            except UnicodeDecodeError:
                self.gateway.refuse(conn, _NOT_UTF8)
                return
            self.gateway.text(conn, data)
        elif kind is _CLOSE:
            code = frame.get_close_code()
            self.close_code = int(code.value)
            transport.send_close(code)
            transport.disconnect()
        elif kind is _TEXT or kind is _BINARY or kind is _CONT:
            self._fragment(transport, conn, frame)

    def _fragment(self, transport: WSTransport, conn: Connection, frame: WSFrame) -> None:
        """Binary messages are refused; a text message sent in fragments is
        joined, up to the same hard limit as a single frame."""
        kind = frame.msg_type
        if kind is not _CONT:
            self.parts = [] if kind is _TEXT else None
            self.size = 0
            if kind is _BINARY:
                if frame.fin:
                    self.gateway.refuse(conn, _NOT_TEXT)
                else:
                    self.parts, self.size = [], -1  # skip the rest, answer at its end
                    return
        parts = self.parts
        if parts is None:
            return  # a continuation of nothing: ignored
        if self.size >= 0:
            self.size += frame.payload_size
            if self.size > self.gateway.max_message:
                transport.send_close(WSCloseCode.MESSAGE_TOO_BIG, b"message too big")
                transport.disconnect()
                return
            parts.append(frame.get_payload_as_bytes())
        if not frame.fin:
            return
        self.parts = None
        if self.size < 0:
            self.gateway.refuse(conn, _NOT_TEXT)
            return
        try:
            data = b"".join(parts).decode()
        except UnicodeDecodeError:
            self.gateway.refuse(conn, _NOT_UTF8)
            return
        self.gateway.text(conn, data)
