"""MATCH rules (PROTOCOL.md "Semantics"), driven on the logic service."""

from __future__ import annotations

import asyncio
import json

import pytest

from pairchat.delivery.entries import Push
from pairchat.logic.service import LogicService, Matched
from pairchat.protocol import Code, ProtocolError
from pairchat.storage.memory import Route
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
        if len(svc.queue) >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(svc.queue)} waiting, expected {n}")


def signals(svc: LogicService, kind: str) -> list[dict[str, object]]:
    frames = [json.loads(e.frame) for e in svc.inbox._items if isinstance(e, Push)]
    return [f for f in frames if f.get("signalType") == kind]


async def test_nobody_online_answers_not_found_after_the_wait(service: LogicService) -> None:
    alone = await online(service, "alone")
    started = asyncio.get_running_loop().time()
    await no_partner(service, alone)
    assert asyncio.get_running_loop().time() - started >= MATCH_WAIT * 0.9
    assert len(service.queue) == 0


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


async def test_a_waiting_user_is_paired_first(service: LogicService) -> None:
    a = await online(service, "ann")
    waiting = asyncio.create_task(match(service, a))
    await queued(service, 1)
    b = await online(service, "bob")
    c = await online(service, "cy")
    mb = await match(service, b)
    assert mb.partner_id == a[0]
    ma = await waiting
    assert (ma.session_id, ma.partner_id, ma.partner_name) == (mb.session_id, b[0], "bob")
    # c was online too, but the waiting user comes first; c is still free
    assert service.routing.accounts[c[0]].sessions == set()


async def test_waiters_are_served_first_come_first_served(service: LogicService) -> None:
    w1, w2 = await online(service, "w1"), await online(service, "w2")
    await match(service, w1)  # w1 and w2 are partners: neither can take the other
    t1 = asyncio.create_task(match(service, w1))
    await queued(service, 1)
    t2 = asyncio.create_task(match(service, w2))
    await queued(service, 2)
    x, y = await online(service, "x"), await online(service, "y")
    assert (await match(service, x)).partner_id == w1[0]
    assert (await match(service, y)).partner_id == w2[0]
    assert (await t1).partner_id == x[0]
    assert (await t2).partner_id == y[0]


async def test_capacity_is_respected(service: LogicService) -> None:  # max_sessions=2
    a, b, c = await online(service, "a"), await online(service, "b"), await online(service, "c")
    await match(service, a)
    await match(service, a)
    assert len(service.routing.accounts[a[0]].sessions) == 2
    with pytest.raises(ProtocolError) as err:
        await match(service, a)
    assert err.value.code == Code.RATE_LIMITED
    # b and c are each in one session with a; they may still pair with each other
    assert (await match(service, b)).partner_id == c[0]


async def test_offline_and_logged_out_accounts_are_never_matched(service: LogicService) -> None:
    a, b, c = await online(service, "a"), await online(service, "b"), await online(service, "c")
    service.connection_closed(b[0], b[1])
    await service.logout(*c)
    await no_partner(service, a)


async def test_a_waiter_that_disconnects_leaves_the_queue(service: LogicService) -> None:
    a = await online(service, "a")
    waiting = asyncio.create_task(match(service, a))
    await queued(service, 1)
    service.connection_closed(*a)
    with pytest.raises(ProtocolError):
        await waiting
    assert len(service.queue) == 0
    b = await online(service, "b")
    await no_partner(service, b)
