"""What users do to stay safe and find the right people (protocol 1.1): REPORT
and BLOCK, interests, availability, CANCEL_MATCH, PartnerAway/PartnerBack and
`online`, on one broker, two, and the scaled mode."""

from __future__ import annotations

import asyncio
from typing import Any

from .client import ChatClient, Frame, is_signal
from .harness import TIMEOUT, Flags, system_fixture
from .users import Users

MATCH_WAIT = TIMEOUT * 0.6
INTEREST_WAIT = TIMEOUT / 4  # the tests that need a phase finish theirs well within it

system = system_fixture(
    lambda brokers: Flags(brokers=brokers, match_wait=MATCH_WAIT, interest_wait=INTEREST_WAIT),
    broker_counts=(1, 2),
)


async def match(client: ChatClient, *interests: str) -> asyncio.Future[Frame]:
    """A MATCH in flight; its response later."""
    fields: dict[str, Any] = {"accountId": client.account_id}
    if interests:
        fields["interests"] = list(interests)
    return await client.submit("MATCH", **fields)


async def matched(pending: asyncio.Future[Frame]) -> Frame:
    response = await asyncio.wait_for(pending, TIMEOUT)
    assert response["code"] == 0, response
    return response


async def test_a_report_ends_the_session_and_the_two_never_meet_again(users: Users) -> None:
    pair = await users.pair()
    await pair.a.send(pair.session_id, "buy my stuff")
    await pair.b.call("REPORT", sessionId=pair.session_id, reason="spam", note="selling")
    exit_ = await pair.a.expect_push(is_signal("PartnerExit", pair.session_id))
    assert exit_["data"] == {"accountId": pair.b.account_id}
    # again: nothing changes, code 0
    await pair.b.call("REPORT", sessionId=pair.session_id, reason="spam")
    sent = await pair.a.request(
        "DIALOGUE", senderId=pair.a.account_id, sessionId=pair.session_id, content="hello?"
    )
    assert sent["code"] == 7
    # Both look for someone: nobody else is online, and they are never paired.
    a_looks, b_looks = await match(pair.a), await match(pair.b)
    for looking in (a_looks, b_looks):
        response = await asyncio.wait_for(looking, TIMEOUT)
        assert response["code"] == 4 and response["online"] >= 2, response
    # Someone new is a fine partner for either.
    c = await users.new()
    assert (await pair.b.match())["partnerId"] == c.account_id


async def test_block_ends_the_session_without_a_report(users: Users) -> None:
    pair = await users.pair()
    await pair.a.call("BLOCK", sessionId=pair.session_id)
    await pair.b.expect_push(is_signal("PartnerExit", pair.session_id))
    await pair.a.call("BLOCK", sessionId=pair.session_id)  # ended already: still fine
    a_looks = await match(pair.a)
    response = await pair.b.request("MATCH", accountId=pair.b.account_id)
    assert response["code"] == 4, response
    assert (await asyncio.wait_for(a_looks, TIMEOUT))["code"] == 4


async def test_reporting_or_blocking_badly_changes_nothing(users: Users) -> None:
    pair = await users.pair()
    outsider = await users.new()
    for cmd, fields in (
        ("REPORT", {"reason": "spam"}),
        ("BLOCK", {}),
    ):
        refused = await outsider.request(cmd, sessionId=pair.session_id, **fields)
        assert refused["code"] == 6, refused
        refused = await outsider.request(cmd, sessionId=pair.session_id + 1000, **fields)
        assert refused["code"] == 6, refused
    bad_reason = await pair.a.request("REPORT", sessionId=pair.session_id, reason="rude")
    assert bad_reason["code"] == 1
    long_note = await pair.a.request(
        "REPORT", sessionId=pair.session_id, reason="spam", note="n" * 501
    )
    assert long_note["code"] == 1
    # the session is untouched
    assert await pair.a.send(pair.session_id, "still here") == 1
    await pair.b.assert_nothing_more(is_signal("PartnerExit"))


async def test_interests_pick_who_shares_the_most(users: Users) -> None:
    x, y = await users.new(), await users.new()
    x_looks = await match(x, "music")
    y_looks = await match(y, "chess", "go")
    await x.ping()
    await y.ping()  # both wait now
    r = await users.new()
    first = await r.call("MATCH", accountId=r.account_id, interests=["Go", "chess", "music"])
    assert first["partnerId"] == y.account_id
    assert first["commonInterests"] == ["go", "chess"]
    y_side = await matched(y_looks)
    assert y_side["partnerId"] == r.account_id and y_side["commonInterests"] == ["go", "chess"]
    new_session = await y.expect_push(is_signal("NewSession", first["sessionId"]))
    assert new_session["data"]["commonInterests"] == ["go", "chess"]
    r2 = await users.new()
    second = await r2.call("MATCH", accountId=r2.account_id, interests=["music"])
    assert second["partnerId"] == x.account_id and second["commonInterests"] == ["music"]
    assert (await matched(x_looks))["partnerId"] == r2.account_id


async def test_without_a_shared_interest_anyone_is_taken_after_the_interest_wait(
    users: Users,
) -> None:
    x, r = await users.new(), await users.new()
    x_looks = await match(x, "music")
    r_looks = await match(r, "chess")
    x_side, r_side = await matched(x_looks), await matched(r_looks)
    assert (x_side["partnerId"], r_side["partnerId"]) == (r.account_id, x.account_id)
    assert x_side["sessionId"] == r_side["sessionId"]
    assert x_side["commonInterests"] == r_side["commonInterests"] == []


async def test_cancel_match_answers_the_waiting_match_at_once(users: Users) -> None:
    a = await users.new()
    looking = await match(a)
    await a.ping()
    await a.call("CANCEL_MATCH")
    response = await asyncio.wait_for(looking, TIMEOUT)
    assert (response["code"], response["msg"]) == (4, "search cancelled")
    assert response["online"] >= 1
    await a.call("CANCEL_MATCH")  # nothing waits: still fine


async def test_availability_keeps_others_from_starting_a_chat(users: Users) -> None:
    a, b = await users.new(), await users.new()
    await b.call("AVAILABILITY", available=False)
    refused = await a.request("MATCH", accountId=a.account_id)
    assert refused["code"] == 4 and refused["online"] >= 2
    # b's own MATCH still works: it takes a, who waits
    a_looks = await match(a)
    await a.ping()
    assert (await b.match())["partnerId"] == a.account_id
    assert (await matched(a_looks))["partnerId"] == b.account_id
    # kept across a reconnect, and said in its response
    await b.close()
    again = await users.connect()
    back = await again.call("RECONNECT", accountId=b.account_id, token=b.token)
    assert back["available"] is False
    await again.call("AVAILABILITY", available=True)
    c = await users.new()
    assert (await c.match())["partnerId"] in (a.account_id, b.account_id)


async def test_partners_hear_when_one_is_away_and_back(users: Users) -> None:
    pair = await users.pair()
    await pair.b.close()
    away = await pair.a.expect_push(is_signal("PartnerAway", pair.session_id))
    assert away["data"] == {"accountId": pair.b.account_id}
    await pair.a.ack(away)
    back = await users.connect()
    await back.reconnect(pair.b.account_id, pair.b.token)
    came = await pair.a.expect_push(is_signal("PartnerBack", pair.session_id))
    assert came["data"] == {"accountId": pair.b.account_id}
    await pair.a.ack(came)
    await pair.a.assert_nothing_more(lambda f: f.get("cmd") == "PUSH_SIGNAL" and "code" in f)
