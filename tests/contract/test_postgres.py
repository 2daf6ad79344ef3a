"""What only the PostgreSQL store has: migrations and the schema-version check,
connection errors, the server's durability setting, lost connections, and the
requestId race between processes driven step by step."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

import pairchat.storage.store_postgres_schema as migrate_module
from pairchat.storage.records import NewMessage, SchemaVersionError, StoreUnavailable
from pairchat.storage.store_postgres import PostgresStore
from pairchat.storage.store_postgres_schema import (
    Migration,
    code_version,
    migrate,
    quote_ident,
)
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
        m.name for m in migrate_module.migrations()
    ]
    store = await opened(url, schema)
    await store.close()


async def test_open_refuses_a_schema_never_migrated(pg_schema: tuple[str, str], sql: Any) -> None:
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
            [sys.executable, "-m", "pairchat", "migrate", *args],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env={**os.environ, **env},
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
    pg_schema: tuple[str, str],
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
            "WHERE application_name = $1",
            name,
        )
        assert killed >= 1

        async def served() -> bool:
            try:
                return await store.get_account(account) is not None
            # A request on a dropped connection fails (callers answer code 2);
            # asyncpg raises InternalClientError if it sees the drop mid-request.
            except (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                OSError,
            ):
                return False

        assert await until(served)
    finally:
        await store.close()


# --- the requestId race between two processes ---
async def test_a_request_id_claimed_by_another_process_meanwhile_returns_its_message(
    pg_schema: tuple[str, str], sql: Any
) -> None:
    """Two processes send requestId k, to sessions s1 and s2; both look k up
    before either commits (a table lock holds their writes back). The one that
    claims k second must roll back and return the other's message as a
    duplicate, leaving no message and no gap in its session."""
    url, schema = pg_schema
    await migrate(url, schema)
    one, two = await opened(url, schema), await opened(url, schema)
    try:
        a = await one.create_account("a", b"h", 1)
        b = await one.create_account("b", b"h", 1)
        s1, s2 = await one.create_session(a, b, 1), await one.create_session(a, b, 1)

        def writers_waiting(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return bool(
                    await sql.fetchval(
                        "SELECT count(*) >= $1 FROM pg_locks "
                        "WHERE NOT granted AND relation = 'messages'::regclass",
                        n,
                    )
                )

            return check

        hold = sql.transaction()
        await hold.start()
        await sql.execute("LOCK TABLE messages IN SHARE MODE")  # blocks writes, not reads
        sends = []
        for store, session, content in ((one, s1, "one"), (two, s2, "two")):
            sends.append(
                asyncio.create_task(
                    store.append_messages([NewMessage(session, a, content, "k")], 5)
                )
            )
            await until(writers_waiting(len(sends)))  # it looked k up, now it waits
        await hold.commit()

        [[x], [y]] = await asyncio.wait_for(asyncio.gather(*sends), DEADLINE)
        kept, repeat = (y, x) if x.duplicate else (x, y)
        assert not kept.duplicate and repeat.duplicate
        assert dataclasses.replace(repeat, duplicate=False) == kept
        assert (kept.msg_id, kept.sender_id, kept.created_at) == (1, a, 5)
        lost = s2 if kept.session_id == s1 else s1
        assert [m.content for m in await two.history(kept.session_id, 0, 10)] == [kept.content]
        assert await two.history(lost, 0, 10) == []
        [next_message] = await two.append_messages([NewMessage(lost, b, "after", None)], 7)
        assert next_message.msg_id == 1  # the rolled-back attempt left no gap
    finally:
        await one.close()
        await two.close()
