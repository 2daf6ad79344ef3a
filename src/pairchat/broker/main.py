"""The broker role as a running thing: WebSocket gateway, logic link and Push
gRPC service, started and stopped together.

A broker normally runs as its own process (`pairchat broker`, `serve_broker`,
with its operations listener beside the gateway) and reaches logic over gRPC.
Given a `LocalLogic` (the embedded mode, wired by `pairchat.embedded`), it
lives inside the logic process instead: its calls and the delivery worker's
pushes then cross no process boundary and no gRPC, and the logic process's
operations listener serves its metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pairchat.api import rpc
from pairchat.api.admin import admin_routes
from pairchat.api.links import LocalLogic
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.broker.admin_link import AdminLink
from pairchat.broker.config import BrokerConfig, BrokerProcessConfig
from pairchat.broker.gateway import Gateway
from pairchat.broker.hub import Hub
from pairchat.broker.logic_link import LocalLogicLink, LogicLink
from pairchat.broker.push_service import PushServicer
from pairchat.errors import StartupError, cannot_listen
from pairchat.obs import OpsConfig, event, serve_ops, write_ports
from pairchat.ports import address_error
from pairchat.tasks import bounded
from pairchat.webclient import console_routes

log = logging.getLogger("pairchat.broker")

IN_PROCESS = "in-process"  # the push target a broker inside the logic process announces


class RunningBroker:
    def __init__(
        self,
        broker_id: str,
        hub: Hub,
        link: LogicLink | LocalLogicLink,
        http: asyncio.Server,
        server: grpc.aio.Server | None,
        health_servicer: health.aio.HealthServicer | None,
        local: LocalLogic | None,
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
        self.hub.close_all(1001, "server shutting down")
        self.http.close()
        await bounded("websocket server", self.http.wait_closed())
        await bounded("logic link", self.link.close())
        if self.local is not None:
            self.local.detach(self.broker_id)
        if self.server is not None:
            await bounded("push server", self.server.stop(grace=1.0))


async def start_broker(
    config: BrokerConfig,
    host: str,
    port: int,
    broker_id: str = "",
    *,
    logic_targets: tuple[str, ...] = (),
    push_listen: str = "127.0.0.1:0",
    push_advertise: str = "",
    local: LocalLogic | None = None,
    flags: tuple[str, str] = ("--host", "--port"),
) -> RunningBroker:
    """Start a broker on host:port: over gRPC to `logic_targets` (serving pushes
    on `push_listen`), or to the logic of this process (`local`). `flags` name
    host and port for the operator when the port cannot be bound.

    Raises:
        StartupError: a port cannot be bound.
    """
    broker_id = broker_id or f"{socket.gethostname()}:{port}:{os.getpid()}"
    link_box: list[LogicLink | LocalLogicLink] = []
    hub = Hub(
        config,
        lambda call: link_box[0].call(call),
        local.messages if local is not None else None,
        broker_id,
    )

    server: grpc.aio.Server | None = None
    health_servicer: health.aio.HealthServicer | None = None
    link: LogicLink | LocalLogicLink
    if local is None:
        server = grpc.aio.server(options=rpc.SERVER_OPTIONS)
        rpc.serve_push(server, PushServicer(hub).Deliver)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        try:
            push_port = server.add_insecure_port(push_listen)
        except RuntimeError:  # all grpcio says of an address it cannot bind
            why = address_error(push_listen)
            raise cannot_listen("the Push service", push_listen, why, "--push-listen") from None
        await server.start()
        push_host = push_advertise or push_listen.rsplit(":", 1)[0]
        push_target = f"{push_host}:{push_port}"
        hello = lpb.BrokerHello(broker_id=broker_id, push_target=push_target)
        link = LogicLink(list(logic_targets), hello, hub.on_reply, hub.logic_lost)
    else:
        push_target = IN_PROCESS
        local.attach(broker_id, hub.deliver)
        hello = lpb.BrokerHello(broker_id=broker_id, push_target=push_target)
        link = LocalLogicLink(local.exchange, hello, hub.on_reply, hub.logic_lost)
    link_box.append(link)
    link.start()

    gateway = Gateway(hub, config, lambda: link.connected)
    try:
        http = await gateway.start(host, port)
    except OSError as exc:
        await link.close()
        if server is not None:
            await server.stop(grace=None)
        raise cannot_listen("the broker", f"{host}:{port}", exc, flags[1], flags[0]) from None
    if health_servicer is not None:
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    event(
        log,
        "broker listening",
        http=f"{host}:{port}",
        push=push_target,
        broker=broker_id,
        logic=",".join(logic_targets) if local is None else IN_PROCESS,
    )
    return RunningBroker(broker_id, hub, link, http, server, health_servicer, local)


async def serve_broker(
    process: BrokerProcessConfig, config: BrokerConfig, ops: OpsConfig, stop: asyncio.Event
) -> None:
    """`pairchat broker`: serve until `stop` is set, with /healthz and /metrics
    on the operations listener (healthy while the broker reaches a logic), and
    there too the moderator console and the moderation API, forwarded to logic.

    Raises:
        StartupError: a port cannot be bound.
    """
    broker = await start_broker(
        config,
        process.host,
        process.port,
        process.broker_id,
        logic_targets=process.logic,
        push_listen=process.push_listen,
        push_advertise=process.push_advertise,
    )
    admin = AdminLink(process.logic)
    try:
        runner, ops_port = await serve_ops(
            ops.ops_host,
            ops.ops_port,
            lambda: broker.link.connected,
            [*console_routes(), *admin_routes(admin.answer)],
        )
    except StartupError:
        await broker.stop()
        await admin.close()
        raise
    try:
        write_ports(ops.ports_file, ops=ops_port)
        event(
            log, "broker ops listening", broker=broker.broker_id, ops=f"{ops.ops_host}:{ops_port}"
        )
        await stop.wait()
    finally:
        await broker.stop()
        await bounded("ops server", runner.cleanup())
        await bounded("admin link", admin.close())
