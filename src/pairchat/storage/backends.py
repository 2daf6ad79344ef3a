"""Choosing the backends of a process: embedded (SQLite file + memory) without
URLs, scaled (PostgreSQL + Redis) with them. Drivers are imported only when
their mode is used."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pairchat.config import option
from pairchat.errors import StartupError
from pairchat.storage.brokers import Brokers
from pairchat.storage.inbox import Inbox
from pairchat.storage.leases import Leases
from pairchat.storage.limits import Limits
from pairchat.storage.routing import Routing
from pairchat.storage.store import Store
from pairchat.storage.timers import Timers


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """The engines of a process: the embedded SQLite file, or (scaled) PostgreSQL
    and Redis."""

    data_dir: str = option("./data", "where the embedded SQLite store lives")
    database_url: str = option(
        "", "PostgreSQL URL for the durable store (scaled mode; with --redis-url)"
    )
    db_schema: str = option(
        "public", "PostgreSQL schema holding pairchat's tables", flag="--schema"
    )
    redis_url: str = option(
        "", "Redis URL for routing, match queue and inbox (scaled mode; with --database-url)"
    )
    redis_prefix: str = option(
        "pairchat:", "prefix of every Redis key: separates deployments sharing one Redis"
    )

    @property
    def scaled(self) -> bool:
        return bool(self.database_url or self.redis_url)

    def check(self) -> None:
        if self.scaled and not (self.database_url and self.redis_url):
            raise StartupError(
                "the scaled mode needs both --database-url (PostgreSQL) and --redis-url (Redis)"
            )


@dataclass(slots=True)
class Backends:
    store: Store
    routing: Routing
    timers: Timers
    inbox: Inbox
    brokers: Brokers
    limits: Limits
    leases: Leases
    scaled: bool
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                await closer()


async def open_backends(cfg: BackendConfig) -> Backends:
    """Open every backend or none; raises StoreUnavailable naming what it could
    not reach (never a password)."""
    cfg.check()
    if not cfg.scaled:
        from pairchat.storage.brokers_memory import MemoryBrokers
        from pairchat.storage.inbox_memory import MemoryInbox
        from pairchat.storage.leases_memory import MemoryLeases
        from pairchat.storage.limits_memory import MemoryLimits
        from pairchat.storage.routing_memory import MemoryRouting
        from pairchat.storage.store_sqlite import SqliteStore
        from pairchat.storage.timers_memory import MemoryTimers

        sqlite = SqliteStore(cfg.data_dir)
        await sqlite.open()
        return Backends(
            sqlite,
            MemoryRouting(),
            MemoryTimers(),
            MemoryInbox(),
            MemoryBrokers(),
            MemoryLimits(),
            MemoryLeases(),
            False,
            [sqlite.close],
        )

    from pairchat.storage.leases_redis import RedisLeases
    from pairchat.storage.limits_redis import RedisLimits
    from pairchat.storage.redis import connect_redis
    from pairchat.storage.redis_keys import Keys
    from pairchat.storage.store_postgres import PostgresStore

    redis = await connect_redis(cfg.redis_url, cfg.redis_prefix)
    postgres = PostgresStore(cfg.database_url, cfg.db_schema)
    try:
        await postgres.open()
    except BaseException:
        await redis.close()
        raise
    return Backends(
        postgres,
        redis.routing,
        redis.timers,
        redis.inbox,
        redis.brokers,
        RedisLimits(redis.redis, Keys(cfg.redis_prefix)),
        RedisLeases(redis.redis, Keys(cfg.redis_prefix)),
        True,
        [postgres.close, redis.close],
    )
