"""Leases: a named duty that one process of a deployment does at a time (the
retention purge), handed over when its holder stops or dies.

`MemoryLeases` (leases_memory.py) in the embedded mode's one logic process,
`RedisLeases` (leases_redis.py) in the scaled one; tests/contract/test_leases.py
checks both against the docstrings.
"""

from __future__ import annotations

from typing import Protocol


class Leases(Protocol):
    """At most one holder per lease name at any time."""

    async def hold(self, name: str, holder: str, ttl: float) -> bool:
        """Take the lease `name` for `holder` for `ttl` seconds if nobody holds
        it, or extend it to `ttl` from now if `holder` already does. False while
        another holder's lease runs; it lapses `ttl` after that holder's last
        successful `hold` (a holder that died is replaced then)."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up if `holder` holds it, so that another may take it
        at once; a lease held by someone else is left alone."""
        ...
