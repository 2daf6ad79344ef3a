"""The client's address behind trusted proxies (pairchat.broker.forwarded):
X-Forwarded-For is read only from a trusted peer, walked from the right past
trusted proxies, and anything malformed falls back to the peer."""

from __future__ import annotations

import ipaddress

import pytest

from pairchat.broker.forwarded import TrustedProxies, ip_networks, parse_address

PROXIES = TrustedProxies(ip_networks("10.0.0.0/8, 192.0.2.1, 2001:db8:ffff::/48"))
PROXY = "10.1.2.3"  # a trusted peer


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:5555", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("[::ffff:203.0.113.7]:80", "203.0.113.7"),
    ],
)
def test_an_entry_is_an_address_with_or_without_a_port(entry: str, address: str) -> None:
    assert parse_address(entry) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "unknown",
        "_hidden",
        "example.com",
        "203.0.113",
        "203.0.113.256",
        "203.0.113.7:",
        "203.0.113.7:http",
        "203.0.113.7:123456",
        "[203.0.113.7]",
        "[2001:db8::1",
        "[2001:db8::1]443",
        "[2001:db8::1]:",
        "2001:db8::1:443:x",
        "fe80::1%eth0",
        "[fe80::1%eth0]:80",
        "203.0.113.7 203.0.113.8",
        "\u0663.0.0.1",
    ],
)
def test_anything_else_is_no_address(entry: str) -> None:
    assert parse_address(entry) is None


def test_the_flag_takes_addresses_and_networks_and_refuses_the_rest() -> None:
    assert ip_networks("10.0.0.0/8, 192.0.2.1,,2001:db8::/32 ") == (
        "10.0.0.0/8",
        "192.0.2.1/32",
        "2001:db8::/32",
    )
    assert ip_networks("") == ()
    for bad in ("10.0.0.1/8", "10.0.0.0/33", "proxy.local", "10.0.0.0/8;"):
        with pytest.raises(ValueError):
            ip_networks(bad)


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    nobody = TrustedProxies(())
    assert not nobody
    assert nobody.client("127.0.0.1", "203.0.113.7") == "127.0.0.1"


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert PROXIES.client("198.51.100.9", "203.0.113.7") == "198.51.100.9"
    assert PROXIES.client("?", "203.0.113.7") == "?"


def test_a_trusted_peer_without_the_header_is_the_client() -> None:
    assert PROXIES.client(PROXY, None) == PROXY


def test_behind_one_proxy_the_client_is_the_address_it_appended() -> None:
    assert PROXIES.client(PROXY, "203.0.113.7") == "203.0.113.7"
    assert PROXIES.client(PROXY, "203.0.113.7:5555") == "203.0.113.7"
    assert PROXIES.client(PROXY, "[2001:db8::1]:443") == "2001:db8::1"
    assert PROXIES.client("::ffff:10.1.2.3", "203.0.113.7") == "203.0.113.7"


def test_addresses_a_client_put_left_of_its_own_are_never_believed() -> None:
    # The client sent "X-Forwarded-For: 10.9.9.9, 1.2.3.4"; the proxy appended
    # the client's real address.
    assert PROXIES.client(PROXY, "10.9.9.9, 1.2.3.4, 203.0.113.7") == "203.0.113.7"
    assert PROXIES.client(PROXY, "garbage, 203.0.113.7") == "203.0.113.7"


def test_trusted_proxies_on_the_way_are_skipped() -> None:
    chain = "1.2.3.4, 203.0.113.7, 10.0.0.5, 192.0.2.1, [2001:db8:ffff::9]:80"
    assert PROXIES.client(PROXY, chain) == "203.0.113.7"


def test_a_client_inside_the_trusted_network_is_the_leftmost_entry() -> None:
    assert PROXIES.client(PROXY, "10.0.0.7, 10.0.0.5") == "10.0.0.7"


@pytest.mark.parametrize(
    "forwarded",
    ["", " ", "unknown", "203.0.113.7, nonsense", "203.0.113.7, 10.0.0.5, ", "1.2.3.4,,10.0.0.5"],
)
def test_a_malformed_entry_reached_by_the_walk_falls_back_to_the_peer(forwarded: str) -> None:
    assert PROXIES.client(PROXY, forwarded) == PROXY


def test_many_entries() -> None:
    spoofed = ", ".join(f"198.51.100.{i % 250}" for i in range(2000))
    proxies = ", ".join(f"10.0.{i // 250}.{i % 250}" for i in range(500))
    assert PROXIES.client(PROXY, f"{spoofed}, 203.0.113.7, {proxies}") == "203.0.113.7"
    assert PROXIES.client(PROXY, proxies) == "10.0.0.0"
