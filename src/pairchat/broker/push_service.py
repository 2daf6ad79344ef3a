"""The broker's Push gRPC service: delivery workers stream batches of frames."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from pairchat.api.v1 import push_pb2 as pb
from pairchat.broker.hub import Hub


class PushServicer:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def Deliver(
        self, request_iterator: AsyncIterator[pb.PushBatch], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.Delivered]:
        async for batch in request_iterator:
            missing = self.hub.deliver(list(batch.items))
            yield pb.Delivered(batch_id=batch.batch_id, missing=missing)
