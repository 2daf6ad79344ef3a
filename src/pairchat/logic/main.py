"""The logic role as a running thing: the use cases over the process's
backends, the moderation API over their moderation, and the gRPC server
brokers stream to (and forward the moderation API to), started and stopped
together. `pairchat.embedded` wires it into the logic process, with the
delivery worker and broker 0 beside it when the mode wants them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pairchat.api import rpc
from pairchat.errors import cannot_listen
from pairchat.logic.admin_http import AdminApi
from pairchat.logic.config import LogicConfig
from pairchat.logic.service import LogicService
from pairchat.logic.servicer import BrokerRegistry, LogicServicer
from pairchat.obs import event
from pairchat.ports import address_error
from pairchat.storage.backends import Backends
from pairchat.tasks import bounded

log = logging.getLogger("pairchat.logic")


@dataclass(slots=True)
class RunningLogic:
    service: LogicService
    servicer: LogicServicer
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int  # the gRPC port bound
    admin: AdminApi  # the moderation API, for this process's operations listener

    async def stop(self) -> None:
        """Stop taking calls, then stop the use cases (the backends stay open:
        whoever opened them closes them)."""
        event(log, "logic stopping")
        await bounded("health", self.health.enter_graceful_shutdown())
        await bounded("grpc server", self.server.stop(grace=1.0))
        await bounded("use cases", self.service.stop())


async def start_logic(
    config: LogicConfig,
    backends: Backends,
    listen: str,
    on_broker_hello: Callable[[str, str], None],
    on_broker_gone: Callable[[str], None],
) -> RunningLogic:
    """Start the use cases over `backends` and serve Logic.Exchange on `listen`
    (port 0: a free one). Brokers saying hello and going away are reported to
    the two callbacks (the delivery worker of this process follows them).

    Raises:
        StartupError: `listen` cannot be bound.
    """
    service = LogicService(
        backends.store,
        backends.routing,
        backends.timers,
        backends.inbox,
        backends.brokers,
        backends.limits,
        backends.leases,
        config,
    )
    await service.start()
    servicer = LogicServicer(service, BrokerRegistry(on_broker_hello, on_broker_gone))
    admin = AdminApi(service.moderation, config.admin_token, backends.store)
    server = grpc.aio.server(options=rpc.SERVER_OPTIONS)
    rpc.serve_logic(server, servicer.Exchange, admin.Admin)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        port = server.add_insecure_port(listen)
    except RuntimeError:  # all grpcio says of an address it cannot bind
        await service.stop()
        why = address_error(listen)
        raise cannot_listen("the Logic service", listen, why, "--listen") from None
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("pairchat.api.v1.Logic", health_pb2.HealthCheckResponse.SERVING)
    return RunningLogic(service, servicer, server, health_servicer, port, admin)
