"""MATCH rules (docs/protocol.md, "Semantics"), driven on the logic service."""

from __future__ import annotations

import asyncio
import json

import pytest

from pairchat.logic.service import LogicService, Matched
from pairchat.protocol import Code, ProtocolError
from pairchat.storage.inbox import Push
from pairchat.storage.inbox_memory import MemoryInbox
from pairchat.storage.records import Route
from tests.unit.conftest import MATCH_WAIT


async def online(svc: LogicService, nick: str) -> tuple[int, Route]:
    route = Route("b", hash(nick) & 0xFFFF)
    bound = await svc.create_account(route, nick)
    return bound.account_id, route


async def match(svc: LogicService, who: tuple[int, Route]) -> Matched:
    return await svc.match(*who)


async def no_partner(svc: LogicService, who: tuple[int, Route]) -> None:
    with pytest.raises(ProtocolError) as err:
        await match(svc, who)
    assert err.value.code == Code.NOT_FOUND


async def queued(svc: LogicService, n: int) -> None:
    """Let the MATCH tasks run until n accounts wait (they only need loop turns)."""
    for _ in range(1000):
        if await svc.routing.waiting_count() >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{await svc.routing.waiting_count()} waiting, expected {n}")


def signals(svc: LogicService, kind: str) -> list[dict[str, object]]:
    assert isinstance(svc.inbox, MemoryInbox)
    frames = [json.loads(e.frame) for _, e in svc.inbox._items if isinstance(e, Push)]
    return [f for f in frames if f.get("signalType") == kind]


async def test_nobody_online_answers_not_found_after_the_wait(service: LogicService) -> None:
    alone = await online(service, "alone")
    started = asyncio.get_running_loop().time()
    await no_partner(service, alone)
    assert asyncio.get_running_loop().time() - started >= MATCH_WAIT * 0.9
    assert await service.routing.waiting_count() == 0


async def test_random_online_user_is_matched_and_told(service: LogicService) -> None:
    a, b = await online(service, "ann"), await online(service, "bob")
    m = await match(service, a)
    assert (m.partner_id, m.partner_name) == (b[0], "bob")
    [sig] = signals(service, "NewSession")
    assert sig["receiverId"] == b[0]
    assert sig["data"] == {"accountId": a[0], "nickName": "ann"}


async def test_never_self_nor_an_existing_partner(service: LogicService) -> None:
    a, b = await online(service, "ann"), await online(service, "bob")
    await match(service, a)
    await no_partner(service, a)  # b is the only one online, and already a partner
    await no_partner(service, b)


async def test_a_newcomer_is_offered_to_the_waiting_user(service: LogicService) -> None:
    a = await online(service, "ann")
    waiting = asyncio.create_task(match(service, a))
    await queued(service, 1)
    b = await online(service, "bob")  # comes online during the wait, asks for nothing
    ma = await waiting
    assert (ma.partner_id, ma.partner_name) == (b[0], "bob")
    [sig] = signals(service, "NewSession")
    assert (sig["receiverId"], sig["sessionId"]) == (b[0], ma.session_id)


async def test_a_waiting_user_comes_before_a_random_online_one(service: LogicService) -> None:
    # max_sessions=2. W waits because nobody online is acceptable to it (Z is its
    # partner, R is full); then R makes room and asks: W and Z are both acceptable
    # to R, and the waiting W must win.
    w_bound = await service.create_account(Route("b", 1), "w")
    z_bound = await service.create_account(Route("b", 2), "z")
    w, z = (w_bound.account_id, Route("b", 1)), (z_bound.account_id, Route("b", 2))
    assert (await match(service, w)).partner_id == z[0]  # the only one online
    await service.connection_closed(*w)
    await service.connection_closed(*z)
    r, p1, p2 = await online(service, "r"), await online(service, "p1"), await online(service, "p2")
    first, second = await match(service, r), await match(service, r)
    assert {first.partner_id, second.partner_id} == {p1[0], p2[0]}
    await service.connection_closed(*p1)
    await service.connection_closed(*p2)
    await service.reconnect(Route("b", 11), w[0], w_bound.token)
    await service.reconnect(Route("b", 12), z[0], z_bound.token)
    w, z = (w[0], Route("b", 11)), (z[0], Route("b", 12))
    waiting = asyncio.create_task(match(service, w))
    await queued(service, 1)
    await service.leave(*r, first.session_id)
    assert (await match(service, r)).partner_id == w[0]
    assert (await waiting).partner_id == r[0]


async def test_waiters_are_served_first_come_first_served(service: LogicService) -> None:
    w1, w2 = await online(service, "w1"), await online(service, "w2")
    await match(service, w1)  # w1 and w2 are partners: neither can take the other
    t1 = asyncio.create_task(match(service, w1))
    await queued(service, 1)
    t2 = asyncio.create_task(match(service, w2))
    await queued(service, 2)
    x = await online(service, "x")  # offered to the first waiter
    assert (await t1).partner_id == x[0]
    y = await online(service, "y")
    assert (await t2).partner_id == y[0]


async def test_capacity_is_respected(service: LogicService) -> None:  # max_sessions=2
    a, b, c = await online(service, "a"), await online(service, "b"), await online(service, "c")
    await match(service, a)
    await match(service, a)
    assert len(await service.routing.sessions_of(a[0])) == 2
    with pytest.raises(ProtocolError) as err:
        await match(service, a)
    assert err.value.code == Code.RATE_LIMITED
    # b and c are each in one session with a; they may still pair with each other
    assert (await match(service, b)).partner_id == c[0]


async def test_offline_and_logged_out_accounts_are_never_matched(service: LogicService) -> None:
    a, b, c = await online(service, "a"), await online(service, "b"), await online(service, "c")
    await service.connection_closed(b[0], b[1])
    await service.logout(*c)
    await no_partner(service, a)


async def test_a_waiter_that_disconnects_leaves_the_queue(service: LogicService) -> None:
    a = await online(service, "a")
    waiting = asyncio.create_task(match(service, a))
    await queued(service, 1)
    await service.connection_closed(*a)
    with pytest.raises(ProtocolError):
        await waiting
    assert await service.routing.waiting_count() == 0
    b = await online(service, "b")
    await no_partner(service, b)
