"""What a RECONNECT replays for one session, read from the store in the order
a client needs it: NewSession first, then the partner's messages it has not
acknowledged, then the session's other pending signals (PartnerExit, ViewedAck).

A long backlog goes in pages (push.proto): a page holds at most `PAGE_MESSAGES`
messages and about `PAGE_BYTES` of content, and ends, when more may follow,
with a REPLAY_MORE mark that makes the broker ask for the next page once the
client has read this one. The pending signals come with the last page, and the
last page of a replay that went on ends with REPLAY_END.
"""

from __future__ import annotations

from typing import Final

from pairchat.api.v1 import push_pb2 as pb
from pairchat.protocol import encode_push_dialogue
from pairchat.storage.inbox import Replay, signal_frame
from pairchat.storage.records import Signal
from pairchat.storage.store import Store

PAGE_MESSAGES: Final = 200
PAGE_BYTES: Final = 256 << 10  # characters of content, a little less than the frames

_REPLAY: Final = pb.PUSH_KIND_REPLAY


async def replay_page(
    store: Store, entry: Replay, signals: dict[int, list[Signal]]
) -> list[pb.PushItem]:
    """The items of one page of `entry`'s replay; `signals` caches
    pending_signals per account across one batch of entries."""
    account, session, conn = entry.account_id, entry.session_id, entry.conn_id
    messages = await store.unacked(session, account, entry.after_msg_id, PAGE_MESSAGES)
    more = len(messages) == PAGE_MESSAGES
    size = 0
    for n, m in enumerate(messages):
        size += len(m.content)
        if size >= PAGE_BYTES and n + 1 < len(messages):
            del messages[n + 1 :]
            more = True
            break
    mine: list[Signal] = []
    if entry.after_msg_id == 0 or not more:
        pending = signals.get(account)
        if pending is None:
            pending = signals[account] = await store.pending_signals(account)
        mine = [s for s in pending if s.session_id == session]
    frames: list[bytes] = []
    if entry.after_msg_id == 0:
        frames.extend(signal_frame(s) for s in mine if s.signal_type == "NewSession")
    frames.extend(
        encode_push_dialogue(m.sender_id, m.session_id, m.msg_id, m.content, m.created_at)
        for m in messages
    )
    if not more:
        frames.extend(signal_frame(s) for s in mine if s.signal_type != "NewSession")
    items = [
        pb.PushItem(account_id=account, conn_id=conn, kind=_REPLAY, frame=f, session_id=session)
        for f in frames
    ]
    if more:
        items.append(
            pb.PushItem(
                account_id=account,
                conn_id=conn,
                kind=pb.PUSH_KIND_REPLAY_MORE,
                session_id=session,
                msg_id=messages[-1].msg_id,
            )
        )
    elif entry.after_msg_id:
        items.append(
            pb.PushItem(
                account_id=account,
                conn_id=conn,
                kind=pb.PUSH_KIND_REPLAY_END,
                session_id=session,
            )
        )
    return items
