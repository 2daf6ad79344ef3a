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

from pairchat.api.v1 import logic_pb2, push_pb2

Exchange = Callable[[AsyncIterator[Sequence[logic_pb2.Call]]], AsyncIterator[list[logic_pb2.Reply]]]
"""Serve one broker's stream: batches of calls in, batches of replies out; the
first call is the broker's hello (Logic.Exchange without gRPC)."""

PushSink = Callable[[list[push_pb2.PushItem]], list[int]]
"""Write pushes to a broker's connections at once; returns the indexes of the
items whose connection is gone (Push.Deliver without gRPC)."""


@dataclass(frozen=True, slots=True)
class LocalLogic:
    """A logic service and its delivery worker in this process, as a broker
    sees them: `exchange` takes the broker's calls, `attach` hands the worker
    the broker's push sink (under its broker id), `detach` takes it back."""

    exchange: Exchange
    attach: Callable[[str, PushSink], None]
    detach: Callable[[str], None]
