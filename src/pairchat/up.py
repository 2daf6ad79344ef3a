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
dying stops the whole system with exit code 1. A port of --port or --ops-port
that is taken stops it with exit code 1 before anything starts, in one line
that names the flag picking another.

The children get the flag groups `up` was given, forwarded whole by
`config.to_argv`, so a flag added to a group reaches them with no change here;
secrets (the moderation API's token) reach them through the environment they
inherit, never on their command lines.

Every child serves /healthz and /metrics on an operations listener of its own
at --ops-host; their ports follow --ops-port in the order of `child_names`
(logic-0, logic-1, ..., worker-0, ..., then the broker processes), and `up`
prints them once the system is up. --ops-port 0 lets each child pick a free
port, which it reports through its ports file like its gRPC port.
"""

from __future__ import annotations

import dataclasses
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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pairchat.broker.config import BrokerConfig
from pairchat.config import LogConfig, option, secret_env, to_argv
from pairchat.errors import cannot_listen
from pairchat.logic.config import LogicConfig
from pairchat.obs import OpsConfig, event
from pairchat.ports import listen_error
from pairchat.storage.backends import BackendConfig

log = logging.getLogger("pairchat.up")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
RESTART_WINDOW = 60.0  # seconds: a child restarted more than MAX_RESTARTS times in it
MAX_RESTARTS = 5  # is given up on, and the whole system stops with exit code 1
POLL = 0.05  # seconds between looks at a starting child
WATCH = 0.2  # seconds between looks at the running children
UP_OPS_PORT = 9090  # the first child's operations port by default


@dataclass(frozen=True, slots=True)
class UpConfig:
    """The shape of the system `pairchat up` runs."""

    host: str = option("127.0.0.1", "address the brokers listen on")
    port: int = option(8080, "first broker's port (broker i: port+i)")
    brokers: int = option(1, "broker processes")
    logics: int = option(1, "logic processes (more than one needs the scaled mode)")
    workers: int = option(
        1, "delivery worker processes in the scaled mode (embedded: inside logic)"
    )


def child_names(up: UpConfig, scaled: bool) -> list[str]:
    """The children in the order they start and take operations ports from
    --ops-port: logic processes, workers (scaled), then the broker processes
    (embedded, broker 0 runs inside logic-0 and shares its listener)."""
    workers = up.workers if scaled else 0
    return [
        *(f"logic-{j}" for j in range(up.logics)),
        *(f"worker-{k}" for k in range(workers)),
        *(f"broker-{i}" for i in range(0 if scaled else 1, up.brokers)),
    ]


def _reachable(host: str) -> str:
    """The address to reach a listener bound to `host` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _pairchat(argv: list[str]) -> subprocess.Popen[bytes]:
    """`pairchat ARGV` as a child, with this very interpreter."""
    return subprocess.Popen([sys.executable, "-m", "pairchat", *argv])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


class Supervisor:
    """The children of one `pairchat up`: started one by one, restarted when
    they die on their own, stopped in the order that loses nothing."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir  # where children write the ports they bound
        self.stopping = False  # set by a signal: every wait gives up at once
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._argv: dict[str, list[str]] = {}
        self._restarts: dict[str, list[float]] = {}

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start `pairchat ARGV` as the child `name`."""
        proc = _pairchat(argv)
        self._children.append((name, proc))
        self._argv[name] = argv
        return proc

    def ports_file(self, name: str) -> str:
        return str(self.run_dir / f"{name}.ports")

    def bound_ports(self, name: str, proc: subprocess.Popen[bytes]) -> dict[str, int] | None:
        """The ports a child bound (it picks free ones: no race with other
        programs), once it wrote them; its restarts then reuse them."""
        path = Path(self.ports_file(name))
        deadline = time.monotonic() + START_TIMEOUT
        while not path.exists():
            if proc.poll() is not None or self.stopping or time.monotonic() > deadline:
                if not self.stopping:
                    event(
                        log,
                        "child failed to start",
                        logging.ERROR,
                        child=name,
                        exit_code=proc.poll(),
                    )
                return None
            time.sleep(POLL)
        ports: dict[str, int] = json.loads(path.read_text())
        argv = self._argv[name]
        for flag, key in (("--listen", "grpc"), ("--ops-port", "ops")):
            if flag in argv and key in ports:
                i = argv.index(flag) + 1
                argv[i] = (
                    f"{argv[i].rsplit(':', 1)[0]}:{ports[key]}"
                    if flag == "--listen"
                    else str(ports[key])
                )
        return ports

    def wait_healthy(self, name: str, proc: subprocess.Popen[bytes], url: str) -> bool:
        """Wait until `url` answers 200; False if the child died, the wait timed
        out, or the system is stopping."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not self.stopping:
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
            time.sleep(POLL)
        if not self.stopping:
            event(log, "child not healthy in time", logging.ERROR, child=name, url=url)
        return False

    def watch(self) -> int:
        """Restart children that die until stopped; 1 if one kept dying."""
        while not self.stopping:
            for index, (_, proc) in enumerate(self._children):
                if proc.poll() is not None and not self.stopping and not self._restart(index):
                    self.stopping = True
                    return 1
            time.sleep(WATCH)
        return 0

    def _restart(self, index: int) -> bool:
        """Start a child that died again; False if it keeps dying."""
        name, dead = self._children[index]
        now = time.monotonic()
        recent = [t for t in self._restarts.get(name, []) if now - t < RESTART_WINDOW] + [now]
        self._restarts[name] = recent
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
        self._children[index] = (
            name,
            _pairchat(self._argv[name]),
        )
        return True

    def stop_all(self) -> None:
        """Brokers first (they close their clients with 1001, "going away"), then
        workers, then logic."""
        for role in ("broker", "worker", "logic"):
            group = [c for c in self._children if c[0].startswith(role)]
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


def _check(up: UpConfig, backends: BackendConfig, ops: OpsConfig) -> str:
    """Why this shape cannot run, or ""."""
    last = ops.ops_port + len(child_names(up, backends.scaled)) - 1
    if ops.ops_port and (ops.ops_port < 0 or last > 65535):
        return f"--ops-port {ops.ops_port}: the children need ports up to {last} (at most 65535)"
    if bool(backends.redis_url) != bool(backends.database_url):
        return "the scaled mode needs both --redis-url and --database-url"
    if not backends.scaled and up.logics > 1:
        return (
            "more than one logic process needs the scaled mode (--redis-url and "
            "--database-url); the embedded store has one writer"
        )
    if up.logics < 1 or up.brokers < 1 or (backends.scaled and up.workers < 1):
        return "needs at least one logic, one broker and (scaled) one worker"
    return ""


def _taken(up: UpConfig, ops: OpsConfig, scaled: bool) -> str:
    """Why a port `up` would give a child cannot be bound now, or "": told
    before any child starts, with the flag of `up` that picks another."""
    wanted = [(f"broker-{i}", up.host, up.port + i, "--port", "--host") for i in range(up.brokers)]
    for i, name in enumerate(child_names(up, scaled) if ops.ops_port else ()):
        what = f"the operations listener of {name}"
        wanted.append((what, ops.ops_host, ops.ops_port + i, "--ops-port", "--ops-host"))
    for what, host, port, flag, host_flag in wanted:
        error = listen_error(host, port)
        if error is not None:
            return str(cannot_listen(what, f"{host}:{port}", error, flag, host_flag))
    return ""


def run_up(
    up: UpConfig,
    logic: LogicConfig,
    backends: BackendConfig,
    broker: BrokerConfig,
    ops: OpsConfig,
    logs: LogConfig,
) -> int:
    problem = _check(up, backends, ops)
    if problem:
        print(f"pairchat up: {problem}", file=sys.stderr)
        return 2
    taken = _taken(up, ops, backends.scaled)
    if taken:
        print(f"pairchat up: {taken}", file=sys.stderr)
        return 1
    data_dir = Path(backends.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(secret_env(logic))  # inherited by every child, restarts included
    supervisor = Supervisor(Path(tempfile.mkdtemp(prefix="pairchat-up-")))

    def stop(signum: int, _: FrameType | None) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return _start(
            supervisor,
            up,
            logic,
            dataclasses.replace(backends, data_dir=str(data_dir)),
            broker,
            ops,
            logs,
        )
    finally:
        supervisor.stop_all()
        shutil.rmtree(supervisor.run_dir, ignore_errors=True)


def _start(
    supervisor: Supervisor,
    up: UpConfig,
    logic: LogicConfig,
    backends: BackendConfig,
    broker: BrokerConfig,
    ops: OpsConfig,
    logs: LogConfig,
) -> int:
    """Start every child in order, then watch them; the exit code of `up`."""
    common = to_argv(logs)
    if backends.scaled:
        # The cluster on one machine sets its own schema up; real deployments
        # run `pairchat migrate` as a step of their own.
        migrated = subprocess.run(
            [
                sys.executable,
                "-m",
                "pairchat",
                "migrate",
                "--database-url",
                backends.database_url,
                "--schema",
                backends.db_schema,
                *common,
            ]
        )
        if migrated.returncode != 0:
            return 1
    order = child_names(up, backends.scaled)
    ops_urls: dict[str, str] = {}

    def start(name: str, argv: list[str], *public: str) -> dict[str, int] | None:
        """Spawn a child with its operations listener, wait until it is healthy
        there and at the `public` URLs; its bound ports, None if it failed."""
        port = ops.ops_port + order.index(name) if ops.ops_port else 0
        proc = supervisor.spawn(
            name,
            [
                *argv,
                "--ops-host",
                ops.ops_host,
                "--ops-port",
                str(port),
                *common,
                "--ports-file",
                supervisor.ports_file(name),
            ],
        )
        ports = supervisor.bound_ports(name, proc)
        if ports is None:
            return None
        url = f"http://{_reachable(ops.ops_host)}:{ports['ops']}"
        for check in (f"{url}/healthz", *public):
            if not supervisor.wait_healthy(name, proc, check):
                return None
        ops_urls[name] = url
        return ports

    check_host = _reachable(up.host)
    # Embedded, broker 0 runs inside the logic process.
    in_process = (
        []
        if backends.scaled
        else [
            "--broker-host",
            up.host,
            "--broker-port",
            str(up.port),
            "--broker-id",
            "broker-0",
            *to_argv(broker),
        ]
    )
    logic_targets: list[str] = []
    for j in range(up.logics):
        argv = ["logic", "--listen", "127.0.0.1:0", *to_argv(backends), *to_argv(logic)]
        public = [f"http://{check_host}:{up.port}/healthz"] if in_process else []
        ports = start(f"logic-{j}", [*argv, *in_process], *public)
        if ports is None:
            return 0 if supervisor.stopping else 1
        logic_targets.append(f"127.0.0.1:{ports['grpc']}")
    for k in range(up.workers if backends.scaled else 0):
        if start(f"worker-{k}", ["worker", *to_argv(backends)]) is None:
            return 0 if supervisor.stopping else 1
    for i in range(1 if in_process else 0, up.brokers):
        port = up.port + i
        # Each broker prefers another logic first (client-side balancing); the
        # rest of the list is its failover order.
        first = i % len(logic_targets)
        targets = ",".join(logic_targets[first:] + logic_targets[:first])
        argv = [
            "broker",
            "--host",
            up.host,
            "--port",
            str(port),
            "--logic",
            targets,
            "--broker-id",
            f"broker-{i}",
            *to_argv(broker),
        ]
        if start(f"broker-{i}", argv, f"http://{check_host}:{port}/healthz") is None:
            return 0 if supervisor.stopping else 1
    urls = ", ".join(f"http://{up.host}:{up.port + i}" for i in range(up.brokers))
    listeners = ",".join(f"{name}={url}" for name, url in ops_urls.items())
    event(
        log, "pairchat is up", url=urls, ops=listeners, data_dir=backends.data_dir, pid=os.getpid()
    )
    print(_up_banner(urls, ops_urls, in_process=bool(in_process)), flush=True)
    return supervisor.watch()


def _up_banner(urls: str, ops_urls: dict[str, str], *, in_process: bool) -> str:
    """What `up` prints once every child is healthy: the brokers' URLs, then one
    line per child with its operations listener."""
    lines = [
        f"pairchat is up: open {urls} (Ctrl-C stops it)",
        "operations listeners (GET /healthz, /metrics):",
    ]
    for name, url in ops_urls.items():
        inside = " (with broker-0)" if in_process and name == "logic-0" else ""
        lines.append(f"  {name:<10} {url}{inside}")
    return "\n".join(lines)
