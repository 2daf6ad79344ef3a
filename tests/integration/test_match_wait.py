"""MATCH that finds nobody: code 4 after --match-wait (short here), never
oneself, never an existing partner, never a logged-out account."""

from __future__ import annotations

import asyncio
import time

from .client import is_signal
from .harness import TIMEOUT, Flags, system_fixture
from .users import Users

MATCH_WAIT = TIMEOUT / 20

system = system_fixture(lambda brokers: Flags(brokers=brokers, match_wait=MATCH_WAIT))


def assert_nobody(response: dict[str, object]) -> None:
    assert response["code"] == 4, response
    assert isinstance(response["msg"], str) and response["msg"], response


async def test_nobody_available_is_code_4_after_the_match_wait(users: Users) -> None:
    alone = await users.new()
    started = time.monotonic()
    response = await alone.request("MATCH", accountId=alone.account_id)
    waited = time.monotonic() - started
    assert_nobody(response)
    assert MATCH_WAIT * 0.9 <= waited < TIMEOUT, waited
    await alone.ping()


async def test_never_matched_with_oneself(users: Users) -> None:
    alone = await users.new()
    futures = [await alone.submit("MATCH", accountId=alone.account_id) for _ in range(2)]
    for response in await asyncio.gather(*futures):
        assert_nobody(response)


async def test_never_matched_with_an_existing_partner(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    responses = await asyncio.gather(
        a.request("MATCH", accountId=a.account_id), b.request("MATCH", accountId=b.account_id)
    )
    for response in responses:
        assert_nobody(response)
    assert await a.send(session_id, "still one session") == 1


async def test_logged_out_account_is_never_matched(users: Users) -> None:
    a = await users.new()
    gone = await users.new()
    await gone.call("LOGOUT", accountId=gone.account_id)
    assert_nobody(await a.request("MATCH", accountId=a.account_id))


async def test_waiter_who_logs_out_leaves_the_line(users: Users) -> None:
    waiter = await users.new()
    pending = await waiter.submit("MATCH", accountId=waiter.account_id)
    await waiter.call("LOGOUT", accountId=waiter.account_id)
    assert (await asyncio.wait_for(pending, TIMEOUT))["code"] != 0
    late = await users.new()
    assert_nobody(await late.request("MATCH", accountId=late.account_id))


async def test_account_logging_out_is_not_matched_once_its_partner_is_told(users: Users) -> None:
    leaving = await users.new()
    partner = await users.new()
    session_id = await users.match(leaving, partner)
    logout = await leaving.submit("LOGOUT", accountId=leaving.account_id)
    await partner.expect_push(is_signal("PartnerExit", session_id))
    assert_nobody(await partner.request("MATCH", accountId=partner.account_id))
    assert (await asyncio.wait_for(logout, TIMEOUT))["code"] == 0
