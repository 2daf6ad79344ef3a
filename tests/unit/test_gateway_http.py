"""The gateway's HTTP rules that need no socket: the Origin check, the
security headers and picows's log lines about client mistakes."""

from __future__ import annotations

import logging

import pytest

from pairchat.broker.gateway import _PicowsLog, origin_ok
from pairchat.broker.log_limit import LogLimiter
from pairchat.webclient import security_headers


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, None, (), True),  # not a browser
        (None, "chat.example", (), True),
        ("https://chat.example", "chat.example", (), True),
        ("https://CHAT.example", "chat.EXAMPLE", (), True),
        ("https://evil.example", "chat.example", (), False),
        ("https://listed.example", "chat.example", ("https://listed.example",), True),
        ("https://any.example", "chat.example", ("*",), True),
        # no Host never matches, not even an Origin without a host, nor a listed one
        ("null", None, (), False),
        ("null", "", (), False),
        ("file://", None, (), False),
        ("https://chat.example", None, (), False),
        ("https://listed.example", None, ("https://listed.example",), False),
        ("https://any.example", "", ("*",), False),
        ("null", "chat.example", (), False),
    ],
)
def test_origin_ok(
    origin: str | None, host: str | None, allowed: tuple[str, ...], ok: bool
) -> None:
    assert origin_ok(origin, host, allowed) is ok


def test_security_headers_name_the_brokers_own_sockets() -> None:
    headers = security_headers("chat.example:8080")
    csp = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    assert csp == {
        "default-src": "'self'",
        "connect-src": "'self' ws://chat.example:8080 wss://chat.example:8080",
        "img-src": "'self' data:",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
    }
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "ws://[::1]:80 " in security_headers("[::1]:80")["Content-Security-Policy"]


@pytest.mark.parametrize("host", [None, "", "a; script-src *", "a b", "a,b", "x'"])
def test_a_missing_or_odd_host_gets_self_only(host: str | None) -> None:
    csp = security_headers(host)["Content-Security-Policy"]
    assert "connect-src 'self';" in csp
    assert "script-src" not in csp and "ws:" not in csp


def test_picows_parser_errors_are_rate_limited_warnings(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    picows_log = _PicowsLog(logging.getLogger("test.picows"), LogLimiter(10.0, lambda: now[0]))
    with caplog.at_level(logging.DEBUG, "test.picows"):
        for _ in range(3):
            picows_log.error("WS parser error: %s, initiate disconnect", ("too big",))
        now[0] = 10.0
        picows_log.error("WS parser error: %s, initiate disconnect", ("too big",))
        picows_log.exception("Unhandled exception from user's WSListener.on_ws_frame")
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [
        (logging.WARNING, "WS parser error: ('too big',), initiate disconnect"),
        (logging.WARNING, "WS parser error: ('too big',), initiate disconnect (2 suppressed)"),
        # our own bugs stay errors
        (logging.ERROR, "Unhandled exception from user's WSListener.on_ws_frame"),
    ]
