"""What logic puts in the inbox for the delivery workers. They are msgspec
structs so the Redis inbox can carry them as compact msgpack."""

from __future__ import annotations

from typing import Final

import msgspec


class Push(msgspec.Struct, frozen=True, tag="p", array_like=True):
    """A frame for an account's current connection, if it has one. Pushes that
    find no connection are dropped: the store replays them on RECONNECT."""

    recipient: int
    session_id: int
    frame: bytes
    msg_id: int = 0  # of a dialogue message; 0 for signals
    stored_at_us: int = 0  # commit time of a dialogue message, for the latency histogram


class Replay(msgspec.Struct, frozen=True, tag="r", array_like=True):
    """After RECONNECT: send the account what it has not acknowledged in one
    session, and release the pushes held back for it."""

    account_id: int
    session_id: int
    broker_id: str
    conn_id: int


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
    entry: Entry = _decoder.decode(data)
    return entry
