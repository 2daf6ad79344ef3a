"""The `Limits` contract (storage/limits.py docstrings), run against every
backend; with Redis, several processes counting into one state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio

from pairchat.storage.limits import Limits
from pairchat.storage.limits_memory import MemoryLimits
from pairchat.storage.limits_redis import RedisLimits
from pairchat.storage.redis_keys import Keys
from tests.contract.conftest import DEADLINE, delete_prefix, require_redis

WINDOW = 0.4  # seconds; short, so that tests see windows end


class Processes:
    """`open()` gives one more process's `Limits` on the shared state (memory:
    the one process of the embedded mode)."""

    def __init__(self, open_one: Callable[[], Awaitable[Limits]]) -> None:
        self.open = open_one


@pytest.fixture(params=["memory", "redis"])
async def processes(request: pytest.FixtureRequest) -> AsyncIterator[Processes]:
    if request.param == "memory":
        memory = MemoryLimits()

        async def same() -> Limits:
            return memory

        yield Processes(same)
        return
    url = await require_redis()
    prefix = f"test:{uuid.uuid4().hex}:"
    clients: list[redis.asyncio.Redis] = []

    async def connect() -> Limits:
        client = redis.asyncio.Redis.from_url(url)
        clients.append(client)
        return RedisLimits(client, Keys(prefix))

    try:
        yield Processes(connect)
    finally:
        for client in clients:
            await client.aclose()
        await delete_prefix(url, prefix)


async def test_events_up_to_the_limit_pass_then_the_rest_wait(processes: Processes) -> None:
    limits = await processes.open()
    assert [await limits.hit("a", 3, 60) for _ in range(3)] == [0.0, 0.0, 0.0]
    over = [await limits.hit("a", 3, 60) for _ in range(2)]
    assert all(0 < wait <= 60 for wait in over), over
    assert await limits.hit("b", 3, 60) == 0.0  # keys count apart


async def test_blocked_counts_nothing(processes: Processes) -> None:
    limits = await processes.open()
    assert await limits.blocked("a", 2) == 0.0  # never seen
    await limits.hit("a", 2, 60)
    for _ in range(5):
        assert await limits.blocked("a", 2) == 0.0
    await limits.hit("a", 2, 60)
    assert 0 < await limits.blocked("a", 2) <= 60
    assert await limits.hit("a", 3, 60) == 0.0  # the third event: only 3 so far


async def test_the_window_ends_and_the_key_starts_afresh(processes: Processes) -> None:
    limits = await processes.open()
    await limits.hit("a", 1, WINDOW)
    first = await limits.hit("a", 1, WINDOW)
    assert 0 < first <= WINDOW
    await asyncio.sleep(WINDOW / 2)
    later = await limits.hit("a", 1, WINDOW)
    assert 0 < later < first  # events over the limit do not extend the window
    await asyncio.sleep(later + 0.05)
    assert await limits.blocked("a", 1) == 0.0
    assert await limits.hit("a", 1, WINDOW) == 0.0


async def test_processes_count_into_one_window(processes: Processes) -> None:
    p1, p2 = await processes.open(), await processes.open()
    waits = await asyncio.wait_for(
        asyncio.gather(*(p.hit("a", 10, 60) for p in (p1, p2) * 15)), DEADLINE
    )
    assert sum(1 for wait in waits if wait == 0.0) == 10
    assert await p1.blocked("a", 10) > 0 and await p2.blocked("a", 10) > 0
