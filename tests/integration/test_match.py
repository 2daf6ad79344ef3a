"""MATCH on the shared system (match wait = TIMEOUT): waiting users first, in
arrival order; the waiter's pending MATCH is answered with the new partner."""

from __future__ import annotations

import asyncio

from .client import ChatClient, Frame, is_signal
from .harness import TIMEOUT, System, wait_for_metric
from .users import Users

QUEUE_LENGTH = "pairchat_match_queue_length"


async def wait_until_waiting(system: System, count: int) -> None:
    """Until logic reports `count` accounts waiting in MATCH."""
    await wait_for_metric(system.logic_http + "/metrics", QUEUE_LENGTH, lambda v: v == count)


async def answered(pending: asyncio.Future[Frame]) -> Frame:
    return await asyncio.wait_for(pending, TIMEOUT)


async def assert_matched(
    response: Frame, partner: ChatClient, session_id: int | None = None
) -> None:
    assert response["code"] == 0, response
    assert response["partnerId"] == partner.account_id, response
    assert response["partnerName"] == partner.nick, response
    if session_id is not None:
        assert response["sessionId"] == session_id, response


async def test_the_first_account_to_come_online_is_offered_to_the_waiter(
    users: Users, system: System
) -> None:
    """A waiting MATCH takes the first account that comes online during the wait
    (which then gets NewSession); later arrivals stay free."""
    waiter = await users.new("waiter")
    pending = await waiter.submit("MATCH", accountId=waiter.account_id)
    await wait_until_waiting(system, 1)
    newcomer = await users.new("newcomer")
    response = await answered(pending)
    await assert_matched(response, newcomer)
    signal = await newcomer.expect_push(is_signal("NewSession", response["sessionId"]))
    assert signal["data"] == {"accountId": waiter.account_id, "nickName": "waiter"}
    await wait_until_waiting(system, 0)


async def test_waiters_are_served_first_come_first_served(users: Users, system: System) -> None:
    # Two partners cannot be matched with each other, so both wait in line; each
    # account that comes online goes to the longest-waiting one.
    first = await users.new("first")
    second = await users.new("second")
    await users.match(first, second)
    first_pending = await first.submit("MATCH", accountId=first.account_id)
    await wait_until_waiting(system, 1)
    second_pending = await second.submit("MATCH", accountId=second.account_id)
    await wait_until_waiting(system, 2)

    x = await users.new("x")
    await assert_matched(await answered(first_pending), x)
    y = await users.new("y")
    await assert_matched(await answered(second_pending), y)


async def test_partners_can_match_again_after_leaving(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    old = await users.match(a, b)
    await a.call("LEAVE", sessionId=old)
    await b.expect_push(is_signal("PartnerExit", old))
    new = await users.match(a, b)
    assert new != old
    assert await b.send(new, "again") == 1


async def test_two_matches_at_once_get_two_different_partners(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    c = await users.new()
    futures = [await a.submit("MATCH", accountId=a.account_id) for _ in range(2)]
    responses = await asyncio.gather(*futures)
    assert all(r["code"] == 0 for r in responses), responses
    assert {r["partnerId"] for r in responses} == {b.account_id, c.account_id}
    assert responses[0]["sessionId"] != responses[1]["sessionId"]


async def test_waiter_is_matched_with_someone_who_comes_online_during_the_wait(
    users: Users, system: System
) -> None:
    """Code 4 means nobody was available *within* the match wait: a user who
    comes online while the MATCH waits is available."""
    waiter = await users.new("patient")
    pending = await waiter.submit("MATCH", accountId=waiter.account_id)
    await wait_until_waiting(system, 1)
    newcomer = await users.new("newcomer")  # online, spare capacity, not asking
    await assert_matched(await answered(pending), newcomer)
    await newcomer.expect_push(is_signal("NewSession"))
