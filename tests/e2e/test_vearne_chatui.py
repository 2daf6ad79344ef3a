"""The unmodified browser client of vearne/chat, chat-ui (commit 13817f4), against
pairchat's `/vearne/ws`, in Debian's chromium: two chat-ui pages chat, one of
them losing its socket and coming back, and a chat-ui page chats with
pairchat's own web client, through `pairchat up` and through the scaled mode,
with nothing in chat-ui's console but its own logs.

chat-ui is not part of pairchat: ../shared/build-chatui.sh builds it from its
tarball (npm, with its WebSocket URL read from the page's `?ws=`) into
~/.cache/chatui-dist, once, and a static server serves it from another origin,
listed in `--allowed-origins` as its operators would. Without the tarball the
tests skip; a build that fails (npm without its registry) skips too, except
under CI=true once a build has worked on this machine, where it fails.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.integration.harness import Flags, System, drop_namespace, running_system, scaled_flags

from .browser_people import TIMEOUT_MS, TIMEOUT_S, PageProblems, Person, assert_clean
from .pairchat_process import ROOT

_T = TypeVar("_T")
SHARED = ROOT.parent / "shared"
BUILD_SCRIPT = SHARED / "build-chatui.sh"
TARBALL = SHARED / "chat-ui-13817f4.tar.gz"
CHATUI_DIST = Path.home() / ".cache" / "chatui-dist"  # the build script's own default
BUILT_FROM = CHATUI_DIST / "PAIRCHAT_BUILT_FROM"  # digest of the tarball and script it came from
BUILD_TIMEOUT_S = 40 * TIMEOUT_S  # a first `npm install` fetches some 550 packages
GRACE_S = TIMEOUT_S / 3  # offline grace: chat-ui reconnects within it (after 1 s)
MATCH_WAIT_S = TIMEOUT_S / 5

pytestmark = [pytest.mark.browser, pytest.mark.timeout(BUILD_TIMEOUT_S + 10 * TIMEOUT_S)]

# chat-ui's own console.log lines (src/components/Ichat.vue, Login.vue, and the
# line build-chatui.sh adds to src/config.js); anything else is a problem. Two of
# its own are left out on purpose: "unknow cmd: X" (a frame it does not know)
# and "websocketOnError".
CHATUI_LOGS = [
    re.compile(p, re.S)
    for p in (
        r"chat-ui wsuri: ws://\S+/vearne/ws",
        r"nickName: \w+",
        r'\{"cmd":"(CRT_ACCOUNT|RECONNECT|DIALOGUE|VIEWED_ACK)_REQ".*\}',
        r"get msg \{.*\}",
        r"\d+ retry to match in 3 seconds",
        r"retry to match",
        r"reconnect resp: (true|false)",
        r"DIALOGUE 0",
        r"VIEWED_ACK 0",
        r"PUSH_VIEWED_ACK \d+",
        r"exiterId \d+",
        r"websocketClose CloseEvent",
        r"typing",
    )
]


def _digest() -> str:
    sha = hashlib.sha256()
    for path in (TARBALL, BUILD_SCRIPT):
        sha.update(path.read_bytes())
    return sha.hexdigest()


@pytest.fixture(scope="session")
def chatui() -> Path:
    """chat-ui built with its WebSocket URL taken from `?ws=` (see the module)."""
    if not (TARBALL.is_file() and BUILD_SCRIPT.is_file()):
        pytest.skip(f"chat-ui's source ({TARBALL}) is not on this machine")
    digest = _digest()
    if BUILT_FROM.is_file() and BUILT_FROM.read_text() == digest:
        return CHATUI_DIST
    worked_before = (CHATUI_DIST / "index.html").is_file()
    failed = _build()
    if failed is not None:
        reason = f"chat-ui could not be built (npm needs its registry): {failed}"
        if os.environ.get("CI", "").lower() == "true" and worked_before:
            pytest.fail(reason)
        pytest.skip(reason)
    BUILT_FROM.write_text(digest)
    return CHATUI_DIST


def _build() -> str | None:
    """Build chat-ui into CHATUI_DIST: None, or why it could not."""
    if shutil.which("npm") is None:
        return "npm is not installed"
    try:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT), "runtime", str(CHATUI_DIST)],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"no build within {BUILD_TIMEOUT_S:.0f} s"
    return None if result.returncode == 0 else result.stderr[-2000:]


class _ChatUiFiles(SimpleHTTPRequestHandler):
    """chat-ui's files; any other path is its index.html (vue-router's history mode)."""

    def send_head(self) -> Any:
        if not Path(self.translate_path(self.path)).is_file():
            self.path = "/index.html"
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def chatui_origin(chatui: Path) -> Iterator[str]:
    """A static file server of chat-ui, as its operators run one: its origin."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_ChatUiFiles, directory=str(chatui))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module", params=["embedded", "scaled"])
def system(
    request: pytest.FixtureRequest, chatui_origin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """`pairchat up` with chat-ui's origin allowed: embedded, or scaled (two brokers)."""
    flags = Flags(offline_grace=GRACE_S, match_wait=MATCH_WAIT_S, allowed_origins=chatui_origin)
    if request.param == "scaled":
        flags = _off_the_loop(scaled_flags, flags)
    try:
        with running_system(flags, tmp_path_factory.mktemp("data")) as running:
            yield running
    finally:
        _off_the_loop(drop_namespace, flags)


def _off_the_loop(step: Callable[[Flags], _T], flags: Flags) -> _T:
    """Run a step of the harness that runs an event loop of its own in another
    thread: Playwright's sync API keeps one running on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(step, flags).result()


@dataclasses.dataclass
class ChatUi:
    """A person using chat-ui, in its own words: its console is kept whole."""

    page: Page
    nick: str
    console: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    def join(self) -> ChatUi:
        self.page.locator(".el-input input").fill(self.nick)
        self.page.get_by_role("button", name="Join").click()
        expect(self.page.get_by_text(f"current user: {self.nick}")).to_be_visible()
        return self

    def tab(self, partner: str) -> Locator:
        return self.page.locator(".el-tabs__item", has_text=partner)

    def send(self, text: str) -> None:
        """Type into the chat of the active tab and press Enter; wait for the check mark."""
        sent = self.page.locator(".my-message")
        before = sent.count()
        self.page.locator(".message-input").click()
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")
        mine = sent.nth(before)
        expect(mine).to_contain_text(text)
        expect(mine.locator(".icon-sent")).to_be_visible()  # DIALOGUE_RESP code 0

    def expect_from(self, partner: str, text: str) -> None:
        message = self.page.locator(".other-message", has_text=text)
        expect(message).to_be_visible()
        expect(message.locator(".message-username")).to_have_text(partner)

    def logged(self, pattern: str, times: int = 1) -> None:
        """Wait until chat-ui has logged `times` lines matching `pattern` (the
        page keeps its lines: see `People.chatui`)."""
        self.page.wait_for_function(
            "([pattern, times]) => (window.__logs || [])"
            ".filter(l => new RegExp(pattern).test(l)).length >= times",
            arg=[pattern, times],
            timeout=TIMEOUT_MS,
        )

    def assert_only_its_own_logs(self) -> None:
        assert self.errors == [], self.errors
        foreign = [
            (kind, text)
            for kind, text in self.console
            if kind != "log" or not any(p.fullmatch(text) for p in CHATUI_LOGS)
        ]
        assert foreign == [], foreign


@dataclasses.dataclass
class People:
    """Opens chat-ui or pairchat's web client, on a broker, as a new person each."""

    browser: Browser
    system: System
    chatui_origin: str
    contexts: list[BrowserContext] = dataclasses.field(default_factory=list)

    def _page(self) -> Page:
        context = self.browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        return context.new_page()

    def chatui(self, nick: str, broker: int = 0) -> ChatUi:
        page = self._page()
        person = ChatUi(page, nick)
        # chat-ui logs every frame: the page keeps the lines too, for `logged`
        page.add_init_script(
            "window.__logs = []; const log = console.log.bind(console);"
            "console.log = (...a) => { window.__logs.push(a.map(String).join(' ')); log(...a); };"
        )
        page.on("console", lambda m: person.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: person.errors.append(str(e)))
        ws = self.system.ws_url(broker).removesuffix("/ws") + "/vearne/ws"
        page.goto(f"{self.chatui_origin}/?ws={ws}")
        return person.join()

    def web(self, nick: str, broker: int = 0) -> tuple[Person, PageProblems]:
        page = self._page()
        problems = PageProblems()
        page.on(
            "console",
            lambda m: problems.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.page_errors.append(str(e)))
        page.goto(self.system.broker_http(broker) + "/")
        return Person(page, nick).start(), problems


@pytest.fixture
def people(browser: Browser, system: System, chatui_origin: str) -> Iterator[People]:
    opened = People(browser, system, chatui_origin)
    yield opened
    for context in opened.contexts:
        context.close()


def test_two_chat_ui_pages_chat(people: People) -> None:
    alice = people.chatui("alice")
    bob = people.chatui("bob", broker=1)  # scaled: the other broker
    # alice's MATCH_REQ waits; bob's account pairs them: a tab each, named after the partner
    expect(alice.tab("bob")).to_be_visible()
    expect(bob.tab("alice")).to_be_visible()
    expect(alice.page.get_by_text("Now you can chat with bob")).to_be_visible()
    expect(bob.page.get_by_text("Now you can chat with alice")).to_be_visible()

    alice.send("hello bob")
    bob.expect_from("alice", "hello bob")
    bob.send("hi alice, bob here")
    alice.expect_from("bob", "hi alice, bob here")
    alice.send("how are you?")
    bob.expect_from("alice", "how are you?")
    # each viewed the other's message in its active tab: the marks came back
    alice.logged(r"PUSH_VIEWED_ACK \d+")
    bob.logged(r"PUSH_VIEWED_ACK \d+")
    # the server pings every 3 s, chat-ui answers: the connections live on, and
    # by the third ping the MATCH_REQs sent on joining were long answered, neither
    # with "There is no uers now" beside the chat
    for person in (alice, bob):
        person.logged(r'get msg \{"cmd":"PING_REQ","accountId":\d+\}', times=3)
        expect(person.page.get_by_text("There is no uers now", exact=False)).to_have_count(0)

    bob.page.context.close()  # bob closes his tab: gone past the grace period
    expect(alice.page.get_by_text("Partner bob has exit.")).to_be_visible()
    alice.assert_only_its_own_logs()
    bob.assert_only_its_own_logs()


def test_a_chat_ui_page_whose_socket_drops_comes_back_and_misses_nothing(
    people: People,
) -> None:
    alice = people.chatui("alice")
    bob = people.chatui("bob", broker=1)
    expect(alice.tab("bob")).to_be_visible()
    alice.send("before the drop")
    bob.expect_from("alice", "before the drop")

    # The socket drops (as on a network change): chat-ui opens another one a
    # second later and sends RECONNECT_REQ with its token.
    bob.page.evaluate(
        """() => {
            const find = (vm) => vm.websock ? vm : vm.$children.map(find).find(Boolean);
            find(document.querySelector('#app').__vue__).websock.close();
        }"""
    )
    alice.send("while bob was away")
    bob.logged(r"reconnect resp: true")
    bob.expect_from("alice", "while bob was away")
    alice.send("after bob came back")
    bob.expect_from("alice", "after bob came back")
    # written before the drop, so not sent again; the rest once each
    for text in ("before the drop", "while bob was away", "after bob came back"):
        expect(bob.page.locator(".other-message", has_text=text)).to_have_count(1)
    bob.send("back, and nothing missed")
    alice.expect_from("bob", "back, and nothing missed")
    expect(alice.page.get_by_text("has exit")).to_have_count(0)
    alice.assert_only_its_own_logs()
    bob.assert_only_its_own_logs()


def test_a_chat_ui_page_chats_with_the_web_client(people: People, built_client: Path) -> None:
    alice = people.chatui("alice")
    bob, problems = people.web("bob", broker=1)
    # chat-ui's MATCH_REQ (sent again every 3 s while unmatched) finds bob
    expect(bob.window_with("alice")).to_have_count(1)
    expect(alice.tab("bob")).to_be_visible()

    alice.send("hello from chat-ui")
    expect(bob.window_with("alice").get_by_test_id("message-text")).to_contain_text(
        ["hello from chat-ui"]
    )
    bob.send("alice", "hello from the web client")
    alice.expect_from("bob", "hello from the web client")
    # chat-ui's VIEWED_ACK_REQ turns bob's message "seen" in the web client
    own = bob.window_with("alice").locator('[data-testid="message"][data-own="true"]')
    expect(own.last).to_have_attribute("data-status", "seen")
    # and the web client's viewed mark reaches chat-ui
    alice.logged(r"PUSH_VIEWED_ACK \d+")

    bob.leave("alice")
    expect(alice.page.get_by_text("Partner bob has exit.")).to_be_visible()
    alice.assert_only_its_own_logs()
    assert_clean(problems)
