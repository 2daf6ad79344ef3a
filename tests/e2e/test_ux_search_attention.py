"""Waiting for a match and getting attention: the search shows in place, beside the button that
started it (elapsed time, people online, the attempt, Cancel), asks again by itself while nobody
is free; and, once the person opts in, a hidden tab chimes and shows desktop notifications for
new chats and messages, with new chats counted in the title too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .browser_people import MATCH_WAIT_S, TIMEOUT_MS, OpenPage, Person, assert_clean
from .ux_support import COUNTED_ALERTS, HIDEABLE_PAGE, box_of

pytestmark = pytest.mark.browser

# One attempt of a search that finds nobody: the server's match wait.
ATTEMPT_TIMEOUT_MS = MATCH_WAIT_S * 1000 + TIMEOUT_MS


def test_a_search_shows_its_progress_in_place_and_keeps_trying(open_page: OpenPage) -> None:
    page_a, pa = open_page()
    alice = Person(page_a, "alice").start()
    button = page_a.get_by_test_id("match-button")
    button.click()
    status = page_a.get_by_test_id("match-status")
    progress = page_a.get_by_test_id("match-progress")
    expect(status).to_have_text("Looking for anyone…")
    expect(progress).to_have_text(re.compile(r"^0:0\d$"))
    expect(button).to_have_attribute("aria-busy", "true")
    # Beside the button, on its line: not a notice far away.
    near, at = box_of(status), box_of(button)
    assert abs((near["y"] + near["height"] / 2) - (at["y"] + at["height"] / 2)) < at["height"]
    assert 0 <= near["x"] - (at["x"] + at["width"]) < 200, (near, at)

    # Nobody is free after the first wait: it asks again by itself and says how many are online.
    expect(progress).to_contain_text("1 online · try 2 of 4", timeout=ATTEMPT_TIMEOUT_MS)
    expect(page_a.get_by_test_id("notice")).to_have_count(0)
    # Someone comes online: the search, still running, finds them.
    page_b, pb = open_page()
    bob = Person(page_b, "bob").start()
    expect(alice.window_with("bob")).to_have_count(1)
    expect(bob.window_with("alice")).to_have_count(1)
    expect(status).to_have_count(0)
    expect(button).to_have_text("New chat")
    assert_clean(pa, pb)


def test_a_search_from_an_ended_chat_shows_in_that_chat(open_page: OpenPage) -> None:
    page_a, pa = open_page()
    page_b, pb = open_page()
    alice = Person(page_a, "alice").start()
    bob = Person(page_b, "bob").start()
    alice.match()
    expect(bob.window_with("alice")).to_have_count(1)
    bob.logout()
    window = alice.window_with("bob")
    expect(window.get_by_test_id("partner-exit")).to_contain_text("bob left")

    window.get_by_test_id("window-new-chat").click()
    expect(window.get_by_test_id("match-status")).to_have_text("Looking for anyone…")
    expect(window.get_by_test_id("match-progress")).to_be_visible()
    expect(page_a.get_by_test_id("match-status")).to_have_count(1)  # only there
    window.get_by_test_id("cancel-match-button").click()
    expect(window.get_by_test_id("match-status")).to_have_text("Search cancelled.")
    assert_clean(pa, pb)


def test_a_hidden_tab_alerts_when_asked_and_counts_new_chats(open_page: OpenPage) -> None:
    page_a, pa = open_page()
    context = page_a.context
    context.grant_permissions(["notifications"])
    context.add_init_script(HIDEABLE_PAGE)
    context.add_init_script(COUNTED_ALERTS)
    page_a.reload()
    alice = Person(page_a, "alice").start()
    page_b, pb = open_page()
    bob = Person(page_b, "bob").start()

    # Off until asked: a new chat in a hidden tab only changes the title.
    page_a.evaluate("window.__pairchatHidden(true)")
    bob.match()
    expect(page_a).to_have_title("(1) pairchat")
    assert page_a.evaluate("window.__notifications.length") == 0
    page_a.evaluate("window.__pairchatHidden(false)")
    expect(page_a).to_have_title("pairchat")

    page_a.get_by_test_id("alerts-button").click()
    page_a.get_by_test_id("sound-toggle").check()
    page_a.get_by_test_id("notify-toggle").check()
    expect(page_a.get_by_test_id("notify-toggle")).to_be_checked()
    page_a.keyboard.press("Escape")
    expect(page_a.get_by_test_id("alerts-button")).to_contain_text("Alerts on")

    bob.logout()  # so that carol's search can only find alice
    expect(alice.window_with("bob").get_by_test_id("partner-exit")).to_be_visible()
    page_a.evaluate("window.__pairchatHidden(true)")
    page_c, pc = open_page()
    carol = Person(page_c, "carol").start()
    carol.match()
    expect(alice.window_with("carol")).to_have_count(1)
    expect(page_a).to_have_title("(1) pairchat")
    page_a.wait_for_function("window.__notifications.length >= 1 && window.__chimes >= 1")
    carol.send("alice", "psst, alice")
    expect(page_a).to_have_title("(2) pairchat")
    page_a.wait_for_function("window.__notifications.some((n) => n.body === 'psst, alice')")
    notes = page_a.evaluate("window.__notifications")
    assert notes[0]["title"] == "New chat on pairchat"
    assert "carol" in notes[0]["body"]
    assert notes[-1]["title"] == "carol"
    assert notes[0]["tag"] == notes[-1]["tag"]  # one notification per conversation

    # Back in the tab: what was new is seen, and the title says so.
    page_a.evaluate("window.__pairchatHidden(false)")
    expect(page_a).to_have_title("pairchat")
    # The choice is remembered for the next visit.
    page_a.reload()
    alice.expect_online()
    expect(page_a.get_by_test_id("alerts-button")).to_contain_text("Alerts on")
    assert_clean(pa, pb, pc)
