"""The delivery worker: takes inbox entries in order, finds each recipient's
connection and hands the frames to that broker's link.

Order: entries are handled strictly in inbox order and each broker link is one
ordered stream, so pushes of a session reach a client in msgId order. While a
Replay for an account is queued, that account's earlier pushes are skipped: the
replay reads them from the store, in order, when its turn comes.
"""

from __future__ import annotations

import logging
from typing import Protocol

from pairchat.api.v1 import push_pb2 as pb
from pairchat.delivery.entries import Close, Push, Replay
from pairchat.delivery.links import PushLinks
from pairchat.obs import event
from pairchat.storage.memory import Inbox, Route, Routing

log = logging.getLogger("pairchat.delivery")


class Replayer(Protocol):
    def replay_pending(self, account_id: int) -> bool: ...

    async def replay_frames(self, entry: Replay) -> list[bytes]: ...


class DeliveryWorker:
    def __init__(
        self, inbox: Inbox, routing: Routing, replayer: Replayer, links: PushLinks
    ) -> None:
        self.inbox = inbox
        self.routing = routing
        self.replayer = replayer
        self.links = links

    async def run(self) -> None:
        while True:
            entries = await self.inbox.take()
            try:
                await self._deliver(entries)
            except Exception as exc:  # never let one bad entry stop delivery
                event(log, "delivery failed", logging.ERROR, entries=len(entries),
                      error=repr(exc))

    async def _deliver(self, entries: list[object]) -> None:
        out: dict[str, list[pb.PushItem]] = {}
        route_of = self.routing.route_of
        pending = self.replayer.replay_pending
        for entry in entries:
            if type(entry) is Push:
                route = route_of(entry.recipient)
                if route is None or pending(entry.recipient):
                    continue
                _items(out, route).append(pb.PushItem(
                    account_id=entry.recipient, conn_id=route.conn_id, frame=entry.frame,
                    stored_at_us=entry.stored_at_us,
                ))
            elif type(entry) is Replay:
                frames = await self.replayer.replay_frames(entry)
                _items(out, entry.route).extend(
                    pb.PushItem(account_id=entry.account_id, conn_id=entry.route.conn_id,
                                frame=frame)
                    for frame in frames
                )
                event(log, "replayed", account=entry.account_id, pushes=len(frames))
            elif type(entry) is Close:
                _items(out, entry.route).append(pb.PushItem(
                    account_id=entry.account_id, conn_id=entry.route.conn_id,
                    kind=pb.PUSH_KIND_CLOSE,
                ))
        for broker_id, items in out.items():
            self.links.send(broker_id, items)


def _items(out: dict[str, list[pb.PushItem]], route: Route) -> list[pb.PushItem]:
    items = out.get(route.broker_id)
    if items is None:
        items = out[route.broker_id] = []
    return items
