"""Starting and watching pairchat from a terminal.

A port that is taken stops `pairchat up` and every role's command with exit
code 1 and one line naming the port and the flag that picks another (`up`
says it before it starts any child). At the default log level a chat logs
nothing per connection or request, so `up`'s "open http://..." line stays on
the screen; at debug those events are there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairchat.ports import free_port_range

from .client import is_dialogue
from .harness import (
    DATABASE_URL,
    POLL_INTERVAL,
    REDIS_URL,
    REPO_ROOT,
    TIMEOUT,
    Flags,
    System,
    drop_namespace,
    require_engines,
    running_system,
    wait_for_metric,
)
from .users import Users

# What a chat makes the processes log, at debug only.
PER_CONNECTION = (
    "connected",
    "account created",
    "bound",
    "matched",
    "disconnected",
    "offline",
    "reconnected",
    "replayed",
    "left",
    "logged out",
)


# --- a port already in use ---
@pytest.fixture
def taken() -> Iterator[int]:
    """A port another program listens on (bound as servers bind, so gRPC's
    SO_REUSEPORT cannot share it either)."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", free_port_range()))
        other.listen()
        yield int(other.getsockname()[1])


def pairchat(*argv: str) -> subprocess.CompletedProcess[str]:
    """`pairchat ARGV` to its end, with no PAIRCHAT_* variable of this environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRCHAT_")}
    return subprocess.run(
        [sys.executable, "-m", "pairchat", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3 * TIMEOUT,
        check=False,
    )


def assert_refused(
    done: subprocess.CompletedProcess[str], prefix: str, port: int, flag: str
) -> None:
    """Exit code 1 and one line saying which port cannot be bound and which flag
    picks another, last on stderr; no traceback."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    said = [line for line in lines if "cannot listen on" in line]
    assert said == [lines[-1]], done.stderr
    assert said[0].startswith(f"{prefix}: "), said
    assert f"127.0.0.1:{port}: address already in use" in said[0], said
    assert said[0].endswith(f"; choose another with {flag}"), said


@pytest.mark.parametrize("flag", ["--port", "--ops-port"])
def test_up_on_a_taken_port_names_the_flag_and_starts_nothing(
    taken: int, flag: str, tmp_path: Path
) -> None:
    ports = {"--port": str(free_port_range()), "--ops-port": "0", flag: str(taken)}
    done = pairchat(
        "up", *(arg for pair in ports.items() for arg in pair), "--data-dir", str(tmp_path)
    )
    assert_refused(done, "pairchat up", taken, flag)
    assert "process started" not in done.stderr  # no child was started


ROLES = {
    "logic --listen": ("logic", "--listen", "127.0.0.1:{port}", "--ops-port", "0"),
    "logic --ops-port": ("logic", "--listen", "127.0.0.1:0", "--ops-port", "{port}"),
    "logic --broker-port": (
        "logic", "--listen", "127.0.0.1:0", "--ops-port", "0", "--broker-port", "{port}",
    ),
    "broker --port": ("broker", "--port", "{port}", "--ops-port", "0"),
    "broker --push-listen": (
        "broker", "--port", "0", "--ops-port", "0", "--push-listen", "127.0.0.1:{port}",
    ),
    "broker --ops-port": ("broker", "--port", "0", "--ops-port", "{port}"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ROLES))
def test_a_role_on_a_taken_port_names_the_flag(taken: int, case: str, tmp_path: Path) -> None:
    argv = [arg.format(port=taken) for arg in ROLES[case]]
    if argv[0] == "logic":
        argv += ["--data-dir", str(tmp_path)]
    assert_refused(pairchat(*argv), "pairchat", taken, case.split()[1])


def test_a_worker_on_a_taken_port_names_the_flag(taken: int) -> None:
    require_engines()
    flags = Flags(scaled=True, namespace=f"t{uuid.uuid4().hex[:12]}")
    engines = ["--redis-url", REDIS_URL, "--redis-prefix", f"{flags.namespace}:"]
    schema = ["--database-url", DATABASE_URL, "--schema", flags.namespace]
    try:
        migrated = pairchat("migrate", *schema)
        assert migrated.returncode == 0, migrated.stderr
        done = pairchat("worker", "--ops-port", str(taken), *engines, *schema)
        assert_refused(done, "pairchat", taken, "--ops-port")
    finally:
        drop_namespace(flags)


# --- what a chat logs ---
@pytest.fixture(scope="module", params=["info", "debug"], ids=["default-level", "debug-level"])
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """Two brokers (one inside logic, one a process of its own) at a log level."""
    flags = Flags(brokers=2, log_level=request.param)
    with running_system(flags, tmp_path_factory.mktemp("data")) as running:
        yield running


async def short_chat(users: Users, system: System) -> None:
    """Two people on two brokers: accounts, a match, a message, a refresh that
    replays it, LEAVE, then both log out and close; returns once both brokers
    have seen every connection closed."""
    pair = await users.pair()
    await pair.a.send(pair.session_id, "hello")
    b = pair.b
    await b.expect_push(is_dialogue(pair.session_id, 1))  # not acknowledged: replayed
    await b.close()
    again = await users.connect(broker=1)
    await again.reconnect(b.account_id, b.token)
    await again.expect_push(is_dialogue(pair.session_id, 1))
    await pair.a.call("LEAVE", sessionId=pair.session_id)
    await users.close_all()
    for broker in range(system.broker_count):
        url = system.broker_ops(broker) + "/metrics"
        await wait_for_metric(url, "pairchat_connections", lambda v: v == 0)


def events(lines: list[str], level: str) -> set[str]:
    """The event names of the key=value lines at `level`."""
    found = set()
    for line in lines:
        if f" level={level} " in line and " event=" in line:
            name = line.split(" event=", 1)[1]
            found.add(name[1:].split('"', 1)[0] if name.startswith('"') else name.split(" ")[0])
    return found


async def test_a_chat_keeps_the_terminal_for_what_matters(users: Users, system: System) -> None:
    """At the default level nothing of the chat is logged at info (nor below);
    at debug, every per-connection event is there."""
    before = len(system.output().splitlines())
    assert "pairchat is up: open http://" in system.output()
    await short_chat(users, system)
    if system.flags.log_level == "info":
        lines = system.output().splitlines()[before:]
        assert not [line for line in lines if " level=info " in line or " level=debug " in line]
        return
    deadline = time.monotonic() + TIMEOUT
    while missing := set(PER_CONNECTION) - events(system.output().splitlines()[before:], "debug"):
        assert time.monotonic() < deadline, f"never logged at debug: {missing}"
        await asyncio.sleep(POLL_INTERVAL)
    assert not events(system.output().splitlines()[before:], "info") & set(PER_CONNECTION)
