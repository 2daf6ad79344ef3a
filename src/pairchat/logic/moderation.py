"""The logic process's moderation: which accounts and addresses are banned or
suspended now, the automatic suspension of an account many others report,
and the moderators' operations (served by admin_http.py), each audited.

Bans live in the store (`Safety`), shared by every logic process. Each process
keeps the active ones in memory, reloaded every `refresh` seconds, so that
`refusal`, called on every request, reads no store and a ban made through any
process applies everywhere within a refresh (through this one, at once).
Addresses are looked up through an index by prefix length (one dictionary
probe per length in use, never a scan of every network), and each address's
bans are cached until the network bans change.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeAlias

from pairchat.addresses import Network, client_ip
from pairchat.obs import event
from pairchat.storage.safety import AuditEntry, Ban, Report, Safety

log = logging.getLogger("pairchat.logic")

REPORT_WINDOW_MS = 24 * 3600 * 1000  # reports counted toward an automatic suspension
MAX_DURATION = 100 * 365 * 86400.0  # seconds: a longer ban is one for good
ADDRESS_CACHE = 65536  # addresses whose bans are cached; past it the cache starts over
DECISIONS = {"resolved": "resolve", "dismissed": "dismiss"}  # report status -> audit action

# IP version -> prefix length -> network -> its active bans
_NetworkIndex: TypeAlias = dict[int, dict[int, dict[Network, list[Ban]]]]


def now_ms() -> int:
    return int(time.time() * 1000)


def target_of(ban: Ban) -> str:
    """What a ban is of, as the audit log names it: 'account 42', 'address 10.0.0.0/8'."""
    return f"account {ban.account_id}" if ban.network is None else f"address {ban.network}"


def refusal_message(ban: Ban) -> str:
    """What a refused client reads (code 10): 'banned until 2026-12-03 10:00
    UTC: spam', 'suspended until a moderator decides: reported by 3
    accounts', 'banned: spam'. The minute shown is never before the end."""
    verb = "banned" if ban.kind == "ban" else "suspended"
    if ban.until is not None:
        minute = math.ceil(ban.until / 60_000) * 60
        when = " until " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(minute))
    else:
        when = "" if ban.kind == "ban" else " until a moderator decides"
    return f"{verb}{when}: {ban.reason}"


def _longest(bans: Iterable[Ban], at_ms: int) -> Ban | None:
    """Of the bans active at at_ms, the one that lasts longest (for good
    first; a ban before a suspension of the same end)."""
    active = [b for b in bans if b.until is None or b.until > at_ms]
    if not active:
        return None
    return max(active, key=lambda b: (b.until is None, b.until or 0, b.kind == "ban"))


class Moderation:
    """Bans as every request sees them, automatic suspension, and the
    moderators' operations.

    Args:
        safety: the store's moderation data.
        report_threshold: distinct accounts whose reports (not dismissed)
            within 24 h suspend an account until a moderator decides; 0: never.
        end_sessions: ends every open session of an account, with a reason
            (its partners get PartnerExit); awaited when an account is banned
            or suspended.
        refresh: seconds between two loads of the active bans.
    """

    def __init__(
        self,
        safety: Safety,
        report_threshold: int,
        end_sessions: Callable[[int, str], Awaitable[None]],
        refresh: float = 0.5,
    ) -> None:
        self.safety = safety
        self.report_threshold = report_threshold
        self.end_sessions = end_sessions
        self.refresh = refresh
        self._active: dict[int, Ban] = {}  # by ban id
        self._accounts: dict[int, list[Ban]] = {}
        self._networks: _NetworkIndex = {}
        self._network_ids: frozenset[int] = frozenset()
        self._by_address: dict[str, list[Ban]] = {}
        self._changes = 0  # bumped by every change made here, which a load must not undo
        self._suspending: set[int] = set()  # accounts whose automatic suspension is under way
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ---
    async def start(self) -> None:
        """Load the active bans, then reload them every `refresh` seconds (a
        reload that fails keeps the bans loaded last). The first load's failure
        is the store's error, raised."""
        await self._load()
        self._task = asyncio.create_task(self._reload())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- every request ---
    def refusal(self, account_id: int, address: str) -> str | None:
        """Why a request of this account from this address is refused (code
        10), or None: the account, or a network holding the address, is banned
        or suspended now. Reads memory only."""
        bans = self._accounts.get(account_id)
        if bans:
            ban = _longest(bans, now_ms())
            if ban is not None:
                return refusal_message(ban)
        return self.address_refusal(address)

    def address_refusal(self, address: str) -> str | None:
        """Why a request from this address is refused (code 10; CRT_ACCOUNT,
        RECONNECT), or None. Reads memory only."""
        bans = self._by_address.get(address)
        if bans is None:
            if len(self._by_address) >= ADDRESS_CACHE:
                self._by_address.clear()
            bans = self._by_address[address] = self._bans_of_address(address)
        if not bans:
            return None
        ban = _longest(bans, now_ms())
        return None if ban is None else refusal_message(ban)

    # --- reports ---
    async def reported(self, reported_id: int, now_ms: int) -> None:
        """After a report against reported_id was stored: suspend the account
        until a moderator decides if `report_threshold` distinct accounts
        reported it within 24 h (dismissed reports do not count) and it is not
        banned or suspended already; its sessions end. Never raises: the report
        is stored whatever happens here, and a failure is logged."""
        if self.report_threshold <= 0 or reported_id in self._suspending:
            return
        self._suspending.add(reported_id)
        try:
            reporters = await self.safety.distinct_reporters(
                reported_id, now_ms - REPORT_WINDOW_MS, include_dismissed=False
            )
            if reporters < self.report_threshold:
                return
            active = await self.safety.bans(now_ms)
            if any(ban.account_id == reported_id for ban in active):
                return
            reason = f"reported by {reporters} accounts"
            ban = await self.safety.add_ban("suspension", reported_id, None, reason, None, now_ms)
            await self.safety.audit("auto-suspend", target_of(ban), reason, now_ms)
            self._apply(ban)
            event(log, "account suspended", account=reported_id, ban=ban.id, reporters=reporters)
            await self._end_sessions(reported_id, reason)
        except Exception as exc:  # the next report counts again
            event(log, "suspension failed", logging.ERROR, account=reported_id, error=repr(exc))
        finally:
            self._suspending.discard(reported_id)

    async def reports(self, status: str | None, limit: int) -> list[Report]:
        """Reports of `status` (None: all), newest first, with their evidence.

        Raises:
            ValueError: an unknown status or a negative limit.
        """
        return await self.safety.reports(status, limit)

    async def decide(self, report_id: int, status: str, note: str | None) -> Report | None:
        """A moderator's decision on a report: 'resolved' or 'dismissed', with
        a note; audited. None for an unknown report.

        Raises:
            ValueError: another status.
        """
        action = DECISIONS.get(status)
        if action is None:
            raise ValueError(f"a decision is one of {tuple(DECISIONS)}, got {status!r}")
        at = now_ms()
        report = await self.safety.set_report_status(report_id, status, note, at)
        if report is not None:
            await self.safety.audit(action, f"report {report_id}", note, at)
            event(log, "report decided", report=report_id, status=status)
        return report

    # --- bans ---
    async def ban(
        self,
        kind: str,
        account_id: int | None,
        address: str | None,
        reason: str,
        duration_s: float | None,
    ) -> Ban:
        """Ban or suspend (kind 'ban' or 'suspension') an account or an address
        (IP or CIDR) for `duration_s` seconds (None: for good); audited, and in
        force in this process at once. An account's earlier suspensions are
        lifted (the moderator decided) and its sessions end.

        Raises:
            ValueError: an unknown kind, not exactly one of account_id and
                address, a malformed address, or a duration not above 0 or
                above MAX_DURATION.
        """
        if duration_s is not None and not 0 < duration_s <= MAX_DURATION:
            raise ValueError(
                f"a duration is above 0 and at most {MAX_DURATION:.0f} seconds, got {duration_s}"
            )
        at = now_ms()
        until = None if duration_s is None else at + math.ceil(duration_s * 1000)
        superseded = [
            b
            for b in await self.safety.bans(at)
            if account_id is not None and b.account_id == account_id and b.kind == "suspension"
        ]
        ban = await self.safety.add_ban(kind, account_id, address, reason, until, at)
        await self.safety.audit("ban" if kind == "ban" else "suspend", target_of(ban), reason, at)
        self._apply(ban)
        event(log, "banned", ban=ban.id, kind=kind, target=target_of(ban), until=until)
        for old in superseded:
            if await self.safety.lift_ban(old.id, at):
                await self.safety.audit("lift", target_of(old), f"replaced by {kind} {ban.id}", at)
                self._forget(old.id)
        if account_id is not None:
            await self._end_sessions(account_id, reason)
        return ban

    async def bans(self, active: bool) -> list[Ban]:
        """Newest first: the bans in force now, or all of them (lifted and
        expired too)."""
        return await self.safety.bans(now_ms() if active else None)

    async def lift(self, ban_id: int) -> Ban | None:
        """Lift a ban or suspension that is not lifted yet (expired or not);
        audited, and out of force in this process at once. Returns it as it
        was; None if it is unknown or lifted already."""
        found = next((b for b in await self.safety.bans(None) if b.id == ban_id), None)
        if found is None or found.lifted_at is not None:
            return None
        at = now_ms()
        if not await self.safety.lift_ban(ban_id, at):
            return None  # lifted meanwhile by another moderator
        await self.safety.audit("lift", target_of(found), f"{found.kind} {ban_id}", at)
        self._forget(ban_id)
        event(log, "ban lifted", ban=ban_id, target=target_of(found))
        return found

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        """The latest `limit` moderation actions, newest first.

        Raises:
            ValueError: a negative limit.
        """
        return await self.safety.audit_log(limit)

    # --- the cache ---
    async def _reload(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.refresh)
            try:
                await self._load()
            except Exception as exc:  # the store recovers by itself; keep the last bans
                if not failing:
                    event(log, "loading bans failed", logging.WARNING, error=repr(exc))
                failing = True
            else:
                failing = False

    async def _load(self) -> None:
        changes = self._changes
        bans = await self.safety.bans(now_ms())
        if changes == self._changes:  # else a change made meanwhile is newer: next time
            self._install(bans)

    def _apply(self, ban: Ban) -> None:
        self._changes += 1
        self._install([*self._active.values(), ban])

    def _forget(self, ban_id: int) -> None:
        self._changes += 1
        self._install(b for b in self._active.values() if b.id != ban_id)

    def _install(self, bans: Iterable[Ban]) -> None:
        """Make `bans` the active ones, indexed by account and by network; the
        addresses' answers are forgotten when the network bans changed."""
        self._active = {b.id: b for b in bans}
        accounts: dict[int, list[Ban]] = {}
        for ban in self._active.values():
            if ban.account_id is not None:
                accounts.setdefault(ban.account_id, []).append(ban)
        self._accounts = accounts
        network_ids = frozenset(b.id for b in self._active.values() if b.network is not None)
        if network_ids == self._network_ids:
            return
        networks: _NetworkIndex = {}
        for ban in self._active.values():
            if ban.network is not None:
                net = ipaddress.ip_network(ban.network)
                by_length = networks.setdefault(net.version, {}).setdefault(net.prefixlen, {})
                by_length.setdefault(net, []).append(ban)
        self._networks, self._network_ids = networks, network_ids
        self._by_address = {}

    def _bans_of_address(self, address: str) -> list[Ban]:
        ip = client_ip(address)
        if ip is None:
            return []
        found: list[Ban] = []
        for length, nets in self._networks.get(ip.version, {}).items():
            found += nets.get(ipaddress.ip_network((ip, length), strict=False), [])
        return found

    async def _end_sessions(self, account_id: int, reason: str) -> None:
        """End the account's sessions; a failure is logged, the ban holds."""
        try:
            await self.end_sessions(account_id, reason)
        except Exception as exc:
            event(log, "ending sessions failed", logging.ERROR, account=account_id, error=repr(exc))
