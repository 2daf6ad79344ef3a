"""Observability shared by every process: event logs and Prometheus metrics.

Logs are one line per significant event, as key=value pairs or JSON. They never
carry message content or tokens: callers pass only ids, counts and reasons.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from pairchat.config import option
from pairchat.errors import cannot_listen

# --- metrics (one process = one role, so the default registry is the process's) ---
CONNECTIONS = Gauge("pairchat_connections", "Open client WebSocket connections")
REQUESTS = Counter(
    "pairchat_requests_total", "Client requests answered, by command and code", ["cmd", "code"]
)
MESSAGES_STORED = Counter("pairchat_messages_stored_total", "Dialogue messages committed")
MESSAGES_PUSHED = Counter(
    "pairchat_messages_pushed_total", "PUSH_DIALOGUE frames written to client connections"
)
SIGNALS_PUSHED = Counter(
    "pairchat_signals_pushed_total", "PUSH_SIGNAL frames written to client connections"
)
PUSH_LATENCY = Histogram(
    "pairchat_push_latency_seconds",
    "From a message's commit to its push being written to the recipient's connection",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
MATCH_QUEUE = Gauge("pairchat_match_queue_length", "Accounts waiting in MATCH")
ONLINE = Gauge("pairchat_accounts_online", "Accounts with a live connection")
SESSIONS_OPEN = Gauge("pairchat_sessions_open", "Open conversation sessions")
COMMIT_SECONDS = Histogram(
    "pairchat_commit_seconds",
    "Time of one group commit in the store, from the request to its result",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
COMMIT_BATCH = Histogram(
    "pairchat_commit_batch_size",
    "Messages per group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
PUSHES_MISSED = Counter(
    "pairchat_pushes_missed_total",
    "Pushes a broker could not deliver because the connection was gone (replayed on RECONNECT)",
)
SLOW_CLIENTS = Counter(
    "pairchat_slow_clients_dropped_total", "Connections closed because their send buffer filled"
)


# --- logs ---
class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={ts}.{int(record.msecs):03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"event={_kv(record.getMessage())}",
        ]
        for key, value in getattr(record, "fields", {}).items():
            parts.append(f"{key}={_kv(value)}")
        if record.exc_info:
            parts.append(f"error={_kv(self.formatException(record.exc_info))}")
        return " ".join(parts)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _kv(value: object) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "._-:/@[]" for c in text):
        return text
    return json.dumps(text)


def setup_logging(fmt: str = "kv", level: str = "info", role: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if role:
        logging.getLogger("pairchat").info("process started", extra={"fields": {"role": role}})


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log one event with its fields (ids and reasons only, never content or tokens)."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})


# --- HTTP: /healthz and /metrics ---
def health(healthy: Any) -> tuple[int, bytes]:
    """The /healthz answer of every process: 200 when healthy() is true, else 503,
    with a JSON body saying which."""
    ok = bool(healthy())
    return (200 if ok else 503), b'{"status": "ok"}' if ok else b'{"status": "unavailable"}'


@dataclass(frozen=True, slots=True)
class OpsConfig:
    """Where a process serves its operations listener: /healthz and /metrics
    (docs/operations.md). Each role's command sets its own default port."""

    ops_host: str = option(
        "127.0.0.1",
        "address of the operations listener (/healthz, /metrics)",
        aliases=("--http-host",),
    )
    ops_port: int = option(
        7001,
        "port of the operations listener (/healthz, /metrics; 0: a free one)",
        aliases=("--http-port",),
    )
    # `pairchat up` learns the ports its children bound from this file.
    ports_file: str = option("", "", hidden=True)


async def serve_ops(
    host: str, port: int, healthy: Any, routes: Sequence[web.RouteDef] = ()
) -> tuple[web.AppRunner, int]:
    """Serve the operations listener: GET /healthz (200 when healthy() is true,
    else 503), GET /metrics (this process's registry) and the role's own
    `routes` (the moderator console and the moderation API). Returns the runner
    and the port bound (port 0 picks a free one).

    Raises:
        StartupError: the address cannot be bound.
    """

    async def healthz(_: web.Request) -> web.Response:
        status, body = health(healthy)
        return web.Response(body=body, status=status, content_type="application/json")

    async def metrics_handler(_: web.Request) -> web.Response:
        # Rendering walks every series while holding the registry's locks: in a
        # thread, so a large registry delays this answer, never the event loop.
        body = await asyncio.get_running_loop().run_in_executor(None, generate_latest)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise cannot_listen(
            "the operations listener", f"{host}:{port}", exc, "--ops-port", "--ops-host"
        ) from None
    return runner, int(runner.addresses[0][1])


def write_ports(path: str, **ports: int) -> None:
    """Tell a supervisor (`pairchat up`) the ports this process bound: written
    whole under a temporary name, then renamed, so a reader never sees half."""
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(ports, f)
        os.replace(tmp, path)
