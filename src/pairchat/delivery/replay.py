"""What a RECONNECT replays for one session, read from the store in the order
a client needs it: NewSession first, then the partner's messages it has not
acknowledged, then the session's other pending signals (PartnerExit, ViewedAck)."""

from __future__ import annotations

from pairchat.protocol import encode_push_dialogue
from pairchat.storage.inbox import Replay, signal_frame
from pairchat.storage.records import Signal
from pairchat.storage.store import Store


async def replay_frames(
    store: Store, entry: Replay, signals: dict[int, list[Signal]]
) -> list[bytes]:
    """`signals` caches pending_signals per account across one batch of entries."""
    pending = signals.get(entry.account_id)
    if pending is None:
        pending = signals[entry.account_id] = await store.pending_signals(entry.account_id)
    mine = [s for s in pending if s.session_id == entry.session_id]
    frames = [signal_frame(s) for s in mine if s.signal_type == "NewSession"]
    frames.extend(
        encode_push_dialogue(m.sender_id, m.session_id, m.msg_id, m.content, m.created_at)
        for m in await store.unacked(entry.session_id, entry.account_id)
    )
    frames.extend(signal_frame(s) for s in mine if s.signal_type != "NewSession")
    return frames
