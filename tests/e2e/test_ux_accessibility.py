"""Accessibility as the review checked it: axe-core finds nothing on any screen (the nickname
screen, an empty chat, a search, conversations side by side or behind tabs, the report and help
dialogs, a chat just left with its Undo, the alerts menu, ended and expired conversations, the
moderator console), in light and dark mode, at desktop 1440x900 and phone 390x844. Also: one h1
per screen, the focus after "Start chatting", Leave, Undo, Close and Log out, and the keyboard
shortcuts with their help dialog.

Each screen is also saved under test-artifacts/ux/ (the screenshots in docs/img are copies)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Page, expect

from pairchat.ports import free_port_range

from .browser_people import TIMEOUT_MS, OpenPage, Person, assert_clean, paired
from .pairchat_process import Server
from .ux_support import (
    DESKTOP_1440,
    PHONE_390,
    SCREENS,
    assert_accessible,
    make_unavailable,
    save_screenshot,
    show_conversation,
)

pytestmark = pytest.mark.browser

TOKEN = f"moderator-{secrets.token_hex(16)}"
SHORT_GRACE_S = 2
EXPIRY_TIMEOUT_MS = 30_000 + SHORT_GRACE_S * 1000 + TIMEOUT_MS
SIZES = {"desktop": DESKTOP_1440, "phone": PHONE_390}


@pytest.fixture
def server(tmp_path: Path, built_client: Path) -> Iterator[Server]:
    """`pairchat up` with the moderator console at a known port and a short offline grace, so
    the expired screen comes quickly (replaces conftest.py's server here)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port_range(2)
    srv = Server(
        port,
        data_dir,
        tmp_path / "server.log",
        ops_port=port + 1,
        admin_token=TOKEN,
        extra_args=["--offline-grace", str(SHORT_GRACE_S)],
    )
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


class Screens:
    """Checks one screen after another: axe-core, one h1, and a screenshot for the docs."""

    def __init__(self, size: str, theme: str) -> None:
        self.prefix = f"{size}-{theme}"

    def check(self, page: Page, screen: str) -> None:
        expect(page.locator("h1")).to_have_count(1)
        save_screenshot(page, SCREENS, f"{self.prefix}-{screen}")
        assert_accessible(page, f"{self.prefix} {screen}")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_screen_is_clean_for_axe(
    open_page: OpenPage, server: Server, size: str, theme: Literal["light", "dark"]
) -> None:
    screens = Screens(size, theme)
    viewport = SIZES[size]
    page_a, pa = open_page(viewport=viewport, color_scheme=theme)
    screens.check(page_a, "nickname")
    alice = Person(page_a, "alice").start()
    screens.check(page_a, "chat-empty")

    # A search with nobody else online, then cancelled.
    page_a.get_by_test_id("match-button").click()
    expect(page_a.get_by_test_id("match-progress")).to_be_visible()
    screens.check(page_a, "search")
    page_a.get_by_test_id("cancel-match-button").click()
    expect(page_a.get_by_test_id("match-status")).to_have_attribute("data-phase", "cancelled")

    page_a.get_by_test_id("help-button").click()
    expect(page_a.get_by_test_id("help-dialog")).to_be_visible()
    screens.check(page_a, "help")
    page_a.keyboard.press("Escape")
    expect(page_a.get_by_test_id("help-dialog")).to_be_hidden()
    page_a.get_by_test_id("alerts-button").click()
    expect(page_a.get_by_test_id("alerts-panel")).to_be_visible()
    screens.check(page_a, "alerts")
    page_a.keyboard.press("Escape")
    expect(page_a.get_by_test_id("alerts-panel")).to_have_count(0)

    # A conversation with messages both ways, a link among them.
    page_b, pb = open_page(viewport=viewport, color_scheme=theme)
    bob = Person(page_b, "bob").start()
    alice.match()
    expect(bob.window_with("alice")).to_have_count(1)
    alice.send("bob", "hi! the rules are at https://example.com/rules.")
    bob.send("alice", "hello alice")
    alice.send("bob", "שלום, מה שלומך?")
    screens.check(page_a, "conversation")

    window = alice.window_with("bob")
    window.get_by_test_id("report-button").click()
    expect(page_a.get_by_test_id("report-reason")).to_be_focused()
    screens.check(page_a, "report-dialog")
    page_a.keyboard.press("Escape")
    expect(page_a.get_by_test_id("report-reason")).to_have_count(0)
    # Alice leaves bob: Undo and its countdown first (the screen may be checked after the
    # countdown ran out; both states must be clean), then the chat ends for both.
    window.get_by_test_id("leave-button").click()
    expect(window.get_by_test_id("leave-undo")).to_be_focused()
    screens.check(page_a, "leave-undo")
    expect(window.get_by_test_id("partner-exit")).to_have_attribute("data-end", "left")

    # A third person: someone has two conversations (side by side, or behind tabs).
    page_c, pc = open_page(viewport=viewport, color_scheme=theme)
    carol = Person(page_c, "carol").start()
    carol.match()
    partner = carol.windows.get_by_test_id("partner-name").inner_text().strip()
    busy = alice if partner == "alice" else bob
    expect(busy.windows).to_have_count(2)
    show_conversation(busy.page, "carol")
    busy.send("carol", "welcome, carol")
    screens.check(busy.page, "two-windows")

    # Alice reports bob after leaving: her window says so (reported), bob's says alice left.
    show_conversation(page_a, "bob")
    window.get_by_test_id("report-button").click()
    page_a.get_by_test_id("report-note").fill("rude")
    page_a.get_by_test_id("report-submit").click()
    expect(window.get_by_test_id("partner-exit")).to_have_attribute("data-end", "reported")
    screens.check(page_a, "ended-reported")
    show_conversation(page_b, "alice")
    expect(bob.window_with("alice").get_by_test_id("partner-exit")).to_be_visible()
    screens.check(page_b, "partner-left")

    # The moderator console: the token, then the open report.
    console, pm = open_page(viewport=viewport, color_scheme=theme)
    console.goto(f"{server.ops_url}/moderate")
    expect(console.get_by_test_id("admin-token-input")).to_be_visible()
    screens.check(console, "console-token")
    console.get_by_test_id("admin-token-input").fill(TOKEN)
    console.get_by_test_id("admin-token-submit").click()
    expect(console.get_by_test_id("report-row")).to_have_count(1)
    screens.check(console, "console-reports")

    # Carol's network goes for longer than the grace period: her chat is kept, read-only.
    carol.page.context.set_offline(True)
    expect(busy.window_with("carol").get_by_test_id("partner-exit")).to_have_attribute(
        "data-end", "partner-left", timeout=EXPIRY_TIMEOUT_MS
    )
    carol.page.context.set_offline(False)
    expect(carol.page.get_by_test_id("expired-banner")).to_be_visible()
    carol.expect_texts(busy.nick, ["welcome, carol"])
    screens.check(carol.page, "expired")
    assert_clean(pa, pb, pc, pm)


def test_focus_goes_somewhere_sensible(open_page: OpenPage) -> None:
    page, problems = open_page()
    expect(page.get_by_test_id("nickname-input")).to_be_focused()
    alice = Person(page, "alice").start()
    # After "Start chatting": the next step, New chat.
    expect(page.get_by_test_id("match-button")).to_be_focused()
    page_b, pb = open_page()
    bob = Person(page_b, "bob").start()
    alice.match()
    # After a match of one's own: the new conversation's box.
    expect(alice.window_with("bob").get_by_test_id("message-input")).to_be_focused()
    page_c, pc = open_page()
    carol = Person(page_c, "carol").start()
    carol.match()
    partner = carol.windows.get_by_test_id("partner-name").inner_text().strip()
    busy = alice if partner == "alice" else bob
    other = "bob" if busy is alice else "alice"
    expect(busy.windows).to_have_count(2)
    # Leave: the cursor goes to Undo, and once the leave went out, into what was said.
    busy.leave(other)
    expect(busy.window_with(other).get_by_role("log")).to_be_focused()
    # After closing it, the cursor goes on in the other conversation.
    busy.close(other)
    expect(busy.window_with("carol").get_by_test_id("message-input")).to_be_focused()
    # After leaving and closing the last, back to New chat.
    busy.leave("carol")
    busy.close("carol")
    expect(busy.page.get_by_test_id("match-button")).to_be_focused()
    # After logging out, the nickname field.
    busy.logout()
    expect(busy.page.get_by_test_id("nickname-input")).to_be_focused()
    assert_clean(problems, pb, pc)


def test_keyboard_shortcuts_are_listed_and_work(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    page = alice.page
    box = alice.window_with("bob").get_by_test_id("message-input")
    box.focus()
    # "?" in a text field is text; Ctrl+/ opens the help anywhere, Escape closes it.
    box.press("Shift+Slash")
    expect(box).to_have_value("?")
    expect(page.get_by_test_id("help-dialog")).to_be_hidden()
    box.press("Control+Slash")
    help_dialog = page.get_by_test_id("help-dialog")
    expect(help_dialog).to_be_visible()
    expect(help_dialog.get_by_test_id("help-shortcut")).to_have_count(6)
    expect(help_dialog).to_contain_text("Alt")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    expect(box).to_be_focused()

    # Alt+L leaves, with the cursor on Undo; Enter there keeps the chat, back in the composer.
    box.press("Alt+KeyL")
    expect(page.get_by_test_id("leave-undo")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("leave-pending")).to_have_count(0)
    expect(box).to_be_focused()
    alice.send("bob", "staying")
    bob.expect_texts("alice", ["staying"])
    expect(bob.window_with("alice").get_by_test_id("partner-exit")).to_have_count(0)

    # Alt+N: Next in one step, to carol (bob is no longer open to new chats).
    make_unavailable(bob)
    page_c, pc = open_page()
    carol = Person(page_c, "carol").start()
    box.press("Alt+KeyN")
    ended = alice.window_with("bob")
    expect(ended.get_by_test_id("partner-exit")).to_have_attribute("data-end", "left")
    expect(bob.window_with("alice").get_by_test_id("partner-exit")).to_be_visible()
    expect(carol.window_with("alice")).to_have_count(1)
    # Alt+ArrowUp and Alt+ArrowDown move between the conversations.
    fresh = alice.window_with("carol").get_by_test_id("message-input")
    expect(fresh).to_be_focused()
    fresh.press("Alt+ArrowUp")
    expect(ended.get_by_role("log")).to_be_focused()
    page.keyboard.press("Alt+ArrowDown")
    expect(fresh).to_be_focused()
    # Alt+L on an ended conversation closes it.
    ended.get_by_role("log").focus()
    page.keyboard.press("Alt+KeyL")
    expect(alice.windows).to_have_count(1)
    assert_clean(pa, pb, pc)
