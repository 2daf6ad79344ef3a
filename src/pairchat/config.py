"""Command-line flags, each also settable as a PAIRCHAT_* environment variable
(flags win): `--offline-grace` is PAIRCHAT_OFFLINE_GRACE."""

from __future__ import annotations

import argparse
import os
from typing import Any

from pairchat.backends import BackendConfig

ENV_PREFIX = "PAIRCHAT_"


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


class Flags:
    """Adds flags to a parser, taking each default from the environment."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def add(
        self, flag: str, *, type: Any = str, default: Any = None, help: str = "", **kwargs: Any
    ) -> None:
        env = env_name(flag)
        raw = os.environ.get(env)
        value = default
        if raw is not None:
            try:
                value = type(raw)
            except ValueError:
                raise SystemExit(f"{env}={raw!r} is not a valid value for {flag}") from None
            choices = kwargs.get("choices")
            if choices is not None and value not in choices:
                raise SystemExit(f"{env}={raw!r}: {flag} takes one of {', '.join(choices)}")
        if help != argparse.SUPPRESS:
            help += f" (default: {default}; env {env})"
        self.parser.add_argument(flag, type=type, default=value, help=help, **kwargs)

    def switch(self, flag: str, *, help: str) -> None:
        """An on/off flag; its variable is on for 1, true, yes or on."""
        env = env_name(flag)
        raw = os.environ.get(env, "")
        on = raw.strip().lower() in ("1", "true", "yes", "on")
        if raw and not on and raw.strip().lower() not in ("0", "false", "no", "off"):
            raise SystemExit(f"{env}={raw!r} is not a valid value for {flag} (true or false)")
        self.parser.add_argument(
            flag, action="store_true", default=on, help=f"{help} (default: off; env {env})"
        )


def logging_flags(f: Flags) -> None:
    f.add(
        "--log-format",
        default="kv",
        choices=["kv", "json"],
        help="one line per event as key=value pairs or JSON",
    )
    f.add(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level",
    )


def logic_flags(f: Flags) -> None:
    f.add("--data-dir", default="./data", help="where the embedded SQLite store lives")
    f.add(
        "--offline-grace",
        type=float,
        default=20.0,
        help="seconds a disconnected account keeps its sessions before it is logged out",
    )
    f.add(
        "--match-wait",
        type=float,
        default=10.0,
        help="seconds MATCH waits for a partner before answering code 4",
    )
    f.add("--max-sessions", type=int, default=16, help="open sessions per account")


def broker_flags(f: Flags) -> None:
    f.add(
        "--max-content",
        type=int,
        default=4096,
        help="characters in a DIALOGUE's content (over it: code 9)",
    )
    f.add(
        "--max-frame-bytes",
        type=int,
        default=65536,
        help="bytes in one client frame (over it: code 9)",
    )
    f.add(
        "--rate-limit",
        type=float,
        default=200.0,
        help="requests per second per connection (over it: code 8)",
    )
    f.add(
        "--rate-burst",
        type=float,
        default=400.0,
        help="requests a connection may send at once before the rate applies",
    )
    f.add(
        "--send-buffer",
        type=int,
        default=1 << 20,
        help="bytes queued to a client that does not read before it is disconnected",
    )
    f.add(
        "--heartbeat",
        type=float,
        default=15.0,
        help="seconds of silence before the broker pings a client; a client that does not "
        "answer within half of it more is dropped",
    )
    f.add("--max-conns-per-ip", type=int, default=4096, help="WebSocket connections per address")
    f.add(
        "--allowed-origins",
        default="",
        help="comma-separated browser origins allowed besides the page's own ('*' for any)",
    )


def backend_flags(f: Flags) -> None:
    """The scaled mode's engines; without them the embedded backends are used."""
    f.add(
        "--database-url",
        default="",
        help="PostgreSQL URL for the durable store (scaled mode; with --redis-url)",
    )
    f.add("--schema", default="public", help="PostgreSQL schema holding pairchat's tables")
    f.add(
        "--redis-url",
        default="",
        help="Redis URL for routing, match queue and inbox (scaled mode; with --database-url)",
    )
    f.add(
        "--redis-prefix",
        default="pairchat:",
        help="prefix of every Redis key: separates deployments sharing one Redis",
    )


def backend_config(args: Any) -> BackendConfig:
    return BackendConfig(
        data_dir=args.data_dir,
        database_url=args.database_url,
        db_schema=args.schema,
        redis_url=args.redis_url,
        redis_prefix=args.redis_prefix,
    )
