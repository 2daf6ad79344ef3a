"""The PostgreSQL store's schema: versioned migrations, how to apply them, how
to check them, and how a connection is opened.

Migrations are the files `migrations/postgres/NNNN_name.sql`, numbered 1..N and
applied in order by `pairchat migrate`, each in its own transaction that also
records it in the `schema_version` table (migrate's own bookkeeping, created
before the first file so that every file, the first included, is recorded the
same way). The store never migrates by itself:
many logic processes start at once and an operator decides when a shared
schema changes, so `PostgresStore.open()` only checks that the schema's version
is this code's (`code_version()`) and refuses to run otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from pairchat.obs import event
from pairchat.storage.records import SchemaVersionError, StoreUnavailable

log = logging.getLogger("pairchat.storage")

CONNECT_TIMEOUT = 10.0  # seconds; an unreachable host fails start-up within it

# pg_advisory_xact_lock(class, key): the class marks pairchat's migration lock,
# the key is the schema's hash, so migrating different schemas does not serialize.
_LOCK_CLASS = 0x70636D67
_FILE_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # the file name without .sql, as recorded in schema_version
    sql: str


# --- the migration files ---
@functools.cache
def migrations() -> tuple[Migration, ...]:
    """The migrations shipped with this pairchat, in version order.

    Raises:
        RuntimeError: the files are not numbered 1..N (a packaging bug).
    """
    folder = resources.files("pairchat.storage") / "migrations" / "postgres"
    found = sorted(
        (
            Migration(int(match[1]), entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
            for entry in folder.iterdir()
            if (match := _FILE_NAME.fullmatch(entry.name))
        ),
        key=lambda m: m.version,
    )
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        names = [m.name for m in found]
        raise RuntimeError(f"PostgreSQL migrations are not numbered 1..N: {names}")
    return tuple(found)


def code_version() -> int:
    """The schema version this code reads and writes: its last migration's."""
    return len(migrations())


# --- connecting ---
def safe_url(url: str) -> str:
    """The URL to show in messages and logs: without its password."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return re.sub(r"(?i)(password\s*=\s*)\S+", r"\1***", url)
    user, at, host = parts.netloc.rpartition("@")
    netloc = f"{user.split(':', 1)[0]}@{host}" if at else host
    query = urlencode(
        [
            (k, "***" if k.lower() == "password" else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def server_settings(url: str, schema: str) -> dict[str, str]:
    """Startup parameters of every connection. search_path is one of them rather
    than a SET because a pooled connection's reset (RESET ALL) returns to the
    startup values, so no connection ever leaves the schema. application_name
    defaults to "pairchat" unless the URL names the process itself."""
    settings = {"search_path": quote_ident(schema)}
    if "application_name" not in dict(parse_qsl(urlsplit(url).query)):
        settings["application_name"] = "pairchat"
    return settings


def unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"cannot connect to PostgreSQL at {safe_url(url)}: {exc}")


# What asyncpg raises when it cannot open a connection: network errors and
# timeouts (OSError), refusals by the server (PostgresError: authentication,
# unknown database, shutting down) and a URL it cannot parse (InterfaceError).
CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


async def connect(url: str, schema: str) -> Any:
    """One connection working in `schema`.

    Raises:
        StoreUnavailable: PostgreSQL cannot be reached or refuses the connection.
    """
    try:
        return await asyncpg.connect(
            url, timeout=CONNECT_TIMEOUT, server_settings=server_settings(url, schema)
        )
    except CONNECT_ERRORS as exc:
        raise unavailable(url, exc) from exc


# --- versions ---
async def schema_version(conn: Any) -> int:
    """The version of the connection's schema; 0 if it was never migrated."""
    if not await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL"):
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))


async def check_version(conn: Any, url: str, schema: str) -> None:
    """Raises:
    SchemaVersionError: the schema is older or newer than this code.
    """
    error = _version_error(await schema_version(conn), url, schema)
    if error is not None:
        raise error


def _version_error(found: int, url: str, schema: str) -> SchemaVersionError | None:
    wanted = code_version()
    where = f"the PostgreSQL schema {schema!r} at {safe_url(url)}"
    if found < wanted:
        return SchemaVersionError(
            f"{where} is at version {found}, older than this pairchat's {wanted}: "
            f"run `pairchat migrate --database-url URL --schema {schema}` first"
        )
    if found > wanted:
        return SchemaVersionError(
            f"{where} is at version {found}, newer than this pairchat's {wanted}: upgrade pairchat"
        )
    return None


# --- applying ---
async def migrate(url: str, schema: str = "public") -> list[str]:
    """Create `schema` if needed and apply its pending migrations in order, each
    in one transaction under an advisory lock, so processes migrating at once
    apply each file exactly once. Returns the names applied (empty if none).

    Raises:
        StoreUnavailable: PostgreSQL cannot be reached.
        SchemaVersionError: the schema is newer than this code.
    """
    conn = await connect(url, schema)
    try:
        async with conn.transaction():
            await _lock(conn, schema)
            if not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema
            ):
                # Only when missing: CREATE SCHEMA IF NOT EXISTS would still
                # demand the CREATE privilege on the database.
                await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
            await conn.execute(_VERSION_TABLE)
        applied: list[str] = []
        for migration in migrations():
            async with conn.transaction():
                await _lock(conn, schema)
                found = await schema_version(conn)
                error = _version_error(found, url, schema)
                if error is not None and found > code_version():
                    raise error
                if found >= migration.version:
                    continue
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            event(log, "migration applied", schema=schema, migration=migration.name)
            applied.append(migration.name)
        return applied
    finally:
        await conn.close()


async def _lock(conn: Any, schema: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS, schema)


def migrate_command(url: str, schema: str) -> int:
    """`pairchat migrate`: apply, print what was applied, and return the exit code."""
    if not url:
        print("pairchat migrate: set --database-url or PAIRCHAT_DATABASE_URL", file=sys.stderr)
        return 2
    try:
        applied = asyncio.run(migrate(url, schema))
    except (StoreUnavailable, SchemaVersionError) as exc:
        print(f"pairchat migrate: {exc}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:  # e.g. no privilege to create tables
        print(
            f"pairchat migrate: migrating {schema!r} at {safe_url(url)} failed: {exc}",
            file=sys.stderr,
        )
        return 1
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print(f"schema {schema!r} at {safe_url(url)} is up to date (version {code_version()})")
    return 0
