"""Fire-and-forget tasks that are not garbage-collected while they run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


async def bounded(step: str, work: Awaitable[Any], seconds: float = 2.0) -> None:
    """One step of a shutdown: given `seconds`, then abandoned (and logged), so
    that one stuck step cannot keep a process from exiting."""
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        logging.getLogger("pairchat").warning(
            "shutdown step timed out", extra={"fields": {"step": step, "seconds": seconds}}
        )
    except Exception as exc:
        logging.getLogger("pairchat").warning(
            "shutdown step failed", extra={"fields": {"step": step, "error": repr(exc)}}
        )
