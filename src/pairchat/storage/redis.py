"""The scaled mode's routing, timers, inbox and broker liveness on Redis.

`connect_redis` opens one connection pool and builds the four backends on it:
`RedisRouting` (routing_redis.py), `RedisTimers` (timers_redis.py),
`RedisBrokers` (brokers_redis.py) and `RedisInbox` (inbox_redis.py, its shards
and leases in inbox_redis_shards.py: the delivery workers' queue on sharded
Streams). The key schema is declared, in full, at the top of redis_keys.py; the
steps that change several keys are the Lua scripts in lua/, one file each.

Commands are retried only on connection errors (a connection that broke before
its reply): a timeout may mean the command ran, and a second `pair` or
`take_due` must not run it twice.

Connections send commands under `asyncio.timeout` rather than redis-py's
`asyncio.wait_for`, which on Python 3.11 loses a cancellation that arrives just
as the send completes: the cancelled task then carries on (an inbox consumer
would never stop). See `_KeepsCancellation`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis.exceptions
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from pairchat.storage import brokers_redis, inbox_redis, routing_redis, timers_redis
from pairchat.storage.brokers_redis import RedisBrokers
from pairchat.storage.inbox_redis import (
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_LEASE_TTL,
    DEFAULT_SHARDS,
    RedisInbox,
)
from pairchat.storage.records import StoreUnavailable
from pairchat.storage.redis_keys import Keys, load_scripts
from pairchat.storage.routing_redis import RedisRouting
from pairchat.storage.timers_redis import RedisTimers

CONNECT_TIMEOUT: Final = 5.0  # seconds; an unreachable host fails start-up within it
# Seconds a reply may take. It must exceed the inbox's blocking read (1 s).
SOCKET_TIMEOUT: Final = 5.0
_RETRIES: Final = 3
MAX_CONNECTIONS: Final = 64  # per process; blocking inbox reads and pub/sub take one each


def safe_redis_url(url: str) -> str:
    """The URL to show in messages and logs: without its password (in the
    authority or as a `password` query parameter)."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    netloc = f"{name}@{host}" if at and name else host
    query = urlencode(
        [
            (k, "***" if k.lower() == "password" else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    # Built by hand: urlunsplit drops the "//" of an empty authority (unix:///path).
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


class _KeepsCancellation(AbstractConnection):
    """redis-py 8.1's `send_packed_command` with the write bounded by
    `asyncio.timeout` instead of `asyncio.wait_for` (see the module docstring);
    everything else as in redis-py, which pyproject pins."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        try:
            if isinstance(command, str):
                command = command.encode()
            if isinstance(command, bytes):
                command = [command]
            async with asyncio.timeout(self.socket_timeout or None):
                await self._send_packed_command(command)
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise redis.exceptions.TimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            raise redis.exceptions.ConnectionError(
                f"Error {exc.errno or 'UNKNOWN'} while writing to socket. {exc.strerror or exc}."
            ) from exc
        except BaseException:
            # A send cut short leaves the protocol state unknown: never reuse it.
            await self.disconnect(nowait=True)
            raise


def _keeping_cancellation(connection_class: type[Any]) -> type[Any]:
    """The pool's connection class (TCP, TLS or Unix socket, by URL scheme) with
    `_KeepsCancellation`'s send."""
    return type(
        f"{connection_class.__name__}KeepingCancellation",
        (_KeepsCancellation, connection_class),
        {},
    )


@dataclass(slots=True)
class RedisBackends:
    """The four backends of one process, on one connection pool."""

    routing: RedisRouting
    timers: RedisTimers
    inbox: RedisInbox
    brokers: RedisBrokers
    redis: Redis = field(repr=False)

    async def close(self) -> None:
        """Stop listening and consuming (giving up inbox leases), then close the
        pool. Safe to call twice."""
        try:
            await self.routing.close()
            await self.inbox.close()
        finally:
            await self.redis.aclose()


async def connect_redis(
    url: str,
    prefix: str = "pairchat:",
    *,
    inbox_shards: int = DEFAULT_SHARDS,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
) -> RedisBackends:
    """Connect to Redis at `url` and build the backends, their keys under `prefix`.

    Args:
        url: redis://, rediss:// or unix:// URL; its password never appears in
            errors.
        prefix: start of every key, which separates deployments (and tests)
            sharing one Redis.
        inbox_shards: inbox streams; every process of a deployment must agree.
        lease_ttl: seconds the inbox shards of a worker that died stay with it.
        drain_timeout: seconds an inbox shard being handed over to a new worker
            waits for what was taken from it to be done.

    Raises:
        StoreUnavailable: Redis cannot be reached, refuses the connection, or
            the URL is not a Redis URL.
        InboxConfigError: the deployment's inbox has another shard count.
    """
    safe = safe_redis_url(url)
    try:
        # A blocking pool: a burst of requests (a thousand users signing in at
        # once) waits for a connection instead of failing with "too many".
        client = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=SOCKET_TIMEOUT,
                retry=Retry(
                    ExponentialWithJitterBackoff(cap=1.0, base=0.05),
                    _RETRIES,
                    supported_errors=(redis.exceptions.ConnectionError,),
                ),
            )
        )
    except ValueError as exc:
        raise StoreUnavailable(f"not a Redis URL: {safe} ({exc})") from exc
    pool = client.connection_pool
    pool.connection_class = _keeping_cancellation(pool.connection_class)  # before any connects
    try:
        try:
            await client.ping()
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StoreUnavailable(f"cannot connect to Redis at {safe}: {exc}") from exc
        await load_scripts(
            client,
            [
                *routing_redis.SCRIPTS,
                *timers_redis.SCRIPTS,
                *brokers_redis.SCRIPTS,
                *inbox_redis.SCRIPTS,
            ],
        )
        keys = Keys(prefix)
        inbox = RedisInbox(
            client, keys, shards=inbox_shards, lease_ttl=lease_ttl, drain_timeout=drain_timeout
        )
        await inbox.check_shards()
    except BaseException:
        with contextlib.suppress(Exception):
            await client.aclose()
        raise
    return RedisBackends(
        routing=RedisRouting(client, keys),
        timers=RedisTimers(client, keys),
        inbox=inbox,
        brokers=RedisBrokers(client, keys),
        redis=client,
    )
