"""The connection core with a dialect whose clients never acknowledge pushes
and whose server pings (broker/core.py, `Codec.acks_on_write` and
`Codec.ping_interval`): a push is acknowledged when its frame is taken for the
socket, never when it is dropped unwritten; a bound connection is pinged and
given up once silent."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pairchat.api.links import AckMessage
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.api.v1 import push_pb2 as ppb
from pairchat.broker.codec import JsonCodec
from pairchat.broker.core import ConnectionCore, LogicCall, TokenBucket
from pairchat.broker.state import State
from pairchat.protocol import BadFrame, Request, encode_push_dialogue, encode_push_signal
from tests.unit.test_core import (
    ADDRESS,
    CONN,
    MAX_CONTENT,
    MAX_FRAME,
    ME,
    OTHER,
    Client,
    Clock,
    SilentCodec,
    bound,
    bound_client,
    closing,
)

S1, S2 = 31, 32
SILENCE = 5.0
PING = b"PING"


class WriteAckCodec:
    """`/ws` frames, but its clients never acknowledge (Typing has no frame)
    and its server pings."""

    acks_on_write = True
    ping_interval = 1.0

    def __init__(self) -> None:
        self.json = JsonCodec(MAX_CONTENT)

    def decode(self, text: str) -> Request | BadFrame:
        return self.json.decode(text)

    def reply(self, cmd: str, request_id: str | None, reply: lpb.Reply | None) -> bytes:
        return self.json.reply(cmd, request_id, reply)

    def stored(self, request_id: str | None, session_id: int, msg_id: int) -> bytes:
        return self.json.stored(request_id, session_id, msg_id)

    def error(
        self,
        cmd: str,
        request_id: str | None,
        code: int,
        msg: str,
        reply: lpb.Reply | None = None,
    ) -> bytes:
        return self.json.error(cmd, request_id, code, msg, reply)

    def push(self, frame: bytes) -> bytes | None:
        return None if b'"Typing"' in frame else frame

    def ping(self, account_id: int) -> bytes:
        return PING + b" %d" % account_id


def client(codec: Any = None) -> Client:
    clock = Clock()
    counted: list[tuple[str, int]] = []
    core = ConnectionCore(
        CONN,
        codec or WriteAckCodec(),
        TokenBucket(10.0, 100.0, clock),
        MAX_FRAME,
        itertools.count(1).__next__,
        lambda cmd, code: counted.append((cmd, int(code))),
        ADDRESS,
    )
    return Client(core, clock, counted)


def binding_client() -> Client:
    c = client()
    c.send("CRT_ACCOUNT", nickName="al")
    c.kept = c.call()
    return c


def written_client() -> Client:
    """A bound client of the dialect, its bind answer written."""
    c = binding_client()
    c.core.receive_reply(bound(c.bind_call()))
    c.core.take_frames()
    assert c.core.take_calls() == []
    return c


def message(
    session_id: int, msg_id: int, kind: ppb.PushKind.ValueType = ppb.PUSH_KIND_FRAME
) -> ppb.PushItem:
    frame = encode_push_dialogue(OTHER, session_id, msg_id, "hi", 1)
    return ppb.PushItem(account_id=ME, conn_id=CONN, kind=kind, frame=frame, session_id=session_id)


def signal(kind: str, session_id: int = S1) -> ppb.PushItem:
    frame = encode_push_signal(kind, OTHER, ME, session_id, {"accountId": OTHER})
    return ppb.PushItem(account_id=ME, conn_id=CONN, frame=frame, session_id=session_id)


def message_ack(session_id: int, msg_id: int, account_id: int = ME) -> AckMessage:
    return AckMessage(account_id, CONN, session_id, msg_id, None)


def signal_ack(kind: str, session_id: int = S1) -> lpb.Call:
    ack = lpb.Ack(session_id=session_id, signal_type=kind)
    return lpb.Call(account_id=ME, conn_id=CONN, ack=ack)


def acks(c: Client) -> list[LogicCall]:
    """The acknowledgements the core made so far (its other calls left out)."""
    return [
        call
        for call in c.core.take_calls()
        if isinstance(call, AckMessage) or (isinstance(call, lpb.Call) and call.HasField("ack"))
    ]


# --- acknowledged once written ---
def test_a_push_is_acknowledged_when_its_frame_is_taken_for_the_socket() -> None:
    c = written_client()
    c.core.push(message(S1, 1))
    c.core.push(signal("NewSession", S2))
    assert acks(c) == []  # not yet handed over
    assert len(c.core.take_frames()) == 2
    assert acks(c) == [message_ack(S1, 1), signal_ack("NewSession", S2)]


def test_a_push_without_a_frame_is_acknowledged_at_once() -> None:
    c = written_client()
    c.core.push(message(S1, 1))
    c.core.push(signal("Typing"))
    assert acks(c) == [signal_ack("Typing")]
    c.core.take_frames()
    assert acks(c) == [message_ack(S1, 1)]


@pytest.mark.parametrize("drop", ["drop_frames", "abort", "socket_closed"])
def test_frames_dropped_unwritten_are_not_acknowledged(drop: str) -> None:
    """A RECONNECT replays them: they never reached the client."""
    c = written_client()
    c.core.push(message(S1, 1))
    getattr(c.core, drop)()
    assert c.core.take_frames() == []
    assert acks(c) == []


def test_replay_frames_are_acknowledged_as_the_socket_takes_them() -> None:
    c = written_client()
    for msg_id in (1, 2, 3):
        c.core.push(message(S1, msg_id, ppb.PUSH_KIND_REPLAY))
    size = len(message(S1, 1).frame)
    assert len(c.core.take_paced(size)) == 2  # the last one may pass the room
    assert acks(c) == [message_ack(S1, 1), message_ack(S1, 2)]
    c.core.close(1001, "bye")  # the rest is never written
    assert acks(c) == []


def test_a_replayed_push_without_a_frame_is_acknowledged_at_once() -> None:
    c = written_client()
    typing = signal("Typing")
    typing.kind = ppb.PUSH_KIND_REPLAY
    c.core.push(typing)
    assert not c.core.paced
    assert acks(c) == [signal_ack("Typing")]


def test_live_pushes_behind_a_replay_are_acknowledged_when_written() -> None:
    c = written_client()
    c.core.push(message(S1, 1, ppb.PUSH_KIND_REPLAY))
    c.core.push(message(S2, 7))
    assert c.core.take_frames() == [] and acks(c) == []
    assert len(c.core.take_paced(1 << 20)) == 2
    assert acks(c) == [message_ack(S1, 1), message_ack(S2, 7)]


def test_live_pushes_dropped_during_a_replay_in_pages_are_not_acknowledged() -> None:
    """The next page reads them from the store."""
    c = written_client()
    more = ppb.PushItem(
        account_id=ME, conn_id=CONN, kind=ppb.PUSH_KIND_REPLAY_MORE, session_id=S1, msg_id=1
    )
    c.core.push(message(S1, 1, ppb.PUSH_KIND_REPLAY))
    c.core.push(more)
    c.core.push(message(S1, 2))
    assert c.core.take_frames() == []
    assert len(c.core.take_paced(1 << 20)) == 1  # the mark asks for the next page instead
    assert acks(c) == [message_ack(S1, 1)]


def test_pushes_held_while_binding_are_acknowledged_for_their_account_once_written() -> None:
    """A new account is not the core's yet while its bind is with logic."""
    c = binding_client()
    c.core.push(message(S1, 1))
    assert acks(c) == []
    c.core.receive_reply(bound(c.bind_call()))
    c.core.take_frames()  # the bind's answer: no push in it
    assert acks(c) == []
    c.core.take_paced(1 << 20)
    assert acks(c) == [message_ack(S1, 1)]


def test_a_replayed_push_a_dialect_of_client_acks_has_no_frame_for_is_just_dropped() -> None:
    c = client(SilentCodec())
    c.send("CRT_ACCOUNT", nickName="al")
    c.core.receive_reply(bound(c.call()))
    c.core.push(message(S1, 1, ppb.PUSH_KIND_REPLAY))
    assert not c.core.paced and c.core.take_calls() == []


def test_clients_that_acknowledge_themselves_get_nothing_acknowledged_for_them() -> None:
    c = bound_client()
    c.core.push(message(S1, 1))
    c.core.push(message(S2, 1, ppb.PUSH_KIND_REPLAY))
    c.core.take_frames()
    c.core.take_paced(1 << 20)
    assert acks(c) == []


# --- the dialect's heartbeat ---
def test_a_bound_connection_is_pinged_with_its_account() -> None:
    c = written_client()
    assert c.core.heartbeat(SILENCE)
    assert c.core.take_frames() == [PING + b" %d" % ME]


def test_a_connection_without_an_account_is_neither_pinged_nor_held_to_the_limit() -> None:
    for c in (client(), binding_client()):
        c.clock.now += 10 * SILENCE
        assert c.core.heartbeat(SILENCE)
        assert c.core.take_frames() == []


def test_a_closing_connection_is_left_to_its_close() -> None:
    c = written_client()
    c.core.close(1001, "bye")
    c.clock.now += 10 * SILENCE
    assert c.core.heartbeat(SILENCE)
    assert c.core.take_frames() == []


def test_a_client_silent_past_the_limit_is_gone() -> None:
    c = written_client()
    c.clock.now += SILENCE
    assert c.core.heartbeat(SILENCE)  # up to the limit: still pinged
    c.core.take_frames()
    c.send("PING")  # any frame shows it is there
    c.core.take_frames()
    c.clock.now += SILENCE + 0.1
    assert not c.core.heartbeat(SILENCE)
    assert c.core.take_frames() == []
    c.core.abort()  # what the glue does then
    assert c.core.state is State.CLOSING


def test_a_dialect_without_its_own_ping_writes_none() -> None:
    c = bound_client()
    assert c.core.heartbeat(SILENCE)
    assert c.core.take_frames() == []
    assert closing().core.heartbeat(SILENCE)


def test_the_bucket_knows_how_long_it_has_been_idle() -> None:
    clock = Clock()
    bucket = TokenBucket(1.0, 1.0, clock)
    clock.now += 2.5
    assert bucket.idle() == 2.5
    bucket.take()
    assert bucket.idle() == 0.0
