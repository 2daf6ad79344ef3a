"""A small asyncio client of the pairchat wire protocol, for tests.

Responses are matched to requests by requestId; every other frame (pushes, and
error frames that carry no requestId) is kept in arrival order, both in
`received` (the full record) and in an unclaimed list that `expect` consumes.
Nothing here sleeps: every wait is for a frame, bounded by the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .harness import TIMEOUT

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]

_request_ids = itertools.count(1)


def is_dialogue(session_id: int | None = None, msg_id: int | None = None) -> Predicate:
    """Matches a PUSH_DIALOGUE (of a session, with a msgId, when given)."""

    def match(frame: Frame) -> bool:
        return (
            frame.get("cmd") == "PUSH_DIALOGUE"
            and "code" not in frame
            and (session_id is None or frame.get("sessionId") == session_id)
            and (msg_id is None or frame.get("msgId") == msg_id)
        )

    return match


def is_signal(signal_type: str, session_id: int | None = None) -> Predicate:
    """Matches a PUSH_SIGNAL of a type (in a session, when given)."""

    def match(frame: Frame) -> bool:
        return (
            frame.get("cmd") == "PUSH_SIGNAL"
            and "code" not in frame
            and frame.get("signalType") == signal_type
            and (session_id is None or frame.get("sessionId") == session_id)
        )

    return match


def is_push(frame: Frame) -> bool:
    return frame.get("cmd") in ("PUSH_DIALOGUE", "PUSH_SIGNAL") and "code" not in frame


class ChatClient:
    """One WebSocket connection to a broker."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.account_id = 0
        self.token = ""
        self.nick = ""
        self.received: list[Frame] = []  # every frame that was not a response, in order
        self.arrivals: list[Frame] = []  # every frame, responses included, in order
        self._unclaimed: list[Frame] = []
        self._waiting: dict[str, deque[asyncio.Future[Frame]]] = {}
        self._arrival = asyncio.Event()
        self.closed = False
        self.silent = False
        self._reader = asyncio.create_task(self._read(), name=f"reader-{name}")

    @classmethod
    async def connect(cls, url: str, name: str = "") -> ChatClient:
        ws = await connect(
            url,
            proxy=None,
            compression=None,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
            max_size=None,
        )
        return cls(ws, name or url)

    def __repr__(self) -> str:
        return f"ChatClient({self.name!r}, account={self.account_id})"

    # --- frames in ---
    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame: Frame
                if isinstance(raw, bytes):
                    frame = {"binary": raw}
                else:
                    parsed = json.loads(raw)
                    frame = parsed if isinstance(parsed, dict) else {"json": parsed}
                self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for queue in self._waiting.values():
                for future in queue:
                    if not future.done():
                        future.set_exception(ConnectionError(f"{self} closed"))
            self._waiting.clear()
            self._arrival.set()

    def _on_frame(self, frame: Frame) -> None:
        self.arrivals.append(frame)
        request_id = frame.get("requestId")
        queue = self._waiting.get(request_id) if isinstance(request_id, str) else None
        if queue:
            future = queue.popleft()
            if not queue:
                del self._waiting[request_id]  # type: ignore[arg-type]
            if not future.done():
                future.set_result(frame)
            return
        self.received.append(frame)
        self._unclaimed.append(frame)
        self._arrival.set()

    # --- frames out ---
    async def send_raw(self, payload: str | bytes) -> None:
        await self.ws.send(payload)

    async def submit(
        self, cmd: str, request_id: str | None = None, **fields: Any
    ) -> asyncio.Future[Frame]:
        """Send a request without waiting; the future resolves with its response."""
        request_id = request_id or f"{self.name}-{next(_request_ids)}"
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(request_id, deque()).append(future)
        await self.ws.send(json.dumps({"cmd": cmd, "requestId": request_id, **fields}))
        return future

    async def request(self, cmd: str, request_id: str | None = None, **fields: Any) -> Frame:
        """Send a request and return its response, whatever its code. The
        response is found by its requestId and must carry the same cmd."""
        future = await self.submit(cmd, request_id, **fields)
        response = await asyncio.wait_for(future, TIMEOUT)
        assert response.get("cmd") == cmd, f"{self}: {cmd} answered with {response}"
        return response

    async def call(self, cmd: str, request_id: str | None = None, **fields: Any) -> Frame:
        """A request that must succeed (code 0)."""
        response = await self.request(cmd, request_id, **fields)
        assert response.get("code") == 0, f"{self}: {cmd} {fields} failed: {response}"
        return response

    async def request_raw(self, payload: str | bytes, request_id: str) -> Frame:
        """Send a hand-made frame whose response carries `request_id`."""
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(request_id, deque()).append(future)
        await self.ws.send(payload)
        return await asyncio.wait_for(future, TIMEOUT)

    # --- waiting for frames ---
    async def expect(self, predicate: Predicate, within: float = TIMEOUT) -> Frame:
        """Take the first unclaimed frame that matches, waiting for it if needed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for i, frame in enumerate(self._unclaimed):
                if predicate(frame):
                    del self._unclaimed[i]
                    return frame
            if self.closed:
                raise AssertionError(f"{self} closed before the expected frame came")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self}: no expected frame within {within}s; got {self._unclaimed}"
                )
            self._arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrival.wait(), remaining)

    async def expect_push(self, predicate: Predicate, within: float = TIMEOUT) -> Frame:
        return await self.expect(lambda f: is_push(f) and predicate(f), within)

    async def expect_dialogues(self, session_id: int, count: int) -> list[Frame]:
        """The next `count` PUSH_DIALOGUEs of a session, in arrival order."""
        return [await self.expect_push(is_dialogue(session_id)) for _ in range(count)]

    def pushes(self, predicate: Predicate) -> list[Frame]:
        """Every push received so far that matches (claimed or not)."""
        return [f for f in self.received if is_push(f) and predicate(f)]

    async def ping(self) -> None:
        await self.call("PING")

    async def assert_nothing_more(self, predicate: Predicate) -> None:
        """After a PING round trip, no unclaimed frame matches. Only proves what the
        broker itself would have sent before its PING answer; for pushes from logic
        callers first wait for a later push of the same path (a barrier)."""
        await self.ping()
        unexpected = [f for f in self._unclaimed if predicate(f)]
        assert not unexpected, f"{self}: unexpected frames {unexpected}"

    # --- protocol helpers ---
    async def create_account(self, nick: str) -> Frame:
        response = await self.call("CRT_ACCOUNT", nickName=nick)
        self.account_id = response["accountId"]
        self.token = response["token"]
        self.nick = response["nickName"]
        return response

    async def reconnect(self, account_id: int, token: str) -> Frame:
        response = await self.call("RECONNECT", accountId=account_id, token=token)
        self.account_id, self.token, self.nick = account_id, token, response["nickName"]
        return response

    async def match(self) -> Frame:
        return await self.call("MATCH", accountId=self.account_id)

    async def send(self, session_id: int, text: str, request_id: str | None = None) -> int:
        """DIALOGUE that must succeed; returns its msgId."""
        response = await self.call(
            "DIALOGUE",
            request_id,
            senderId=self.account_id,
            sessionId=session_id,
            content=text,
        )
        assert response["sessionId"] == session_id, response
        msg_id: int = response["msgId"]
        return msg_id

    async def history(self, session_id: int, **paging: int) -> list[Frame]:
        fields: dict[str, Any] = {"sessionId": session_id, **paging}
        response = await self.call("HISTORY", **fields)
        assert response["sessionId"] == session_id, response
        messages: list[Frame] = response["messages"]
        return messages

    async def ack(self, push: Frame) -> None:
        """Acknowledge a push (acks get no response unless they fail)."""
        frame: Frame = {"cmd": push["cmd"], "code": 0, "sessionId": push["sessionId"]}
        if push["cmd"] == "PUSH_DIALOGUE":
            frame["msgId"] = push["msgId"]
        else:
            frame["signalType"] = push["signalType"]
        await self.ws.send(json.dumps(frame))

    async def wait_closed(self) -> None:
        """Until the server has closed this connection."""
        await asyncio.wait_for(asyncio.shield(self._reader), TIMEOUT)

    def go_silent(self) -> None:
        """Stop reading the socket, as a dead peer would: the server's heartbeat
        pings go unanswered (the connection itself stays open)."""
        self.silent = True
        self.ws.transport.pause_reading()

    async def close(self) -> None:
        if self.silent:
            self.ws.transport.abort()  # a dead peer does not say goodbye
        else:
            await self.ws.close()
        await asyncio.wait_for(self._reader, TIMEOUT)
