"""The flags of the logic role: its use cases' settings, and the rest of what
`pairchat logic` takes for its process."""

from __future__ import annotations

from dataclasses import dataclass

from pairchat.config import option


@dataclass(frozen=True, slots=True)
class LogicConfig:
    """How the use cases behave (every logic process of a deployment alike)."""

    offline_grace: float = option(
        20.0, "seconds a disconnected account keeps its sessions before it is logged out"
    )
    match_wait: float = option(10.0, "seconds MATCH waits for a partner before answering code 4")
    interest_wait: float = option(
        5.0,
        "seconds a MATCH with interests waits for someone sharing one before it takes anyone "
        "(0: interests only rank the partners)",
    )
    max_sessions: int = option(16, "open sessions per account")
    retention_days: float = option(
        30.0,
        "days after which ended sessions (with their messages) and logged-out accounts are deleted",
    )
    max_accounts_per_ip: int = option(
        10,
        "accounts created per client address (IPv6: per /64) within --accounts-window; "
        "over it, code 8 (0: no limit)",
    )
    accounts_window: float = option(600.0, "seconds of the --max-accounts-per-ip window")
    max_matches_per_account: int = option(
        30, "MATCH requests per account within --matches-window; over it, code 8 (0: no limit)"
    )
    matches_window: float = option(60.0, "seconds of the --max-matches-per-account window")
    max_failed_reconnects_per_ip: int = option(
        20,
        "failed RECONNECTs per client address (IPv6: per /64) within --reconnects-window; "
        "past it every RECONNECT from there is code 8 until the window ends (0: no limit)",
    )
    reconnects_window: float = option(600.0, "seconds of the --max-failed-reconnects-per-ip window")
    max_unacked: int = option(
        1000,
        "messages a recipient may leave unacknowledged in one session; past it the "
        "sender's DIALOGUE is code 8 until the recipient reads (0: no limit)",
    )
    blocklist: str = option(
        "",
        "file of words, phrases and re:regular expressions (one a line) that refuse a "
        "DIALOGUE with code 6 (empty: no filter; see docs/operations.md)",
    )
    report_threshold: int = option(
        3,
        "distinct accounts whose reports within 24 h suspend an account until a moderator "
        "decides (0: never)",
    )
    admin_token: str = option(
        "",
        "bearer token of the moderation API on the operations listeners (off without one); "
        "prefer the variable: a flag shows in the process list",
        secret=True,
    )


@dataclass(frozen=True, slots=True)
class LogicProcessConfig:
    """The flags of `pairchat logic` besides its groups (the use cases, the
    backends, the in-process broker's limits, the ops listener, logging)."""

    listen: str = option("127.0.0.1:7000", "gRPC address to serve")
    run_worker: bool = option(
        False, "also run a delivery worker here (always on in the embedded mode)"
    )
    broker_host: str = option("127.0.0.1", "address of the in-process broker (with --broker-port)")
    broker_port: int = option(
        0,
        "embedded mode: also run a broker in this process on this port, calling logic "
        "and taking pushes without gRPC (0: none)",
    )
    broker_id: str = option("", "the in-process broker's unique name")
