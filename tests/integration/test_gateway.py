"""The broker's HTTP face, as a browser or a third-party client meets it: the
web client's files, unknown paths, the Origin check, connections per address,
fragmented and malformed text frames. Run on two brokers: broker 0 lives in
the logic process (embedded), broker 1 is a process of its own."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from .harness import TIMEOUT, Flags, System, system_fixture

ALLOWED = "https://pairchat.example"
PER_IP = 3
STATIC = Path(__file__).resolve().parents[2] / "src" / "pairchat" / "static"

system = system_fixture(
    lambda brokers: Flags(brokers=brokers, allowed_origins=ALLOWED, max_conns_per_ip=PER_IP),
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
async def test_healthz_and_metrics_answer_on_the_broker_port(system: System, broker: int) -> None:
    status, headers, body = await aget(system.broker_http(broker) + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["content-type"].startswith("application/json")
    status, headers, body = await aget(system.broker_http(broker) + "/metrics")
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
