"""Browser end-to-end fixtures: a real `pairchat up` subprocess per test and Debian's chromium.

Every wait derives from TIMEOUT_S, so a slow machine is handled by one knob
(`PAIRCHAT_E2E_TIMEOUT`), and nothing sleeps to synchronise: tests wait for the page.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The one timeout everything else derives from, in seconds.
TIMEOUT_S = float(os.environ.get("PAIRCHAT_E2E_TIMEOUT", "15"))
TIMEOUT_MS = TIMEOUT_S * 1000
SERVER_START_TIMEOUT_S = 2 * TIMEOUT_S
SERVER_STOP_TIMEOUT_S = TIMEOUT_S
POLL_INTERVAL_S = TIMEOUT_S / 150  # health-check polling cadence, not a synchronisation sleep

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
STATIC_INDEX = ROOT / "src" / "pairchat" / "static" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _newest_mtime(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)


@pytest.fixture(scope="session")
def built_client() -> Path:
    """The built web client the broker serves; rebuilt when web/ sources are newer than it."""
    sources = [WEB / "src", WEB / "index.html", WEB / "public", WEB / "vite.config.ts"]
    newest = max(
        _newest_mtime(p) if p.is_dir() else p.stat().st_mtime for p in sources if p.exists()
    )
    if STATIC_INDEX.is_file() and STATIC_INDEX.stat().st_mtime >= newest:
        return STATIC_INDEX
    if not (WEB / "node_modules").is_dir() or shutil.which("npm") is None:
        pytest.fail("the web client is not built and cannot be: run `make install` first")
    subprocess.run(
        ["npm", "run", "build"], cwd=WEB, check=True, capture_output=True, timeout=20 * TIMEOUT_S
    )
    return STATIC_INDEX


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S / 10) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Server:
    """`pairchat up` as a subprocess, on a fixed port and data dir so it can be restarted."""

    def __init__(self, port: int, data_dir: Path, log_path: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "pairchat", "up",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
            "--offline-grace", "20", "--match-wait", "3",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(f"{self.base_url}/healthz"):
            if self.process.poll() is not None:
                pytest.fail(f"pairchat up exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"pairchat up not healthy in {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}")
            time.sleep(POLL_INTERVAL_S)

    def stop(self) -> None:
        """SIGTERM, then wait; SIGKILL the whole process group only if it does not exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def server(tmp_path: Path, built_client: Path) -> Iterator[Server]:
    """A whole pairchat system (`pairchat up`) on a free port with its own data dir."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    srv = Server(_free_port(), data_dir, tmp_path / "server.log")
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


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


@pytest.fixture
def open_page(browser: object, server: Server) -> Iterator[Callable[..., tuple[object, PageProblems]]]:
    """Open the client in a fresh browser context (a separate person); returns (page, problems)."""
    from playwright.sync_api import Browser, Page

    assert isinstance(browser, Browser)
    contexts = []

    def open_(viewport: dict[str, int] | None = None, color_scheme: str = "light") -> tuple[Page, PageProblems]:
        context = browser.new_context(
            viewport=viewport or DESKTOP, color_scheme=color_scheme, base_url=server.base_url  # type: ignore[arg-type]
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        page.on(
            "console",
            lambda message: problems.console_errors.append(message.text)
            if message.type == "error"
            else None,
        )
        page.on("pageerror", lambda error: problems.page_errors.append(str(error)))

        def on_dialog(dialog: object) -> None:
            problems.dialogs.append(f"{dialog.type}: {dialog.message}")  # type: ignore[attr-defined]
            dialog.dismiss()  # type: ignore[attr-defined]

        page.on("dialog", on_dialog)
        page.goto("/")
        return page, problems

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def artifact() -> Callable[[object, str], Path]:
    """Save a screenshot under test-artifacts/ (gitignored; good ones are copied to docs/)."""

    def save(page: object, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path))  # type: ignore[attr-defined]
        return path

    return save
