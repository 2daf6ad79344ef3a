"""The per-address and per-account rate limits: the decisions of
logic/rate_limits.py on a clock the tests move, and the use cases they guard
(refused with code 8 and a retry time, changing nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from pairchat.logic.config import LogicConfig
from pairchat.logic.rate_limits import RateLimits, address_subject, retry_msg
from pairchat.logic.service import LogicService
from pairchat.protocol import Code, ProtocolError
from pairchat.storage.brokers_memory import MemoryBrokers
from pairchat.storage.inbox_memory import MemoryInbox
from pairchat.storage.leases_memory import MemoryLeases
from pairchat.storage.limits_memory import MemoryLimits
from pairchat.storage.records import Route
from pairchat.storage.routing_memory import MemoryRouting
from pairchat.storage.store_sqlite import SqliteStore
from pairchat.storage.timers_memory import MemoryTimers

IP, OTHER_IP = "198.51.100.7", "198.51.100.8"
CONFIG = LogicConfig(
    match_wait=0.05,
    max_sessions=50,
    max_accounts_per_ip=3,
    accounts_window=600.0,
    max_matches_per_account=4,
    matches_window=60.0,
    max_failed_reconnects_per_ip=2,
    reconnects_window=300.0,
)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def refused_after(exc: pytest.ExceptionInfo[ProtocolError]) -> int:
    """The seconds a code 8 refusal says to wait."""
    assert exc.value.code == Code.RATE_LIMITED
    what, _, after = exc.value.msg.rpartition(": retry in ")
    assert what and after.endswith(" s"), exc.value.msg
    return int(after[:-2])


# --- pure parts ---
@pytest.mark.parametrize(
    ("address", "subject"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("?", "?"),
    ],
)
def test_an_address_is_counted_as_itself_or_its_ipv6_64(address: str, subject: str) -> None:
    assert address_subject(address) == subject


def test_the_retry_message_says_when_in_whole_seconds() -> None:
    assert retry_msg("too many", 12.01) == "too many: retry in 13 s"
    assert retry_msg("too many", 0.2) == "too many: retry in 1 s"


# --- the decisions ---
async def test_memory_windows_open_at_the_first_event_and_end() -> None:
    clock = Clock()
    limits = MemoryLimits(clock)
    assert [await limits.hit("k", 2, 10.0) for _ in range(2)] == [0.0, 0.0]
    assert await limits.blocked("k", 2) == 10.0
    clock.now += 4
    assert await limits.hit("k", 2, 10.0) == 6.0  # over: the window does not move
    assert await limits.hit("other", 2, 10.0) == 0.0
    clock.now += 6
    assert await limits.blocked("k", 2) == 0.0
    assert await limits.hit("k", 2, 10.0) == 0.0


async def test_memory_limits_forget_ended_windows() -> None:
    clock = Clock()
    limits = MemoryLimits(clock)
    for i in range(5000):
        await limits.hit(f"address {i}", 1, 1.0)
        clock.now += 0.01
    assert len(limits._windows) < 2048


async def test_accounts_per_address() -> None:
    clock = Clock()
    rate = RateLimits(MemoryLimits(clock), CONFIG)
    for _ in range(3):
        await rate.create_account(IP)
    with pytest.raises(ProtocolError) as exc:
        await rate.create_account(IP)
    assert refused_after(exc) == 600
    await rate.create_account(OTHER_IP)  # another address has its own count
    await rate.create_account("")  # no address known: not counted
    clock.now += 600
    await rate.create_account(IP)


async def test_ipv6_addresses_of_one_64_share_a_count() -> None:
    rate = RateLimits(MemoryLimits(Clock()), CONFIG)
    for host in (1, 2, 3):
        await rate.create_account(f"2001:db8::{host}")
    with pytest.raises(ProtocolError):
        await rate.create_account("2001:db8::ffff")
    await rate.create_account("2001:db8:0:1::1")


async def test_matches_per_account() -> None:
    clock = Clock()
    rate = RateLimits(MemoryLimits(clock), CONFIG)
    for _ in range(4):
        await rate.match(1)
    clock.now += 15
    with pytest.raises(ProtocolError) as exc:
        await rate.match(1)
    assert refused_after(exc) == 45
    await rate.match(2)


async def test_failed_reconnects_block_the_address_until_the_window_ends() -> None:
    clock = Clock()
    rate = RateLimits(MemoryLimits(clock), CONFIG)
    await rate.check_reconnect(IP)
    await rate.reconnect_failed(IP)
    await rate.check_reconnect(IP)  # one failure: still allowed
    await rate.reconnect_failed(IP)
    with pytest.raises(ProtocolError) as exc:
        await rate.check_reconnect(IP)
    assert refused_after(exc) == 300
    await rate.check_reconnect(OTHER_IP)
    clock.now += 300
    await rate.check_reconnect(IP)


async def test_a_limit_of_zero_is_off() -> None:
    off = LogicConfig(
        max_accounts_per_ip=0, max_matches_per_account=0, max_failed_reconnects_per_ip=0
    )
    rate = RateLimits(MemoryLimits(Clock()), off)
    for _ in range(100):
        await rate.create_account(IP)
        await rate.match(1)
        await rate.reconnect_failed(IP)
    await rate.check_reconnect(IP)


# --- the use cases they guard ---
@pytest.fixture
async def guarded(store: SqliteStore) -> AsyncIterator[tuple[LogicService, Clock]]:
    clock = Clock()
    svc = LogicService(
        store,
        MemoryRouting(),
        MemoryTimers(),
        MemoryInbox(),
        MemoryBrokers(),
        MemoryLimits(clock),
        MemoryLeases(),
        CONFIG,
    )
    await svc.start()
    yield svc, clock
    await svc.stop()


async def test_account_creation_past_the_limit_creates_nothing(
    guarded: tuple[LogicService, Clock], store: SqliteStore
) -> None:
    svc, _ = guarded
    ids = [(await svc.create_account(Route("b", i), "ann", IP)).account_id for i in range(3)]
    with pytest.raises(ProtocolError) as exc:
        await svc.create_account(Route("b", 9), "ann", IP)
    assert exc.value.code == Code.RATE_LIMITED
    assert await store.get_account(max(ids) + 1) is None
    assert await svc.routing.online_count() == 3


async def test_matches_past_the_limit_are_refused(guarded: tuple[LogicService, Clock]) -> None:
    svc, clock = guarded
    a = (await svc.create_account(Route("b", 1), "ann")).account_id
    for i in range(5):
        await svc.create_account(Route("b", 10 + i), f"p{i}")
    for _ in range(4):
        session = await svc.match(a, Route("b", 1))
        await svc.leave(a, Route("b", 1), session.session_id)
    with pytest.raises(ProtocolError) as exc:
        await svc.match(a, Route("b", 1))
    assert exc.value.code == Code.RATE_LIMITED
    assert len(await svc.routing.sessions_of(a)) == 0
    clock.now += 60
    await svc.match(a, Route("b", 1))


async def test_failed_reconnects_refuse_even_the_right_token(
    guarded: tuple[LogicService, Clock],
) -> None:
    svc, clock = guarded
    owner = await svc.create_account(Route("b", 1), "ann")
    for _ in range(2):
        with pytest.raises(ProtocolError) as exc:
            await svc.reconnect(Route("b", 2), owner.account_id, "wrong", IP)
        assert exc.value.code == Code.UNAUTHORIZED
    with pytest.raises(ProtocolError) as exc:
        await svc.reconnect(Route("b", 2), owner.account_id, owner.token, IP)
    assert exc.value.code == Code.RATE_LIMITED
    [route] = await svc.routing.routes([owner.account_id])
    assert route == Route("b", 1)  # still bound where it was
    # Another address, and the same once the window has passed, get in.
    await svc.reconnect(Route("b", 3), owner.account_id, owner.token, OTHER_IP)
    clock.now += 300
    await svc.reconnect(Route("b", 2), owner.account_id, owner.token, IP)


async def test_a_successful_reconnect_counts_nothing(guarded: tuple[LogicService, Clock]) -> None:
    svc, _ = guarded
    owner = await svc.create_account(Route("b", 1), "ann")
    for i in range(5):
        await svc.reconnect(Route("b", 2 + i), owner.account_id, owner.token, IP)
    with pytest.raises(ProtocolError) as exc:
        await svc.reconnect(Route("b", 9), owner.account_id, "wrong", IP)
    assert exc.value.code == Code.UNAUTHORIZED
