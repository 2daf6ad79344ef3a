"""Run the broker role: WebSocket gateway, logic link and Push gRPC service."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pairchat.api import rpc
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.broker.gateway import Gateway, GatewayConfig
from pairchat.broker.hub import Hub, Limits
from pairchat.broker.logic_link import LogicLink
from pairchat.broker.push_service import PushServicer
from pairchat.logic.main import GRPC_OPTIONS
from pairchat.obs import event
from pairchat.tasks import bounded

log = logging.getLogger("pairchat.broker")


@dataclass(frozen=True, slots=True)
class BrokerProcessConfig:
    host: str
    port: int
    logic_targets: list[str]
    push_listen: str          # host:port for the Push service (port 0: any free port)
    push_advertise: str       # host the workers use to reach it ("" = push_listen's host)
    broker_id: str
    limits: Limits
    gateway: GatewayConfig


async def serve_broker(cfg: BrokerProcessConfig, stop: asyncio.Event) -> None:
    broker_id = cfg.broker_id or f"{socket.gethostname()}:{cfg.port}:{os.getpid()}"
    link_box: list[LogicLink] = []
    hub = Hub(cfg.limits, lambda call: link_box[0].call(call))

    server = grpc.aio.server(options=GRPC_OPTIONS)
    rpc.serve_push(server, PushServicer(hub).Deliver)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    push_port = server.add_insecure_port(cfg.push_listen)
    if push_port == 0:
        raise SystemExit(f"broker: cannot listen on {cfg.push_listen} for pushes")
    await server.start()
    push_host = cfg.push_advertise or cfg.push_listen.rsplit(":", 1)[0]
    push_target = f"{push_host}:{push_port}"

    link = LogicLink(
        cfg.logic_targets,
        lpb.BrokerHello(broker_id=broker_id, push_target=push_target),
        hub.on_reply,
        hub.logic_lost,
    )
    link_box.append(link)
    link.start()

    gateway = Gateway(hub, cfg.gateway, lambda: link.connected)
    runner = web.AppRunner(gateway.app(), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port, backlog=4096)
    await site.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    event(log, "broker listening", http=f"{cfg.host}:{cfg.port}", push=push_target,
          broker=broker_id, logic=",".join(cfg.logic_targets))
    try:
        await stop.wait()
    finally:
        event(log, "broker stopping", broker=broker_id)
        await bounded("health", health_servicer.enter_graceful_shutdown())
        for conn in list(hub.conns.values()):
            conn.close_soon(1001, "server shutting down")
        await bounded("websocket server", runner.cleanup())
        await bounded("logic link", link.close())
        await bounded("push server", server.stop(grace=1.0))
