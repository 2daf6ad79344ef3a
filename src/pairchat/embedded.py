"""The logic process, wired: the one place where roles meet in one process.

`pairchat logic` runs the logic role over its backends and, beside it:
- a delivery worker, always in the embedded mode (SQLite + memory, where the
  inbox lives in this process) and with `--run-worker` in the scaled mode;
- broker 0, with `--broker-port` (embedded only, as `pairchat up` runs it):
  the broker calls the use cases and takes the worker's pushes through the
  in-process contracts of `pairchat.api.links`, with no gRPC in the message
  path. Further brokers are processes of their own that reach this one over
  gRPC.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from pairchat.api.links import LocalLogic
from pairchat.broker.config import BrokerConfig
from pairchat.broker.main import RunningBroker, start_broker
from pairchat.delivery.main import RunningWorker, start_worker
from pairchat.errors import StartupError
from pairchat.logic.config import LogicConfig, LogicProcessConfig
from pairchat.logic.main import start_logic
from pairchat.obs import OpsConfig, event, serve_ops, write_ports
from pairchat.storage.backends import BackendConfig, open_backends
from pairchat.tasks import bounded
from pairchat.webclient import console_routes

log = logging.getLogger("pairchat.logic")

# Embedded, the SQLite store's reader and checkpoint threads give up the GIL at
# every step of a statement and must win it back from the busy event loop, which
# Python hands over only every switch interval (5 ms by default). 1 ms keeps
# RECONNECT replays and HISTORY pages from queueing behind it.
EMBEDDED_SWITCH_INTERVAL = 0.001


@dataclass(frozen=True, slots=True)
class LogicProcess:
    """Everything `pairchat logic` is configured with."""

    process: LogicProcessConfig
    logic: LogicConfig
    backends: BackendConfig
    broker: BrokerConfig
    ops: OpsConfig


async def serve_logic_process(cfg: LogicProcess, stop: asyncio.Event) -> None:
    """Run the logic process until `stop` is set, then stop its parts in the
    order that loses nothing: brokers first (clients are told to come back),
    then the use cases, the worker, and the backends last.

    Raises:
        StartupError: a flag combination that cannot work, an engine out of
            reach, or a port that cannot be bound.
    """
    process = cfg.process
    if process.broker_port and cfg.backends.scaled:
        raise StartupError(
            "logic: --broker-port is for the embedded mode; scaled, run `pairchat broker` "
            "processes, which every worker can reach"
        )
    backends = await open_backends(cfg.backends)
    if not backends.scaled:
        sys.setswitchinterval(EMBEDDED_SWITCH_INTERVAL)
    worker: RunningWorker | None = None
    on_hello: Callable[[str, str], None] = _ignore
    on_gone: Callable[[str], None] = _ignore
    if process.run_worker or not backends.scaled:
        worker = start_worker(backends, "logic")
        # Brokers that stream to this process are pushed to at the address
        # they announce; scaled, the worker also follows the others.
        on_hello, on_gone = worker.links.register, worker.links.unregister
    logic = await start_logic(cfg.logic, backends, process.listen, on_hello, on_gone)
    broker: RunningBroker | None = None
    runner: web.AppRunner | None = None
    try:
        # One process, one registry: broker 0, when it runs here, is on this
        # listener too. So are the moderator console and the moderation API.
        runner, ops_port = await serve_ops(
            cfg.ops.ops_host,
            cfg.ops.ops_port,
            lambda: worker is None or worker.healthy(),
            [*console_routes(), *logic.admin.routes()],
        )
        if process.broker_port:
            if worker is None:  # embedded always runs its worker: for the type checker
                raise StartupError("logic: an in-process broker needs this process's worker")
            local = LocalLogic(
                logic.servicer.exchange, logic.servicer, worker.links.attach, worker.links.detach
            )
            broker = await start_broker(
                cfg.broker,
                process.broker_host,
                process.broker_port,
                process.broker_id,
                local=local,
                flags=("--broker-host", "--broker-port"),
            )
        write_ports(cfg.ops.ports_file, grpc=logic.port, ops=ops_port)
        event(
            log,
            "logic listening",
            grpc=f"{process.listen.rsplit(':', 1)[0]}:{logic.port}",
            ops_port=ops_port,
            mode="scaled" if backends.scaled else "embedded",
            worker="yes" if worker else "no",
            broker=f"{process.broker_host}:{process.broker_port}" if broker else "no",
        )
        await stop.wait()
    finally:
        if broker is not None:
            await broker.stop()
        await logic.stop()
        if worker is not None:
            await worker.stop()
        if runner is not None:
            await bounded("ops server", runner.cleanup())
        await bounded("backends", backends.close(), seconds=4.0)


def _ignore(*_: str) -> None:
    """No worker here to tell of brokers coming and going."""
