"""`Inbox` on Redis Streams: several delivery workers share the load, entries of
one session stay in order, and what a dead worker took is taken again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import msgspec
import redis.exceptions
from redis.asyncio import Redis

from pairchat.delivery.entries import Entry, decode_entry, encode_entry
from pairchat.obs import event
from pairchat.storage.redis_keys import ENTRY_FIELD, INBOX_GROUP, Keys, script

log = logging.getLogger("pairchat.storage")

SCRIPTS: Final = ("inbox_leases", "inbox_release")
DEFAULT_SHARDS: Final = 16
DEFAULT_LEASE_TTL: Final = 5.0  # seconds: how long the shards of a dead worker stall
DEFAULT_DRAIN_TIMEOUT: Final = 30.0  # seconds a shard to hand over waits for `done`
BLOCK: Final = 1.0  # seconds one XREADGROUP waits, so that `take` notices new shards
_CLAIM_BATCH: Final = 100
# Entries pending to a consumer this long that it does not know of were handed to
# a read whose reply it never got (a timeout, or a command Redis ran late from a
# connection given up while Redis was stalled): the consumer takes them again.
_STRAY_AFTER: Final = 3.0  # seconds
_RETRYABLE: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

Taken = tuple[str, Entry]


def _streams_gone(exc: redis.exceptions.ResponseError) -> bool:
    """NOGROUP: the streams are gone (FLUSHDB, a Redis restarted without
    persistence); UNBLOCKED: they went while a read waited. Either way the
    groups are to be created again, and the read or claim repeated."""
    return str(exc).startswith(("NOGROUP", "UNBLOCKED"))


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until the event is set or the time is up. Not asyncio.wait_for: on Python
    3.11 it can swallow a cancellation that arrives as the event is set, and a
    consumer's task would then never stop."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


class InboxConfigError(RuntimeError):
    """Processes of one deployment disagree on the inbox's shard count."""


@dataclass(slots=True)
class _Shard:
    """A shard a consumer holds the lease of."""

    buffered: deque[Taken] = field(default_factory=deque)  # read, not yet returned
    taken: set[str] = field(default_factory=set)  # returned by take, not yet done
    # Above the fair share since this loop time: read no more, release once idle.
    draining_since: float | None = None
    # Entries taken from it were not done within the drain timeout (their
    # delivery failed, say): it stays with this consumer, which reads it again.
    stuck: bool = False

    @property
    def draining(self) -> bool:
        return self.draining_since is not None


@dataclass(slots=True)
class _Consumer:
    name: str  # its name in the consumer group, the caller's
    holder: str  # its name on leases: unique to this process even if names repeat
    start: int  # where it looks for free shards first, so consumers spread out
    shards: dict[int, _Shard] = field(default_factory=dict)
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


class RedisInbox:
    """`Inbox` (storage/routing.py) on `shards` Redis streams with one consumer
    group.

    An entry goes to stream `session_id % shards`. Each consumer holds leases on
    a fair share of the shards (shards / live consumers, the remainder spread by
    name) and reads only those. A background task per consumer renews the leases
    every third of `lease_ttl` together with a heartbeat, gives up shards above
    the fair share once nothing taken from them is left undone (so a new worker
    gets some), and takes free shards up to the share. `done` acknowledges and
    deletes entries, so the streams hold only work not finished.

    Why one session's entries are taken in the order they were put:
    - they are in one stream, in the order their XADDs reached Redis (one `put`
      is one pipeline on one connection, so its entries keep their order);
    - one consumer at a time holds a shard's lease, and only the holder reads the
      shard: XREADGROUP ">" hands out entries in stream order, and `take`
      returns a shard's entries in the order they were read;
    - a consumer gives a shard up only when every entry it took from it is done,
      so the next holder starts strictly after them (if that takes longer than
      `drain_timeout`, it keeps the shard, reads it again, and hands over
      another one, or none: entries taken and never done stay with their
      consumer until it is gone, as the contract says);
    - a consumer that took over a shard whose holder died (its lease ran out)
      first claims every pending entry of the shard with XAUTOCLAIM (they come
      in id order) and returns those before reading anything new.
    The one exception is a consumer stalled for longer than the lease ttl while
    alive: another consumer takes its shards over meanwhile, and both may push
    the same entries, in either order; pushes are at-least-once and clients drop
    duplicates by (sessionId, msgId).

    Args:
        redis: the client (a connection pool), shared with the other backends.
        keys: the deployment's key names.
        shards: streams to spread sessions over; all processes of a deployment
            must agree (`check_shards` makes sure).
        lease_ttl: seconds a shard stays with a consumer that stopped renewing.
        drain_timeout: seconds a shard above the fair share stops being read
            while what was taken from it is not done yet.
        block: seconds one read waits for new entries before `take` looks at
            its leases again.
    """

    def __init__(self, redis: Redis, keys: Keys, *, shards: int = DEFAULT_SHARDS,
                 lease_ttl: float = DEFAULT_LEASE_TTL,
                 drain_timeout: float = DEFAULT_DRAIN_TIMEOUT, block: float = BLOCK) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        if min(lease_ttl, drain_timeout, block) <= 0:
            raise ValueError("lease_ttl, drain_timeout and block must be positive")
        self._redis = redis
        self._keys = keys
        self.shards = shards
        self._lease_ttl = lease_ttl
        self._drain_timeout = drain_timeout
        self._block = block
        self._streams = [keys.inbox(s) for s in range(shards)]
        self._shard_of = {name.encode(): s for s, name in enumerate(self._streams)}
        self._lease_keys = [keys.consumers] + [keys.lease(s) for s in range(shards)]
        self._leases = script(redis, "inbox_leases")
        self._release = script(redis, "inbox_release")
        self._instance = uuid.uuid4().hex[:12]
        self._consumers: dict[str, _Consumer] = {}
        self._joining = asyncio.Lock()
        self._closed = False

    async def check_shards(self) -> None:
        """Record the shard count on first use; refuse a different one later.

        Raises:
            InboxConfigError: the deployment's inbox has another shard count.
        """
        key = self._keys.inbox_shards
        await self._redis.set(key, self.shards, nx=True)
        recorded = await self._redis.get(key)
        if recorded is not None and int(recorded) != self.shards:
            raise InboxConfigError(
                f"the inbox at {key!r} has {int(recorded)} shards, this process {self.shards}: "
                "give every process the same count (change it only once the inbox is "
                f"drained, by deleting {key!r})"
            )

    # --- producing ---
    async def put(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                stream = self._streams[entry.session_id % self.shards]
                pipe.xadd(stream, {ENTRY_FIELD: encode_entry(entry)})
            await pipe.execute()

    # --- consuming ---
    async def take(self, consumer: str, limit: int) -> list[Taken]:
        """Up to `limit` entries of the shards this consumer holds, in order per
        shard, with ids "<shard>:<stream id>"; waits until there is one."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        c = await self._join(consumer)
        while True:
            if self._closed:  # its leases are gone: reading on would strand entries
                raise RuntimeError("the inbox is closed")
            if c.stranded:
                await self._recover(c)
            batch = self._pop(c, limit)
            if batch:
                return batch
            readable = [s for s, state in c.shards.items() if not state.draining]
            if not readable:  # more consumers than shards, or none free yet
                c.changed.clear()
                await _wait(c.changed, self._block)
                continue
            await self._read(c, readable, limit)

    async def done(self, consumer: str, ids: Sequence[str]) -> None:
        """Acknowledge and delete taken entries: they will not be taken again. If
        Redis fails to, the consumer acknowledges them again at its next lease
        round (the error is raised all the same)."""
        by_shard: dict[int, set[str]] = {}
        for entry_id in ids:
            head, _, stream_id = entry_id.partition(":")
            by_shard.setdefault(int(head), set()).add(stream_id)
        if not by_shard:
            return
        c = self._consumers.get(consumer)
        try:
            await self._ack(by_shard)
        except Exception:
            if c is not None:  # delivered all the same: never to be taken again
                for shard, stream_ids in by_shard.items():
                    c.unacked.setdefault(shard, set()).update(stream_ids)
            raise
        if c is not None:
            self._acked(c, by_shard)

    async def _ack(self, by_shard: dict[int, set[str]]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for shard, stream_ids in by_shard.items():
                pipe.xack(self._streams[shard], INBOX_GROUP, *stream_ids)
                pipe.xdel(self._streams[shard], *stream_ids)
            await pipe.execute()

    def _acked(self, c: _Consumer, by_shard: dict[int, set[str]]) -> None:
        for shard, stream_ids in by_shard.items():
            state = c.shards.get(shard)
            if state is None:
                continue
            state.taken.difference_update(f"{shard}:{s}" for s in stream_ids)
            if state.draining and c.idle(shard):
                c.wake.set()  # hand the shard over now rather than at the next renewal

    async def close(self) -> None:
        """Stop every consumer of this process and give up its leases, so that
        other consumers take its shards at once (and take again what it took but
        did not mark done). The connection pool is the creator's to close."""
        self._closed = True
        for c in list(self._consumers.values()):
            if c.keeper is not None:
                c.keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await c.keeper
            try:
                await self._release(keys=self._lease_keys, args=[c.holder])
            except _RETRYABLE as exc:  # the leases run out by themselves
                event(log, "inbox leases not released", logging.WARNING,
                      consumer=c.name, error=repr(exc))
        self._consumers.clear()

    # --- the consumer's side, inside this process ---
    async def _join(self, name: str) -> _Consumer:
        c = self._consumers.get(name)
        if c is not None:
            return c
        async with self._joining:
            c = self._consumers.get(name)
            if c is not None:
                return c
            if self._closed:
                raise RuntimeError("the inbox is closed")
            await self._create_groups()
            holder = f"{name}#{self._instance}"
            c = _Consumer(name, holder, zlib.crc32(holder.encode()) % self.shards)
            await self._round(c)  # errors reach the caller rather than a log
            c.keeper = asyncio.get_running_loop().create_task(
                self._keep(c), name=f"inbox-leases:{name}"
            )
            self._consumers[name] = c
            return c

    async def _create_groups(self) -> None:
        """Create the consumer group on every shard that lacks it. It starts at
        the beginning, so entries put before any worker ran are delivered too."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream in self._streams:
                pipe.xgroup_create(stream, INBOX_GROUP, id="0", mkstream=True)
            results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result

    def _pop(self, c: _Consumer, limit: int) -> list[Taken]:
        batch: list[Taken] = []
        while c.orphans and len(batch) < limit:
            batch.append(c.orphans.popleft())
        for state in c.shards.values():
            while state.buffered and len(batch) < limit:
                taken = state.buffered.popleft()
                state.taken.add(taken[0])
                batch.append(taken)
        return batch

    async def _read(self, c: _Consumer, shards: list[int], limit: int) -> None:
        c.reading = frozenset(shards)
        try:
            reply = cast(list[list[Any]], await self._redis.xreadgroup(
                INBOX_GROUP, c.name, {self._streams[s]: ">" for s in shards},
                count=limit, block=int(self._block * 1000),
            ))
        except redis.exceptions.ResponseError as exc:
            if not _streams_gone(exc):
                raise
            event(log, "inbox groups recreated", logging.WARNING, error=str(exc))
            await self._create_groups()
            return
        except BaseException:
            # Cancelled, timed out, disconnected: Redis may have handed out
            # entries whose reply never arrived. They are this consumer's in the
            # group now, and only it can take them.
            c.stranded.update(shards)
            raise
        finally:
            c.reading = frozenset()
        for stream, messages in reply:  # RESP2: [[stream, [(id, fields), ...]], ...]
            shard = self._shard_of[stream]
            state = c.shards.get(shard)
            # A shard lost while the read waited: its entries are ours in the
            # group, and nobody else will claim them before a later takeover.
            target = c.orphans if state is None else state.buffered
            target.extend(await self._decode(shard, messages))

    async def _recover(self, c: _Consumer) -> None:
        """Take back what a cancelled read left pending to this consumer: read
        its own pending entries of those shards (XREADGROUP from id 0) and keep
        the ones it never returned. They come after everything buffered, since
        that cancelled read was the last one."""
        for shard in sorted(c.stranded & set(c.shards)):
            state, known = c.shards[shard], c.known(shard)
            cursor = "0-0"
            while True:
                reply = cast(list[list[Any]], await self._redis.xreadgroup(
                    INBOX_GROUP, c.name, {self._streams[shard]: cursor}, count=_CLAIM_BATCH,
                ))
                messages = reply[0][1] if reply else []
                if not messages:
                    break
                cursor = messages[-1][0]
                state.buffered.extend(taken for taken in await self._decode(shard, messages)
                                      if taken[0] not in known)
        c.stranded.clear()

    async def _decode(self, shard: int, messages: list[Any]) -> list[Taken]:
        out: list[Taken] = []
        bad: list[bytes] = []
        for stream_id, fields in messages:
            if fields is None:  # deleted while pending: done already
                continue
            try:
                out.append((f"{shard}:{stream_id.decode()}", decode_entry(fields[ENTRY_FIELD])))
            except (msgspec.DecodeError, KeyError) as exc:
                # Not an entry this code can read (another version put it): it
                # would come back forever, so it is dropped, loudly.
                event(log, "inbox entry dropped", logging.ERROR, shard=shard,
                      id=stream_id.decode(), error=repr(exc))
                bad.append(stream_id)
        if bad:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(self._streams[shard], INBOX_GROUP, *bad)
                pipe.xdel(self._streams[shard], *bad)
                await pipe.execute()
        return out

    # --- leases ---
    async def _keep(self, c: _Consumer) -> None:
        """Renew the consumer's leases and rebalance, every third of the ttl (or
        at once when `done` drained a shard to hand over)."""
        while True:
            c.wake.clear()
            await _wait(c.wake, self._lease_ttl / 3)
            try:
                await self._round(c)
            except _RETRYABLE as exc:  # Redis is away: the next round tries again
                event(log, "inbox lease renewal failed", logging.WARNING,
                      consumer=c.name, error=repr(exc))
            except Exception as exc:
                if isinstance(exc, redis.exceptions.ResponseError) and _streams_gone(exc):
                    event(log, "inbox groups recreated", logging.WARNING, error=str(exc))
                    with contextlib.suppress(*_RETRYABLE):
                        await self._create_groups()
                    continue
                # Keep renewing whatever went wrong: a keeper that stopped would
                # let the leases run out under a live consumer.
                event(log, "inbox lease round failed", logging.ERROR,
                      consumer=c.name, error=repr(exc))

    async def _round(self, c: _Consumer) -> None:
        if c.unacked:
            unacked, c.unacked = c.unacked, {}
            try:
                await self._ack(unacked)
            except BaseException:
                for shard, stream_ids in unacked.items():
                    c.unacked.setdefault(shard, set()).update(stream_ids)
                raise
            self._acked(c, unacked)
        release = [s for s, state in c.shards.items() if state.draining and c.idle(s)]
        share, held_raw = await self._leases(
            keys=self._lease_keys,
            args=[c.holder, int(self._lease_ttl * 1000), c.start, *release],
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
            c.shards[shard] = _Shard(deque(await self._claim(shard, c)))
        self._rebalance(c, int(share))
        if set(c.shards) != before:
            c.changed.set()
        await self._find_strays(c)

    async def _find_strays(self, c: _Consumer) -> None:
        """Mark the shards where entries are pending to this consumer that it
        does not know of: its next take reads them again (see _STRAY_AFTER)."""
        shards = [s for s in c.shards if s not in c.stranded]
        if not shards:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for shard in shards:
                pipe.xpending_range(self._streams[shard], INBOX_GROUP, "-", "+", _CLAIM_BATCH,
                                    consumername=c.name, idle=int(_STRAY_AFTER * 1000))
            replies = await pipe.execute()
        for shard, pending in zip(shards, replies, strict=True):
            if shard not in c.shards:
                continue
            known = c.known(shard)
            strays = [p for p in pending if f"{shard}:{p['message_id'].decode()}" not in known]
            if strays:
                event(log, "inbox entries gone astray", logging.WARNING, consumer=c.name,
                      shard=shard, entries=len(strays))
                c.stranded.add(shard)
                c.changed.set()

    def _rebalance(self, c: _Consumer, share: int) -> None:
        """Mark the shards above the fair share draining (idle ones first), or
        take back drained ones when the share grew again; keep a shard whose
        taken entries outlived the drain timeout."""
        now = asyncio.get_running_loop().time()
        for shard, state in c.shards.items():
            if state.draining_since is not None and not c.idle(shard) \
                    and now - state.draining_since > self._drain_timeout:
                state.draining_since, state.stuck = None, True
                event(log, "inbox shard kept: taken entries not done", logging.WARNING,
                      consumer=c.name, shard=shard, entries=len(state.taken))
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

    async def _claim(self, shard: int, c: _Consumer) -> list[Taken]:
        """Take over every entry of the shard still pending in the group (taken by
        a consumer that died), oldest first, and drop the group's consumers that
        have nothing pending there any more."""
        stream = self._streams[shard]
        claimed: list[Taken] = []
        cursor: Any = "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                stream, INBOX_GROUP, c.name, min_idle_time=0, start_id=cursor,
                count=_CLAIM_BATCH,
            )
            claimed.extend(await self._decode(shard, reply[1]))
            cursor = reply[0]
            if cursor in (b"0-0", "0-0"):
                break
        if claimed:
            event(log, "inbox entries claimed", consumer=c.name, shard=shard,
                  entries=len(claimed))
        # Consumers that left stay in the group's list until removed; without
        # pending entries here, removing one changes nothing else.
        for info in await self._redis.xinfo_consumers(stream, INBOX_GROUP):
            name = info["name"]
            if info["pending"] == 0 and name not in (c.name, c.name.encode()):
                await self._redis.xgroup_delconsumer(stream, INBOX_GROUP, name)
        return claimed
