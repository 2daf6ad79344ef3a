"""Runs a real `pairchat up` as a subprocess for the integration tests.

TIMEOUT is the one constant every wait of the suite derives from. A system is
started on free ports with its own data dir (its brokers' ports, then its
children's operations ports, one range so parallel systems never collide), is
ready once every broker and every child's operations listener answer GET
/healthz with 200, and must stop on SIGTERM with exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis

from pairchat.ports import free_port_range

TIMEOUT: Final = float(os.environ.get("PAIRCHAT_TEST_TIMEOUT", "10"))
"""The longest any single expected event may take; every wait derives from it
(a slow machine raises this one knob)."""

POLL_INTERVAL: Final = TIMEOUT / 200
START_ATTEMPTS: Final = 3

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
REDIS_URL: Final = os.environ.get("PAIRCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL: Final = os.environ.get(
    "PAIRCHAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Flags:
    """The `pairchat up` flags a test system is started with. A scaled system
    (2 logic and 2 worker processes on PostgreSQL and Redis) lives in its own
    schema and key prefix, named by `namespace`, so runs never collide."""

    brokers: int = 1
    scaled: bool = False
    logics: int = 2  # scaled only
    workers: int = 2  # scaled only
    namespace: str = ""
    redis_url: str = ""  # a scaled system on another Redis than the shared one
    offline_grace: float = 20.0
    match_wait: float = TIMEOUT
    max_content: int = 4096
    max_frame_bytes: int = 65536
    rate_limit: float = 200.0
    rate_burst: float = 400.0
    heartbeat: float = 15.0
    allowed_origins: str = ""
    max_conns_per_ip: int = 4096
    # Every test client comes from 127.0.0.1: the per-address and per-account
    # limits are off unless a test sets them.
    max_accounts_per_ip: int = 0
    accounts_window: float = 600.0
    max_matches_per_account: int = 0
    matches_window: float = 60.0
    max_failed_reconnects_per_ip: int = 0
    reconnects_window: float = 600.0
    retention_days: float = 30.0
    send_buffer: int = 1 << 20
    max_unacked: int = 1000
    interest_wait: float = 5.0
    blocklist: str = ""  # a file of the content filter (--blocklist)
    report_threshold: int = 3
    admin_token: str = ""  # the moderation API is off without one
    trusted_proxies: str = ""  # X-Forwarded-For is ignored without them
    log_level: str = "info"  # the default: tests read what an operator would see

    def argv(self) -> list[str]:
        scaled = (
            [
                "--logics",
                str(self.logics),
                "--workers",
                str(self.workers),
                "--redis-url",
                self.redis_url or REDIS_URL,
                "--redis-prefix",
                f"{self.namespace}:",
                "--database-url",
                DATABASE_URL,
                "--schema",
                self.namespace,
            ]
            if self.scaled
            else []
        )
        return [
            *scaled,
            "--brokers",
            str(self.brokers),
            "--offline-grace",
            str(self.offline_grace),
            "--match-wait",
            str(self.match_wait),
            "--max-content",
            str(self.max_content),
            "--max-frame-bytes",
            str(self.max_frame_bytes),
            "--rate-limit",
            str(self.rate_limit),
            "--rate-burst",
            str(self.rate_burst),
            "--heartbeat",
            str(self.heartbeat),
            "--allowed-origins",
            self.allowed_origins,
            "--max-conns-per-ip",
            str(self.max_conns_per_ip),
            "--max-accounts-per-ip",
            str(self.max_accounts_per_ip),
            "--accounts-window",
            str(self.accounts_window),
            "--max-matches-per-account",
            str(self.max_matches_per_account),
            "--matches-window",
            str(self.matches_window),
            "--max-failed-reconnects-per-ip",
            str(self.max_failed_reconnects_per_ip),
            "--reconnects-window",
            str(self.reconnects_window),
            "--retention-days",
            str(self.retention_days),
            "--send-buffer",
            str(self.send_buffer),
            "--max-unacked",
            str(self.max_unacked),
            "--interest-wait",
            str(self.interest_wait),
            "--blocklist",
            self.blocklist,
            "--report-threshold",
            str(self.report_threshold),
            *(["--admin-token", self.admin_token] if self.admin_token else []),
            "--trusted-proxies",
            self.trusted_proxies,
            "--log-level",
            self.log_level,
        ]

    def children(self) -> list[str]:
        """The processes `pairchat up` starts, in the order they take operations
        ports from --ops-port (docs/operations.md)."""
        if not self.scaled:
            return ["logic-0", *(f"broker-{i}" for i in range(1, self.brokers))]
        return [
            *(f"logic-{j}" for j in range(self.logics)),
            *(f"worker-{k}" for k in range(self.workers)),
            *(f"broker-{i}" for i in range(self.brokers)),
        ]


@dataclass
class System:
    """One running `pairchat up`: its brokers' URLs and its children's
    operations listeners (from `ops_port` on, in the order of `Flags.children`)."""

    flags: Flags
    data_dir: Path
    port: int
    ops_port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def broker_count(self) -> int:
        return self.flags.brokers

    def ws_url(self, broker: int) -> str:
        """The WebSocket URL of broker `broker % broker_count`."""
        return f"ws://127.0.0.1:{self.port + broker % self.broker_count}/ws"

    def broker_http(self, broker: int) -> str:
        return f"http://127.0.0.1:{self.port + broker % self.broker_count}"

    def ops_http(self, child: str) -> str:
        """The operations listener (/healthz, /metrics) of the child `child`."""
        return f"http://127.0.0.1:{self.ops_port + self.flags.children().index(child)}"

    def broker_ops(self, broker: int) -> str:
        """The operations listener of broker `broker % broker_count` (embedded,
        broker 0 is inside logic-0 and shares its listener)."""
        index = broker % self.broker_count
        return self.ops_http(
            "logic-0" if index == 0 and not self.flags.scaled else f"broker-{index}"
        )

    @property
    def logic_http(self) -> str:
        """The operations listener of the first logic process."""
        return self.ops_http("logic-0")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def children(system: System, role: str) -> list[int]:
    """PIDs of the `pairchat <role>` processes of a running `pairchat up`."""
    out = subprocess.run(
        ["pgrep", "-P", str(system.proc.pid), "-f", f"pairchat {role}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sorted(int(pid) for pid in out.split())


def http_get(url: str, timeout: float = TIMEOUT) -> tuple[int, str]:
    """GET a URL without any proxy: (status, body); status 0 if nothing answered."""
    try:
        with _NO_PROXY.open(url, timeout=timeout) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError:
        return 0, ""


def start_system(flags: Flags, data_dir: Path) -> System:
    """Start `pairchat up` and wait until the logic and every broker are healthy.
    A port taken between the check and the brokers' bind is retried elsewhere."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(START_ATTEMPTS):
        children = len(flags.children())
        port = free_port_range(flags.brokers + children)
        ops_port = port + flags.brokers
        log_path = data_dir.parent / f"{data_dir.name}-up-{port}.log"
        log_file = log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRCHAT_")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pairchat",
                "up",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--ops-port",
                str(ops_port),
                *flags.argv(),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        system = System(flags, data_dir, port, ops_port, proc, log_path, log_file=log_file)
        try:
            _wait_ready(system)
        except BaseException as exc:
            _kill(system)
            port_taken = "address already in use" in system.output().lower()
            if isinstance(exc, RuntimeError) and port_taken and attempt + 1 < START_ATTEMPTS:
                continue
            raise
        return system
    raise AssertionError("unreachable")


def _wait_ready(system: System) -> None:
    # Starting is a few process launches in a row: allow it three times the timeout.
    deadline = time.monotonic() + 3 * TIMEOUT
    pending = [system.broker_http(i) + "/healthz" for i in range(system.broker_count)]
    pending += [system.ops_http(child) + "/healthz" for child in system.flags.children()]
    # `up` prints that it is up once it found them healthy too, a moment after this loop
    # may: the tests read what it printed.
    while pending or "pairchat is up: open" not in system.output():
        if system.proc.poll() is not None:
            raise RuntimeError(
                f"pairchat up exited with {system.proc.returncode} while starting:\n"
                + system.output()
            )
        if time.monotonic() > deadline:
            raise RuntimeError("pairchat up not healthy in time:\n" + system.output())
        pending = [url for url in pending if http_get(url, timeout=TIMEOUT / 10)[0] != 200]
        time.sleep(POLL_INTERVAL)


def stop_system(system: System) -> None:
    """SIGTERM, then assert `pairchat up` exits with 0 within the timeout."""
    if system.proc.poll() is None:
        system.proc.send_signal(signal.SIGTERM)
    try:
        code = system.proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill(system)
        raise AssertionError(
            f"pairchat up did not stop within {TIMEOUT}s of SIGTERM:\n{system.output()}"
        ) from None
    finally:
        _close_log(system)
    assert code == 0, f"pairchat up exited with {code}:\n{system.output()}"


def _kill(system: System) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(system.proc.pid, signal.SIGKILL)
    system.proc.wait()
    _close_log(system)


def _close_log(system: System) -> None:
    if system.log_file is not None:
        system.log_file.close()
        system.log_file = None


@contextlib.contextmanager
def running_system(flags: Flags, data_dir: Path) -> Iterator[System]:
    system = start_system(flags, data_dir)
    try:
        yield system
    finally:
        if system.log_file is not None:  # not stopped by the test itself
            stop_system(system)


async def fetch(url: str) -> tuple[int, str]:
    """`http_get` off the event loop."""
    return await asyncio.to_thread(http_get, url)


async def wait_for_metric(
    url: str,
    name: str,
    accept: Callable[[float | None], bool],
    labels: dict[str, str] | None = None,
) -> float | None:
    """Poll a /metrics URL until a sample satisfies `accept` (or fail at the deadline)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        status, text = await fetch(url)
        assert status == 200, f"GET {url}: {status}"
        value = metric_value(text, name, labels)
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels or ''} at {url} stayed {value}")
        await asyncio.sleep(POLL_INTERVAL)


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one sample in Prometheus text format, None if absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        sample, _, value = line.rpartition(" ")
        metric, _, label_text = sample.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', label_text))
        if labels is None and found:
            continue
        if labels is not None and any(found.get(k) != v for k, v in labels.items()):
            continue
        return float(value)
    return None


BROKER_COUNTS: Final = (1, 2)


def broker_ids(counts: tuple[int, ...] = BROKER_COUNTS) -> list[str]:
    return [f"{n}-broker{'s' if n > 1 else ''}" for n in counts]


def system_fixture(
    make_flags: Callable[[int], Flags],
    broker_counts: tuple[int, ...] = BROKER_COUNTS,
    scope: Any = "module",
    scaled: bool = True,
) -> Any:
    """A `system` fixture running `make_flags(brokers)` once per broker count:
    one broker (all in one) and two (the users of a pair on different brokers)."""

    variants: list[int | str] = [*broker_counts, *(["scaled"] if scaled else [])]

    @pytest.fixture(
        scope=scope,
        params=variants,
        ids=[*broker_ids(broker_counts), *(["scaled"] if scaled else [])],
    )
    def system(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[System]:
        variant: int | str = request.param
        flags = make_flags(2 if variant == "scaled" else int(variant))
        if variant == "scaled":
            flags = scaled_flags(flags)
        try:
            with running_system(flags, tmp_path_factory.mktemp("data")) as running:
                yield running
        finally:
            drop_namespace(flags)

    return system


def scaled_flags(flags: Flags) -> Flags:
    """The same flags on a scaled system in a namespace of its own; fails (under
    CI) or skips (elsewhere) when Redis or PostgreSQL is not there."""
    require_engines()
    return dataclasses.replace(flags, brokers=2, scaled=True, namespace=f"t{uuid.uuid4().hex[:12]}")


def require_engines() -> None:
    missing = []
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=TIMEOUT / 5).ping()
    except redis.RedisError as exc:
        missing.append(f"Redis at {REDIS_URL} ({exc})")
    try:
        asyncio.run(_pg_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        missing.append(f"PostgreSQL at {DATABASE_URL} ({exc})")
    if missing:
        reason = "the scaled mode needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


async def _pg_execute(sql: str) -> None:
    conn = await asyncpg.connect(DATABASE_URL, timeout=TIMEOUT / 5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def drop_namespace(flags: Flags) -> None:
    """Remove a scaled system's schema and keys."""
    if not flags.scaled:
        return
    asyncio.run(_pg_execute(f'DROP SCHEMA IF EXISTS "{flags.namespace}" CASCADE'))
    if flags.redis_url:
        return  # a private Redis goes away with its process
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{flags.namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
