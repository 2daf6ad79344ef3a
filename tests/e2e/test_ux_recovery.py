"""Losing the connection for longer than the server's grace period, as a person meets it: the
conversations stay readable (read-only), the page says plainly what happened, and one click
starts again with the same nickname. The system runs with a short `--offline-grace`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browser_people import TIMEOUT_MS, OpenPage, Person, assert_clean, exactly, paired
from .pairchat_process import Server, free_port

pytestmark = pytest.mark.browser

SHORT_GRACE_S = 2
# The server notices a dead connection by its heartbeat (at most ~25 s by default), then waits
# out the grace period before it ends the account.
EXPIRY_TIMEOUT_MS = 30_000 + SHORT_GRACE_S * 1000 + TIMEOUT_MS


@pytest.fixture
def server(tmp_path: Path, built_client: Path) -> Iterator[Server]:
    """`pairchat up` with a short offline grace (replaces conftest.py's server here)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    srv = Server(
        free_port(),
        data_dir,
        tmp_path / "server.log",
        extra_args=["--offline-grace", str(SHORT_GRACE_S)],
    )
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def expire(person: Person, partner: Person) -> None:
    """`person`'s page loses the network until the server ended the account (the partner is
    told), then gets it back."""
    person.page.context.set_offline(True)
    expect(partner.window_with(person.nick).get_by_test_id("partner-exit")).to_be_visible(
        timeout=EXPIRY_TIMEOUT_MS
    )
    person.page.context.set_offline(False)


def test_after_the_grace_period_the_chat_stays_readable_and_one_click_starts_again(
    open_page: OpenPage,
) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "are you still there?")
    bob.send("alice", "yes, on a train")
    expire(bob, alice)

    page = bob.page
    banner = page.get_by_test_id("expired-banner")
    expect(banner).to_be_visible()
    # Plain words: how long bob was offline and what that did.
    expect(banner).to_contain_text(re.compile(r"You were offline for \d+ (s|min)"))
    expect(banner).to_contain_text("your chats have ended")
    # The nickname is kept; the conversation is there, read-only.
    window = bob.window_with("alice")
    bob.expect_texts("alice", ["are you still there?", "yes, on a train"])
    expect(window.get_by_test_id("partner-exit")).to_have_attribute("data-end", "expired")
    expect(window.get_by_test_id("message-input")).to_be_disabled()
    expect(window.get_by_test_id("report-button")).to_have_count(0)
    expect(page.get_by_test_id("logout-button")).to_have_count(0)
    restart = page.get_by_test_id("restart-button")
    expect(restart).to_have_text(exactly("Start again as bob"))
    expect(restart).to_be_focused()

    # A refresh keeps it all: the transcript is the page's own copy now.
    page.reload()
    expect(page.get_by_test_id("expired-banner")).to_be_visible()
    bob.expect_texts("alice", ["are you still there?", "yes, on a train"])

    # One click: a new account with the same nickname, online, able to chat again.
    page.get_by_test_id("restart-button").click()
    bob.expect_online()
    expect(page.get_by_test_id("own-name")).to_have_text("bob")
    expect(page.get_by_test_id("expired-banner")).to_have_count(0)
    expect(page.get_by_test_id("match-button")).to_be_focused()
    # The old conversation stays readable until closed, next to the new ones.
    bob.expect_texts("alice", ["are you still there?", "yes, on a train"])
    bob.match()
    expect(alice.windows).to_have_count(2)
    new_window = bob.windows.nth(1)
    new_window.get_by_test_id("message-input").fill("it's me again")
    new_window.get_by_test_id("message-input").press("Enter")
    expect(alice.windows.nth(1).get_by_test_id("message-text")).to_have_text(["it's me again"])
    bob.window_with("alice").first.get_by_test_id("close-button").click()
    expect(bob.windows).to_have_count(1)
    page.reload()
    bob.expect_online()
    expect(bob.windows).to_have_count(1)
    assert_clean(pa, pb)


def test_another_nickname_after_the_grace_period_keeps_the_transcript(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "remember me")
    bob.expect_texts("alice", ["remember me"])
    expire(bob, alice)

    page = bob.page
    page.get_by_test_id("restart-other").click()
    nickname = page.get_by_test_id("nickname-input")
    expect(nickname).to_have_value("bob")
    expect(nickname).to_be_focused()
    Person(page, "robert").start()
    expect(page.get_by_test_id("own-name")).to_have_text("robert")
    bob.expect_texts("alice", ["remember me"])
    assert_clean(pa, pb)
