"""Text messages sent in fragments, joined under three bounds: bytes per
message (1009), bytes held by every unfinished message of the process (1013)
and time (1008, the glue calls `expire` when the deadline passes). Bytes in,
outcomes out: no socket, no clock.

A binary message is refused (code 1) once it ends; its fragments are skipped,
never held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

POLICY_VIOLATION: Final = 1008
MESSAGE_TOO_BIG: Final = 1009
TRY_AGAIN_LATER: Final = 1013

NOT_TEXT: Final = "binary frames are not supported: send JSON text"
NOT_UTF8: Final = "the frame is not valid UTF-8"


class Budget:
    """Bytes held in unfinished messages across every connection of a process."""

    __slots__ = ("held", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        """Hold `size` more bytes if that stays within the limit."""
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size


@dataclass(frozen=True, slots=True)
class Message:
    """A whole text message, decoded."""

    text: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer code 1; the connection goes on."""

    reason: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with this code."""

    code: int
    reason: str


Outcome = Message | Refuse | Close | None
Start = Literal["text", "binary"] | None  # the first frame's kind; None: a continuation

_SKIPPING = -1  # `size` while the rest of a binary message is skipped


class Assembly:
    """One connection's message in progress, if any."""

    __slots__ = ("budget", "max_message", "parts", "size")

    def __init__(self, max_message: int, budget: Budget) -> None:
        self.max_message = max_message
        self.budget = budget
        self.parts: list[bytes] | None = None
        self.size = 0

    @property
    def in_progress(self) -> bool:
        return self.parts is not None

    def frame(self, start: Start, fin: bool, size: int, payload: Callable[[], bytes]) -> Outcome:
        """Take one data frame of a fragmented message (or a binary one).

        Args:
            start: "text" or "binary" for a message's first frame, None for a
                continuation.
            fin: whether the frame ends the message.
            size: the frame's payload size.
            payload: reads the payload (called only when it is kept).

        Returns:
            The outcome of the frame: a whole message, a refusal, a close, or
            None while the message goes on (or a continuation of nothing).
        """
        if start is not None:
            self.reset()  # a new message ends one left unfinished
            if start == "binary":
                if fin:
                    return Refuse(NOT_TEXT)
                self.parts, self.size = [], _SKIPPING
                return None
            self.parts = []
        parts = self.parts
        if parts is None:
            return None
        if self.size != _SKIPPING:
            if self.size + size > self.max_message:
                self.reset()
                return Close(MESSAGE_TOO_BIG, "message too big")
            if not self.budget.take(size):
                self.reset()
                return Close(TRY_AGAIN_LATER, "server busy: too many unfinished messages")
            self.size += size
            parts.append(payload())
        if not fin:
            return None
        binary = self.size == _SKIPPING
        self.reset()
        if binary:
            return Refuse(NOT_TEXT)
        try:
            return Message(b"".join(parts).decode())
        except UnicodeDecodeError:
            return Refuse(NOT_UTF8)

    def expire(self) -> Close | None:
        """The deadline of the message in progress passed: drop it and close."""
        if self.parts is None:
            return None
        self.reset()
        return Close(POLICY_VIOLATION, "message not finished in time")

    def reset(self) -> None:
        """Drop the message in progress and give its bytes back."""
        if self.size > 0:
            self.budget.give_back(self.size)
        self.parts = None
        self.size = 0
