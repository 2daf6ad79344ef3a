"""What only the Redis backends have beyond the shared contracts: connecting,
notices between processes, bounded scripts, and recovery when Redis lost its
scripts or keys."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from pairchat.storage import routing_redis
from pairchat.storage.inbox import Push
from pairchat.storage.records import Route, StoreUnavailable
from pairchat.storage.redis import connect_redis, safe_redis_url
from pairchat.storage.redis_keys import Keys
from pairchat.storage.routing import Pairing
from tests.contract.conftest import DEADLINE, REDIS_URL, Shared


# --- connecting ---
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@db.example:6380/2", "redis://db.example:6380/2"),
        ("rediss://app:s3cret@db.example/0", "rediss://app@db.example/0"),
        ("unix:///run/redis.sock?db=1&password=s3cret", "unix:///run/redis.sock?db=1&password=***"),
    ],
)
def test_urls_are_shown_without_password(url: str, shown: str) -> None:
    assert safe_redis_url(url) == shown


async def test_an_unreachable_redis_is_named_without_its_password() -> None:
    with pytest.raises(StoreUnavailable) as raised:
        await asyncio.wait_for(connect_redis("redis://app:s3cret@127.0.0.1:1/0"), DEADLINE)
    message = str(raised.value)
    assert "redis://app@127.0.0.1:1/0" in message
    assert "s3cret" not in message


async def test_a_url_that_is_not_redis_is_refused() -> None:
    with pytest.raises(StoreUnavailable, match="not a Redis URL: http://x@host/"):
        await connect_redis("http://x:s3cret@host/")


# --- notices ---
async def test_a_notice_reaches_only_the_process_of_its_token(redis_shared: Shared) -> None:
    p1, p2 = await redis_shared.open(), await redis_shared.open()
    got1: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    got2: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    p1.routing.on_notify(lambda token, payload: got1.put_nowait((token, payload)))
    p2.routing.on_notify(lambda token, payload: got2.put_nowait((token, payload)))
    await p1.routing.bind(1, Route("b1", 1))
    await p2.routing.bind(2, Route("b1", 2))
    t1, t2 = p1.routing.make_token(), p2.routing.make_token()
    await p1.routing.wait(1, t1)
    await p2.routing.wait(2, t2)
    await p2.routing.notify(t1, b"one")
    await p1.routing.notify(t2, b"two")
    assert await asyncio.wait_for(got1.get(), DEADLINE) == (t1, b"one")
    assert await asyncio.wait_for(got2.get(), DEADLINE) == (t2, b"two")
    await asyncio.sleep(0.1)
    assert got1.empty() and got2.empty()


async def test_a_failing_notice_callback_does_not_stop_the_listening(
    redis_shared: Shared,
) -> None:
    p1, p2 = await redis_shared.open(), await redis_shared.open()
    got: asyncio.Queue[bytes] = asyncio.Queue()

    def callback(token: str, payload: bytes) -> None:
        got.put_nowait(payload)
        if payload == b"first":
            raise RuntimeError("a bug in the receiver")

    p1.routing.on_notify(callback)
    await p1.routing.bind(1, Route("b1", 1))
    token = p1.routing.make_token()
    await p1.routing.wait(1, token)
    await p2.routing.notify(token, b"first")
    await p2.routing.notify(token, b"second")
    assert await asyncio.wait_for(got.get(), DEADLINE) == b"first"
    assert await asyncio.wait_for(got.get(), DEADLINE) == b"second"


# --- the match queue ---
async def test_pair_removes_entries_of_accounts_that_went_offline(redis_shared: Shared) -> None:
    routing = (await redis_shared.open()).routing
    await routing.bind(1, Route("b1", 1))
    await routing.wait(2, routing.make_token())  # queued after its unbind, say
    await routing.wait(3, routing.make_token())
    assert await routing.waiting_count() == 2
    assert await routing.pair(1, 5) is None
    assert await routing.waiting_count() == 0


async def test_a_waiter_past_the_scan_limit_is_answered_too(
    redis_shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pair` examines a bounded part of the queue; a waiting account it then
    picks among the online ones still leaves the queue with its token."""
    monkeypatch.setattr(routing_redis, "PAIR_SCAN_LIMIT", 1)
    routing = (await redis_shared.open()).routing
    for account in (1, 2, 3):
        await routing.bind(account, Route("b1", account))
    await routing.add_session(routing_redis.parse_session(9, b"1,2"))
    token = routing.make_token()
    await routing.wait(2, routing.make_token())  # 1's partner: not acceptable
    await routing.wait(3, token)  # beyond the one entry examined
    assert await routing.pair(1, 5) == Pairing(3, token)
    assert await routing.waiting_count() == 1
    assert not await routing.stop_waiting(3, token)


async def test_a_waiter_past_the_scan_limit_is_picked_by_its_entry_rules(
    redis_shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A random pick that lands on a waiting account takes it only through an
    entry that suits the requester (a strict one sharing nothing never), whether
    or not the account is available, and tells what they share."""
    monkeypatch.setattr(routing_redis, "PAIR_SCAN_LIMIT", 1)
    routing = (await redis_shared.open()).routing
    for account in (1, 2, 3):
        await routing.bind(account, Route("b1", account))
    await routing.add_session(routing_redis.parse_session(9, b"1,2"))
    await routing.wait(2, routing.make_token())  # 1's partner: not acceptable
    token = routing.make_token()
    await routing.wait(3, token, ["chess", "go"], strict=True)  # beyond the one examined
    await routing.set_available(3, False)
    assert await routing.pair(1, 5, interests=["jazz"]) is None
    assert await routing.pair(1, 5, interests=["go", "jazz"]) == Pairing(3, token, ("go",))
    assert await routing.waiting_count() == 1


# --- recovery ---
async def test_scripts_are_loaded_again_after_redis_forgot_them(redis_shared: Shared) -> None:
    routing = (await redis_shared.open()).routing
    await routing.bind(1, Route("b1", 1))
    await routing.bind(2, Route("b1", 2))
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.script_flush()  # what a restart does to the script cache
    finally:
        await client.aclose()
    assert await routing.pair(1, 5) == Pairing(2)


async def test_the_inbox_recovers_from_losing_its_streams(redis_shared: Shared) -> None:
    """A Redis restarted without persistence has no streams and no consumer
    groups: a running consumer recreates them and goes on."""
    inbox = (await redis_shared.open()).inbox
    await inbox.put([Push(7, 1, b"a", 1)])
    [(first_id, _)] = await asyncio.wait_for(inbox.take("w", 10), DEADLINE)
    await inbox.done("w", [first_id])
    waiting = asyncio.create_task(inbox.take("w", 10))
    await asyncio.sleep(0.2)
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = Keys(redis_shared.prefix)
        await client.delete(*(keys.inbox(s) for s in range(16)))
    finally:
        await client.aclose()
    await inbox.put([Push(7, 1, b"b", 2)])
    batch = await asyncio.wait_for(waiting, DEADLINE)
    assert [entry for _, entry in batch] == [Push(7, 1, b"b", 2)]
