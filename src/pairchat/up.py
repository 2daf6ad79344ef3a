"""`pairchat up`: a whole system on this machine, each role its own process.

Starts one logic process (with the embedded store and delivery worker), waits
until it is healthy, then starts the brokers on port, port+1, ... Ctrl-C or
SIGTERM stops every child; if a child dies on its own, the rest are stopped too
and `up` exits non-zero, so a supervisor (systemd, a shell loop) can restart it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from pairchat.obs import event

log = logging.getLogger("pairchat.up")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def _common(args: argparse.Namespace) -> list[str]:
    return ["--log-format", args.log_format, "--log-level", args.log_level]


def run_up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    grpc_port, http_port = _free_port(), _free_port()
    logic_target = f"127.0.0.1:{grpc_port}"
    py = [sys.executable, "-m", "pairchat"]
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(py + argv)
        children.append((name, proc))
        return proc

    def wait_healthy(name: str, proc: subprocess.Popen[bytes], url: str) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not stopping:
            if proc.poll() is not None:
                event(log, "child failed to start", logging.ERROR, child=name,
                      exit_code=proc.returncode)
                return False
            if _healthy(url):
                return True
            time.sleep(0.05)
        if not stopping:
            event(log, "child not healthy in time", logging.ERROR, child=name, url=url)
        return False

    exit_code = 0
    try:
        logic = spawn("logic", [
            "logic", "--listen", logic_target, "--http-port", str(http_port),
            "--data-dir", str(data_dir), "--offline-grace", str(args.offline_grace),
            "--match-wait", str(args.match_wait), "--max-sessions", str(args.max_sessions),
            *_common(args),
        ])
        if not wait_healthy("logic", logic, f"http://127.0.0.1:{http_port}/healthz"):
            return 0 if stopping else 1
        host_for_check = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        for i in range(args.brokers):
            port = args.port + i
            broker = spawn(f"broker-{i}", [
                "broker", "--host", args.host, "--port", str(port), "--logic", logic_target,
                "--broker-id", f"broker-{i}", "--max-content", str(args.max_content),
                "--max-frame-bytes", str(args.max_frame_bytes),
                "--rate-limit", str(args.rate_limit), "--rate-burst", str(args.rate_burst),
                "--send-buffer", str(args.send_buffer), "--heartbeat", str(args.heartbeat),
                "--max-conns-per-ip", str(args.max_conns_per_ip),
                "--allowed-origins", args.allowed_origins, *_common(args),
            ])
            if not wait_healthy(f"broker-{i}", broker,
                                f"http://{host_for_check}:{port}/healthz"):
                return 0 if stopping else 1
        urls = ", ".join(f"http://{args.host}:{args.port + i}" for i in range(args.brokers))
        event(log, "pairchat is up", url=urls, data_dir=str(data_dir), pid=os.getpid())
        print(f"pairchat is up: open {urls} (Ctrl-C stops it)", flush=True)
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    event(log, "child exited", logging.ERROR, child=name,
                          exit_code=proc.returncode)
                    exit_code = 1
                    stopping = True
                    break
            time.sleep(0.2)
    finally:
        _stop_all(children)
    return exit_code


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Brokers first (they close their clients with 1001, "going away"), then logic."""
    brokers = [c for c in children if c[0] != "logic"]
    logic = [c for c in children if c[0] == "logic"]
    deadline = time.monotonic() + STOP_TIMEOUT
    for group in (brokers, logic):
        for _, proc in group:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in group:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                event(log, "child killed", logging.WARNING, child=name)
                proc.kill()
                proc.wait()
    event(log, "pairchat stopped")
