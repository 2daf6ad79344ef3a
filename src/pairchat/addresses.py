"""Client IP addresses and networks as every role reads them: an IPv4-mapped
IPv6 address is its IPv4 address, and a network is written as `ipaddress`
normalizes it ("10.0.0.1" is "10.0.0.1/32"). Brokers pick the client's
address (behind trusted proxies too), logic counts and bans by it, storage
keeps banned networks: one reading for all of them."""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(text: str) -> Address | None:
    """The address `text` names, IPv4-mapped IPv6 unmapped; None for anything
    that is not an address."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def normalize_network(text: str) -> str:
    """An IP address or CIDR network in its one written form: '203.0.113.7' ->
    '203.0.113.7/32', '2001:DB8::/32' -> '2001:db8::/32'.

    Raises:
        ValueError: not an address or network, or a network with host bits set.
    """
    return str(ipaddress.ip_network(text.strip(), strict=True))
