"""The `Inbox` contract (storage/inbox.py docstrings), run against every
backend, and what the Redis inbox adds for several workers: shards shared
fairly, one session with one worker at a time, and what a worker that stopped
or died had taken is taken again, in order."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
import redis
import redis.asyncio

from pairchat.storage.inbox import Close, Entry, Inbox, Push, Replay, decode_entry, encode_entry
from pairchat.storage.inbox_redis import InboxConfigError
from pairchat.storage.redis_keys import ENTRY_FIELD, INBOX_GROUP, Keys
from tests.contract.conftest import DEADLINE, REDIS_URL, Shared

LEASE_TTL = 0.5  # seconds: how long a dead worker's shards stall in these tests


def push(session_id: int, msg_id: int) -> Push:
    return Push(recipient=7, session_id=session_id, frame=b'{"m":%d}' % msg_id, msg_id=msg_id)


def key(entry: Entry) -> tuple[int, int]:
    assert isinstance(entry, Push)
    return entry.session_id, entry.msg_id


def in_session_order(log: Sequence[Entry]) -> bool:
    """Each session's msg ids appear as 1, 2, 3, ... in the log."""
    seen: dict[int, int] = {}
    for session_id, msg_id in map(key, log):
        if msg_id != seen.get(session_id, 0) + 1:
            return False
        seen[session_id] = msg_id
    return True


async def take_all(inbox: Inbox, consumer: str, count: int, limit: int = 100) -> list[Entry]:
    """Take (and mark done) until `count` entries came."""
    got: list[Entry] = []
    while len(got) < count:
        batch = await asyncio.wait_for(inbox.take(consumer, limit), DEADLINE)
        await inbox.done(consumer, [entry_id for entry_id, _ in batch])
        got.extend(entry for _, entry in batch)
    return got


class Worker:
    """A delivery worker: takes, "pushes" each entry (appending it to `pushed`
    after `delay`), marks the batch done."""

    def __init__(
        self,
        inbox: Inbox,
        name: str,
        pushed: list[tuple[str, Entry]],
        limit: int = 10,
        delay: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.name = name
        self._inbox, self._pushed, self._limit, self._delay = inbox, pushed, limit, delay
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self._inbox.take(self.name, self._limit)
            for _, entry in batch:
                if (pause := self._delay()) > 0:
                    await asyncio.sleep(pause)
                self._pushed.append((self.name, entry))
            await self._inbox.done(self.name, [entry_id for entry_id, _ in batch])

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def ends_when_cancelled(self, seconds: float) -> bool:
        self._task.cancel()
        ended, _ = await asyncio.wait([self._task], timeout=seconds)
        return bool(ended)


@contextlib.asynccontextmanager
async def workers(
    *specs: tuple[Inbox, str], pushed: list[tuple[str, Entry]], **options: Any
) -> AsyncIterator[list[Worker]]:
    running = [Worker(inbox, name, pushed, **options) for inbox, name in specs]
    try:
        yield running
    finally:
        for worker in running:
            await worker.stop()


async def until(condition: Callable[[], bool]) -> None:
    """Wait until condition() holds, for at most DEADLINE."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"still not true after {DEADLINE} s")
        await asyncio.sleep(0.02)


# --- the contract, every backend ---
async def test_entries_come_back_as_they_were_put(shared: Shared) -> None:
    inbox = (await shared.open()).inbox
    entries: list[Entry] = [
        push(3, 1),
        Replay(7, 3, "b1", 12),
        Close(7, 0, "b1", 11),
        push(3, 2),
        push(4, 1),
    ]
    await inbox.put(entries)
    await inbox.put([])
    taken = await asyncio.wait_for(inbox.take("w", 100), DEADLINE)
    while len(taken) < len(entries):
        taken += await asyncio.wait_for(inbox.take("w", 100), DEADLINE)
    assert sorted(map(repr, (e for _, e in taken))) == sorted(map(repr, entries))
    assert len({entry_id for entry_id, _ in taken}) == len(entries)
    by_session = [e for _, e in taken if e.session_id == 3]
    assert by_session == [push(3, 1), Replay(7, 3, "b1", 12), push(3, 2)]


async def test_take_returns_at_most_limit_in_order(shared: Shared) -> None:
    inbox = (await shared.open()).inbox
    await inbox.put([push(5, n) for n in range(1, 26)])
    got: list[Entry] = []
    while len(got) < 25:
        batch = await asyncio.wait_for(inbox.take("w", 10), DEADLINE)
        assert 1 <= len(batch) <= 10
        await inbox.done("w", [entry_id for entry_id, _ in batch])
        got += [entry for _, entry in batch]
    assert got == [push(5, n) for n in range(1, 26)]


async def test_take_waits_until_there_is_an_entry(shared: Shared) -> None:
    p1, p2 = await shared.open(), await shared.open()
    waiting = asyncio.create_task(p1.inbox.take("w", 10))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await p2.inbox.put([push(9, 1)])
    batch = await asyncio.wait_for(waiting, DEADLINE)
    assert [entry for _, entry in batch] == [push(9, 1)]


async def test_done_entries_are_not_taken_again(shared: Shared) -> None:
    inbox = (await shared.open()).inbox
    await inbox.put([push(1, n) for n in range(1, 6)])
    assert await take_all(inbox, "w", 5) == [push(1, n) for n in range(1, 6)]
    await inbox.put([push(1, 6)])
    assert await take_all(inbox, "w", 1) == [push(1, 6)]


async def test_two_consumers_take_each_session_in_order(shared: Shared) -> None:
    p1, p2 = await shared.open(), await shared.open()
    pushed: list[tuple[str, Entry]] = []
    async with workers((p1.inbox, "w1"), (p2.inbox, "w2"), pushed=pushed, limit=7):
        for msg_id in range(1, 16):
            await p1.inbox.put([push(s, msg_id) for s in range(1, 21)])
        await until(lambda: len(pushed) >= 300)
    log = [entry for _, entry in pushed]
    assert len(log) == 300 and len(set(map(key, log))) == 300
    assert in_session_order(log)


# --- the Redis inbox: several workers ---
async def test_a_session_stays_in_order_while_workers_push_at_their_own_pace(
    redis_shared: Shared,
) -> None:
    """Workers that take their time per entry, joining one after another: a
    session's pushes still come in msg order, each once."""
    processes = [await redis_shared.open(lease_ttl=LEASE_TTL) for _ in range(3)]
    rng = random.Random(7)
    pushed: list[tuple[str, Entry]] = []
    async with workers(
        (processes[0].inbox, "w0"), pushed=pushed, limit=5, delay=lambda: rng.random() * 0.002
    ) as running:
        for msg_id in range(1, 41):
            await processes[2].inbox.put([push(s, msg_id) for s in range(1, 13)])
            if msg_id in (10, 20):
                index = msg_id // 10
                running.append(
                    Worker(
                        processes[index].inbox,
                        f"w{index}",
                        pushed,
                        limit=5,
                        delay=lambda: rng.random() * 0.002,
                    )
                )
            await asyncio.sleep(0.02)
        await until(lambda: len(pushed) >= 480)
    log = [entry for _, entry in pushed]
    assert len(log) == 480 and len(set(map(key, log))) == 480
    assert in_session_order(log)
    assert {name for name, _ in pushed} == {"w0", "w1", "w2"}


async def one_round(inbox: Inbox, pushed: list[tuple[str, Entry]], round_no: int) -> Counter[str]:
    """Put one entry in each of 16 sessions (one per shard); who pushed how many."""
    start = len(pushed)
    await inbox.put([push(s, round_no) for s in range(16)])
    await until(lambda: len(pushed) >= start + 16)
    return Counter(name for name, _ in pushed[start:])


async def test_shards_are_shared_fairly_as_workers_come_and_go(redis_shared: Shared) -> None:
    p1, p2, p3 = [await redis_shared.open(lease_ttl=LEASE_TTL) for _ in range(3)]
    pushed: list[tuple[str, Entry]] = []
    round_no = 0

    async def share_becomes(wanted: list[int]) -> None:
        nonlocal round_no
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while True:
            round_no += 1
            counts = await one_round(p1.inbox, pushed, round_no)
            if sorted(counts.values()) == wanted:
                return
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"shares {dict(counts)}, wanted {wanted}")
            await asyncio.sleep(LEASE_TTL / 2)

    async with workers((p1.inbox, "a"), pushed=pushed) as running:
        await share_becomes([16])
        running.append(Worker(p2.inbox, "b", pushed))
        await share_becomes([8, 8])
        running.append(Worker(p3.inbox, "c", pushed))
        await share_becomes([5, 5, 6])
        await running.pop().stop()
        await redis_shared.close(p3)  # gives its shards up at once
        await share_becomes([8, 8])
    assert in_session_order([entry for _, entry in pushed])


async def test_a_busy_shard_is_handed_over_only_once_done(redis_shared: Shared) -> None:
    """With 2 shards and a second worker joining, the first gives up a shard only
    after marking done what it took from it; the newcomer then goes on in order."""
    first = await redis_shared.open(lease_ttl=LEASE_TTL, inbox_shards=2)
    second = await redis_shared.open(lease_ttl=LEASE_TTL, inbox_shards=2)
    await first.inbox.put([push(0, 1), push(1, 1)])
    taken = await take_all_undone(first.inbox, "a", 2)
    await first.inbox.put([push(0, 2), push(1, 2)])
    early = asyncio.create_task(second.inbox.take("b", 10))
    await asyncio.sleep(LEASE_TTL * 4)  # many lease rounds: the shards stay with "a"
    assert not early.done()
    await first.inbox.done("a", [entry_id for entry_id, _ in taken])
    got_b = [entry for _, entry in await asyncio.wait_for(early, DEADLINE)]
    got_a = [entry for _, entry in await asyncio.wait_for(first.inbox.take("a", 10), DEADLINE)]
    assert sorted(map(key, got_a + got_b)) == [(0, 2), (1, 2)]
    assert len(got_a) == len(got_b) == 1


async def test_a_shard_whose_entries_are_never_done_stays_with_its_worker(
    redis_shared: Shared,
) -> None:
    """Entries whose delivery failed are not done until their worker is gone:
    asked to hand their shard to a newcomer, the worker keeps it once the drain
    timeout passed, and reads it again."""
    options: dict[str, Any] = {"lease_ttl": LEASE_TTL, "inbox_shards": 2, "drain_timeout": 1.0}
    first, second = await redis_shared.open(**options), await redis_shared.open(**options)
    await first.inbox.put([push(0, 1), push(1, 1)])
    await take_all_undone(first.inbox, "a", 2)  # and never done
    newcomer = asyncio.create_task(second.inbox.take("b", 10))
    await asyncio.sleep(LEASE_TTL)  # "a" saw "b" and stopped reading one shard
    await first.inbox.put([push(0, 2), push(1, 2)])
    got = await take_all_undone(first.inbox, "a", 2)
    assert sorted(key(entry) for _, entry in got) == [(0, 2), (1, 2)]
    assert not newcomer.done()
    newcomer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await newcomer


async def take_all_undone(inbox: Inbox, consumer: str, count: int) -> list[tuple[str, Entry]]:
    taken: list[tuple[str, Entry]] = []
    while len(taken) < count:
        taken += await asyncio.wait_for(inbox.take(consumer, 100), DEADLINE)
    return taken


async def test_what_a_stopped_worker_took_is_taken_again_in_order(redis_shared: Shared) -> None:
    leaving = await redis_shared.open(lease_ttl=LEASE_TTL)
    staying = await redis_shared.open(lease_ttl=LEASE_TTL)
    await leaving.inbox.put([push(s, n) for n in (1, 2, 3) for s in (1, 2)])
    taken = await take_all_undone(leaving.inbox, "leaving", 6)
    await leaving.inbox.done("leaving", [entry_id for entry_id, e in taken if key(e) == (2, 1)])
    await staying.inbox.put([push(s, 4) for s in (1, 2)])
    await redis_shared.close(leaving)  # without marking the rest done
    got = await take_all(staying.inbox, "staying", 7)
    assert [key(e) for e in got if e.session_id == 1] == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert [key(e) for e in got if e.session_id == 2] == [(2, 2), (2, 3), (2, 4)]


DYING_WORKER = """
import asyncio, json, sys
from pairchat.storage.redis import connect_redis

async def main():
    backends = await connect_redis(sys.argv[1], sys.argv[2], lease_ttl=float(sys.argv[3]))
    taken = []
    while len(taken) < int(sys.argv[4]):
        taken += await backends.inbox.take("dying", 100)
    print(json.dumps([entry_id for entry_id, _ in taken]), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_what_a_killed_worker_took_is_taken_again_in_order(redis_shared: Shared) -> None:
    """kill -9 of a worker holding every shard: its leases run out, another
    worker claims what it took (XAUTOCLAIM) and pushes that before newer entries."""
    first = await redis_shared.open(lease_ttl=LEASE_TTL)
    await first.inbox.put([push(s, n) for n in (1, 2, 3) for s in (1, 2, 3)])
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DYING_WORKER,
        REDIS_URL,
        redis_shared.prefix,
        str(LEASE_TTL),
        "9",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert worker.stdout is not None
        line = await asyncio.wait_for(worker.stdout.readline(), DEADLINE)
        assert len(json.loads(line)) == 9
    finally:
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
    await first.inbox.put([push(s, 4) for s in (1, 2, 3)])
    got = await take_all(first.inbox, "survivor", 12)
    for s in (1, 2, 3):
        assert [key(e) for e in got if e.session_id == s] == [(s, n) for n in (1, 2, 3, 4)]


async def test_a_cancelled_take_loses_nothing(redis_shared: Shared) -> None:
    """A take cancelled after Redis handed it entries but before it read the
    reply: the entries are the consumer's in the group, and its next take
    returns them."""
    process = await redis_shared.open(lease_ttl=LEASE_TTL)
    await process.inbox.put([push(1, 1)])
    await take_all(process.inbox, "w", 1)  # the consumer holds its shards now
    # A second client that works while this event loop is blocked, so that the
    # reply to the blocked XREADGROUP arrives but is never read.
    other = redis.Redis.from_url(REDIS_URL)
    try:
        for n in range(2, 7):
            blocked = asyncio.create_task(process.inbox.take("w", 10))
            await asyncio.sleep(0.05)  # the take waits in XREADGROUP
            other.xadd(Keys(redis_shared.prefix).inbox(1), {ENTRY_FIELD: encode_entry(push(1, n))})
            time.sleep(0.05)  # noqa: ASYNC251 -- the reply lands, unread
            blocked.cancel()
            with pytest.raises(asyncio.CancelledError):
                await blocked
            batch = await asyncio.wait_for(process.inbox.take("w", 10), DEADLINE)
            assert [entry for _, entry in batch] == [push(1, n)]
            await process.inbox.done("w", [entry_id for entry_id, _ in batch])
    finally:
        other.close()


async def test_entries_handed_to_a_read_that_went_astray_are_taken(redis_shared: Shared) -> None:
    """A read whose reply never reached the consumer (here: another client reads
    as that consumer, as a command Redis runs late from a connection the worker
    gave up would): the consumer finds the entries pending to it and takes them."""
    process = await redis_shared.open(lease_ttl=LEASE_TTL)
    await process.inbox.put([push(1, 1)])
    await take_all(process.inbox, "w", 1)  # the consumer holds its shards now
    await process.inbox.put([push(1, 2), push(1, 3)])
    stray = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        reply: Any = await stray.xreadgroup(
            INBOX_GROUP, "w", {Keys(redis_shared.prefix).inbox(1): ">"}
        )
        assert len(reply[0][1]) == 2  # pending to "w", which never saw them
    finally:
        await stray.aclose()
    got = await take_all(process.inbox, "w", 2)
    assert got == [push(1, 2), push(1, 3)]


async def test_a_cancelled_take_always_ends(redis_shared: Shared) -> None:
    """Cancelling a busy worker ends it, whatever it was doing: a cancellation
    lost inside a Redis call would leave it taking forever."""
    consumer = await redis_shared.open(lease_ttl=LEASE_TTL)
    producer = await redis_shared.open()
    pushed: list[tuple[str, Entry]] = []
    rng = random.Random(11)

    async def feed() -> None:
        for msg_id in itertools.count(1):
            await producer.inbox.put([push(s, msg_id) for s in range(16)])
            await asyncio.sleep(rng.random() * 0.005)

    feeding = asyncio.create_task(feed())
    try:
        for _ in range(150):
            worker = Worker(consumer.inbox, "w", pushed)
            await asyncio.sleep(rng.random() * 0.02)
            assert await worker.ends_when_cancelled(DEADLINE / 10)
    finally:
        feeding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeding
    assert pushed  # the workers did work between the cancellations


async def test_processes_must_agree_on_the_shard_count(redis_shared: Shared) -> None:
    await redis_shared.open(inbox_shards=16)
    with pytest.raises(InboxConfigError, match="16 shards, this process 8"):
        await redis_shared.open(inbox_shards=8)


async def test_entries_put_by_an_earlier_version_are_taken(redis_shared: Shared) -> None:
    """The entries' msgpack is their wire format across versions: these bytes were
    put by the version that kept the entries in delivery/entries.py, and a worker
    updated while they wait in Redis must still take them."""
    earlier: dict[bytes, Entry] = {
        b'\x96\xa1p\x07\x03\xc4\x07{"x":1}\x05\xcf\x00\x06\n$\x18\x1e@\x00': Push(
            7, 3, b'{"x":1}', 5, 1_700_000_000_000_000
        ),
        b"\x96\xa1p\x07\x03\xc4\x01f\x00\x00": Push(7, 3, b"f"),
        b"\x95\xa1r\x07\x03\xa2b1\t": Replay(7, 3, "b1", 9),
        b"\x95\xa1c\x07\x00\xa2b1\t": Close(7, 0, "b1", 9),
    }
    for data, entry in earlier.items():
        assert decode_entry(data) == entry
    # a Replay gained `after_msg_id` (the pages of a long backlog) since: it is
    # encoded at the end, so the earlier bytes are the first page's Replay
    assert encode_entry(Replay(7, 3, "b1", 9, 200)) == b"\x96\xa1r\x07\x03\xa2b1\t\xcc\xc8"
    process = await redis_shared.open(inbox_shards=1)
    stream = Keys(redis_shared.prefix).inbox(0)
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        for data in earlier:
            await client.xadd(stream, {ENTRY_FIELD: data})
    finally:
        await client.aclose()
    assert await take_all(process.inbox, "w", len(earlier)) == list(earlier.values())
