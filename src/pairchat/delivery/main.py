"""Run a delivery worker on its own (the scaled mode): the Redis inbox, the
routes in Redis, replays from PostgreSQL, pushes to every live broker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pairchat.backends import BackendConfig, open_backends
from pairchat.delivery.links import PushLinks
from pairchat.delivery.worker import DeliveryWorker, consumer_name
from pairchat.obs import event, serve_ops, write_ports
from pairchat.tasks import bounded

log = logging.getLogger("pairchat.delivery")


@dataclass(frozen=True, slots=True)
class WorkerProcessConfig:
    http_host: str
    http_port: int
    backends: BackendConfig
    ports_file: str = ""  # where to write the port bound, for `pairchat up`


async def serve_worker(cfg: WorkerProcessConfig, stop: asyncio.Event) -> None:
    if not cfg.backends.scaled:
        raise SystemExit(
            "pairchat worker runs beside logic processes sharing Redis and PostgreSQL: "
            "give --redis-url and --database-url (the embedded mode runs its worker "
            "inside `pairchat logic`)"
        )
    backends = await open_backends(cfg.backends)
    links = PushLinks()
    name = consumer_name("worker")
    worker = DeliveryWorker(
        backends.inbox, backends.routing, backends.store, links, name, backends.brokers
    )
    tasks = [asyncio.create_task(worker.run()), asyncio.create_task(links.follow(backends.brokers))]
    ops, http_port = await serve_ops(
        cfg.http_host, cfg.http_port, lambda: not any(t.done() for t in tasks)
    )
    write_ports(cfg.ports_file, http=http_port)
    event(log, "worker running", consumer=name, http_port=http_port)
    try:
        await stop.wait()
    finally:
        event(log, "worker stopping", consumer=name)
        for task in tasks:
            task.cancel()
        await bounded("worker tasks", asyncio.gather(*tasks, return_exceptions=True))
        await bounded("push links", links.close())
        await bounded("ops server", ops.cleanup())
        await bounded("backends", backends.close())
