"""The broker's HTTP face: the WebSocket at /ws, /healthz, /metrics and the web
client's static files at /. Checks what HTTP can: Origin, connections per IP."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from pairchat.broker.connection import Connection, TokenBucket
from pairchat.broker.hub import Hub
from pairchat.obs import event, ops_routes
from pairchat.protocol import Code, encode_error

log = logging.getLogger("pairchat.broker")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
HARD_FRAME_LIMIT = 1 << 20  # past this aiohttp closes the connection (1009)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    heartbeat: float = 15.0
    max_conns_per_ip: int = 4096
    allowed_origins: tuple[str, ...] = ()


class Gateway:
    def __init__(self, hub: Hub, config: GatewayConfig, healthy: Callable[[], bool]) -> None:
        self.hub = hub
        self.config = config
        self.healthy = healthy
        self._per_ip: Counter[str] = Counter()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws", self.websocket)
        ops_routes(app, self.healthy)
        if (STATIC_DIR / "index.html").is_file():
            app.router.add_get("/", self.index)
            app.router.add_static("/", STATIC_DIR, append_version=False)
        else:
            app.router.add_get("/", self.no_client)
        return app

    async def index(self, _: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def no_client(self, _: web.Request) -> web.Response:
        return web.Response(
            text="pairchat broker: the web client is not built (run `make install`); "
                 "WebSocket clients connect to /ws.\n",
        )

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: Origin protects browsers' users only
        if origin in self.config.allowed_origins or "*" in self.config.allowed_origins:
            return True
        return urlsplit(origin).netloc.lower() == request.host.lower()

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request):
            event(log, "origin refused", logging.WARNING, origin=request.headers.get("Origin"))
            raise web.HTTPForbidden(text="origin not allowed")
        ip = request.remote or "?"
        if self._per_ip[ip] >= self.config.max_conns_per_ip:
            raise web.HTTPTooManyRequests(text="too many connections from this address")
        limits = self.hub.limits
        ws = web.WebSocketResponse(
            heartbeat=self.config.heartbeat or None,
            max_msg_size=max(HARD_FRAME_LIMIT, limits.max_frame_bytes * 2),
            compress=False,
        )
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        conn = Connection(
            self.hub.next_conn_id(), ws, transport, ip,
            TokenBucket(limits.rate, limits.burst), limits.send_limit,
        )
        self._per_ip[ip] += 1
        self.hub.add(conn)
        event(log, "connected", conn=conn.conn_id, ip=ip)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        self.hub.on_frame(conn, msg.data)
                    except Exception as exc:  # a bug must cost one request, not the connection
                        event(log, "frame failed", logging.ERROR, conn=conn.conn_id,
                              error=repr(exc))
                        conn.send(encode_error("ERROR", None, Code.INTERNAL_ERR,
                                               "internal error"))
                elif msg.type == WSMsgType.BINARY:
                    conn.send(encode_error("ERROR", None, Code.PARAM_ERR,
                                           "binary frames are not supported: send JSON text"))
        finally:
            self.hub.remove(conn)
            self._per_ip[ip] -= 1
            if not self._per_ip[ip]:
                del self._per_ip[ip]
            event(log, "disconnected", conn=conn.conn_id, account=conn.account_id,
                  code=ws.close_code)
        return ws
