"""One process of each role killed or stopped under load (scaled mode), judged
by an oracle.

Pairs chat in both directions (one member on each broker) while one process is
killed (SIGKILL; `pairchat up` starts it again) or stopped (SIGSTOP) for longer
than the deadline after which the others take its work over, then resumed. The
clients behave as the protocol asks: a request answered code 2 or left
unanswered by a dropped connection is sent again with the same requestId after
RECONNECT (on the other broker when theirs refuses connections), and every push
is acknowledged and de-duplicated by (sessionId, msgId). The oracle then counts,
per session and direction: acknowledged, delivered, lost (acknowledged, never
delivered), duplicated (one text under two msgIds) and reordered (a new msgId
below one already seen); lost, duplicated and reordered must be 0, and no
request may get another code than 0 or 2. Each case prints the oracle's counts
and the longest pause of delivery from the fault on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, WebSocketException

from pairchat.logic.service import BROKER_TTL
from pairchat.storage.inbox_redis import DEFAULT_LEASE_TTL

from .client import ChatClient, Frame, is_dialogue
from .harness import (
    TIMEOUT,
    Flags,
    System,
    children,
    drop_namespace,
    running_system,
    scaled_flags,
)
from .users import Users

PAIRS = 20
MARGIN = 3.0  # seconds a fault outlasts the deadline after which others take over
BEFORE, AFTER = 2.0, 3.0  # seconds of chatting before the fault and after it healed
PACE = 0.05  # seconds between two messages of one sender
# No account is logged out while its client reconnects, however long a fault holds.
GRACE = 2 * (max(BROKER_TTL, DEFAULT_LEASE_TTL) + MARGIN)


@dataclass(frozen=True)
class Fault:
    """What befalls the first process of a role: SIGKILL, or SIGSTOP then
    SIGCONT. Either way the fault holds `deadline + MARGIN` seconds (a stopped
    process stays stopped that long; after a kill the chat goes on that long
    before the phase after the fault), where `deadline` is how long the others
    wait before taking the process's work over."""

    role: str
    signal: signal.Signals
    deadline: float

    def __str__(self) -> str:
        return f"{self.role}-{'kill' if self.signal == signal.SIGKILL else 'stop'}"

    async def inflict(self, system: System) -> float:
        """Signal the victim and hold the fault; the time it began."""
        pid = victim(system, self.role)
        os.kill(pid, self.signal)
        began = time.monotonic()
        try:
            await asyncio.sleep(self.deadline + MARGIN)
        finally:
            if self.signal == signal.SIGSTOP:
                os.kill(pid, signal.SIGCONT)
        return began


FAULTS = [
    Fault("logic", signal.SIGKILL, BROKER_TTL),
    # Another logic declares broker 0 gone meanwhile (issue 10, item 2).
    Fault("logic", signal.SIGSTOP, BROKER_TTL),
    Fault("worker", signal.SIGKILL, DEFAULT_LEASE_TTL),
    # Another worker takes the stopped one's inbox shards over meanwhile.
    Fault("worker", signal.SIGSTOP, DEFAULT_LEASE_TTL),
    # Broker 0's clients reconnect to broker 1 (its port refuses until restarted).
    Fault("broker", signal.SIGKILL, BROKER_TTL),
]


def victim(system: System, role: str) -> int:
    """The first logic or worker (broker 0 prefers logic 0), or broker 0."""
    if role != "broker":
        return children(system, role)[0]
    [pid] = [pid for pid in children(system, role) if _port_of(pid) == str(system.port)]
    return pid


def _port_of(pid: int) -> str:
    """The --port a process was started with ("" if none)."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return argv[argv.index("--port") + 1] if "--port" in argv else ""


def _longest_gap(times: list[float], since: float) -> float:
    """The longest wait for a delivery from `since` on."""
    later = sorted(t for t in times if t >= since)
    return max((b - a for a, b in zip([since, *later], later, strict=False)), default=0.0)


@dataclass
class Peer:
    """One user, reconnecting (RECONNECT on a new connection, to the next broker
    when its own refuses) whenever its connection closes or a request goes
    unanswered."""

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
    failovers: int = 0
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
                assert time.monotonic() < deadline, f"{old}: no RECONNECT within {3 * TIMEOUT}s"
                try:
                    client = await ChatClient.connect(self.system.ws_url(self.broker), old.name)
                except (OSError, TimeoutError, WebSocketException):
                    self.broker += 1  # this broker is down: fail over
                    self.failovers += 1
                    await asyncio.sleep(TIMEOUT / 50)
                    continue
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
    answered_at: dict[str, float] = field(default_factory=dict)  # text -> when answered 0
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
                    self.answered_at[text] = time.monotonic()
                    break
                if response["code"] != 2:
                    self.refused.append(response)
                    return
                await asyncio.sleep(PACE)
            await asyncio.sleep(PACE)

    def lost(self) -> list[str]:
        delivered = self.receiver.texts.get(self.session_id, {})
        return [t for t in self.acknowledged if t not in delivered]


@dataclass
class Load:
    """PAIRS pairs chatting in both directions, one member on each broker."""

    peers: dict[int, Peer]
    directions: list[Direction]
    arrival: asyncio.Event
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def finish(self) -> None:
        """Stop sending, then wait until everything acknowledged arrived (live,
        or replayed after RECONNECT) or the deadline passed."""
        self.stop.set()
        senders = self.tasks[len(self.peers) :]
        await asyncio.wait_for(asyncio.gather(*senders), 3 * TIMEOUT)
        receivers = self.tasks[: len(self.peers)]
        deadline = time.monotonic() + 2 * TIMEOUT
        while self.lost() and time.monotonic() < deadline:
            self.arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrival.wait(), deadline - time.monotonic())
        for failed in [t.exception() for t in receivers if t.done()]:
            if failed is not None:
                raise failed

    def lost(self) -> list[str]:
        return [text for d in self.directions for text in d.lost()]

    def losses(self, since: float) -> list[str]:
        """Per session and receiver: how many acknowledged messages never came,
        their msgIds and when they were answered (seconds from `since`)."""
        found = []
        for d in self.directions:
            if lost := d.lost():
                ids = sorted(d.acknowledged[t] for t in lost)
                at = sorted(d.answered_at[t] - since for t in lost)
                found.append(
                    f"session {d.session_id} to account {d.receiver.client.account_id}:"
                    f" {len(lost)} lost, msgIds {ids[0]}..{ids[-1]},"
                    f" answered {at[0]:+.1f}s..{at[-1]:+.1f}s"
                )
        return found

    def report(self, since: float) -> tuple[int, int, int]:
        """Print the oracle's counts; (lost, duplicated, reordered)."""
        peers = self.peers.values()
        lost = len(self.lost())
        duplicated = sum(p.duplicated for p in peers)
        reordered = sum(p.reordered for p in peers)
        everyone = [t for p in peers for t in p.deliveries]
        print(
            f"acknowledged={sum(len(d.acknowledged) for d in self.directions)}"
            f" delivered={len(everyone)} lost={lost} duplicated={duplicated}"
            f" reordered={reordered} reconnects={sum(p.reconnects for p in peers)}"
            f" failovers={sum(p.failovers for p in peers)}"
            f" delivery paused {_longest_gap(everyone, since):.1f}s overall,"
            f" up to {max(_longest_gap(p.deliveries, since) for p in peers):.1f}s"
            " for one client"
        )
        return lost, duplicated, reordered


@contextlib.asynccontextmanager
async def chatting(system: System) -> AsyncIterator[Load]:
    """The load, running until the block ends (its clients closed after)."""
    users = Users(system)
    arrival = asyncio.Event()
    load = Load({}, [], arrival)
    for i in range(PAIRS):
        a = await users.new(f"a{i}")  # broker 0
        b = await users.new(f"b{i}")  # broker 1
        load.peers[a.account_id] = Peer(system, a, 0, arrival)
        load.peers[b.account_id] = Peer(system, b, 1, arrival)
        matched = await b.match()  # some online account with room: any earlier one
        mine, partner = load.peers[b.account_id], load.peers[matched["partnerId"]]
        load.directions += [
            Direction(mine, partner, matched["sessionId"]),
            Direction(partner, mine, matched["sessionId"]),
        ]
    load.tasks += [asyncio.create_task(p.receive(load.done)) for p in load.peers.values()]
    load.tasks += [asyncio.create_task(d.send(load.stop)) for d in load.directions]
    try:
        yield load
    finally:
        load.stop.set()
        load.done.set()
        for task in load.tasks:
            task.cancel()
        await asyncio.gather(*load.tasks, return_exceptions=True)
        for peer in load.peers.values():
            with contextlib.suppress(Exception):
                await peer.client.close()


@pytest.fixture
def flags() -> Iterator[Flags]:
    flags = scaled_flags(Flags(offline_grace=GRACE, rate_limit=1e6, rate_burst=1e6))
    yield flags
    drop_namespace(flags)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
async def test_a_fault_loses_duplicates_and_reorders_nothing(
    tmp_path: Path, flags: Flags, fault: Fault
) -> None:
    with running_system(flags, tmp_path / "data") as system:
        async with chatting(system) as load:
            await asyncio.sleep(BEFORE)
            began = await fault.inflict(system)
            await asyncio.sleep(AFTER)
            await load.finish()
            print(f"{fault}: ", end="")
            lost, duplicated, reordered = load.report(since=began)
            refused = [r for d in load.directions for r in d.refused]
            assert sum(len(d.acknowledged) for d in load.directions) > 0
            assert not refused, refused[:5]
            assert (lost, duplicated, reordered) == (0, 0, 0), load.losses(began)
