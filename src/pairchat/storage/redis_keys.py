"""The Redis key schema of the scaled mode, in one place, and the Lua scripts
that change several keys at once.

Every key starts with the deployment's prefix P (default "pairchat:"); tests
give each case its own prefix. Ids are decimal strings.

Routing (routing_redis.py):
    P route              hash    account -> "broker_id|conn_id" of its connection
    P online             set     accounts that have a route (exactly the fields of P route)
    P on:<broker_id>     set     accounts routed to that broker (for `routed_to`)
    P partners:<account> set     accounts it has an open or reserved session with;
                                 its size is the account's session count (capacity)
    P session            hash    open session id -> "a,b" (its two members)
    P open:<account>     set     ids of the account's open sessions
    P queue              list    match queue entries, oldest at the head; an entry
                                 is "account|strict|interests|token": strict "1" or
                                 "0", interests each percent-encoded (every byte
                                 but A-Z a-z 0-9 _ . - ~, uppercase hex) and joined
                                 by ",", the token last (only it may contain "|")
    P queued:<account>   hash    token -> its queue entry, so that going offline or
                                 leaving drops exact entries without scanning the queue
    P blocks:<account>   set     accounts it is never paired with (both directions
                                 are stored: a block is symmetric)
    P unavailable        set     accounts that random picks of `pair` skip
    P replay             hash    "account:session" -> pending replays (> 0)
    P loaded             string  set once the durable state was loaded (`claim_load`)
    P notify:<process>   channel pub/sub: (token, payload) for the MATCH requests
                                 waiting in that logic process
Timers (timers_redis.py):
    P grace              zset    account -> end of its offline grace (epoch seconds)
Brokers (brokers_redis.py):
    P broker             hash    broker_id -> push target of a live broker
    P broker:deadline    zset    broker_id -> end of its liveness (Redis server
                                 time, epoch seconds, so clocks of hosts don't matter)
    P broker:holder      hash    broker_id -> the logic process that last renewed it
Inbox (inbox_redis.py, inbox_redis_shards.py):
    P inbox:shards       string  the shard count every process must agree on
    P inbox:<n>          stream  entries of the sessions with id % shards == n,
                                 field "e" = msgpack entry; consumer group "workers"
    P inbox:lease:<n>    string  the consumer holding shard n (expires: PX lease ttl)
    P inbox:consumers    zset    live consumers -> end of their heartbeat (server ms)
Leases (leases_redis.py):
    P lease:<name>       string  the process doing that duty ("purge": retention)
                                 (expires: PX lease ttl)
Limits (limits_redis.py):
    P limit:<key>        string  events counted in the key's rate-limit window;
                                 expires (PX) when the window ends. <key> is
                                 "<limit name>:<subject>", e.g. accounts:203.0.113.9

Scripts build the per-account and per-broker keys (partners:<id>, ...) from the
key prefixes they receive in ARGV, because which accounts they touch is only
known inside the script (the candidates of `pair`). Standalone Redis and
Sentinel allow that; on Redis Cluster every key must then live in one slot: use
a prefix with a hash tag, such as "{pairchat}:".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

INBOX_GROUP = "workers"
ENTRY_FIELD = b"e"


@dataclass(frozen=True, slots=True)
class Keys:
    """The names of one deployment's keys (see the module docstring)."""

    prefix: str

    # --- routing ---
    @property
    def route(self) -> str:
        return self.prefix + "route"

    @property
    def online(self) -> str:
        return self.prefix + "online"

    @property
    def on_broker(self) -> str:
        """Prefix of `P on:<broker_id>`."""
        return self.prefix + "on:"

    @property
    def partners(self) -> str:
        """Prefix of `P partners:<account>`."""
        return self.prefix + "partners:"

    @property
    def session(self) -> str:
        return self.prefix + "session"

    @property
    def open_sessions(self) -> str:
        """Prefix of `P open:<account>`."""
        return self.prefix + "open:"

    @property
    def queue(self) -> str:
        return self.prefix + "queue"

    @property
    def queued(self) -> str:
        """Prefix of `P queued:<account>`."""
        return self.prefix + "queued:"

    @property
    def blocks(self) -> str:
        """Prefix of `P blocks:<account>`."""
        return self.prefix + "blocks:"

    @property
    def unavailable(self) -> str:
        return self.prefix + "unavailable"

    @property
    def replay(self) -> str:
        return self.prefix + "replay"

    @property
    def loaded(self) -> str:
        return self.prefix + "loaded"

    def notify(self, process_id: str) -> str:
        return f"{self.prefix}notify:{process_id}"

    # --- timers and brokers ---
    @property
    def grace(self) -> str:
        return self.prefix + "grace"

    @property
    def broker(self) -> str:
        return self.prefix + "broker"

    @property
    def broker_deadline(self) -> str:
        return self.prefix + "broker:deadline"

    @property
    def broker_holder(self) -> str:
        return self.prefix + "broker:holder"

    # --- inbox ---
    @property
    def inbox_shards(self) -> str:
        return self.prefix + "inbox:shards"

    def inbox(self, shard: int) -> str:
        return f"{self.prefix}inbox:{shard}"

    def lease(self, shard: int) -> str:
        return f"{self.prefix}inbox:lease:{shard}"

    @property
    def consumers(self) -> str:
        return self.prefix + "inbox:consumers"

    # --- leases ---
    def duty_lease(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    # --- limits ---
    def limit(self, key: str) -> str:
        return f"{self.prefix}limit:{key}"


def as_text(raw: bytes | str) -> str:
    """A reply as text: the pool does not decode replies (inbox entries are
    binary), so strings come back as bytes."""
    return raw.decode() if isinstance(raw, bytes) else raw


@functools.cache
def script_source(name: str) -> str:
    """The text of `lua/<name>.lua`, shipped as package data."""
    return (resources.files("pairchat.storage") / "lua" / f"{name}.lua").read_text("utf-8")


def script(redis: Redis, name: str) -> AsyncScript:
    """A callable for `lua/<name>.lua`: EVALSHA, loading the script again if the
    server forgot it (a restart empties Redis' script cache)."""
    return redis.register_script(script_source(name))


async def load_scripts(redis: Redis, names: list[str]) -> None:
    """SCRIPT LOAD every script once at start-up, so a syntax error surfaces
    there and the first calls need no retry."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.script_load(script_source(name))
        await pipe.execute()
