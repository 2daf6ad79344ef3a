"""Retention's one pure rule, shared by both stores' `purge`: which of the
sessions due for deletion go together in one chunk.

No engine and no I/O, so the SQLite writer process can import it.
"""

from __future__ import annotations

from collections.abc import Sequence

# (session id, member a, member b, its message count): a session's msgIds are
# 1..last_msg_id without gaps, so its last msgId is how many messages it holds.
Candidate = tuple[int, int, int, int]


def chunk_of(candidates: Sequence[Candidate], limit: int) -> list[Candidate]:
    """The longest prefix of `candidates` (oldest first, at most `limit` of
    them) whose messages total at most `limit`; at least the first one, so that
    a session larger than `limit` still goes, alone.

    Raises:
        ValueError: `limit` is below 1.
    """
    if limit < 1:
        raise ValueError(f"purge limit must be at least 1, got {limit}")
    chunk: list[Candidate] = []
    messages = 0
    for candidate in candidates[:limit]:
        messages += candidate[3]
        if chunk and messages > limit:
            break
        chunk.append(candidate)
    return chunk
