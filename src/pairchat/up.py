"""`pairchat up`: a whole system on this machine, each role its own process.

Embedded (the default): one logic process with the SQLite store, the delivery
worker and the first broker, which calls logic and takes pushes without gRPC;
further brokers (--brokers N) are processes of their own. Scaled (--redis-url
and --database-url): the schema migrated, then --logics logic processes and
--workers worker processes on PostgreSQL and Redis, then the brokers on port,
port+1, ..., each preferring a different logic. Each is started once the
previous is healthy. Ctrl-C or SIGTERM stops every child. A child that dies on
its own is started again (the others heal around it: brokers fail over to
another logic, workers take over the dead one's inbox shards); one that keeps
dying stops the whole system with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import FrameType

from pairchat.obs import event

log = logging.getLogger("pairchat.up")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
RESTART_WINDOW = 60.0  # seconds: a child restarted more than MAX_RESTARTS times in it
MAX_RESTARTS = 5  # is given up on, and the whole system stops with exit code 1


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def _common(args: argparse.Namespace) -> list[str]:
    return ["--log-format", args.log_format, "--log-level", args.log_level]


def _broker_args(args: argparse.Namespace) -> list[str]:
    """The flags every broker gets, in its own process or in logic's."""
    return [
        "--max-content",
        str(args.max_content),
        "--max-frame-bytes",
        str(args.max_frame_bytes),
        "--rate-limit",
        str(args.rate_limit),
        "--rate-burst",
        str(args.rate_burst),
        "--send-buffer",
        str(args.send_buffer),
        "--heartbeat",
        str(args.heartbeat),
        "--max-conns-per-ip",
        str(args.max_conns_per_ip),
        "--allowed-origins",
        args.allowed_origins,
    ]


def run_up(args: argparse.Namespace) -> int:
    if bool(args.redis_url) != bool(args.database_url):
        print(
            "pairchat up: the scaled mode needs both --redis-url and --database-url",
            file=sys.stderr,
        )
        return 2
    if not args.redis_url and args.logics > 1:
        print(
            "pairchat up: more than one logic process needs the scaled mode "
            "(--redis-url and --database-url); the embedded store has one writer",
            file=sys.stderr,
        )
        return 2
    if args.logics < 1 or args.brokers < 1 or (args.redis_url and args.workers < 1):
        print(
            "pairchat up: needs at least one logic, one broker and (scaled) one worker",
            file=sys.stderr,
        )
        return 2
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="pairchat-up-"))  # the children's port files
    py = [sys.executable, "-m", "pairchat"]
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    argvs: dict[str, list[str]] = {}
    restarts: dict[str, list[float]] = {}

    def spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(py + argv)
        children.append((name, proc))
        argvs[name] = argv
        return proc

    def restart(index: int) -> bool:
        """Start a child that died again; False if it keeps dying."""
        name, dead = children[index]
        now = time.monotonic()
        recent = [t for t in restarts.get(name, []) if now - t < RESTART_WINDOW] + [now]
        restarts[name] = recent
        event(
            log,
            "child exited",
            logging.ERROR,
            child=name,
            exit_code=dead.returncode,
            restarts=len(recent),
        )
        if len(recent) > MAX_RESTARTS:
            return False
        children[index] = (name, subprocess.Popen(py + argvs[name]))
        return True

    def bound_ports(name: str, proc: subprocess.Popen[bytes]) -> dict[str, int] | None:
        """The ports a child bound (it picks free ones: no race with other
        programs), once it wrote them; then its restarts reuse them."""
        path = run_dir / f"{name}.ports"
        deadline = time.monotonic() + START_TIMEOUT
        while not path.exists():
            if proc.poll() is not None or stopping or time.monotonic() > deadline:
                if not stopping:
                    event(
                        log,
                        "child failed to start",
                        logging.ERROR,
                        child=name,
                        exit_code=proc.poll(),
                    )
                return None
            time.sleep(0.05)
        ports: dict[str, int] = json.loads(path.read_text())
        argv = argvs[name]
        for flag, key in (("--listen", "grpc"), ("--http-port", "http")):
            if flag in argv and key in ports:
                i = argv.index(flag) + 1
                argv[i] = (
                    f"{argv[i].rsplit(':', 1)[0]}:{ports[key]}"
                    if flag == "--listen"
                    else str(ports[key])
                )
        return ports

    def wait_healthy(name: str, proc: subprocess.Popen[bytes], url: str) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not stopping:
            if proc.poll() is not None:
                event(
                    log,
                    "child failed to start",
                    logging.ERROR,
                    child=name,
                    exit_code=proc.returncode,
                )
                return False
            if _healthy(url):
                return True
            time.sleep(0.05)
        if not stopping:
            event(log, "child not healthy in time", logging.ERROR, child=name, url=url)
        return False

    scaled = bool(args.redis_url or args.database_url)
    backend_args = (
        [
            "--database-url",
            args.database_url,
            "--schema",
            args.schema,
            "--redis-url",
            args.redis_url,
            "--redis-prefix",
            args.redis_prefix,
        ]
        if scaled
        else ["--data-dir", str(data_dir)]
    )
    exit_code = 0
    try:
        if scaled:
            # The cluster on one machine sets its own schema up; real deployments
            # run `pairchat migrate` as a step of their own.
            migrated = subprocess.run(
                [
                    *py,
                    "migrate",
                    "--database-url",
                    args.database_url,
                    "--schema",
                    args.schema,
                    *_common(args),
                ]
            )
            if migrated.returncode != 0:
                return 1
        host_for_check = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        # Embedded, broker 0 runs inside the logic process.
        in_process = (
            []
            if scaled
            else [
                "--broker-host",
                args.host,
                "--broker-port",
                str(args.port),
                "--broker-id",
                "broker-0",
                *_broker_args(args),
            ]
        )
        logic_targets: list[str] = []
        for j in range(args.logics):
            name = f"logic-{j}"
            logic = spawn(
                name,
                [
                    "logic",
                    "--listen",
                    "127.0.0.1:0",
                    "--http-port",
                    "0",
                    *backend_args,
                    "--offline-grace",
                    str(args.offline_grace),
                    "--match-wait",
                    str(args.match_wait),
                    "--max-sessions",
                    str(args.max_sessions),
                    *in_process,
                    *_common(args),
                    "--ports-file",
                    str(run_dir / f"{name}.ports"),
                ],
            )
            ports = bound_ports(name, logic)
            if ports is None or not wait_healthy(
                name, logic, f"http://127.0.0.1:{ports['http']}/healthz"
            ):
                return 0 if stopping else 1
            if in_process and not wait_healthy(
                name, logic, f"http://{host_for_check}:{args.port}/healthz"
            ):
                return 0 if stopping else 1
            logic_targets.append(f"127.0.0.1:{ports['grpc']}")
        for k in range(args.workers if scaled else 0):
            name = f"worker-{k}"
            worker = spawn(
                name,
                [
                    "worker",
                    "--http-port",
                    "0",
                    *backend_args,
                    *_common(args),
                    "--ports-file",
                    str(run_dir / f"{name}.ports"),
                ],
            )
            ports = bound_ports(name, worker)
            if ports is None or not wait_healthy(
                name, worker, f"http://127.0.0.1:{ports['http']}/healthz"
            ):
                return 0 if stopping else 1
        for i in range(1 if in_process else 0, args.brokers):
            port = args.port + i
            # Each broker prefers another logic first (client-side balancing); the
            # rest of the list is its failover order.
            first = i % len(logic_targets)
            targets = ",".join(logic_targets[first:] + logic_targets[:first])
            broker = spawn(
                f"broker-{i}",
                [
                    "broker",
                    "--host",
                    args.host,
                    "--port",
                    str(port),
                    "--logic",
                    targets,
                    "--broker-id",
                    f"broker-{i}",
                    *_broker_args(args),
                    *_common(args),
                ],
            )
            if not wait_healthy(f"broker-{i}", broker, f"http://{host_for_check}:{port}/healthz"):
                return 0 if stopping else 1
        urls = ", ".join(f"http://{args.host}:{args.port + i}" for i in range(args.brokers))
        event(log, "pairchat is up", url=urls, data_dir=str(data_dir), pid=os.getpid())
        print(f"pairchat is up: open {urls} (Ctrl-C stops it)", flush=True)
        while not stopping:
            for index, (_, proc) in enumerate(children):
                if proc.poll() is not None and not stopping and not restart(index):
                    exit_code = 1
                    stopping = True
                    break
            time.sleep(0.2)
    finally:
        _stop_all(children)
        shutil.rmtree(run_dir, ignore_errors=True)
    return exit_code


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Brokers first (they close their clients with 1001, "going away"), then
    workers, then logic."""
    brokers = [c for c in children if c[0].startswith("broker")]
    workers = [c for c in children if c[0].startswith("worker")]
    logic = [c for c in children if c[0].startswith("logic")]
    for group in (brokers, workers, logic):
        # Each group has its share of the stop time, so one that hangs cannot keep
        # the next from stopping cleanly; what does not stop in time is killed
        # (nothing acknowledged is lost that way: it is in the store).
        deadline = time.monotonic() + STOP_TIMEOUT / 4
        for _, proc in group:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in group:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                event(log, "child killed", logging.WARNING, child=name)
                proc.kill()
                proc.wait()
    event(log, "pairchat stopped")
