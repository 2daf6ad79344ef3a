"""The moderation data's interface: reports with their evidence, blocks, bans
and suspensions, the moderators' audit log and each account's availability.

Kept in the durable store's own database: `Store.safety` is the store's
`Safety`, on the same SQLite file (safety_sqlite.py, its writes in the store's
writer process through safety_sqlite_ops.py) or the same PostgreSQL pool
(safety_postgres.py), usable between the store's open() and close(). The
docstrings are the contract; tests/contract/test_safety.py checks both engines
against them. Times are milliseconds since the epoch; ids are never reused.

Retention (`Store.purge`) deletes reports resolved or dismissed before its
cutoff, with their evidence; open reports stay, and so does every account a
remaining report names. Blocks, bans and the audit log are kept (they are
small and safety needs them): a purged account's blocks and bans stay behind,
inert, since its id is never given again; its availability goes with it.

The records carry `as_dict()`: their JSON shape in the Moderation API
(DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pairchat.addresses import normalize_network

REPORT_STATUSES = ("open", "resolved", "dismissed")
BAN_KINDS = ("ban", "suspension")
EVIDENCE_LIMIT = 50  # messages copied into a report (PROTOCOL.md, REPORT)


# --- records ---
@dataclass(frozen=True, slots=True)
class EvidenceMessage:
    """A message of the reported session, copied into the report."""

    msg_id: int
    sender_id: int
    content: str
    created_at: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "msgId": self.msg_id,
            "senderId": self.sender_id,
            "content": self.content,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """A report, its moderation status and its evidence (in msgId order).
    `resolved_at` is set while the status is not 'open'; `resolution_note` is
    the moderator's note of the last status change (`note` stays the
    reporter's)."""

    id: int
    created_at: int
    reporter_id: int
    reported_id: int
    session_id: int
    reason: str
    note: str | None
    status: str
    resolved_at: int | None
    resolution_note: str | None
    evidence: tuple[EvidenceMessage, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "createdAt": self.created_at,
            "reporterId": self.reporter_id,
            "reportedId": self.reported_id,
            "sessionId": self.session_id,
            "reason": self.reason,
            "note": self.note,
            "status": self.status,
            "resolvedAt": self.resolved_at,
            "resolutionNote": self.resolution_note,
            "evidence": [m.as_dict() for m in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Ban:
    """A ban or suspension of one account or of one network (normalized CIDR
    text, a single address as /32 or /128). `until` None: for good."""

    id: int
    kind: str
    account_id: int | None
    network: str | None
    reason: str
    until: int | None
    created_at: int
    lifted_at: int | None

    def as_dict(self) -> dict[str, Any]:
        target: dict[str, Any] = (
            {"accountId": self.account_id} if self.network is None else {"address": self.network}
        )
        return {
            "id": self.id,
            "kind": self.kind,
            **target,
            "reason": self.reason,
            "until": self.until,
            "createdAt": self.created_at,
            "liftedAt": self.lifted_at,
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One moderation action: what was done, to what, and why."""

    at: int
    action: str
    target: str
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "action": self.action, "target": self.target, "reason": self.reason}


# A report's columns, in field order from id to resolution_note.
ReportRow = tuple[int, int, int, int, int, str, str | None, str, int | None, str | None]


def report_of(row: ReportRow, evidence: Iterable[Sequence[Any]]) -> Report:
    """A report from its columns and its evidence's rows (msg_id, sender_id,
    content, created_at), as both engines read them."""
    return Report(*row, tuple(EvidenceMessage(m[0], m[1], m[2], m[3]) for m in evidence))


# --- the checks both engines make before they write ---
def block_pair(a: int, b: int) -> tuple[int, int]:
    """The pair as stored: lower id first.

    Raises:
        ValueError: a and b are the same account.
    """
    if a == b:
        raise ValueError(f"an account cannot block itself ({a})")
    return (a, b) if a < b else (b, a)


def ban_target(kind: str, account_id: int | None, network: str | None) -> str | None:
    """The network to store for `add_ban` (normalized), after checking its arguments.

    Raises:
        ValueError: an unknown kind, not exactly one of account_id and network,
            or a network `normalize_network` refuses.
    """
    if kind not in BAN_KINDS:
        raise ValueError(f"a ban's kind is one of {BAN_KINDS}, got {kind!r}")
    if (account_id is None) == (network is None):
        raise ValueError("a ban names exactly one of an account and a network")
    return None if network is None else normalize_network(network)


def check_status(status: str) -> str:
    """Raises:
    ValueError: not one of REPORT_STATUSES.
    """
    if status not in REPORT_STATUSES:
        raise ValueError(f"a report's status is one of {REPORT_STATUSES}, got {status!r}")
    return status


def check_limit(limit: int) -> int:
    """Raises:
    ValueError: a negative limit.
    """
    if limit < 0:
        raise ValueError(f"a limit cannot be negative, got {limit}")
    return limit


def blocks_by_account(
    account_ids: Iterable[int], pairs: Iterable[tuple[int, int]]
) -> dict[int, set[int]]:
    """`Safety.blocks_of` from the stored pairs that involve any of `account_ids`."""
    found: dict[int, set[int]] = {a: set() for a in account_ids}
    for low, high in pairs:
        if low in found:
            found[low].add(high)
        if high in found:
            found[high].add(low)
    return found


class Safety(Protocol):
    """Durable moderation data. Every method commits before it returns."""

    # --- reports ---
    async def report(
        self,
        session_id: int,
        reporter_id: int,
        reported_id: int,
        reason: str,
        note: str | None,
        now_ms: int,
        evidence_limit: int = EVIDENCE_LIMIT,
    ) -> tuple[Report, bool]:
        """In ONE transaction: store an open report by reporter_id against
        reported_id (both existing accounts; the caller checked that they are
        the session's members), with a copy of the session's last
        `evidence_limit` messages as its evidence, and block the pair (as
        `block`). The copy is the report's own: purging the session's messages
        later leaves it whole. Returns (the report, True).

        The same reporter reporting the same session again changes nothing and
        returns (the report stored first, False).

        Raises:
            ValueError: reporter_id is reported_id, or evidence_limit < 0.
        """
        ...

    async def reports(self, status: str | None, limit: int) -> list[Report]:
        """The reports of `status` (None: all), newest first, at most `limit`,
        each with its evidence.

        Raises:
            ValueError: an unknown status or a negative limit.
        """
        ...

    async def report_by_id(self, report_id: int) -> Report | None: ...

    async def set_report_status(
        self, report_id: int, status: str, note: str | None, now_ms: int
    ) -> Report | None:
        """Set a report's status and moderator's note (`resolution_note`,
        replaced even by None). 'resolved' and 'dismissed' set resolved_at to
        now_ms (the last decision counts for retention); 'open' clears it.
        Returns the report as changed, None for an unknown id.

        Raises:
            ValueError: an unknown status.
        """
        ...

    async def distinct_reporters(
        self, reported_id: int, since_ms: int, *, include_dismissed: bool = True
    ) -> int:
        """How many distinct accounts reported reported_id in reports created at
        or after since_ms, whatever their status, or, without
        `include_dismissed`, in those not dismissed (a moderator found them
        unfounded: they must not suspend the account again)."""
        ...

    # --- blocks ---
    async def block(self, a: int, b: int, now_ms: int) -> None:
        """Block the pair: symmetric (block(a, b) is block(b, a)) and idempotent.

        Raises:
            ValueError: a is b.
        """
        ...

    async def blocked(self, account_id: int) -> set[int]:
        """Every account blocked with account_id, whichever of the two blocked."""
        ...

    async def blocks_of(self, account_ids: Iterable[int]) -> dict[int, set[int]]:
        """`blocked` of many accounts at once: every one of account_ids is a
        key, with an empty set when it has no blocks."""
        ...

    async def all_blocks(self) -> list[tuple[int, int]]:
        """Every blocked pair once, as (lower id, higher id), in order."""
        ...

    # --- bans and suspensions ---
    async def add_ban(
        self,
        kind: str,
        account_id: int | None,
        network: str | None,
        reason: str,
        until_ms: int | None,
        now_ms: int,
    ) -> Ban:
        """Store a ban or suspension (kind 'ban' or 'suspension') of an account
        or of a network (an address or CIDR, stored as `normalize_network`
        gives it), until until_ms (None: for good), and return it.

        Raises:
            ValueError: what `ban_target` refuses.
        """
        ...

    async def lift_ban(self, ban_id: int, now_ms: int) -> bool:
        """Lift a ban at now_ms; False if unknown or lifted already."""
        ...

    async def bans(self, active_at_ms: int | None) -> list[Ban]:
        """Newest first: all of them, lifted and expired too, with None;
        otherwise those active at active_at_ms (not lifted, and until None or
        after active_at_ms)."""
        ...

    # --- audit ---
    async def audit(self, action: str, target: str, reason: str | None, now_ms: int) -> None:
        """Record a moderation action."""
        ...

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        """The latest `limit` actions, newest first.

        Raises:
            ValueError: a negative limit.
        """
        ...

    # --- availability ---
    async def set_available(self, account_id: int, available: bool) -> None:
        """Whether other users' MATCH may pick the account (PROTOCOL.md,
        AVAILABILITY). Idempotent; an account that does not exist is ignored."""
        ...

    async def available(self, account_id: int) -> bool:
        """The account's last `set_available`; True if never set (or unknown)."""
        ...
