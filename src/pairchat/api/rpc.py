"""Wiring of the two gRPC services of proto/pairchat/api/v1, for clients and
servers: method paths come from the .proto descriptors, (de)serializers from
the generated messages. Written here rather than generated (`*_pb2_grpc.py`) so
servicers are plain classes with exactly the methods they implement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from pairchat.api.v1 import logic_pb2, push_pb2

_LOGIC = logic_pb2.DESCRIPTOR.services_by_name["Logic"].full_name
_PUSH = push_pb2.DESCRIPTOR.services_by_name["Push"].full_name

Exchange = Callable[[AsyncIterator[logic_pb2.Calls], grpc.aio.ServicerContext],
                    AsyncIterator[logic_pb2.Replies]]
Deliver = Callable[[AsyncIterator[push_pb2.PushBatch], grpc.aio.ServicerContext],
                   AsyncIterator[push_pb2.Delivered]]


def serve_logic(server: grpc.aio.Server, exchange: Exchange) -> None:
    """Serve Logic.Exchange with `exchange`."""
    _serve(server, _LOGIC, "Exchange", exchange,
           logic_pb2.Calls.FromString, logic_pb2.Replies.SerializeToString)


def serve_push(server: grpc.aio.Server, deliver: Deliver) -> None:
    """Serve Push.Deliver with `deliver`."""
    _serve(server, _PUSH, "Deliver", deliver,
           push_pb2.PushBatch.FromString, push_pb2.Delivered.SerializeToString)


def logic_exchange(channel: grpc.aio.Channel) -> grpc.aio.StreamStreamCall:
    """Open a Logic.Exchange stream; write Calls, read Replies."""
    method = channel.stream_stream(
        f"/{_LOGIC}/Exchange", request_serializer=logic_pb2.Calls.SerializeToString,
        response_deserializer=logic_pb2.Replies.FromString,
    )
    return method()


def push_deliver(channel: grpc.aio.Channel) -> grpc.aio.StreamStreamCall:
    """Open a Push.Deliver stream; write PushBatch, read Delivered."""
    method = channel.stream_stream(
        f"/{_PUSH}/Deliver", request_serializer=push_pb2.PushBatch.SerializeToString,
        response_deserializer=push_pb2.Delivered.FromString,
    )
    return method()


def _serve(server: grpc.aio.Server, service: str, name: str, behaviour: Any,
           deserialize: Callable[[bytes], Any], serialize: Callable[[Any], bytes]) -> None:
    handler = grpc.stream_stream_rpc_method_handler(
        behaviour, request_deserializer=deserialize, response_serializer=serialize)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {name: handler}),))
