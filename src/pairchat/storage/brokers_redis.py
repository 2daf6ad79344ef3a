"""`Brokers` (brokers.py) on Redis: push targets in a hash, liveness deadlines in
a sorted set on Redis' own clock."""

from __future__ import annotations

from typing import Final

from redis.asyncio import Redis

from pairchat.storage.redis_keys import Keys, as_text, script

SCRIPTS: Final = ("broker_alive", "broker_gone", "broker_expired")


class RedisBrokers:
    """`Brokers` on a hash of push targets and a sorted set of deadlines. The
    deadlines are Redis' own time, so brokers and logic processes on hosts whose
    clocks differ agree on who is alive. A broker keeps its target until
    `expired` reports it: that call is where a broker is declared dead, and its
    caller may hold back (after Redis itself stalled, every deadline has passed
    although every broker is alive)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = [keys.broker, keys.broker_deadline, keys.broker_holder]
        self._alive = script(redis, "broker_alive")
        self._gone = script(redis, "broker_gone")
        self._expired = script(redis, "broker_expired")

    async def alive(
        self, broker_id: str, push_target: str, ttl: float, holder: str, *, take: bool = False
    ) -> bool:
        args = [broker_id, push_target, repr(ttl), holder, "1" if take else "0"]
        return bool(await self._alive(keys=self._keys, args=args))

    async def gone(self, broker_id: str, holder: str) -> None:
        await self._gone(keys=self._keys, args=[broker_id, holder])

    async def targets(self) -> dict[str, str]:
        found = await self._redis.hgetall(self._keys[0])
        return {as_text(b): as_text(t) for b, t in found.items()}

    async def expired(self) -> list[str]:
        return [b.decode() for b in await self._expired(keys=self._keys)]
