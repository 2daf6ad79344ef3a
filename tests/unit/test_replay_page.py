"""The pages of a replay (delivery/replay.py): NewSession first, the backlog in
pages that end with a REPLAY_MORE mark while more may follow, the other
pending signals with the last page, and REPLAY_END after a replay that went on."""

from __future__ import annotations

import json
from typing import Any, cast

from pairchat.api.v1 import push_pb2 as ppb
from pairchat.delivery.replay import PAGE_BYTES, PAGE_MESSAGES, replay_page
from pairchat.storage.inbox import Replay
from pairchat.storage.records import Signal, StoredMessage
from pairchat.storage.store import Store

ME, PARTNER, SESSION, CONN = 2, 1, 9, 5


class Backlog:
    """The two reads a replay makes, over a list of the partner's messages."""

    def __init__(self, sizes: list[int], signals: list[Signal]) -> None:
        self.messages = [
            StoredMessage(SESSION, i, PARTNER, "x" * size, 1000 + i)
            for i, size in enumerate(sizes, start=1)
        ]
        self.signals = signals
        self.signal_reads = 0

    async def unacked(
        self, session_id: int, account_id: int, after_msg_id: int = 0, limit: int = 0
    ) -> list[StoredMessage]:
        assert (session_id, account_id) == (SESSION, ME)
        rest = [m for m in self.messages if m.msg_id > after_msg_id]
        return rest[:limit] if limit else rest

    async def pending_signals(self, receiver_id: int) -> list[Signal]:
        self.signal_reads += 1
        return self.signals


def signal(kind: str, session_id: int = SESSION) -> Signal:
    return Signal(ME, session_id, kind, PARTNER, {"accountId": PARTNER})


async def page(backlog: Backlog, after: int = 0) -> list[ppb.PushItem]:
    entry = Replay(ME, SESSION, "b0", CONN, after)
    return await replay_page(cast(Store, backlog), entry, {})


def shown(items: list[ppb.PushItem]) -> list[Any]:
    """Each item as the broker sees it: a frame's push, or a mark."""
    out: list[Any] = []
    for item in items:
        assert (item.account_id, item.conn_id, item.session_id) == (ME, CONN, SESSION)
        if item.kind == ppb.PUSH_KIND_REPLAY:
            frame = json.loads(item.frame)
            out.append(frame.get("msgId") or frame["signalType"])
        elif item.kind == ppb.PUSH_KIND_REPLAY_MORE:
            out.append(("more", item.msg_id))
        else:
            assert item.kind == ppb.PUSH_KIND_REPLAY_END
            out.append("end")
    return out


async def test_a_short_backlog_is_one_page_with_its_signals_around_it() -> None:
    signals = [signal("PartnerExit"), signal("NewSession"), signal("ViewedAck", SESSION + 1)]
    assert shown(await page(Backlog([10, 10], signals))) == ["NewSession", 1, 2, "PartnerExit"]


async def test_a_long_backlog_goes_in_pages_of_at_most_page_messages() -> None:
    backlog = Backlog([1] * (PAGE_MESSAGES + 1), [signal("NewSession"), signal("PartnerExit")])
    first = shown(await page(backlog))
    assert first == ["NewSession", *range(1, PAGE_MESSAGES + 1), ("more", PAGE_MESSAGES)]
    last = shown(await page(backlog, PAGE_MESSAGES))
    assert last == [PAGE_MESSAGES + 1, "PartnerExit", "end"]


async def test_a_page_ends_once_its_content_reaches_page_bytes() -> None:
    big = PAGE_BYTES // 3 + 1  # three reach PAGE_BYTES
    backlog = Backlog([big] * 5, [])
    assert shown(await page(backlog)) == [1, 2, 3, ("more", 3)]
    assert shown(await page(backlog, 3)) == [4, 5, "end"]


async def test_one_message_larger_than_a_page_still_goes() -> None:
    backlog = Backlog([PAGE_BYTES * 2, 1], [])
    assert shown(await page(backlog)) == [1, ("more", 1)]


async def test_a_middle_page_reads_no_signals() -> None:
    backlog = Backlog([1] * (3 * PAGE_MESSAGES), [signal("NewSession")])
    middle = shown(await page(backlog, PAGE_MESSAGES))
    assert middle[0] == PAGE_MESSAGES + 1 and middle[-1] == ("more", 2 * PAGE_MESSAGES)
    assert backlog.signal_reads == 0
