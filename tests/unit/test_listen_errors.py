"""A port a listener cannot bind: `listen_error` finds why as a server would
(a port in TIME_WAIT is free, one another socket listens on is not), and
`cannot_listen` says it in one line with the flag that picks another."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest

from pairchat.errors import cannot_listen
from pairchat.ports import address_error, free_port_range, listen_error


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another program listens on (bound as servers bind)."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", free_port_range()))
        other.listen()
        yield int(other.getsockname()[1])


def test_a_port_another_program_listens_on_is_in_use(taken: int) -> None:
    error = listen_error("127.0.0.1", taken)
    assert error is not None and error.errno == errno.EADDRINUSE
    found = address_error(f"127.0.0.1:{taken}")
    assert found is not None and found.errno == errno.EADDRINUSE


def test_a_free_port_and_a_port_left_in_time_wait_are_free() -> None:
    port = free_port_range()
    assert listen_error("127.0.0.1", port) is None
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first: its port lingers in TIME_WAIT
        client.close()
    assert listen_error("127.0.0.1", port) is None


def test_an_address_not_of_this_form_is_not_probed() -> None:
    assert address_error("unix:/tmp/socket") is None


def test_the_line_names_the_flag_that_picks_another() -> None:
    in_use = OSError(errno.EADDRINUSE, "error while attempting to bind on address")
    message = str(cannot_listen("the broker", "127.0.0.1:8080", in_use, "--port", "--host"))
    assert message == (
        "the broker cannot listen on 127.0.0.1:8080: address already in use; "
        "choose another with --port"
    )
    elsewhere = OSError(errno.EADDRNOTAVAIL, "")
    assert str(cannot_listen("x", "10.9.9.9:80", elsewhere, "--port", "--host")).endswith(
        "cannot assign requested address; choose another with --host"
    )
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert str(cannot_listen("x", "nosuch:80", unknown, "--port", "--host")).endswith(
        "name or service not known; choose another with --host"
    )
    assert str(cannot_listen("x", "a:1", None, "--listen")).endswith(
        "in use, or not an address of this machine; choose another with --listen"
    )
