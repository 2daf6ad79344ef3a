"""What only the PostgreSQL store has: migrations and the schema-version check,
connection errors, the server's durability setting, lost connections, and the
requestId race between processes driven step by step."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

import pairchat.storage.migrate as migrate_module
from pairchat.storage.base import NewMessage, StoredMessage, StoreUnavailable
from pairchat.storage.migrate import (
    Migration,
    SchemaVersionError,
    code_version,
    migrate,
    quote_ident,
)
from pairchat.storage.postgres import PostgresStore
from tests.contract.conftest import DEADLINE

UNREACHABLE = "postgresql://pairchat:s3cret@127.0.0.1:1/pairchat"


@pytest.fixture
async def sql(pg_schema: tuple[str, str]) -> AsyncIterator[Any]:
    """A plain connection working in the test's schema (autocommit)."""
    url, schema = pg_schema
    conn = await asyncpg.connect(url, server_settings={"search_path": quote_ident(schema)})
    yield conn
    await conn.close()


async def opened(url: str, schema: str) -> PostgresStore:
    store = PostgresStore(url, schema, pool_min=1, pool_max=2)
    await store.open()
    return store


async def until(condition: Callable[[], Awaitable[object]]) -> Any:
    """Poll condition() until it is truthy and return its value, for at most DEADLINE."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:
        if value := await condition():
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"still not true after {DEADLINE} s")
        await asyncio.sleep(0.01)


# --- migrations ---
async def test_migrate_applies_each_file_once(pg_schema: tuple[str, str], sql: Any) -> None:
    url, schema = pg_schema
    names = [m.name for m in migrate_module.migrations()]
    assert names[0] == "0001_initial" and len(names) == code_version()
    assert await migrate(url, schema) == names
    assert await migrate(url, schema) == []
    rows = await sql.fetch("SELECT version, name FROM schema_version ORDER BY version")
    assert [(r[0], r[1]) for r in rows] == list(enumerate(names, 1))


async def test_concurrent_migrations_apply_each_file_once(pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    results = await asyncio.wait_for(
        asyncio.gather(*(migrate(url, schema) for _ in range(4))), DEADLINE
    )
    assert sorted(name for applied in results for name in applied) == [
        m.name for m in migrate_module.migrations()]
    store = await opened(url, schema)
    await store.close()


async def test_open_refuses_a_schema_never_migrated(
    pg_schema: tuple[str, str], sql: Any
) -> None:
    url, schema = pg_schema
    store = PostgresStore(url, schema)
    with pytest.raises(SchemaVersionError, match=r"version 0, older .*run `pairchat migrate"):
        await store.open()
    # open() checked and did not migrate
    assert await sql.fetchval("SELECT to_regclass('accounts')") is None


async def test_an_older_schema_is_refused_until_migrated(
    pg_schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, schema = pg_schema
    await migrate(url, schema)
    shipped = migrate_module.migrations()
    upgrade = Migration(len(shipped) + 1, "9999_contract_upgrade", "CREATE TABLE upgraded ()")
    monkeypatch.setattr(migrate_module, "migrations", lambda: (*shipped, upgrade))

    with pytest.raises(SchemaVersionError, match=rf"{schema}.*older .*pairchat migrate") as err:
        await opened(url, schema)
    assert f"version {len(shipped)}" in str(err.value)
    assert await migrate(url, schema) == [upgrade.name]
    store = await opened(url, schema)
    await store.close()


async def test_a_newer_schema_is_refused_by_open_and_migrate(
    pg_schema: tuple[str, str], sql: Any
) -> None:
    url, schema = pg_schema
    await migrate(url, schema)
    newer = code_version() + 1
    await sql.execute("INSERT INTO schema_version (version, name) VALUES ($1, 'future')", newer)
    with pytest.raises(SchemaVersionError, match=f"version {newer}, newer .*upgrade pairchat"):
        await opened(url, schema)
    with pytest.raises(SchemaVersionError, match="upgrade pairchat"):
        await migrate(url, schema)


async def test_cli_migrate(pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pairchat", "migrate", *args], capture_output=True,
            text=True, timeout=DEADLINE, env={**os.environ, **env},
        )

    first = await asyncio.to_thread(run, "--database-url", url, "--schema", schema)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {m.name}" for m in migrate_module.migrations()]
    again = await asyncio.to_thread(run, "--schema", schema, PAIRCHAT_DATABASE_URL=url)
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
    down = await asyncio.to_thread(run, "--database-url", UNREACHABLE)
    assert down.returncode == 1
    assert "postgresql://pairchat@127.0.0.1:1/pairchat" in down.stderr
    assert "s3cret" not in down.stderr + down.stdout


# --- connecting ---
async def test_unreachable_postgres_is_named_without_its_password() -> None:
    for attempt in (PostgresStore(UNREACHABLE).open(), migrate(UNREACHABLE, "public")):
        with pytest.raises(StoreUnavailable) as err:
            await attempt
        assert "postgresql://pairchat@127.0.0.1:1/pairchat" in str(err.value)
        assert "s3cret" not in str(err.value)


async def test_open_refuses_a_database_without_synchronous_commit(
    pg_schema: tuple[str, str]
) -> None:
    url, schema = pg_schema
    await migrate(url, schema)
    with pytest.raises(RuntimeError, match="synchronous_commit is off"):
        await opened(f"{url}?synchronous_commit=off", schema)


async def test_the_store_reconnects_after_the_server_dropped_its_connections(
    pg_schema: tuple[str, str], sql: Any
) -> None:
    url, schema = pg_schema
    await migrate(url, schema)
    name = f"t_{uuid.uuid4().hex}"  # marks this store's connections, and only them
    store = await opened(f"{url}?application_name={name}", schema)
    try:
        account = await store.create_account("a", b"h", 1)
        killed = await sql.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1", name)
        assert killed >= 1

        async def served() -> bool:
            try:
                return await store.get_account(account) is not None
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                return False  # a request on a dropped connection fails; callers answer code 2

        assert await until(served)
    finally:
        await store.close()


# --- the requestId race between two processes ---
async def test_a_request_id_claimed_by_another_process_meanwhile_returns_its_message(
    pg_schema: tuple[str, str], sql: Any
) -> None:
    """Process one claims requestId k for session s1 and is held before its
    commit; process two, sending k to session s2, looks k up (not committed
    yet), then waits on the claim. Once one commits, two must roll back and
    return one's message as a duplicate, storing nothing in s2."""
    url, schema = pg_schema
    await migrate(url, schema)
    one, two = await opened(url, schema), await opened(url, schema)
    try:
        a = await one.create_account("a", b"h", 1)
        b = await one.create_account("b", b"h", 1)
        s1, s2 = await one.create_session(a, b, 1), await one.create_session(a, b, 1)

        hold = sql.transaction()
        await hold.start()
        await sql.execute("LOCK TABLE messages IN SHARE MODE")  # blocks inserts, not reads
        first = asyncio.create_task(one.append_messages([NewMessage(s1, a, "one", "k")], 5))
        one_pid = await until(lambda: sql.fetchval(
            "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE NOT l.granted AND c.oid = 'messages'::regclass"))
        second = asyncio.create_task(two.append_messages([NewMessage(s2, a, "two", "k")], 6))
        await until(lambda: sql.fetchval(
            "SELECT count(*) FROM pg_locks WHERE NOT granted "
            "AND $1 = ANY(pg_blocking_pids(pid))", one_pid))
        await hold.commit()

        stored = await asyncio.wait_for(asyncio.gather(first, second), DEADLINE)
        kept = StoredMessage(s1, 1, a, "one", 5)
        assert stored == [[kept], [StoredMessage(s1, 1, a, "one", 5, duplicate=True)]]
        assert await two.history(s2, 0, 10) == []
        [next_in_s2] = await two.append_messages([NewMessage(s2, b, "after", None)], 7)
        assert next_in_s2.msg_id == 1  # the rolled-back attempt left no gap
    finally:
        await one.close()
        await two.close()
