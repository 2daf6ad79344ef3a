"""`pairchat up|logic|broker|worker|migrate|purge|bench`: parse flags, wire a role,
handle signals. Each command's flags are the dataclass groups it takes
(`pairchat.config`); roles are imported only when their command runs."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pairchat.bench.flags import add_flags as bench_flags
from pairchat.broker.config import BrokerConfig, BrokerProcessConfig
from pairchat.config import Flags, LogConfig, from_args
from pairchat.errors import StartupError
from pairchat.logic.config import LogicConfig, LogicProcessConfig
from pairchat.obs import OpsConfig, setup_logging
from pairchat.storage.backends import BackendConfig
from pairchat.up import UP_OPS_PORT, UpConfig


def _parser() -> argparse.ArgumentParser:
    """Every command and its flags.

    Raises:
        StartupError: a PAIRCHAT_* variable holds a value its flag does not take.
    """
    parser = argparse.ArgumentParser(
        prog="pairchat", description="pairchat: one-to-one chat with strangers"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    f = Flags(sub.add_parser("up", help="run the whole system on this machine"))
    f.group(UpConfig)
    # The first child's operations port; the others take the next ones (up.py).
    f.group(OpsConfig, defaults={"ops_port": UP_OPS_PORT}, only=("ops_host", "ops_port"))
    groups: tuple[type[Any], ...] = (LogicConfig, BackendConfig, BrokerConfig, LogConfig)
    for group in groups:
        f.group(group)

    f = Flags(sub.add_parser("logic", help="run one logic process"))
    f.group(LogicProcessConfig)
    f.group(OpsConfig, defaults={"ops_port": 7001})
    groups = (LogicConfig, BackendConfig, BrokerConfig, LogConfig)
    for group in groups:
        f.group(group)

    f = Flags(sub.add_parser("worker", help="run one delivery worker (scaled mode)"))
    f.group(OpsConfig, defaults={"ops_port": 7002})
    f.group(BackendConfig, hide=("data_dir",))
    f.group(LogConfig)

    f = Flags(sub.add_parser("broker", help="run one broker process"))
    f.group(BrokerProcessConfig)
    f.group(OpsConfig, defaults={"ops_port": 7003})
    groups = (BrokerConfig, LogConfig)
    for group in groups:
        f.group(group)

    f = Flags(sub.add_parser("migrate", help="create or upgrade the PostgreSQL schema"))
    f.group(BackendConfig, only=("database_url", "db_schema"))
    f.group(LogConfig)

    f = Flags(sub.add_parser("purge", help="apply the retention policy to the store once"))
    f.group(LogicConfig, only=("retention_days",))
    f.group(BackendConfig, only=("data_dir", "database_url", "db_schema"))
    f.switch("--dry-run", help="only count what would be deleted")
    f.group(LogConfig)

    bench = sub.add_parser(
        "bench", help="measure messages per second and latency, against baselines if asked"
    )
    bench_flags(bench)
    return parser


def _run(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> int:
    """Run one role's coroutine on uvloop until SIGINT or SIGTERM sets its stop
    event; a StartupError is printed for the operator and exits with 1."""
    import uvloop

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        uvloop.run(runner())
    except StartupError as exc:
        # what the operator must do next, never a password
        print(f"pairchat: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except StartupError as exc:
        print(f"pairchat: {exc}", file=sys.stderr)
        return 2
    if args.command == "bench":
        from pairchat.bench import run_bench

        return run_bench(args)
    log = from_args(LogConfig, args)
    if args.command == "up":
        from pairchat.up import run_up

        setup_logging(log.log_format, log.log_level)
        return run_up(
            from_args(UpConfig, args),
            from_args(LogicConfig, args),
            from_args(BackendConfig, args),
            from_args(BrokerConfig, args),
            from_args(OpsConfig, args),
            log,
        )
    setup_logging(log.log_format, log.log_level, role=args.command)
    if args.command == "migrate":
        from pairchat.storage.store_postgres_schema import migrate_command

        backends = from_args(BackendConfig, args)
        return migrate_command(backends.database_url, backends.db_schema)
    if args.command == "purge":
        from pairchat.logic.purge import purge_command

        logic = from_args(LogicConfig, args)
        return purge_command(from_args(BackendConfig, args), logic.retention_days, args.dry_run)
    if args.command == "logic":
        from pairchat.embedded import LogicProcess, serve_logic_process

        cfg = LogicProcess(
            from_args(LogicProcessConfig, args),
            from_args(LogicConfig, args),
            from_args(BackendConfig, args),
            from_args(BrokerConfig, args),
            from_args(OpsConfig, args),
        )
        return _run(lambda stop: serve_logic_process(cfg, stop))
    if args.command == "worker":
        from pairchat.delivery.main import serve_worker

        ops, backends = from_args(OpsConfig, args), from_args(BackendConfig, args)
        return _run(lambda stop: serve_worker(ops, backends, stop))
    if args.command == "broker":
        from pairchat.broker.main import serve_broker

        process, broker = from_args(BrokerProcessConfig, args), from_args(BrokerConfig, args)
        ops = from_args(OpsConfig, args)
        return _run(lambda stop: serve_broker(process, broker, ops, stop))
    print(f"unknown command {args.command}", file=sys.stderr)
    return 2
