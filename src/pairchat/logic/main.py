"""Run the logic role: use cases over the chosen backends, the gRPC server,
/healthz + /metrics, (embedded, or with --run-worker) a delivery worker, and
(embedded, with --broker-port) a broker in the same process."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pairchat.api import rpc
from pairchat.backends import BackendConfig, open_backends
from pairchat.delivery.links import PushLinks
from pairchat.delivery.worker import DeliveryWorker, consumer_name
from pairchat.logic.service import LogicConfig, LogicService
from pairchat.logic.servicer import BrokerRegistry, LogicServicer
from pairchat.obs import event, serve_ops, write_ports
from pairchat.tasks import bounded

if TYPE_CHECKING:
    from pairchat.broker.main import BrokerProcessConfig

log = logging.getLogger("pairchat.logic")

# Embedded, the SQLite store's reader and checkpoint threads give up the GIL at
# every step of a statement and must win it back from the busy event loop, which
# Python hands over only every switch interval (5 ms by default). 1 ms keeps
# RECONNECT replays and HISTORY pages from queueing behind it (measured a few
# percent more messages per second in the benchmark, docs/benchmarks.md).
EMBEDDED_SWITCH_INTERVAL = 0.001

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    # Clients ping every 5 s (broker/logic_link.py CLIENT_OPTIONS): accept it.
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 4_000),
    ("grpc.http2.max_ping_strikes", 0),
]


@dataclass(frozen=True, slots=True)
class LogicProcessConfig:
    listen: str
    http_host: str
    http_port: int
    backends: BackendConfig
    logic: LogicConfig
    run_worker: bool = False  # always on in the embedded mode
    ports_file: str = ""  # where to write the ports bound, for `pairchat up`
    broker: BrokerProcessConfig | None = None  # a broker in this process (embedded only)


async def serve_logic(cfg: LogicProcessConfig, stop: asyncio.Event) -> None:
    if cfg.broker is not None and cfg.backends.scaled:
        raise SystemExit(
            "logic: --broker-port is for the embedded mode; scaled, run "
            "`pairchat broker` processes, which every worker can reach"
        )
    backends = await open_backends(cfg.backends)
    if not backends.scaled:
        sys.setswitchinterval(EMBEDDED_SWITCH_INTERVAL)
    service = LogicService(
        backends.store,
        backends.routing,
        backends.timers,
        backends.inbox,
        backends.brokers,
        cfg.logic,
    )
    await service.start()
    links = PushLinks()
    worker_task: asyncio.Task[None] | None = None
    if cfg.run_worker or not backends.scaled:
        worker = DeliveryWorker(
            backends.inbox,
            backends.routing,
            backends.store,
            links,
            consumer_name("logic"),
            backends.brokers if backends.scaled else None,
        )
        worker_task = asyncio.create_task(worker.run())
    # Scaled, the worker also pushes to brokers streaming to other logic processes.
    sync_task = (
        asyncio.create_task(links.follow(backends.brokers))
        if worker_task is not None and backends.scaled
        else None
    )

    server = grpc.aio.server(options=GRPC_OPTIONS)
    registry = (
        BrokerRegistry(links.register, links.unregister)
        if worker_task
        else (BrokerRegistry(lambda _b, _t: None, lambda _b: None))
    )
    servicer = LogicServicer(service, registry)
    rpc.serve_logic(server, servicer.Exchange)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(cfg.listen)
    if port == 0:
        raise SystemExit(f"logic: cannot listen on {cfg.listen}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("pairchat.api.v1.Logic", health_pb2.HealthCheckResponse.SERVING)
    ops, http_port = await serve_ops(
        cfg.http_host, cfg.http_port, lambda: worker_task is None or not worker_task.done()
    )
    broker = None
    if cfg.broker is not None:
        from pairchat.broker.main import InProcessLogic, start_broker

        broker = await start_broker(cfg.broker, InProcessLogic(servicer, links))
    write_ports(cfg.ports_file, grpc=port, http=http_port)
    event(
        log,
        "logic listening",
        grpc=f"{cfg.listen.rsplit(':', 1)[0]}:{port}",
        http_port=http_port,
        mode="scaled" if backends.scaled else "embedded",
        worker="yes" if worker_task else "no",
        broker=f"{cfg.broker.host}:{cfg.broker.port}" if cfg.broker else "no",
    )
    try:
        await stop.wait()
    finally:
        if broker is not None:
            await broker.stop()
        event(log, "logic stopping")
        await bounded("health", health_servicer.enter_graceful_shutdown())
        await bounded("grpc server", server.stop(grace=1.0))
        for task in (worker_task, sync_task):
            if task is not None:
                task.cancel()
        await bounded("push links", links.close())
        await bounded("use cases", service.stop())
        await bounded("ops server", ops.cleanup())
        await bounded("backends", backends.close(), seconds=4.0)
