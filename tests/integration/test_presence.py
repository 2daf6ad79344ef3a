"""Presence: a connection that closes without LOGOUT keeps its account for the
offline grace period (short here); RECONNECT within it resumes everything and
replays what was not acknowledged; past it the account is logged out."""

from __future__ import annotations

import asyncio

from .client import ChatClient, Frame, is_dialogue, is_signal
from .harness import TIMEOUT, Flags, System, system_fixture, wait_for_metric
from .users import Users

GRACE = TIMEOUT / 5
MATCH_WAIT = TIMEOUT / 20
HEARTBEAT = TIMEOUT / 10
PAST_GRACE = GRACE + TIMEOUT / 10  # the grace period plus room for its timer to act

system = system_fixture(
    lambda brokers: Flags(
        brokers=brokers, offline_grace=GRACE, match_wait=MATCH_WAIT, heartbeat=HEARTBEAT
    )
)


async def come_back(users: Users, gone: ChatClient) -> tuple[ChatClient, Frame]:
    """`gone` connects again (to the next broker) and RECONNECTs with its token."""
    client = await users.connect(name=f"{gone.name}-again")
    response = await client.reconnect(gone.account_id, gone.token)
    return client, response


async def test_reconnect_within_grace_resumes_sessions(users: Users) -> None:
    a = await users.new("Ann")
    b = await users.new("Ben")
    with_a = await users.match(b, a)
    c = await users.new("Cid")
    with_c = await users.match(b, c)
    await b.close()

    b2, resumed = await come_back(users, b)
    assert resumed["accountId"] == b.account_id
    assert resumed["nickName"] == "Ben"
    assert len(resumed["sessions"]) == 2, resumed
    assert {s["sessionId"]: s for s in resumed["sessions"]} == {
        with_a: {"sessionId": with_a, "partnerId": a.account_id, "partnerName": "Ann"},
        with_c: {"sessionId": with_c, "partnerId": c.account_id, "partnerName": "Cid"},
    }

    # Both sessions work both ways on the new connection.
    assert await b2.send(with_a, "back") == 1
    assert (await a.expect_push(is_dialogue(with_a, 1)))["content"] == "back"
    assert await c.send(with_c, "welcome back") == 1
    assert (await b2.expect_push(is_dialogue(with_c, 1)))["content"] == "welcome back"


async def test_unacknowledged_messages_are_replayed_after_reconnect(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    await b.ack(b.pushes(is_signal("NewSession", session_id))[0])

    assert await a.send(session_id, "acked") == 1
    await b.ack(await b.expect_push(is_dialogue(session_id, 1)))
    # b's own DIALOGUE follows its ack on the same connection: once it is
    # answered, the ack has reached logic.
    assert await b.send(session_id, "reply") == 2
    assert await a.send(session_id, "seen, not acked") == 3
    await b.expect_push(is_dialogue(session_id, 3))
    await b.close()
    assert await a.send(session_id, "sent while away") == 4

    b2, _ = await come_back(users, b)
    replayed = await b2.expect_dialogues(session_id, 2)
    assert [(p["msgId"], p["content"]) for p in replayed] == [
        (3, "seen, not acked"),
        (4, "sent while away"),
    ]
    assert all(p["senderId"] == a.account_id for p in replayed)

    # Barrier: a new message comes after anything else the replay would hold.
    assert await a.send(session_id, "live again") == 5
    assert (await b2.expect_push(is_dialogue(session_id)))["msgId"] == 5
    assert b2.pushes(is_dialogue(session_id, 1)) == [], "an acknowledged message was replayed"
    assert b2.pushes(is_dialogue(session_id, 2)) == [], "own message pushed back"
    assert b2.pushes(is_signal("NewSession")) == [], "an acknowledged signal was replayed"


async def test_unacknowledged_signals_are_replayed_after_reconnect(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)  # b does not acknowledge NewSession
    await b.close()
    b2, _ = await come_back(users, b)
    signal = await b2.expect_push(is_signal("NewSession", session_id))
    assert signal["data"] == {"accountId": a.account_id, "nickName": a.nick}


async def test_partner_sees_no_exit_when_reconnected_within_grace(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    await b.close()
    b2, _ = await come_back(users, b)
    await asyncio.sleep(PAST_GRACE)  # let the grace period of the closed connection pass

    assert await a.send(session_id, "still there?") == 1
    assert (await b2.expect_push(is_dialogue(session_id, 1)))["content"] == "still there?"
    assert await b2.send(session_id, "yes") == 2
    await a.expect_push(is_dialogue(session_id, 2))  # barrier on a's push path
    assert a.pushes(is_signal("PartnerExit")) == []


async def test_past_grace_the_account_is_logged_out(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    late = await users.connect()  # ready to try the token the moment a hears of the exit
    await b.close()

    signal = await a.expect_push(is_signal("PartnerExit", session_id), within=GRACE + TIMEOUT)
    assert signal["data"] == {"accountId": b.account_id}
    assert signal["receiverId"] == a.account_id
    # Once b's partner is told b is gone, b's token must not work any more.
    refused = await late.request("RECONNECT", accountId=b.account_id, token=b.token)
    assert refused["code"] == 5 and refused["msg"], refused
    closed = await a.request(
        "DIALOGUE", senderId=a.account_id, sessionId=session_id, content="hello?"
    )
    assert closed["code"] == 7, closed
    # The gone account is never matched again; nobody else is online.
    nobody = await a.request("MATCH", accountId=a.account_id)
    assert nobody["code"] == 4, nobody


async def test_account_in_grace_is_not_matched(users: Users, system: System) -> None:
    a = await users.new()
    away = await users.new()
    await away.close()
    # Logic counts away offline once it has handled the close.
    await wait_for_metric(
        system.logic_http + "/metrics", "pairchat_accounts_online", lambda online: online == 1
    )
    nobody = await a.request("MATCH", accountId=a.account_id)
    assert nobody["code"] == 4, nobody


async def test_reconnect_with_a_wrong_token_is_refused(users: Users) -> None:
    owner = await users.new()
    intruder = await users.connect()
    refused = await intruder.request(
        "RECONNECT", accountId=owner.account_id, token=owner.token[::-1]
    )
    assert refused["code"] == 5 and refused["msg"], refused
    unknown = await intruder.request("RECONNECT", accountId=2**40, token=owner.token)
    assert unknown["code"] == 5, unknown
    # Nothing was bound and the owner is unaffected.
    assert (await intruder.request("MATCH", accountId=owner.account_id))["code"] == 5
    await intruder.ping()
    await owner.ping()
    assert (await owner.request("HISTORY", sessionId=2**40))["code"] == 6


async def test_reconnect_answer_comes_before_the_replay(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    await b.close()
    assert await a.send(session_id, "while away") == 1

    b2, _ = await come_back(users, b)
    await b2.expect_push(is_dialogue(session_id, 1))
    order = [f["cmd"] for f in b2.arrivals]
    assert order.index("RECONNECT") < order.index("PUSH_DIALOGUE"), order


async def test_signals_sent_while_away_are_delivered_after_reconnect(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    viewed = await users.match(a, b)
    c = await users.new()
    left = await users.match(b, c)  # a is b's partner already: c is the only candidate
    assert await b.send(viewed, "look") == 1
    await a.expect_push(is_dialogue(viewed, 1))
    await b.ack(b.pushes(is_signal("NewSession", viewed))[0])
    await b.close()

    await a.call("VIEWED_ACK", sessionId=viewed, msgId=1)
    assert await c.send(left, "last words") == 1
    await c.call("LEAVE", sessionId=left)
    b2, resumed = await come_back(users, b)
    assert [s["sessionId"] for s in resumed["sessions"]] == [viewed], resumed
    seen = await b2.expect_push(is_signal("ViewedAck", viewed))
    assert seen["data"] == {"accountId": a.account_id, "msgId": 1}
    # Nothing is lost: the message sent before leaving, then the exit.
    last_words = await b2.expect_push(is_dialogue(left, 1))
    assert last_words["content"] == "last words"
    exit_signal = await b2.expect_push(is_signal("PartnerExit", left))
    assert exit_signal["data"] == {"accountId": c.account_id}
    order = b2.received.index(last_words) < b2.received.index(exit_signal)
    assert order, "the exit was pushed before the message that preceded it"


async def test_request_id_repeated_after_reconnect_stores_one_message(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    # The answer may have been lost with the connection: the client retries.
    assert await a.send(session_id, "retried", request_id="retry-me") == 1
    await a.close()
    a2, _ = await come_back(users, a)
    assert await a2.send(session_id, "retried", request_id="retry-me") == 1
    assert await a2.send(session_id, "next") == 2
    pushes = await b.expect_dialogues(session_id, 2)
    assert [p["msgId"] for p in pushes] == [1, 2]


async def test_dead_connection_is_found_by_heartbeat(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    b.go_silent()
    # Unanswered pings drop b's connection; its grace period then runs out.
    signal = await a.expect_push(
        is_signal("PartnerExit", session_id), within=2 * HEARTBEAT + GRACE + TIMEOUT
    )
    assert signal["data"] == {"accountId": b.account_id}


async def test_reconnect_from_a_second_connection_takes_over(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    session_id = await users.match(a, b)
    b2, resumed = await come_back(users, b)  # b's first connection is still open
    assert [s["sessionId"] for s in resumed["sessions"]] == [session_id]
    assert await a.send(session_id, "which one?") == 1
    assert (await b2.expect_push(is_dialogue(session_id, 1)))["content"] == "which one?"
    assert await b2.send(session_id, "the new one") == 2
    await a.expect_push(is_dialogue(session_id, 2))
    assert b.pushes(is_dialogue(session_id)) == []
    assert a.pushes(is_signal("PartnerExit")) == []
