"""`pairchat bench`: a load generator speaking the wire protocol
(docs/protocol.md) over real WebSockets, and the baselines it compares
pairchat with.

Layout: `wire` (frames of both dialects), `client` (one user), `worker` (one
generator process), `driver` (coordinates the processes, merges), `stats`
(counts and latency histograms), `systems` (what is driven: a spawned
`pairchat up`, a running system, the relays of `baselines/`), `progress` and
`report` (what is shown), `flags` and `main` (the command).
"""

from __future__ import annotations

import argparse
import sys


def run_bench(args: argparse.Namespace) -> int:
    """Runs `pairchat bench` with parsed flags (see `flags`); returns the exit code."""
    # Imported here: `pairchat.bench.flags` is read by every command's parser,
    # and none but bench needs the generator's dependencies.
    try:
        from pairchat.bench.main import run_bench as run
    except ImportError as exc:  # rich, psutil, python-socketio: the `bench` extra
        print(
            f"pairchat bench needs its extra dependencies ({exc.name} is missing): "
            "pip install 'pairchat[bench]' (`make install` includes them)",
            file=sys.stderr,
        )
        return 2
    return run(args)


__all__ = ["run_bench"]
