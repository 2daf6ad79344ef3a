"""The moderator console (/moderate on logic's operations listener) in Debian's chromium,
against a real `pairchat up --admin-token`: a person reports another from the chat, the
moderator pastes the token, reads the report's evidence and bans in one click, and the
reported person is then refused (code 10) with the moderator's words."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pairchat.ports import free_port_range

from .browser_people import Artifact, OpenPage, Person
from .pairchat_process import Server

pytestmark = pytest.mark.browser

TOKEN = f"moderator-{secrets.token_hex(16)}"


@pytest.fixture
def server(tmp_path: Path, built_client: Path) -> Iterator[Server]:
    """`pairchat up` with the moderation API on, logic's operations listener at a known port
    (replaces the plain server of conftest.py for this module's pages)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port_range(2)
    srv = Server(port, data_dir, tmp_path / "server.log", ops_port=port + 1, admin_token=TOKEN)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def test_a_moderator_bans_a_reported_person_from_the_console(
    open_page: OpenPage, server: Server, artifact: Artifact
) -> None:
    page_a, problems_a = open_page()
    page_b, problems_b = open_page()
    alice = Person(page_a, "alice").start()
    bob = Person(page_b, "bob").start()
    alice.match()
    expect(bob.window_with("alice")).to_have_count(1)
    alice.send("bob", "buy my pills, cheap")

    # Bob reports Alice from the conversation.
    window = bob.window_with("alice")
    window.get_by_test_id("report-button").click()
    page_b.get_by_test_id("report-reason").select_option("spam")
    page_b.get_by_test_id("report-note").fill("selling things")
    page_b.get_by_test_id("report-submit").click()
    expect(alice.window_with("bob").get_by_test_id("partner-exit")).to_be_visible()

    # The moderator opens the console on the operations listener and pastes the token.
    console, problems = open_page(viewport={"width": 1280, "height": 900})
    console.goto(f"{server.ops_url}/moderate")
    console.get_by_test_id("admin-token-input").fill(TOKEN)
    console.get_by_test_id("admin-token-submit").click()
    row = console.get_by_test_id("report-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-report-id", re.compile(r"^\d+$"))
    expect(row.get_by_test_id("row-reason")).to_have_text("spam")
    expect(row.get_by_test_id("row-note")).to_have_text("selling things")
    expect(row.get_by_test_id("evidence-text")).to_have_text(["buy my pills, cheap"])
    artifact(console, "moderation-console-report")
    row.get_by_test_id("ban-button").click()
    expect(console.get_by_test_id("report-row")).to_have_count(0)  # no open report left
    assert problems.all() == []

    # Alice's next request is refused with the moderator's words.
    page_a.get_by_test_id("match-button").click()
    banner = page_a.get_by_test_id("banned-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(re.compile(r"banned: report \d+: spam"))
    artifact(page_a, "moderation-banned-person")
    assert problems_b.all() == []
    assert problems_a.all() == []
