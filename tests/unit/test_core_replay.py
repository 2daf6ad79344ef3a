"""The connection core's paced replays (broker/core.py, push.proto): a replay's
frames wait for room in the socket, live pushes behind them keep their order,
and a long replay goes on page by page."""

from __future__ import annotations

import json

from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.api.v1 import push_pb2 as ppb
from tests.unit.test_core import CONN, ME, SIGNAL, Client, binding, bound, bound_client

S1, S2 = 31, 32


def dialogue(session_id: int, msg_id: int) -> bytes:
    return json.dumps(
        {"cmd": "PUSH_DIALOGUE", "sessionId": session_id, "msgId": msg_id, "content": "x"}
    ).encode()


def replayed(session_id: int, msg_id: int) -> ppb.PushItem:
    return ppb.PushItem(
        account_id=ME,
        conn_id=CONN,
        kind=ppb.PUSH_KIND_REPLAY,
        frame=dialogue(session_id, msg_id),
        session_id=session_id,
    )


def live(session_id: int, msg_id: int) -> ppb.PushItem:
    return ppb.PushItem(
        account_id=ME, conn_id=CONN, frame=dialogue(session_id, msg_id), session_id=session_id
    )


def more(session_id: int, after: int) -> ppb.PushItem:
    return ppb.PushItem(
        account_id=ME,
        conn_id=CONN,
        kind=ppb.PUSH_KIND_REPLAY_MORE,
        session_id=session_id,
        msg_id=after,
    )


def end(session_id: int) -> ppb.PushItem:
    return ppb.PushItem(
        account_id=ME, conn_id=CONN, kind=ppb.PUSH_KIND_REPLAY_END, session_id=session_id
    )


def written(c: Client, room: int = 1 << 30) -> list[tuple[int, int]]:
    return [(f["sessionId"], f["msgId"]) for f in c.frames(room)]


def replay_calls(c: Client) -> list[tuple[int, int]]:
    out = []
    for call in c.core.take_calls():
        assert isinstance(call, lpb.Call) and call.HasField("replay_more")
        assert (call.account_id, call.conn_id) == (ME, CONN)
        out.append((call.replay_more.session_id, call.replay_more.after_msg_id))
    return out


def test_a_replay_is_written_as_room_allows() -> None:
    c = bound_client()
    for msg_id in (1, 2, 3):
        assert c.core.push(replayed(S1, msg_id))
    assert c.core.frames == [] and c.core.paced
    size = len(dialogue(S1, 1))
    assert written(c, room=size) == [(S1, 1), (S1, 2)]  # the last one may pass the room
    assert written(c, room=0) == [(S1, 3)]
    assert not c.core.paced


def test_live_pushes_behind_a_replay_wait_and_count() -> None:
    c = bound_client()
    c.core.push(replayed(S1, 1))
    c.core.push(live(S2, 5))
    assert c.core.paced_live == len(dialogue(S2, 5))  # the replay itself never counts
    assert written(c, room=0) == [(S1, 1)]
    assert written(c) == [(S2, 5)]
    assert c.core.paced_live == 0
    c.core.push(live(S2, 6))  # nothing waits any more: written at once
    assert c.core.take_frames() == [dialogue(S2, 6)]


def test_a_replay_that_goes_on_asks_for_its_next_page_when_written() -> None:
    c = bound_client()
    c.core.push(replayed(S1, 1))
    c.core.push(more(S1, 1))
    c.core.push(live(S1, 2))  # the next page reads it from the store
    c.core.push(live(S2, 9))  # another session's: waits its turn
    assert replay_calls(c) == []  # not before the page is written
    assert written(c, room=0) == [(S1, 1)]
    assert written(c) == [(S2, 9)]
    assert replay_calls(c) == [(S1, 1)]
    c.core.push(replayed(S1, 2))
    c.core.push(end(S1))
    c.core.push(live(S1, 3))  # the replay is complete: live again, after the page
    assert written(c) == [(S1, 2), (S1, 3)]
    assert replay_calls(c) == []


def test_a_replay_waits_for_the_bind_answer() -> None:
    c = binding()
    call = c.bind_call()
    c.core.push(replayed(S1, 1))
    c.core.push(more(S1, 1))
    assert not c.core.paced and c.core.take_paced(1 << 30) == []
    c.core.receive_reply(bound(call))
    assert [f["cmd"] for f in c.frames()] == ["CRT_ACCOUNT", "PUSH_DIALOGUE"]
    assert replay_calls(c) == [(S1, 1)]


def test_closing_drops_what_waits() -> None:
    c = bound_client()
    c.core.push(replayed(S1, 1))
    c.core.push(more(S1, 1))
    c.core.push(live(S2, 1))
    c.core.close(1000, "bye")
    assert not c.core.paced and c.core.paced_live == 0
    assert c.core.take_frames() == []
    assert not c.core.push(live(S1, 2))


def test_a_new_replay_after_an_abort_starts_clean() -> None:
    """Aborted by the glue (a slow client), the core forgets the replays that
    went on: nothing of the old connection's pages leaks into its state."""
    c = bound_client()
    c.core.push(more(S1, 1))
    c.core.abort()
    assert not c.core.paced and c.core.paced_live == 0


def test_a_push_of_an_unknown_kind_is_taken_and_ignored() -> None:
    c = bound_client()
    assert c.core.push(ppb.PushItem(account_id=ME, conn_id=CONN, kind=99, frame=SIGNAL))  # type: ignore[arg-type]
    assert c.core.take_frames() == [] and not c.core.paced
