"""Browser end-to-end fixtures: a real `pairchat up` subprocess per test and Debian's chromium.

Every wait derives from TIMEOUT_S, so a slow machine is handled by one knob
(`PAIRCHAT_E2E_TIMEOUT`), and nothing sleeps to synchronise: tests wait for the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect, sync_playwright

from .browser_people import TIMEOUT_MS, TIMEOUT_S, Artifact, OpenPage, PageProblems
from .pairchat_process import ROOT, Server, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
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
    sources = [
        WEB / "src",
        WEB / "index.html",
        WEB / "moderate.html",
        WEB / "public",
        WEB / "vite.config.ts",
    ]
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


@pytest.fixture
def server(tmp_path: Path, built_client: Path) -> Iterator[Server]:
    """A whole pairchat system (`pairchat up`) on a free port with its own data dir."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    srv = Server(free_port(), data_dir, tmp_path / "server.log")
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop running
    # on this thread while it lives, and pytest-asyncio cannot run the async tests
    # of later modules inside it.
    _require_chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(browser: Browser, server: Server) -> Iterator[OpenPage]:
    """Open the client in a fresh browser context (a separate person); returns (page, problems)."""
    contexts: list[BrowserContext] = []

    def open_(
        viewport: dict[str, int] | None = None,
        color_scheme: Literal["light", "dark"] = "light",
    ) -> tuple[Page, PageProblems]:
        size = viewport or DESKTOP
        context = browser.new_context(
            viewport={"width": size["width"], "height": size["height"]},
            color_scheme=color_scheme,
            base_url=server.base_url,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()

        def on_console(message: object) -> None:
            if getattr(message, "type", "") == "error":
                problems.console_errors.append(str(getattr(message, "text", message)))

        def on_dialog(dialog: Dialog) -> None:
            problems.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
        page.on("dialog", on_dialog)
        page.goto("/")
        return page, problems

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def artifact() -> Artifact:
    """Save a screenshot under test-artifacts/ (gitignored; good ones are copied to docs/)."""

    def save(page: Page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save
