"""A stalled process under load (scaled mode), judged by an oracle.

Pairs chat in both directions while the logic process serving broker 0 is
stopped (SIGSTOP) for longer than the broker liveness TTL, then resumed. The
clients behave as the protocol asks: a request answered code 2 or left
unanswered by a dropped connection is sent again with the same requestId after
RECONNECT, and every push is acknowledged and de-duplicated by (sessionId,
msgId). The oracle then counts, per session and direction: acknowledged,
delivered, lost (acknowledged, never delivered), duplicated (one text under two
msgIds) and reordered (a new msgId below one already seen); lost, duplicated and
reordered must be 0, and no request may get another code than 0 or 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from .client import ChatClient, Frame, is_dialogue
from .harness import TIMEOUT, Flags, System, drop_namespace, running_system, scaled_flags
from .users import Users

PAIRS = 20
BROKER_TTL = 5.0  # logic's liveness TTL of a broker (logic/service.py)
STALL = BROKER_TTL + 3.0  # another logic declares the broker gone meanwhile
BEFORE, AFTER = 2.0, 3.0  # seconds of chatting before the stall and after it
PACE = 0.05  # seconds between two messages of one sender
GRACE = 2 * STALL  # an account cut off by the stall would be logged out before the end


def children(system: System, role: str) -> list[int]:
    """PIDs of the `pairchat <role>` processes of a running `pairchat up`."""
    out = subprocess.run(
        ["pgrep", "-P", str(system.proc.pid), "-f", f"pairchat {role}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sorted(int(pid) for pid in out.split())


def _longest_gap(times: list[float], since: float) -> float:
    """The longest wait for a delivery from `since` on."""
    later = [t for t in times if t >= since]
    return max((b - a for a, b in zip([since, *later], later, strict=False)), default=0.0)


@dataclass
class Peer:
    """One user, reconnecting (RECONNECT on a new connection to its broker)
    whenever its connection closes or a request goes unanswered."""

    system: System
    client: ChatClient
    broker: int
    arrival: asyncio.Event  # set on every new delivery, shared by all peers
    seen: dict[int, set[int]] = field(default_factory=dict)  # session -> msgIds
    texts: dict[int, dict[str, int]] = field(default_factory=dict)  # session -> text -> msgId
    duplicated: int = 0
    reordered: int = 0
    deliveries: list[float] = field(default_factory=list)
    reconnects: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def renew(self, old: ChatClient) -> None:
        """Replace a connection that failed (once, however many noticed)."""
        async with self._lock:
            if self.client is not old:
                return
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.close(), TIMEOUT)
            deadline = time.monotonic() + 3 * TIMEOUT
            while True:
                client = await ChatClient.connect(self.system.ws_url(self.broker), old.name)
                try:
                    response = await client.request(
                        "RECONNECT", accountId=old.account_id, token=old.token
                    )
                except (ConnectionError, TimeoutError, ConnectionClosed):
                    response = {"code": 2}
                if response["code"] == 0:
                    client.account_id, client.token, client.nick = (
                        old.account_id,
                        old.token,
                        old.nick,
                    )
                    self.client = client
                    self.reconnects += 1
                    return
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), TIMEOUT)
                assert response["code"] == 2, f"{old}: RECONNECT answered {response}"
                assert time.monotonic() < deadline, f"{old}: no RECONNECT within {3 * TIMEOUT}s"
                await asyncio.sleep(TIMEOUT / 50)

    def record(self, push: Frame) -> None:
        session_id, msg_id, text = push["sessionId"], push["msgId"], push["content"]
        seen = self.seen.setdefault(session_id, set())
        if msg_id in seen:
            return  # at-least-once: the client's own de-duplication
        if seen and msg_id < max(seen):
            self.reordered += 1
        seen.add(msg_id)
        texts = self.texts.setdefault(session_id, {})
        if text in texts:
            self.duplicated += 1
        texts[text] = msg_id
        self.deliveries.append(time.monotonic())
        self.arrival.set()

    async def receive(self, done: asyncio.Event) -> None:
        """Record and acknowledge pushes until `done`, across reconnections."""
        while not done.is_set():
            client = self.client
            try:
                push = await client.expect_push(lambda _: True, within=TIMEOUT / 10)
            except AssertionError:
                if client.closed:
                    await self.renew(client)
                continue
            if is_dialogue()(push):
                self.record(push)
            with contextlib.suppress(Exception):  # a closed connection is renewed above
                await client.ack(push)


@dataclass
class Direction:
    """What one member sent in one session: text -> msgId answered code 0."""

    sender: Peer
    receiver: Peer
    session_id: int
    acknowledged: dict[str, int] = field(default_factory=dict)
    refused: list[Frame] = field(default_factory=list)

    async def send(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            text = f"{self.session_id}:{self.sender.client.account_id}:{n}"
            while True:  # the same requestId until answered code 0
                client = self.sender.client
                fields = {
                    "senderId": client.account_id,
                    "sessionId": self.session_id,
                    "content": text,
                }
                try:
                    response = await client.request("DIALOGUE", text, **fields)
                except (ConnectionError, TimeoutError, ConnectionClosed):
                    await self.sender.renew(client)
                    continue
                if response["code"] == 0:
                    self.acknowledged[text] = response["msgId"]
                    break
                if response["code"] != 2:
                    self.refused.append(response)
                    return
                await asyncio.sleep(PACE)
            await asyncio.sleep(PACE)

    def lost(self) -> list[str]:
        delivered = self.receiver.texts.get(self.session_id, {})
        return [t for t in self.acknowledged if t not in delivered]


@pytest.fixture
def flags() -> Iterator[Flags]:
    flags = scaled_flags(Flags(offline_grace=GRACE, rate_limit=1e6, rate_burst=1e6))
    yield flags
    drop_namespace(flags)


async def test_a_stalled_logic_orphans_no_client(tmp_path: Path, flags: Flags) -> None:
    with running_system(flags, tmp_path / "data") as system:
        users = Users(system)
        peers: dict[int, Peer] = {}
        directions: list[Direction] = []
        arrival = asyncio.Event()
        for i in range(PAIRS):
            a = await users.new(f"a{i}")  # broker 0
            b = await users.new(f"b{i}")  # broker 1
            peers[a.account_id] = Peer(system, a, 0, arrival)
            peers[b.account_id] = Peer(system, b, 1, arrival)
            matched = await b.match()  # some online account with room: any earlier one
            mine, partner = peers[b.account_id], peers[matched["partnerId"]]
            directions += [
                Direction(mine, partner, matched["sessionId"]),
                Direction(partner, mine, matched["sessionId"]),
            ]

        done, stop = asyncio.Event(), asyncio.Event()
        receivers = [asyncio.create_task(p.receive(done)) for p in peers.values()]
        senders = [asyncio.create_task(d.send(stop)) for d in directions]
        stalled = children(system, "logic")[0]  # broker 0 prefers the first logic
        try:
            await asyncio.sleep(BEFORE)
            os.kill(stalled, signal.SIGSTOP)
            stopped_at = time.monotonic()
            try:
                await asyncio.sleep(STALL)
            finally:
                os.kill(stalled, signal.SIGCONT)
            await asyncio.sleep(AFTER)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*senders), 3 * TIMEOUT)

            # Everything acknowledged arrives (live, or replayed after RECONNECT).
            deadline = time.monotonic() + 2 * TIMEOUT
            while any(d.lost() for d in directions) and time.monotonic() < deadline:
                arrival.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrival.wait(), deadline - time.monotonic())
        finally:
            stop.set()
            done.set()
            for task in [*senders, *receivers]:
                task.cancel()
            await asyncio.gather(*senders, *receivers, return_exceptions=True)

        acknowledged = sum(len(d.acknowledged) for d in directions)
        lost = sum(len(d.lost()) for d in directions)
        delivered = sum(len(p.deliveries) for p in peers.values())
        duplicated = sum(p.duplicated for p in peers.values())
        reordered = sum(p.reordered for p in peers.values())
        refused = [r for d in directions for r in d.refused]
        pause = max(_longest_gap(p.deliveries, stopped_at) for p in peers.values())
        print(
            f"acknowledged={acknowledged} delivered={delivered} lost={lost}"
            f" duplicated={duplicated} reordered={reordered}"
            f" reconnects={sum(p.reconnects for p in peers.values())}"
            f" delivery to one client paused up to {pause:.1f}s"
        )
        assert acknowledged > 0
        assert not refused, refused[:5]
        assert (lost, duplicated, reordered) == (0, 0, 0), [d.lost()[:3] for d in directions]
        for peer in peers.values():
            await peer.client.close()
