"""Fixtures of the integration suite: running systems and their users.

`system` is the shared system, one per broker count, started once per session:
every scenario that needs no special flag runs against one broker (the
all-in-one system) and against two (the two users of a pair on different
brokers). Modules that need special flags override `system` with their own.
Each test's users log out when it ends, so no account of one test is online,
hence matchable, in the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .harness import Flags, System, system_fixture
from .users import Pair, Users


def shared_flags(brokers: int) -> Flags:
    """Small size limits (tests read them back from `system.flags`)."""
    return Flags(brokers=brokers, max_content=500, max_frame_bytes=8192)


system = system_fixture(shared_flags, scope="session")


@pytest.fixture
async def users(system: System) -> AsyncIterator[Users]:
    pool = Users(system)
    try:
        yield pool
    finally:
        await pool.close_all()


@pytest.fixture
async def pair(users: Users) -> Pair:
    return await users.pair()
