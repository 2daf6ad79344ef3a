"""A long backlog is replayed whole, paced by what the client reads, and one
partner cannot build an unbounded one (issue 10, item 1).

The broker's send buffer is small here, far below the backlogs: written in one
go, as it once was, each replay passed it and the client was dropped before
its acks could arrive, for ever. Paged and paced, it arrives complete, in
order, on the first RECONNECT, through the in-process broker, a broker
process of its own (pushes over gRPC) and the scaled mode."""

from __future__ import annotations

import asyncio

from .client import ChatClient, Frame, is_dialogue
from .harness import TIMEOUT, Flags, system_fixture
from .users import Users

SEND_BUFFER = 128 << 10  # bytes
MAX_UNACKED = 1600  # messages a recipient may leave unacknowledged
CONTENT = 4000  # characters per message: about a page's share of the broker's limit

system = system_fixture(
    lambda brokers: Flags(
        brokers=brokers,
        max_content=CONTENT,
        rate_limit=20_000.0,
        rate_burst=20_000.0,
        send_buffer=SEND_BUFFER,
        max_unacked=MAX_UNACKED,
    ),
    broker_counts=(1, 2),
)


async def send_many(sender: ChatClient, session_id: int, contents: list[str]) -> list[Frame]:
    """Pipelined DIALOGUEs; their responses, in order."""
    futures = [
        await sender.submit(
            "DIALOGUE", senderId=sender.account_id, sessionId=session_id, content=content
        )
        for content in contents
    ]
    return list(await asyncio.gather(*futures))


async def away_and_back(users: Users, recipient: ChatClient, broker: int) -> ChatClient:
    """The recipient's connection drops; it comes back (RECONNECT) within the
    grace period, on `broker`."""
    await recipient.close()
    back = await users.connect(broker)
    await back.reconnect(recipient.account_id, recipient.token)
    return back


async def read_all(client: ChatClient, session_id: int, count: int) -> list[Frame]:
    """The next `count` dialogues of a session, each acknowledged as it comes."""
    got = []
    for _ in range(count):
        push = await client.expect_push(is_dialogue(session_id))
        await client.ack(push)
        got.append(push)
    return got


async def test_a_backlog_of_4_kb_messages_replays_whole_on_the_first_reconnect(
    users: Users,
) -> None:
    pair = await users.pair()
    await pair.b.close()  # away: everything goes to the store
    texts = [f"{i:05d} " + "x" * (CONTENT - 6) for i in range(1500)]
    stored = await send_many(pair.a, pair.session_id, texts)
    assert [r["code"] for r in stored] == [0] * len(texts)
    back = await users.connect(1)
    await back.reconnect(pair.b.account_id, pair.b.token)
    got = await read_all(back, pair.session_id, len(texts))
    assert [p["msgId"] for p in got] == list(range(1, len(texts) + 1))
    assert [p["content"] for p in got] == texts
    # live again, after the replay
    assert await pair.a.send(pair.session_id, "and now?") == len(texts) + 1
    assert (await back.expect_push(is_dialogue(pair.session_id)))["content"] == "and now?"
    assert not back.closed


async def test_messages_escaped_six_fold_replay_whole_and_live_ones_keep_their_place(
    users: Users,
) -> None:
    """4,000 control characters are 24,000 bytes of JSON each; a message sent
    while the replay runs comes after it, exactly once."""
    pair = await users.pair()
    await pair.b.close()
    texts = [f"{i:04d}" + "\x01" * (CONTENT - 4) for i in range(800)]
    await send_many(pair.a, pair.session_id, texts)
    back = await users.connect(0)
    await back.reconnect(pair.b.account_id, pair.b.token)
    first = await read_all(back, pair.session_id, 10)
    during = await pair.a.send(pair.session_id, "sent during the replay")
    rest = await read_all(back, pair.session_id, len(texts) - 10)
    assert [p["content"] for p in first + rest] == texts
    assert (await back.expect_push(is_dialogue(pair.session_id, during)))["content"] == (
        "sent during the replay"
    )
    await back.assert_nothing_more(is_dialogue(pair.session_id))


async def test_a_reconnect_mid_replay_goes_on_from_the_last_ack(users: Users) -> None:
    pair = await users.pair()
    await pair.b.close()
    texts = [f"{i:04d}" + "y" * (CONTENT - 4) for i in range(600)]
    await send_many(pair.a, pair.session_id, texts)
    first = await users.connect(1)
    await first.reconnect(pair.b.account_id, pair.b.token)
    await read_all(first, pair.session_id, 250)
    await first.ping()  # the acks before it are in logic's hands
    again = await away_and_back(users, first, 0)
    # Acks still on their way to the store at the drop replay once more: the
    # client drops those duplicates. Nothing is missing and the order holds.
    ids: list[int] = []
    while not ids or ids[-1] < len(texts):
        push = await again.expect_push(is_dialogue(pair.session_id))
        await again.ack(push)
        ids.append(push["msgId"])
    assert ids == sorted(ids) and ids[0] <= 251
    assert set(ids) >= set(range(251, len(texts) + 1))


async def test_past_the_unacked_limit_the_sender_is_code_8_until_the_recipient_reads(
    users: Users,
) -> None:
    pair = await users.pair()
    await pair.b.close()  # away, so nothing is acknowledged
    stored = await send_many(pair.a, pair.session_id, ["m"] * MAX_UNACKED)
    assert [r["code"] for r in stored] == [0] * MAX_UNACKED
    refused = await pair.a.request(
        "DIALOGUE", senderId=pair.a.account_id, sessionId=pair.session_id, content="one more"
    )
    assert refused["code"] == 8, refused
    assert "unread" in refused["msg"]
    back = await users.connect(0)
    await back.reconnect(pair.b.account_id, pair.b.token)
    got = await read_all(back, pair.session_id, MAX_UNACKED)
    assert got[-1]["msgId"] == MAX_UNACKED  # the refused one was never stored
    # Once the recipient's acks are stored (the next group commit of its logic
    # process, which in the scaled mode may be another than the sender's), the
    # sender may go on; the same requestId is retried until then.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        response = await pair.a.request(
            "DIALOGUE",
            "after-reading",
            senderId=pair.a.account_id,
            sessionId=pair.session_id,
            content="thanks for reading",
        )
        if response["code"] == 0:
            break
        assert response["code"] == 8 and loop.time() < deadline, response
    assert response["msgId"] == MAX_UNACKED + 1
    # the recipient's own messages never count against it
    await back.call(
        "DIALOGUE", senderId=back.account_id, sessionId=pair.session_id, content="welcome"
    )
