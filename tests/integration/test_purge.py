"""`pairchat purge [--dry-run]`, run by hand beside a running system (embedded
on its data dir, scaled on its schema): it counts, then deletes, what the
retention lets go (an ended session with its messages, an account logged out)
and nothing else; and it refuses clearly a store it cannot reach."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from .client import is_signal
from .harness import (
    DATABASE_URL,
    REPO_ROOT,
    TIMEOUT,
    Flags,
    System,
    system_fixture,
)
from .users import Users

TOKEN = f"moderator-{secrets.token_hex(16)}"
TINY = 1e-9  # days (86 µs): everything that ended before the command started
COUNTS = re.compile(r"^\s+(sessions|messages|accounts|reports): (\d+)\b", re.MULTILINE)


purge_system = system_fixture(
    lambda brokers: Flags(brokers=brokers, admin_token=TOKEN), broker_counts=(1,), scope="function"
)


def purge(*argv: str) -> subprocess.CompletedProcess[str]:
    """`python -m pairchat purge ARGV`, without the PAIRCHAT_* variables of
    this environment."""
    return subprocess.run(
        [sys.executable, "-m", "pairchat", "purge", *argv],
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PAIRCHAT_")},
        capture_output=True,
        text=True,
        timeout=3 * TIMEOUT,
        check=False,
    )


def store_of(system: System) -> list[str]:
    if system.flags.scaled:
        return ["--database-url", DATABASE_URL, "--schema", system.flags.namespace]
    return ["--data-dir", str(system.data_dir)]


async def counts(system: System, retention_days: float, *extra: str) -> tuple[str, dict[str, int]]:
    """Run purge on the system's store: its first line of counts ("would
    delete" or "deleted") and the counts."""
    done = await asyncio.to_thread(
        purge, *store_of(system), "--retention-days", str(retention_days), *extra
    )
    assert done.returncode == 0, done.stderr
    heading = next(line for line in done.stdout.splitlines() if line.endswith(":"))
    return heading, {name: int(n) for name, n in COUNTS.findall(done.stdout)}


async def test_purge_counts_then_deletes_what_the_retention_lets_go(
    purge_system: System,
) -> None:
    users = Users(purge_system)
    try:
        gone = await users.new("Gone")
        partner = await users.new("Partner")
        ended = await users.match(gone, partner)
        await gone.send(ended, "one")
        await gone.send(ended, "two")
        await partner.send(ended, "three")
        gone_id, token = gone.account_id, gone.token
        assert (await gone.call("LOGOUT", accountId=gone_id))["code"] == 0
        await partner.expect_push(is_signal("PartnerExit", ended))
        # the partner chats on with someone else: nothing of that may go
        stay = await users.new("Stay")
        kept = await users.match(stay, partner)
        await stay.send(kept, "still here")

        nothing = {"sessions": 0, "messages": 0, "accounts": 0, "reports": 0}
        due = {"sessions": 1, "messages": 3, "accounts": 1, "reports": 0}
        assert await counts(purge_system, 30, "--dry-run") == (
            "would delete (dry run, nothing changed):",
            nothing,
        )
        assert await counts(purge_system, TINY, "--dry-run") == (
            "would delete (dry run, nothing changed):",
            due,
        )
        # the dry run changed nothing
        assert [m["content"] for m in await partner.history(ended)] == ["one", "two", "three"]

        assert await counts(purge_system, TINY) == ("deleted:", due)
        assert await counts(purge_system, TINY, "--dry-run") == (
            "would delete (dry run, nothing changed):",
            nothing,
        )
        # the ended session is gone, as if it never existed; the account too
        assert (await partner.request("HISTORY", sessionId=ended))["code"] == 6
        again = await users.connect()
        refused = await again.request("RECONNECT", accountId=gone_id, token=token)
        assert refused["code"] == 5, refused
        # the open session and its members are untouched, and chat on
        assert [m["content"] for m in await partner.history(kept)] == ["still here"]
        assert await partner.send(kept, "and on") == 2
    finally:
        await users.close_all()


async def admin(system: System, method: str, path: str, body: Any = None) -> Any:
    """One call of the moderation API on logic-0's operations listener: its JSON."""
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.request(
            method,
            system.logic_http + path,
            data=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_a_report_and_the_accounts_it_names_stay_until_it_is_decided(
    purge_system: System,
) -> None:
    users = Users(purge_system)
    try:
        spammer = await users.new("Spammer")
        reporter = await users.new("Reporter")
        session_id = await users.match(spammer, reporter)
        await spammer.send(session_id, "buy my stuff")
        await reporter.call("REPORT", sessionId=session_id, reason="spam")
        await spammer.expect_push(is_signal("PartnerExit", session_id))
        assert (await spammer.call("LOGOUT", accountId=spammer.account_id))["code"] == 0
        [report] = (await admin(purge_system, "GET", "/admin/reports"))["reports"]
        assert [m["content"] for m in report["evidence"]] == ["buy my stuff"]

        # open: the session goes, its evidence and the reported account stay
        assert (await counts(purge_system, TINY))[1] == {
            "sessions": 1,
            "messages": 1,
            "accounts": 0,
            "reports": 0,
        }
        [kept] = (await admin(purge_system, "GET", "/admin/reports"))["reports"]
        assert kept["evidence"] == report["evidence"]

        await admin(purge_system, "POST", f"/admin/reports/{report['id']}", {"status": "resolved"})
        # decided longer ago than the retention: the report and the account go
        assert (await counts(purge_system, 30, "--dry-run"))[1]["reports"] == 0
        assert (await counts(purge_system, TINY))[1] == {
            "sessions": 0,
            "messages": 0,
            "accounts": 1,
            "reports": 1,
        }
        assert (await admin(purge_system, "GET", "/admin/reports?status=all"))["reports"] == []
    finally:
        await users.close_all()


def test_a_missing_data_dir_is_refused(tmp_path: Path) -> None:
    done = purge("--data-dir", str(tmp_path / "nowhere"), "--dry-run")
    assert done.returncode == 1
    assert f"no pairchat store at {tmp_path / 'nowhere' / 'pairchat.sqlite3'}" in done.stderr
    assert not (tmp_path / "nowhere").exists()


def test_an_unreachable_database_is_refused_without_its_password() -> None:
    done = purge("--database-url", "postgresql://pairchat:s3cret@127.0.0.1:1/pairchat")
    assert done.returncode == 1
    assert "cannot connect to PostgreSQL at postgresql://pairchat@127.0.0.1:1/pairchat" in (
        done.stderr
    )
    assert "s3cret" not in done.stderr + done.stdout
    assert done.stdout == ""


def test_a_retention_of_zero_is_refused() -> None:
    done = purge("--retention-days", "0")
    assert done.returncode == 2
    assert "--retention-days must be above 0" in done.stderr
