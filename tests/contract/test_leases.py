"""The `Leases` contract (storage/leases.py docstrings), run against memory and
Redis: one holder at a time, extended by its holder, released or lapsed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from pairchat.storage.leases import Leases
from pairchat.storage.leases_memory import MemoryLeases
from pairchat.storage.leases_redis import RedisLeases
from pairchat.storage.redis_keys import Keys
from tests.contract.conftest import DEADLINE, REDIS_URL, open_shared

TTL = 0.2  # seconds; short enough to watch a lease lapse


@pytest.fixture(params=["memory", "redis"])
async def two(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Leases, Leases]]:
    """Two processes' views of the same leases."""
    async for shared in open_shared(request.param):
        if shared.name == "memory":
            leases = MemoryLeases()
            yield leases, leases
            return
        clients = [redis.asyncio.Redis.from_url(REDIS_URL) for _ in range(2)]
        try:
            keys = Keys(shared.prefix)
            yield RedisLeases(clients[0], keys), RedisLeases(clients[1], keys)
        finally:
            for client in clients:
                await client.aclose()


async def test_one_holder_at_a_time(two: tuple[Leases, Leases]) -> None:
    first, second = two
    assert await first.hold("purge", "p1", DEADLINE)
    assert not await second.hold("purge", "p2", DEADLINE)
    assert await first.hold("purge", "p1", DEADLINE)  # extended by its holder
    # another name is another lease
    assert await second.hold("other", "p2", DEADLINE)


async def test_racing_takers_get_one_lease(two: tuple[Leases, Leases]) -> None:
    first, second = two
    won = await asyncio.gather(
        *((first if i % 2 else second).hold("purge", f"p{i}", DEADLINE) for i in range(20))
    )
    assert won.count(True) == 1


async def test_a_released_lease_is_free_at_once(two: tuple[Leases, Leases]) -> None:
    first, second = two
    assert await first.hold("purge", "p1", DEADLINE)
    await second.release("purge", "p2")  # not its lease: left alone
    assert not await second.hold("purge", "p2", DEADLINE)
    await first.release("purge", "p1")
    assert await second.hold("purge", "p2", DEADLINE)


async def test_a_lease_not_extended_lapses(two: tuple[Leases, Leases]) -> None:
    first, second = two
    assert await first.hold("purge", "p1", TTL)
    # extended to a long ttl from now: past the first ttl it still holds
    # (long, so that a slow machine's late wake-up cannot fail the test)
    assert await first.hold("purge", "p1", DEADLINE)
    await asyncio.sleep(TTL * 1.5)
    assert not await second.hold("purge", "p2", TTL)
    assert await first.hold("purge", "p1", TTL)  # shortened again, then left to lapse
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await second.hold("purge", "p2", TTL):  # the holder died: it lapses
        assert loop.time() < deadline, "the lease never lapsed"
        await asyncio.sleep(TTL / 10)
    assert not await first.hold("purge", "p1", TTL)
