"""Choosing listening ports for systems started by a program (the bench, the
tests). They are picked below the kernel's ephemeral range: a system's own
processes bind their internal ports (gRPC, metrics) with port 0, in that range,
and outgoing connections take ports there too, so a port picked there could be
gone before the broker binds it. `listen_error` tells whether a server could
listen on a port now (`pairchat up` asks before it starts anything)."""

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


def listen_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on host:port now, None if it could. Bound
    as asyncio's servers bind (every address of the host, SO_REUSEADDR, IPv6
    only on IPv6), so a port whose last connections linger in TIME_WAIT is
    free, as it is for them, and one another program listens on is not."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        return exc
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return exc
    return None


def address_error(address: str) -> OSError | None:
    """`listen_error` of a `host:port` address (an IPv6 host in brackets), for
    servers that do not say why they could not bind it (gRPC); None for an
    address that is not of that form."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return None
    return listen_error(host.strip("[]"), int(port))


def free_port_range(count: int = 1, host: str = "127.0.0.1") -> int:
    """A first port such that port..port+count-1 are free right now."""
    high = ephemeral_floor() - count
    low = min(10000, high // 2)
    for _ in range(200):
        first = random.randrange(low, high)
        if all(bindable(port, host) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports in {low}..{high}")
