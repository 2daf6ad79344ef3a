"""Run the broker role: WebSocket gateway, logic link and Push gRPC service.

A broker normally runs as its own process (`pairchat broker`) and reaches logic
over gRPC. In the embedded mode the first broker lives inside the logic process
(`pairchat logic --broker-port`): it calls the logic service and takes the
delivery worker's pushes directly, with no gRPC hop in the message path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pairchat.api import rpc
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.broker.gateway import Gateway, GatewayConfig
from pairchat.broker.hub import Hub, Limits
from pairchat.broker.logic_link import LocalLogicLink, LogicLink
from pairchat.broker.push_service import PushServicer
from pairchat.delivery.links import PushLinks
from pairchat.logic.main import GRPC_OPTIONS
from pairchat.logic.servicer import LogicServicer
from pairchat.obs import event
from pairchat.tasks import bounded

log = logging.getLogger("pairchat.broker")

IN_PROCESS = "in-process"  # the push target a broker inside the logic process announces


@dataclass(frozen=True, slots=True)
class BrokerProcessConfig:
    host: str
    port: int
    logic_targets: list[str]
    push_listen: str  # host:port for the Push service (port 0: any free port)
    push_advertise: str  # host the workers use to reach it ("" = push_listen's host)
    broker_id: str
    limits: Limits
    gateway: GatewayConfig


@dataclass(frozen=True, slots=True)
class InProcessLogic:
    """The logic service and the delivery worker's links of this process."""

    servicer: LogicServicer
    links: PushLinks


class RunningBroker:
    def __init__(
        self,
        broker_id: str,
        hub: Hub,
        link: LogicLink | LocalLogicLink,
        http: asyncio.Server,
        server: grpc.aio.Server | None,
        health_servicer: health.aio.HealthServicer | None,
        local: InProcessLogic | None,
    ) -> None:
        self.broker_id = broker_id
        self.hub = hub
        self.link = link
        self.http = http
        self.server = server
        self.health = health_servicer
        self.local = local

    async def stop(self) -> None:
        event(log, "broker stopping", broker=self.broker_id)
        if self.health is not None:
            await bounded("health", self.health.enter_graceful_shutdown())
        for conn in list(self.hub.conns.values()):
            conn.close_soon(1001, "server shutting down")
        self.http.close()
        await bounded("websocket server", self.http.wait_closed())
        await bounded("logic link", self.link.close())
        if self.local is not None:
            self.local.links.detach(self.broker_id)
        if self.server is not None:
            await bounded("push server", self.server.stop(grace=1.0))


async def start_broker(
    cfg: BrokerProcessConfig, local: InProcessLogic | None = None
) -> RunningBroker:
    """Start a broker: over gRPC to `cfg.logic_targets`, or to `local`."""
    broker_id = cfg.broker_id or f"{socket.gethostname()}:{cfg.port}:{os.getpid()}"
    link_box: list[LogicLink | LocalLogicLink] = []
    hub = Hub(
        cfg.limits,
        lambda call: link_box[0].call(call),
        local.servicer.service if local is not None else None,
        broker_id,
    )

    server: grpc.aio.Server | None = None
    health_servicer: health.aio.HealthServicer | None = None
    link: LogicLink | LocalLogicLink
    if local is None:
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
    else:
        push_target = IN_PROCESS
        local.links.attach(broker_id, hub.deliver)
        link = LocalLogicLink(
            local.servicer.exchange,
            lpb.BrokerHello(broker_id=broker_id, push_target=push_target),
            hub.on_reply,
            hub.logic_lost,
        )
    link_box.append(link)
    link.start()

    gateway = Gateway(hub, cfg.gateway, lambda: link.connected)
    try:
        http = await gateway.start(cfg.host, cfg.port)
    except OSError as exc:
        await link.close()
        raise SystemExit(f"broker: cannot listen on {cfg.host}:{cfg.port}: {exc}") from None
    if health_servicer is not None:
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    event(
        log,
        "broker listening",
        http=f"{cfg.host}:{cfg.port}",
        push=push_target,
        broker=broker_id,
        logic=",".join(cfg.logic_targets) if local is None else IN_PROCESS,
    )
    return RunningBroker(broker_id, hub, link, http, server, health_servicer, local)


async def serve_broker(cfg: BrokerProcessConfig, stop: asyncio.Event) -> None:
    broker = await start_broker(cfg)
    try:
        await stop.wait()
    finally:
        await broker.stop()
