"""The one planner of a group commit, and the one folding of acknowledgements,
shared by both stores.

Pure: values in, values out, no engine. A store reads what the plan needs
inside its transaction (each session's last msgId and whether it is closed,
and the (sender, requestId) pairs of the batch already stored), calls
`plan_commit`, and writes what it returns. Imported by the SQLite writer
process, so it imports nothing but the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace

from pairchat.storage.records import Ack, NewMessage, StoredMessage

RequestKey = tuple[int, str]  # (sender_id, request_id)
Claim = tuple[int, str, int, int]  # (sender_id, request_id, session_id, msg_id)


@dataclass(slots=True)
class CommitPlan:
    """A batch with its msgIds assigned: what to return and what to write."""

    # One per message of the batch, in its order (see `Store.append_messages`).
    results: list[StoredMessage] = field(default_factory=list)
    # The messages to insert, in batch order.
    new: list[StoredMessage] = field(default_factory=list)
    # The requestIds to record, in key order: two transactions claiming the same
    # ones then wait on the first contested key instead of on each other.
    claims: list[Claim] = field(default_factory=list)
    # Each session whose msgIds advanced -> its new last msgId.
    last_msg_ids: dict[int, int] = field(default_factory=dict)


def plan_commit(
    batch: Sequence[NewMessage],
    now_ms: int,
    last_msg_ids: Mapping[int, int],
    stored: Mapping[RequestKey, StoredMessage],
    closed: AbstractSet[int] = frozenset(),
) -> CommitPlan:
    """Number a batch after each session's last msgId, gap-free.

    A message whose (sender, requestId) is in `stored` or earlier in the batch
    yields that first message with duplicate=True and stores nothing; otherwise
    a message to a closed session yields closed=True, msg_id 0 and stores
    nothing; otherwise it takes its session's next msgId and `now_ms`.

    Args:
        batch: the messages, in the order they are to be numbered.
        now_ms: their creation time, milliseconds since the epoch.
        last_msg_ids: the last msgId of every existing session of the batch.
        stored: the batch's (sender, requestId) pairs stored already, with
            their messages.
        closed: which sessions of the batch are closed.

    Raises:
        LookupError: a message names a session in neither `last_msg_ids` nor
            `closed` (the whole batch is refused).
    """
    unknown = {m.session_id for m in batch} - last_msg_ids.keys() - closed
    if unknown:
        raise LookupError(f"no such session: {sorted(unknown)}")
    plan = CommitPlan()
    firsts = dict(stored)
    last = plan.last_msg_ids
    for m in batch:
        key = None if m.request_id is None else (m.sender_id, m.request_id)
        if key is not None:
            first = firsts.get(key)
            if first is not None:
                plan.results.append(first if first.duplicate else replace(first, duplicate=True))
                continue
        if m.session_id in closed:
            plan.results.append(
                StoredMessage(m.session_id, 0, m.sender_id, m.content, now_ms, closed=True)
            )
            continue
        msg_id = last[m.session_id] = last.get(m.session_id, last_msg_ids[m.session_id]) + 1
        message = StoredMessage(m.session_id, msg_id, m.sender_id, m.content, now_ms)
        plan.results.append(message)
        plan.new.append(message)
        if key is not None:
            firsts[key] = message
            plan.claims.append((*key, m.session_id, msg_id))
    plan.claims.sort()
    return plan


def fold_acks(acks: Iterable[Ack]) -> list[Ack]:
    """The highest msgId acknowledged per (session, account), in key order: one
    row update per member, and two transactions acking the same members never
    deadlock."""
    highest: dict[tuple[int, int], int] = {}
    for session_id, account_id, msg_id in acks:
        key = (session_id, account_id)
        highest[key] = max(msg_id, highest.get(key, msg_id))
    return [(s, a, m) for (s, a), m in sorted(highest.items())]
