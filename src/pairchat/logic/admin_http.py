"""The moderation API of DESIGN.md, answered by logic over `Moderation`: the
bearer token first, then the route, the JSON in and out.

It answers `AdminRequest`s, whichever way they came: from this process's
operations listener (`routes`, through `pairchat.api.admin`) or from a
broker's, forwarded over gRPC (`Admin`, Logic.Admin). Without a token the API
is off: every path under /admin/ is 404. A request without the token, or with
another, is 401 and changes nothing (compared in constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import grpc
from aiohttp import web

from pairchat.addresses import normalize_network
from pairchat.api.admin import admin_routes, error_response, json_response
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.logic.moderation import DECISIONS, MAX_DURATION, Moderation
from pairchat.obs import event
from pairchat.storage.safety import BAN_KINDS, REPORT_STATUSES
from pairchat.storage.store import Store

log = logging.getLogger("pairchat.logic")

DEFAULT_LIMIT = 200  # reports or audit entries in one answer, unless `limit` says
MAX_LIMIT = 1000
MAX_TEXT = 500  # characters of a ban's reason or a decision's note
REPORT_FILTERS = (*REPORT_STATUSES, "all")
BAN_FILTERS = ("active", "all")

# /admin/<collection> or /admin/<collection>/<id>
_PATH = re.compile(r"/admin/(reports|bans|audit)(?:/([1-9][0-9]{0,17}))?")

Handler = Callable[[lpb.AdminRequest, int | None], Awaitable[lpb.AdminResponse]]


class BadRequest(ValueError):
    """The request is malformed: answered 400 with this message."""


class AdminApi:
    """The moderation API over `moderation`, protected by `token` ("" turns
    it off); `store` tells whether an account to ban exists."""

    def __init__(self, moderation: Moderation, token: str, store: Store) -> None:
        self.moderation = moderation
        self._token = hashlib.sha256(token.encode()).digest() if token else None
        self.store = store
        # (collection, with an id) -> method -> handler
        self._routes: dict[tuple[str, bool], dict[str, Handler]] = {
            ("reports", False): {"GET": self._reports},
            ("reports", True): {"POST": self._decide},
            ("bans", False): {"GET": self._bans, "POST": self._ban},
            ("bans", True): {"DELETE": self._lift},
            ("audit", False): {"GET": self._audit},
        }

    def routes(self) -> list[web.RouteDef]:
        """The API on an operations listener (aiohttp)."""
        return admin_routes(self.answer)

    async def Admin(
        self, request: lpb.AdminRequest, context: grpc.aio.ServicerContext
    ) -> lpb.AdminResponse:
        """Logic.Admin: a request a broker's operations listener forwards."""
        return await self.answer(request)

    async def answer(self, request: lpb.AdminRequest) -> lpb.AdminResponse:
        """The answer to one request; never raises (a failure is a logged 500)."""
        if self._token is None:
            return error_response(404, "not found: the moderation API is off (--admin-token)")
        if not self._authorized(request.authorization):
            return error_response(401, "a valid token is required: Authorization: Bearer TOKEN")
        found = _PATH.fullmatch(request.path)
        if found is None:
            return error_response(404, "not found")
        methods = self._routes.get((found[1], found[2] is not None))
        if methods is None:
            return error_response(404, "not found")
        handler = methods.get(request.method)
        if handler is None:
            allowed = ", ".join(methods)
            return error_response(405, f"{request.method} is not allowed here (only {allowed})")
        try:
            return await handler(request, None if found[2] is None else int(found[2]))
        except BadRequest as exc:
            return error_response(400, str(exc))
        except Exception as exc:
            event(
                log,
                "admin request failed",
                logging.ERROR,
                method=request.method,
                path=request.path,
                error=repr(exc),
            )
            return error_response(500, "internal error (logged); retry")

    def _authorized(self, authorization: str) -> bool:
        scheme, _, given = authorization.strip().partition(" ")
        # Digests of equal length: the comparison tells nothing about the token.
        digest = hashlib.sha256(given.strip().encode()).digest()
        ok = hmac.compare_digest(digest, self._token or b"")  # None: answered 404 before
        return ok and scheme.lower() == "bearer"

    # --- reports ---
    async def _reports(self, request: lpb.AdminRequest, _: int | None) -> lpb.AdminResponse:
        query = _query(request.query)
        status = _choice(query, "status", REPORT_FILTERS, "open")
        found = await self.moderation.reports(None if status == "all" else status, _limit(query))
        return json_response(200, {"reports": [r.as_dict() for r in found]})

    async def _decide(self, request: lpb.AdminRequest, report_id: int | None) -> lpb.AdminResponse:
        body = _object(request.body, required=("status",), optional=("note",))
        status = body["status"]
        if not isinstance(status, str) or status not in DECISIONS:
            raise BadRequest(f"status is one of {', '.join(DECISIONS)}")
        note = _text(body, "note", required=False)
        report = await self.moderation.decide(_id(report_id), status, note)
        if report is None:
            return error_response(404, f"no report {report_id}")
        return json_response(200, report.as_dict())

    # --- bans ---
    async def _bans(self, request: lpb.AdminRequest, _: int | None) -> lpb.AdminResponse:
        status = _choice(_query(request.query), "status", BAN_FILTERS, "active")
        found = await self.moderation.bans(active=status == "active")
        return json_response(200, {"bans": [b.as_dict() for b in found]})

    async def _ban(self, request: lpb.AdminRequest, _: int | None) -> lpb.AdminResponse:
        body = _object(
            request.body,
            required=("reason",),
            optional=("accountId", "address", "durationSeconds", "kind"),
        )
        account_id, address = body.get("accountId"), body.get("address")
        if (account_id is None) == (address is None):
            raise BadRequest("give exactly one of accountId and address")
        if account_id is not None and not (_is_int(account_id) and 0 < account_id < 1 << 63):
            raise BadRequest("accountId is a positive integer")
        network = None if address is None else _address(address)
        kind = body.get("kind", "ban")
        if kind not in BAN_KINDS:
            raise BadRequest(f"kind is one of {', '.join(BAN_KINDS)}")
        reason = _text(body, "reason", required=True)
        duration = _duration(body.get("durationSeconds"))
        if account_id is not None and await self.store.get_account(account_id) is None:
            return error_response(404, f"no account {account_id}")
        ban = await self.moderation.ban(kind, account_id, network, reason or "", duration)
        return json_response(201, ban.as_dict())

    async def _lift(self, _: lpb.AdminRequest, ban_id: int | None) -> lpb.AdminResponse:
        if await self.moderation.lift(_id(ban_id)) is None:
            return error_response(404, f"no ban {ban_id} in force or expired (lifted already?)")
        return json_response(204)

    # --- audit ---
    async def _audit(self, request: lpb.AdminRequest, _: int | None) -> lpb.AdminResponse:
        entries = await self.moderation.audit_log(_limit(_query(request.query)))
        return json_response(200, {"actions": [e.as_dict() for e in entries]})


# --- reading requests ---
def _query(text: str) -> dict[str, str]:
    """The query's parameters, the last value of each."""
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _choice(query: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = query.get(name, default)
    if value not in allowed:
        raise BadRequest(f"{name} is one of {', '.join(allowed)}")
    return value


def _limit(query: dict[str, str]) -> int:
    raw = query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit is an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _id(value: int | None) -> int:
    if value is None:  # the routes with an id always have one: for the type checker
        raise BadRequest("an id is required")
    return value


def _object(body: bytes, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    """The body's JSON object, with every required field and no unknown one;
    a field that is null counts as absent."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise BadRequest("the body is a JSON object")
    unknown = sorted(set(parsed) - {*required, *optional})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}")
    fields = {key: value for key, value in parsed.items() if value is not None}
    missing = [name for name in required if name not in fields]
    if missing:
        raise BadRequest(f"{missing[0]} is required")
    return fields


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(body: dict[str, Any], name: str, required: bool) -> str | None:
    """A field of text, stripped: at most MAX_TEXT characters, not blank if required."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequest(f"{name} is text of at most {MAX_TEXT} characters")
    text = value.strip()
    if required and not text:
        raise BadRequest(f"{name} is required")
    return text or None


def _address(value: object) -> str:
    """An IP address or CIDR network, normalized."""
    if not isinstance(value, str):
        raise BadRequest("address is an IP address or a CIDR network, as text")
    try:
        return normalize_network(value)
    except ValueError:
        raise BadRequest(
            f"address {value!r} is not an IP address or a CIDR network without host bits"
        ) from None


def _duration(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_DURATION
    ):
        raise BadRequest(
            f"durationSeconds is a number of seconds above 0 and at most {MAX_DURATION:.0f} "
            "(leave it out for good)"
        )
    return float(value)
