"""The moderation API (DESIGN.md) on the operations listener of logic-0 and,
forwarded to logic, of a broker process, embedded and scaled: the token, the
reports users make with REPORT and their evidence, decisions, bans of accounts
and addresses (code 10, PartnerExit), lifting them, automatic suspension, the
audit, and the console page at /moderate."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .client import ChatClient, Frame, is_signal
from .harness import (
    POLL_INTERVAL,
    TIMEOUT,
    Flags,
    System,
    children,
    running_system,
    system_fixture,
)
from .users import Pair, Users

TOKEN = f"moderator-{secrets.token_hex(16)}"
THRESHOLD = 2  # distinct reporters that suspend an account
STATIC = Path(__file__).resolve().parents[2] / "src" / "pairchat" / "static"
LISTENERS = ("logic", "broker")

system = system_fixture(
    lambda brokers: Flags(brokers=brokers, admin_token=TOKEN, report_threshold=THRESHOLD),
    broker_counts=(2,),
)


def listener(system: System, where: str) -> str:
    """logic-0's operations listener, or that of broker 1, a broker process
    (embedded and scaled), which forwards the API to logic."""
    return system.logic_http if where == "logic" else system.broker_ops(1)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


async def admin(
    base: str, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> Answer:
    """One call of the API; `body` is sent as JSON, or as it is if bytes."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
    if data is not None:
        headers["Content-Type"] = "application/json"
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.request(method, base + path, data=data, headers=headers) as resp,
    ):
        raw = await resp.read()
        return Answer(resp.status, json.loads(raw) if raw else None, dict(resp.headers))


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """A plain GET: status, headers, body."""
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def until_code(client: ChatClient, code: int, cmd: str, **fields: Any) -> Frame:
    """Repeat a request until it is answered with `code`: a ban made through
    one logic process reaches the others within their refresh."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        response = await client.request(cmd, **fields)
        if response["code"] == code:
            return response
        assert time.monotonic() < deadline, f"{cmd} still answered {response}"
        await asyncio.sleep(POLL_INTERVAL)


async def unavailable(*clients: ChatClient) -> None:
    """Keep users of a test's earlier pairs out of its next MATCHes."""
    for client in clients:
        await client.call("AVAILABILITY", available=False)


async def reported_pair(users: Users, reason: str = "spam") -> tuple[Pair, dict[str, Any]]:
    """A pair who exchanged two messages, then b reported a: the report as
    the API lists it."""
    pair = await users.pair()
    await pair.a.send(pair.session_id, "buy my stuff")
    await pair.b.send(pair.session_id, "no thanks")
    await pair.b.call("REPORT", sessionId=pair.session_id, reason=reason, note="selling")
    await pair.a.expect_push(is_signal("PartnerExit", pair.session_id))
    listed = await admin(users.system.logic_http, "GET", "/admin/reports")
    assert listed.status == 200, listed
    [report] = [r for r in listed.body["reports"] if r["sessionId"] == pair.session_id]
    return pair, report


@pytest.fixture
async def lifted_afterwards(system: System) -> AsyncIterator[list[int]]:
    """Ban ids a test made: lifted when it ends, whatever happened, so that no
    ban of 127.0.0.1 outlives its test."""
    made: list[int] = []
    yield made
    for ban_id in made:
        await admin(system.logic_http, "DELETE", f"/admin/bans/{ban_id}")


# --- the token ---
@pytest.mark.parametrize("where", LISTENERS)
async def test_without_or_with_a_wrong_token_nothing_changes(
    system: System, users: Users, where: str
) -> None:
    base = listener(system, where)
    pair, report = await reported_pair(users)
    bans = (await admin(base, "GET", "/admin/bans?status=all")).body
    audit = (await admin(base, "GET", "/admin/audit")).body
    calls = [
        ("GET", "/admin/reports", None),
        ("POST", f"/admin/reports/{report['id']}", {"status": "dismissed"}),
        ("POST", "/admin/bans", {"accountId": pair.a.account_id, "reason": "spam"}),
        ("POST", "/admin/bans", {"address": "127.0.0.1", "reason": "spam"}),
        ("DELETE", "/admin/bans/1", None),
        ("GET", "/admin/audit", None),
    ]
    for token in (None, "", "wrong", TOKEN + "x", TOKEN[:-1]):
        for method, path, body in calls:
            answer = await admin(base, method, path, body, token=token)
            assert answer.status == 401, (token, method, path, answer)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            assert "error" in answer.body
    assert (await admin(base, "GET", "/admin/bans?status=all")).body == bans
    assert (await admin(base, "GET", "/admin/audit")).body == audit
    [still] = [
        r
        for r in (await admin(base, "GET", "/admin/reports")).body["reports"]
        if r["id"] == report["id"]
    ]
    assert still["status"] == "open"
    assert (await pair.a.request("HISTORY", sessionId=pair.session_id))["code"] == 0


def test_the_token_reaches_logic_through_its_environment_only(system: System) -> None:
    for pid in children(system, "logic"):
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"pairchat\x00logic" in command_line
        assert TOKEN.encode() not in command_line
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\x00")
        assert f"PAIRCHAT_ADMIN_TOKEN={TOKEN}".encode() in environment
    assert TOKEN not in system.output()


async def test_without_a_token_the_api_is_off(tmp_path: Path) -> None:
    with running_system(Flags(brokers=2), tmp_path / "data") as plain:
        for base in (plain.logic_http, plain.broker_ops(1)):
            for token in (None, "anything"):
                answer = await admin(base, "GET", "/admin/reports", token=token)
                assert answer.status == 404, (base, answer)


# --- reports ---
async def test_reports_are_listed_with_their_evidence_then_decided(
    system: System, users: Users
) -> None:
    first, report = await reported_pair(users)
    a, b = first.a.account_id, first.b.account_id
    assert {k: report[k] for k in ("reporterId", "reportedId", "reason", "note", "status")} == {
        "reporterId": b,
        "reportedId": a,
        "reason": "spam",
        "note": "selling",
        "status": "open",
    }
    assert isinstance(report["createdAt"], int)
    assert [{k: m[k] for k in ("msgId", "senderId", "content")} for m in report["evidence"]] == [
        {"msgId": 1, "senderId": a, "content": "buy my stuff"},
        {"msgId": 2, "senderId": b, "content": "no thanks"},
    ]
    assert all(isinstance(m["createdAt"], int) for m in report["evidence"])
    await unavailable(first.a, first.b)
    _, later = await reported_pair(users, reason="abuse")
    base = system.broker_ops(1)
    listed = (await admin(base, "GET", "/admin/reports")).body["reports"]
    ids = [r["id"] for r in listed]
    assert ids.index(later["id"]) < ids.index(report["id"])  # newest first

    resolved = await admin(
        base, "POST", f"/admin/reports/{report['id']}", {"status": "resolved", "note": "warned"}
    )
    assert resolved.status == 200, resolved
    assert (resolved.body["id"], resolved.body["status"]) == (report["id"], "resolved")
    dismissed = await admin(
        system.logic_http, "POST", f"/admin/reports/{later['id']}", {"status": "dismissed"}
    )
    assert (dismissed.status, dismissed.body["status"]) == (200, "dismissed")

    async def ids_of(status: str) -> list[int]:
        answer = await admin(base, "GET", f"/admin/reports?status={status}")
        assert answer.status == 200, answer
        return [r["id"] for r in answer.body["reports"]]

    assert report["id"] not in await ids_of("open")
    assert later["id"] not in await ids_of("open")
    assert report["id"] in await ids_of("resolved")
    assert later["id"] in await ids_of("dismissed")
    assert {report["id"], later["id"]} <= set(await ids_of("all"))
    unknown = await admin(base, "POST", "/admin/reports/999999", {"status": "resolved"})
    assert unknown.status == 404, unknown


# --- bans ---
@pytest.mark.parametrize("where", LISTENERS)
async def test_a_ban_by_account_refuses_its_requests_and_ends_its_sessions(
    system: System, users: Users, where: str, lifted_afterwards: list[int]
) -> None:
    pair = await users.pair()
    base = listener(system, where)
    made = await admin(
        base,
        "POST",
        "/admin/bans",
        {"accountId": pair.a.account_id, "reason": "spam", "durationSeconds": 3600},
    )
    assert made.status == 201, made
    lifted_afterwards.append(made.body["id"])
    assert (made.body["accountId"], made.body["reason"]) == (pair.a.account_id, "spam")
    assert made.body["until"] == made.body["createdAt"] + 3_600_000
    exit_ = await pair.b.expect_push(is_signal("PartnerExit", pair.session_id))
    assert exit_["data"] == {"accountId": pair.a.account_id}
    refused = await until_code(pair.a, 10, "HISTORY", sessionId=pair.session_id)
    assert re.fullmatch(r"banned until \d{4}-\d\d-\d\d \d\d:\d\d UTC: spam", refused["msg"])
    assert (await pair.b.request("HISTORY", sessionId=pair.session_id))["code"] == 0
    listed = await admin(base, "GET", "/admin/bans")
    assert made.body in listed.body["bans"]

    assert (await admin(base, "DELETE", f"/admin/bans/{made.body['id']}")).status == 204
    await until_code(pair.a, 0, "HISTORY", sessionId=pair.session_id)
    assert (await admin(base, "DELETE", f"/admin/bans/{made.body['id']}")).status == 404
    listed = await admin(base, "GET", "/admin/bans")
    assert made.body["id"] not in [b["id"] for b in listed.body["bans"]]


async def test_a_ban_by_address_refuses_new_accounts_and_connections_from_it(
    system: System, users: Users, lifted_afterwards: list[int]
) -> None:
    present = await users.new()  # connected before the ban
    base = system.broker_ops(1)
    made = await admin(base, "POST", "/admin/bans", {"address": "127.0.0.0/8", "reason": "abuse"})
    assert made.status == 201, made
    lifted_afterwards.append(made.body["id"])
    assert (made.body["address"], made.body["until"]) == ("127.0.0.0/8", None)
    newcomers = [await users.connect(broker=i) for i in range(system.broker_count)]
    for newcomer in newcomers:
        # A RECONNECT that fails binds nothing: it shows when the ban is known.
        await until_code(newcomer, 10, "RECONNECT", accountId=present.account_id, token="x")
        refused = await newcomer.request("CRT_ACCOUNT", nickName="newcomer")
        assert (refused["code"], refused["msg"]) == (10, "banned: abuse")
    await until_code(present, 10, "AVAILABILITY", available=True)

    assert (await admin(base, "DELETE", f"/admin/bans/{made.body['id']}")).status == 204
    for newcomer in newcomers:
        await until_code(newcomer, 5, "RECONNECT", accountId=present.account_id, token="x")
        await newcomer.create_account("newcomer")
    await until_code(present, 0, "AVAILABILITY", available=True)


@pytest.mark.parametrize("where", LISTENERS)
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "not JSON"),
        ({"reason": "x"}, "exactly one of accountId and address"),
        ({"accountId": 1, "address": "10.0.0.0/8", "reason": "x"}, "exactly one"),
        ({"address": "10.0.0.1/8", "reason": "x"}, "not an IP address or a CIDR network"),
        ({"address": "not-an-address", "reason": "x"}, "not an IP address"),
        ({"address": "10.0.0.0/8", "reason": "x", "durationSeconds": 0}, "durationSeconds"),
        ({"address": "10.0.0.0/8", "reason": "x", "durationSeconds": "1h"}, "durationSeconds"),
    ],
)
async def test_a_malformed_ban_is_400_and_changes_nothing(
    system: System, where: str, body: Any, error: str
) -> None:
    base = listener(system, where)
    bans = (await admin(base, "GET", "/admin/bans?status=all")).body
    answer = await admin(base, "POST", "/admin/bans", body)
    assert answer.status == 400 and error in answer.body["error"], answer
    assert (await admin(base, "GET", "/admin/bans?status=all")).body == bans


@pytest.mark.parametrize("where", LISTENERS)
async def test_an_unknown_report_status_is_400(system: System, users: Users, where: str) -> None:
    _, report = await reported_pair(users)
    base = listener(system, where)
    for body in ({"status": "closed"}, {"status": "open"}, b"[]"):
        answer = await admin(base, "POST", f"/admin/reports/{report['id']}", body)
        assert answer.status == 400, answer
    assert (await admin(base, "GET", "/admin/reports?status=closed")).status == 400
    open_ids = [r["id"] for r in (await admin(base, "GET", "/admin/reports")).body["reports"]]
    assert report["id"] in open_ids


# --- automatic suspension ---
async def test_reports_by_enough_accounts_suspend_the_account_until_a_moderator_decides(
    system: System, users: Users, lifted_afterwards: list[int]
) -> None:
    target, x, y, z = [await users.new() for _ in range(4)]
    await unavailable(y, z)
    with_x = await users.match(x, target)
    await unavailable(x)
    await y.call("AVAILABILITY", available=True)
    with_y = await users.match(target, y)
    await unavailable(y)
    await z.call("AVAILABILITY", available=True)
    with_z = await users.match(target, z)

    await x.call("REPORT", sessionId=with_x, reason="abuse")
    await target.expect_push(is_signal("PartnerExit", with_x))
    assert (await target.request("HISTORY", sessionId=with_z))["code"] == 0  # one is not enough
    await y.call("REPORT", sessionId=with_y, reason="abuse")
    # the account's other sessions end too
    await z.expect_push(is_signal("PartnerExit", with_z))
    refused = await until_code(target, 10, "HISTORY", sessionId=with_z)
    assert (
        refused["msg"] == f"suspended until a moderator decides: reported by {THRESHOLD} accounts"
    )

    base = system.broker_ops(1)
    [suspension] = [
        b
        for b in (await admin(base, "GET", "/admin/bans")).body["bans"]
        if b.get("accountId") == target.account_id
    ]
    lifted_afterwards.append(suspension["id"])
    assert (suspension["kind"], suspension["until"]) == ("suspension", None)
    audit = (await admin(base, "GET", "/admin/audit")).body["actions"]
    assert {
        "action": "auto-suspend",
        "target": f"account {target.account_id}",
        "reason": f"reported by {THRESHOLD} accounts",
    }.items() <= audit[0].items()
    assert (await admin(base, "DELETE", f"/admin/bans/{suspension['id']}")).status == 204
    await until_code(target, 0, "HISTORY", sessionId=with_z)


# --- the audit ---
async def test_the_audit_lists_every_action_newest_first(
    system: System, users: Users, lifted_afterwards: list[int]
) -> None:
    pair, report = await reported_pair(users, reason="abuse")
    a = pair.a.account_id
    logic, broker = system.logic_http, system.broker_ops(1)
    ban = (await admin(logic, "POST", "/admin/bans", {"accountId": a, "reason": "abuse"})).body
    lifted_afterwards.append(ban["id"])
    decided = await admin(
        broker, "POST", f"/admin/reports/{report['id']}", {"status": "dismissed", "note": "no"}
    )
    assert decided.status == 200
    assert (await admin(broker, "DELETE", f"/admin/bans/{ban['id']}")).status == 204
    net = await admin(
        broker,
        "POST",
        "/admin/bans",
        {"address": "192.0.2.0/24", "reason": "a test net", "kind": "suspension"},
    )
    assert net.status == 201 and net.body["kind"] == "suspension"
    assert (await admin(logic, "DELETE", f"/admin/bans/{net.body['id']}")).status == 204

    answer = await admin(broker, "GET", "/admin/audit")
    assert answer.status == 200
    actions = answer.body["actions"]
    assert [{k: e[k] for k in ("action", "target", "reason")} for e in actions[:5]] == [
        {
            "action": "lift",
            "target": "address 192.0.2.0/24",
            "reason": f"suspension {net.body['id']}",
        },
        {"action": "suspend", "target": "address 192.0.2.0/24", "reason": "a test net"},
        {"action": "lift", "target": f"account {a}", "reason": f"ban {ban['id']}"},
        {"action": "dismiss", "target": f"report {report['id']}", "reason": "no"},
        {"action": "ban", "target": f"account {a}", "reason": "abuse"},
    ]
    times = [e["at"] for e in actions]
    assert times == sorted(times, reverse=True)


# --- the console ---
@pytest.mark.parametrize("where", LISTENERS)
async def test_the_console_is_served_with_the_security_headers(system: System, where: str) -> None:
    if not (STATIC / "moderate.html").is_file():
        pytest.skip("the web client is not built (make install builds it)")
    base = listener(system, where)
    status, headers, html = await get(base + "/moderate")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert html == (STATIC / "moderate.html").read_bytes()
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "connect-src 'self';", "frame-ancestors 'none'"):
        assert directive in csp, csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html.decode())
    assert assets, "moderate.html names its assets"
    for asset in assets:
        status, headers, _ = await get(base + asset)
        assert status == 200, asset
        assert "Content-Security-Policy" in headers, asset
    api = await admin(base, "GET", "/admin/audit")
    assert api.headers["Cache-Control"] == "no-store"
    assert api.headers["Content-Type"].startswith("application/json")
