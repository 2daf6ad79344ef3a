"""The moderation API's HTTP face on an operations listener: every request
under /admin/ becomes an `AdminRequest` (logic.proto) as it came, and its
`AdminResponse` is written back as it is. Whoever answers decides everything
else: logic itself (`logic/admin_http.py`), or a broker's forward to logic
over gRPC (`broker/admin_link.py`), so both listeners serve the same API.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pairchat.api.v1 import logic_pb2 as lpb

PREFIX = "/admin/"
JSON = "application/json; charset=utf-8"

Answer = Callable[[lpb.AdminRequest], Awaitable[lpb.AdminResponse]]


def json_response(status: int, payload: Any = None) -> lpb.AdminResponse:
    """An answer with a JSON body (none for None, as 204 has)."""
    body = b"" if payload is None else json.dumps(payload).encode()
    return lpb.AdminResponse(status=status, body=body, content_type=JSON)


def error_response(status: int, message: str) -> lpb.AdminResponse:
    """An error as the API gives it: `{"error": message}`."""
    return json_response(status, {"error": message})


def admin_routes(answer: Answer) -> list[web.RouteDef]:
    """Every method on /admin/..., handed to `answer`."""

    async def handle(request: web.Request) -> web.Response:
        reply = await answer(
            lpb.AdminRequest(
                method=request.method,
                path=request.path,
                query=request.query_string,
                body=await request.read(),
                authorization=request.headers.get("Authorization", ""),
            )
        )
        headers = {
            "Content-Type": reply.content_type or JSON,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
        if reply.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="pairchat moderation"'
        body = reply.body if reply.status != 204 else None
        return web.Response(status=reply.status, body=body, headers=headers)

    return [web.route("*", PREFIX + "{tail:.*}", handle)]
