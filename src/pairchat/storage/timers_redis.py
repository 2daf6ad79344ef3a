"""`Timers` (timers.py) on Redis: deadlines kept in a sorted set, so that they
outlive the logic process that set them and fire in exactly one process."""

from __future__ import annotations

from typing import Final

from redis.asyncio import Redis

from pairchat.storage.redis_keys import Keys, script

SCRIPTS: Final = ("take_due",)


class RedisTimers:
    """`Timers` on a sorted set: account -> deadline (the caller's clock, epoch
    seconds; hosts are expected to run NTP)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._key = keys.grace
        self._take_due = script(redis, "take_due")

    async def set(self, account_id: int, due: float) -> None:
        await self._redis.zadd(self._key, {str(account_id): due})

    async def cancel(self, account_id: int) -> None:
        await self._redis.zrem(self._key, str(account_id))

    async def take_due(self, now: float) -> list[int]:
        due = await self._take_due(keys=[self._key], args=[repr(now)])
        return [int(a) for a in due]
