"""The Makefile builds the web client only when web/ changed: `make up` a second
time starts serving at once. Asked with `make -n` (print, do not run) in a copy
of the Makefile beside a stand-in tree whose file times the test sets, so
nothing is built and the real tree is not touched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = "cd web && npm run build"
INSTALL_NODE = "cd web && npm ci --no-audit --no-fund"
# The stand-in tree: what the rules look at, by when it was last written (seconds
# before the newest); the last build's index.html is the newest file.
TREE = {
    "pyproject.toml": 300,
    ".venv/.installed": 200,
    "web/package.json": 300,
    "web/package-lock.json": 300,
    "web/node_modules/.package-lock.json": 200,
    "web/index.html": 300,
    "web/vite.config.ts": 300,
    "web/src/main.ts": 300,
    "web/src/components/App.vue": 300,
    "web/public/manifest.webmanifest": 300,
    "web/public/icons/icon-192.png": 300,
    "src/pairchat/static/index.html": 0,
}
NOW = 1_900_000_000.0


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name, age in TREE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        os.utime(path, (NOW - age, NOW - age))
    return tmp_path


def make_would_run(tree: Path, *targets: str) -> list[str]:
    """The commands `make` would run for `targets`, without running them."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", *targets],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if not line.startswith("make")]


def touch(tree: Path, name: str) -> None:
    """`name` written after the last build."""
    os.utime(tree / name, (NOW + 10, NOW + 10))


def test_nothing_changed_nothing_is_built(tree: Path) -> None:
    assert make_would_run(tree, "web") == []
    assert make_would_run(tree, "install") == []
    assert make_would_run(tree, "up", "ARGS=--port 9000") == [".venv/bin/pairchat up --port 9000"]
    assert subprocess.run(["make", "-q", "web"], cwd=tree, check=False).returncode == 0


@pytest.mark.parametrize(
    "changed",
    [
        "web/index.html",
        "web/vite.config.ts",
        "web/src/main.ts",
        "web/src/components/App.vue",
        "web/public/manifest.webmanifest",
        "web/public/icons/icon-192.png",
    ],
)
def test_a_changed_source_is_built_again(tree: Path, changed: str) -> None:
    touch(tree, changed)
    assert make_would_run(tree, "up") == [BUILD, ".venv/bin/pairchat up "]


@pytest.mark.parametrize("changed", ["web/package.json", "web/package-lock.json"])
def test_changed_dependencies_are_installed_then_built(tree: Path, changed: str) -> None:
    touch(tree, changed)
    assert make_would_run(tree, "web") == [INSTALL_NODE, BUILD]


def test_a_new_source_file_or_a_missing_build_is_built(tree: Path) -> None:
    (tree / "web/src/new.ts").write_text("export {};")
    touch(tree, "web/src/new.ts")
    assert make_would_run(tree, "web") == [BUILD]
    (tree / "web/src/new.ts").unlink()
    (tree / "src/pairchat/static/index.html").unlink()
    assert make_would_run(tree, "web") == [BUILD]
