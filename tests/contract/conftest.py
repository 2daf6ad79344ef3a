"""Contract-suite fixtures: each test runs against every `Store` backend.

- sqlite: a SqliteStore in the test's tmp_path;
- postgres: a PostgresStore on PAIRCHAT_TEST_DATABASE_URL (default: the local
  PostgreSQL, 127.0.0.1:5432/test) in a fresh schema `t_<uuid hex>`, created with
  migrate() and dropped after the test.
When PostgreSQL cannot be reached its tests skip, except under CI=true where
they fail: CI provides PostgreSQL, so its absence there is a broken build.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from pairchat.storage.base import Store
from pairchat.storage.migrate import migrate, quote_ident, safe_url
from pairchat.storage.postgres import PostgresStore
from pairchat.storage.sqlite import SqliteStore

PG_URL = os.environ.get(
    "PAIRCHAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DEADLINE = 30.0  # seconds; the longest any contract test waits for the store

_probe: dict[str, str | None] = {}  # PG_URL -> why it is unreachable (None: reachable)


async def require_postgres() -> str:
    """PG_URL, once PostgreSQL answered there; otherwise fail the test under
    CI=true and skip it elsewhere, saying why."""
    if PG_URL not in _probe:
        try:
            conn = await asyncpg.connect(PG_URL, timeout=5)
            await conn.close()
            _probe[PG_URL] = None
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _probe[PG_URL] = f"{type(exc).__name__}: {exc}"
    reason = _probe[PG_URL]
    if reason is not None:
        message = f"PostgreSQL is not reachable at {safe_url(PG_URL)} ({reason})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(f"{message}; start it or set PAIRCHAT_TEST_DATABASE_URL")
    return PG_URL


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
