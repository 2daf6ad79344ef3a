"""The client's address behind reverse proxies the operator trusts
(`--trusted-proxies`), from X-Forwarded-For.

Each proxy appends the address it got the request from, so the header reads
`client, proxy1, proxy2` and the broker's TCP peer is the last proxy. Only
what trusted proxies appended can be believed: anything further left may have
been written by the client itself. So the header is read only when the peer
is trusted, and walked from the right, skipping trusted addresses, to the
first untrusted one: the client. If every entry is trusted, the leftmost is
the client (a client inside the proxies' network). An entry the walk reaches
that is not an address (a name, `unknown`, garbage, an empty entry) ends it
with the peer's own address: nothing to its left can be believed, and the
peer is what the broker would use without the header. Entries left of the
client are never read, so a client cannot choose its address by adding some.

Without trusted proxies the header is not read at all.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from pairchat.addresses import Address, Network, client_ip, normalize_network

FORWARDED_FOR = "X-Forwarded-For"
_PORT = re.compile(r"[0-9]{1,5}")


def ip_networks(raw: str) -> tuple[str, ...]:
    """`--trusted-proxies`: comma-separated IP addresses or CIDR networks, each
    as the network it names ("10.0.0.1" is "10.0.0.1/32").

    Raises:
        ValueError: an entry is neither, or a network with host bits set
            ("10.0.0.1/8"; write "10.0.0.0/8").
    """
    return tuple(normalize_network(part) for part in raw.split(",") if part.strip())


def parse_address(entry: str) -> Address | None:
    """One entry of X-Forwarded-For: an IPv4 address with an optional port
    ("203.0.113.7", "203.0.113.7:5555"), an IPv6 one bare or in brackets with
    an optional port ("2001:db8::1", "[2001:db8::1]:443"); an IPv4-mapped IPv6
    address is its IPv4 address. None for anything else, zone ids
    ("fe80::1%eth0") included."""
    text = entry.strip()
    bracketed = text.startswith("[")
    if bracketed:
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and _PORT.fullmatch(port[1:]))):
            return None
    elif text.count(":") == 1:  # IPv6 has two colons at least: IPv4 with a port
        host, _, port = text.partition(":")
        if not _PORT.fullmatch(port):
            return None
    else:
        host = text
    if "%" in host or (bracketed and "." in host and ":" not in host):
        return None  # a zone id; or IPv4 in brackets, which hold IPv6 only
    return client_ip(host)


class TrustedProxies:
    """The proxies whose X-Forwarded-For names the client (see the module
    docstring for the rule)."""

    __slots__ = ("_networks",)

    def __init__(self, networks: Iterable[str]) -> None:
        """`networks` as `ip_networks` returns them.

        Raises:
            ValueError: one is not an IP address or CIDR network.
        """
        self._networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self._networks)

    def client(self, peer: str, forwarded: str | None) -> str:
        """The client's address, given the TCP peer's and the X-Forwarded-For
        header (its lines joined with commas; None without one)."""
        if not self._networks or forwarded is None:
            return peer
        peer_address = parse_address(peer)
        if peer_address is None or not self.trusts(peer_address):
            return peer
        client = peer
        for entry in reversed(forwarded.split(",")):
            address = parse_address(entry)
            if address is None:
                return peer
            client = str(address)
            if not self.trusts(address):
                break
        return client
