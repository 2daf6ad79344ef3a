"""The per-address and per-account limits of logic, on real systems (embedded,
and scaled where two logic processes count into one Redis): account creation
per address, MATCH per account, failed RECONNECTs per address. Every client of
a test comes from 127.0.0.1, so each test gets a system of its own."""

from __future__ import annotations

import asyncio
import re

from .client import is_signal
from .harness import TIMEOUT, Flags, system_fixture
from .users import Users

ACCOUNTS = 2  # per address per window
MATCHES = 3  # per account per window
FAILED_RECONNECTS = 3  # per address per window
RECONNECTS_WINDOW = TIMEOUT / 2  # seconds; the test waits it out once
LONG = 600.0  # seconds: a window no test sees end

system = system_fixture(
    lambda brokers: Flags(
        brokers=brokers,
        match_wait=TIMEOUT / 10,
        max_accounts_per_ip=ACCOUNTS,
        accounts_window=LONG,
        max_matches_per_account=MATCHES,
        matches_window=LONG,
        max_failed_reconnects_per_ip=FAILED_RECONNECTS,
        reconnects_window=RECONNECTS_WINDOW,
    ),
    broker_counts=(1,),
    scope="function",
)

RETRY = re.compile(r": retry in (\d+) s$")


def retry_after(response: dict[str, object]) -> int:
    """The seconds a code 8 answer says to wait."""
    assert response["code"] == 8, response
    found = RETRY.search(str(response["msg"]))
    assert found, response
    return int(found.group(1))


async def test_accounts_past_the_limit_are_code_8_and_create_nothing(users: Users) -> None:
    a, b = [await users.new() for _ in range(ACCOUNTS)]
    await users.match(a, b)
    refused = await users.connect()
    response = await refused.request("CRT_ACCOUNT", nickName="one too many")
    assert 0 < retry_after(response) <= LONG
    assert "accounts" in str(response["msg"])
    # Nothing was bound or created: the connection has no account, and nobody
    # new is online to be matched with.
    assert (await refused.request("MATCH", accountId=1))["code"] == 5
    assert (await a.request("MATCH", accountId=a.account_id))["code"] == 4
    # The limit is per address, not per connection.
    again = await users.connect()
    assert (await again.request("CRT_ACCOUNT", nickName="again"))["code"] == 8


async def test_match_cycling_past_the_limit_is_code_8(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    for _ in range(MATCHES):
        session_id = await users.match(a, b)
        await a.call("LEAVE", sessionId=session_id)
    response = await a.request("MATCH", accountId=a.account_id)
    assert 0 < retry_after(response) <= LONG
    assert "MATCH" in str(response["msg"])
    # b was not matched again. The refusal is the one request's: b may still
    # match a (b's own count), and a still chats.
    await b.assert_nothing_more(is_signal("NewSession"))
    session_id = await users.match(b, a)
    assert await a.send(session_id, "still here") == 1


async def test_failed_reconnects_past_the_limit_refuse_even_the_right_token(
    users: Users,
) -> None:
    owner = await users.new()
    guesser = await users.connect()
    for i in range(FAILED_RECONNECTS):
        wrong = await guesser.request("RECONNECT", accountId=owner.account_id, token=f"guess{i}")
        assert wrong["code"] == 5, wrong
    limited = await guesser.request("RECONNECT", accountId=owner.account_id, token="guess")
    assert 0 < retry_after(limited) <= RECONNECTS_WINDOW + 1
    # The right token from this address is refused as well, and changes nothing.
    right = await users.connect()
    refused = await right.request("RECONNECT", accountId=owner.account_id, token=owner.token)
    wait = retry_after(refused)
    await owner.ping()
    assert (await owner.request("MATCH", accountId=owner.account_id))["code"] == 4
    # Once the window has passed, the right token works again.
    await asyncio.sleep(wait)
    back = await right.request("RECONNECT", accountId=owner.account_id, token=owner.token)
    assert back["code"] == 0, back
    await owner.wait_closed()  # replaced by the connection that came back
