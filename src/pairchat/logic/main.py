"""Run the logic role: store, use cases, embedded delivery worker, gRPC server,
and /healthz + /metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pairchat.api.v1 import logic_pb2_grpc
from pairchat.delivery.links import PushLinks
from pairchat.delivery.worker import DeliveryWorker
from pairchat.logic.service import LogicConfig, LogicService
from pairchat.logic.servicer import BrokerRegistry, LogicServicer
from pairchat.obs import event, serve_ops
from pairchat.storage.memory import MemoryBrokers, MemoryInbox, MemoryRouting, MemoryTimers
from pairchat.storage.sqlite import SqliteStore

log = logging.getLogger("pairchat.logic")

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
]


@dataclass(frozen=True, slots=True)
class LogicProcessConfig:
    listen: str
    http_host: str
    http_port: int
    data_dir: str
    logic: LogicConfig


async def serve_logic(cfg: LogicProcessConfig, stop: asyncio.Event) -> None:
    store = SqliteStore(cfg.data_dir)
    await store.open()
    routing, inbox = MemoryRouting(), MemoryInbox()
    service = LogicService(store, routing, MemoryTimers(), inbox, MemoryBrokers(), cfg.logic)
    await service.start()
    links = PushLinks()
    worker = DeliveryWorker(inbox, routing, store, links)
    worker_task = asyncio.create_task(worker.run())

    server = grpc.aio.server(options=GRPC_OPTIONS)
    logic_pb2_grpc.add_LogicServicer_to_server(
        LogicServicer(service, BrokerRegistry(links.register, links.unregister)), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(cfg.listen)
    if port == 0:
        raise SystemExit(f"logic: cannot listen on {cfg.listen}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("pairchat.api.v1.Logic", health_pb2.HealthCheckResponse.SERVING)
    ops = await serve_ops(cfg.http_host, cfg.http_port, lambda: not worker_task.done())
    event(log, "logic listening", grpc=cfg.listen, http_port=cfg.http_port,
          data_dir=cfg.data_dir)
    try:
        await stop.wait()
    finally:
        event(log, "logic stopping")
        await health_servicer.enter_graceful_shutdown()
        await server.stop(grace=1.0)
        worker_task.cancel()
        await links.close()
        await service.stop()
        await ops.cleanup()
        await store.close()
