"""The result codes of the wire protocol (docs/protocol.md, "Codes")."""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    OK = 0
    PARAM_ERR = 1
    INTERNAL_ERR = 2
    UNKNOWN_CMD = 3
    NOT_FOUND = 4
    UNAUTHORIZED = 5
    FORBIDDEN = 6
    SESSION_CLOSED = 7
    RATE_LIMITED = 8
    TOO_LARGE = 9
    BANNED = 10


class ProtocolError(Exception):
    """A request that gets an error response: a code and a short reason.

    Raised by validation and by the use cases; adapters turn it into the error
    frame of the request it belongs to.
    """

    def __init__(self, code: Code, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
