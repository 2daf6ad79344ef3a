"""The users of one test: clients connected round-robin over the brokers, and
the pair (two users in one session) most scenarios start from."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass

from .client import ChatClient, is_signal
from .harness import System


@dataclass(frozen=True)
class Pair:
    """Two users in one session: `a` asked MATCH, `b` was matched and told."""

    a: ChatClient
    b: ChatClient
    session_id: int


_nick_numbers = itertools.count(1)


class Users:
    """Connects the test's clients, round-robin over the system's brokers, so
    that with two brokers consecutive users (the two of a pair) are on
    different brokers."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.clients: list[ChatClient] = []
        self._next_broker = 0

    async def connect(self, broker: int | None = None, name: str = "") -> ChatClient:
        if broker is None:
            broker, self._next_broker = self._next_broker, self._next_broker + 1
        broker %= self.system.broker_count
        client = await ChatClient.connect(
            self.system.ws_url(broker), name or f"user{len(self.clients)}@broker{broker}"
        )
        self.clients.append(client)
        return client

    async def new(self, nick: str | None = None, broker: int | None = None) -> ChatClient:
        """A connected client with a new account."""
        client = await self.connect(broker)
        await client.create_account(nick or f"user-{next(_nick_numbers)}")
        return client

    async def match(self, a: ChatClient, b: ChatClient) -> int:
        """`a` asks MATCH and must get `b` (the caller ensures b is the only
        candidate); b must get NewSession. Returns the session id."""
        matched = await a.match()
        assert matched["partnerId"] == b.account_id, matched
        assert matched["partnerName"] == b.nick, matched
        session_id: int = matched["sessionId"]
        await b.expect_push(is_signal("NewSession", session_id))
        return session_id

    async def pair(self) -> Pair:
        a = await self.new()
        b = await self.new()
        return Pair(a, b, await self.match(a, b))

    async def close_all(self) -> None:
        for client in self.clients:
            if client.closed:
                continue
            if client.account_id and not client.silent:
                with contextlib.suppress(Exception):
                    await client.request("LOGOUT", accountId=client.account_id)
            await client.close()
