"""The use cases of the protocol, independent of gRPC.

Each method takes the account bound to the calling connection (checked against
routing, so a broker cannot act for an account that is bound elsewhere) and
either returns a result or raises `ProtocolError` with the protocol's code.
The hot paths (DIALOGUE and acknowledgements) take callbacks instead of being
coroutines, so a batch from a broker costs no task per message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from pairchat.delivery.entries import Close, Push, Replay
from pairchat.logic.commit import Done, GroupCommit
from pairchat.obs import MATCH_QUEUE, ONLINE, SESSIONS_OPEN, event
from pairchat.protocol import Code, ProtocolError, encode_push_dialogue, encode_push_signal
from pairchat.storage.base import NewMessage, SessionRecord, Signal, Store, StoredMessage
from pairchat.storage.memory import Inbox, MatchQueue, Route, Routing, Waiter

log = logging.getLogger("pairchat.logic")

DURABLE_SIGNALS = frozenset({"NewSession", "PartnerExit", "ViewedAck"})
CLOSED_SESSION_TTL = 60.0  # seconds a closed session stays in routing


@dataclass(frozen=True, slots=True)
class LogicConfig:
    offline_grace: float = 20.0
    match_wait: float = 10.0
    max_sessions: int = 16


@dataclass(frozen=True, slots=True)
class Bound:
    account_id: int
    nick: str
    token: str = ""
    sessions: tuple[tuple[int, int, str], ...] = ()  # (sessionId, partnerId, partnerName)


@dataclass(frozen=True, slots=True)
class Matched:
    session_id: int
    partner_id: int
    partner_name: str


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def now_ms() -> int:
    return int(time.time() * 1000)


class LogicService:
    def __init__(
        self, store: Store, config: LogicConfig, rng: random.Random | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.routing = Routing()
        self.queue = MatchQueue()
        self.inbox = Inbox()
        self.commit = GroupCommit(store, self._committed)
        self._rng = rng or random.SystemRandom()
        self._tokens: dict[int, bytes] = {}
        self._grace: dict[int, asyncio.TimerHandle] = {}
        self._acks: dict[tuple[int, int], int] = {}
        self._acks_ready = asyncio.Event()
        self._replays: dict[int, int] = {}  # account -> Replay entries not yet handled
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ---
    async def start(self) -> None:
        """Load accounts and open sessions; every account starts offline, in its
        grace period, so clients of a restarted system can RECONNECT."""
        snap = await self.store.snapshot()
        for account in snap.accounts:
            self.routing.add_account(account.id, account.nick)
            self._tokens[account.id] = account.token_hash
        for session in snap.sessions:
            self.routing.open_session(session)
        for account in snap.accounts:
            self._start_grace(account.id)
        SESSIONS_OPEN.set(len(snap.sessions))
        self._spawn(self.commit.run())
        self._spawn(self._flush_acks())
        event(log, "state loaded", accounts=len(snap.accounts), sessions=len(snap.sessions))

    async def stop(self) -> None:
        for handle in self._grace.values():
            handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _check_bound(self, account_id: int, route: Route) -> None:
        if account_id == 0 or self.routing.route_of(account_id) != route:
            raise ProtocolError(Code.UNAUTHORIZED, "not logged in")

    def _member_session(self, account_id: int, session_id: int) -> SessionRecord:
        """The session if the account is a member; routing holds every open
        session, so one it lacks is closed or was never there (`_stored_session`)."""
        session = self.routing.sessions.get(session_id)
        if session is None:
            raise NotInRouting
        if account_id not in session.members:
            raise ProtocolError(Code.FORBIDDEN, "not a member of this session")
        return session

    async def _stored_session(self, account_id: int, session_id: int) -> SessionRecord:
        try:
            return self._member_session(account_id, session_id)
        except NotInRouting:
            pass
        session = await self.store.get_session(session_id)
        if session is None:
            raise ProtocolError(Code.NOT_FOUND, "no such session")
        if account_id not in session.members:
            raise ProtocolError(Code.FORBIDDEN, "not a member of this session")
        return session

    async def explain(self, account_id: int, session_id: int, closed_msg: str) -> None:
        """Raise the error for a request on a session routing does not hold."""
        session = await self._stored_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, closed_msg)
        raise ProtocolError(Code.INTERNAL_ERR, "session state is being loaded, retry")

    # --- accounts ---
    async def create_account(self, route: Route, nick: str) -> Bound:
        token = secrets.token_urlsafe(32)
        token_hash = hash_token(token)
        account_id = await self.store.create_account(nick, token_hash, now_ms())
        self._tokens[account_id] = token_hash
        self.routing.add_account(account_id, nick)
        self._bind(account_id, route)
        event(log, "account created", account=account_id, broker=route.broker_id)
        return Bound(account_id, nick, token=token)

    async def reconnect(self, route: Route, account_id: int, token: str) -> Bound:
        expected = self._tokens.get(account_id)
        presence = self.routing.accounts.get(account_id)
        if expected is None or presence is None or not hmac.compare_digest(
            expected, hash_token(token)
        ):
            raise ProtocolError(Code.UNAUTHORIZED, "unknown account or wrong token")
        self._bind(account_id, route)
        self._replays[account_id] = self._replays.get(account_id, 0) + 1
        self.inbox.put(Replay(account_id, route))
        sessions = tuple(
            (sid, partner, self._nick(partner))
            for sid in sorted(presence.sessions)
            for partner in (self.routing.sessions[sid].partner_of(account_id),)
        )
        event(log, "reconnected", account=account_id, broker=route.broker_id,
              sessions=len(sessions))
        return Bound(account_id, presence.nick, sessions=sessions)

    def _bind(self, account_id: int, route: Route) -> None:
        handle = self._grace.pop(account_id, None)
        if handle is not None:
            handle.cancel()
        previous = self.routing.bind(account_id, route)
        if previous is not None and previous != route:
            self.inbox.put(Close(account_id, previous))
        ONLINE.set(self.routing.online_count)

    def _nick(self, account_id: int) -> str:
        presence = self.routing.accounts.get(account_id)
        return presence.nick if presence is not None else ""

    async def logout(self, account_id: int, route: Route) -> None:
        self._check_bound(account_id, route)
        await self._log_out(account_id, reason="logout")

    async def _log_out(self, account_id: int, reason: str) -> None:
        presence = self.routing.accounts.get(account_id)
        if presence is None:
            return
        for waiter in self.queue.drop_account(account_id):
            if not waiter.future.done():
                waiter.future.set_exception(ProtocolError(Code.NOT_FOUND, "logged out"))
        MATCH_QUEUE.set(len(self.queue))
        self._tokens.pop(account_id, None)
        for session_id in sorted(presence.sessions):
            await self._end_session(session_id, account_id)
        await self.store.logout_account(account_id, now_ms())
        self.routing.remove_account(account_id)
        ONLINE.set(self.routing.online_count)
        event(log, "logged out", account=account_id, reason=reason)

    # --- presence ---
    def connection_closed(self, account_id: int, route: Route) -> None:
        """A connection closed without LOGOUT: the grace period starts."""
        if not self.routing.unbind(account_id, route):
            return
        ONLINE.set(self.routing.online_count)
        for waiter in self.queue.drop_account(account_id):
            if not waiter.future.done():
                waiter.future.set_exception(ProtocolError(Code.NOT_FOUND, "disconnected"))
        MATCH_QUEUE.set(len(self.queue))
        self._start_grace(account_id)
        event(log, "offline", account=account_id, grace=self.config.offline_grace)

    def broker_gone(self, broker_id: str) -> None:
        accounts = self.routing.on_broker(broker_id)
        for account_id in accounts:
            route = self.routing.route_of(account_id)
            if route is not None:
                self.connection_closed(account_id, route)
        if accounts:
            event(log, "broker gone", broker=broker_id, accounts=len(accounts))

    def _start_grace(self, account_id: int) -> None:
        loop = asyncio.get_running_loop()
        old = self._grace.pop(account_id, None)
        if old is not None:
            old.cancel()
        self._grace[account_id] = loop.call_later(
            self.config.offline_grace, self._grace_expired, account_id
        )

    def _grace_expired(self, account_id: int) -> None:
        self._grace.pop(account_id, None)
        if self.routing.route_of(account_id) is None and account_id in self.routing.accounts:
            event(log, "grace expired", account=account_id)
            self._spawn(self._log_out(account_id, reason="grace expired"))

    # --- match ---
    async def match(self, account_id: int, route: Route) -> Matched:
        self._check_bound(account_id, route)
        me = self.routing.accounts[account_id]
        if len(me.sessions) + me.reserved >= self.config.max_sessions:
            raise ProtocolError(
                Code.RATE_LIMITED, f"at most {self.config.max_sessions} open sessions"
            )

        def acceptable(other: int) -> bool:
            if other == account_id or other in me.partners:
                return False
            presence = self.routing.accounts.get(other)
            return (
                presence is not None
                and presence.route is not None
                and len(presence.sessions) + presence.reserved < self.config.max_sessions
            )

        waiter = self.queue.take_first(acceptable)
        if waiter is not None:
            MATCH_QUEUE.set(len(self.queue))
            mine, theirs = await self._pair(account_id, waiter.account_id)
            if not waiter.future.done():
                waiter.future.set_result(theirs)
            return mine
        for other in self.routing.random_online(self._rng):
            if acceptable(other):
                mine, _ = await self._pair(account_id, other)
                return mine
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        me_waiting = Waiter(account_id, future)
        self.queue.push(me_waiting)
        MATCH_QUEUE.set(len(self.queue))
        try:
            result = await asyncio.wait_for(asyncio.shield(future), self.config.match_wait)
        except TimeoutError:
            self.queue.remove(me_waiting)
            MATCH_QUEUE.set(len(self.queue))
            if future.done() and not future.cancelled() and future.exception() is None:
                result = future.result()  # paired in the same instant the wait ended
            else:
                future.cancel()
                raise ProtocolError(Code.NOT_FOUND, "no partner available") from None
        assert isinstance(result, Matched)
        return result

    async def _pair(self, requester: int, partner: int) -> tuple[Matched, Matched]:
        """Create a session; the partner is told by a NewSession push. Capacity and
        partnership are reserved before the store write, so concurrent matches
        cannot overbook or pair the same two twice."""
        a, b = self.routing.accounts[requester], self.routing.accounts[partner]
        a.reserved += 1
        b.reserved += 1
        a.partners.add(partner)
        b.partners.add(requester)
        try:
            session_id = await self.store.create_session(requester, partner, now_ms())
        except BaseException:
            a.partners.discard(partner)
            b.partners.discard(requester)
            raise
        finally:
            a.reserved -= 1
            b.reserved -= 1
        self.routing.open_session(SessionRecord(session_id, (requester, partner)))
        SESSIONS_OPEN.inc()
        await self._signal(Signal(
            partner, session_id, "NewSession", requester,
            {"accountId": requester, "nickName": a.nick},
        ))
        event(log, "matched", session=session_id, a=requester, b=partner)
        return Matched(session_id, partner, b.nick), Matched(session_id, requester, a.nick)

    # --- sessions ---
    async def leave(self, account_id: int, route: Route, session_id: int) -> None:
        self._check_bound(account_id, route)
        session = await self._stored_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, "session already ended")
        await self._end_session(session_id, account_id)
        event(log, "left", session=session_id, account=account_id)

    async def _end_session(self, session_id: int, leaver: int) -> None:
        session = self.routing.close_session(session_id)
        if session is None:
            return
        SESSIONS_OPEN.dec()
        await self.store.close_session(session_id, leaver, now_ms())
        # Once the store has it closed, routing need not remember it: requests on it
        # then ask the store (`_stored_session`), and memory stays bounded.
        asyncio.get_running_loop().call_later(
            CLOSED_SESSION_TTL, self.routing.forget_session, session_id
        )
        await self._signal(Signal(
            session.partner_of(leaver), session_id, "PartnerExit", leaver, {"accountId": leaver}
        ))

    async def _signal(self, signal: Signal) -> None:
        """Keep a durable signal until acknowledged, then queue its push."""
        if signal.signal_type in DURABLE_SIGNALS:
            await self.store.put_signals([signal])
        self.inbox.put(Push(signal.receiver_id, signal.session_id, signal_frame(signal)))

    # --- messages (hot path) ---
    def send(
        self, account_id: int, route: Route, session_id: int, content: str,
        request_id: str | None, done: Done,
    ) -> None:
        """Validate, then store through group commit; `done` gets the stored
        message (msgId) after the commit and after its push was queued."""
        self._check_bound(account_id, route)
        session = self._member_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, "session has ended")
        self.commit.submit(NewMessage(session_id, account_id, content, request_id), done)

    def _committed(self, stored: list[StoredMessage]) -> None:
        pushes: list[object] = []
        now_us = int(time.time() * 1_000_000)
        for m in stored:
            session = self.routing.sessions.get(m.session_id)
            if session is None:
                continue
            recipient = session.partner_of(m.sender_id)
            frame = encode_push_dialogue(m.sender_id, m.session_id, m.msg_id, m.content,
                                         m.created_at)
            pushes.append(Push(recipient, m.session_id, frame, now_us))
        self.inbox.put_many(pushes)

    async def history(
        self, account_id: int, route: Route, session_id: int, after: int, limit: int
    ) -> list[StoredMessage]:
        self._check_bound(account_id, route)
        await self._stored_session(account_id, session_id)  # members only, even once closed
        return await self.store.history(session_id, after, limit)

    async def viewed(self, account_id: int, route: Route, session_id: int, msg_id: int) -> None:
        self._check_bound(account_id, route)
        session = await self._stored_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, "session has ended")
        partner = session.partner_of(account_id)
        await self._signal(Signal(
            partner, session_id, "ViewedAck", account_id,
            {"accountId": account_id, "msgId": msg_id},
        ))

    def typing(self, account_id: int, route: Route, session_id: int) -> None:
        self._check_bound(account_id, route)
        session = self._member_session(account_id, session_id)
        if session.closed:
            raise ProtocolError(Code.SESSION_CLOSED, "session has ended")
        partner = session.partner_of(account_id)
        signal = Signal(partner, session_id, "Typing", account_id, {"accountId": account_id})
        self.inbox.put(Push(partner, session_id, signal_frame(signal)))

    # --- acknowledgements ---
    def ack_message(self, account_id: int, route: Route, session_id: int, msg_id: int) -> None:
        """Record a PUSH_DIALOGUE ack; written in batches, never lowering the mark.
        Raises NotInRouting for a session routing has forgotten (`ack_message_late`)."""
        self._check_bound(account_id, route)
        self._member_session(account_id, session_id)
        self._queue_ack(account_id, session_id, msg_id)

    async def ack_message_late(
        self, account_id: int, route: Route, session_id: int, msg_id: int
    ) -> None:
        """An ack for a session that ended a while ago (replayed after a restart)."""
        self._check_bound(account_id, route)
        await self._stored_session(account_id, session_id)
        self._queue_ack(account_id, session_id, msg_id)

    def _queue_ack(self, account_id: int, session_id: int, msg_id: int) -> None:
        key = (session_id, account_id)
        if self._acks.get(key, 0) < msg_id:
            self._acks[key] = msg_id
            self._acks_ready.set()

    async def ack_signal(
        self, account_id: int, route: Route, session_id: int, signal_type: str
    ) -> None:
        self._check_bound(account_id, route)
        await self._stored_session(account_id, session_id)
        if signal_type in DURABLE_SIGNALS:
            await self.store.ack_signal(account_id, session_id, signal_type)

    async def _flush_acks(self) -> None:
        while True:
            await self._acks_ready.wait()
            self._acks_ready.clear()
            acks, self._acks = self._acks, {}
            try:
                await self.store.record_acks([(s, a, m) for (s, a), m in acks.items()])
            except Exception as exc:
                event(log, "ack write failed", logging.ERROR, acks=len(acks), error=repr(exc))
                for key, msg_id in acks.items():  # keep them for the next write
                    if self._acks.get(key, 0) < msg_id:
                        self._acks[key] = msg_id
                await asyncio.sleep(1.0)
                self._acks_ready.set()

    # --- replay (called by the embedded delivery worker) ---
    def replay_pending(self, account_id: int) -> bool:
        """True while a Replay for the account waits in the inbox: its pushes
        queued before that are part of the replay, so the worker skips them."""
        return self._replays.get(account_id, 0) > 0

    async def replay_frames(self, entry: Replay) -> list[bytes]:
        """Everything the account has not acknowledged, in the order a client
        needs it: new sessions, then messages per session, then other signals."""
        count = self._replays.get(entry.account_id, 0) - 1
        if count > 0:
            self._replays[entry.account_id] = count
        else:
            self._replays.pop(entry.account_id, None)
        if self.routing.route_of(entry.account_id) != entry.route:
            return []  # replaced again: the newer Replay does the work
        signals = await self.store.pending_signals(entry.account_id)
        presence = self.routing.accounts.get(entry.account_id)
        session_ids = set(presence.sessions) if presence else set()
        session_ids.update(s.session_id for s in signals)
        frames = [signal_frame(s) for s in signals if s.signal_type == "NewSession"]
        for session_id in sorted(session_ids):
            for m in await self.store.unacked(session_id, entry.account_id):
                frames.append(encode_push_dialogue(
                    m.sender_id, m.session_id, m.msg_id, m.content, m.created_at
                ))
        frames.extend(signal_frame(s) for s in signals if s.signal_type != "NewSession")
        return frames


class NotInRouting(Exception):
    """The session is not open in routing: closed long ago, or unknown."""


def signal_frame(signal: Signal) -> bytes:
    return encode_push_signal(
        signal.signal_type, signal.sender_id, signal.receiver_id, signal.session_id, signal.data
    )

