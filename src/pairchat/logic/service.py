"""The use cases of the protocol, independent of gRPC and of the backends.

Each method takes the account bound to the calling connection and either
returns a result or raises `ProtocolError` with the protocol's code. Shared
state lives behind the routing interfaces (memory in the embedded mode, Redis
when scaled), durable state in the `Store`; this process keeps only caches that
stay true: which connections it bound (a broker's calls all come through one
logic), session membership (never changes), nicknames (never change).
The hot paths (DIALOGUE and acknowledgements) are plain functions over
those caches, so a batch from a broker costs no task per message; a cache miss
raises `NotCached` and the servicer takes the slow path (`load_session`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from pairchat.logic.commit import Done, GroupCommit
from pairchat.logic.config import LogicConfig
from pairchat.logic.content_filter import ContentFilter
from pairchat.logic.moderation import Moderation
from pairchat.logic.rate_limits import RateLimits
from pairchat.logic.retention import RetentionJob
from pairchat.obs import MATCH_QUEUE, ONLINE, SESSIONS_OPEN, event
from pairchat.protocol import Code, ProtocolError, encode_push_dialogue
from pairchat.storage.brokers import Brokers
from pairchat.storage.inbox import Close, Entry, Inbox, Push, Replay, signal_frame
from pairchat.storage.leases import Leases
from pairchat.storage.limits import Limits
from pairchat.storage.records import NewMessage, Route, SessionRecord, Signal, StoredMessage
from pairchat.storage.routing import Routing
from pairchat.storage.store import Store
from pairchat.storage.timers import Timers

log = logging.getLogger("pairchat.logic")

DURABLE_SIGNALS = frozenset({"NewSession", "PartnerExit", "ViewedAck"})
SWEEP_INTERVAL = 0.2  # seconds between checks of grace deadlines and broker liveness
BROKER_TTL = 5.0  # a broker not renewed for this long is gone
NOTIFY_WAIT = 5.0  # how long a MATCH taken at its deadline waits for its result
RECENT_PUSHES = 65536  # pushes remembered as queued, so a repeated requestId is not re-pushed


@dataclass(frozen=True, slots=True)
class Bound:
    account_id: int
    nick: str
    token: str = ""
    sessions: tuple[tuple[int, int, str], ...] = ()  # (sessionId, partnerId, partnerName)
    available: bool = True  # others' MATCH may pick the account (RECONNECT says)


class Matched(msgspec.Struct, frozen=True):
    session_id: int
    partner_id: int
    partner_name: str
    common: tuple[str, ...] = ()  # the interests both named
    online: int = 0  # accounts online when it was made


class NoPartner(ProtocolError):
    """MATCH found nobody (code 4); its answer says how many are online."""

    def __init__(self, msg: str, online: int) -> None:
        super().__init__(Code.NOT_FOUND, msg)
        self.online = online


@dataclass(slots=True)
class _Waiter:
    """A MATCH of this process waiting in the match queue."""

    account_id: int
    route: Route
    future: asyncio.Future[Matched]
    cancelled: bool = False


SESSION_ENDED = "session has ended"
BEYOND_LAST = "msgId is beyond the session's last message"
NOT_A_MEMBER = "not a member of this session"  # also for a session that does not exist
NOBODY = "no partner available"
CANCELLED = "search cancelled"
PARTNER_ATTEMPTS = 3  # partners tried when the one picked turns out banned
STORE_FAILED = "could not store the message, retry"
BACKLOG_FULL = "your partner has too many unread messages; wait until they read some"


class NotCached(Exception):
    """The session is not in this process's cache: take the slow path."""


class Backlogged(Exception):
    """The recipient may have `--max-unacked` messages unacknowledged: only the
    store can tell (`check_backlog`)."""


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def now_ms() -> int:
    return int(time.time() * 1000)


_matched_codec = (msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(Matched))


class LogicService:
    def __init__(
        self,
        store: Store,
        routing: Routing,
        timers: Timers,
        inbox: Inbox,
        brokers: Brokers,
        limits: Limits,
        leases: Leases,
        config: LogicConfig,
    ) -> None:
        self.store = store
        self.routing = routing
        self.timers = timers
        self.inbox = inbox
        self.brokers = brokers
        self.config = config
        self.content_filter = ContentFilter.load(config.blocklist)
        self.limits = RateLimits(limits, config)
        self.commit = GroupCommit(store, self._committed)
        # This process among the logic processes of a deployment: what it holds
        # (brokers it renews, the purge lease) is held under this name.
        self.holder = secrets.token_hex(8)
        self.retention = RetentionJob(store, leases, config.retention_days, holder=self.holder)
        self._bound: dict[Route, int] = {}  # connections bound through this process
        self._route_of: dict[int, Route] = {}  # the same, by account
        self._sessions: dict[int, SessionRecord] = {}  # sessions seen open; closed=True once ended
        self._nicks: dict[int, str] = {}
        # Highest msgId known stored, per cached session: may lag behind the store
        # (another logic process stored more), never ahead of it.
        self._last_msg_ids: dict[int, int] = {}
        # Acknowledged msgId per (cached session, member): may lag behind the
        # store (acks through other logic processes), never ahead of it.
        self._acked: dict[tuple[int, int], int] = {}
        self._recently_queued: OrderedDict[tuple[int, int], None] = OrderedDict()  # oldest first
        self._waiters: dict[str, _Waiter] = {}
        self._addresses: dict[int, str] = {}  # client address of accounts bound here
        self.moderation = Moderation(store.safety, config.report_threshold, self.end_sessions_of)
        self._my_brokers: dict[str, str] = {}  # brokers streaming to this process -> push target
        self._tasks: set[asyncio.Task[Any]] = set()
        routing.on_notify(self._on_notify)

    # --- lifecycle ---
    async def start(self) -> None:
        """The first logic on fresh routing state loads open sessions and starts
        every account's grace period, so clients of a restarted system can
        RECONNECT; later ones find that done."""
        if await self.routing.claim_load():
            snap = await self.store.snapshot()
            for session in snap.sessions:
                await self.routing.add_session(session)
            due = time.time() + self.config.offline_grace
            for account in snap.accounts:
                self._nicks[account.id] = account.nick
                await self.timers.set(account.id, due)
            SESSIONS_OPEN.set(len(snap.sessions))
            event(log, "state loaded", accounts=len(snap.accounts), sessions=len(snap.sessions))
            await self.routing.load_blocks(await self.store.safety.all_blocks())
        await self.moderation.start()
        self._spawn(self.commit.run())
        self._spawn(self._sweep())
        self._spawn(self.retention.run())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.moderation.stop()
        await self.retention.release()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep(self) -> None:
        """Grace deadlines, broker liveness and gauges, a few times a second."""
        renewed = 0.0
        # Brokers are declared dead only by a process that has itself renewed
        # liveness for a whole TTL: after an outage of the engine every process
        # first gets the chance to renew its own brokers.
        healthy_since = time.time()
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                now = time.time()
                for account_id in await self.timers.take_due(now):
                    self._spawn(self._grace_expired(account_id))
                if now - renewed >= BROKER_TTL / 5:
                    for broker_id, target in list(self._my_brokers.items()):
                        if not await self.brokers.alive(broker_id, target, BROKER_TTL, self.holder):
                            # It moved to another logic process while this one
                            # stalled: that one renews it now.
                            self._my_brokers.pop(broker_id, None)
                            event(log, "broker taken over", logging.WARNING, broker=broker_id)
                    renewed = now
                if time.time() - now > BROKER_TTL / 5:
                    # The engine answered slowly (paused, failing over): other
                    # processes may not have renewed their brokers meanwhile.
                    healthy_since = time.time()
                elif time.time() - healthy_since >= BROKER_TTL:
                    for broker_id in await self.brokers.expired():
                        await self.broker_gone(broker_id)
                ONLINE.set(await self.routing.online_count())
                MATCH_QUEUE.set(await self.routing.waiting_count())
            except Exception as exc:  # the backends recover by themselves; keep sweeping
                event(log, "sweep failed", logging.ERROR, error=repr(exc))
                healthy_since = time.time() + SWEEP_INTERVAL

    # --- brokers ---
    async def broker_connected(self, broker_id: str, push_target: str) -> None:
        """A broker said hello on a stream to this process. Routes to that id are
        from an earlier stream, whose broker closed all its clients."""
        await self.broker_gone(broker_id)
        self._my_brokers[broker_id] = push_target
        await self.brokers.alive(broker_id, push_target, BROKER_TTL, self.holder, take=True)

    async def broker_disconnected(self, broker_id: str) -> None:
        """The broker's stream to this process ended: the connections bound
        through it are closed. Only those: a broker that failed over (this
        process stalled) has connections bound through another logic process by
        now, which stay; and it stays registered, since that process renews it.
        A broker that this process still held is forgotten at once, so that no
        worker pushes to its old address (a broker restarted under the same id
        says hello with a new one)."""
        self._my_brokers.pop(broker_id, None)
        await self.brokers.gone(broker_id, self.holder)
        mine = [(r, a) for r, a in self._bound.items() if r.broker_id == broker_id]
        for route, account_id in mine:
            await self.connection_closed(account_id, route)

    async def broker_gone(self, broker_id: str) -> None:
        routed = await self.routing.routed_to(broker_id)
        for account_id, route in routed:
            await self.connection_closed(account_id, route)
        for route in [r for r in self._bound if r.broker_id == broker_id]:
            self._unbind_local(route)
        if routed:
            event(log, "broker gone", broker=broker_id, accounts=len(routed))

    # --- accounts ---
    def _check_bound(self, account_id: int, route: Route) -> None:
        """The connection is bound to the account, and moderation lets it act."""
        if account_id == 0 or self._bound.get(route) != account_id:
            raise ProtocolError(Code.UNAUTHORIZED, "not logged in")
        refusal = self.moderation.refusal(account_id, self._addresses.get(account_id, ""))
        if refusal is not None:
            raise ProtocolError(Code.BANNED, refusal)

    def _check_address(self, address: str) -> None:
        refusal = self.moderation.address_refusal(address)
        if refusal is not None:
            raise ProtocolError(Code.BANNED, refusal)

    async def create_account(self, route: Route, nick: str, address: str = "") -> Bound:
        """Create an account bound to `route`; `address` is the client's, for
        the per-address limit (code 8 over it, nothing created) and bans
        (code 10)."""
        self._check_address(address)
        await self.limits.create_account(address)
        token = secrets.token_urlsafe(32)
        account_id = await self.store.create_account(nick, hash_token(token), now_ms())
        self._nicks[account_id] = nick
        self._addresses[account_id] = address
        await self._bind(account_id, route)
        event(log, "account created", logging.DEBUG, account=account_id, broker=route.broker_id)
        self._spawn(self._offer_to_waiters(account_id))
        return Bound(account_id, nick, token=token)

    async def reconnect(
        self, route: Route, account_id: int, token: str, address: str = ""
    ) -> Bound:
        """Bind `route` to an existing account. From an `address` past its
        failed RECONNECTs, code 8 before the token is looked at; a banned
        address or account, code 10."""
        self._check_address(address)
        await self.limits.check_reconnect(address)
        account = await self.store.get_account(account_id)
        if (
            account is None
            or account.logged_out
            or not hmac.compare_digest(account.token_hash, hash_token(token))
        ):
            await self.limits.reconnect_failed(address)
            raise ProtocolError(Code.UNAUTHORIZED, "unknown account or wrong token")
        refusal = self.moderation.refusal(account_id, address)
        if refusal is not None:
            raise ProtocolError(Code.BANNED, refusal)
        self._nicks[account_id] = account.nick
        self._addresses[account_id] = address
        available = await self.store.safety.available(account_id)
        await self.routing.set_available(account_id, available)
        sessions = await self.routing.sessions_of(account_id)
        signals = await self.store.pending_signals(account_id)
        replay = sorted({s.id for s in sessions} | {s.session_id for s in signals})
        # Held back before the route moves, so no push reaches the new connection
        # ahead of the replay that must come first (delivery/worker.py).
        await self.routing.begin_replay(account_id, replay)
        came_back = await self._bind(account_id, route)
        await self.inbox.put(
            [Replay(account_id, s, route.broker_id, route.conn_id) for s in replay]
        )
        if came_back:
            await self._presence_signal(account_id, sessions, "PartnerBack")
        refs = []
        for session in sessions:
            self._sessions[session.id] = session
            partner = session.partner_of(account_id)
            refs.append((session.id, partner, await self._nick(partner)))
        event(
            log,
            "reconnected",
            logging.DEBUG,
            account=account_id,
            broker=route.broker_id,
            sessions=len(refs),
        )
        if available:
            self._spawn(self._offer_to_waiters(account_id))
        return Bound(account_id, account.nick, sessions=tuple(refs), available=available)

    async def replay_more(
        self, account_id: int, route: Route, session_id: int, after_msg_id: int
    ) -> None:
        """The broker wrote a page of the session's replay to the client: queue
        the next page, the partner's messages after `after_msg_id`."""
        if self._bound.get(route) != account_id:
            return  # the connection closed or moved on: its replay ended with it
        await self._stored_session(account_id, session_id)
        entry = Replay(account_id, session_id, route.broker_id, route.conn_id, after_msg_id)
        await self.inbox.put([entry])

    async def _bind(self, account_id: int, route: Route) -> bool:
        """Route the account to `route`; True if it was offline (away) before."""
        await self.timers.cancel(account_id)
        previous = await self.routing.bind(account_id, route)
        old_local = self._route_of.get(account_id)
        if old_local is not None and old_local != route:
            self._unbind_local(old_local)
        self._bound[route] = account_id
        self._route_of[account_id] = route
        if previous is not None and previous != route:
            await self.inbox.put([Close(account_id, 0, previous.broker_id, previous.conn_id)])
        return previous is None

    async def _presence_signal(
        self, account_id: int, sessions: Sequence[SessionRecord], signal_type: str
    ) -> None:
        """Tell the partners of open sessions that the account went away or came
        back (live only: a partner who is away too learns the state from the
        next one)."""
        pushes: list[Entry] = []
        for session in sessions:
            partner = session.partner_of(account_id)
            signal = Signal(partner, session.id, signal_type, account_id, {"accountId": account_id})
            pushes.append(Push(partner, session.id, signal_frame(signal)))
        if pushes:
            await self.inbox.put(pushes)

    def _unbind_local(self, route: Route) -> None:
        account_id = self._bound.pop(route, None)
        if account_id is not None and self._route_of.get(account_id) == route:
            del self._route_of[account_id]

    async def _nick(self, account_id: int) -> str:
        nick = self._nicks.get(account_id)
        if nick is None:
            account = await self.store.get_account(account_id)
            nick = self._nicks[account_id] = account.nick if account else ""
        return nick

    async def logout(self, account_id: int, route: Route) -> None:
        self._check_bound(account_id, route)
        await self._log_out(account_id, reason="logout")

    async def _log_out(self, account_id: int, reason: str) -> None:
        # The token stops working and the account stops being matchable before any
        # partner hears PartnerExit: a partner reacting at once must not find it.
        self._fail_waiters(account_id, "logged out")
        await self.timers.cancel(account_id)
        await self.store.logout_account(account_id, now_ms())
        await self.routing.unbind(account_id)
        for session in await self.routing.sessions_of(account_id):
            await self._end_session(session.id, account_id)
        await self.routing.forget(account_id)
        route = self._route_of.get(account_id)
        if route is not None:
            self._unbind_local(route)
        self._addresses.pop(account_id, None)
        event(log, "logged out", logging.DEBUG, account=account_id, reason=reason)

    # --- presence ---
    async def connection_closed(self, account_id: int, route: Route) -> None:
        """A connection closed without LOGOUT: the grace period starts."""
        self._unbind_local(route)
        if not await self.routing.unbind(account_id, route):
            return
        self._fail_waiters(account_id, "disconnected")
        await self.timers.set(account_id, time.time() + self.config.offline_grace)
        event(log, "offline", logging.DEBUG, account=account_id, grace=self.config.offline_grace)
        sessions = await self.routing.sessions_of(account_id)
        await self._presence_signal(account_id, sessions, "PartnerAway")

    async def _grace_expired(self, account_id: int) -> None:
        [route] = await self.routing.routes([account_id])
        if route is None:
            event(log, "grace expired", logging.DEBUG, account=account_id)
            await self._log_out(account_id, reason="grace expired")

    # --- match ---
    async def match(self, account_id: int, route: Route, interests: Sequence[str] = ()) -> Matched:
        """A partner now, or the first that comes within the match wait.

        With `interests`, only someone sharing one is taken during the interest
        wait; then the ordinary rules apply, those sharing the most still first.
        CANCEL_MATCH ends the wait at once (code 4)."""
        self._check_bound(account_id, route)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.match_wait
        strict = bool(interests) and self.config.interest_wait > 0
        # Known before the first await, so that a CANCEL_MATCH right behind it
        # (handled while this one waits for the engine) finds it.
        token = self.routing.make_token()
        waiter = _Waiter(account_id, route, loop.create_future())
        self._waiters[token] = waiter
        try:
            if len(await self.routing.sessions_of(account_id)) >= self.config.max_sessions:
                raise ProtocolError(
                    Code.RATE_LIMITED, f"at most {self.config.max_sessions} open sessions"
                )
            await self.limits.match(account_id)  # stops MATCH/LEAVE cycling through everyone
            found = await self._match_now(account_id, interests, strict)
            if found is not None:
                return found
            if waiter.cancelled:
                raise NoPartner(CANCELLED, await self.routing.online_count())
            await self.routing.wait(account_id, token, interests, strict)
            if waiter.cancelled and not waiter.future.done():
                # cancelled while it was being queued: out again, unless taken
                if await self.routing.stop_waiting(account_id, token):
                    raise NoPartner(CANCELLED, await self.routing.online_count())
                return await asyncio.wait_for(waiter.future, NOTIFY_WAIT)
            if strict:
                phase = min(self.config.interest_wait, self.config.match_wait)
                try:
                    return await asyncio.wait_for(asyncio.shield(waiter.future), phase)
                except TimeoutError:
                    pass
                # Nobody shared an interest: the ordinary rules from now on. The
                # entry stays queued meanwhile, so nobody misses it.
                if not await self.routing.relax(account_id, token):
                    return await asyncio.wait_for(waiter.future, NOTIFY_WAIT)  # taken
                if waiter.future.done():  # cancelled meanwhile (raises its code 4)
                    return waiter.future.result()
                found = await self._match_now(account_id, interests, strict=False)
                if found is not None:
                    # Taken at this very moment by a third as well, it has a
                    # second session: that partner's NewSession tells the client.
                    await self.routing.stop_waiting(account_id, token)
                    return found
            taken = await self._wait_for_partner(
                account_id, token, waiter, max(0.0, deadline - loop.time())
            )
            if taken is not None:
                return taken
            why = CANCELLED if waiter.cancelled else NOBODY
            raise NoPartner(why, await self.routing.online_count())
        finally:
            self._waiters.pop(token, None)

    async def _wait_for_partner(
        self, account_id: int, token: str, waiter: _Waiter, within: float
    ) -> Matched | None:
        """The partner that takes the queued MATCH within `within` seconds, or
        None once it is out of the queue again (a pair that took it at the
        deadline sends its result, which is awaited)."""
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), within)
        except TimeoutError:
            if await self.routing.stop_waiting(account_id, token):
                return None
            return await asyncio.wait_for(waiter.future, NOTIFY_WAIT)

    async def _match_now(
        self, account_id: int, interests: Sequence[str], strict: bool
    ) -> Matched | None:
        """Pair with someone acceptable now, skipping anyone banned meanwhile."""
        for _ in range(PARTNER_ATTEMPTS):
            pairing = await self.routing.pair(
                account_id, self.config.max_sessions, interests=interests, strict=strict
            )
            if pairing is None:
                return None
            if self.moderation.refusal(pairing.partner_id, "") is not None:
                await self.routing.release(account_id, pairing.partner_id)
                continue
            mine, theirs = await self._pair(account_id, pairing.partner_id, pairing.common)
            if pairing.waiter:
                await self.routing.notify(pairing.waiter, _matched_codec[0].encode(theirs))
            return mine
        return None

    async def cancel_match(self, account_id: int, route: Route) -> None:
        """Answer every MATCH of this connection still waiting with code 4 now
        (one a partner took at this very moment is answered with its partner)."""
        self._check_bound(account_id, route)
        for token, waiter in list(self._waiters.items()):
            if waiter.route != route or waiter.future.done():
                continue
            waiter.cancelled = True
            if await self.routing.stop_waiting(account_id, token):
                online = await self.routing.online_count()
                if not waiter.future.done():
                    waiter.future.set_exception(NoPartner(CANCELLED, online))

    async def set_available(self, account_id: int, route: Route, available: bool) -> None:
        """Whether others' MATCH may pick the account while it is not itself
        waiting; kept across RECONNECT (and restarts)."""
        self._check_bound(account_id, route)
        await self.store.safety.set_available(account_id, available)
        await self.routing.set_available(account_id, available)
        if available:
            self._spawn(self._offer_to_waiters(account_id))

    async def _offer_to_waiters(self, account_id: int) -> None:
        """An account came online (or open to new chats): a waiting MATCH may take
        it ("nobody available" must mean nobody came during the whole wait). It
        gets a NewSession push."""
        try:
            if not await self.routing.waiting_count():
                return
            if len(await self.routing.sessions_of(account_id)) >= self.config.max_sessions:
                return
            pairing = await self.routing.pair(
                account_id, self.config.max_sessions, waiters_only=True
            )
            if pairing is None:
                return
            if self.moderation.refusal(pairing.partner_id, "") is not None:
                await self.routing.release(pairing.partner_id, account_id)
                return
            waiter_side, _ = await self._pair(pairing.partner_id, account_id, pairing.common)
            await self.routing.notify(pairing.waiter, _matched_codec[0].encode(waiter_side))
        except Exception as exc:
            event(
                log, "offer to waiters failed", logging.ERROR, account=account_id, error=repr(exc)
            )

    def _on_notify(self, token: str, payload: bytes) -> None:
        waiter = self._waiters.get(token)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(_matched_codec[1].decode(payload))

    def _fail_waiters(self, account_id: int, why: str) -> None:
        for waiter in list(self._waiters.values()):
            if waiter.account_id == account_id and not waiter.future.done():
                waiter.future.set_exception(ProtocolError(Code.NOT_FOUND, why))

    async def _pair(
        self, requester: int, partner: int, common: Sequence[str] = ()
    ) -> tuple[Matched, Matched]:
        """Create the session `Routing.pair` reserved; the partner is told by a
        NewSession push."""
        requester_nick, partner_nick = await self._nick(requester), await self._nick(partner)
        announce: dict[str, Any] = {"accountId": requester, "nickName": requester_nick}
        if common:
            announce["commonInterests"] = list(common)
        try:
            session_id = await self.store.create_session(requester, partner, now_ms(), announce)
        except BaseException:
            await self.routing.release(requester, partner)
            raise
        session = SessionRecord(session_id, (requester, partner))
        await self.routing.add_session(session)
        self._sessions[session_id] = session
        SESSIONS_OPEN.inc()
        # Kept by create_session already: only its push is queued here.
        signal = Signal(partner, session_id, "NewSession", requester, announce)
        await self.inbox.put([Push(partner, session_id, signal_frame(signal))])
        event(
            log,
            "matched",
            logging.DEBUG,
            session=session_id,
            a=requester,
            b=partner,
            common=len(common),
        )
        online = await self.routing.online_count()
        shared = tuple(common)
        return (
            Matched(session_id, partner, partner_nick, shared, online),
            Matched(session_id, requester, requester_nick, shared, online),
        )

    # --- safety ---
    async def report(
        self, account_id: int, route: Route, session_id: int, reason: str, note: str
    ) -> None:
        """Report the partner of a session one is (or was) in: the report keeps
        the session's last messages as evidence, the session ends as LEAVE
        ends it, and the two are never matched again. Again: nothing changes."""
        self._check_bound(account_id, route)
        session = await self._stored_session(account_id, session_id)
        partner = session.partner_of(account_id)
        _, created = await self.store.safety.report(
            session_id, account_id, partner, reason, note or None, now_ms()
        )
        await self.routing.block(account_id, partner)
        if not session.closed:
            await self._end_session(session_id, account_id)
        if created:
            event(
                log,
                "reported",
                logging.DEBUG,
                session=session_id,
                reporter=account_id,
                reported=partner,
            )
            await self.moderation.reported(partner, now_ms())

    async def block(self, account_id: int, route: Route, session_id: int) -> None:
        """End a session one is (or was) in, as LEAVE does, and never be matched
        with that partner again."""
        self._check_bound(account_id, route)
        session = await self._stored_session(account_id, session_id)
        partner = session.partner_of(account_id)
        await self.store.safety.block(account_id, partner, now_ms())
        await self.routing.block(account_id, partner)
        if not session.closed:
            await self._end_session(session_id, account_id)
        event(log, "blocked", logging.DEBUG, session=session_id, account=account_id)

    async def end_sessions_of(self, account_id: int, reason: str) -> None:
        """Moderation banned or suspended the account: its open sessions end
        (partners get PartnerExit), its waiting MATCHes end, and no random MATCH
        picks it any more. Its connections get code 10 from now on."""
        for token, waiter in list(self._waiters.items()):
            if waiter.account_id == account_id:
                await self.routing.stop_waiting(account_id, token)
        self._fail_waiters(account_id, reason)
        await self.routing.set_available(account_id, False)
        for session in await self.routing.sessions_of(account_id):
            await self._end_session(session.id, account_id)
        event(log, "sessions ended by moderation", account=account_id, reason=reason)

    # --- sessions ---
    def _cached_session(self, account_id: int, session_id: int) -> SessionRecord:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotCached
        if account_id not in session.members:
            raise ProtocolError(Code.FORBIDDEN, NOT_A_MEMBER)
        return session

    async def _stored_session(self, account_id: int, session_id: int) -> SessionRecord:
        """The session, open or ended, if the account is a member. Routing, not
        this process's cache, says whether it is open: another logic process may
        have ended it. A session that does not exist is refused like another
        one's (code 6), so that session ids cannot be probed."""
        session = await self.routing.session(session_id)
        if session is None:
            session = await self.store.get_session(session_id)
        if session is None or account_id not in session.members:
            raise ProtocolError(Code.FORBIDDEN, NOT_A_MEMBER)
        if session.closed:
            cached = self._sessions.pop(session_id, None)
            self._forget(session)
            if cached is not None:
                cached.closed = True
        else:
            self._sessions[session_id] = session
        return session

    async def load_session(self, account_id: int, session_id: int) -> None:
        """The slow path of the hot ones: cache an open session the account is a
        member of, or raise the request's error (6, or 7 once it ended)."""
        session = await self._stored_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, SESSION_ENDED)

    async def leave(self, account_id: int, route: Route, session_id: int) -> None:
        self._check_bound(account_id, route)
        session = await self._stored_session(account_id, session_id)
        if session.closed or not await self._end_session(session_id, account_id):
            raise ProtocolError(Code.SESSION_CLOSED, "session already ended")
        event(log, "left", logging.DEBUG, session=session_id, account=account_id)

    async def _end_session(self, session_id: int, leaver: int) -> bool:
        session = await self.routing.end_session(session_id)
        cached = self._sessions.pop(session_id, None)
        if cached is not None:
            self._forget(cached)
            cached.closed = True  # a send already past the cache check fails in the store
        if session is None:
            return False
        SESSIONS_OPEN.dec()
        await self.store.close_session(session_id, leaver, now_ms())
        await self._signal(
            Signal(
                session.partner_of(leaver), session_id, "PartnerExit", leaver, {"accountId": leaver}
            )
        )
        return True

    async def _signal(self, signal: Signal) -> None:
        """Keep a durable signal until acknowledged, then queue its push."""
        if signal.signal_type in DURABLE_SIGNALS:
            await self.store.put_signals([signal])
        await self.inbox.put([Push(signal.receiver_id, signal.session_id, signal_frame(signal))])

    # --- messages (hot path) ---
    def send(
        self,
        account_id: int,
        route: Route,
        session_id: int,
        content: str,
        request_id: str | None,
        done: Done,
        backlog_checked: bool = False,
    ) -> None:
        """Validate, then store through group commit; `done` gets the stored
        message (msgId) after the commit and after its push was queued.
        Raises Backlogged (unless `backlog_checked`) when the caches cannot
        rule out that the partner has `--max-unacked` messages unacknowledged:
        the stored ones count (a batch in flight may pass the limit by itself)."""
        self._check_bound(account_id, route)
        session = self._cached_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, SESSION_ENDED)
        if self.content_filter is not None and (why := self.content_filter.refusal(content)):
            raise ProtocolError(Code.FORBIDDEN, why)
        cap = self.config.max_unacked
        if cap and not backlog_checked:
            partner = session.partner_of(account_id)
            # the stored msgIds after the partner's ack: its backlog and then some
            acked = self._acked.get((session_id, partner), 0)
            if self._last_msg_ids.get(session_id, 0) - acked >= cap:
                raise Backlogged
        self.commit.submit(NewMessage(session_id, account_id, content, request_id), done)

    async def check_backlog(self, account_id: int, session_id: int) -> None:
        """Count the partner's backlog in the store: code 8 at `--max-unacked`."""
        session = self._cached_session(account_id, session_id)
        partner = session.partner_of(account_id)
        acked, backlog = await self.store.backlog(session_id, partner)
        self._note_ack(session_id, partner, acked)
        if backlog >= self.config.max_unacked:
            raise ProtocolError(Code.RATE_LIMITED, BACKLOG_FULL)

    async def _committed(self, stored: list[StoredMessage]) -> None:
        """Queue the pushes of a group commit. A repeated requestId is pushed again
        unless this process queued its push already: the first try may have
        failed to queue it (then the sender got code 2 and retried)."""
        pushes: list[Entry] = []
        queued: list[tuple[int, int]] = []
        now_us = int(time.time() * 1_000_000)
        recent = self._recently_queued
        last_msg_ids = self._last_msg_ids
        for m in stored:
            if m.session_id in self._sessions and m.msg_id > last_msg_ids.get(m.session_id, 0):
                last_msg_ids[m.session_id] = m.msg_id
            key = (m.session_id, m.msg_id)
            if m.duplicate and (key in recent or key in queued):
                continue
            queued.append(key)
            session = self._sessions.get(m.session_id)
            if session is None:  # ended meanwhile, after this message was stored
                session = await self.store.get_session(m.session_id)
                if session is None:
                    continue
            frame = encode_push_dialogue(
                m.sender_id, m.session_id, m.msg_id, m.content, m.created_at
            )
            pushes.append(
                Push(session.partner_of(m.sender_id), m.session_id, frame, m.msg_id, now_us)
            )
        await self.inbox.put(pushes)
        recent.update(dict.fromkeys(queued))
        while len(recent) > RECENT_PUSHES:
            recent.popitem(last=False)

    async def history(
        self, account_id: int, route: Route, session_id: int, after: int, limit: int
    ) -> list[StoredMessage]:
        self._check_bound(account_id, route)
        await self._stored_session(account_id, session_id)  # members only, even once ended
        return await self.store.history(session_id, after, limit)

    async def viewed(self, account_id: int, route: Route, session_id: int, msg_id: int) -> None:
        self._check_bound(account_id, route)
        session = await self._stored_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, SESSION_ENDED)
        await self._check_stored(session_id, msg_id)
        await self._signal(
            Signal(
                session.partner_of(account_id),
                session_id,
                "ViewedAck",
                account_id,
                {"accountId": account_id, "msgId": msg_id},
            )
        )

    async def typing(self, account_id: int, route: Route, session_id: int) -> None:
        self._check_bound(account_id, route)
        session = await self._stored_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, SESSION_ENDED)
        partner = session.partner_of(account_id)
        signal = Signal(partner, session_id, "Typing", account_id, {"accountId": account_id})
        await self.inbox.put([Push(partner, session_id, signal_frame(signal))])

    # --- acknowledgements ---
    def ack_message(self, account_id: int, route: Route, session_id: int, msg_id: int) -> None:
        """Record a PUSH_DIALOGUE ack; written with the next group commit, never
        lowering the mark.
        Raises NotCached for a session not in the cache, or a msgId above the
        cached last one, which only the store can refuse (`ack_message_late`)."""
        self._check_bound(account_id, route)
        self._cached_session(account_id, session_id)
        if msg_id > self._last_msg_ids.get(session_id, 0):
            raise NotCached
        self._queue_ack(account_id, session_id, msg_id)

    async def ack_message_late(
        self, account_id: int, route: Route, session_id: int, msg_id: int
    ) -> None:
        """An ack for a session not cached (another process's, or ended), or
        beyond the cached last msgId."""
        self._check_bound(account_id, route)
        await self._stored_session(account_id, session_id)
        await self._check_stored(session_id, msg_id)
        self._queue_ack(account_id, session_id, msg_id)

    async def _check_stored(self, session_id: int, msg_id: int) -> None:
        """Refuse a msgId the session has not stored yet (code 1): acknowledging
        it would hide the messages still to come. The cache may lag behind the
        store (scaled: other logic processes store too), so only the store refuses."""
        if msg_id <= self._last_msg_ids.get(session_id, 0):
            return
        last = await self.store.last_msg_id(session_id)
        if session_id in self._sessions and last > self._last_msg_ids.get(session_id, 0):
            self._last_msg_ids[session_id] = last
        if msg_id > last:
            raise ProtocolError(Code.PARAM_ERR, BEYOND_LAST)

    def _queue_ack(self, account_id: int, session_id: int, msg_id: int) -> None:
        self.commit.ack(session_id, account_id, msg_id)
        self._note_ack(session_id, account_id, msg_id)

    def _note_ack(self, session_id: int, account_id: int, msg_id: int) -> None:
        if session_id in self._sessions:
            key = (session_id, account_id)
            if msg_id > self._acked.get(key, 0):
                self._acked[key] = msg_id

    def _forget(self, session: SessionRecord) -> None:
        """Drop an ended session's cached marks."""
        self._last_msg_ids.pop(session.id, None)
        for member in session.members:
            self._acked.pop((session.id, member), None)

    async def ack_signal(
        self, account_id: int, route: Route, session_id: int, signal_type: str
    ) -> None:
        self._check_bound(account_id, route)
        await self._stored_session(account_id, session_id)
        if signal_type in DURABLE_SIGNALS:
            await self.store.ack_signal(account_id, session_id, signal_type)
