"""Requests per second per connection: over --rate-limit/--rate-burst a request
is answered code 8 and not executed; the connection recovers once the rate
allows, and other connections are unaffected."""

from __future__ import annotations

import asyncio

from .client import is_dialogue
from .harness import Flags, system_fixture
from .users import Users

RATE = 4.0  # requests per second
BURST = 6

system = system_fixture(
    lambda brokers: Flags(brokers=brokers, rate_limit=RATE, rate_burst=BURST),
    broker_counts=(1,),
    scaled=False,
)


async def test_requests_over_the_rate_are_code_8(users: Users) -> None:
    a = await users.connect()
    b = await users.connect()
    attempts = 3 * BURST
    futures = [await a.submit("PING") for _ in range(attempts)]
    responses = await asyncio.gather(*futures)
    limited = [r for r in responses if r["code"] == 8]
    passed = [r for r in responses if r["code"] == 0]
    assert len(limited) + len(passed) == attempts, responses
    # The burst passes (plus what the rate refills while the frames arrive).
    assert BURST <= len(passed) < attempts, responses
    assert all(r["cmd"] == "PING" and r["msg"] for r in limited), limited

    # Another connection has its own allowance.
    await b.ping()
    # The limited one recovers once the rate has refilled a token.
    await asyncio.sleep(2 / RATE)
    await a.ping()


async def test_rate_limited_dialogue_is_not_stored(users: Users) -> None:
    pair = await users.pair()  # CRT_ACCOUNT and MATCH spend a's allowance too
    await asyncio.sleep(BURST / RATE)  # refill the whole burst
    futures = [
        await pair.a.submit(
            "DIALOGUE", senderId=pair.a.account_id, sessionId=pair.session_id, content=f"m{i}"
        )
        for i in range(3 * BURST)
    ]
    responses = await asyncio.gather(*futures)
    stored = sorted(r["msgId"] for r in responses if r["code"] == 0)
    assert any(r["code"] == 8 for r in responses), responses
    assert stored == list(range(1, len(stored) + 1))
    pushes = await pair.b.expect_dialogues(pair.session_id, len(stored))
    assert [p["msgId"] for p in pushes] == stored
    await asyncio.sleep(2 / RATE)
    history = await pair.b.history(pair.session_id, limit=200)
    assert [m["msgId"] for m in history] == stored
    assert pair.b.pushes(is_dialogue(pair.session_id)) == pushes


async def test_invalid_frames_count_against_the_rate(users: Users) -> None:
    """Frames that fail validation cost the server as much as valid ones: they
    must not let a connection bypass the limit."""
    client = await users.connect()
    attempts = 3 * BURST
    for _ in range(attempts):
        await client.send_raw("not json")
    answers = [await client.expect(lambda f: "code" in f) for _ in range(attempts)]
    codes = [a["code"] for a in answers]
    assert codes.count(8) >= attempts - BURST - 1, answers
