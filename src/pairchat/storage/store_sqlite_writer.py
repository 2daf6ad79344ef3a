"""The SQLite store's writer: a small process of its own, and its client.

Every write of the embedded store runs in this process, one transaction at a
time, on its one connection. It is a process rather than a thread because the
sqlite3 module gives up the GIL at each step of a statement and must win it
back from the event loop, which under load holds it for up to a switch
interval each time: a writer thread made every group commit wait for the GIL
several times, and took its CPU from the event loop's core. Here the commits
run on the other core and never wait for the event loop.

The protocol is length-prefixed msgpack frames over the child's stdin and
stdout: a request `[id, op, args]`, a response `[id, error type, error message,
result]`, with the operations and their types in `store_sqlite_ops.OPS`. Requests
are served in order; those that arrived together share one transaction (each
in a savepoint of its own) and one sync to disk, and are answered after its
commit: group commit for every kind of write, not only messages. The child
ignores SIGINT and SIGTERM (a Ctrl-C reaches the whole process group; its
parent decides when to stop) and exits when its stdin closes, which also
happens when the parent dies.

Run by `SqliteWriter` as `python -m pairchat.storage.store_sqlite_writer PATH`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from pairchat.storage import store_sqlite_ops
from pairchat.storage.records import SchemaVersionError, StoreUnavailable

_HEADER = 4
MAX_TOGETHER = 256  # requests at most in one transaction
BUSY_TIMEOUT = 10.0  # seconds the writer waits for the write lock
BUSY_STEP = 0.0002  # seconds between tries
STOP_TIMEOUT = 5.0  # seconds the child has to finish its last transaction and exit


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(_HEADER, "big") + payload


# --- the child -------------------------------------------------------------------
class _Requests:
    """Frames from stdin: blocks for the first, then takes whatever else has
    already arrived, so that requests sent together commit together."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.closed = False

    def _fill(self, block: bool) -> None:
        if not block and not select.select([self.fd], [], [], 0)[0]:
            return
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.closed = True
        self.buffer += chunk

    def _frame(self) -> bytes | None:
        if len(self.buffer) < _HEADER:
            return None
        end = _HEADER + int.from_bytes(self.buffer[:_HEADER], "big")
        if len(self.buffer) < end:
            return None
        body = bytes(self.buffer[_HEADER:end])
        del self.buffer[:end]
        return body

    def take(self, most: int) -> list[bytes]:
        """At least one frame (empty once stdin closed), at most `most`."""
        frames: list[bytes] = []
        while not frames and not self.closed:
            frame = self._frame()
            if frame is None:
                self._fill(block=True)
            else:
                frames.append(frame)
        while len(frames) < most and not self.closed:
            frame = self._frame()
            if frame is None:
                before = len(self.buffer)
                self._fill(block=False)
                if len(self.buffer) == before:
                    break
            else:
                frames.append(frame)
        return frames


def _begin(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for a checkpoint that holds the write lock in
    steps of BUSY_STEP rather than SQLite's own busy handler, whose sleeps grow
    to 25 ms and would hold the group commit back for that long after the
    checkpoint is done."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(BUSY_STEP)


def _run(conn: sqlite3.Connection, op: str, raw: bytes) -> Any:
    fn, arg_type, _ = store_sqlite_ops.OPS[op]
    return fn(conn, *msgspec.msgpack.decode(raw, type=arg_type))


def serve(path: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = store_sqlite_ops.connect(Path(path))
    conn.execute("PRAGMA busy_timeout=0")  # `_begin` waits itself
    decode = msgspec.msgpack.Decoder(tuple[int, str, msgspec.Raw]).decode
    encode = msgspec.msgpack.Encoder().encode
    requests = _Requests(sys.stdin.fileno())
    out = sys.stdout.buffer
    while batch := requests.take(MAX_TOGETHER):
        calls = [decode(body) for body in batch]
        results: list[tuple[str | None, str | None, Any]] = []
        try:
            # One transaction, one sync to disk, for every request that arrived
            # together; each in a savepoint of its own, so one that fails
            # changes nothing and leaves the others be.
            _begin(conn)
            try:
                for _, op, raw in calls:
                    conn.execute("SAVEPOINT one")
                    try:
                        result = _run(conn, op, raw)
                    except Exception as exc:  # the caller raises it
                        conn.execute("ROLLBACK TO one")
                        results.append((type(exc).__name__, str(exc), None))
                    else:
                        results.append((None, None, result))
                    conn.execute("RELEASE one")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except Exception as exc:  # the transaction itself failed: nothing is stored
            results = [(type(exc).__name__, str(exc), None)] * len(calls)
        out.write(
            b"".join(
                _frame(encode((request_id, *result)))
                for (request_id, _, _), result in zip(calls, results, strict=True)
            )
        )
        out.flush()
    conn.close()
    return 0


# --- the client ------------------------------------------------------------------
def _error(kind: str, msg: str) -> Exception:
    """The writer's exception as the caller sees it."""
    if kind == "LookupError":
        return LookupError(msg)
    if kind == "ValueError":
        return ValueError(msg)
    if kind == "SchemaVersionError":
        return SchemaVersionError(msg)
    if kind == "RuntimeError":
        return RuntimeError(msg)
    error = getattr(sqlite3, kind, None)
    if isinstance(error, type) and issubclass(error, sqlite3.Error):
        return error(msg)
    return RuntimeError(f"{kind}: {msg}")


class SqliteWriter:
    """Starts the writer process (again, after it died) and calls it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[int, tuple[asyncio.Future[Any], Any]] = {}
        self._next = 0
        self._starting = asyncio.Lock()  # calls racing a dead writer start one new one
        self._encode = msgspec.msgpack.Encoder().encode
        self._responses = msgspec.msgpack.Decoder(tuple[int, str | None, str | None, msgspec.Raw])

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def in_flight(self) -> int:
        """Calls sent and not answered yet."""
        return len(self._waiting)

    @property
    def running(self) -> bool:
        """Started, and not known to have exited."""
        return (
            self._proc is not None
            and self._proc.returncode is None
            and self._reader is not None
            and not self._reader.done()
        )

    async def _start(self) -> asyncio.subprocess.Process:
        if self.running:
            assert self._proc is not None
            return self._proc
        async with self._starting:
            if not self.running:
                await self._spawn()
        assert self._proc is not None
        return self._proc

    async def _spawn(self) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pairchat.storage.store_sqlite_writer",
                str(self.path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise StoreUnavailable(f"cannot start the SQLite writer process: {exc}") from exc
        self._proc = proc
        self._reader = asyncio.create_task(self._read(proc))

    async def call(self, op: str, *args: Any) -> Any:
        """Run one operation of `store_sqlite_ops.OPS` in its own transaction."""
        proc = await self._start()
        assert proc.stdin is not None
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = (future, store_sqlite_ops.OPS[op][2])
        proc.stdin.write(_frame(self._encode((self._next, op, args))))
        return await future

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                header = await proc.stdout.readexactly(_HEADER)
                body = await proc.stdout.readexactly(int.from_bytes(header, "big"))
                request_id, kind, msg, raw = self._responses.decode(body)
                future, result_type = self._waiting.pop(request_id)
                if future.done():
                    continue
                if kind is not None:
                    future.set_exception(_error(kind, msg or ""))
                else:
                    try:
                        future.set_result(msgspec.msgpack.decode(raw, type=result_type))
                    except msgspec.ValidationError as exc:
                        future.set_exception(exc)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            # Gone: what was asked may or may not be committed, as with any engine
            # that goes away; the callers answer code 2 and the next call starts
            # a new writer.
            waiting, self._waiting = self._waiting, {}
            for future, _ in waiting.values():
                if not future.done():
                    future.set_exception(StoreUnavailable("the SQLite writer process exited"))

    async def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
