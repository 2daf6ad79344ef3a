"""`pairchat bench`: wires the flags to the systems, the coordinator, the live
progress and the report."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

from rich.console import Console

from pairchat.bench import report, systems
from pairchat.bench.driver import BenchError, TargetResult, Workload, drive
from pairchat.bench.flags import check_flags, default_procs
from pairchat.bench.progress import LiveProgress
from pairchat.bench.scaled import Scaled, up_supports_scaled
from pairchat.bench.systems import StartError, Target

SETUP_TIMEOUT = 30.0  # three times the server's default match wait
IDLE_HOLD = 3.0  # seconds idle users stay connected before the memory is read
IDLE_SIGN_INS_PER_S = 200  # the least rate of sign-ins the setup timeout allows for


def run_bench(args: argparse.Namespace) -> int:
    """Runs `pairchat bench`; returns the exit code (2: the flags or the mode are unusable)."""
    problem = check_flags(args)
    if problem:
        print(f"pairchat bench: {problem}", file=sys.stderr)
        return 2
    urls = [u.strip() for u in args.url.split(",") if u.strip()]
    modes = [] if urls else [m.strip() for m in args.spawn.split(",") if m.strip()]
    scaled: Scaled | None = None
    if "scaled" in modes:
        if not up_supports_scaled():
            print(
                "pairchat bench: --spawn scaled is not available: this `pairchat up` has no "
                "scaled mode (no --redis-url); use --spawn embedded, or --url to drive a "
                "scaled system started by hand",
                file=sys.stderr,
            )
            return 2
        if not (args.redis_url and args.database_url):
            print(
                "pairchat bench: --spawn scaled needs --redis-url and --database-url",
                file=sys.stderr,
            )
            return 2
        scaled = Scaled(args.redis_url, args.database_url, args.logics, args.workers)
    procs = args.procs or default_procs()
    if args.idle:
        workload = Workload(
            users=args.idle,
            window=0,
            rate=0.0,
            duration=IDLE_HOLD,
            warmup=0.0,
            size=args.size,
            procs=min(procs, args.idle),
            match=False,
            setup_timeout=max(SETUP_TIMEOUT, args.idle / IDLE_SIGN_INS_PER_S),
        )
    else:
        workload = Workload(
            users=args.users,
            window=0 if args.rate > 0 else args.window,
            rate=args.rate,
            duration=args.duration,
            warmup=args.warmup,
            size=args.size,
            procs=min(procs, args.users),
            setup_timeout=SETUP_TIMEOUT,
        )
    limit_note = _raise_open_files_limit(workload.users)
    if urls:
        desc = "running system at " + ", ".join(urls)
    else:
        desc = f"spawned `pairchat up`, {args.brokers} broker(s)"
        if scaled:
            desc += f"; scaled: {args.logics} logic, {args.workers} worker(s)"
    machine = report.machine_info()

    plan: list[Callable[[], AbstractContextManager[Target]]] = []
    if urls:
        plan.append(lambda: contextlib.nullcontext(systems.running_system(urls)))
    for mode in modes:
        plan.append(
            functools.partial(
                systems.spawned_pairchat,
                workload.users,
                args.brokers,
                scaled if mode == "scaled" else None,
            )
        )
    if args.baseline:
        plan += [lambda: systems.spawned_relay("picows"), lambda: systems.spawned_relay("socketio")]
    results: list[TargetResult] = []
    failed_logs: dict[str, str] = {}
    out = Console()
    try:
        with LiveProgress() as live:
            for start in plan:
                with start() as target:
                    result = drive(target, workload, live.show)
                    results.append(result)
                    if result.tally.errors and target.log is not None:
                        failed_logs[target.name] = systems.log_tail(target.log)
    except (BenchError, StartError) as exc:
        print(f"pairchat bench: {exc}", file=sys.stderr)
        return 1
    for name, tail in failed_logs.items():
        print(
            f"pairchat bench: the run of {name} had errors; its last log lines:\n{tail}",
            file=sys.stderr,
        )
    doc = report.report_dict(workload, desc, results, machine)
    if limit_note:
        doc["notes"].append(limit_note)
    report.render(out, doc)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 0


def _raise_open_files_limit(users: int) -> str:
    """Lets this process and everything it starts (generator processes, servers)
    hold a socket per user and then some: the soft limit up to the hard one,
    and the hard one up if that is not enough and we may (CAP_SYS_RESOURCE).

    Returns:
        A note for the report when one server process cannot hold every user.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = users + 1024
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return ""
        except (ValueError, OSError):
            pass  # not allowed: take what the hard limit gives
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < users + 64:
        return (
            f"the open-files limit ({hard}, which this process may not raise) is below "
            f"what {users} users need on one server process"
        )
    return ""
