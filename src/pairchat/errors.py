"""The one error type a process may stop on before it serves anything."""

from __future__ import annotations


class StartupError(RuntimeError):
    """Something the operator must fix before this process can start: an engine
    out of reach, a schema of another version, a flag that cannot work. The
    message says what to do next and never carries a password. `pairchat`
    prints it and exits with code 1; library code raises it instead of
    `SystemExit`."""
