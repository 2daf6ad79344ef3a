"""The one error type a process may stop on before it serves anything, and the
wording of the commonest one: a listener that cannot bind its address."""

from __future__ import annotations

import errno
import os
import socket


class StartupError(RuntimeError):
    """Something the operator must fix before this process can start: an engine
    out of reach, a schema of another version, a flag that cannot work. The
    message says what to do next and never carries a password. `pairchat`
    prints it and exits with code 1; library code raises it instead of
    `SystemExit`."""


def cannot_listen(
    what: str, address: str, error: OSError | None, flag: str, host_flag: str = ""
) -> StartupError:
    """The error of a listener that cannot bind `address`, on one line: what,
    where, why, and the flag that picks another (`host_flag` when the host is
    not one of this machine's). `error` is None when the server (gRPC) does
    not say why."""
    unknown_host = isinstance(error, socket.gaierror)
    if error is None:
        why = "in use, or not an address of this machine"
    elif unknown_host or not error.errno:
        why = (error.strerror or str(error)).lower()
    else:
        why = os.strerror(error.errno).lower()
    if host_flag and (unknown_host or (error is not None and error.errno == errno.EADDRNOTAVAIL)):
        flag = host_flag
    return StartupError(f"{what} cannot listen on {address}: {why}; choose another with {flag}")
