"""The broker's HTTP face, on picows: the WebSocket at /ws, a plain /healthz
for load balancers and the web client's static files at /; /metrics is on
the operations listener only (`obs.serve_ops`). Checks what HTTP can: Origin,
connections per address. Each WebSocket path speaks one dialect (a `Codec`):
`/ws` pairchat's own, `/vearne/ws` that of vearne/chat's client.

picows parses the upgrade request and hands each frame to a callback with no
task and no await in between, which is the cheapest way to carry frames in
Python (see docs/benchmarks.md). It serves plain GETs too, one response per
connection (`Connection: close`): enough for health checks and the
few files of the web client, which are read into memory at start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any
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

from pairchat.broker.assembly import NOT_UTF8, Assembly, Budget, Close, Message, Start
from pairchat.broker.codec import Codec, JsonCodec
from pairchat.broker.codec_vearne import VearneCodec
from pairchat.broker.config import BrokerConfig
from pairchat.broker.connection import Connection
from pairchat.broker.forwarded import FORWARDED_FOR, TrustedProxies
from pairchat.broker.hub import Hub
from pairchat.broker.log_limit import LogLimiter
from pairchat.obs import event, health
from pairchat.protocol import Code, FrameParser
from pairchat.webclient import STATIC_DIR, load_static, security_headers

log = logging.getLogger("pairchat.broker")
# picows logs every TCP connection with its peer address at info level: only its
# warnings and errors are kept (the gateway logs connections as events itself).
PICOWS_LOG = logging.getLogger("pairchat.broker.picows")
PICOWS_LOG.setLevel(logging.WARNING)
LOG_INTERVAL = 10.0  # seconds between two lines of one key a client can cause

HARD_FRAME_LIMIT = 1 << 20  # a frame or message past this closes the connection (1009)
HANDSHAKE_TIMEOUT = 10.0  # seconds a new TCP connection has to send its request

_TEXT, _BINARY, _CONT, _CLOSE = (
    WSMsgType.TEXT,
    WSMsgType.BINARY,
    WSMsgType.CONTINUATION,
    WSMsgType.CLOSE,
)
_START: dict[WSMsgType, Start] = {_TEXT: "text", _BINARY: "binary", _CONT: None}
_NO_CLIENT = (
    b"pairchat broker: the web client is not built (run `make install`); "
    b"WebSocket clients connect to /ws.\n"
)


class _PicowsLog(logging.LoggerAdapter[logging.Logger]):
    """picows's logger: a frame the client got wrong (too big, bad opcode,
    unmasked) is logged at error by picows; here it is a warning, at most one
    line per LOG_INTERVAL for the process (picows does not say the peer)."""

    def __init__(self, logger: logging.Logger, limiter: LogLimiter) -> None:
        super().__init__(logger, None)
        self.limiter = limiter

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level == logging.ERROR and str(msg).startswith("WS parser error"):
            suppressed = self.limiter.admit("picows parser error")
            if suppressed is None:
                return
            level = logging.WARNING
            if suppressed:
                msg = f"{msg} ({suppressed} suppressed)"
        super().log(level, msg, *args, **kwargs)


def _response(
    status: int,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
    *,
    host: str | None,
) -> WSUpgradeResponseWithListener:
    extra = {"Content-Type": content_type, **(headers or {}), **security_headers(host)}
    if status == 200:
        response = WSUpgradeResponse.create_ok_response(body, extra)
    else:
        response = WSUpgradeResponse.create_error_response(status, body, extra)
    return WSUpgradeResponseWithListener(response, None)


def origin_ok(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a WebSocket upgrade may come from the page at `origin`: its own
    host's page, a listed one, or no browser at all. A request without Host
    names no host, so it matches no Origin, not even an empty one."""
    if origin is None:
        return True  # not a browser: Origin protects browsers' users only
    if not host:
        return False
    if origin in allowed or "*" in allowed:
        return True
    return urlsplit(origin).netloc.lower() == host.lower()


class Gateway:
    def __init__(self, hub: Hub, config: BrokerConfig, healthy: Callable[[], bool]) -> None:
        self.hub = hub
        self.config = config
        self.healthy = healthy
        self._per_ip: Counter[str] = Counter()
        self.proxies = TrustedProxies(config.trusted_proxies)
        self._log_limit = LogLimiter(LOG_INTERVAL)
        self._failed: set[int] = set()  # connections whose frame found a bug
        # bytes held by every unfinished fragmented message of this process
        self.fragment_budget = Budget(config.fragment_budget)
        self._static = load_static(STATIC_DIR)
        # a frame, or a message of fragments, past this closes the connection (1009)
        self.max_message = max(HARD_FRAME_LIMIT, config.max_frame_bytes * 2)
        # The codec of a new connection on each WebSocket path: one for all, or,
        # for a dialect that remembers what its client was told, one each.
        json_codec = JsonCodec(config.max_content)
        self._dialects: dict[str, Callable[[], Codec]] = {
            "/ws": lambda: json_codec,
            "/vearne/ws": functools.partial(VearneCodec, FrameParser(config.max_content)),
        }

    async def start(self, host: str, port: int) -> asyncio.Server:
        heartbeat = self.config.heartbeat
        return await ws_create_server(
            self.route,
            host,
            port,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
            logger_name=_PicowsLog(PICOWS_LOG, self._log_limit),
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
        """Pick what answers a GET: the WebSocket, /healthz or a file."""
        path = unquote(urlsplit(request.path.decode("latin-1")).path)
        host = request.headers.get("Host")
        dialect = self._dialects.get(path)
        if dialect is not None:
            origin = request.headers.get("Origin")
            if not origin_ok(origin, host, self.config.allowed_origins):
                # the upgrade hook does not see the peer: one line per interval for all
                self.warn("origin refused", "origin refused", origin=origin, host=host)
                return _response(403, b"origin not allowed\n", host=host)
            # kept for `connected`, which sees the peer and decides whether to believe it
            forwarded = ",".join(request.headers.getall(FORWARDED_FOR, ())) if self.proxies else ""
            return _Client(self, dialect(), forwarded or None)
        if path == "/healthz":
            return _response(*health(self.healthy), "application/json; charset=utf-8", host=host)
        if not self._static:
            if path == "/":
                return _response(200, _NO_CLIENT, host=host)
            return _response(404, b"not found\n", host=host)
        found = self._static.get(path)
        if found is None:
            return _response(404, b"not found\n", host=host)
        return _response(200, found.body, found.headers["Content-Type"], found.headers, host=host)

    # --- connections ---
    def connected(self, client: _Client, transport: WSTransport) -> Connection | None:
        peer = transport.underlying_transport.get_extra_info("peername")
        ip = self.proxies.client(str(peer[0]) if peer else "?", client.forwarded)
        if self._per_ip[ip] >= self.config.max_conns_per_ip:
            self.warn(ip, "too many connections", ip=ip)
            transport.send_close(
                WSCloseCode.TRY_AGAIN_LATER, b"too many connections from this address"
            )
            transport.disconnect()
            return None
        conn = self.hub.connect(transport, ip, client.codec)
        self._per_ip[ip] += 1
        event(log, "connected", logging.DEBUG, conn=conn.conn_id, ip=ip)
        return conn

    def disconnected(self, conn: Connection, close_code: int | None) -> None:
        self.hub.disconnect(conn)
        if conn.conn_id in self._failed:
            self._failed.discard(conn.conn_id)
            self._log_limit.forget(("frame failed", conn.conn_id))
        self._per_ip[conn.ip] -= 1
        if not self._per_ip[conn.ip]:
            del self._per_ip[conn.ip]
        event(
            log,
            "disconnected",
            logging.DEBUG,
            conn=conn.conn_id,
            account=conn.core.account_id,
            code=close_code,
        )

    def text(self, conn: Connection, data: str) -> None:
        try:
            self.hub.on_text(conn, data)
        except Exception as exc:  # a bug must cost one request, not the connection
            # A bug, so an error; but the client may repeat the frame that finds it:
            # one error per connection, then rate limited warnings.
            first = conn.conn_id not in self._failed
            self._failed.add(conn.conn_id)
            level = logging.ERROR if first else logging.WARNING
            key = ("frame failed", conn.conn_id)
            self.warn(key, "frame failed", level, conn=conn.conn_id, error=repr(exc))
            self.hub.refuse(conn, Code.INTERNAL_ERR, "internal error")

    def warn(
        self, key: Hashable, name: str, level: int = logging.WARNING, **fields: object
    ) -> None:
        """Log an event a client caused, at most once per LOG_INTERVAL per key;
        the next line counts the ones suppressed."""
        suppressed = self._log_limit.admit(key)
        if suppressed is None:
            return
        if suppressed:
            fields["suppressed"] = suppressed
        event(log, name, level, **fields)

    def closed_for(self, conn: Connection, close: Close) -> None:
        """Log why the gateway closed a connection (per address, rate limited)."""
        self.warn(
            ("closed", conn.ip),
            "connection closed",
            conn=conn.conn_id,
            ip=conn.ip,
            code=close.code,
            reason=close.reason,
        )

    def refuse(self, conn: Connection, msg: str) -> None:
        """Answer code 1 to a message that is not text the core can read."""
        self.hub.refuse(conn, Code.PARAM_ERR, msg)


class _Client(WSListener):
    """One WebSocket: frames to the hub, fragments joined into messages."""

    __slots__ = (
        "assembly",
        "close_code",
        "codec",
        "conn",
        "deadline",
        "forwarded",
        "gateway",
        "transport",
    )

    def __init__(self, gateway: Gateway, codec: Codec, forwarded: str | None) -> None:
        super().__init__()
        self.gateway = gateway
        self.codec = codec  # the dialect of the path it connected to
        self.forwarded = forwarded  # X-Forwarded-For, read behind trusted proxies only
        self.conn: Connection | None = None
        self.transport: WSTransport | None = None
        self.assembly = Assembly(gateway.max_message, gateway.fragment_budget)
        # the timer of the fragmented message in progress: one per such message,
        # not a task per connection
        self.deadline: asyncio.TimerHandle | None = None
        self.close_code: int | None = None  # the client's, if it sent one

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.conn = self.gateway.connected(self, transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._end_message()
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
            if self.assembly.in_progress:
                self._end_message()  # a new message ends one left unfinished
            try:
                data = frame.get_payload_as_utf8_text()
            except UnicodeDecodeError:
                self.gateway.refuse(conn, NOT_UTF8)
                return
            self.gateway.text(conn, data)
        elif kind is _CLOSE:
            code = frame.get_close_code()
            self.close_code = int(code.value)
            transport.send_close(code)
            transport.disconnect()
        elif kind in _START:
            self._fragment(conn, frame)

    def pause_writing(self) -> None:
        """The client reads slower than it is written to: paced frames wait."""

    def resume_writing(self) -> None:
        """The client read what was queued: write the paced frames waiting."""
        if self.conn is not None:
            self.conn.flush()

    def _fragment(self, conn: Connection, frame: WSFrame) -> None:
        outcome = self.assembly.frame(
            _START[frame.msg_type], frame.fin, frame.payload_size, frame.get_payload_as_bytes
        )
        if self.assembly.in_progress:
            if self.deadline is None:
                loop = asyncio.get_running_loop()
                self.deadline = loop.call_later(self.gateway.config.fragment_timeout, self._expire)
        elif self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        if isinstance(outcome, Message):
            self.gateway.text(conn, outcome.text)
        elif isinstance(outcome, Close):
            self._close(conn, outcome)
        elif outcome is not None:
            self.gateway.refuse(conn, outcome.reason)

    def _expire(self) -> None:
        self.deadline = None
        close = self.assembly.expire()
        if close is not None and self.conn is not None:
            self._close(self.conn, close)

    def _end_message(self) -> None:
        self.assembly.reset()
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _close(self, conn: Connection, close: Close) -> None:
        self.gateway.closed_for(conn, close)
        if self.transport is not None:
            self.transport.send_close(WSCloseCode(close.code), close.reason.encode())
            self.transport.disconnect()
