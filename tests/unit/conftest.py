"""Unit-test fixtures: a real SQLite store in a temporary directory and a
LogicService over it, driven directly (no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pairchat.logic.service import LogicConfig, LogicService
from pairchat.storage.memory import MemoryBrokers, MemoryInbox, MemoryRouting, MemoryTimers
from pairchat.storage.sqlite import SqliteStore

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
        LogicConfig(offline_grace=60, match_wait=MATCH_WAIT, max_sessions=2),
    )
    await svc.start()
    yield svc
    await svc.stop()
