"""Restart persistence: stop a system with SIGTERM, start it again on the same
data dir, and within the grace period everyone resumes where they were."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from .client import ChatClient, Frame, is_dialogue, is_signal
from .harness import (
    BROKER_COUNTS,
    TIMEOUT,
    Flags,
    broker_ids,
    drop_namespace,
    running_system,
    scaled_flags,
    stop_system,
)
from .users import Users

# Long enough to span a restart; nothing in these tests waits for it to pass.
GRACE = 3 * TIMEOUT
WINDOW = 16
MAX_IN_FLIGHT_TEST_MESSAGES = 100_000  # a bound only: the stop ends the sending


@pytest.fixture(params=[*BROKER_COUNTS, "scaled"], ids=[*broker_ids(), "scaled"])
def restart_flags(request: pytest.FixtureRequest) -> Iterator[Flags]:
    """The flags both runs of a restart test use: one broker, two, or a scaled
    system whose schema and keys outlive the restart (dropped afterwards)."""
    variant: int | str = request.param
    if variant != "scaled":
        yield Flags(brokers=int(variant), offline_grace=GRACE)
        return
    flags = scaled_flags(Flags(offline_grace=GRACE))
    try:
        yield flags
    finally:
        drop_namespace(flags)


async def test_restart_resumes_sessions_history_and_msg_ids(
    tmp_path: Path, restart_flags: Flags
) -> None:
    flags = restart_flags
    data_dir = tmp_path / "data"

    with running_system(flags, data_dir) as first:
        users = Users(first)
        a = await users.new("Ada")
        b = await users.new("Bob")
        session_id = await users.match(a, b)
        await b.ack(b.pushes(is_signal("NewSession", session_id))[0])
        assert await a.send(session_id, "one") == 1
        await b.ack(await b.expect_push(is_dialogue(session_id, 1)))
        assert await b.send(session_id, "two") == 2  # after b's ack on b's connection
        await a.expect_push(is_dialogue(session_id, 2))
        assert await a.send(session_id, "three", request_id="rid-three") == 3
        await b.expect_push(is_dialogue(session_id, 3))  # seen, never acknowledged
        history_before = await a.history(session_id)
        stop_system(first)  # with both clients still connected
        for client in (a, b):
            await client.wait_closed()

    with running_system(flags, data_dir) as second:
        users = Users(second)
        try:
            a2 = await users.connect(name="Ada-again")
            b2 = await users.connect(name="Bob-again")
            resumed_a = await a2.reconnect(a.account_id, a.token)
            resumed_b = await b2.reconnect(b.account_id, b.token)
            assert resumed_a["nickName"] == "Ada"
            assert resumed_a["sessions"] == [
                {"sessionId": session_id, "partnerId": b.account_id, "partnerName": "Bob"}
            ]
            assert resumed_b["sessions"] == [
                {"sessionId": session_id, "partnerId": a.account_id, "partnerName": "Ada"}
            ]

            assert await a2.history(session_id) == history_before
            assert [m["content"] for m in history_before] == ["one", "two", "three"]
            # What b saw but did not acknowledge comes again; what it acknowledged does not.
            replayed = await b2.expect_push(is_dialogue(session_id))
            assert (replayed["msgId"], replayed["content"]) == (3, "three")

            # A retry of a request answered before the restart stores nothing new
            # (its push may come again: pushes are at-least-once).
            assert await a2.send(session_id, "three", request_id="rid-three") == 3
            assert await a2.send(session_id, "four") == 4
            assert (await b2.expect_push(is_dialogue(session_id, 4)))["content"] == "four"
            assert await b2.send(session_id, "five") == 5
            await a2.expect_push(is_dialogue(session_id, 5))
            assert b2.pushes(is_dialogue(session_id, 1)) == []
            assert b2.pushes(is_signal("NewSession")) == []
        finally:
            await users.close_all()


async def test_logged_out_account_stays_logged_out_after_restart(tmp_path: Path) -> None:
    flags = Flags(offline_grace=GRACE)
    data_dir = tmp_path / "data"
    with running_system(flags, data_dir) as first:
        users = Users(first)
        gone = await users.new("gone")
        await gone.call("LOGOUT", accountId=gone.account_id)
        await gone.close()
    with running_system(flags, data_dir) as second:
        client = await ChatClient.connect(second.ws_url(0))
        try:
            refused = await client.request("RECONNECT", accountId=gone.account_id, token=gone.token)
            assert refused["code"] == 5, refused
        finally:
            await client.close()


async def send_until_closed(
    client: ChatClient, session_id: int, started: asyncio.Event
) -> list[Frame]:
    """DIALOGUEs with a window of unanswered ones, until the connection closes;
    returns the responses. `started` is set once a first window was answered."""
    responses: list[Frame] = []
    window: deque[asyncio.Future[Frame]] = deque()
    for i in range(MAX_IN_FLIGHT_TEST_MESSAGES):
        try:
            window.append(
                await client.submit(
                    "DIALOGUE",
                    senderId=client.account_id,
                    sessionId=session_id,
                    content=f"in flight {i}",
                )
            )
            if len(window) >= WINDOW:
                responses.append(await asyncio.wait_for(window.popleft(), TIMEOUT))
        except (ConnectionError, ConnectionClosed):
            break
        if len(responses) >= WINDOW:
            started.set()
    for outcome in await asyncio.gather(*window, return_exceptions=True):
        if isinstance(outcome, dict):
            responses.append(outcome)
    return responses


async def test_every_dialogue_answered_before_a_stop_survives_it(tmp_path: Path) -> None:
    """DIALOGUE is answered code 0 only once durable: stop the system while
    messages are in flight, and every one answered 0 is there after the restart."""
    flags = Flags(offline_grace=GRACE, rate_limit=1e6, rate_burst=1e6)
    data_dir = tmp_path / "data"
    with running_system(flags, data_dir) as first:
        users = Users(first)
        a = await users.new()
        b = await users.new()
        session_id = await users.match(a, b)
        started = asyncio.Event()
        sender = asyncio.create_task(send_until_closed(a, session_id, started))
        await asyncio.wait_for(started.wait(), TIMEOUT)
        await asyncio.to_thread(stop_system, first)
        responses = await asyncio.wait_for(sender, TIMEOUT)
    answered = {r["msgId"]: r for r in responses if r["code"] == 0}
    assert answered, responses

    with running_system(flags, data_dir) as second:
        users = Users(second)
        try:
            a2 = await users.connect()
            await a2.reconnect(a.account_id, a.token)
            ids: list[int] = []
            while page := await a2.history(session_id, afterMsgId=len(ids), limit=200):
                ids += [m["msgId"] for m in page]
            assert ids == list(range(1, len(ids) + 1)), ids  # gap-free
            missing = sorted(set(answered) - set(ids))
            assert not missing, f"answered code 0 but lost by the stop: {missing}"
            assert await a2.send(session_id, "after") == len(ids) + 1
        finally:
            await users.close_all()
