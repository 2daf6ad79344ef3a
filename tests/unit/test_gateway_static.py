"""The gateway's files for installing the chat as an app, with no socket: the
web app manifest at /manifest.webmanifest as `application/manifest+json` and
its icons as PNG, with the security headers of every answer; and the manifest
in web/public itself, whose icons must exist at the sizes it declares."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from multidict import CIMultiDict
from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener

from pairchat.broker import gateway
from pairchat.broker.config import BrokerConfig
from pairchat.broker.gateway import Gateway
from pairchat.broker.hub import Hub

PUBLIC = Path(__file__).resolve().parents[2] / "web" / "public"
MANIFEST = "/manifest.webmanifest"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class _Get:
    """What `Gateway.route` reads of a request."""

    path: bytes
    headers: CIMultiDict[str]


def _get(gw: Gateway, path: str) -> tuple[WSUpgradeResponse, bytes]:
    """The gateway's answer to GET `path`, and its body."""
    request = _Get(path.encode(), CIMultiDict(Host="chat.example"))
    answer = gw.route(cast(WSUpgradeRequest, request))
    assert isinstance(answer, WSUpgradeResponseWithListener)
    assert answer.response.body is not None
    return answer.response, answer.response.body


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    """A gateway serving a built client of web/public's manifest and icons."""
    (tmp_path / "index.html").write_text("<!doctype html><title>pairchat</title>")
    (tmp_path / "manifest.webmanifest").write_bytes((PUBLIC / "manifest.webmanifest").read_bytes())
    (tmp_path / "icons").mkdir()
    for icon in (PUBLIC / "icons").glob("*.png"):
        (tmp_path / "icons" / icon.name).write_bytes(icon.read_bytes())
    monkeypatch.setattr(gateway, "STATIC_DIR", tmp_path)
    return Gateway(Hub(BrokerConfig(), lambda _: True), BrokerConfig(), lambda: True)


def test_the_manifest_is_served_as_a_web_app_manifest(built: Gateway) -> None:
    response, body = _get(built, MANIFEST)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/manifest+json"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert json.loads(body)["start_url"] == "/"


def test_the_icons_are_served_as_png(built: Gateway) -> None:
    manifest = json.loads((PUBLIC / "manifest.webmanifest").read_text())
    pngs = [icon["src"] for icon in manifest["icons"] if icon["type"] == "image/png"]
    assert pngs
    for src in [*pngs, "/icons/apple-touch-icon.png"]:
        response, body = _get(built, src)
        assert (response.status, response.headers["Content-Type"]) == (200, "image/png"), src
        assert body.startswith(PNG_SIGNATURE), src


def test_the_manifest_makes_the_chat_installable() -> None:
    manifest: dict[str, Any] = json.loads((PUBLIC / "manifest.webmanifest").read_text())
    assert manifest["name"] and manifest["short_name"]
    assert (manifest["start_url"], manifest["display"]) == ("/", "standalone")
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
    icons = manifest["icons"]
    for icon in icons:
        assert icon["src"].startswith("/")
        data = (PUBLIC / icon["src"].lstrip("/")).read_bytes()
        if icon["type"] == "image/png":
            width, height = _png_size(data)
            assert icon["sizes"] == f"{width}x{height}", icon
        else:
            assert (icon["type"], icon["sizes"]) == ("image/svg+xml", "any")
            assert data.startswith(b"<svg")
    sizes = {(icon["sizes"], icon["purpose"]) for icon in icons}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    assert _png_size((PUBLIC / "icons" / "apple-touch-icon.png").read_bytes()) == (180, 180)
