"""What the browser tests of the chat's experience share: axe-core run in the page, a page that
can be hidden like a background tab, notifications and chimes counted, a stand-in for a phone's
on-screen keyboard, and the screen sizes of the review (desktop 1440x900, phone 390x844).

axe-core is the npm devDependency of the web client (web/node_modules/axe-core/axe.min.js),
evaluated in the page: no CDN, and the page's Content-Security-Policy stays as served.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import FloatRect, Locator, Page, ViewportSize, expect

from .browser_people import Person
from .pairchat_process import ROOT

AXE_SCRIPT = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Screens saved by these tests (gitignored); the ones in docs/img are copies of a good run.
SCREENS = ROOT / "test-artifacts" / "ux"
DESKTOP_1440: ViewportSize = {"width": 1440, "height": 900}
PHONE_390: ViewportSize = {"width": 390, "height": 844}

# Lets a test hide the page (document.visibilityState) as a background tab or a minimised
# window would, and show it again: window.__pairchatHidden(true|false).
HIDEABLE_PAGE = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true, get() { return hidden ? 'hidden' : 'visible'; },
  });
  Object.defineProperty(Document.prototype, 'hidden', {
    configurable: true, get() { return hidden; },
  });
  window.__pairchatHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
  };
})();
"""

# Counts what the page shows and plays: every Notification made (window.__notifications) and
# every chime (one gain node per chime, window.__chimes). The real APIs still run.
COUNTED_ALERTS = """
(() => {
  window.__notifications = [];
  window.__chimes = 0;
  const Real = window.Notification;
  if (Real) {
    window.Notification = class extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notifications.push({ title, body: options?.body ?? '', tag: options?.tag ?? '' });
      }
    };
  }
  const createGain = AudioContext.prototype.createGain;
  AudioContext.prototype.createGain = function () {
    window.__chimes += 1;
    return createGain.call(this);
  };
})();
"""

# A phone's on-screen keyboard as the page sees it: window.visualViewport shrinks from the
# bottom while the layout viewport keeps its height. window.__pairchatKeyboard(px) opens it
# (0 closes it).
ON_SCREEN_KEYBOARD = """
(() => {
  const viewport = new EventTarget();
  Object.assign(viewport, {
    width: innerWidth, height: innerHeight, offsetTop: 0, offsetLeft: 0,
    pageTop: 0, pageLeft: 0, scale: 1,
  });
  Object.defineProperty(window, 'visualViewport', { configurable: true, get: () => viewport });
  window.__pairchatKeyboard = (px) => {
    viewport.height = innerHeight - px;
    viewport.dispatchEvent(new Event('resize'));
  };
})();
"""


def axe_violations(page: Page) -> list[str]:
    """Every axe-core violation on the page as it is now (all rules axe runs by default)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ['violations'] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact,
                nodes: v.nodes.map((n) => n.target.join(' ') + ' :: ' + n.failureSummary),
            }));
        }"""
    )
    return [f"{v['id']} ({v['impact']}): {json.dumps(v['nodes'])}" for v in found]


def assert_accessible(page: Page, screen: str) -> None:
    """axe-core finds nothing on this screen."""
    problems = axe_violations(page)
    assert problems == [], f"{screen}: " + "\n".join(problems)


def box_of(locator: Locator) -> FloatRect:
    box = locator.bounding_box()
    assert box is not None, f"{locator} has no box (not rendered)"
    return box


def overlaps(a: FloatRect, b: FloatRect) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def page_scrolls(page: Page) -> bool:
    """Whether the page itself (not a message list) is taller or wider than the viewport."""
    return bool(
        page.evaluate(
            """() => {
                const root = document.scrollingElement;
                return root.scrollHeight > innerHeight + 1 || root.scrollWidth > innerWidth + 1;
            }"""
        )
    )


def save_screenshot(page: Page, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def show_conversation(page: Page, partner: str) -> None:
    """Bring the conversation with `partner` in front where only one shows at a time (its tab on
    a phone, or in the list beside the window); with windows side by side, nothing to do."""
    tab = page.get_by_role("tab", name=re.compile(rf"^{re.escape(partner)}\b"))
    if tab.count() > 0:
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")


def make_unavailable(person: Person) -> None:
    """`person` unchecks "Open to new chats" and the server confirms it: nobody's search picks
    them any more (the page is reloaded to watch its socket for the answer)."""
    with person.page.expect_websocket() as opened:
        person.page.reload()
    person.expect_online()

    def confirmed(payload: str | bytes) -> bool:
        frame = json.loads(payload)
        return bool(frame.get("cmd") == "AVAILABILITY" and frame.get("code") == 0)

    with opened.value.expect_event("framereceived", predicate=confirmed):
        person.page.get_by_test_id("availability-toggle").uncheck()
