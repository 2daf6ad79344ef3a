"""The flags of `pairchat bench`, kept apart from the rest of the package so
that building the command line does not import the load generator."""

from __future__ import annotations

import argparse
import os

from pairchat.bench.wire import MIN_CONTENT
from pairchat.config import Flags


def default_procs() -> int:
    """One generator process per core: the generator's per-message work is about
    what the relay's is, so fewer processes than cores would be the first to
    saturate, more only add switching."""
    return max(2, os.cpu_count() or 2)


def add_flags(bench: argparse.ArgumentParser) -> None:
    """The `pairchat bench` flags (cli.py's subparser)."""
    f = Flags(bench)
    f.add(
        "--url",
        default="",
        help="drive the running system at these broker WebSocket URLs (comma-separated; "
        "users are spread over them) instead of starting one; it should run with "
        "--max-sessions 1 so that MATCH pairs the users two by two",
    )
    f.add(
        "--spawn",
        default="embedded",
        help="the system(s) to start when there is no --url, one after the other: "
        "embedded `pairchat up`, its scaled mode (Redis + PostgreSQL, needs "
        "--redis-url and --database-url), or embedded,scaled",
    )
    f.add("--brokers", type=int, default=1, help="broker processes of the spawned system")
    f.add("--redis-url", default="", help="Redis of --spawn scaled")
    f.add("--database-url", default="", help="PostgreSQL of --spawn scaled")
    f.add("--logics", type=int, default=1, help="logic processes of --spawn scaled")
    f.add("--workers", type=int, default=1, help="delivery worker processes of --spawn scaled")
    f.add("--users", type=int, default=1000, help="users (an even number), in users/2 sessions")
    f.add(
        "--window",
        type=int,
        default=1,
        help="closed loop: DIALOGUEs each user keeps in flight, the next sent as soon as "
        "one is answered",
    )
    f.add(
        "--rate",
        type=float,
        default=0.0,
        help="open loop instead: DIALOGUEs per second each user sends, whatever the answers",
    )
    f.add("--duration", type=float, default=10.0, help="seconds measured")
    f.add("--warmup", type=float, default=2.0, help="seconds of sending before measuring")
    f.add(
        "--size",
        type=int,
        default=100,
        help=f"content characters per message (at least {MIN_CONTENT}: the send time)",
    )
    f.add(
        "--procs",
        type=int,
        default=0,
        help=f"load-generator processes (0: {default_procs()}, one per core)",
    )
    f.add(
        "--idle",
        type=int,
        default=0,
        help="instead of chatting, hold this many signed-in idle users for a few seconds "
        "and report how much each server process grew per user",
    )
    bench.add_argument(
        "--baseline",
        action="store_true",
        help="also run the same load against an in-memory picows relay (the "
        "ceiling) and a python-socketio relay, and print the ratios",
    )
    f.add("--json", default="", help="also write the report to this file")


def check_flags(args: argparse.Namespace) -> str:
    """An error message for flags that cannot work together, or ""."""
    if args.users < 2 or args.users % 2:
        return "--users must be an even number of at least 2"
    if args.size < MIN_CONTENT:
        return f"--size must be at least {MIN_CONTENT}"
    if args.rate < 0 or args.window < 0 or (args.rate == 0 and args.window == 0):
        return "give --window > 0 (closed loop) or --rate > 0 (open loop)"
    if args.duration <= 0 or args.warmup < 0:
        return "--duration must be positive and --warmup not negative"
    if any(m.strip() not in ("embedded", "scaled") for m in args.spawn.split(",")):
        return "--spawn takes embedded, scaled or embedded,scaled"
    if args.idle < 0:
        return "--idle must not be negative"
    if min(args.brokers, args.logics, args.workers) < 1 or args.procs < 0:
        return "--brokers, --logics and --workers must be at least 1, --procs not negative"
    return ""
