"""The SQLite store's writer process: what its death costs, and what survives it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

import psutil
import pytest

from pairchat.logic.commit import GroupCommit
from pairchat.storage.records import (
    NewMessage,
    SchemaVersionError,
    StoredMessage,
    StoreUnavailable,
)
from pairchat.storage.store_sqlite import SqliteStore

WAIT = 10.0  # the longest one step below may take


async def _exited(pid: int) -> None:
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return  # already reaped
    await asyncio.wait_for(asyncio.to_thread(proc.wait), WAIT)


async def test_a_killed_writer_is_started_again_and_nothing_committed_is_lost(
    store: SqliteStore,
) -> None:
    a = await store.create_account("a", b"t", 1)
    b = await store.create_account("b", b"t", 1)
    s = await store.create_session(a, b, 1)
    [first] = await store.append_messages([NewMessage(s, a, "before", "r1")], 5)
    pid = store.writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await _exited(pid)
    # (a write racing the death fails as in the next test)
    await _until(lambda: not store.writer.running)
    # The next write starts a new writer; what was committed is there, msgIds go on.
    [second] = await store.append_messages([NewMessage(s, b, "after", "r2")], 6)
    assert store.writer.pid not in (None, pid)
    assert (first.msg_id, second.msg_id) == (1, 2)
    assert [m.content for m in await store.history(s, 0, 10)] == ["before", "after"]


async def test_a_write_in_flight_when_the_writer_dies_fails_as_unavailable(
    store: SqliteStore,
) -> None:
    a = await store.create_account("a", b"t", 1)
    pid = store.writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    pending = asyncio.ensure_future(store.create_account("b", b"t", 2))
    await _until(lambda: store.writer.in_flight == 1)  # the request waits in its pipe
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(pending, WAIT)
    assert (await store.get_account(a)) is not None


async def test_a_group_commit_answers_every_message_when_the_writer_dies(
    store: SqliteStore,
) -> None:
    """The callers get the error (DIALOGUE answers code 2, the client retries with
    its requestId); the next batch goes through a new writer."""
    a = await store.create_account("a", b"t", 1)
    b = await store.create_account("b", b"t", 1)
    s = await store.create_session(a, b, 1)
    results: list[StoredMessage | BaseException] = []
    commit = GroupCommit(store, lambda stored: asyncio.sleep(0))
    runner = asyncio.ensure_future(commit.run())
    try:
        pid = store.writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        for i in range(3):
            commit.submit(NewMessage(s, a, f"m{i}", f"r{i}"), results.append)
        await _until(lambda: store.writer.in_flight == 1)  # the batch's one request
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(_until(lambda: len(results) == 3), WAIT)
        assert all(isinstance(r, StoreUnavailable) for r in results)
        results.clear()
        commit.submit(NewMessage(s, a, "m0", "r0"), results.append)  # the client's retry
        await asyncio.wait_for(_until(lambda: len(results) == 1), 2 * WAIT)
        [stored] = results
        assert isinstance(stored, StoredMessage) and stored.msg_id == 1
    finally:
        runner.cancel()


async def test_ctrl_c_reaching_the_writer_does_not_stop_it(store: SqliteStore) -> None:
    """A Ctrl-C in a terminal reaches the whole process group; the writer must
    outlive it so that the logic process can finish its last commits."""
    pid = store.writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    assert await store.create_account("still", b"t", 1) > 0
    assert store.writer.pid == pid


async def test_closing_the_store_ends_the_writer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x")
    await store.open()
    pid = store.writer.pid
    assert pid is not None
    await store.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def _until(condition: object) -> None:
    """Poll state that no event announces (a pipe's contents, a batch taken)."""
    assert callable(condition)
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_writes_sent_together_commit_together_and_fail_alone(store: SqliteStore) -> None:
    """Requests that reach the writer together share a transaction; one that
    fails (a message for no session) changes nothing and the others stand."""
    a = await store.create_account("a", b"t", 1)
    b = await store.create_account("b", b"t", 1)
    s = await store.create_session(a, b, 1)
    results = await asyncio.gather(
        *(store.create_account(f"n{i}", b"t", 2) for i in range(50)),
        store.append_messages([NewMessage(s + 1000, a, "lost", None)], 3),
        store.append_messages([NewMessage(s, a, "kept", "k")], 3),
        return_exceptions=True,
    )
    ids, failed, appended = results[:50], results[50], results[51]
    assert isinstance(failed, LookupError)
    assert isinstance(appended, list)
    [kept] = appended
    assert isinstance(kept, StoredMessage) and kept.msg_id == 1
    assert len(set(ids)) == 50 and all(isinstance(i, int) for i in ids)
    for account_id in ids:
        assert isinstance(account_id, int)
        found = await store.get_account(account_id)
        assert found is not None and found.nick.startswith("n")
    assert [m.content for m in await store.history(s, 0, 10)] == ["kept"]


async def test_writes_racing_a_dead_writer_start_exactly_one_new_one(
    store: SqliteStore,
) -> None:
    pid = store.writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await _exited(pid)
    await _until(lambda: not store.writer.running)
    ids = await asyncio.gather(*(store.create_account(f"r{i}", b"t", 1) for i in range(8)))
    assert len(set(ids)) == 8
    writers = [
        p
        for p in psutil.Process().children()
        if "pairchat.storage.store_sqlite_writer" in p.cmdline()
    ]
    assert [p.pid for p in writers] == [store.writer.pid]


async def test_a_data_dir_of_a_newer_pairchat_is_refused_at_open(tmp_path: Path) -> None:
    """The writer's refusal reaches the caller as the error a process stops on."""
    conn = sqlite3.connect(tmp_path / "pairchat.sqlite3")
    conn.execute("PRAGMA user_version=99")
    conn.close()
    store = SqliteStore(tmp_path)
    try:
        with pytest.raises(SchemaVersionError, match="version 99, newer"):
            await store.open()
    finally:
        await store.close()
