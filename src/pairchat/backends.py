"""Choosing the backends of a process: embedded (SQLite file + memory) without
URLs, scaled (PostgreSQL + Redis) with them. Drivers are imported only when
their mode is used."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pairchat.storage.base import Store
from pairchat.storage.routing import Brokers, Inbox, Routing, Timers


@dataclass(frozen=True, slots=True)
class BackendConfig:
    data_dir: str = "./data"
    database_url: str = ""
    db_schema: str = "public"
    redis_url: str = ""
    redis_prefix: str = "pairchat:"

    @property
    def scaled(self) -> bool:
        return bool(self.database_url or self.redis_url)

    def check(self) -> None:
        if self.scaled and not (self.database_url and self.redis_url):
            raise SystemExit(
                "the scaled mode needs both --database-url (PostgreSQL) and --redis-url (Redis)"
            )


@dataclass(slots=True)
class Backends:
    store: Store
    routing: Routing
    timers: Timers
    inbox: Inbox
    brokers: Brokers
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
        from pairchat.storage.memory import (
            MemoryBrokers,
            MemoryInbox,
            MemoryRouting,
            MemoryTimers,
        )
        from pairchat.storage.sqlite import SqliteStore

        sqlite = SqliteStore(cfg.data_dir)
        await sqlite.open()
        return Backends(
            sqlite,
            MemoryRouting(),
            MemoryTimers(),
            MemoryInbox(),
            MemoryBrokers(),
            False,
            [sqlite.close],
        )

    from pairchat.storage.postgres import PostgresStore
    from pairchat.storage.redis import connect_redis

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
        True,
        [postgres.close, redis.close],
    )
