"""Wiring of the two gRPC services of proto/pairchat/api/v1, for clients and
servers: method paths come from the .proto descriptors, (de)serializers from
the generated messages. Written here rather than generated (`*_pb2_grpc.py`) so
servicers are plain classes with exactly the methods they implement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from pairchat.api.v1 import logic_pb2, push_pb2

# Servers: large batches, keepalive pings answered, a silent peer found in seconds.
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    # Clients ping every 5 s (CLIENT_OPTIONS): accept it.
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 4_000),
    ("grpc.http2.max_ping_strikes", 0),
]
# Clients (a broker's logic link, a worker's push links): keepalive pings find a
# vanished host in seconds rather than when TCP gives up.
CLIENT_OPTIONS = [
    ("grpc.keepalive_time_ms", 5_000),
    ("grpc.keepalive_timeout_ms", 3_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
]

_LOGIC = logic_pb2.DESCRIPTOR.services_by_name["Logic"].full_name
_PUSH = push_pb2.DESCRIPTOR.services_by_name["Push"].full_name

Exchange = Callable[[AsyncIterator[logic_pb2.Calls], grpc.aio.ServicerContext],
                    AsyncIterator[logic_pb2.Replies]]
Deliver = Callable[[AsyncIterator[push_pb2.PushBatch], grpc.aio.ServicerContext],
                   AsyncIterator[push_pb2.Delivered]]
Admin = Callable[[logic_pb2.AdminRequest, grpc.aio.ServicerContext],
                 Awaitable[logic_pb2.AdminResponse]]


def serve_logic(server: grpc.aio.Server, exchange: Exchange, admin: Admin) -> None:
    """Serve Logic.Exchange with `exchange` and Logic.Admin with `admin`."""
    handlers = {
        "Exchange": grpc.stream_stream_rpc_method_handler(
            exchange, request_deserializer=logic_pb2.Calls.FromString,
            response_serializer=logic_pb2.Replies.SerializeToString),
        "Admin": grpc.unary_unary_rpc_method_handler(
            admin, request_deserializer=logic_pb2.AdminRequest.FromString,
            response_serializer=logic_pb2.AdminResponse.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_LOGIC, handlers),))


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


def logic_admin(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:
    """Logic.Admin: call it with an AdminRequest, await the AdminResponse."""
    return channel.unary_unary(
        f"/{_LOGIC}/Admin", request_serializer=logic_pb2.AdminRequest.SerializeToString,
        response_deserializer=logic_pb2.AdminResponse.FromString,
    )


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
