"""A conversation as people expect it to behave: "seen" only for what was really on screen, a
"New messages" line and a way back to the latest; Next in one action with the old transcript
kept; Leave in one click with a moment to undo it (and sent when the page goes meanwhile); one
search however often New chat is pressed; long messages
counted and refused before sending; failed messages with Retry and Discard; links, right-to-left
text and readable times."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, Page, WebSocket, WebSocketRoute, expect

from .browser_people import OpenPage, Person, assert_clean, paired
from .ux_support import HIDEABLE_PAGE, make_unavailable

pytestmark = pytest.mark.browser

LIMIT = 4096  # DIALOGUE's content limit in code points (docs/protocol.md)


def own_messages(person: Person, partner: str) -> Locator:
    return person.window_with(partner).locator('[data-testid="message"][data-own="true"]')


def record_frames(person: Person) -> list[dict[str, object]]:
    """Every frame the page sends from now on (the page is reloaded to catch its socket)."""
    frames: list[dict[str, object]] = []

    def on_socket(socket: WebSocket) -> None:
        socket.on("framesent", lambda payload: frames.append(json.loads(payload)))

    person.page.on("websocket", on_socket)
    person.page.reload()
    person.expect_online()
    return frames


def viewed_up_to(frames: list[dict[str, object]]) -> int:
    """The highest msgId the page acknowledged as seen with VIEWED_ACK."""
    acked = [int(str(f["msgId"])) for f in frames if f.get("cmd") == "VIEWED_ACK"]
    return max(acked, default=0)


def settle(page: Page) -> None:
    """Two rendering updates: what the page would report as on screen it has reported by then
    (IntersectionObserver notifications are delivered with rendering updates)."""
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


def test_seen_only_for_messages_on_screen_in_a_visible_page(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.page.context.add_init_script(HIDEABLE_PAGE)
    frames = record_frames(alice)
    box = bob.window_with("alice").get_by_test_id("message-input")
    for i in range(40):
        box.fill(f"line {i}")
        box.press("Enter")
    sent = own_messages(bob, "alice")
    expect(sent).to_have_count(40)
    expect(sent.last).to_have_attribute("data-status", "seen")  # alice reads along at the bottom

    # Alice scrolls back to the start; a new message arrives below what she sees.
    window = alice.window_with("bob")
    window.get_by_role("log").evaluate("(list) => { list.scrollTop = 0; }")
    bob.send("alice", "are you reading this?")
    jump = window.get_by_test_id("jump-to-latest")
    expect(jump).to_contain_text("1 new message")
    expect(window.get_by_test_id("new-messages-divider")).to_have_count(1)
    expect(window.get_by_test_id("unread-count")).to_have_text("1")
    newest = int(window.get_by_test_id("message").last.get_attribute("data-msg-id") or "0")
    settle(alice.page)
    assert 40 <= viewed_up_to(frames) < newest
    expect(sent.last).to_have_attribute("data-status", "sent")

    # Back to the latest: now it is seen, and the line marks where the news began.
    jump.click()
    expect(sent.last).to_have_attribute("data-status", "seen")
    expect(window.get_by_test_id("unread-count")).to_have_count(0)
    divider = window.get_by_test_id("new-messages-divider")
    expect(divider).to_be_in_viewport()
    assert viewed_up_to(frames) == newest

    # In a hidden tab nothing counts as seen, even at the bottom; once shown, it does.
    alice.page.evaluate("window.__pairchatHidden(true)")
    bob.send("alice", "still there?")
    expect(alice.page).to_have_title("(1) pairchat")
    settle(alice.page)
    assert viewed_up_to(frames) == newest
    expect(sent.last).to_have_attribute("data-status", "sent")
    alice.page.evaluate("window.__pairchatHidden(false)")
    expect(sent.last).to_have_attribute("data-status", "seen")
    expect(alice.page).to_have_title("pairchat")
    assert_clean(pa, pb)


def test_next_ends_and_finds_someone_new_keeping_the_transcript(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send("bob", "nice talking, bye")
    make_unavailable(bob)  # so that alice's search finds carol
    page_c, pc = open_page()
    carol = Person(page_c, "carol").start()

    ended = alice.window_with("bob")
    ended.get_by_test_id("next-button").click()
    expect(bob.window_with("alice").get_by_test_id("partner-exit")).to_contain_text("alice left")
    expect(alice.window_with("carol")).to_have_count(1)
    # The old conversation stays, readable, until closed.
    exit_line = ended.get_by_test_id("partner-exit")
    expect(exit_line).to_have_attribute("data-end", "left")
    expect(exit_line).to_contain_text("You left the chat with bob")
    alice.expect_texts("bob", ["nice talking, bye"])
    expect(ended.get_by_test_id("message-input")).to_be_disabled()
    expect(alice.window_with("carol").get_by_test_id("message-input")).to_be_focused()
    alice.send("carol", "hi carol")
    carol.expect_texts("alice", ["hi carol"])
    ended.get_by_test_id("close-button").click()
    expect(alice.windows).to_have_count(1)
    assert_clean(pa, pb, pc)


def test_leave_takes_one_click_and_undo_keeps_the_chat(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    frames = record_frames(alice)
    window = alice.window_with("bob")
    box = window.get_by_test_id("message-input")
    undo = window.get_by_test_id("leave-undo")

    # One click shows the chat as left at once, with Undo and a countdown; nothing can be
    # written meanwhile. A double click's second click changes nothing.
    window.get_by_test_id("leave-button").dblclick()
    expect(window.get_by_test_id("leave-pending")).to_contain_text("You left the chat with bob")
    expect(window.get_by_test_id("leave-countdown")).to_be_visible()
    expect(box).to_be_disabled()
    undo.click()
    expect(window.get_by_test_id("leave-pending")).to_have_count(0)
    expect(box).to_be_focused()
    alice.send("bob", "still here")
    bob.expect_texts("alice", ["still here"])
    bob.send("alice", "good")
    alice.expect_texts("bob", ["still here", "good"])
    expect(bob.window_with("alice").get_by_test_id("partner-exit")).to_have_count(0)

    # Left for real this time: bob is told, and the undone leave never went out.
    alice.leave("bob")
    expect(bob.window_with("alice").get_by_test_id("partner-exit")).to_contain_text("alice left")
    leaves = [f for f in frames if f.get("cmd") == "LEAVE"]
    assert len(leaves) == 1, leaves
    assert_clean(pa, pb)


def test_a_leave_waiting_for_undo_goes_out_when_the_page_is_left(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.window_with("bob").get_by_test_id("leave-button").click()
    expect(alice.window_with("bob").get_by_test_id("leave-undo")).to_be_focused()
    # A refresh during the countdown: the LEAVE goes out as the page goes (pagehide). Without
    # it, alice would come back to the same open chat and bob would never see her leave.
    alice.page.reload()
    alice.expect_online()
    expect(bob.window_with("alice").get_by_test_id("partner-exit")).to_contain_text("alice left")
    window = alice.window_with("bob")
    expect(window.get_by_test_id("partner-exit")).to_be_visible()
    expect(window.get_by_test_id("message-input")).to_be_disabled()
    assert_clean(pa, pb)


def test_new_chat_pressed_twice_runs_one_search(open_page: OpenPage) -> None:
    page, problems = open_page()
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    page.reload()
    person = Person(page, "eager").start()
    page.get_by_test_id("match-button").dblclick()
    expect(page.get_by_test_id("cancel-match-button")).to_be_visible()
    page.get_by_test_id("match-button").press("Enter")
    page.get_by_test_id("cancel-match-button").click()
    expect(page.get_by_test_id("match-status")).to_have_attribute("data-phase", "cancelled")
    matches = [frame for frame in sent if json.loads(frame).get("cmd") == "MATCH"]
    assert len(matches) == 1, matches
    expect(person.windows).to_have_count(0)
    assert_clean(problems)


def test_long_messages_are_counted_and_refused_before_sending(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    window = alice.window_with("bob")
    box = window.get_by_test_id("message-input")
    counter = window.get_by_test_id("char-counter")
    send = window.get_by_test_id("send-button")

    box.fill("a" * 100)
    expect(counter).to_have_count(0)  # far from the limit: no counter
    box.fill("a" * (LIMIT - 100))
    expect(counter).to_have_text(re.compile(r"3,996\s*/\s*4,096"))
    # Emoji count as one character each, as on the server.
    over = "😀" * (LIMIT + 1)
    box.fill(over)
    expect(counter).to_have_attribute("data-over", "true")
    expect(window).to_contain_text("Too long to send")
    expect(send).to_be_disabled()
    box.press("Enter")
    expect(box).to_have_value(over)  # nothing sent, nothing lost
    expect(own_messages(alice, "bob")).to_have_count(0)

    alice.send("bob", "😀" * LIMIT)
    expect(bob.window_with("alice").get_by_test_id("message-text")).to_have_text(["😀" * LIMIT])
    assert_clean(pa, pb)


def fail_once(page: Page, prefix: str) -> None:
    """The server seems to fail (code 2) the first DIALOGUE of every text starting with `prefix`."""
    failed: set[str] = set()

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            content = frame.get("content", "")
            refuse = content.startswith(prefix) and content not in failed
            if frame.get("cmd") == "DIALOGUE" and refuse:
                failed.add(content)
                answer = {"cmd": "DIALOGUE", "requestId": frame["requestId"], "code": 2}
                ws.send(json.dumps({**answer, "msg": "internal error"}))
                return
            server.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(r"/ws$"), route)


def test_a_failed_message_offers_retry_and_discard(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    fail_once(alice.page, "flaky:")
    alice.page.reload()
    alice.expect_online()
    window = alice.window_with("bob")
    box = window.get_by_test_id("message-input")

    box.fill("flaky: try me again")
    box.press("Enter")
    failed = own_messages(alice, "bob").filter(has_text="flaky: try me again")
    expect(failed).to_have_attribute("data-status", "failed")
    expect(box).to_have_value("")
    failed.get_by_test_id("message-retry").click()
    expect(failed).to_have_attribute("data-status", re.compile("sent|seen"))
    bob.expect_texts("alice", ["flaky: try me again"])

    box.fill("flaky: never mind")
    box.press("Enter")
    dropped = own_messages(alice, "bob").filter(has_text="flaky: never mind")
    expect(dropped.get_by_test_id("message-discard")).to_be_visible()
    dropped.get_by_test_id("message-discard").click()
    expect(dropped).to_have_count(0)
    alice.send("bob", "that's all")
    bob.expect_texts("alice", ["flaky: try me again", "that's all"])
    # The server's refusal shows as a notice too: a console error is not expected.
    assert_clean(pa, pb)


def test_links_right_to_left_text_and_readable_times(open_page: OpenPage) -> None:
    alice, bob, pa, pb = paired(open_page, "alice", "bob")
    alice.send(
        "bob",
        "see https://example.com/wiki/Chat_(app)?q=1, or www.example.org. "
        "not javascript:alert(1) nor data:text/html,hi",
    )
    window = bob.window_with("alice")
    links = window.get_by_test_id("message-link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_text("https://example.com/wiki/Chat_(app)?q=1")
    expect(links.nth(0)).to_have_attribute("href", "https://example.com/wiki/Chat_(app)?q=1")
    expect(links.nth(1)).to_have_attribute("href", "https://www.example.org/")
    for i in range(2):
        expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(links.nth(i)).to_have_attribute("target", "_blank")
    expect(bob.page.locator('a[href^="javascript:"], a[href^="data:"]')).to_have_count(0)

    alice.send("bob", "مرحبا، كيف حالك؟")
    texts = window.get_by_test_id("message-text")
    expect(texts.last).to_have_attribute("dir", "auto")
    assert texts.last.evaluate("(text) => text.matches(':dir(rtl)')")
    assert texts.first.evaluate("(text) => text.matches(':dir(ltr)')")

    size = window.locator("time").first.evaluate("(t) => parseFloat(getComputedStyle(t).fontSize)")
    assert size >= 12, size
    assert_clean(pa, pb)
