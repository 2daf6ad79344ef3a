"""`pairchat up` as a subprocess for browser tests: free port, wait for /healthz, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

from pairchat.ports import free_port_range

from .browser_people import (
    MATCH_WAIT_S,
    OFFLINE_GRACE_S,
    POLL_INTERVAL_S,
    SERVER_START_TIMEOUT_S,
    SERVER_STOP_TIMEOUT_S,
    TIMEOUT_S,
)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    return free_port_range(1)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S / 10) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Server:
    """`pairchat up` as a subprocess, on a fixed port and data dir so it can be restarted.
    With an `ops_port`, logic's operations listener (the moderator console, /moderate) is
    there; with an `admin_token`, the moderation API is on (given as its variable).
    `extra_args` go last on the command line, so they can also replace the usual settings
    (`--offline-grace 2`: argparse takes the last value)."""

    def __init__(
        self,
        port: int,
        data_dir: Path,
        log_path: Path,
        ops_port: int = 0,
        admin_token: str = "",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.ops_url = f"http://127.0.0.1:{ops_port}"
        self.ops_port = ops_port
        self.admin_token = admin_token
        self.extra_args = list(extra_args)
        self.data_dir = data_dir
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "pairchat", "up",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
            "--offline-grace", str(OFFLINE_GRACE_S), "--match-wait", str(MATCH_WAIT_S),
            # 0: free operations ports, no clash with another `pairchat up`
            "--ops-port", str(self.ops_port),
            *self.extra_args,
        ]  # fmt: skip
        env = {**os.environ, "PAIRCHAT_ADMIN_TOKEN": self.admin_token}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(f"{self.base_url}/healthz"):
            if self.process.poll() is not None:
                pytest.fail(
                    f"pairchat up exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"pairchat up not healthy in {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}"
                )
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
