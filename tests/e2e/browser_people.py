"""A person using the pairchat page, in the words of the web client contract (data-testid hooks).

Every wait is a Playwright expectation whose default timeout derives from TIMEOUT_S: no sleeps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

# The one timeout everything else derives from, in seconds.
TIMEOUT_S = float(os.environ.get("PAIRCHAT_E2E_TIMEOUT", "15"))
TIMEOUT_MS = TIMEOUT_S * 1000
SERVER_START_TIMEOUT_S = 2 * TIMEOUT_S
SERVER_STOP_TIMEOUT_S = TIMEOUT_S
POLL_INTERVAL_S = TIMEOUT_S / 150  # health-check polling cadence, not a synchronisation sleep
# Server settings the tests rely on (the brief's command line): how long an account survives
# without a connection, and how long MATCH waits for a partner.
OFFLINE_GRACE_S = 20
MATCH_WAIT_S = 3
# The page asks this many times (MATCH_ATTEMPTS in web/src/app/finder.ts) before it says nobody
# is free, so a search that finds nobody takes that many match waits.
MATCH_ATTEMPTS = 4
SEARCH_TIMEOUT_MS = MATCH_ATTEMPTS * MATCH_WAIT_S * 1000 + TIMEOUT_MS


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and dialogs seen on one page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"uncaught: {m}" for m in self.page_errors]
            + [f"dialog: {m}" for m in self.dialogs]
        )


# What the fixtures hand to tests: open the client as a new person; save a screenshot.
OpenPage = Callable[..., tuple[Page, PageProblems]]
Artifact = Callable[[Page, str], Path]


def exactly(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


class Person:
    def __init__(self, page: Page, nick: str) -> None:
        self.page = page
        self.nick = nick

    # ---- account --------------------------------------------------------------------------

    def start(self) -> Person:
        """Create the account and wait until the chat screen is online."""
        self.page.get_by_test_id("nickname-input").fill(self.nick)
        self.page.get_by_test_id("start-button").click()
        expect(self.page.get_by_test_id("match-button")).to_be_visible()
        self.expect_online()
        return self

    def expect_online(self) -> None:
        expect(self.page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "online"
        )

    def logout(self) -> None:
        self.page.get_by_test_id("logout-button").click()
        expect(self.page.get_by_test_id("nickname-input")).to_be_visible()

    # ---- conversations --------------------------------------------------------------------

    @property
    def windows(self) -> Locator:
        return self.page.get_by_test_id("session-window")

    def window_with(self, partner: str) -> Locator:
        return self.windows.filter(
            has=self.page.get_by_test_id("partner-name").filter(has_text=exactly(partner))
        )

    def match(self) -> None:
        """Press "New chat" and wait for the new window."""
        before = self.windows.count()
        self.page.get_by_test_id("match-button").click()
        expect(self.windows).to_have_count(before + 1)

    def leave(self, partner: str) -> None:
        """Leave the conversation with `partner` in one click; wait until the LEAVE went out (a
        few seconds later, once Undo is no longer offered): the window then says "You left"
        (`partner-exit`, `data-end` "left") and stays, readable, until closed. The partner's
        page shows `partner-exit` as soon as the server tells it."""
        window = self.window_with(partner)
        window.get_by_test_id("leave-button").click()
        expect(window.get_by_test_id("partner-exit")).to_have_attribute("data-end", "left")

    def close(self, partner: str) -> None:
        """Close the window of the ended conversation with `partner`."""
        window = self.window_with(partner)
        window.get_by_test_id("close-button").click()
        expect(window).to_have_count(0)

    def send(self, partner: str, text: str) -> None:
        """Type into the window with `partner` and press Enter; wait until the server stored it."""
        window = self.window_with(partner)
        own_before = window.locator('[data-testid="message"][data-own="true"]').count()
        box = window.get_by_test_id("message-input")
        box.fill(text)
        box.press("Enter")
        expect(box).to_have_value("")
        last_own = window.locator('[data-testid="message"][data-own="true"]').nth(own_before)
        expect(last_own.get_by_test_id("message-text")).to_have_text(text)
        expect(last_own).not_to_have_attribute("data-status", re.compile("pending|failed"))

    def texts(self, partner: str) -> list[str]:
        return self.window_with(partner).get_by_test_id("message-text").all_inner_texts()

    def expect_texts(self, partner: str, texts: list[str]) -> None:
        expect(self.window_with(partner).get_by_test_id("message-text")).to_have_text(texts)


def assert_clean(*problems: PageProblems) -> None:
    found = [problem for p in problems for problem in p.all()]
    assert found == [], found


def paired(
    open_page: OpenPage, first: str, second: str, **page_options: object
) -> tuple[Person, Person, PageProblems, PageProblems]:
    """Two people with accounts; `first` matched `second` (the only other one online)."""
    page_a, problems_a = open_page(**page_options)
    page_b, problems_b = open_page(**page_options)
    a = Person(page_a, first).start()
    b = Person(page_b, second).start()
    a.match()
    expect(a.window_with(second)).to_have_count(1)
    # The partner's window opens from the NewSession push, with the same session id.
    expect(b.window_with(first)).to_have_count(1)
    session_id = a.window_with(second).get_attribute("data-session-id")
    expect(b.window_with(first)).to_have_attribute("data-session-id", session_id or "")
    return a, b, problems_a, problems_b
