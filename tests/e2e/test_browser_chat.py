"""The web client against a real `pairchat up`, in Debian's chromium: what a person can do."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .browser_people import (
    OFFLINE_GRACE_S,
    SEARCH_TIMEOUT_MS,
    TIMEOUT_MS,
    Artifact,
    OpenPage,
    Person,
    assert_clean,
    exactly,
    paired,
)
from .pairchat_process import Server

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
PHONE = {"width": 390, "height": 800}
HISTORY_PAGE = 200  # the largest HISTORY page the protocol allows


def test_two_people_match_and_chat_both_ways(open_page: OpenPage, artifact: Artifact) -> None:
    first_page, _ = open_page()
    artifact(first_page, "01-nickname-screen")
    first_page.close()

    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    expect(alice.page.get_by_test_id("own-name")).to_have_text("alice")

    alice.send("bob", "hi bob")
    bob.expect_texts("alice", ["hi bob"])
    bob.send("alice", "hello alice, how are you?")
    alice.expect_texts("bob", ["hi bob", "hello alice, how are you?"])
    alice.send("bob", "fine, thanks\nand you?")
    bob.expect_texts("alice", ["hi bob", "hello alice, how are you?", "fine, thanks\nand you?"])

    # Bob's window is on screen, so alice's messages turn "seen" (VIEWED_ACK -> ViewedAck).
    alice_own = alice.window_with("bob").locator('[data-testid="message"][data-own="true"]')
    expect(alice_own.last).to_have_attribute("data-status", "seen")

    # Typing in one window shows the indicator in the other.
    bob.window_with("alice").get_by_test_id("message-input").press_sequentially("typing…")
    expect(alice.window_with("bob").get_by_test_id("typing-indicator")).to_contain_text(
        "bob is typing"
    )
    artifact(alice.page, "02-conversation")
    assert_clean(pa, pb)


def test_third_person_gets_a_second_window_side_by_side(
    open_page: OpenPage, artifact: Artifact
) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "first conversation")
    bob.expect_texts("alice", ["first conversation"])

    page_c, pc = open_page()
    carol = Person(page_c, "carol").start()
    carol.match()
    partner_name = carol.windows.get_by_test_id("partner-name").inner_text().strip()
    assert partner_name in {"alice", "bob"}
    busy = alice if partner_name == "alice" else bob
    other = bob if busy is alice else alice
    expect(busy.windows).to_have_count(2)
    expect(busy.window_with("carol")).to_have_count(1)

    # Both windows are usable at the same time: visible, side by side, each with its own input.
    first_box = busy.window_with(other.nick).bounding_box()
    second_box = busy.window_with("carol").bounding_box()
    assert first_box and second_box
    assert first_box["x"] + first_box["width"] <= second_box["x"], (first_box, second_box)
    expect(busy.window_with(other.nick)).to_be_in_viewport()
    expect(busy.window_with("carol")).to_be_in_viewport()

    busy.send("carol", f"hi carol, {busy.nick} here")
    carol.expect_texts(busy.nick, [f"hi carol, {busy.nick} here"])
    carol.send(busy.nick, "hello from carol")
    busy.send(other.nick, "still here for you too")
    other.expect_texts(busy.nick, ["first conversation", "still here for you too"])
    busy.expect_texts("carol", [f"hi carol, {busy.nick} here", "hello from carol"])
    # Nothing crossed between the conversations.
    expect(other.windows).to_have_count(1)
    artifact(busy.page, "03-two-windows")
    assert_clean(pa, pb, pc)


def test_leave_shows_partner_exit_and_offers_a_new_chat(
    open_page: OpenPage, artifact: Artifact
) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "I have to go")
    bob.expect_texts("alice", ["I have to go"])

    # One click on Leave, as the web client contract has it: bob hears of it within seconds.
    left = alice.window_with("bob")
    left.get_by_test_id("leave-button").click()
    window = bob.window_with("alice")
    expect(window.get_by_test_id("partner-exit")).to_be_visible()
    expect(window.get_by_test_id("partner-exit")).to_contain_text("alice left")
    # Alice's window says so too and stays, readable, until she closes it.
    expect(left.get_by_test_id("partner-exit")).to_have_attribute("data-end", "left")
    expect(left.get_by_test_id("message-input")).to_be_disabled()
    alice.expect_texts("bob", ["I have to go"])
    alice.close("bob")
    expect(window.get_by_test_id("message-input")).to_be_disabled()
    expect(window.get_by_test_id("send-button")).to_be_disabled()
    # The conversation stays readable, even after a refresh.
    bob.expect_texts("alice", ["I have to go"])
    artifact(bob.page, "04-partner-left")
    bob.page.reload()
    bob.expect_online()
    window = bob.window_with("alice")
    expect(window.get_by_test_id("partner-exit")).to_be_visible()
    expect(window.get_by_test_id("message-input")).to_be_disabled()
    bob.expect_texts("alice", ["I have to go"])

    # One click starts a new chat from the ended window (alice is the one online with capacity).
    window.get_by_test_id("window-new-chat").click()
    expect(bob.windows).to_have_count(2)
    expect(alice.window_with("bob")).to_have_count(1)
    expect(alice.window_with("bob").get_by_test_id("message-input")).to_be_enabled()
    assert_clean(pa, pb)


def test_logout_shows_partner_exit_on_the_other_side(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    bob.send("alice", "bye for now")
    alice.expect_texts("bob", ["bye for now"])

    bob.logout()
    expect(bob.page.get_by_test_id("session-window")).to_have_count(0)
    window = alice.window_with("bob")
    expect(window.get_by_test_id("partner-exit")).to_be_visible()
    expect(window.get_by_test_id("message-input")).to_be_disabled()

    # A refresh after logging out stays logged out: the token was forgotten.
    bob.page.reload()
    expect(bob.page.get_by_test_id("nickname-input")).to_be_visible()
    assert_clean(pa, pb)


def test_refresh_restores_conversations_and_history_without_duplicates(
    open_page: OpenPage, artifact: Artifact
) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    expected: list[str] = []
    for i in range(3):
        alice.send("bob", f"alice says {i}")
        expected.append(f"alice says {i}")
        bob.send("alice", f"bob says {i}")
        expected.append(f"bob says {i}")
    alice.expect_texts("bob", expected)
    session_id = alice.window_with("bob").get_attribute("data-session-id")
    own = alice.window_with("bob").locator('[data-testid="message"][data-own="true"]')
    expect(own.last).to_have_attribute("data-status", "seen")

    alice.page.reload()
    alice.expect_online()
    expect(alice.page.get_by_test_id("own-name")).to_have_text("alice")
    expect(alice.windows).to_have_count(1)
    expect(alice.window_with("bob")).to_have_attribute("data-session-id", session_id or "")
    alice.expect_texts("bob", expected)
    expect(own).to_have_count(3)
    # Seen marks survive the refresh too.
    expect(own.last).to_have_attribute("data-status", "seen")

    # The conversation goes on in both directions after the refresh.
    bob.send("alice", "still there?")
    alice.expect_texts("bob", [*expected, "still there?"])
    alice.send("bob", "yes, back again")
    bob.expect_texts("alice", [*expected, "still there?", "yes, back again"])

    # A second refresh, with bob writing while alice is away, still shows everything once.
    alice.page.reload()
    bob.send("alice", "written during the refresh")
    alice.expect_online()
    alice.expect_texts(
        "bob", [*expected, "still there?", "yes, back again", "written during the refresh"]
    )
    artifact(alice.page, "05-after-refresh")
    assert_clean(pa, pb)


def test_markup_is_shown_as_text_and_never_runs(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", XSS)
    bob.expect_texts("alice", [XSS])
    for person in (alice, bob):
        messages = person.page.get_by_test_id("message")
        expect(messages.locator("img")).to_have_count(0)
        text = person.page.get_by_test_id("message-text").first
        expect(text).to_have_text(XSS)
        assert "&lt;img" in text.inner_html()
    assert pa.dialogs == [] and pb.dialogs == []
    assert_clean(pa, pb)


def test_phone_layout_switches_conversations_with_tabs(
    open_page: OpenPage, artifact: Artifact
) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob", viewport=PHONE)
    page_c, pc = open_page(viewport=PHONE)
    carol = Person(page_c, "carol").start()
    carol.match()
    partner = carol.windows.get_by_test_id("partner-name").inner_text().strip()
    busy = alice if partner == "alice" else bob
    other = "bob" if busy is alice else "alice"
    expect(busy.windows).to_have_count(2)

    tabs = busy.page.get_by_role("tab")
    expect(tabs).to_have_count(2)
    # One window at a time on a narrow screen.
    expect(busy.windows.locator("visible=true")).to_have_count(1)
    busy.page.get_by_role("tab", name=re.compile(other)).click()
    expect(busy.window_with(other)).to_be_visible()
    expect(busy.window_with("carol")).to_be_hidden()

    # A message in the hidden conversation shows as unread on its tab.
    carol.send(busy.nick, "are you there?")
    carol_tab = busy.page.get_by_role("tab", name=re.compile("carol"))
    expect(carol_tab.locator(".badge")).to_have_text(exactly("1"))
    artifact(busy.page, "06-phone-tabs")
    carol_tab.click()
    expect(busy.window_with("carol")).to_be_visible()
    expect(carol_tab.locator(".badge")).to_have_count(0, timeout=TIMEOUT_MS)
    busy.expect_texts("carol", ["are you there?"])
    assert_clean(pa, pb, pc)


def test_dark_mode_is_readable(open_page: OpenPage, artifact: Artifact) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob", color_scheme="dark")
    alice.send("bob", "dark mode check")
    bob.expect_texts("alice", ["dark mode check"])
    background = bob.page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    text_color = bob.page.evaluate("getComputedStyle(document.documentElement).color")
    assert background != text_color

    # A dark page: the body background is darker than its text.
    def luminance(css: str) -> float:
        r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    assert luminance(background) < 60 < luminance(text_color), (background, text_color)
    artifact(bob.page, "07-dark-mode")
    assert_clean(pa, pb)


def test_lost_connection_reconnects_and_delivers_everything_once(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "before the drop")
    bob.expect_texts("alice", ["before the drop"])

    bob.page.context.set_offline(True)
    status = bob.page.get_by_test_id("connection-status")
    expect(status).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    alice.send("bob", "while you were away")
    box = bob.window_with("alice").get_by_test_id("message-input")
    box.fill("written while offline")
    box.press("Enter")
    pending = bob.window_with("alice").locator('[data-testid="message"][data-own="true"]')
    expect(pending).to_have_attribute("data-status", "pending")

    bob.page.context.set_offline(False)
    bob.expect_online()
    everything = ["before the drop", "while you were away", "written while offline"]
    bob.expect_texts("alice", everything)
    expect(pending).not_to_have_attribute("data-status", re.compile("pending|failed"))
    alice.expect_texts("bob", everything)
    assert_clean(pa, pb)


def test_reconnects_by_itself_after_a_broker_restart(open_page: OpenPage, server: Server) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "before the restart")
    bob.expect_texts("alice", ["before the restart"])

    server.stop()
    for person in (alice, bob):
        expect(person.page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "reconnecting"
        )
    server.start()
    alice.expect_online()
    bob.expect_online()
    alice.send("bob", "after the restart")
    bob.expect_texts("alice", ["before the restart", "after the restart"])
    bob.send("alice", "got it")
    alice.expect_texts("bob", ["before the restart", "after the restart", "got it"])
    # Failed connection attempts while the broker was down are logged by chromium itself.
    ignore = re.compile(r"WebSocket connection to .* failed")
    for problems in (pa, pb):
        problems.console_errors[:] = [m for m in problems.console_errors if not ignore.search(m)]
    assert_clean(pa, pb)


def test_nobody_available_is_said_beside_the_button(open_page: OpenPage) -> None:
    page, problems = open_page()
    alone = Person(page, "alone").start()
    alone.page.get_by_test_id("match-button").click()
    status = page.get_by_test_id("match-status")
    # Nobody else is online: after a few match waits the page says so where the search was asked.
    expect(status).to_have_attribute("data-phase", "none-free", timeout=SEARCH_TIMEOUT_MS)
    expect(status).to_contain_text("No one is free right now (1 online)")
    expect(alone.windows).to_have_count(0)
    expect(page.get_by_test_id("notice")).to_have_count(0)
    assert_clean(problems)


def test_expired_account_keeps_the_chat_readable_and_starts_again(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "see you")
    bob.expect_texts("alice", ["see you"])
    bob.page.context.set_offline(True)
    # Past the offline grace the server logs bob out: alice is told, bob's token stops working.
    expect(alice.window_with("bob").get_by_test_id("partner-exit")).to_be_visible(
        timeout=OFFLINE_GRACE_S * 1000 + TIMEOUT_MS
    )
    bob.page.context.set_offline(False)
    expect(bob.page.get_by_test_id("expired-banner")).to_be_visible()
    assert bob.page.evaluate("sessionStorage.getItem('pairchat.token')") is None
    # What was said stays readable; bob starts again under the same name in one click.
    bob.expect_texts("alice", ["see you"])
    bob.page.get_by_test_id("restart-button").click()
    bob.expect_online()
    expect(bob.page.get_by_test_id("own-name")).to_have_text("bob")
    assert_clean(pa, pb)


def test_a_history_longer_than_one_page_comes_back_whole(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    total = HISTORY_PAGE + 5  # the client pages HISTORY 200 at a time
    box = alice.window_with("bob").get_by_test_id("message-input")
    for i in range(total):
        box.fill(f"line {i}")
        box.press("Enter")
    own = alice.window_with("bob").locator('[data-testid="message"][data-own="true"]')
    expect(own).to_have_count(total)
    expect(alice.window_with("bob").locator('[data-status="pending"]')).to_have_count(0)
    expect(bob.window_with("alice").get_by_test_id("message")).to_have_count(total)

    bob.page.reload()
    bob.expect_online()
    texts = bob.window_with("alice").get_by_test_id("message-text")
    expect(texts).to_have_count(total)
    assert texts.all_inner_texts() == [f"line {i}" for i in range(total)]
    assert_clean(pa, pb)


def test_a_second_tab_takes_over_without_a_tug_of_war(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    bob.send("alice", "one")
    alice.expect_texts("bob", ["one"])

    # A duplicated tab: the same sessionStorage (credentials) in another page.
    stored = alice.page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
    page2, p2 = open_page()
    page2.evaluate(
        "(e) => { for (const [k, v] of JSON.parse(e)) sessionStorage.setItem(k, v) }", stored
    )
    page2.reload()
    twin = Person(page2, "alice")
    twin.expect_online()
    twin.expect_texts("bob", ["one"])

    # The first tab was closed by the server (4000) and waits instead of taking the account back.
    expect(alice.page.get_by_test_id("superseded-banner")).to_be_visible()
    expect(alice.page.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "offline"
    )
    bob.send("alice", "two")
    twin.expect_texts("bob", ["one", "two"])
    expect(alice.page.get_by_test_id("superseded-banner")).to_be_visible()
    twin.expect_online()

    # "Use here" moves the account back; now the twin waits.
    alice.page.get_by_test_id("resume-button").click()
    alice.expect_online()
    expect(page2.get_by_test_id("superseded-banner")).to_be_visible()
    bob.send("alice", "three")
    alice.expect_texts("bob", ["one", "two", "three"])
    alice.send("bob", "back here")
    bob.expect_texts("alice", ["one", "two", "three", "back here"])
    assert_clean(pa, pb, p2)
