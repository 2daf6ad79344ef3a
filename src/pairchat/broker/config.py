"""The flags of the broker role: the limits every broker enforces on clients
(in its own process or inside logic), and where `pairchat broker` listens."""

from __future__ import annotations

from dataclasses import dataclass

from pairchat.broker.forwarded import ip_networks
from pairchat.config import option, split_commas


def _commas(values: tuple[str, ...]) -> str:
    return ",".join(values)


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    max_content: int = option(4096, "characters in a DIALOGUE's content (over it: code 9)")
    max_frame_bytes: int = option(65536, "bytes in one client frame (over it: code 9)")
    rate_limit: float = option(200.0, "requests per second per connection (over it: code 8)")
    rate_burst: float = option(
        400.0, "requests a connection may send at once before the rate applies"
    )
    send_buffer: int = option(
        1 << 20, "bytes queued to a client that does not read before it is disconnected"
    )
    heartbeat: float = option(
        15.0,
        "seconds of silence before the broker pings a client; a client that does not "
        "answer within half of it more is dropped",
    )
    max_conns_per_ip: int = option(4096, "WebSocket connections per address")
    fragment_timeout: float = option(
        10.0, "seconds a message sent in fragments has to end in (else close 1008)"
    )
    fragment_budget: int = option(
        64 << 20,
        "bytes held by unfinished fragmented messages of all connections; the one "
        "that would pass it is closed with 1013",
    )
    allowed_origins: tuple[str, ...] = option(
        (),
        "comma-separated browser origins allowed besides the page's own ('*' for any)",
        parse=split_commas,
        show=_commas,
    )
    trusted_proxies: tuple[str, ...] = option(
        (),
        "comma-separated IP addresses or CIDR networks of reverse proxies whose "
        "X-Forwarded-For names the client (empty: the header is ignored)",
        parse=ip_networks,
        show=_commas,
    )


@dataclass(frozen=True, slots=True)
class BrokerProcessConfig:
    """The flags of `pairchat broker` besides the limits of `BrokerConfig`."""

    host: str = option("127.0.0.1", "address to listen on")
    port: int = option(8080, "port of /ws, / and /healthz")
    logic: tuple[str, ...] = option(
        ("127.0.0.1:7000",),
        "comma-separated logic gRPC addresses, tried in turn",
        parse=split_commas,
        show=_commas,
    )
    push_listen: str = option(
        "127.0.0.1:0", "host:port of this broker's Push gRPC service (port 0: any free port)"
    )
    push_advertise: str = option(
        "", "host workers use to reach the Push service (default: the listen host)"
    )
    broker_id: str = option("", "unique name (default: host:port:pid)")
