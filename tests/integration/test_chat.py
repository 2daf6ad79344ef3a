"""Chatting: accounts, DIALOGUE and its pushes, msgIds, HISTORY, signals,
several sessions on one connection, idempotent requestIds and a burst."""

from __future__ import annotations

import asyncio
import time

from .client import ChatClient, Frame, is_dialogue, is_signal
from .users import Pair, Users

BURST = 50


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_create_account_binds_a_new_account(users: Users) -> None:
    client = await users.connect()
    first = await client.call("CRT_ACCOUNT", nickName="Alice")
    assert first["nickName"] == "Alice"
    assert isinstance(first["accountId"], int) and first["accountId"] > 0
    assert isinstance(first["token"], str) and first["token"]
    other = await users.new("Bob")
    assert other.account_id != first["accountId"]
    assert other.token != first["token"]


async def test_ping_answers_before_and_after_binding(users: Users) -> None:
    client = await users.connect()
    assert (await client.request("PING", request_id="p-1")) == {
        "cmd": "PING",
        "requestId": "p-1",
        "code": 0,
    }
    await client.create_account("pinger")
    assert (await client.request("PING", request_id="p-2"))["code"] == 0


async def test_match_pushes_new_session_to_partner(users: Users) -> None:
    b = await users.new("Bea")
    a = await users.new("Al")
    matched = await a.match()
    assert matched["cmd"] == "MATCH"
    assert matched["partnerId"] == b.account_id
    assert matched["partnerName"] == "Bea"
    session_id = matched["sessionId"]
    assert isinstance(session_id, int) and session_id > 0
    signal = await b.expect_push(is_signal("NewSession", session_id))
    assert signal["data"] == {"accountId": a.account_id, "nickName": "Al"}
    assert signal["senderId"] == a.account_id
    assert signal["receiverId"] == b.account_id


async def test_dialogue_is_pushed_to_partner_only(pair: Pair) -> None:
    before = now_ms()
    msg_id = await pair.a.send(pair.session_id, "hello there")
    assert msg_id == 1
    push = await pair.b.expect_push(is_dialogue(pair.session_id))
    after = now_ms()
    assert push["senderId"] == pair.a.account_id
    assert push["msgId"] == 1
    assert push["content"] == "hello there"
    # createdAt is epoch milliseconds, stamped while the request was in flight.
    assert before - 1000 <= push["createdAt"] <= after + 1000

    assert await pair.b.send(pair.session_id, "hi back") == 2
    reply = await pair.a.expect_push(is_dialogue(pair.session_id))
    assert (reply["senderId"], reply["msgId"], reply["content"]) == (
        pair.b.account_id,
        2,
        "hi back",
    )
    # The reply came through the same push path after msgId 1 would have: a
    # sender never gets its own message pushed back.
    assert pair.a.pushes(is_dialogue(pair.session_id, 1)) == []
    assert pair.b.pushes(is_dialogue(pair.session_id, 2)) == []


async def test_msg_ids_count_up_per_session(pair: Pair) -> None:
    senders = [pair.a, pair.b, pair.a, pair.a, pair.b]
    ids = [await sender.send(pair.session_id, f"m{i}") for i, sender in enumerate(senders)]
    assert ids == [1, 2, 3, 4, 5]


async def test_content_is_kept_verbatim(pair: Pair) -> None:
    text = '  <b>ünïcødé</b> 🎉 "quotes" \\ \n second line  '
    await pair.a.send(pair.session_id, text)
    push = await pair.b.expect_push(is_dialogue(pair.session_id))
    assert push["content"] == text
    history = await pair.b.history(pair.session_id)
    assert history[0]["content"] == text


async def test_history_pages_with_after_msg_id_and_limit(pair: Pair) -> None:
    sent = []
    for i in range(5):
        sender = pair.a if i % 2 == 0 else pair.b
        sent.append(
            (await sender.send(pair.session_id, f"text {i}"), sender.account_id, f"text {i}")
        )
    whole = await pair.a.history(pair.session_id)
    assert [(m["msgId"], m["senderId"], m["content"]) for m in whole] == sent
    assert all(isinstance(m["createdAt"], int) for m in whole)
    # HISTORY and the pushes agree on every field.
    pushed = await pair.b.expect_dialogues(pair.session_id, 3)  # a sent texts 0, 2, 4
    pushed += await pair.a.expect_dialogues(pair.session_id, 2)  # b sent texts 1, 3
    assert (
        sorted(
            ({k: p[k] for k in ("msgId", "senderId", "content", "createdAt")} for p in pushed),
            key=lambda m: m["msgId"],
        )
        == whole
    )
    assert await pair.b.history(pair.session_id) == whole

    page = await pair.a.history(pair.session_id, afterMsgId=2, limit=2)
    assert [m["msgId"] for m in page] == [3, 4]
    page = await pair.a.history(pair.session_id, afterMsgId=4, limit=2)
    assert [m["msgId"] for m in page] == [5]
    assert await pair.a.history(pair.session_id, afterMsgId=5) == []
    assert [m["msgId"] for m in await pair.a.history(pair.session_id, limit=1)] == [1]


async def test_history_default_limit_is_50(pair: Pair) -> None:
    futures = [
        await pair.a.submit(
            "DIALOGUE", senderId=pair.a.account_id, sessionId=pair.session_id, content=f"n{i}"
        )
        for i in range(60)
    ]
    assert all(r["code"] == 0 for r in await asyncio.gather(*futures))
    page = await pair.a.history(pair.session_id)
    assert [m["msgId"] for m in page] == list(range(1, 51))
    page = await pair.a.history(pair.session_id, afterMsgId=50, limit=200)
    assert [m["msgId"] for m in page] == list(range(51, 61))


async def test_several_sessions_share_one_connection(users: Users) -> None:
    a = await users.new("hub")
    b = await users.new("left")
    first = await users.match(a, b)
    c = await users.new("right")
    second = await users.match(a, c)  # b is a partner already: c is the only candidate
    assert first != second

    assert await a.send(first, "to b") == 1
    assert await a.send(second, "to c") == 1  # msgIds are per session
    assert (await b.expect_push(is_dialogue(first)))["content"] == "to b"
    assert (await c.expect_push(is_dialogue(second)))["content"] == "to c"

    assert await c.send(second, "from c") == 2
    assert await b.send(first, "from b") == 2
    from_c = await a.expect_push(is_dialogue(second, 2))
    from_b = await a.expect_push(is_dialogue(first, 2))
    assert (from_c["senderId"], from_c["content"]) == (c.account_id, "from c")
    assert (from_b["senderId"], from_b["content"]) == (b.account_id, "from b")
    # Neither partner sees the other's session.
    assert b.pushes(is_dialogue(second)) == []
    assert c.pushes(is_dialogue(first)) == []


async def test_repeated_request_id_stores_one_message(pair: Pair) -> None:
    first = await pair.a.send(pair.session_id, "only once", request_id="same-rid")
    again = await pair.a.send(pair.session_id, "only once", request_id="same-rid")
    assert again == first == 1
    assert await pair.a.send(pair.session_id, "next") == 2

    pushes = await pair.b.expect_dialogues(pair.session_id, 2)
    assert [(p["msgId"], p["content"]) for p in pushes] == [(1, "only once"), (2, "next")]
    history = await pair.b.history(pair.session_id)
    assert [(m["msgId"], m["content"]) for m in history] == [(1, "only once"), (2, "next")]


async def test_request_id_repeated_without_waiting_stores_one_message(pair: Pair) -> None:
    fields = {"senderId": pair.a.account_id, "sessionId": pair.session_id, "content": "dup"}
    futures = [await pair.a.submit("DIALOGUE", "rid-twice", **fields) for _ in range(2)]
    responses = await asyncio.gather(*futures)
    assert [r["code"] for r in responses] == [0, 0]
    assert responses[0]["msgId"] == responses[1]["msgId"] == 1
    assert await pair.a.send(pair.session_id, "after") == 2
    pushes = await pair.b.expect_dialogues(pair.session_id, 2)
    assert [p["msgId"] for p in pushes] == [1, 2]


async def test_request_ids_are_per_account(pair: Pair) -> None:
    """The same requestId from two accounts is two messages."""
    assert await pair.a.send(pair.session_id, "from a", request_id="shared-rid") == 1
    assert await pair.b.send(pair.session_id, "from b", request_id="shared-rid") == 2
    history = await pair.a.history(pair.session_id)
    assert [(m["senderId"], m["content"]) for m in history] == [
        (pair.a.account_id, "from a"),
        (pair.b.account_id, "from b"),
    ]


async def test_burst_arrives_complete_and_in_order(pair: Pair) -> None:
    futures = [
        await pair.a.submit(
            "DIALOGUE", senderId=pair.a.account_id, sessionId=pair.session_id, content=f"burst {i}"
        )
        for i in range(BURST)
    ]
    responses = await asyncio.gather(*futures)
    assert all(r["code"] == 0 for r in responses), responses
    content_of = {r["msgId"]: f"burst {i}" for i, r in enumerate(responses)}
    assert sorted(content_of) == list(range(1, BURST + 1))

    pushes = await pair.b.expect_dialogues(pair.session_id, BURST)
    assert [p["msgId"] for p in pushes] == list(range(1, BURST + 1))
    assert all(p["content"] == content_of[p["msgId"]] for p in pushes)


async def test_bursts_both_ways_at_once(pair: Pair) -> None:
    async def burst(sender: ChatClient) -> list[Frame]:
        futures = [
            await sender.submit(
                "DIALOGUE",
                senderId=sender.account_id,
                sessionId=pair.session_id,
                content=f"{sender.name} {i}",
            )
            for i in range(BURST)
        ]
        return list(await asyncio.gather(*futures))

    from_a, from_b = await asyncio.gather(burst(pair.a), burst(pair.b))
    ids_a = [r["msgId"] for r in from_a]
    ids_b = [r["msgId"] for r in from_b]
    assert sorted(ids_a + ids_b) == list(range(1, 2 * BURST + 1))
    at_b = await pair.b.expect_dialogues(pair.session_id, BURST)
    at_a = await pair.a.expect_dialogues(pair.session_id, BURST)
    assert [p["msgId"] for p in at_b] == sorted(ids_a)
    assert [p["msgId"] for p in at_a] == sorted(ids_b)


async def test_pushes_of_two_sessions_each_keep_their_order(users: Users) -> None:
    hub = await users.new()
    left = await users.new()
    with_left = await users.match(hub, left)
    right = await users.new()
    with_right = await users.match(hub, right)

    async def burst(sender: ChatClient, session_id: int) -> None:
        futures = [
            await sender.submit(
                "DIALOGUE", senderId=sender.account_id, sessionId=session_id, content=str(i)
            )
            for i in range(BURST)
        ]
        assert all(r["code"] == 0 for r in await asyncio.gather(*futures))

    await asyncio.gather(burst(left, with_left), burst(right, with_right))
    pushes = await hub.expect_dialogues(with_left, BURST)
    pushes += await hub.expect_dialogues(with_right, BURST)
    for session_id in (with_left, with_right):
        ids = [p["msgId"] for p in hub.pushes(is_dialogue(session_id))]
        assert ids == list(range(1, BURST + 1)), (session_id, ids)


async def test_viewed_ack_is_pushed_to_partner(pair: Pair) -> None:
    await pair.a.send(pair.session_id, "seen?")
    await pair.b.expect_push(is_dialogue(pair.session_id, 1))
    await pair.b.call("VIEWED_ACK", sessionId=pair.session_id, msgId=1)
    signal = await pair.a.expect_push(is_signal("ViewedAck", pair.session_id))
    assert signal["data"] == {"accountId": pair.b.account_id, "msgId": 1}
    assert signal["senderId"] == pair.b.account_id
    assert signal["receiverId"] == pair.a.account_id


async def test_typing_is_pushed_to_partner(pair: Pair) -> None:
    await pair.a.call("TYPING", sessionId=pair.session_id)
    signal = await pair.b.expect_push(is_signal("Typing", pair.session_id))
    assert signal["data"] == {"accountId": pair.a.account_id}
    assert signal["senderId"] == pair.a.account_id
    # Typing is not stored.
    assert await pair.a.history(pair.session_id) == []


async def test_leave_ends_one_session_and_tells_partner(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    left = await users.match(a, b)
    c = await users.new()
    kept = await users.match(a, c)

    leave = await a.call("LEAVE", sessionId=left)
    assert set(leave) == {"cmd", "requestId", "code"}, leave
    exit_signal = await b.expect_push(is_signal("PartnerExit", left))
    assert exit_signal["data"] == {"accountId": a.account_id}

    for member in (a, b):
        refused = await member.request(
            "DIALOGUE", senderId=member.account_id, sessionId=left, content="anyone?"
        )
        assert refused["code"] == 7 and refused["msg"], refused
    # The other session of the leaver goes on.
    assert await a.send(kept, "still here") == 1
    assert (await c.expect_push(is_dialogue(kept, 1)))["content"] == "still here"
    assert c.pushes(is_signal("PartnerExit")) == []


async def test_logout_ends_every_session(users: Users) -> None:
    a = await users.new()
    b = await users.new()
    with_b = await users.match(a, b)
    c = await users.new()
    with_c = await users.match(a, c)
    await a.call("LOGOUT", accountId=a.account_id)

    for partner, session_id in ((b, with_b), (c, with_c)):
        signal = await partner.expect_push(is_signal("PartnerExit", session_id))
        assert signal["data"] == {"accountId": a.account_id}
        refused = await partner.request(
            "DIALOGUE", senderId=partner.account_id, sessionId=session_id, content="gone?"
        )
        assert refused["code"] == 7, refused


async def test_a_connection_can_bind_a_new_account_after_logout(users: Users) -> None:
    a = await users.new("first life")
    first_id = a.account_id
    await a.call("LOGOUT", accountId=first_id)
    await a.create_account("second life")
    assert a.account_id != first_id
    b = await users.new()
    session_id = await users.match(a, b)
    assert await b.send(session_id, "hello second life") == 1
    assert (await a.expect_push(is_dialogue(session_id, 1)))["senderId"] == b.account_id


async def test_viewed_ack_beyond_the_last_message_is_refused(pair: Pair) -> None:
    await pair.a.send(pair.session_id, "seen?")
    await pair.b.expect_push(is_dialogue(pair.session_id, 1))
    for msg_id in (2, 2**53 - 1):
        response = await pair.b.request("VIEWED_ACK", sessionId=pair.session_id, msgId=msg_id)
        assert response["code"] == 1 and response["msg"], response
    # A good one after them is the only ViewedAck the partner gets.
    await pair.b.call("VIEWED_ACK", sessionId=pair.session_id, msgId=1)
    signal = await pair.a.expect_push(is_signal("ViewedAck", pair.session_id))
    assert signal["data"] == {"accountId": pair.b.account_id, "msgId": 1}, signal
    await pair.a.assert_nothing_more(is_signal("ViewedAck", pair.session_id))
