"""The delivery worker: takes inbox entries, finds each recipient's connection
and hands the frames to that broker's link; marks entries done once the broker
answered for them.

Order: the inbox yields each session's entries in order and each broker link
is one ordered stream, so pushes of a session reach a client in msgId order.
After a RECONNECT, routing counts a pending replay per (account, session)
before the route moves; until the worker meets that session's Replay entry it
holds back the session's pushes to the account (they were committed before the
Replay was queued, so the replay reads them from the store, in order, after
whatever the account had acknowledged). A long backlog is replayed in pages
(replay.py); the broker holds the session's order from the second page on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from pairchat.api.v1 import push_pb2 as pb
from pairchat.delivery.links import PushLinks
from pairchat.delivery.replay import replay_page
from pairchat.obs import event
from pairchat.storage.brokers import Brokers
from pairchat.storage.inbox import Close, Entry, Inbox, Push, Replay
from pairchat.storage.records import Route, Signal
from pairchat.storage.routing import Presence, ReplayMarks
from pairchat.storage.store import Store
from pairchat.tasks import spawn

log = logging.getLogger("pairchat.delivery")

BATCH = 2000
RETRY_DELAY = 1.0  # seconds before trying an unavailable inbox again
DELIVERY_ATTEMPTS = 5  # tries of one batch before its pushes are left to RECONNECT


def consumer_name(role: str) -> str:
    """A consumer name unique to this process (the inbox leases shards by it)."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class DeliveryWorker:
    """Delivers what `inbox` holds, as consumer `consumer`.

    Args:
        inbox: the queue logic puts entries in.
        presence: where each recipient is connected.
        replays: which (account, session) a pending replay holds back.
        store: what a Replay entry reads (unacknowledged messages, signals).
        links: the streams to the brokers' Push services.
        consumer: this worker's name in the inbox, unique to its process.
        brokers: where to look up brokers the links do not know yet (scaled);
            None when the logic process tells the links of every broker.
    """

    def __init__(
        self,
        inbox: Inbox,
        presence: Presence,
        replays: ReplayMarks,
        store: Store,
        links: PushLinks,
        consumer: str = "embedded",
        brokers: Brokers | None = None,
    ) -> None:
        self.brokers = brokers
        self.inbox = inbox
        self.presence = presence
        self.replays = replays
        self.store = store
        self.links = links
        self.consumer = consumer

    async def run(self) -> None:
        while True:
            try:
                taken = await self.inbox.take(self.consumer, BATCH)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the inbox's engine is away: wait, then go on
                event(log, "inbox unavailable", logging.WARNING, error=repr(exc))
                await asyncio.sleep(RETRY_DELAY)
                continue
            entries = [e for _, e in taken]
            for attempt in range(1, DELIVERY_ATTEMPTS + 1):
                try:
                    delivered = await self._deliver(entries)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the store or routing is away: retry in order
                    event(
                        log,
                        "delivery failed",
                        logging.ERROR,
                        entries=len(taken),
                        attempt=attempt,
                        error=repr(exc),
                    )
                    await asyncio.sleep(RETRY_DELAY * attempt)
            else:
                # Given up, so that later sessions are not held back for ever: the
                # store keeps every message, and a RECONNECT replays them.
                delivered = []
                await self._release_replays(entries)
            spawn(self._done([i for i, _ in taken], delivered))

    async def _release_replays(self, entries: list[Entry]) -> None:
        for entry in entries:
            if type(entry) is Replay and not entry.after_msg_id:
                with contextlib.suppress(Exception):
                    await self.replays.end_replay(entry.account_id, entry.session_id)

    async def _done(self, ids: list[str], delivered: list[asyncio.Future[bool]]) -> None:
        """An entry is done once every broker it went to answered for it (or is
        gone, which closed the recipients' connections: they will replay)."""
        await asyncio.gather(*delivered, return_exceptions=True)
        try:
            await self.inbox.done(self.consumer, ids)
        except Exception as exc:
            event(
                log,
                "marking entries done failed",
                logging.WARNING,
                entries=len(ids),
                error=repr(exc),
            )

    async def _deliver(self, entries: list[Entry]) -> list[asyncio.Future[bool]]:
        accounts = sorted({e.recipient if isinstance(e, Push) else e.account_id for e in entries})
        routes = dict(zip(accounts, await self.presence.routes(accounts), strict=True))
        keys = sorted({(e.recipient, e.session_id) for e in entries if type(e) is Push})
        held = {
            k
            for k, pending in zip(keys, await self.replays.replaying(keys), strict=True)
            if pending
        }
        out: dict[str, list[pb.PushItem]] = {}
        signals: dict[int, list[Signal]] = {}
        ended: list[Replay] = []
        for entry in entries:
            if type(entry) is Push:
                route = routes.get(entry.recipient)
                if route is None or (entry.recipient, entry.session_id) in held:
                    continue
                _items(out, route).append(
                    pb.PushItem(
                        account_id=entry.recipient,
                        conn_id=route.conn_id,
                        frame=entry.frame,
                        stored_at_us=entry.stored_at_us,
                        session_id=entry.session_id,
                    )
                )
            elif type(entry) is Replay:
                target = Route(entry.broker_id, entry.conn_id)
                # Only the replay to the current route releases the session: one to a
                # replaced route has a newer Replay behind it that must come first.
                if routes.get(entry.account_id) == target:
                    held.discard((entry.account_id, entry.session_id))
                    items = await replay_page(self.store, entry, signals)
                    _items(out, target).extend(items)
                    event(
                        log,
                        "replayed",
                        logging.DEBUG,
                        account=entry.account_id,
                        session=entry.session_id,
                        after=entry.after_msg_id,
                        pushes=len(items),
                    )
                if not entry.after_msg_id:  # a next page holds nothing back
                    ended.append(entry)
            elif type(entry) is Close:
                _items(out, Route(entry.broker_id, entry.conn_id)).append(
                    pb.PushItem(
                        account_id=entry.account_id,
                        conn_id=entry.conn_id,
                        kind=pb.PUSH_KIND_CLOSE,
                    )
                )
        # Only once everything above worked: a retried batch must hold back again.
        for entry in ended:
            await self.replays.end_replay(entry.account_id, entry.session_id)
        if self.brokers is not None and any(not self.links.has(b) for b in out):
            # A broker that connected since the last look: learn of it now rather
            # than drop its first pushes.
            self.links.sync(await self.brokers.targets())
        return [self.links.send(broker_id, items) for broker_id, items in out.items()]


def _items(out: dict[str, list[pb.PushItem]], route: Route) -> list[pb.PushItem]:
    items = out.get(route.broker_id)
    if items is None:
        items = out[route.broker_id] = []
    return items
