"""A broker's moderation API: each request its operations listener gets under
/admin/ goes, as it came, to logic (Logic.Admin), which checks the token and
answers; the broker needs no token and no store.

The logic addresses are tried in the order of `--logic`. A request goes to
the next one only when the previous was unavailable (gRPC's UNAVAILABLE: as a
rule it never got there); after any other failure it may have arrived, so it
is answered 502 rather than sent again, lest a ban be made twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc

from pairchat.api import rpc
from pairchat.api.admin import error_response
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.obs import event

log = logging.getLogger("pairchat.broker")

ADMIN_TIMEOUT = 10.0  # seconds logic has to answer one request


class AdminLink:
    """Forwards moderation API requests to the first logic that answers."""

    def __init__(self, targets: Sequence[str]) -> None:
        self._channels = [
            grpc.aio.insecure_channel(target, options=rpc.CLIENT_OPTIONS) for target in targets
        ]

    async def answer(self, request: lpb.AdminRequest) -> lpb.AdminResponse:
        """Logic's answer; 503 when no logic can be reached, 502 when the
        call failed after it may have arrived."""
        for channel in self._channels:
            try:
                response: lpb.AdminResponse = await rpc.logic_admin(channel)(
                    request, timeout=ADMIN_TIMEOUT
                )
                return response
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAVAILABLE:
                    continue
                event(log, "admin forward failed", logging.WARNING, error=exc.code().name)
                return error_response(502, f"logic failed to answer ({exc.code().name}); retry")
        return error_response(503, "no logic process reachable; retry")

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
