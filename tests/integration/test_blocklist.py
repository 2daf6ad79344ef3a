"""The optional content filter (`--blocklist FILE`): a DIALOGUE that matches is
refused with code 6 and a plain reason; nothing is stored or pushed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .client import is_dialogue
from .harness import Flags, system_fixture
from .users import Users

BLOCKLIST = Path(tempfile.mkdtemp(prefix="pairchat-blocklist-")) / "blocklist.txt"
BLOCKLIST.write_text("# words nobody may send\nbuy now\nre:free\\s+money\n", encoding="utf-8")

system = system_fixture(
    lambda brokers: Flags(brokers=brokers, blocklist=str(BLOCKLIST)), broker_counts=(2,)
)


async def test_a_matching_dialogue_is_refused_and_never_stored(users: Users) -> None:
    pair = await users.pair()
    for text in ("BUY  NOW, cheap", "get free   money here"):
        refused = await pair.a.request(
            "DIALOGUE", senderId=pair.a.account_id, sessionId=pair.session_id, content=text
        )
        assert (refused["code"], refused["msg"]) == (6, "message refused by the content filter")
    # words that only contain a listed phrase's words pass
    assert await pair.a.send(pair.session_id, "I will buy it later, now I chat") == 1
    got = await pair.b.expect_push(is_dialogue(pair.session_id))
    assert got["msgId"] == 1
    assert [m["msgId"] for m in await pair.b.history(pair.session_id)] == [1]
    await pair.b.assert_nothing_more(is_dialogue(pair.session_id))
