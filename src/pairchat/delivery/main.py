"""The delivery role as a running thing: a worker taking the inbox, with push
links to the brokers, started and stopped together; `serve_worker` is the
process of its own of the scaled mode (`pairchat worker`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pairchat.delivery.links import PushLinks
from pairchat.delivery.worker import DeliveryWorker, consumer_name
from pairchat.errors import StartupError
from pairchat.obs import OpsConfig, event, serve_ops, write_ports
from pairchat.storage.backends import BackendConfig, Backends, open_backends
from pairchat.tasks import bounded

log = logging.getLogger("pairchat.delivery")


@dataclass(slots=True)
class RunningWorker:
    consumer: str
    links: PushLinks
    tasks: list[asyncio.Task[None]]

    def healthy(self) -> bool:
        return not any(t.done() for t in self.tasks)

    async def stop(self) -> None:
        event(log, "worker stopping", consumer=self.consumer)
        for task in self.tasks:
            task.cancel()
        await bounded("worker tasks", asyncio.gather(*self.tasks, return_exceptions=True))
        await bounded("push links", self.links.close())


def start_worker(backends: Backends, role: str) -> RunningWorker:
    """Deliver from the inbox of `backends`. Scaled, the worker also follows the
    brokers' liveness to reach brokers that stream to other logic processes;
    embedded, the logic process tells its links of every broker itself."""
    links = PushLinks()
    consumer = consumer_name(role)
    brokers = backends.brokers if backends.scaled else None
    worker = DeliveryWorker(
        backends.inbox,
        backends.routing,
        backends.routing,
        backends.store,
        links,
        consumer,
        brokers,
    )
    tasks = [asyncio.create_task(worker.run())]
    if brokers is not None:
        tasks.append(asyncio.create_task(links.follow(brokers)))
    return RunningWorker(consumer, links, tasks)


async def serve_worker(ops: OpsConfig, backends_cfg: BackendConfig, stop: asyncio.Event) -> None:
    """`pairchat worker`: deliver until `stop` is set.

    Raises:
        StartupError: not the scaled mode, or an engine out of reach.
    """
    if not backends_cfg.scaled:
        raise StartupError(
            "pairchat worker runs beside logic processes sharing Redis and PostgreSQL: "
            "give --redis-url and --database-url (the embedded mode runs its worker "
            "inside `pairchat logic`)"
        )
    backends = await open_backends(backends_cfg)
    worker = start_worker(backends, "worker")
    try:
        runner, ops_port = await serve_ops(ops.ops_host, ops.ops_port, worker.healthy)
    except StartupError:
        await worker.stop()
        await bounded("backends", backends.close())
        raise
    write_ports(ops.ports_file, ops=ops_port)
    event(log, "worker running", consumer=worker.consumer, ops_port=ops_port)
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await bounded("ops server", runner.cleanup())
        await bounded("backends", backends.close())
