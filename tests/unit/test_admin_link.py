"""A broker's forward of the moderation API to logic (broker/admin_link.py), against
real gRPC servers on loopback: the next logic address is tried only when the previous
was unreachable, never after a call that may have arrived."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest

from pairchat.api import rpc
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.broker.admin_link import AdminLink
from pairchat.ports import free_port_range

Handler = Callable[[lpb.AdminRequest, grpc.aio.ServicerContext], Awaitable[lpb.AdminResponse]]


async def _no_exchange(
    requests: AsyncIterator[lpb.Calls], context: grpc.aio.ServicerContext
) -> AsyncIterator[lpb.Replies]:
    """Logic.Exchange, which these tests never open."""
    async for _ in requests:
        yield lpb.Replies()


class Logic:
    """A logic process's gRPC server whose Admin answers with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.calls: list[lpb.AdminRequest] = []
        self._handler = handler
        self.server = grpc.aio.server()
        rpc.serve_logic(self.server, _no_exchange, self._admin)
        self.target = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    async def _admin(
        self, request: lpb.AdminRequest, context: grpc.aio.ServicerContext
    ) -> lpb.AdminResponse:
        self.calls.append(request)
        return await self._handler(request, context)


async def _answers(request: lpb.AdminRequest, _: grpc.aio.ServicerContext) -> lpb.AdminResponse:
    return lpb.AdminResponse(status=201, body=request.body, content_type="application/json")


async def _fails(request: lpb.AdminRequest, _: grpc.aio.ServicerContext) -> lpb.AdminResponse:
    raise RuntimeError("logic broke halfway")


@pytest.fixture
async def logics() -> AsyncIterator[list[Logic]]:
    started: list[Logic] = []
    yield started
    for logic in started:
        await logic.server.stop(None)


async def start(logics: list[Logic], handler: Handler) -> Logic:
    logic = Logic(handler)
    await logic.server.start()
    logics.append(logic)
    return logic


def nowhere() -> str:
    """An address nothing listens on."""
    return f"127.0.0.1:{free_port_range(1)}"


REQUEST = lpb.AdminRequest(
    method="POST", path="/admin/bans", body=b'{"accountId": 1}', authorization="Bearer t"
)


async def test_the_request_goes_as_it_came_to_the_first_logic_reachable(
    logics: list[Logic],
) -> None:
    logic = await start(logics, _answers)
    link = AdminLink([nowhere(), logic.target])
    try:
        answer = await link.answer(REQUEST)
    finally:
        await link.close()
    assert (answer.status, answer.body) == (201, REQUEST.body)
    assert logic.calls == [REQUEST]


async def test_no_logic_reachable_is_503() -> None:
    link = AdminLink([nowhere(), nowhere()])
    try:
        answer = await link.answer(REQUEST)
    finally:
        await link.close()
    assert answer.status == 503 and b"no logic" in answer.body


async def test_a_call_that_failed_after_it_arrived_is_502_and_not_sent_again(
    logics: list[Logic],
) -> None:
    failing = await start(logics, _fails)
    healthy = await start(logics, _answers)
    link = AdminLink([failing.target, healthy.target])
    try:
        answer = await link.answer(REQUEST)
    finally:
        await link.close()
    assert answer.status == 502
    assert (len(failing.calls), healthy.calls) == (1, [])
