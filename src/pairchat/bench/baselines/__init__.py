"""The servers pairchat is compared with, each run as its own process by
`pairchat bench --baseline`: `picows_relay` (the ceiling) and `socketio_relay`
(the usual Python choice)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any


def run_relay(
    serve: Callable[[str, int], Coroutine[Any, Any, None]],
    description: str,
    argv: list[str] | None = None,
) -> int:
    """The command line both relays share: `--host`, `--port`, serve until SIGTERM
    (which ends the process at once: a relay has nothing to flush)."""
    import uvloop

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        uvloop.run(serve(args.host, args.port))
    return 0
