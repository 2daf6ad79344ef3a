"""The life of a client connection as a table (see `broker/core.py` for the
rules it serves).

`TRANSITIONS[state][event]` is the state after `event`; a pair that is not in
the table is a bug in the core, not a client's doing, and raises KeyError.
Events are what happened, not what to do: the core decides what to write.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class State(Enum):
    UNBOUND = "unbound"  # no account
    BINDING = "binding"  # a CRT_ACCOUNT or RECONNECT is with logic
    BOUND = "bound"  # acting as one account
    CLOSING = "closing"  # a close is under way: nothing more is written
    CLOSED = "closed"  # the socket is gone


class Event(Enum):
    BIND = "bind"  # a CRT_ACCOUNT or RECONNECT went to logic
    BIND_OK = "bind ok"  # logic bound the account
    BIND_REFUSED = "bind refused"  # logic refused it or was out of reach; no account kept
    REBIND_REFUSED = "rebind refused"  # the same for a RECONNECT of the account it keeps
    LOGGED_OUT = "logged out"  # a LOGOUT succeeded
    REPLACED = "replaced"  # the account connected elsewhere (a push of kind CLOSE)
    CLOSE = "close"  # the broker closes it (shutdown, logic lost)
    ABORT = "abort"  # the writer dropped a client that does not read
    SOCKET_CLOSED = "socket closed"


UNBOUND: Final = State.UNBOUND
BINDING: Final = State.BINDING
BOUND: Final = State.BOUND
CLOSING: Final = State.CLOSING
CLOSED: Final = State.CLOSED
_CLOSES: Final = {Event.CLOSE: CLOSING, Event.ABORT: CLOSING, Event.SOCKET_CLOSED: CLOSED}

TRANSITIONS: Final[dict[State, dict[Event, State]]] = {
    UNBOUND: {
        Event.BIND: BINDING,
        # a second LOGOUT in flight is answered after the first
        Event.LOGGED_OUT: UNBOUND,
        **_CLOSES,
    },
    BINDING: {
        Event.BIND_OK: BOUND,
        Event.BIND_REFUSED: UNBOUND,
        Event.REBIND_REFUSED: BOUND,
        # a LOGOUT sent before the RECONNECT: the bind's answer decides
        Event.LOGGED_OUT: BINDING,
        Event.REPLACED: CLOSING,
        **_CLOSES,
    },
    BOUND: {
        Event.BIND: BINDING,  # RECONNECT of the same account
        Event.LOGGED_OUT: UNBOUND,
        Event.REPLACED: CLOSING,
        **_CLOSES,
    },
    CLOSING: {
        Event.LOGGED_OUT: CLOSING,
        Event.ABORT: CLOSING,  # the last frames did not fit the client's buffer
        Event.SOCKET_CLOSED: CLOSED,
    },
    CLOSED: {
        Event.LOGGED_OUT: CLOSED,
    },
}
