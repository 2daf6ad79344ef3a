"""The `Timers` and `Brokers` contracts (storage/timers.py, storage/brokers.py docstrings), run
against every backend, several processes taking from one state."""

from __future__ import annotations

import asyncio
import itertools

from tests.contract.conftest import DEADLINE, Shared

TTL = 0.3  # seconds of broker liveness in these tests


# --- timers ---
async def test_take_due_returns_what_is_due_once(shared: Shared) -> None:
    timers = (await shared.open()).timers
    await timers.set(1, 100.0)
    await timers.set(2, 200.0)
    await timers.set(3, 100.5)
    assert await timers.take_due(99.0) == []
    assert sorted(await timers.take_due(150.0)) == [1, 3]
    assert await timers.take_due(150.0) == []
    assert await timers.take_due(200.0) == [2]


async def test_set_moves_the_deadline(shared: Shared) -> None:
    timers = (await shared.open()).timers
    await timers.set(1, 100.0)
    await timers.set(1, 300.0)
    assert await timers.take_due(200.0) == []
    await timers.set(1, 150.0)
    assert await timers.take_due(200.0) == [1]


async def test_cancel_removes_the_deadline(shared: Shared) -> None:
    timers = (await shared.open()).timers
    await timers.set(1, 100.0)
    await timers.cancel(1)
    await timers.cancel(2)  # never set: nothing to do
    assert await timers.take_due(1e12) == []


async def test_each_due_account_goes_to_exactly_one_caller(shared: Shared) -> None:
    p1, p2 = await shared.open(), await shared.open()
    for account in range(1, 301):
        await p1.timers.set(account, 1000.0 + account)
    takers = [
        p.timers.take_due(1000.0 + n * 40)
        for n, p in zip(range(1, 9), itertools.cycle((p1, p2)), strict=False)
    ]
    results = await asyncio.wait_for(asyncio.gather(*takers), DEADLINE)
    taken = [a for batch in results for a in batch]
    assert len(taken) == len(set(taken))
    assert sorted(taken) == list(range(1, 301))


# --- brokers ---
async def test_alive_brokers_have_targets(shared: Shared) -> None:
    brokers = (await shared.open()).brokers
    await brokers.alive("b1", "10.0.0.1:7001", 30, "L1")
    await brokers.alive("b2", "10.0.0.2:7001", 30, "L1")
    await brokers.alive("b1", "10.0.0.1:7002", 30, "L1")  # moved its push port
    assert await brokers.targets() == {"b1": "10.0.0.1:7002", "b2": "10.0.0.2:7001"}
    assert await brokers.expired() == []


async def test_a_broker_that_is_gone_is_not_reported_expired(shared: Shared) -> None:
    brokers = (await shared.open()).brokers
    await brokers.alive("b1", "t1", TTL, "L1")
    await brokers.gone("b1", "L1")
    await brokers.gone("never-seen", "L1")
    assert await brokers.targets() == {}
    await asyncio.sleep(TTL * 2)
    assert await brokers.expired() == []


async def test_only_the_last_holder_forgets_a_broker(shared: Shared) -> None:
    """A broker that failed over from a stalled logic process (L1) to another
    (L2) stays registered when L1 wakes up and sees its old stream end."""
    brokers = (await shared.open()).brokers
    await brokers.alive("b1", "t1", TTL * 10, "L1", take=True)
    await brokers.alive("b1", "t1", TTL * 10, "L2", take=True)
    await brokers.gone("b1", "L1")
    assert await brokers.targets() == {"b1": "t1"}
    await brokers.gone("b1", "L2")
    assert await brokers.targets() == {}
    assert await brokers.expired() == []


async def test_a_stale_holder_cannot_renew_a_broker_taken_over(shared: Shared) -> None:
    """L1 stalled, the broker said hello to L2; L1 wakes up and renews from its
    old list: refused, nothing changes, and L1's `gone` forgets nothing."""
    brokers = (await shared.open()).brokers
    assert await brokers.alive("b1", "t1", TTL * 10, "L1", take=True)
    assert await brokers.alive("b1", "t2", TTL * 10, "L2", take=True)
    assert not await brokers.alive("b1", "t1", TTL * 10, "L1")
    await brokers.gone("b1", "L1")
    assert await brokers.targets() == {"b1": "t2"}
    assert await brokers.alive("b1", "t2", TTL * 10, "L2")  # the holder renews


async def test_a_broker_nobody_holds_is_renewed_by_its_stream(shared: Shared) -> None:
    """Its liveness ran out (reported expired after an engine stall) while its
    stream went on: the next renewal registers it again."""
    brokers = (await shared.open()).brokers
    assert await brokers.alive("b1", "t1", TTL, "L1", take=True)
    await asyncio.sleep(TTL * 2)
    assert await brokers.expired() == ["b1"]
    assert await brokers.alive("b1", "t1", TTL * 10, "L1")
    assert await brokers.targets() == {"b1": "t1"}


async def test_a_renewed_broker_does_not_expire(shared: Shared) -> None:
    brokers = (await shared.open()).brokers
    await brokers.alive("b1", "t1", TTL, "L1")
    # renewed for long (a slow machine's late wake-up cannot fail the test):
    # past the first liveness it is not expired
    await brokers.alive("b1", "t1", DEADLINE, "L1")
    await asyncio.sleep(TTL * 2)
    assert await brokers.expired() == []
    assert await brokers.targets() == {"b1": "t1"}


async def test_a_broker_keeps_its_target_until_reported_expired(shared: Shared) -> None:
    """Only `expired` declares a broker dead (its caller may know better, after a
    stall of its own): until then its pushes still find it."""
    brokers = (await shared.open()).brokers
    await brokers.alive("b1", "t1", TTL, "L1")
    await asyncio.sleep(TTL * 2)
    assert await brokers.targets() == {"b1": "t1"}
    assert await brokers.expired() == ["b1"]
    assert await brokers.targets() == {}


async def test_an_expired_broker_is_reported_once(shared: Shared) -> None:
    p1, p2 = await shared.open(), await shared.open()
    await p1.brokers.alive("b1", "t1", TTL, "L1")
    await p1.brokers.alive("b2", "t2", 30, "L1")
    await asyncio.sleep(TTL * 2)
    results = await asyncio.wait_for(
        asyncio.gather(*(p.brokers.expired() for p in (p1, p2) * 4)), DEADLINE
    )
    assert sorted(b for batch in results for b in batch) == ["b1"]
    assert await p2.brokers.targets() == {"b2": "t2"}
    assert await p1.brokers.expired() == []
