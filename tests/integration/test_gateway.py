"""The broker's HTTP face, as a browser or a third-party client meets it: the
web client's files, unknown paths, security headers, the Origin check,
connections per address, fragmented and malformed text frames and their
bounds, and what a hostile client can make the broker log. Run on two brokers:
broker 0 lives in the logic process (embedded), broker 1 is a process of its
own."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from pairchat.broker.gateway import LOG_INTERVAL

from .harness import TIMEOUT, Flags, System, system_fixture

ALLOWED = "https://pairchat.example"
PER_IP = 3
STATIC = Path(__file__).resolve().parents[2] / "src" / "pairchat" / "static"
FRAGMENT_TIMEOUT = TIMEOUT / 5
FRAGMENT_BUDGET = 1 << 20  # bytes held by unfinished messages, per broker process
HELD = 700_000  # bytes of an unfinished message: one fits the budget, two do not
MAX_MESSAGE = 1 << 20  # the gateway's hard limit with the default --max-frame-bytes


@dataclass(frozen=True)
class GatewayFlags(Flags):
    """The harness's flags plus the fragment bounds, small enough to test."""

    def argv(self) -> list[str]:
        return [
            *super().argv(),
            "--fragment-timeout",
            str(FRAGMENT_TIMEOUT),
            "--fragment-budget",
            str(FRAGMENT_BUDGET),
        ]


system = system_fixture(
    lambda brokers: GatewayFlags(brokers=brokers, allowed_origins=ALLOWED, max_conns_per_ip=PER_IP),
    broker_counts=(2,),
    scaled=False,
)

BROKERS = pytest.mark.parametrize("broker", [0, 1], ids=["in-logic", "own-process"])
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET without a proxy: status, headers (lower-case names), body."""
    try:
        with _NO_PROXY.open(url, timeout=TIMEOUT) as resp:
            return int(resp.status), {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


async def aget(url: str) -> tuple[int, dict[str, str], bytes]:
    return await asyncio.to_thread(get, url)


def ws_url(system: System, broker: int) -> str:
    return system.ws_url(broker)


async def request(
    ws: object, frame: str | list[str] | bytes, *, text: bool = False
) -> dict[str, Any]:
    assert hasattr(ws, "send") and hasattr(ws, "recv")
    if isinstance(frame, bytes):
        await ws.send(frame, text=text)
    else:
        await ws.send(frame)
    reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert isinstance(reply, dict)
    return reply


@BROKERS
async def test_the_web_client_and_its_assets_are_served(system: System, broker: int) -> None:
    if not (STATIC / "index.html").is_file():
        pytest.skip("the web client is not built (make install builds it)")
    base = system.broker_http(broker)
    status, headers, body = await aget(base + "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-cache"
    assert body == (STATIC / "index.html").read_bytes()
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', body.decode())
    assert assets, "index.html names its assets"
    for asset in assets:
        status, headers, content = await aget(base + asset)
        assert status == 200, asset
        assert content == (STATIC / asset.lstrip("/")).read_bytes()
        assert "immutable" in headers["cache-control"]
        kind = "javascript" if asset.endswith(".js") else "css"
        assert kind in headers["content-type"], (asset, headers["content-type"])


@BROKERS
@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/assets/nope.js",
        "/../pyproject.toml",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/static/index.html",
        "/ws/",
        "/index.html/..",
    ],
)
async def test_other_paths_are_404(system: System, broker: int, path: str) -> None:
    status, _, body = await aget(system.broker_http(broker) + path)
    assert status == 404, (path, body[:80])
    assert b"[project]" not in body


@BROKERS
async def test_the_broker_port_has_healthz_and_no_metrics(system: System, broker: int) -> None:
    status, headers, body = await aget(system.broker_http(broker) + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["content-type"].startswith("application/json")
    status, _, _ = await aget(system.broker_http(broker) + "/metrics")
    assert status == 404
    status, headers, body = await aget(system.broker_ops(broker) + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert b"pairchat_connections " in body


@BROKERS
async def test_a_foreign_origin_is_refused(system: System, broker: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            ws_url(system, broker),
            origin=Origin("https://evil.example"),
            proxy=None,
            open_timeout=TIMEOUT,
        )
    assert refused.value.response.status_code == 403


@BROKERS
@pytest.mark.parametrize("origin", ["own", ALLOWED, None])
async def test_own_listed_and_absent_origins_are_accepted(
    system: System, broker: int, origin: str | None
) -> None:
    if origin == "own":
        origin = system.broker_http(broker)
    async with connect(
        ws_url(system, broker),
        origin=origin,  # type: ignore[arg-type]
        proxy=None,
        open_timeout=TIMEOUT,
    ) as ws:
        reply = await request(ws, '{"cmd":"PING","requestId":"o1"}')
        assert (reply["cmd"], reply["code"]) == ("PING", 0)


@BROKERS
async def test_connections_per_address_are_limited(system: System, broker: int) -> None:
    url = ws_url(system, broker)
    kept = [await connect(url, proxy=None, open_timeout=TIMEOUT) for _ in range(PER_IP)]
    try:
        for ws in kept:  # each is served
            assert (await request(ws, '{"cmd":"PING"}'))["code"] == 0
        extra = await connect(url, proxy=None, open_timeout=TIMEOUT)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(extra.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    finally:
        for ws in kept:
            await ws.close()
    # Once they closed, the address may connect again.
    async with connect(url, proxy=None, open_timeout=TIMEOUT) as again:
        assert (await request(again, '{"cmd":"PING"}'))["code"] == 0


@BROKERS
async def test_a_fragmented_text_message_is_one_request(system: System, broker: int) -> None:
    async with connect(ws_url(system, broker), proxy=None, open_timeout=TIMEOUT) as ws:
        reply = await request(ws, ['{"cmd":"PI', 'NG","reque', 'stId":"frag"}'])
        assert reply == {"cmd": "PING", "requestId": "frag", "code": 0}


@BROKERS
async def test_text_that_is_not_utf8_is_error_code_1(system: System, broker: int) -> None:
    async with connect(ws_url(system, broker), proxy=None, open_timeout=TIMEOUT) as ws:
        reply = await request(ws, b'{"cmd":"PING","requestId":"\xff"}', text=True)
        assert (reply["cmd"], reply["code"]) == ("ERROR", 1)
        # the connection goes on
        assert (await request(ws, '{"cmd":"PING"}'))["code"] == 0


@BROKERS
async def test_a_fragmented_binary_message_is_error_code_1(system: System, broker: int) -> None:
    async with connect(ws_url(system, broker), proxy=None, open_timeout=TIMEOUT) as ws:
        reply = await request(ws, [b"\x00\x01", b"\x02"])  # type: ignore[list-item]
        assert (reply["cmd"], reply["code"]) == ("ERROR", 1)
        assert (await request(ws, '{"cmd":"PING"}'))["code"] == 0


# --- security headers ---
SECURITY = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def assert_secured(headers: dict[str, str], host: str) -> None:
    assert {k: headers.get(k) for k in SECURITY} == SECURITY
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert f"connect-src 'self' ws://{host} wss://{host}" in csp
    assert "frame-ancestors 'none'" in csp


@BROKERS
@pytest.mark.parametrize(
    "path", ["/", "/index.html", "/favicon.svg", "/nope", "/healthz", "/metrics"]
)
async def test_every_http_answer_carries_the_security_headers(
    system: System, broker: int, path: str
) -> None:
    base = system.broker_http(broker)
    _, headers, _ = await aget(base + path)
    assert_secured(headers, urlsplit(base).netloc)


@BROKERS
async def test_a_refused_origin_carries_the_security_headers(system: System, broker: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            ws_url(system, broker),
            origin=Origin("https://evil.example"),
            proxy=None,
            open_timeout=TIMEOUT,
        )
    headers = {k.lower(): v for k, v in refused.value.response.headers.raw_items()}
    assert_secured(headers, urlsplit(system.broker_http(broker)).netloc)


# --- the Origin check without Host ---
async def raw_upgrade(system: System, broker: int, headers: str) -> bytes:
    """Send an upgrade request as written (no client adds a Host) and return its status line."""
    address = urlsplit(system.broker_http(broker))
    assert address.hostname and address.port
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address.hostname, address.port), TIMEOUT
    )
    try:
        writer.write(
            (
                "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"{headers}\r\n"
            ).encode()
        )
        return await asyncio.wait_for(reader.readline(), TIMEOUT)
    finally:
        writer.close()


@BROKERS
@pytest.mark.parametrize("origin", ["null", "file://", ALLOWED])
async def test_an_origin_without_host_is_refused(system: System, broker: int, origin: str) -> None:
    status = await raw_upgrade(system, broker, f"Origin: {origin}\r\n")
    assert status.split()[1:2] == [b"403"], status
    # without Origin (not a browser) the same request is upgraded
    status = await raw_upgrade(system, broker, "")
    assert status.split()[1:2] == [b"101"], status


# --- bounds of fragmented messages ---
async def send_unfinished(ws: Any, first: str, pace: float | None = None) -> asyncio.Task[None]:
    """Start a text message in fragments that never ends (a fragment each
    `pace` seconds, or only the first)."""

    async def fragments() -> AsyncIterator[str]:
        yield first
        if pace is None:
            await asyncio.Future()  # never
        while pace is not None:
            await asyncio.sleep(pace)  # the pace of a slow client, not a wait for an event
            yield " "

    return asyncio.create_task(ws.send(fragments()))


async def closed_with(ws: Any, within: float = TIMEOUT) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    assert closed.value.rcvd is not None
    return int(closed.value.rcvd.code)


@BROKERS
@pytest.mark.parametrize("pace", [None, FRAGMENT_TIMEOUT / 4], ids=["silent", "trickling"])
async def test_an_unfinished_message_is_closed_1008_at_its_deadline(
    system: System, broker: int, pace: float | None
) -> None:
    async with connect(ws_url(system, broker), proxy=None, open_timeout=TIMEOUT) as ws:
        started = time.monotonic()
        sending = await send_unfinished(ws, '{"cmd":"PING",', pace)
        try:
            assert await closed_with(ws, FRAGMENT_TIMEOUT + TIMEOUT) == 1008
        finally:
            sending.cancel()
        assert time.monotonic() - started >= FRAGMENT_TIMEOUT * 0.9


async def held(ws: Any) -> None:
    """Wait until the broker read every frame sent so far: a ping may come
    between fragments, and its pong comes after the frames before it."""
    pong = await ws.ping()
    await asyncio.wait_for(pong, TIMEOUT)


@BROKERS
async def test_unfinished_messages_share_one_budget_per_process(
    system: System, broker: int
) -> None:
    url = ws_url(system, broker)
    async with (
        connect(url, proxy=None, open_timeout=TIMEOUT) as holder,
        connect(url, proxy=None, open_timeout=TIMEOUT) as other,
    ):
        sent, done = asyncio.Event(), asyncio.Event()

        async def fragments() -> AsyncIterator[str]:
            yield '{"cmd":"PING","requestId":"' + "h" * HELD
            sent.set()
            await done.wait()
            yield '"}'

        sending = asyncio.create_task(holder.send(fragments()))
        try:
            await asyncio.wait_for(sent.wait(), TIMEOUT)
            await held(holder)
            second = await send_unfinished(other, " " * HELD)
            try:
                assert await closed_with(other) == 1013
            finally:
                second.cancel()
            # the holder goes on: its message reaches the core, which answers
            # code 9 (past --max-frame-bytes), and the connection is served
            done.set()
            await asyncio.wait_for(sending, TIMEOUT)
            reply = json.loads(await asyncio.wait_for(holder.recv(), TIMEOUT))
            assert reply["code"] == 9
            assert (await request(holder, '{"cmd":"PING"}'))["code"] == 0
        finally:
            sending.cancel()
    # every held byte was given back: a message as big goes through again
    async with connect(url, proxy=None, open_timeout=TIMEOUT) as ws:
        reply = await request(ws, ['{"cmd":"PING","requestId":"', "y" * HELD, '"}'])
        assert reply["code"] == 9  # answered by the core, not closed 1013


@BROKERS
async def test_a_fragmented_message_past_the_hard_limit_is_closed_1009(
    system: System, broker: int
) -> None:
    async with connect(ws_url(system, broker), proxy=None, open_timeout=TIMEOUT) as ws:
        sending = asyncio.create_task(ws.send(["x" * (MAX_MESSAGE // 2 + 1)] * 2))
        try:
            assert await closed_with(ws) == 1009
        finally:
            sending.cancel()


# --- what a client can make the broker log ---
def log_lines(system: System) -> list[str]:
    return system.output().splitlines()


@BROKERS
async def test_hostile_frames_log_no_error_and_warnings_are_rate_limited(
    system: System, broker: int
) -> None:
    url = ws_url(system, broker)
    before = len(log_lines(system))
    started = time.monotonic()
    rounds = 4
    for _ in range(rounds):
        async with connect(url, proxy=None, open_timeout=TIMEOUT, max_size=None) as ws:
            await ws.send("x" * (MAX_MESSAGE + 1))  # past picows's frame limit
            assert await closed_with(ws) == 1009
        async with connect(url, proxy=None, open_timeout=TIMEOUT) as ws:
            await ws.send(["x" * (MAX_MESSAGE // 2 + 1)] * 2)  # fragments past the limit
            assert await closed_with(ws) == 1009
        async with connect(url, proxy=None, open_timeout=TIMEOUT) as ws:
            assert (await request(ws, b"\xff", text=True))["code"] == 1
            assert (await request(ws, b"\x00"))["code"] == 1
        with pytest.raises(InvalidStatus):
            await connect(url, origin=Origin("https://evil.example"), proxy=None)
        kept = [await connect(url, proxy=None, open_timeout=TIMEOUT) for _ in range(PER_IP)]
        try:
            extra = await connect(url, proxy=None, open_timeout=TIMEOUT)
            assert await closed_with(extra) == 1013
        finally:
            for ws in kept:
                await ws.close()
    # the last lines are written once the rounds' connections are logged closed
    async with connect(url, proxy=None, open_timeout=TIMEOUT) as ws:
        assert (await request(ws, '{"cmd":"PING"}'))["code"] == 0
    lines = log_lines(system)[before:]
    assert not [line for line in lines if "level=error" in line]
    # at most one line per kind (and key) per interval, however many rounds
    allowed = 1 + int((time.monotonic() - started) // LOG_INTERVAL)
    for kind in ("WS parser error", "origin refused", "too many connections", "connection closed"):
        count = sum(kind in line for line in lines)
        assert count <= allowed, (kind, count, rounds)
