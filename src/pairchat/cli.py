"""`pairchat up|logic|broker|worker|migrate|bench`: parse flags, wire a role, handle signals."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from pairchat.bench.flags import add_flags as bench_flags
from pairchat.config import (
    Flags,
    backend_config,
    backend_flags,
    broker_flags,
    logging_flags,
    logic_flags,
)
from pairchat.obs import setup_logging

if TYPE_CHECKING:
    from pairchat.broker.main import BrokerProcessConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairchat", description="pairchat: one-to-one chat with strangers"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole system on this machine")
    f = Flags(up)
    f.add("--host", default="127.0.0.1", help="address the brokers listen on")
    f.add("--port", type=int, default=8080, help="first broker's port (broker i: port+i)")
    f.add("--brokers", type=int, default=1, help="broker processes")
    f.add(
        "--logics",
        type=int,
        default=1,
        help="logic processes (more than one needs the scaled mode)",
    )
    f.add(
        "--workers",
        type=int,
        default=1,
        help="delivery worker processes in the scaled mode (embedded: inside logic)",
    )
    logic_flags(f)
    backend_flags(f)
    broker_flags(f)
    logging_flags(f)

    logic = sub.add_parser("logic", help="run one logic process")
    f = Flags(logic)
    f.add("--listen", default="127.0.0.1:7000", help="gRPC address to serve")
    f.add("--http-host", default="127.0.0.1", help="address of /healthz and /metrics")
    f.add("--http-port", type=int, default=7001, help="port of /healthz and /metrics")
    f.switch(
        "--run-worker", help="also run a delivery worker here (always on in the embedded mode)"
    )
    logic.add_argument("--ports-file", default="", help=argparse.SUPPRESS)
    f.add(
        "--broker-host",
        default="127.0.0.1",
        help="address of the in-process broker (with --broker-port)",
    )
    f.add(
        "--broker-port",
        type=int,
        default=0,
        help="embedded mode: also run a broker in this process on this port, calling "
        "logic and taking pushes without gRPC (0: none)",
    )
    f.add("--broker-id", default="", help="the in-process broker's unique name")
    logic_flags(f)
    backend_flags(f)
    broker_flags(f)
    logging_flags(f)

    worker = sub.add_parser("worker", help="run one delivery worker (scaled mode)")
    f = Flags(worker)
    f.add("--http-host", default="127.0.0.1", help="address of /healthz and /metrics")
    f.add("--http-port", type=int, default=7002, help="port of /healthz and /metrics")
    f.add("--data-dir", default="./data", help=argparse.SUPPRESS)
    worker.add_argument("--ports-file", default="", help=argparse.SUPPRESS)
    backend_flags(f)
    logging_flags(f)

    broker = sub.add_parser("broker", help="run one broker process")
    f = Flags(broker)
    f.add("--host", default="127.0.0.1", help="address to listen on")
    f.add("--port", type=int, default=8080, help="port of /ws, /, /healthz and /metrics")
    f.add(
        "--logic",
        default="127.0.0.1:7000",
        help="comma-separated logic gRPC addresses, tried in turn",
    )
    f.add(
        "--push-listen",
        default="127.0.0.1:0",
        help="host:port of this broker's Push gRPC service (port 0: any free port)",
    )
    f.add(
        "--push-advertise",
        default="",
        help="host workers use to reach the Push service (default: the listen host)",
    )
    f.add("--broker-id", default="", help="unique name (default: host:port:pid)")
    broker_flags(f)
    logging_flags(f)

    migrate = sub.add_parser("migrate", help="create or upgrade the PostgreSQL schema")
    f = Flags(migrate)
    f.add("--database-url", default="", help="PostgreSQL URL (postgresql://user@host:5432/db)")
    f.add("--schema", default="public", help="PostgreSQL schema holding pairchat's tables")
    logging_flags(f)

    bench = sub.add_parser(
        "bench", help="measure messages per second and latency, against baselines if asked"
    )
    bench_flags(bench)
    return parser


def _run(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> int:
    import uvloop

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    from pairchat.storage.base import StoreUnavailable
    from pairchat.storage.migrate import SchemaVersionError
    from pairchat.storage.postgres import RefusedSetting
    from pairchat.storage.redis_inbox import InboxConfigError

    try:
        uvloop.run(runner())
    except (StoreUnavailable, SchemaVersionError, InboxConfigError, RefusedSetting) as exc:
        # what the operator must do next, never a password
        print(f"pairchat: {exc}", file=sys.stderr)
        return 1
    return 0


def _broker_config(
    args: argparse.Namespace,
    host: str,
    port: int,
    logic_targets: list[str],
    push_listen: str,
    push_advertise: str = "",
) -> BrokerProcessConfig:
    from pairchat.broker.gateway import GatewayConfig
    from pairchat.broker.hub import Limits
    from pairchat.broker.main import BrokerProcessConfig

    return BrokerProcessConfig(
        host=host,
        port=port,
        logic_targets=logic_targets,
        push_listen=push_listen,
        push_advertise=push_advertise,
        broker_id=args.broker_id,
        limits=Limits(
            args.max_frame_bytes,
            args.max_content,
            args.rate_limit,
            args.rate_burst,
            args.send_buffer,
        ),
        gateway=GatewayConfig(
            args.heartbeat,
            args.max_conns_per_ip,
            tuple(o.strip() for o in args.allowed_origins.split(",") if o.strip()),
        ),
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        from pairchat.up import run_up

        setup_logging(args.log_format, args.log_level)
        return run_up(args)
    if args.command == "bench":
        from pairchat.bench import run_bench

        return run_bench(args)
    setup_logging(args.log_format, args.log_level, role=args.command)
    if args.command == "migrate":
        from pairchat.storage.migrate import migrate_command

        return migrate_command(args.database_url, args.schema)
    if args.command == "logic":
        from pairchat.logic.main import LogicProcessConfig, serve_logic
        from pairchat.logic.service import LogicConfig

        cfg = LogicProcessConfig(
            listen=args.listen,
            http_host=args.http_host,
            http_port=args.http_port,
            backends=backend_config(args),
            logic=LogicConfig(args.offline_grace, args.match_wait, args.max_sessions),
            run_worker=args.run_worker,
            ports_file=args.ports_file,
            broker=_broker_config(args, args.broker_host, args.broker_port, [], "")
            if args.broker_port
            else None,
        )
        return _run(lambda stop: serve_logic(cfg, stop))
    if args.command == "worker":
        from pairchat.delivery.main import WorkerProcessConfig, serve_worker

        wcfg = WorkerProcessConfig(
            args.http_host, args.http_port, backend_config(args), args.ports_file
        )
        return _run(lambda stop: serve_worker(wcfg, stop))
    if args.command == "broker":
        from pairchat.broker.main import serve_broker

        bcfg = _broker_config(
            args,
            args.host,
            args.port,
            [t.strip() for t in args.logic.split(",") if t.strip()],
            args.push_listen,
            args.push_advertise,
        )
        return _run(lambda stop: serve_broker(bcfg, stop))
    print(f"unknown command {args.command}", file=sys.stderr)
    return 2
