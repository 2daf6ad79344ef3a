"""`Inbox` (inbox.py) on Redis Streams: several delivery workers share the load,
entries of one session stay in order, and what a dead worker took is taken
again. The shards and their leases are in inbox_redis_shards.py."""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import Sequence
from typing import Any, Final, cast

import redis.exceptions
from redis.asyncio import Redis

from pairchat.errors import StartupError
from pairchat.obs import event
from pairchat.storage import inbox_redis_shards
from pairchat.storage.inbox import Entry, encode_entry
from pairchat.storage.inbox_redis_shards import (
    BATCH,
    Consumer,
    Leases,
    Streams,
    Taken,
    streams_gone,
    wait_for_event,
)
from pairchat.storage.redis_keys import ENTRY_FIELD, INBOX_GROUP, Keys

log = logging.getLogger("pairchat.storage")

SCRIPTS: Final = inbox_redis_shards.SCRIPTS
DEFAULT_SHARDS: Final = 16
DEFAULT_LEASE_TTL: Final = 5.0  # seconds: how long the shards of a dead worker stall
DEFAULT_DRAIN_TIMEOUT: Final = 30.0  # seconds a shard to hand over waits for `done`
BLOCK: Final = 1.0  # seconds one XREADGROUP waits, so that `take` notices new shards


class InboxConfigError(StartupError):
    """Processes of one deployment disagree on the inbox's shard count."""


class RedisInbox:
    """`Inbox` on `shards` Redis streams with one consumer group.

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
    Two failures bend this, never losing an entry: a consumer stalled for longer
    than the lease ttl while alive (another consumer takes its shards over
    meanwhile, and both may push the same entries, in either order), and a read
    whose reply was lost after it was given up (Redis stalled, then ran it late:
    the lease round finds its entries pending and `take` returns them late).
    Pushes are at-least-once, and clients drop duplicates by (sessionId, msgId).

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

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        shards: int = DEFAULT_SHARDS,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        block: float = BLOCK,
    ) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        if min(lease_ttl, drain_timeout, block) <= 0:
            raise ValueError("lease_ttl, drain_timeout and block must be positive")
        self._redis = redis
        self._keys = keys
        self.shards = shards
        self._block = block
        self._streams = Streams(redis, keys, shards)
        self._leases = Leases(
            redis, keys, self._streams, lease_ttl=lease_ttl, drain_timeout=drain_timeout
        )
        self._instance = uuid.uuid4().hex[:12]
        self._consumers: dict[str, Consumer] = {}
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
                stream = self._streams.names[entry.session_id % self.shards]
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
                await wait_for_event(c.changed, self._block)
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
            await self._streams.ack(by_shard)
        except Exception:
            if c is not None:  # delivered all the same: never to be taken again
                for shard, stream_ids in by_shard.items():
                    c.unacked.setdefault(shard, set()).update(stream_ids)
            raise
        if c is not None:
            c.acked(by_shard)

    async def close(self) -> None:
        """Stop every consumer of this process and give up its leases, so that
        other consumers take its shards at once (and take again what it took but
        did not mark done). The connection pool is the creator's to close."""
        self._closed = True
        for c in list(self._consumers.values()):
            await self._leases.stop(c)
        self._consumers.clear()

    # --- the consumer's side, inside this process ---
    async def _join(self, name: str) -> Consumer:
        c = self._consumers.get(name)
        if c is not None:
            return c
        async with self._joining:
            c = self._consumers.get(name)
            if c is not None:
                return c
            if self._closed:
                raise RuntimeError("the inbox is closed")
            await self._streams.create_groups()
            holder = f"{name}#{self._instance}"
            c = Consumer(name, holder, zlib.crc32(holder.encode()) % self.shards)
            await self._leases.round(c)  # errors reach the caller rather than a log
            self._leases.start(c)
            self._consumers[name] = c
            return c

    def _pop(self, c: Consumer, limit: int) -> list[Taken]:
        batch: list[Taken] = []
        while c.orphans and len(batch) < limit:
            batch.append(c.orphans.popleft())
        for state in c.shards.values():
            while state.buffered and len(batch) < limit:
                taken = state.buffered.popleft()
                state.taken.add(taken[0])
                batch.append(taken)
        return batch

    async def _read(self, c: Consumer, shards: list[int], limit: int) -> None:
        c.reading = frozenset(shards)
        try:
            reply = cast(
                list[list[Any]],
                await self._redis.xreadgroup(
                    INBOX_GROUP,
                    c.name,
                    {self._streams.names[s]: ">" for s in shards},
                    count=limit,
                    block=int(self._block * 1000),
                ),
            )
        except redis.exceptions.ResponseError as exc:
            if not streams_gone(exc):
                raise
            event(log, "inbox groups recreated", logging.WARNING, error=str(exc))
            await self._streams.create_groups()
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
            shard = self._streams.shard_of[stream]
            state = c.shards.get(shard)
            # A shard lost while the read waited: its entries are ours in the
            # group, and nobody else will claim them before a later takeover.
            target = c.orphans if state is None else state.buffered
            target.extend(await self._streams.decode(shard, messages))

    async def _recover(self, c: Consumer) -> None:
        """Take back what reads that went astray left pending to this consumer:
        read its own pending entries of those shards (XREADGROUP from id 0) and
        keep the ones it never returned. After a cancelled or failed read they
        come after everything buffered, since that read was the last one; ones
        found later by the lease round come late (see the class docstring)."""
        for shard in sorted(c.stranded & set(c.shards)):
            state, known = c.shards[shard], c.known(shard)
            cursor = "0-0"
            while True:
                reply = cast(
                    list[list[Any]],
                    await self._redis.xreadgroup(
                        INBOX_GROUP,
                        c.name,
                        {self._streams.names[shard]: cursor},
                        count=BATCH,
                    ),
                )
                messages = reply[0][1] if reply else []
                if not messages:
                    break
                cursor = messages[-1][0]
                state.buffered.extend(
                    taken
                    for taken in await self._streams.decode(shard, messages)
                    if taken[0] not in known
                )
        c.stranded.clear()
