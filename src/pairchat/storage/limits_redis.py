"""`Limits` (limits.py) on Redis: one counter per key that expires with its
window, so every logic process of a deployment counts into the same one."""

from __future__ import annotations

import math
from typing import Final

from redis.asyncio import Redis

from pairchat.storage.redis_keys import Keys, script

SCRIPTS: Final = ("limit_hit",)


class RedisLimits:
    """`Limits` on `P limit:<key>` counters (see redis_keys.py). Windows run on
    Redis' clock (key expiry), so the hosts' clocks do not matter."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._hit = script(redis, "limit_hit")

    async def hit(self, key: str, limit: int, window: float) -> float:
        window_ms = max(1, math.ceil(window * 1000))
        events, left_ms = await self._hit(keys=[self._keys.limit(key)], args=[window_ms])
        return left_ms / 1000 if int(events) > limit else 0.0

    async def blocked(self, key: str, limit: int) -> float:
        name = self._keys.limit(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.pttl(name)
            events, left_ms = await pipe.execute()
        if events is None or int(events) < limit or left_ms <= 0:
            return 0.0
        return float(left_ms) / 1000
