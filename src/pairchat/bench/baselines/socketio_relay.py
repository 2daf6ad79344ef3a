"""The baseline a Python developer would pick: the same in-memory chat relay as
`picows_relay`, written the idiomatic python-socketio way on aiohttp + uvloop.

Each command is a Socket.IO event whose handler's return value is the
response (a Socket.IO acknowledgement), and a message reaches the partner by
`emit(..., to=partner_sid)`. No storage, like the ceiling relay: the gap
between the two is what the Socket.IO stack costs.

Run: `python -m pairchat.bench.baselines.socketio_relay --port P`; prints
"ready" on stdout once it listens.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web

from pairchat.bench.baselines import run_relay


@dataclass
class _Account:
    account_id: int
    nick: str
    partner_sid: str = ""
    session_id: int = 0
    next_msg_id: list[int] = field(default_factory=lambda: [0])


def build_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", transports=["websocket"])
    app = web.Application()
    sio.attach(app)
    accounts: dict[str, _Account] = {}
    waiting: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
    counters = {"accounts": 0, "sessions": 0}

    @sio.on("CRT_ACCOUNT")  # type: ignore[untyped-decorator]
    async def crt_account(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        counters["accounts"] += 1
        account = accounts[sid] = _Account(counters["accounts"], str(data.get("nickName", "")))
        return {
            "cmd": "CRT_ACCOUNT",
            "requestId": data.get("requestId"),
            "code": 0,
            "accountId": account.account_id,
            "nickName": account.nick,
            "token": "-",
        }

    @sio.on("MATCH")  # type: ignore[untyped-decorator]
    async def match(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        me = accounts[sid]
        request_id = data.get("requestId")
        if not waiting or waiting[0][0] == sid:
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            waiting.append((sid, future))
            reply = await future
            return {"cmd": "MATCH", "requestId": request_id, "code": 0, **reply}
        other_sid, other_future = waiting.pop(0)
        other = accounts[other_sid]
        counters["sessions"] += 1
        session_id = counters["sessions"]
        me.partner_sid, other.partner_sid = other_sid, sid
        me.session_id = other.session_id = session_id
        me.next_msg_id = other.next_msg_id = [0]
        other_future.set_result(
            {"partnerId": me.account_id, "partnerName": me.nick, "sessionId": session_id}
        )
        await sio.emit(
            "PUSH_SIGNAL",
            {
                "cmd": "PUSH_SIGNAL",
                "signalType": "NewSession",
                "senderId": me.account_id,
                "sessionId": session_id,
                "receiverId": other.account_id,
                "data": {"accountId": me.account_id, "nickName": me.nick},
            },
            to=other_sid,
        )
        return {
            "cmd": "MATCH",
            "requestId": request_id,
            "code": 0,
            "partnerId": other.account_id,
            "partnerName": other.nick,
            "sessionId": session_id,
        }

    @sio.on("DIALOGUE")  # type: ignore[untyped-decorator]
    async def dialogue(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        me = accounts.get(sid)
        if me is None or not me.partner_sid or data.get("sessionId") != me.session_id:
            return {
                "cmd": "DIALOGUE",
                "requestId": data.get("requestId"),
                "code": 6,
                "msg": "not in session",
            }
        me.next_msg_id[0] += 1
        msg_id = me.next_msg_id[0]
        await sio.emit(
            "PUSH_DIALOGUE",
            {
                "cmd": "PUSH_DIALOGUE",
                "senderId": me.account_id,
                "sessionId": me.session_id,
                "msgId": msg_id,
                "content": data.get("content"),
                "createdAt": time.time_ns() // 1_000_000,
            },
            to=me.partner_sid,
        )
        return {
            "cmd": "DIALOGUE",
            "requestId": data.get("requestId"),
            "code": 0,
            "sessionId": me.session_id,
            "msgId": msg_id,
        }

    @sio.on("PUSH_DIALOGUE")  # type: ignore[untyped-decorator]
    async def push_ack(sid: str, data: dict[str, Any]) -> None:
        return None  # acknowledgements: nothing to redeliver, so nothing to do

    @sio.on("PUSH_SIGNAL")  # type: ignore[untyped-decorator]
    async def signal_ack(sid: str, data: dict[str, Any]) -> None:
        return None

    @sio.event  # type: ignore[untyped-decorator]
    async def disconnect(sid: str, *args: Any) -> None:
        accounts.pop(sid, None)
        for entry in [e for e in waiting if e[0] == sid]:
            waiting.remove(entry)
            entry[1].cancel()

    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    return run_relay(serve, __doc__.splitlines()[0] if __doc__ else "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
