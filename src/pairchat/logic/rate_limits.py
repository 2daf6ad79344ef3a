"""The rate limits of the use cases that open something (accounts, sessions) or
try a token (RECONNECT), counted in `Limits` that every logic process shares.

Each refusal is code 8 with a `msg` that says when to retry, and happens before
the use case changes anything.
"""

from __future__ import annotations

import ipaddress
import math

from pairchat.addresses import client_ip
from pairchat.logic.config import LogicConfig
from pairchat.protocol import Code, ProtocolError
from pairchat.storage.limits import Limits

IPV6_PREFIX = 64  # a host usually holds a whole /64: its addresses count as one


def address_subject(address: str) -> str:
    """What an address is counted as: an IPv4 address itself (also when
    IPv4-mapped), an IPv6 one by its /64, anything else as given."""
    ip = client_ip(address)
    if ip is None:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def retry_msg(what: str, seconds: float) -> str:
    """The `msg` of a refusal: what was refused, and in how many whole seconds
    (at least 1) to try again."""
    return f"{what}: retry in {max(1, math.ceil(seconds))} s"


class RateLimits:
    """The per-address and per-account limits of LogicConfig. A limit of 0 is
    off; a call without an address (a broker that does not send it) is not
    counted per address."""

    def __init__(self, limits: Limits, config: LogicConfig) -> None:
        self._limits = limits
        self._config = config

    async def create_account(self, address: str) -> None:
        """Count an account about to be created from `address`.

        Raises:
            ProtocolError: code 8, the address created too many lately.
        """
        limit = self._config.max_accounts_per_ip
        if limit and address:
            key = "accounts:" + address_subject(address)
            wait = await self._limits.hit(key, limit, self._config.accounts_window)
            if wait:
                raise ProtocolError(
                    Code.RATE_LIMITED, retry_msg("too many new accounts from this address", wait)
                )

    async def match(self, account_id: int) -> None:
        """Count a MATCH of `account_id` (each may open a session).

        Raises:
            ProtocolError: code 8, the account matched too often lately.
        """
        limit = self._config.max_matches_per_account
        if limit:
            key = f"matches:{account_id}"
            wait = await self._limits.hit(key, limit, self._config.matches_window)
            if wait:
                raise ProtocolError(Code.RATE_LIMITED, retry_msg("too many MATCH requests", wait))

    async def check_reconnect(self, address: str) -> None:
        """Before a token is even looked at: refuse every RECONNECT from an
        address that failed too often lately, right token or not, so that
        guessing past the limit learns nothing.

        Raises:
            ProtocolError: code 8 until the window of failures ends.
        """
        limit = self._config.max_failed_reconnects_per_ip
        if limit and address:
            wait = await self._limits.blocked(self._reconnects_key(address), limit)
            if wait:
                raise ProtocolError(
                    Code.RATE_LIMITED,
                    retry_msg("too many failed RECONNECTs from this address", wait),
                )

    async def reconnect_failed(self, address: str) -> None:
        """Count a RECONNECT from `address` that named an unknown account or a
        wrong token (a success counts nothing)."""
        limit = self._config.max_failed_reconnects_per_ip
        if limit and address:
            key = self._reconnects_key(address)
            await self._limits.hit(key, limit, self._config.reconnects_window)

    @staticmethod
    def _reconnects_key(address: str) -> str:
        return "reconnects:" + address_subject(address)
