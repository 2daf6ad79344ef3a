"""`pairchat bench`: messages per second through a whole system, over real
WebSockets speaking the protocol.

By default it starts its own embedded system (`pairchat up` on a free port, in
a temporary data dir, with one session per account so that MATCH pairs the
users exactly); `--url` drives a running one instead. Users are paired into
sessions; each keeps `--window` DIALOGUEs in flight and sends the next one as
soon as one is answered; receivers acknowledge every push. The content carries
the send time, so the receiver measures send-to-push latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

TIMEOUT = 30.0
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@dataclass
class Stats:
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    latencies_us: list[int] = field(default_factory=list)


class User:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, stats: Stats) -> None:
        self.ws = ws
        self.stats = stats
        self.account_id = 0
        self.session_id = 0
        self._next = 0
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.window_free = asyncio.Event()
        self.in_flight = 0
        self.measuring = False
        self.reader = asyncio.create_task(self._read())

    async def request(self, **frame: Any) -> dict[str, Any]:
        self._next += 1
        rid = frame["requestId"] = f"r{self._next}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self.ws.send_str(_encode(frame).decode())
        return await asyncio.wait_for(fut, TIMEOUT)

    async def _read(self) -> None:
        stats = self.stats
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = _decode(msg.data)
            cmd = frame.get("cmd")
            if cmd == "PUSH_DIALOGUE":
                if self.measuring:
                    stats.delivered += 1
                    sent_us = int(frame["content"].split("|", 1)[0])
                    stats.latencies_us.append(time.time_ns() // 1000 - sent_us)
                await self.ws.send_str(_encode({
                    "cmd": "PUSH_DIALOGUE", "code": 0, "sessionId": frame["sessionId"],
                    "msgId": frame["msgId"],
                }).decode())
            elif cmd == "PUSH_SIGNAL":
                await self.ws.send_str(_encode({
                    "cmd": "PUSH_SIGNAL", "code": 0, "sessionId": frame["sessionId"],
                    "signalType": frame["signalType"],
                }).decode())
            elif cmd == "DIALOGUE" and "requestId" in frame and frame["requestId"][0] == "d":
                self.in_flight -= 1
                if frame["code"] == 0:
                    if self.measuring:
                        stats.acked += 1
                else:
                    stats.errors[frame["code"]] = stats.errors.get(frame["code"], 0) + 1
                self.window_free.set()
            else:
                fut = self._waiting.pop(frame.get("requestId", ""), None)
                if fut is not None and not fut.done():
                    fut.set_result(frame)

    async def send_loop(self, deadline: float, window: int, size: int) -> None:
        n = 0
        pad = "x" * size
        while time.monotonic() < deadline:
            while self.in_flight < window:
                n += 1
                stamp = str(time.time_ns() // 1000) + "|"
                await self.ws.send_str(_encode({
                    "cmd": "DIALOGUE", "requestId": f"d{n}", "senderId": self.account_id,
                    "sessionId": self.session_id, "content": (stamp + pad)[:max(size, 20)],
                }).decode())
                self.in_flight += 1
                if self.measuring:
                    self.stats.sent += 1
            self.window_free.clear()
            await self.window_free.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn_system() -> tuple[subprocess.Popen[bytes], str, tempfile.TemporaryDirectory[str]]:
    data = tempfile.TemporaryDirectory(prefix="pairchat-bench-")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pairchat", "up", "--port", str(port), "--data-dir", data.name,
         "--max-sessions", "1", "--log-level", "warning", "--rate-limit", "100000",
         "--rate-burst", "100000", "--max-conns-per-ip", "100000"],
    )
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc, f"ws://127.0.0.1:{port}/ws", data
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("bench: the system did not start")


async def _bench(args: argparse.Namespace, urls: list[str]) -> dict[str, Any]:
    stats = Stats()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    users: list[User] = []
    try:
        for i in range(args.pairs * 2):
            ws = await http.ws_connect(urls[i % len(urls)], max_msg_size=0)
            user = User(ws, stats)
            r = await user.request(cmd="CRT_ACCOUNT", nickName=f"bench{i}")
            user.account_id = r["accountId"]
            users.append(user)
            if i % 2 == 1:
                a, b = users[-2], users[-1]
                m = await a.request(cmd="MATCH", accountId=a.account_id)
                if m["code"] != 0:
                    raise SystemExit(f"bench: MATCH failed: {m}")
                a.session_id = m["sessionId"]
                b.session_id = m["sessionId"]
        warmup = time.monotonic() + 1.0
        end = warmup + args.duration
        loops = [asyncio.create_task(u.send_loop(end, args.window, args.size)) for u in users]
        await asyncio.sleep(max(0.0, warmup - time.monotonic()))
        for u in users:
            u.measuring = True
        started = time.monotonic()
        await asyncio.sleep(max(0.0, end - time.monotonic()))
        for u in users:
            u.measuring = False
        elapsed = time.monotonic() - started
        for t in loops:
            t.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    finally:
        for u in users:
            u.reader.cancel()
        await asyncio.gather(*(u.ws.close() for u in users), return_exceptions=True)
        await http.close()
    lat = sorted(stats.latencies_us)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * p))] / 1000 if lat else 0.0

    return {
        "users": len(users), "sessions": args.pairs, "seconds": round(elapsed, 2),
        "window": args.window, "size": args.size,
        "sent_per_s": round(stats.sent / elapsed), "acked_per_s": round(stats.acked / elapsed),
        "delivered_per_s": round(stats.delivered / elapsed),
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99),
                       "max": lat[-1] / 1000 if lat else 0.0},
        "errors": stats.errors,
    }


def run_bench(args: argparse.Namespace) -> int:
    import uvloop

    proc = data = None
    urls = [u.strip() for u in args.url.split(",") if u.strip()]
    if args.spawn:
        proc, url, data = _spawn_system()
        urls = [url]
    try:
        result = uvloop.run(_bench(args, urls))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(TIMEOUT)
        if data is not None:
            data.cleanup()
    result["target"] = "spawned embedded system" if args.spawn else ",".join(urls)
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0
