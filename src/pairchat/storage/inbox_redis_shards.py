"""The shards of the Redis inbox (inbox_redis.py): the stream operations
on them, and which shards each consumer holds. A consumer holds a shard by a
lease that a background task renews; the same task hands shards over to keep
shares fair and takes over the shards of consumers that died."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import redis.exceptions
from redis.asyncio import Redis

from pairchat.obs import event
from pairchat.storage.inbox import Entry, decode_entry
from pairchat.storage.redis_keys import ENTRY_FIELD, INBOX_GROUP, Keys, as_text, script

log = logging.getLogger("pairchat.storage")

SCRIPTS: Final = ("inbox_leases", "inbox_release")
BATCH: Final = 100  # entries per XAUTOCLAIM, XPENDING or recovering read
# Entries pending to a consumer this long that it does not know of were handed to
# a read whose reply it never got (a timeout, or a command Redis ran late from a
# connection given up while Redis was stalled): the consumer takes them again.
STRAY_AFTER: Final = 3.0  # seconds
RETRYABLE: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

Taken = tuple[str, Entry]  # ("<shard>:<stream id>", entry)


def streams_gone(exc: redis.exceptions.ResponseError) -> bool:
    """NOGROUP: the streams are gone (FLUSHDB, a Redis restarted without
    persistence); UNBLOCKED: they went while a read waited. Either way the
    groups are to be created again, and the read or claim repeated."""
    return str(exc).startswith(("NOGROUP", "UNBLOCKED"))


async def wait_for_event(event: asyncio.Event, seconds: float) -> None:
    """Until the event is set or the time is up. Not asyncio.wait_for: on Python
    3.11 it can swallow a cancellation that arrives as the event is set, and a
    consumer's task would then never stop."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


# --- what a consumer holds ---
@dataclass(slots=True)
class Shard:
    """A shard a consumer holds the lease of."""

    buffered: deque[Taken] = field(default_factory=deque)  # read, not yet returned
    taken: set[str] = field(default_factory=set)  # returned by take, not yet acked
    # Above the fair share since this loop time: read no more, release once idle.
    draining_since: float | None = None
    # Entries taken from it were not done within the drain timeout (their
    # delivery failed, say): it stays with this consumer, which reads it again.
    stuck: bool = False

    @property
    def draining(self) -> bool:
        return self.draining_since is not None


@dataclass(slots=True)
class Consumer:
    name: str  # its name in the consumer group, the caller's
    holder: str  # its name on leases: unique to this process even if names repeat
    start: int  # where it looks for free shards first, so consumers spread out
    shards: dict[int, Shard] = field(default_factory=dict)
    orphans: deque[Taken] = field(default_factory=deque)  # read from a shard lost meanwhile
    reading: frozenset[int] = frozenset()  # shards of the XREADGROUP in flight
    stranded: set[int] = field(default_factory=set)  # shards whose reads may have gone astray
    unacked: dict[int, set[str]] = field(default_factory=dict)  # done, but XACK failed
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # shards came or went
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # run a lease round now
    keeper: asyncio.Task[None] | None = None

    def idle(self, shard: int) -> bool:
        state = self.shards[shard]
        return not state.buffered and not state.taken and shard not in self.reading

    def known(self, shard: int) -> set[str]:
        """Ids of the shard's entries this consumer read and has not acked."""
        state = self.shards[shard]
        return state.taken | {entry_id for entry_id, _ in state.buffered}

    def acked(self, by_shard: dict[int, set[str]]) -> None:
        for shard, stream_ids in by_shard.items():
            state = self.shards.get(shard)
            if state is None:
                continue
            state.taken.difference_update(f"{shard}:{s}" for s in stream_ids)
            if state.draining and self.idle(shard):
                self.wake.set()  # hand the shard over now rather than at the next round


# --- the streams ---
class Streams:
    """The shard streams and their consumer group."""

    def __init__(self, redis: Redis, keys: Keys, shards: int) -> None:
        self._redis = redis
        self.count = shards
        self.names = [keys.inbox(s) for s in range(shards)]
        self.shard_of = {name.encode(): s for s, name in enumerate(self.names)}

    async def create_groups(self) -> None:
        """Create the consumer group on every shard that lacks it. It starts at
        the beginning, so entries put before any worker ran are delivered too."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream in self.names:
                pipe.xgroup_create(stream, INBOX_GROUP, id="0", mkstream=True)
            results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result

    async def ack(self, by_shard: dict[int, set[str]]) -> None:
        """Acknowledge and delete entries, in one transaction."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for shard, stream_ids in by_shard.items():
                pipe.xack(self.names[shard], INBOX_GROUP, *stream_ids)
                pipe.xdel(self.names[shard], *stream_ids)
            await pipe.execute()

    async def decode(self, shard: int, messages: list[Any]) -> list[Taken]:
        """The entries of a reply; ones this code cannot read are dropped."""
        out: list[Taken] = []
        bad: set[str] = set()
        for stream_id, fields in messages:
            if fields is None:  # deleted while pending: done already
                continue
            try:
                out.append((f"{shard}:{as_text(stream_id)}", decode_entry(fields[ENTRY_FIELD])))
            except (msgspec.DecodeError, KeyError) as exc:
                # Not an entry this code can read (another version put it): it
                # would come back forever, so it is dropped, loudly.
                event(
                    log,
                    "inbox entry dropped",
                    logging.ERROR,
                    shard=shard,
                    id=as_text(stream_id),
                    error=repr(exc),
                )
                bad.add(as_text(stream_id))
        if bad:
            await self.ack({shard: bad})
        return out

    async def claim(self, shard: int, consumer: str) -> list[Taken]:
        """Take over every entry of the shard still pending in the group (taken by
        a consumer that died), oldest first, and drop the group's consumers that
        have nothing pending there any more."""
        stream = self.names[shard]
        claimed: list[Taken] = []
        cursor: Any = "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                stream,
                INBOX_GROUP,
                consumer,
                min_idle_time=0,
                start_id=cursor,
                count=BATCH,
            )
            claimed.extend(await self.decode(shard, reply[1]))
            cursor = reply[0]
            if as_text(cursor) == "0-0":
                break
        if claimed:
            event(
                log, "inbox entries claimed", consumer=consumer, shard=shard, entries=len(claimed)
            )
        # Consumers that left stay in the group's list until removed; without
        # pending entries here, removing one changes nothing else.
        for info in await self._redis.xinfo_consumers(stream, INBOX_GROUP):
            if info["pending"] == 0 and as_text(info["name"]) != consumer:
                await self._redis.xgroup_delconsumer(stream, INBOX_GROUP, info["name"])
        return claimed

    async def strays(self, c: Consumer) -> list[int]:
        """The shards where entries are pending to the consumer, for STRAY_AFTER
        at least, that it does not know of."""
        shards = [s for s in c.shards if s not in c.stranded]
        if not shards:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for shard in shards:
                pipe.xpending_range(
                    self.names[shard],
                    INBOX_GROUP,
                    "-",
                    "+",
                    BATCH,
                    consumername=c.name,
                    idle=int(STRAY_AFTER * 1000),
                )
            replies = await pipe.execute()
        found = []
        for shard, pending in zip(shards, replies, strict=True):
            if shard in c.shards and any(
                f"{shard}:{as_text(p['message_id'])}" not in c.known(shard) for p in pending
            ):
                found.append(shard)
        return found


# --- the leases ---
class Leases:
    """Keeps each consumer's leases: renews them with a heartbeat every third of
    the ttl, gives up shards above the fair share once nothing taken from them
    is left undone, takes free shards up to the share (claiming what their last
    holder left pending), and finds entries gone astray."""

    def __init__(
        self, redis: Redis, keys: Keys, streams: Streams, *, lease_ttl: float, drain_timeout: float
    ) -> None:
        self._streams = streams
        self._keys = [keys.consumers] + [keys.lease(s) for s in range(streams.count)]
        self._ttl = lease_ttl
        self._drain_timeout = drain_timeout
        self._round_script = script(redis, "inbox_leases")
        self._release_script = script(redis, "inbox_release")

    def start(self, c: Consumer) -> None:
        c.keeper = asyncio.get_running_loop().create_task(
            self._keep(c), name=f"inbox-leases:{c.name}"
        )

    async def stop(self, c: Consumer) -> None:
        """Stop renewing and give the leases up, so that other consumers take the
        shards at once (and take again what this one took but did not finish)."""
        if c.keeper is not None:
            c.keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await c.keeper
        try:
            await self._release_script(keys=self._keys, args=[c.holder])
        except RETRYABLE as exc:  # the leases run out by themselves
            event(
                log, "inbox leases not released", logging.WARNING, consumer=c.name, error=repr(exc)
            )

    async def _keep(self, c: Consumer) -> None:
        while True:
            c.wake.clear()
            await wait_for_event(c.wake, self._ttl / 3)
            try:
                await self.round(c)
            except RETRYABLE as exc:  # Redis is away: the next round tries again
                event(
                    log,
                    "inbox lease renewal failed",
                    logging.WARNING,
                    consumer=c.name,
                    error=repr(exc),
                )
            except Exception as exc:
                if isinstance(exc, redis.exceptions.ResponseError) and streams_gone(exc):
                    event(log, "inbox groups recreated", logging.WARNING, error=str(exc))
                    with contextlib.suppress(*RETRYABLE):
                        await self._streams.create_groups()
                    continue
                # Keep renewing whatever went wrong: a keeper that stopped would
                # let the leases run out under a live consumer.
                event(
                    log, "inbox lease round failed", logging.ERROR, consumer=c.name, error=repr(exc)
                )

    async def round(self, c: Consumer) -> None:
        if c.unacked:
            unacked, c.unacked = c.unacked, {}
            try:
                await self._streams.ack(unacked)
            except BaseException:
                for shard, stream_ids in unacked.items():
                    c.unacked.setdefault(shard, set()).update(stream_ids)
                raise
            c.acked(unacked)
        release = [s for s, state in c.shards.items() if state.draining and c.idle(s)]
        share, held_raw = await self._round_script(
            keys=self._keys,
            args=[c.holder, int(self._ttl * 1000), c.start, *release],
        )
        held = {int(s) for s in held_raw}
        before = set(c.shards)
        for shard in release:
            del c.shards[shard]
        for shard in set(c.shards) - held:
            # The lease ran out before it was renewed (Redis away, or this process
            # stalled): whoever holds it now claimed what was buffered here.
            del c.shards[shard]
            event(log, "inbox shard lost", logging.WARNING, consumer=c.name, shard=shard)
        for shard in sorted(held - set(c.shards)):
            c.shards[shard] = Shard(deque(await self._streams.claim(shard, c.name)))
        self._rebalance(c, int(share))
        if set(c.shards) != before:
            c.changed.set()
        for shard in await self._streams.strays(c):
            event(log, "inbox entries gone astray", logging.WARNING, consumer=c.name, shard=shard)
            c.stranded.add(shard)  # its next take reads them again
            c.changed.set()

    def _rebalance(self, c: Consumer, share: int) -> None:
        """Mark the shards above the fair share draining (idle ones first), or
        take back drained ones when the share grew again; keep a shard whose
        taken entries outlived the drain timeout."""
        now = asyncio.get_running_loop().time()
        for shard, state in c.shards.items():
            if (
                state.draining_since is not None
                and not c.idle(shard)
                and now - state.draining_since > self._drain_timeout
            ):
                state.draining_since, state.stuck = None, True
                event(
                    log,
                    "inbox shard kept: taken entries not done",
                    logging.WARNING,
                    consumer=c.name,
                    shard=shard,
                    entries=len(state.taken),
                )
            elif state.stuck and c.idle(shard):
                state.stuck = False
        draining = [s for s, state in c.shards.items() if state.draining]
        excess = max(len(c.shards) - share, 0)
        if len(draining) > excess:
            for shard in draining[: len(draining) - excess]:
                c.shards[shard].draining_since = None
        elif len(draining) < excess:
            candidates = sorted(
                (s for s, state in c.shards.items() if not state.draining and not state.stuck),
                key=lambda s: (not c.idle(s), -s),
            )
            for shard in candidates[: excess - len(draining)]:
                c.shards[shard].draining_since = now
                if c.idle(shard):
                    c.wake.set()
