"""The systems a bench run drives: a `pairchat up` it spawns, one already
running at given URLs, or a baseline relay; and what it reads of their
processes (CPU time, peak RSS).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from pairchat.bench.scaled import Scaled
from pairchat.bench.wire import SIO_PATH, Dialect
from pairchat.config import ENV_PREFIX
from pairchat.ports import free_port_range

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_TIMESTAMP = re.compile(r"^ts=\S+ ")  # pairchat's key=value log lines start with one


class StartError(Exception):
    """A system could not be started or is not available."""


@dataclass(frozen=True)
class ServerProcess:
    label: str
    pid: int


@dataclass
class Target:
    """What the load generator drives.

    Attributes:
        name: how the report calls it.
        urls: WebSocket URLs; users are spread over them round-robin.
        dialect: the framing the server speaks.
        root_pid: the process the bench started (0 for a system it did not start);
            the server processes are it or its children.
    """

    name: str
    urls: tuple[str, ...]
    dialect: Dialect
    root_pid: int = 0
    log: Path | None = None
    notes: list[str] = field(default_factory=list)

    def processes(self) -> list[ServerProcess]:
        """The processes serving the load: the children of a supervisor such as
        `pairchat up` (labelled by their role), or the root itself."""
        if not self.root_pid:
            return []
        try:
            root = psutil.Process(self.root_pid)
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        if not children:
            return [ServerProcess(self.name, self.root_pid)]
        return [ServerProcess(_role_of(child), child.pid) for child in children]


def _role_of(proc: psutil.Process) -> str:
    """`pairchat broker --broker-id broker-0 ...` -> "broker-0"; `pairchat logic` -> "logic";
    a logic process with a broker inside (`--broker-port`) -> "logic+broker-0"; the
    embedded store's writer process -> "sqlite-writer"."""
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return str(proc.pid)
    if "pairchat.storage.store_sqlite_writer" in argv:
        return "sqlite-writer"
    if "--broker-id" in argv:
        broker = argv[argv.index("--broker-id") + 1]
        return f"logic+{broker}" if "logic" in argv else broker
    for role in ("logic", "broker", "worker"):
        if role in argv:
            return role
    return f"{proc.name()}-{proc.pid}"


# --- reading processes ----------------------------------------------------
def cpu_seconds(processes: list[ServerProcess]) -> dict[str, float]:
    """User + system CPU seconds used so far by each process."""
    used: dict[str, float] = {}
    for p in processes:
        try:
            times = psutil.Process(p.pid).cpu_times()
        except psutil.Error:
            continue
        used[p.label] = times.user + times.system
    return used


@dataclass(frozen=True)
class MachineTime:
    """CPU time of the whole machine so far (/proc/stat), in clock ticks."""

    busy: int  # everything but idle and iowait
    interrupts: int  # irq + softirq: on loopback, mostly the kernel's TCP receive path
    total: int


def machine_time() -> MachineTime:
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return MachineTime(0, 0, 0)
    fields += [0] * (8 - len(fields))
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    # Interrupt time is charged to no process, so it is counted apart from "others".
    return MachineTime(total - idle, fields[5] + fields[6], total)


def _status_kib(processes: list[ServerProcess], key: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for p in processes:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith(key):
                    found[p.label] = int(line.split()[1])
    return found


def peak_rss_kib(processes: list[ServerProcess]) -> dict[str, int]:
    """Each process's peak resident set (VmHWM), in KiB."""
    return _status_kib(processes, "VmHWM:")


def rss_kib(processes: list[ServerProcess]) -> dict[str, int]:
    """Each process's resident set now (VmRSS), in KiB."""
    return _status_kib(processes, "VmRSS:")


# --- starting systems -----------------------------------------------------
def _healthy(url: str) -> bool:
    try:
        with _NO_PROXY.open(url, timeout=1.0) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def _env_without_flags() -> dict[str, str]:
    """This environment less the PAIRCHAT_* variables: the flags given to the
    spawned system are all it runs with (a PAIRCHAT_REDIS_URL meant for the
    bench must not turn an embedded system into a scaled one)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(log: Path, lines: int = 20) -> str:
    """The last distinct lines a server wrote (stdout and stderr), for when it
    failed: a line repeated but for its timestamp is shown once, with a count,
    so that one error logged a thousand times does not hide the others."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        key = _TIMESTAMP.sub("", line, count=1)
        # Popped and re-inserted: the dict keeps the order of last appearance.
        counts[key] = counts.pop(key, 0) + 1
    return "\n".join(f"{k} (x{n})" if n > 1 else k for k, n in list(counts.items())[-lines:])


@contextlib.contextmanager
def spawned_pairchat(users: int, brokers: int, scaled: Scaled | None) -> Iterator[Target]:
    """`pairchat up` on free ports in a temporary data dir (embedded) or on Redis
    and PostgreSQL (scaled), with the per-connection limits raised above the
    load and one session per account, so that MATCH pairs the users two by two."""
    with tempfile.TemporaryDirectory(prefix="pairchat-bench-") as data:
        port = free_port_range(brokers)
        log = Path(data) / "pairchat-up.log"
        argv = [
            sys.executable,
            "-m",
            "pairchat",
            "up",
            "--port",
            str(port),
            "--data-dir",
            data,
            "--brokers",
            str(brokers),
            # Each child's /healthz and /metrics on a free port: no clash with
            # a `pairchat up` already running on this machine.
            "--ops-port",
            "0",
            "--max-sessions",
            "1",
            "--rate-limit",
            "1000000",
            "--rate-burst",
            "1000000",
            "--max-conns-per-ip",
            str(max(4096, users * 2)),
            "--max-accounts-per-ip",  # every user comes from this machine
            "0",
            "--log-level",
            "warning",
            *(scaled.argv() if scaled else []),
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=_env_without_flags()
            )
        try:
            health = [f"http://127.0.0.1:{port + i}/healthz" for i in range(brokers)]
            deadline = time.monotonic() + START_TIMEOUT
            while health:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise StartError(f"pairchat up did not start:\n{log_tail(log)}")
                health = [url for url in health if not _healthy(url)]
                time.sleep(0.05)
            urls = tuple(f"ws://127.0.0.1:{port + i}/ws" for i in range(brokers))
            yield Target(
                "pairchat scaled" if scaled else "pairchat", urls, Dialect.PAIRCHAT, proc.pid, log
            )
        finally:
            _stop(proc)
            if scaled is not None:
                scaled.drop()


@contextlib.contextmanager
def spawned_relay(kind: str) -> Iterator[Target]:
    """A baseline relay (`picows` or `socketio`) as its own process; it prints
    "ready" on stdout once it listens."""
    module, name, dialect, path = {
        "picows": (
            "pairchat.bench.baselines.picows_relay",
            "picows relay",
            Dialect.PAIRCHAT,
            "/ws",
        ),
        "socketio": (
            "pairchat.bench.baselines.socketio_relay",
            "python-socketio relay",
            Dialect.SOCKETIO,
            SIO_PATH,
        ),
    }[kind]
    with tempfile.TemporaryDirectory(prefix="pairchat-bench-") as tmp:
        log = Path(tmp) / f"{kind}.log"
        port = free_port_range(1)
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        try:
            assert proc.stdout is not None
            readable, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
            line = proc.stdout.readline() if readable else b""
            if not line.startswith(b"ready"):
                proc.kill()
                proc.wait()
                raise StartError(f"the {name} did not start:\n{log_tail(log)}")
            yield Target(name, (f"ws://127.0.0.1:{port}{path}",), dialect, proc.pid, log)
        finally:
            _stop(proc)


def running_system(urls: list[str]) -> Target:
    return Target("pairchat", tuple(urls), Dialect.PAIRCHAT)
