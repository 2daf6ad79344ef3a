"""Contract-suite fixtures: each test runs against every backend of its interface.

`Store` (fixture `backend`, `store`):
- sqlite: a SqliteStore in the test's tmp_path;
- postgres: a PostgresStore on PAIRCHAT_TEST_DATABASE_URL (default: the local
  PostgreSQL, 127.0.0.1:5432/test) in a fresh schema `t_<uuid hex>`, created with
  migrate() and dropped after the test.
`Routing`, `Timers`, `Inbox`, `Brokers` (fixture `shared`; `redis_shared` for the
tests of what only Redis has):
- memory: MemoryRouting() and friends, the one process of the embedded mode;
- redis: connect_redis on PAIRCHAT_TEST_REDIS_URL (default: the local Redis,
  127.0.0.1:6379/0) under a fresh key prefix `test:<uuid hex>:`, whose keys are
  deleted after the test.
When PostgreSQL or Redis cannot be reached their tests skip, except under CI=true
where they fail: CI provides both, so an absence there is a broken build.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis.asyncio
import redis.exceptions

from pairchat.storage.brokers import Brokers
from pairchat.storage.brokers_memory import MemoryBrokers
from pairchat.storage.inbox import Inbox
from pairchat.storage.inbox_memory import MemoryInbox
from pairchat.storage.redis import connect_redis, safe_redis_url
from pairchat.storage.routing import Routing
from pairchat.storage.routing_memory import MemoryRouting
from pairchat.storage.store import Store
from pairchat.storage.store_postgres import PostgresStore
from pairchat.storage.store_postgres_schema import migrate, quote_ident, safe_url
from pairchat.storage.store_sqlite import SqliteStore
from pairchat.storage.timers import Timers
from pairchat.storage.timers_memory import MemoryTimers

PG_URL = os.environ.get("PAIRCHAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PAIRCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEADLINE = 30.0  # seconds; the longest any contract test waits for the store

_probe: dict[str, str | None] = {}  # URL -> why it is unreachable (None: reachable)


def skip_or_fail(engine: str, where: str, reason: str, variable: str) -> None:
    """An engine the test needs is unreachable: fail under CI=true (CI provides
    it), skip elsewhere, saying why either way."""
    message = f"{engine} is not reachable at {where} ({reason})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(f"{message}; start it or set {variable}")


async def require_postgres() -> str:
    """PG_URL, once PostgreSQL answered there; otherwise fail or skip the test."""
    if PG_URL not in _probe:
        try:
            conn = await asyncpg.connect(PG_URL, timeout=5)
            await conn.close()
            _probe[PG_URL] = None
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _probe[PG_URL] = f"{type(exc).__name__}: {exc}"
    reason = _probe[PG_URL]
    if reason is not None:
        skip_or_fail("PostgreSQL", safe_url(PG_URL), reason, "PAIRCHAT_TEST_DATABASE_URL")
    return PG_URL


async def require_redis() -> str:
    """REDIS_URL, once Redis answered there; otherwise fail or skip the test."""
    if REDIS_URL not in _probe:
        client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
        try:
            await client.ping()
            _probe[REDIS_URL] = None
        except (OSError, redis.exceptions.RedisError) as exc:
            _probe[REDIS_URL] = f"{type(exc).__name__}: {exc}"
        finally:
            await client.aclose()
    reason = _probe[REDIS_URL]
    if reason is not None:
        skip_or_fail("Redis", safe_redis_url(REDIS_URL), reason, "PAIRCHAT_TEST_REDIS_URL")
    return REDIS_URL


async def drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    finally:
        await conn.close()


class Backend:
    """Opens stores on one storage location (a directory or a schema), as
    separate processes would; closes those still open at teardown."""

    def __init__(self, name: str, factory: Callable[[], Store]) -> None:
        self.name = name
        self._factory = factory
        self._open: list[Store] = []

    async def open_store(self) -> Store:
        store = self._factory()
        await store.open()
        self._open.append(store)
        return store

    async def close_store(self, store: Store) -> None:
        self._open.remove(store)
        await store.close()

    async def close_all(self) -> None:
        while self._open:
            await self.close_store(self._open[-1])


@pytest.fixture
async def pg_schema() -> AsyncIterator[tuple[str, str]]:
    """(url, schema) of a schema name nobody uses yet; dropped after the test."""
    url = await require_postgres()
    schema = f"t_{uuid.uuid4().hex}"
    try:
        yield url, schema
    finally:
        await drop_schema(url, schema)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        backend = Backend("sqlite", lambda: SqliteStore(tmp_path))
        yield backend
        await backend.close_all()
        return
    url = await require_postgres()
    schema = f"t_{uuid.uuid4().hex}"
    try:
        await migrate(url, schema)
        backend = Backend("postgres", lambda: PostgresStore(url, schema, pool_min=1, pool_max=4))
        try:
            yield backend
        finally:
            await backend.close_all()
    finally:
        await drop_schema(url, schema)


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open_store()


# --- routing, timers, inbox, brokers ---
@dataclass
class Process:
    """The shared-state backends as one process holds them."""

    routing: Routing
    timers: Timers
    inbox: Inbox
    brokers: Brokers
    close: Callable[[], Awaitable[None]]


class Shared:
    """Opens processes on one shared state, as a deployment would. The embedded
    mode has one process, so `memory` returns the same one each time; `redis`
    connects anew, under the test's key prefix."""

    def __init__(self, name: str, prefix: str = "") -> None:
        self.name = name
        self.prefix = prefix
        self._memory: Process | None = None
        self._open: list[Process] = []

    async def open(self, **redis_options: Any) -> Process:
        if self.name == "memory":
            if self._memory is None:
                routing, inbox = MemoryRouting(), MemoryInbox()

                async def close() -> None:
                    await routing.close()
                    await inbox.close()

                self._memory = Process(routing, MemoryTimers(), inbox, MemoryBrokers(), close)
                self._open.append(self._memory)
            return self._memory
        backends = await connect_redis(REDIS_URL, self.prefix, **redis_options)
        process = Process(
            backends.routing, backends.timers, backends.inbox, backends.brokers, backends.close
        )
        self._open.append(process)
        return process

    async def close(self, process: Process) -> None:
        """Close one process cleanly (a redis one gives up its inbox leases)."""
        self._open.remove(process)
        await process.close()

    async def close_all(self) -> None:
        while self._open:
            await self.close(self._open[-1])


async def delete_prefix(url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(url)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await client.delete(*batch)
                batch.clear()
        if batch:
            await client.delete(*batch)
    finally:
        await client.aclose()


async def open_shared(name: str) -> AsyncIterator[Shared]:
    if name == "memory":
        shared = Shared("memory")
        yield shared
        await shared.close_all()
        return
    url = await require_redis()
    shared = Shared("redis", f"test:{uuid.uuid4().hex}:")
    try:
        yield shared
    finally:
        try:
            await shared.close_all()
        finally:
            await delete_prefix(url, shared.prefix)


@pytest.fixture(params=["memory", "redis"])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[Shared]:
    async for value in open_shared(request.param):
        yield value


@pytest.fixture
async def redis_shared() -> AsyncIterator[Shared]:
    """For what only the Redis backends have: several processes, leases, clocks."""
    async for value in open_shared("redis"):
        yield value
