"""Protocol 1.1 in the web client against a real `pairchat up`, in Debian's chromium, through the
hooks of the web client contract: report and block, interests, availability, cancelling a
search, and a partner who is away and comes back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import WebSocket, expect

from .browser_people import (
    SEARCH_TIMEOUT_MS,
    TIMEOUT_MS,
    OpenPage,
    Person,
    assert_clean,
    exactly,
    paired,
)

pytestmark = pytest.mark.browser


def start_search(person: Person) -> None:
    """Press "New chat" and wait until the page shows the search running."""
    person.page.get_by_test_id("match-button").click()
    expect(person.page.get_by_test_id("cancel-match-button")).to_be_visible()


def expect_no_one_free(person: Person) -> None:
    """The running search ended without a partner (code 4 after the match wait)."""
    status = person.page.get_by_test_id("match-status")
    expect(status).to_have_attribute("data-phase", "none-free", timeout=SEARCH_TIMEOUT_MS)
    expect(status).to_contain_text("No one is free")
    expect(person.page.get_by_test_id("cancel-match-button")).to_have_count(0)


def reload_watching_socket(person: Person) -> WebSocket:
    """Reload the page (a refresh: the account comes back) and return its new WebSocket, so a
    test can wait for the server's answer to a request whose effect shows on another page."""
    with person.page.expect_websocket() as opened:
        person.page.reload()
    person.expect_online()
    return opened.value


@contextmanager
def answered(socket: WebSocket, cmd: str) -> Iterator[None]:
    """On leaving the block, the server has answered `cmd` with code 0 on `socket`."""

    def is_answer(payload: str | bytes) -> bool:
        frame = json.loads(payload)
        return bool(frame.get("cmd") == cmd and frame.get("code") == 0 and "requestId" in frame)

    with socket.expect_event("framereceived", predicate=is_answer, timeout=TIMEOUT_MS):
        yield


# ---- report and block ---------------------------------------------------------------------


def test_a_report_ends_the_chat_and_the_two_are_not_matched_again(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "buy cheap pills at my site")
    bob.expect_texts("alice", ["buy cheap pills at my site"])

    # Bob reports alice through the dialog: a reason is chosen from the start, he picks another.
    window = bob.window_with("alice")
    window.get_by_test_id("report-button").click()
    reason = bob.page.get_by_test_id("report-reason")
    submit = bob.page.get_by_test_id("report-submit")
    expect(reason).to_have_value("spam")
    expect(submit).to_be_enabled()
    reason.select_option("abuse")
    bob.page.get_by_test_id("report-note").fill("rude, then spam")
    submit.click()
    expect(reason).to_have_count(0)  # the dialog closed

    exit_notice = window.get_by_test_id("partner-exit")
    expect(exit_notice).to_have_attribute("data-end", "reported")
    expect(exit_notice).to_contain_text("You reported alice")
    expect(window.get_by_test_id("message-input")).to_be_disabled()
    expect(alice.window_with("bob").get_by_test_id("partner-exit")).to_contain_text(
        "bob left the chat"
    )
    expect(alice.window_with("bob").get_by_test_id("message-input")).to_be_disabled()

    # Both look for someone new at once. Being the only two online, each would pick the other
    # (one waiting, the other online); a report keeps them apart.
    start_search(alice)
    start_search(bob)
    expect_no_one_free(alice)
    expect_no_one_free(bob)
    expect(alice.windows).to_have_count(1)
    expect(bob.windows).to_have_count(1)

    # Matching itself still works for both: a third person is found by each.
    page_c, pc = open_page()
    carol = Person(page_c, "carol").start()
    alice.match()
    expect(alice.window_with("carol")).to_have_count(1)
    bob.match()
    expect(bob.window_with("carol")).to_have_count(1)
    expect(carol.windows).to_have_count(2)
    assert_clean(pa, pb, pc)


def test_block_ends_the_chat_for_both_in_one_click(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    bob.send("alice", "hi")
    alice.expect_texts("bob", ["hi"])

    window = alice.window_with("bob")
    window.get_by_test_id("block-button").click()
    exit_notice = window.get_by_test_id("partner-exit")
    expect(exit_notice).to_have_attribute("data-end", "blocked")
    expect(exit_notice).to_contain_text("You blocked bob — you will not be matched again")
    expect(window.get_by_test_id("message-input")).to_be_disabled()
    expect(window.get_by_test_id("block-button")).to_have_count(0)
    alice.expect_texts("bob", ["hi"])  # the conversation stays readable

    other = bob.window_with("alice")
    expect(other.get_by_test_id("partner-exit")).to_contain_text("alice left the chat")
    expect(other.get_by_test_id("message-input")).to_be_disabled()

    # Alice is online and open to new chats, but bob's search does not pick her any more.
    start_search(bob)
    expect_no_one_free(bob)
    expect(bob.windows).to_have_count(1)
    assert_clean(pa, pb)


# ---- finding a partner --------------------------------------------------------------------


def test_people_who_share_an_interest_see_it_named_in_their_windows(open_page: OpenPage) -> None:
    page_a, pa = open_page()
    page_b, pb = open_page()
    # Alice names hers on the nickname screen, bob his beside the match button.
    page_a.get_by_test_id("interests-input").fill("Chess, jazz")
    alice = Person(page_a, "alice").start()
    expect(page_a.get_by_test_id("interest-tag")).to_contain_text(["chess", "jazz"])
    bob = Person(page_b, "bob").start()
    page_b.get_by_test_id("interests-input").fill("go, CHESS")
    page_b.get_by_test_id("interests-input").press("Enter")
    expect(page_b.get_by_test_id("interest-tag")).to_contain_text(["go", "chess"])

    start_search(alice)
    expect(page_a.get_by_test_id("match-status")).to_contain_text(
        "Looking for someone who likes chess, jazz"
    )
    bob.match()
    shared = re.compile(r"^\s*You both like\s*chess\s*$")
    expect(bob.window_with("alice").get_by_test_id("common-interests")).to_have_text(shared)
    expect(alice.window_with("bob")).to_have_count(1)
    expect(alice.window_with("bob").get_by_test_id("common-interests")).to_have_text(shared)
    assert_clean(pa, pb)


def test_someone_not_open_to_new_chats_is_not_picked_until_they_are_again(
    open_page: OpenPage,
) -> None:
    page_a, pa = open_page()
    page_b, pb = open_page()
    alice = Person(page_a, "alice").start()
    bob = Person(page_b, "bob").start()
    socket = reload_watching_socket(alice)
    toggle = page_a.get_by_test_id("availability-toggle")
    expect(toggle).to_be_checked()

    with answered(socket, "AVAILABILITY"):
        toggle.uncheck()
    start_search(bob)
    expect_no_one_free(bob)
    expect(bob.windows).to_have_count(0)
    expect(alice.windows).to_have_count(0)

    # The server keeps the setting: after a refresh the box is still unchecked.
    socket = reload_watching_socket(alice)
    expect(toggle).not_to_be_checked()

    with answered(socket, "AVAILABILITY"):
        toggle.check()
    bob.match()
    expect(bob.window_with("alice")).to_have_count(1)
    expect(alice.window_with("bob")).to_have_count(1)
    assert_clean(pa, pb)


def test_cancel_ends_a_running_search(open_page: OpenPage) -> None:
    page, problems = open_page()
    alone = Person(page, "alone").start()
    cancel = page.get_by_test_id("cancel-match-button")
    expect(cancel).to_have_count(0)

    start_search(alone)
    expect(page.get_by_test_id("match-status")).to_have_attribute("data-phase", "anyone")
    cancel.click()
    status = page.get_by_test_id("match-status")
    expect(status).to_have_attribute("data-phase", "cancelled")
    expect(status).to_have_text(exactly("Search cancelled."))
    expect(cancel).to_have_count(0)
    expect(page.get_by_test_id("match-button")).to_have_text(exactly("New chat"))
    expect(alone.windows).to_have_count(0)
    expect(page.get_by_test_id("notice")).to_have_count(0)  # cancelling is not an error
    assert_clean(problems)


# ---- a partner away -----------------------------------------------------------------------


def test_the_partner_shows_as_away_while_their_page_is_offline(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    away = alice.window_with("bob").get_by_test_id("partner-away")
    expect(away).to_have_count(0)

    bob.page.context.set_offline(True)
    expect(away).to_be_visible()
    expect(away).to_contain_text("bob lost the connection")
    bob.page.context.set_offline(False)
    bob.expect_online()
    expect(away).to_have_count(0)
    bob.send("alice", "back again")
    alice.expect_texts("bob", ["back again"])

    # A refresh is a short absence too; once the page is back, nothing says away.
    bob.page.reload()
    bob.expect_online()
    expect(away).to_have_count(0)
    expect(alice.window_with("bob").get_by_test_id("partner-exit")).to_have_count(0)
    bob.send("alice", "and after a refresh")
    alice.expect_texts("bob", ["back again", "and after a refresh"])
    expect(away).to_have_count(0)
    assert_clean(pa, pb)
