"""Choosing listening ports for systems started by a program (the bench, the
tests). They are picked below the kernel's ephemeral range: a system's own
processes bind their internal ports (gRPC, metrics) with port 0, in that range,
and outgoing connections take ports there too, so a port picked there could be
gone before the broker binds it."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_floor() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port_range(count: int = 1, host: str = "127.0.0.1") -> int:
    """A first port such that port..port+count-1 are free right now."""
    high = ephemeral_floor() - count
    low = min(10000, high // 2)
    for _ in range(200):
        first = random.randrange(low, high)
        if all(bindable(port, host) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports in {low}..{high}")
