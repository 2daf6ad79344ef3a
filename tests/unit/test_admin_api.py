"""The moderation API's answers (logic/admin_http.py), without HTTP: off
without a token, 401 without the right one and nothing changed, 400 for what
is malformed, 404 for what does not exist, and the JSON of DESIGN.md."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.logic.admin_http import AdminApi
from pairchat.logic.moderation import Moderation
from pairchat.storage.store_sqlite import SqliteStore

TOKEN = "correct horse battery staple"
AUTH = f"Bearer {TOKEN}"


async def _ignore(account_id: int, reason: str) -> None:
    """Ending sessions is LogicService's part: nothing to end here."""


@pytest.fixture
async def moderation(store: SqliteStore) -> AsyncIterator[Moderation]:
    m = Moderation(store.safety, 3, _ignore)
    await m.start()
    yield m
    await m.stop()


@pytest.fixture
def api(moderation: Moderation, store: SqliteStore) -> AdminApi:
    return AdminApi(moderation, TOKEN, store)


async def call(
    api: AdminApi,
    method: str,
    path: str,
    body: Any = None,
    query: str = "",
    authorization: str = AUTH,
) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    response = await api.answer(
        lpb.AdminRequest(
            method=method, path=path, query=query, body=raw, authorization=authorization
        )
    )
    assert response.content_type == "application/json; charset=utf-8"
    return response.status, json.loads(response.body) if response.body else None


async def test_without_a_token_the_api_is_off(moderation: Moderation, store: SqliteStore) -> None:
    off = AdminApi(moderation, "", store)
    for authorization in ("", "Bearer ", AUTH):
        status, body = await call(off, "GET", "/admin/reports", authorization=authorization)
        assert status == 404 and "off" in body["error"]


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN],
)
async def test_a_missing_or_wrong_token_is_401_and_changes_nothing(
    api: AdminApi, store: SqliteStore, authorization: str
) -> None:
    account = await store.create_account("a", b"h", 1)
    for method, path, body in [
        ("GET", "/admin/reports", None),
        ("POST", "/admin/bans", {"accountId": account, "reason": "spam"}),
        ("POST", "/admin/reports/1", {"status": "dismissed"}),
        ("DELETE", "/admin/bans/1", None),
        ("GET", "/admin/audit", None),
        ("GET", "/admin/nothing-here", None),
    ]:
        status, answer = await call(api, method, path, body, authorization=authorization)
        assert status == 401, (method, path, answer)
    assert await store.safety.bans(None) == []
    assert await store.safety.audit_log(10) == []


async def test_the_scheme_is_case_insensitive(api: AdminApi) -> None:
    assert (await call(api, "GET", "/admin/audit", authorization=f"bearer {TOKEN}"))[0] == 200


async def test_reports_are_listed_with_their_evidence_and_decided(
    api: AdminApi, store: SqliteStore
) -> None:
    a = await store.create_account("a", b"h", 1)
    b = await store.create_account("b", b"h", 1)
    s = await store.create_session(a, b, 1)
    report, _ = await store.safety.report(s, a, b, "abuse", "rude", 100)
    status, body = await call(api, "GET", "/admin/reports")
    assert status == 200
    [listed] = body["reports"]
    assert {k: listed[k] for k in ("id", "reporterId", "reportedId", "sessionId", "status")} == {
        "id": report.id,
        "reporterId": a,
        "reportedId": b,
        "sessionId": s,
        "status": "open",
    }
    assert (listed["reason"], listed["note"], listed["evidence"]) == ("abuse", "rude", [])
    status, body = await call(
        api, "POST", f"/admin/reports/{report.id}", {"status": "dismissed", "note": "fine"}
    )
    assert (status, body["status"], body["resolutionNote"]) == (200, "dismissed", "fine")
    assert (await call(api, "GET", "/admin/reports"))[1] == {"reports": []}
    status, body = await call(api, "GET", "/admin/reports", query="status=dismissed")
    assert [r["id"] for r in body["reports"]] == [report.id]
    status, body = await call(api, "GET", "/admin/reports", query="status=all&limit=1")
    assert [r["id"] for r in body["reports"]] == [report.id]
    assert (await call(api, "POST", "/admin/reports/999", {"status": "resolved"}))[0] == 404


async def test_bans_are_made_listed_and_lifted(api: AdminApi, store: SqliteStore) -> None:
    account = await store.create_account("a", b"h", 1)
    status, ban = await call(
        api, "POST", "/admin/bans", {"accountId": account, "reason": "spam", "durationSeconds": 60}
    )
    assert status == 201
    assert (ban["accountId"], ban["reason"], ban["kind"]) == (account, "spam", "ban")
    assert ban["until"] - ban["createdAt"] == 60_000
    status, net = await call(
        api,
        "POST",
        "/admin/bans",
        {"address": "2001:DB8::/32", "reason": "x", "kind": "suspension"},
    )
    assert (status, net["address"], net["until"], net["kind"]) == (
        201,
        "2001:db8::/32",
        None,
        "suspension",
    )
    status, body = await call(api, "GET", "/admin/bans")
    assert [b["id"] for b in body["bans"]] == [net["id"], ban["id"]]
    assert (await call(api, "DELETE", f"/admin/bans/{ban['id']}")) == (204, None)
    assert (await call(api, "DELETE", f"/admin/bans/{ban['id']}"))[0] == 404
    assert [b["id"] for b in (await call(api, "GET", "/admin/bans"))[1]["bans"]] == [net["id"]]
    status, body = await call(api, "GET", "/admin/bans", query="status=all")
    assert [b["id"] for b in body["bans"]] == [net["id"], ban["id"]]
    status, body = await call(api, "GET", "/admin/audit")
    assert [a["action"] for a in body["actions"]] == ["lift", "suspend", "ban"]
    assert body["actions"][0]["target"] == f"account {account}"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b"", "not JSON"),
        ({"reason": "x"}, "exactly one of accountId and address"),
        ({"accountId": 1, "address": "10.0.0.0/8", "reason": "x"}, "exactly one"),
        ({"address": "10.0.0.1/8", "reason": "x"}, "not an IP address or a CIDR network"),
        ({"address": "300.1.2.3", "reason": "x"}, "not an IP address"),
        ({"address": "example.org", "reason": "x"}, "not an IP address"),
        ({"address": 10, "reason": "x"}, "as text"),
        ({"accountId": "1", "reason": "x"}, "positive integer"),
        ({"accountId": True, "reason": "x"}, "positive integer"),
        ({"accountId": -1, "reason": "x"}, "positive integer"),
        ({"address": "10.0.0.0/8"}, "reason is required"),
        ({"address": "10.0.0.0/8", "reason": "  "}, "reason is required"),
        ({"address": "10.0.0.0/8", "reason": "x" * 501}, "at most 500"),
        ({"address": "10.0.0.0/8", "reason": "x", "durationSeconds": 0}, "durationSeconds"),
        ({"address": "10.0.0.0/8", "reason": "x", "durationSeconds": -5}, "durationSeconds"),
        ({"address": "10.0.0.0/8", "reason": "x", "durationSeconds": "60"}, "durationSeconds"),
        ({"address": "10.0.0.0/8", "reason": "x", "durationSeconds": True}, "durationSeconds"),
        ({"address": "10.0.0.0/8", "reason": "x", "durationSeconds": 1e300}, "durationSeconds"),
        ({"address": "10.0.0.0/8", "reason": "x", "kind": "mute"}, "kind is one of"),
        ({"address": "10.0.0.0/8", "reason": "x", "kind": ["ban"]}, "kind is one of"),
        ({"address": "10.0.0.0/8", "reason": ["x"]}, "reason is text"),
        ({"address": "10.0.0.0/8", "reason": "x", "until": 5}, "unknown field 'until'"),
    ],
)
async def test_a_malformed_ban_is_400_and_changes_nothing(
    api: AdminApi, store: SqliteStore, body: Any, error: str
) -> None:
    status, answer = await call(api, "POST", "/admin/bans", body)
    assert status == 400 and error in answer["error"], answer
    assert await store.safety.bans(None) == []
    assert await store.safety.audit_log(10) == []


async def test_a_ban_of_an_unknown_account_is_404(api: AdminApi, store: SqliteStore) -> None:
    assert (await call(api, "POST", "/admin/bans", {"accountId": 42, "reason": "x"}))[0] == 404
    assert await store.safety.bans(None) == []


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status"),
    [
        ("GET", "/admin/reports", "status=closed", None, 400),
        ("GET", "/admin/reports", "limit=0", None, 400),
        ("GET", "/admin/reports", "limit=x", None, 400),
        ("GET", "/admin/audit", "limit=100000", None, 400),
        ("GET", "/admin/bans", "status=lifted", None, 400),
        ("POST", "/admin/reports/1", "", {"status": "open"}, 400),
        ("POST", "/admin/reports/1", "", {"status": ["resolved"]}, 400),
        ("POST", "/admin/reports/1", "", {"status": "resolved", "note": 5}, 400),
        ("POST", "/admin/reports/1", "", {}, 400),
        ("GET", "/admin/reports/abc", "", None, 404),
        ("GET", "/admin/reports/1/x", "", None, 404),
        ("GET", "/admin", "", None, 404),
        ("GET", "/admin/users", "", None, 404),
        ("PUT", "/admin/bans", "", None, 405),
        ("GET", "/admin/reports/1", "", None, 405),
        ("DELETE", "/admin/bans/99999999999999999999", "", None, 404),
    ],
)
async def test_bad_requests(
    api: AdminApi, method: str, path: str, query: str, body: Any, status: int
) -> None:
    answer = await call(api, method, path, body, query=query)
    assert answer[0] == status, answer
    assert "error" in answer[1]
