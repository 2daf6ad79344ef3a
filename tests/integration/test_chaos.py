"""Faults in the scaled mode: a logic or worker process killed with SIGKILL in
the middle of a conversation loses no message whose DIALOGUE was answered
code 0. The sender resends what got no answer with the same requestId, as a
client must; the receiver sees every acknowledged message (live, or replayed
after it reconnects) and HISTORY holds each exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from .client import ChatClient, Frame, is_dialogue, is_signal
from .harness import (
    DATABASE_URL,
    REDIS_URL,
    TIMEOUT,
    Flags,
    System,
    children,
    drop_namespace,
    running_system,
    scaled_flags,
)
from .users import Users

GRACE = 6 * TIMEOUT  # nobody is logged out while the system heals
PHASE = 25  # messages sent before the kill, and again after it


async def resumed(system: System, old: ChatClient, broker: int, name: str) -> ChatClient:
    """A new connection to `broker` that RECONNECTs `old`'s account, retried while
    the system heals (the broker may be finding another logic)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3 * TIMEOUT
    while True:
        client = await ChatClient.connect(system.ws_url(broker), name)
        response = await client.request("RECONNECT", accountId=old.account_id, token=old.token)
        if response["code"] == 0:
            client.account_id, client.token, client.nick = old.account_id, old.token, old.nick
            return client
        await client.close()
        assert response["code"] == 2 and loop.time() < deadline, response
        await asyncio.sleep(TIMEOUT / 50)


async def send_all(client: ChatClient, session_id: int, texts: list[str]) -> dict[int, str]:
    """DIALOGUE each text (requestId = text); msgId -> text for those answered 0."""
    answered: dict[int, str] = {}
    for text in texts:
        response = await client.request(
            "DIALOGUE", text, senderId=client.account_id, sessionId=session_id, content=text
        )
        if response["code"] != 0:
            break
        answered[response["msgId"]] = text
    return answered


async def receive(client: ChatClient, session_id: int, wanted: set[int]) -> dict[int, str]:
    """Collect (and acknowledge) pushes until every wanted msgId came."""
    got: dict[int, str] = {}
    while not wanted <= got.keys():
        push: Frame = await client.expect_push(is_dialogue(session_id), within=3 * TIMEOUT)
        got[push["msgId"]] = push["content"]
        await client.ack(push)
    return got


@pytest.fixture
def flags() -> Iterator[Flags]:
    flags = scaled_flags(Flags(offline_grace=GRACE, rate_limit=1e6, rate_burst=1e6))
    yield flags
    drop_namespace(flags)


@pytest.mark.parametrize("victim", ["logic", "worker"])
async def test_a_killed_process_loses_no_acknowledged_message(
    tmp_path: Path, flags: Flags, victim: str
) -> None:
    with running_system(flags, tmp_path / "data") as system:
        users = Users(system)
        a = await users.new("sender")  # broker 0, which prefers logic 0
        b = await users.new("receiver")  # broker 1, which prefers logic 1
        session_id = await users.match(a, b)
        texts = [f"m{i}" for i in range(2 * PHASE)]
        sent = await send_all(a, session_id, texts[:PHASE])
        assert len(sent) == PHASE

        os.kill(children(system, victim)[0], signal.SIGKILL)
        if victim == "logic":
            await a.wait_closed()  # its broker lost logic 0 and closed its clients
            a = await resumed(system, a, 0, "sender-again")
        # What was not answered is sent again with the same requestId: idempotent.
        unanswered = [t for t in texts if t not in sent.values()]
        sent.update(await send_all(a, session_id, unanswered))
        assert sorted(sent.values()) == sorted(texts)

        got = await receive(b, session_id, set(sent))
        assert {m: got[m] for m in sent} == sent
        history = await a.history(session_id, limit=200)
        assert [m["msgId"] for m in history] == list(range(1, len(texts) + 1))
        assert sorted(m["content"] for m in history) == sorted(texts)
        for client in [*users.clients, a]:
            await client.close()


SHORT_GRACE = TIMEOUT / 4


@pytest.fixture
def short_grace() -> Iterator[Flags]:
    flags = scaled_flags(Flags(offline_grace=SHORT_GRACE))
    yield flags
    drop_namespace(flags)


async def test_a_killed_broker_starts_its_users_grace_period(
    tmp_path: Path, short_grace: Flags
) -> None:
    grace = SHORT_GRACE
    with running_system(short_grace, tmp_path / "data") as system:
        users = Users(system)
        a = await users.new("stays")  # broker 0
        b = await users.new("vanishes")  # broker 1
        session_id = await users.match(a, b)
        [broker_1] = [
            pid
            for pid in children(system, "broker")
            if f"--port {system.port + 1}" in _cmdline(pid)
        ]
        os.kill(broker_1, signal.SIGKILL)
        await b.wait_closed()
        push = await a.expect_push(is_signal("PartnerExit", session_id), within=grace + 2 * TIMEOUT)
        assert push["data"] == {"accountId": b.account_id}
        await a.close()


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.parametrize("engine", ["redis", "postgresql"])
def test_an_unreachable_engine_is_named_at_start(engine: str) -> None:
    redis_url, database_url = REDIS_URL, DATABASE_URL
    if engine == "redis":
        redis_url = "redis://user:secret@127.0.0.1:1/0"
    else:
        database_url = "postgresql://postgres:secret@127.0.0.1:1/test"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairchat",
            "logic",
            "--listen",
            "127.0.0.1:0",
            "--http-port",
            "0",
            "--redis-url",
            redis_url,
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=3 * TIMEOUT,
        check=False,
    )
    assert done.returncode == 1, done
    assert "127.0.0.1:1" in done.stderr and "secret" not in done.stderr, done.stderr


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of this test's own, which it may stop and resume."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(TIMEOUT / 100)
    try:
        yield url, proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def on_private_redis(private_redis: tuple[str, subprocess.Popen[bytes]]) -> Iterator[Flags]:
    flags = dataclasses.replace(
        scaled_flags(Flags(offline_grace=GRACE)), redis_url=private_redis[0]
    )
    yield flags
    drop_namespace(flags)


async def test_redis_away_answers_code_2_and_the_retry_delivers(
    tmp_path: Path, private_redis: tuple[str, subprocess.Popen[bytes]], on_private_redis: Flags
) -> None:
    redis_proc = private_redis[1]
    with running_system(on_private_redis, tmp_path / "data") as system:
        users = Users(system)
        a = await users.new("a")
        b = await users.new("b")
        session_id = await users.match(a, b)
        assert await a.send(session_id, "before") == 1
        await b.ack(await b.expect_push(is_dialogue(session_id, 1)))

        redis_proc.send_signal(signal.SIGSTOP)
        try:
            fields = {"senderId": a.account_id, "sessionId": session_id, "content": "during"}
            during = await a.submit("DIALOGUE", "rid-during", **fields)
            response = await asyncio.wait_for(during, 3 * TIMEOUT)
            assert response["code"] == 2 and response["msg"], response
        finally:
            redis_proc.send_signal(signal.SIGCONT)

        retried = await a.request("DIALOGUE", "rid-during", **fields)
        assert (retried["code"], retried["msgId"]) == (0, 2), retried
        push = await b.expect_push(is_dialogue(session_id, 2), within=2 * TIMEOUT)
        assert push["content"] == "during"
        assert await a.send(session_id, "after") == 3
        await b.expect_push(is_dialogue(session_id, 3))
        assert [m["msgId"] for m in await b.history(session_id)] == [1, 2, 3]
        for client in users.clients:
            await client.close()
