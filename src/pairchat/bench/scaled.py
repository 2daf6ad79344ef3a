"""The scaled mode of a spawned `pairchat up` (Redis + PostgreSQL): whether this
`pairchat up` has it, the flags that start it, and the removal of what a run
left in the two engines.

Each run lives in a schema and a key prefix of its own (`bench_<random>`), so
it never meets the accounts or the waiting MATCHes of an earlier run or of
another deployment sharing the engines, and both are dropped when it ends.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from dataclasses import dataclass, field

CLEANUP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Scaled:
    redis_url: str
    database_url: str
    logics: int = 1
    workers: int = 1
    namespace: str = field(default_factory=lambda: f"bench_{secrets.token_hex(4)}")

    def argv(self) -> list[str]:
        """The `pairchat up` flags of this scaled system."""
        return [
            "--redis-url",
            self.redis_url,
            "--redis-prefix",
            f"{self.namespace}:",
            "--database-url",
            self.database_url,
            "--schema",
            self.namespace,
            "--logics",
            str(self.logics),
            "--workers",
            str(self.workers),
        ]

    def drop(self) -> None:
        """Removes the run's schema and keys (best effort: a failure only leaves
        garbage behind, which is named by the namespace)."""
        import asyncpg  # type: ignore[import-untyped]
        import redis

        async def drop_schema() -> None:
            conn = await asyncpg.connect(self.database_url, timeout=CLEANUP_TIMEOUT)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.namespace}" CASCADE')
            finally:
                await conn.close()

        try:
            asyncio.run(drop_schema())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            print(f"pairchat bench: could not drop schema {self.namespace}: {exc}", file=sys.stderr)
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=CLEANUP_TIMEOUT)
            keys = list(client.scan_iter(match=f"{self.namespace}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        except redis.RedisError as exc:
            print(
                f"pairchat bench: could not delete keys {self.namespace}:*: {exc}", file=sys.stderr
            )


def up_supports_scaled() -> bool:
    """Whether this `pairchat up` has the scaled mode (a `--redis-url` flag)."""
    out = subprocess.run(
        [sys.executable, "-m", "pairchat", "up", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "--redis-url" in out.stdout
