"""Behind a reverse proxy (`--trusted-proxies`): with the proxy's network
trusted, the client address the brokers and logic count per address is the
one X-Forwarded-For names, so two clients behind one proxy are two addresses
for `--max-conns-per-ip` and `--max-accounts-per-ip`; without the flag the
header is ignored, and a client cannot pick its address with it. Every test
client comes from 127.0.0.1, which plays the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .client import ChatClient
from .harness import TIMEOUT, Flags, System, system_fixture

BROKERS = pytest.mark.parametrize("broker", [0, 1], ids=["broker0", "broker1"])
LONG = 600.0  # seconds: a window no test sees end

Open = Callable[[int, str | None], Awaitable[ClientConnection]]


def limited(brokers: int, trusted_proxies: str = "") -> Flags:
    """One connection and one new account per address."""
    return Flags(
        brokers=brokers,
        max_conns_per_ip=1,
        max_accounts_per_ip=1,
        accounts_window=LONG,
        trusted_proxies=trusted_proxies,
    )


# Module-wide systems: each test uses addresses of its own, and the peer's
# address (127.0.0.1) on one broker only.
trusted = system_fixture(lambda brokers: limited(brokers, "127.0.0.0/8"), broker_counts=(2,))
untrusted = system_fixture(limited, broker_counts=(2,), scaled=False)


def opener(system: System) -> tuple[Open, list[ClientConnection]]:
    """Opens WebSockets to the system's brokers, each with an X-Forwarded-For
    (None: without), and keeps them for closing."""
    opened: list[ClientConnection] = []

    async def open_ws(broker: int, forwarded: str | None) -> ClientConnection:
        headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
        ws = await connect(
            system.ws_url(broker), proxy=None, open_timeout=TIMEOUT, additional_headers=headers
        )
        opened.append(ws)
        return ws

    return open_ws, opened


@pytest.fixture
async def behind_proxy(trusted: System) -> AsyncIterator[Open]:
    open_ws, opened = opener(trusted)
    yield open_ws
    for ws in opened:
        await ws.close()


@pytest.fixture
async def no_proxy(untrusted: System) -> AsyncIterator[Open]:
    open_ws, opened = opener(untrusted)
    yield open_ws
    for ws in opened:
        await ws.close()


async def served(ws: ClientConnection) -> bool:
    """Whether the broker answers a PING, or closed the connection with 1013
    (too many connections from its address)."""
    try:
        await ws.send('{"cmd":"PING","requestId":"p"}')
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 1013, closed
        return False
    return True


async def create_account(ws: ClientConnection, nick: str) -> int:
    """The code of a CRT_ACCOUNT on this connection."""
    client = ChatClient(ws, nick)
    code: int = (await client.request("CRT_ACCOUNT", nickName=nick))["code"]
    return code


@BROKERS
async def test_two_clients_behind_a_trusted_proxy_are_two_addresses(
    behind_proxy: Open, broker: int
) -> None:
    first = await behind_proxy(broker, "203.0.113.1")
    assert await served(first)
    # another client: what the proxy appended (the rightmost entry) counts
    assert await served(await behind_proxy(broker, "203.0.113.1, 203.0.113.2"))
    assert await served(await behind_proxy(broker, "[2001:db8::2]:443"))
    # the first client again, whatever it put left of its address
    assert not await served(await behind_proxy(broker, "198.51.100.7, 203.0.113.1"))
    # the proxy's own connections count as its address, and so do malformed ones
    assert await served(await behind_proxy(broker, None))
    assert not await served(await behind_proxy(broker, "not an address"))


async def test_logic_counts_new_accounts_per_forwarded_address(behind_proxy: Open) -> None:
    a = await behind_proxy(0, "203.0.113.11")
    assert await create_account(a, "first") == 0
    b = await behind_proxy(1, "203.0.113.12")
    assert await create_account(b, "second") == 0
    # the first address once more, through the other broker: past its limit
    again = await behind_proxy(1, "203.0.113.11")
    assert await create_account(again, "third") == 8


async def test_without_trusted_proxies_the_header_is_ignored(no_proxy: Open) -> None:
    first = await no_proxy(0, "203.0.113.1")
    assert await served(first)
    assert not await served(await no_proxy(0, "203.0.113.2"))
    assert await create_account(first, "first") == 0
    # on the other broker: one connection, and past the accounts of the address
    other = await no_proxy(1, "203.0.113.2")
    assert await create_account(other, "second") == 8
