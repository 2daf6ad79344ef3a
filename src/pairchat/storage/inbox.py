"""The inbox: the work queue from logic to the delivery workers, and the
entries it carries.

Entries are msgspec structs so the Redis inbox can carry them as compact
msgpack; their tags and field order are the encoding, which entries already
in a Redis inbox must still decode with. Implemented by `MemoryInbox`
(inbox_memory.py) and `RedisInbox` (inbox_redis.py); the docstrings are the
contract, which tests/contract/test_inbox.py checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

import msgspec

from pairchat.protocol import encode_push_signal
from pairchat.storage.records import Signal


def signal_frame(signal: Signal) -> bytes:
    """The PUSH_SIGNAL frame of `signal`, as logic queues it and a replay resends it."""
    return encode_push_signal(
        signal.signal_type, signal.sender_id, signal.receiver_id, signal.session_id, signal.data
    )


class Push(msgspec.Struct, frozen=True, tag="p", array_like=True):
    """A frame for an account's current connection, if it has one. Pushes that
    find no connection are dropped: the store replays them on RECONNECT."""

    recipient: int
    session_id: int
    frame: bytes
    msg_id: int = 0  # of a dialogue message; 0 for signals
    stored_at_us: int = 0  # commit time of a dialogue message, for the latency histogram


class Replay(msgspec.Struct, frozen=True, tag="r", array_like=True):
    """After RECONNECT: send the account a page of what it has not acknowledged
    in one session, and release the pushes held back for it. With
    `after_msg_id`, the next page of a replay that goes on (the broker asked for
    it): the partner's messages after that msgId; it holds nothing back."""

    account_id: int
    session_id: int
    broker_id: str
    conn_id: int
    after_msg_id: int = 0


class Close(msgspec.Struct, frozen=True, tag="c", array_like=True):
    """Close a connection the account no longer uses (it connected elsewhere)."""

    account_id: int
    session_id: int  # ordering key only: 0
    broker_id: str
    conn_id: int


Entry = Push | Replay | Close

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Entry)


def encode_entry(entry: Entry) -> bytes:
    return _encoder.encode(entry)


def decode_entry(data: bytes) -> Entry:
    """Raises:
    msgspec.DecodeError: not an entry (another version of pairchat put it).
    """
    entry: Entry = _decoder.decode(data)
    return entry


class Inbox(Protocol):
    """The queue from logic to the delivery workers. Entries of one session are
    taken in the order they were put (their `session_id` is the ordering key); an
    entry taken but not marked done is taken again by another consumer once the
    first is gone (at-least-once)."""

    async def put(self, entries: Sequence[Entry]) -> None: ...

    async def take(self, consumer: str, limit: int) -> list[tuple[str, Entry]]:
        """Up to `limit` entries with their ids, waiting until there is one."""
        ...

    async def done(self, consumer: str, ids: Sequence[str]) -> None: ...

    async def close(self) -> None: ...
