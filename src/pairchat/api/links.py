"""The in-process contracts between roles: what a broker needs of a logic
service that runs in its own process (the embedded mode), typed here so that
neither role imports the other. `pairchat.embedded` plugs one into the other.

Across processes the same two directions are the gRPC services of
proto/pairchat/api/v1: Logic.Exchange (broker -> logic) and Push.Deliver
(delivery worker -> broker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from pairchat.api.v1 import logic_pb2, push_pb2

Exchange = Callable[[AsyncIterator[Sequence[logic_pb2.Call]]], AsyncIterator[list[logic_pb2.Reply]]]
"""Serve one broker's stream: batches of calls in, batches of replies out; the
first call is the broker's hello (Logic.Exchange without gRPC)."""

PushSink = Callable[[list[push_pb2.PushItem]], list[int]]
"""Write pushes to a broker's connections at once; returns the indexes of the
items whose connection is gone (Push.Deliver without gRPC)."""


class SendMessage(NamedTuple):
    """A DIALOGUE for logic: a client's message to store and deliver (the
    `send_msg` call of Logic.Exchange)."""

    call_id: int
    account_id: int
    conn_id: int
    session_id: int
    content: str
    request_id: str | None


class AckMessage(NamedTuple):
    """A client's acknowledgement of a PUSH_DIALOGUE (the `ack` call with a
    msg_id): answered only if it fails."""

    account_id: int
    conn_id: int
    session_id: int
    msg_id: int
    request_id: str | None


Stored = Callable[[int, int, str, int, int], None]
"""The answer to a SendMessage: (call_id, code, msg, session_id, msg_id); code 0
once the message is durable and its push queued, with its msgId."""

AckRefused = Callable[[int, str | None, int, str], None]
"""An acknowledgement that failed: (conn_id, request_id, code, msg)."""


class MessagePath(Protocol):
    """The two calls of every message, DIALOGUE and its push's acknowledgement,
    made on a logic service in this process as plain calls: the same use cases
    and answers as through Exchange, without a protobuf message or a stream hop
    each way (the one gain worth a path of its own: docs/benchmarks.md)."""

    def send(self, broker_id: str, call: SendMessage, answer: Stored) -> None:
        """Store and queue a message of the broker's connection; `answer` is
        called exactly once, possibly before this returns."""
        ...

    def ack(self, broker_id: str, call: AckMessage, refused: AckRefused) -> None:
        """Record an acknowledged msgId; `refused` is called if it fails."""
        ...


@dataclass(frozen=True, slots=True)
class LocalLogic:
    """A logic service and its delivery worker in this process, as a broker
    sees them: `exchange` takes the broker's calls, `messages` the two calls of
    every message, `attach` hands the worker the broker's push sink (under its
    broker id), `detach` takes it back."""

    exchange: Exchange
    messages: MessagePath
    attach: Callable[[str, PushSink], None]
    detach: Callable[[str], None]
