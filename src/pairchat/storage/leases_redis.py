"""`Leases` (leases.py) on Redis: one string per lease holding its holder, with
Redis' own expiry, so hosts whose clocks differ agree on when it lapses."""

from __future__ import annotations

from typing import Final

from redis.asyncio import Redis

from pairchat.storage.redis_keys import Keys, script

SCRIPTS: Final = ("lease_hold", "lease_release")


class RedisLeases:
    """`Leases` on `P lease:<name>`; taking and extending are one Lua step
    (lua/lease_hold.lua), so two processes never both hold a lease."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._keys = keys
        self._hold = script(redis, "lease_hold")
        self._release = script(redis, "lease_release")

    async def hold(self, name: str, holder: str, ttl: float) -> bool:
        ms = max(1, round(ttl * 1000))
        return bool(await self._hold(keys=[self._keys.duty_lease(name)], args=[holder, ms]))

    async def release(self, name: str, holder: str) -> None:
        await self._release(keys=[self._keys.duty_lease(name)], args=[holder])
