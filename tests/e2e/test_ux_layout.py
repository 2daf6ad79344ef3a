"""The chat's layout as a person sees it: on a wide screen the conversations fill the window
(side by side while each keeps a usable size, else a list beside one conversation), follow its
size, and are all reachable without scrolling the page; on a phone one shows at a time behind
tabs in a landmark, notices never cover a button, and the composer stays above the keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .browser_people import OpenPage, Person, assert_clean, paired
from .ux_support import (
    DESKTOP_1440,
    ON_SCREEN_KEYBOARD,
    PHONE_390,
    SCREENS,
    box_of,
    overlaps,
    page_scrolls,
    save_screenshot,
)

pytestmark = pytest.mark.browser

# The smallest window the grid gives (MIN_WINDOW_WIDTH x MIN_WINDOW_HEIGHT in app/layout.ts).
MIN_WIDTH, MIN_HEIGHT = 320, 340


def assert_all_on_screen_side_by_side(page: Page, count: int) -> None:
    """`count` windows, each whole on screen and of a usable size, none over another."""
    viewport = page.viewport_size
    assert viewport is not None
    windows = page.get_by_test_id("session-window")
    expect(windows).to_have_count(count)
    boxes = [box_of(windows.nth(i)) for i in range(count)]
    for box in boxes:
        assert box["x"] >= 0 and box["y"] >= 0, box
        assert box["x"] + box["width"] <= viewport["width"] + 0.5, (box, viewport)
        assert box["y"] + box["height"] <= viewport["height"] + 0.5, (box, viewport)
        assert box["width"] >= MIN_WIDTH and box["height"] >= MIN_HEIGHT, box
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            assert not overlaps(first, second), (first, second)
    assert not page_scrolls(page)


def test_desktop_conversations_fill_the_screen_and_follow_its_size(open_page: OpenPage) -> None:
    alice, _, pa, pb = paired(open_page, "alice", "bob", viewport=DESKTOP_1440)
    page = alice.page
    # One conversation takes the screen's height, not a small column in a corner.
    box = box_of(alice.window_with("bob"))
    assert box["height"] >= 0.75 * DESKTOP_1440["height"], box
    assert box["width"] >= 600, box
    assert not page_scrolls(page)

    problems = [pa, pb]
    for nick in ("carol", "dave"):
        other, found = open_page(viewport=DESKTOP_1440)
        Person(other, nick).start()
        problems.append(found)
        alice.match()
    assert_all_on_screen_side_by_side(page, 3)

    # A smaller window: still three side by side, all on screen.
    page.set_viewport_size({"width": 1024, "height": 768})
    expect(page.get_by_test_id("session-window").first).to_have_css("display", "flex")
    assert_all_on_screen_side_by_side(page, 3)

    # Too small for three: a list of the conversations beside the one shown.
    page.set_viewport_size({"width": 800, "height": 560})
    conversations = page.get_by_role("navigation", name="Conversations")
    tabs = conversations.get_by_role("tab")
    expect(tabs).to_have_count(3)
    expect(conversations.get_by_role("tablist")).to_have_attribute("aria-orientation", "vertical")
    windows = page.get_by_test_id("session-window")
    for i in range(3):
        tabs.nth(i).click()
        expect(windows.locator("visible=true")).to_have_count(1)
        shown = windows.locator("visible=true")
        expect(shown).to_be_in_viewport(ratio=1)
        expect(shown.get_by_test_id("message-input")).to_be_enabled()
    assert not page_scrolls(page)
    save_screenshot(page, SCREENS, "desktop-light-list")

    # Back to a wide screen: side by side again.
    page.set_viewport_size(DESKTOP_1440)
    expect(conversations).to_have_count(0)
    assert_all_on_screen_side_by_side(page, 3)
    assert_clean(*problems)


def test_phone_tabs_are_in_a_landmark_and_notices_cover_no_button(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob", viewport=PHONE_390)
    page_c, pc = open_page(viewport=PHONE_390)
    carol = Person(page_c, "carol").start()
    carol.match()
    partner = carol.windows.get_by_test_id("partner-name").inner_text().strip()
    busy = alice if partner == "alice" else bob
    page = busy.page

    nav = page.get_by_role("navigation", name="Conversations")
    expect(nav.get_by_role("tablist").get_by_role("tab")).to_have_count(2)
    # "carol started a chat with you." shows while the header's buttons stay free.
    notices = page.get_by_test_id("notice")
    expect(notices.filter(has_text="carol started a chat with you")).to_have_count(1)
    window = busy.windows.locator("visible=true")
    buttons = [
        page.get_by_test_id("logout-button"),
        page.get_by_test_id("match-button"),
        page.get_by_test_id("alerts-button"),
        page.get_by_test_id("help-button"),
        page.get_by_test_id("availability-toggle"),
        window.get_by_test_id("next-button"),
        window.get_by_test_id("report-button"),
        window.get_by_test_id("block-button"),
        window.get_by_test_id("leave-button"),
        *[nav.get_by_role("tab").nth(i) for i in range(2)],
    ]
    for notice in notices.all():
        for button in buttons:
            assert not overlaps(box_of(notice), box_of(button)), (notice, button)
    # Everything still works with the notice there.
    page.get_by_role("tab", name=re.compile("^carol")).click()
    busy.send("carol", "hi carol")
    carol.expect_texts(busy.nick, ["hi carol"])
    assert not page_scrolls(page)
    assert_clean(pa, pb, pc)


def test_phone_composer_stays_above_the_on_screen_keyboard(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob", viewport=PHONE_390)
    page = alice.page
    page.context.add_init_script(ON_SCREEN_KEYBOARD)
    page.reload()
    alice.expect_online()
    window = alice.window_with("bob")
    box = window.get_by_test_id("message-input")
    box.focus()

    keyboard = 320
    page.evaluate(f"window.__pairchatKeyboard({keyboard})")
    above = PHONE_390["height"] - keyboard
    for part in (box, window.get_by_test_id("send-button"), window.get_by_test_id("leave-button")):
        part_box = box_of(part)
        assert part_box["y"] >= 0 and part_box["y"] + part_box["height"] <= above, part_box
    alice.send("bob", "typed above the keyboard")
    bob.expect_texts("alice", ["typed above the keyboard"])

    page.evaluate("window.__pairchatKeyboard(0)")
    expect(page.locator(".chat")).not_to_have_class(re.compile("chat--keyboard"))
    assert box_of(box)["y"] + box_of(box)["height"] > above
    assert not page_scrolls(page)
    assert_clean(pa, pb)
