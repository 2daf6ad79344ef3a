"""Acknowledgements beyond a session's last stored msgId, driven on the logic
service: the hot path decides from its cache, only the store refuses."""

from __future__ import annotations

import asyncio

import pytest

from pairchat.logic.service import LogicService, NotCached
from pairchat.protocol import Code, ProtocolError
from pairchat.storage.records import NewMessage, Route, StoredMessage
from pairchat.storage.store_sqlite import SqliteStore

A, B = Route("b", 1), Route("b", 2)


async def send(svc: LogicService, a: int, session: int, text: str) -> int:
    """Send through group commit; the msgId once stored."""
    stored: asyncio.Future[StoredMessage | BaseException] = asyncio.Future()
    svc.send(a, A, session, text, None, stored.set_result)
    message = await stored
    assert isinstance(message, StoredMessage)
    return message.msg_id


async def session_with_messages(svc: LogicService, count: int) -> tuple[int, int, int]:
    """(a, b, session) where a sent `count` messages."""
    a = (await svc.create_account(A, "ann")).account_id
    b = (await svc.create_account(B, "bob")).account_id
    session = (await svc.match(a, A)).session_id
    for i in range(count):
        await send(svc, a, session, f"m{i}")
    return a, b, session


@pytest.fixture
def lookups(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sessions whose last msgId the service asked the store for."""
    asked: list[int] = []
    last_msg_id = store.last_msg_id

    async def counted(session_id: int) -> int:
        asked.append(session_id)
        return await last_msg_id(session_id)

    monkeypatch.setattr(store, "last_msg_id", counted)
    return asked


async def test_acks_up_to_the_last_message_take_the_hot_path(
    service: LogicService, lookups: list[int]
) -> None:
    _, b, session = await session_with_messages(service, 2)
    for msg_id in (0, 1, 2):
        service.ack_message(b, B, session, msg_id)  # no NotCached: decided from the cache
    await service.viewed(b, B, session, 2)
    assert lookups == []


async def test_an_ack_beyond_the_last_message_is_code_1_and_not_recorded(
    service: LogicService, store: SqliteStore
) -> None:
    a, b, session = await session_with_messages(service, 2)
    for msg_id in (3, 2**53 - 1):
        with pytest.raises(NotCached):
            service.ack_message(b, B, session, msg_id)
        with pytest.raises(ProtocolError) as err:
            await service.ack_message_late(b, B, session, msg_id)
        assert err.value.code == Code.PARAM_ERR
        with pytest.raises(ProtocolError) as err:
            await service.viewed(b, B, session, msg_id)
        assert err.value.code == Code.PARAM_ERR
    service.ack_message(b, B, session, 1)
    await send(service, a, session, "m2")  # its commit writes the good ack too
    assert [m.msg_id for m in await store.unacked(session, b)] == [2, 3]


async def test_a_stale_cache_defers_to_the_store(service: LogicService, lookups: list[int]) -> None:
    a, b, session = await session_with_messages(service, 1)
    # Another logic process stores message 2: this one's cache still says 1.
    await service.store.append_messages([NewMessage(session, a, "elsewhere", None)], 0)
    with pytest.raises(NotCached):
        service.ack_message(b, B, session, 2)
    await service.ack_message_late(b, B, session, 2)
    assert lookups == [session]
    service.ack_message(b, B, session, 2)  # the lookup refreshed the cache
    assert lookups == [session]
