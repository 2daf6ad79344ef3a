"""Retention: with a tiny `--retention-days`, an account that logged out is
purged with its ended session, in the embedded and the scaled mode, while its
partner stays."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import asyncpg  # type: ignore[import-untyped]

from .client import is_signal
from .harness import (
    DATABASE_URL,
    TIMEOUT,
    Flags,
    System,
    system_fixture,
)
from .users import Users

# Days; a few seconds, so that the purge (every tenth of it) runs within TIMEOUT.
RETENTION_DAYS = TIMEOUT / 4 / 86400


retention_system = system_fixture(
    lambda brokers: Flags(brokers=brokers, retention_days=RETENTION_DAYS),
    broker_counts=(1,),
    scope="function",
)


async def account_stored(system: System, account_id: int) -> bool:
    """Whether the durable store still has the account (read beside the system)."""
    if not system.flags.scaled:
        conn = sqlite3.connect(f"file:{system.data_dir / 'pairchat.sqlite3'}?mode=ro", uri=True)
        try:
            return (
                conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone()
                is not None
            )
        finally:
            conn.close()
    conn = await asyncpg.connect(DATABASE_URL, timeout=TIMEOUT / 5)
    try:
        found = await conn.fetchval(
            f'SELECT 1 FROM "{system.flags.namespace}".accounts WHERE id = $1', account_id
        )
        return found is not None
    finally:
        await conn.close()


async def test_a_logged_out_account_is_purged_with_its_ended_session(
    retention_system: System,
) -> None:
    users = Users(retention_system)
    try:
        gone = await users.new("Gone")
        partner = await users.new("Partner")
        session_id = await users.match(gone, partner)
        assert await gone.send(session_id, "hello") == 1
        account_id, token = gone.account_id, gone.token
        # the code of a session one is not in, which a purged one must not differ from
        carol = await users.new("Carol")
        not_in = await carol.request("HISTORY", sessionId=session_id)
        assert not_in["code"] != 0, not_in
        assert (await gone.call("LOGOUT", accountId=account_id))["code"] == 0
        await partner.expect_push(is_signal("PartnerExit", session_id))
        assert [m["content"] for m in await partner.history(session_id)] == ["hello"]

        deadline = time.monotonic() + 2 * TIMEOUT
        while (response := await partner.request("HISTORY", sessionId=session_id))["code"] == 0:
            assert time.monotonic() < deadline, "the ended session was never purged"
            await asyncio.sleep(RETENTION_DAYS * 86400 / 10)
        assert response["code"] == not_in["code"], (response, not_in)
        while await account_stored(retention_system, account_id):
            assert time.monotonic() < deadline, "the logged-out account was never purged"
            await asyncio.sleep(RETENTION_DAYS * 86400 / 10)

        again = await users.connect()
        refused = await again.request("RECONNECT", accountId=account_id, token=token)
        assert refused["code"] == 5, refused
        # the partner, still logged in, stays and can chat on
        assert await account_stored(retention_system, partner.account_id)
        assert (await partner.request("PING"))["code"] == 0
    finally:
        await users.close_all()
