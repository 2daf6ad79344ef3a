"""Unit-test fixtures: a real SQLite store in a temporary directory and a
LogicService over it, driven directly (no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pairchat.logic.config import LogicConfig
from pairchat.logic.service import LogicService
from pairchat.storage.brokers_memory import MemoryBrokers
from pairchat.storage.inbox_memory import MemoryInbox
from pairchat.storage.leases_memory import MemoryLeases
from pairchat.storage.limits_memory import MemoryLimits
from pairchat.storage.routing_memory import MemoryRouting
from pairchat.storage.store_sqlite import SqliteStore
from pairchat.storage.timers_memory import MemoryTimers

MATCH_WAIT = 0.3  # seconds; the longest a unit test waits for "nobody came"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def service(store: SqliteStore) -> AsyncIterator[LogicService]:
    svc = LogicService(
        store,
        MemoryRouting(),
        MemoryTimers(),
        MemoryInbox(),
        MemoryBrokers(),
        MemoryLimits(),
        MemoryLeases(),
        LogicConfig(offline_grace=60, match_wait=MATCH_WAIT, max_sessions=2),
    )
    await svc.start()
    yield svc
    await svc.stop()
