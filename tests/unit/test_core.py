"""The connection core without I/O: every state transition of its table and every
kind of bad frame, asserted on what it outputs (frames, calls, close requests,
metric counts) and on its state."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from pairchat.api.links import AckMessage, SendMessage
from pairchat.api.v1 import logic_pb2 as lpb
from pairchat.api.v1 import push_pb2 as ppb
from pairchat.broker.codec import Codec, JsonCodec
from pairchat.broker.core import ConnectionCore, LogicCall, TokenBucket
from pairchat.broker.hub import ack_call, send_msg_call
from pairchat.broker.state import TRANSITIONS, Event, State
from pairchat.protocol import BadFrame, Request

CONN = 11
ME, OTHER = 7, 8
MAX_FRAME = 200
ADDRESS = "203.0.113.9"
MAX_CONTENT = 20
RATE, BURST = 10.0, 3.0
SIGNAL = b'{"cmd":"PUSH_SIGNAL","signalType":"Typing"}'


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Client:
    """A core with its clock and the answers it counted."""

    core: ConnectionCore
    clock: Clock
    counted: list[tuple[str, int]] = field(default_factory=list)
    kept: lpb.Call | None = None  # a call whose reply a test gives later

    def send(self, cmd: str, **fields: Any) -> None:
        self.core.receive_text(json.dumps({"cmd": cmd, **fields}))

    def frames(self, room: int = 1 << 30) -> list[dict[str, Any]]:
        """What the glue writes: the frames, then the paced ones `room` lets through."""
        out = self.core.take_frames()
        if self.core.paced:
            out += self.core.take_paced(room)
        return [json.loads(f) for f in out]

    def call(self) -> lpb.Call:
        """The one call the core made, as an Exchange call (the two calls of
        every message come out as tuples: see `test_the_calls_of_every_message`)."""
        calls = self.core.take_calls()
        assert len(calls) == 1, calls
        return exchange_call(calls[0])

    def bind_call(self) -> lpb.Call:
        """The CRT_ACCOUNT or RECONNECT call that `binding()` made."""
        assert self.kept is not None
        return self.kept

    def no_output(self) -> None:
        assert (self.core.frames, self.core.calls, self.core.close_request) == ([], [], None)


def exchange_call(call: LogicCall) -> lpb.Call:
    if isinstance(call, SendMessage):
        return send_msg_call(call)
    if isinstance(call, AckMessage):
        return ack_call(call)
    return call


class SilentCodec:
    """A dialect that reads JSON requests and never writes a frame."""

    acks_on_write = False
    ping_interval = 0.0

    def __init__(self) -> None:
        self.json = JsonCodec(MAX_CONTENT)

    def decode(self, text: str) -> Request | BadFrame:
        return self.json.decode(text)

    def reply(self, cmd: str, request_id: str | None, reply: lpb.Reply | None) -> None:
        return None

    def stored(self, request_id: str | None, session_id: int, msg_id: int) -> None:
        return None

    def error(
        self,
        cmd: str,
        request_id: str | None,
        code: int,
        msg: str,
        reply: lpb.Reply | None = None,
    ) -> None:
        return None

    def push(self, frame: bytes) -> None:
        return None

    def ping(self, account_id: int) -> None:
        return None


def client(
    next_call_id: Callable[[], int] | None = None,
    burst: float = BURST,
    max_frame: int = MAX_FRAME,
    codec: Codec | None = None,
) -> Client:
    clock = Clock()
    counted: list[tuple[str, int]] = []
    core = ConnectionCore(
        CONN,
        codec or JsonCodec(MAX_CONTENT),
        TokenBucket(RATE, burst, clock),
        max_frame,
        next_call_id or itertools.count(1).__next__,
        lambda cmd, code: counted.append((cmd, int(code))),
        ADDRESS,
    )
    return Client(core, clock, counted)


def ok(call: lpb.Call, **body: Any) -> lpb.Reply:
    return lpb.Reply(call_id=call.call_id, **body)


def refused(call: lpb.Call, code: int = 4, msg: str = "no") -> lpb.Reply:
    return lpb.Reply(call_id=call.call_id, code=code, msg=msg)


def bound(call: lpb.Call, account_id: int = ME) -> lpb.Reply:
    return ok(call, bound=lpb.AccountBound(account_id=account_id, nick_name="al", token="t"))


def push(account_id: int = ME, frame: bytes = SIGNAL) -> ppb.PushItem:
    return ppb.PushItem(account_id=account_id, conn_id=CONN, frame=frame)


def replaced(account_id: int = ME) -> ppb.PushItem:
    return ppb.PushItem(account_id=account_id, conn_id=CONN, kind=ppb.PUSH_KIND_CLOSE)


def relax(c: Client) -> None:
    """Refill the rate allowance."""
    c.clock.now += BURST / RATE


# --- getting to each state ---
def unbound() -> Client:
    return client(burst=100.0)


def binding() -> Client:
    c = unbound()
    c.send("CRT_ACCOUNT", nickName="al")
    c.kept = c.call()
    assert c.core.state is State.BINDING
    return c


def bound_client() -> Client:
    c = binding()
    c.core.receive_reply(bound(c.bind_call()))
    c.frames()
    c.counted.clear()
    assert (c.core.state, c.core.account_id) == (State.BOUND, ME)
    return c


def rebinding() -> Client:
    c = bound_client()
    c.send("RECONNECT", accountId=ME, token="t")
    c.kept = c.call()
    assert c.core.state is State.BINDING
    return c


def closing() -> Client:
    c = bound_client()
    c.core.close(1001, "server shutting down")
    c.core.take_close()
    return c


def closed() -> Client:
    c = bound_client()
    c.core.socket_closed()
    c.core.take_calls()
    return c


# --- every transition of the table ---
@dataclass(frozen=True)
class Transition:
    """From `setup`'s state, `act` moves by `event` to `after`, leaving the
    connection with `account` and asking for `close`."""

    before: State
    event: Event
    after: State
    setup: Callable[[], Client]
    act: Callable[[Client], None]
    account: int = 0
    close: tuple[int, str] | None = None

    def __str__(self) -> str:
        return f"{self.before.name}-{self.event.name}"


def _logout_pending(then: Callable[[Client], None]) -> Callable[[], Client]:
    """A bound client with a LOGOUT in flight (its call kept), then `then`."""

    def setup() -> Client:
        c = bound_client()
        c.send("LOGOUT", accountId=ME)
        c.kept = c.call()
        then(c)
        return c

    return setup


def _logout_answered(c: Client) -> None:
    assert c.kept is not None
    c.core.receive_reply(ok(c.kept))


def _second_logout(c: Client) -> None:
    c.send("LOGOUT", accountId=ME)
    c.core.receive_reply(ok(c.call()))  # answered before the first one
    assert c.core.state is State.UNBOUND


def _reconnect(c: Client) -> None:
    c.send("RECONNECT", accountId=ME, token="t")
    c.call()


def _close(c: Client) -> None:
    c.core.close(1001, "bye")


def _abort(c: Client) -> None:
    c.core.abort()


def _socket_closed(c: Client) -> None:
    c.core.socket_closed()


def _replaced(c: Client) -> None:
    assert c.core.push(replaced())


def _bind_answered(c: Client) -> None:
    c.core.receive_reply(bound(c.bind_call()))


def _bind_refused(c: Client) -> None:
    c.core.receive_reply(refused(c.bind_call()))


U, BI, B, CG, CD = State.UNBOUND, State.BINDING, State.BOUND, State.CLOSING, State.CLOSED
BYE = (1001, "bye")
ELSEWHERE = (4000, "account connected elsewhere")
TRANSITIONS_DRIVEN = [
    Transition(U, Event.BIND, BI, unbound, lambda c: c.send("CRT_ACCOUNT", nickName="al")),
    Transition(U, Event.LOGGED_OUT, U, _logout_pending(_second_logout), _logout_answered),
    Transition(U, Event.CLOSE, CG, unbound, _close, close=BYE),
    Transition(U, Event.ABORT, CG, unbound, _abort),
    Transition(U, Event.SOCKET_CLOSED, CD, unbound, _socket_closed),
    Transition(BI, Event.BIND_OK, B, binding, _bind_answered, ME),
    Transition(BI, Event.BIND_REFUSED, U, binding, _bind_refused),
    Transition(BI, Event.REBIND_REFUSED, B, rebinding, _bind_refused, ME),
    Transition(BI, Event.LOGGED_OUT, BI, _logout_pending(_reconnect), _logout_answered),
    Transition(BI, Event.REPLACED, CG, rebinding, _replaced, close=ELSEWHERE),
    Transition(BI, Event.CLOSE, CG, rebinding, _close, ME, BYE),
    Transition(BI, Event.ABORT, CG, rebinding, _abort, ME),
    Transition(BI, Event.SOCKET_CLOSED, CD, rebinding, _socket_closed, ME),
    Transition(B, Event.BIND, BI, bound_client, _reconnect, ME),
    Transition(B, Event.LOGGED_OUT, U, _logout_pending(lambda c: None), _logout_answered),
    Transition(B, Event.REPLACED, CG, bound_client, _replaced, close=ELSEWHERE),
    Transition(B, Event.CLOSE, CG, bound_client, _close, ME, BYE),
    Transition(B, Event.ABORT, CG, bound_client, _abort, ME),
    Transition(B, Event.SOCKET_CLOSED, CD, bound_client, _socket_closed, ME),
    Transition(CG, Event.LOGGED_OUT, CG, _logout_pending(_close), _logout_answered, close=BYE),
    Transition(CG, Event.ABORT, CG, closing, _abort, ME),
    Transition(CG, Event.SOCKET_CLOSED, CD, closing, _socket_closed, ME),
    Transition(CD, Event.LOGGED_OUT, CD, _logout_pending(_socket_closed), _logout_answered),
]


def test_every_transition_of_the_table_is_driven() -> None:
    table = {(s, e) for s, events in TRANSITIONS.items() for e in events}
    driven = {(t.before, t.event) for t in TRANSITIONS_DRIVEN}
    assert driven == table
    for t in TRANSITIONS_DRIVEN:
        assert TRANSITIONS[t.before][t.event] is t.after


@pytest.mark.parametrize("t", TRANSITIONS_DRIVEN, ids=str)
def test_transition(t: Transition) -> None:
    c = t.setup()
    assert c.core.state is t.before
    t.act(c)
    assert (c.core.state, c.core.account_id, c.core.close_request) == (t.after, t.account, t.close)


def test_an_impossible_transition_is_a_bug() -> None:
    c = closed()
    with pytest.raises(KeyError):
        c.core.socket_closed()


# --- PING and binding ---
def test_ping_is_answered_in_any_open_state() -> None:
    for c in (unbound(), binding(), bound_client()):
        c.send("PING", requestId="p")
        assert c.frames() == [{"cmd": "PING", "requestId": "p", "code": 0}]
        assert c.counted[-1] == ("PING", 0)
        assert c.core.calls == []


def test_crt_account_binds_the_connection() -> None:
    c = unbound()
    c.send("CRT_ACCOUNT", nickName="  al ", requestId="r")
    call = c.call()
    assert call == lpb.Call(
        call_id=1,
        conn_id=CONN,
        request_id="r",
        address=ADDRESS,
        create_account=lpb.CreateAccount(nick_name="al"),
    )
    c.core.receive_reply(bound(call, ME))
    assert c.frames() == [
        {"cmd": "CRT_ACCOUNT", "requestId": "r", "code": 0, "nickName": "al", "accountId": ME}
        | {"token": "t"}
    ]
    assert (c.core.state, c.core.account_id, c.counted) == (
        State.BOUND,
        ME,
        [("CRT_ACCOUNT", 0)],
    )


def test_reconnect_binds_and_carries_its_account() -> None:
    c = unbound()
    c.send("RECONNECT", accountId=ME, token="t")
    assert c.call() == lpb.Call(
        call_id=1,
        conn_id=CONN,
        address=ADDRESS,
        reconnect=lpb.Reconnect(account_id=ME, token="t"),
    )


def test_only_the_binds_carry_the_address() -> None:
    """Logic counts binds per address (its rate limits); other calls need none."""
    c = bound_client()
    c.send("MATCH", accountId=ME)
    c.send("TYPING", sessionId=3)
    calls = [exchange_call(call) for call in c.core.take_calls()]
    assert [call.address for call in calls] == ["", ""]


def test_reconnect_of_the_same_account_keeps_serving_it_while_binding() -> None:
    c = rebinding()
    c.send("TYPING", sessionId=3)
    call = c.call()
    assert (call.account_id, call.typing.session_id) == (ME, 3)


@pytest.mark.parametrize("cmd", ["CRT_ACCOUNT", "RECONNECT"])
def test_a_second_bind_while_binding_is_code_1(cmd: str) -> None:
    c = binding()
    c.bind_call()
    c.send(cmd, nickName="x", accountId=ME, token="t", requestId="r2")
    [frame] = c.frames()
    assert (frame["cmd"], frame["requestId"], frame["code"]) == (cmd, "r2", 1)
    assert c.core.calls == []
    assert c.core.state is State.BINDING


@pytest.mark.parametrize(
    "cmd, fields",
    [
        ("CRT_ACCOUNT", {"nickName": "bo"}),
        ("RECONNECT", {"accountId": OTHER, "token": "t"}),
    ],
)
def test_binding_another_account_is_code_6(cmd: str, fields: dict[str, Any]) -> None:
    c = bound_client()
    c.send(cmd, **fields)
    [frame] = c.frames()
    assert (frame["cmd"], frame["code"]) == (cmd, 6)
    assert (c.core.calls, c.core.state, c.core.account_id) == ([], State.BOUND, ME)


def test_a_refused_bind_is_answered_with_logics_code() -> None:
    c = binding()
    c.core.receive_reply(refused(c.bind_call(), 5, "wrong token"))
    assert c.frames() == [{"cmd": "CRT_ACCOUNT", "code": 5, "msg": "wrong token"}]
    assert c.counted == [("CRT_ACCOUNT", 5)]


def test_a_refused_rebind_keeps_the_account() -> None:
    c = rebinding()
    c.core.receive_reply(refused(c.bind_call()))
    assert (c.core.state, c.core.account_id) == (State.BOUND, ME)


def test_a_bind_logic_cannot_take_is_code_2_and_unbinds() -> None:
    c = binding()
    c.core.call_failed(c.bind_call())
    assert c.frames() == [{"cmd": "CRT_ACCOUNT", "code": 2, "msg": "server unavailable, retry"}]
    assert c.core.state is State.UNBOUND


# --- held pushes ---
def test_pushes_while_binding_follow_the_bind_response() -> None:
    c = binding()
    call = c.bind_call()
    assert c.core.push(push(ME))
    assert c.core.push(push(OTHER))  # the account is not known yet: any is taken
    assert c.core.frames == []
    c.core.receive_reply(bound(call))
    assert [f["cmd"] for f in c.frames()] == ["CRT_ACCOUNT", "PUSH_SIGNAL", "PUSH_SIGNAL"]


def test_pushes_held_for_a_refused_bind_follow_its_error() -> None:
    c = binding()
    call = c.bind_call()
    c.core.push(push(ME))
    assert not c.core.paced  # held while binding
    c.core.receive_reply(refused(call))
    assert [(f["cmd"], f.get("code")) for f in c.frames()] == [
        ("CRT_ACCOUNT", 4),
        ("PUSH_SIGNAL", None),
    ]


def test_a_push_is_written_as_logic_encoded_it() -> None:
    c = bound_client()
    assert c.core.push(push(ME, b'{"cmd":"PUSH_DIALOGUE","msgId":1}'))
    assert c.core.take_frames() == [b'{"cmd":"PUSH_DIALOGUE","msgId":1}']


@pytest.mark.parametrize("make", [unbound, closing, closed])
def test_pushes_are_refused_when_not_taken(make: Callable[[], Client]) -> None:
    c = make()
    assert not c.core.push(push(ME))
    assert not c.core.push(replaced(ME))
    c.no_output()


def test_a_push_for_another_account_is_refused() -> None:
    c = bound_client()
    assert not c.core.push(push(OTHER))
    assert not c.core.push(replaced(OTHER))
    c.no_output()
    assert c.core.state is State.BOUND


# --- close 4000 ---
def test_account_connected_elsewhere_closes_4000_without_going_offline() -> None:
    c = bound_client()
    c.send("PING")
    assert c.core.push(replaced(ME))
    assert c.core.take_close() == (4000, "account connected elsewhere")
    assert [f["cmd"] for f in c.frames()] == ["PING"]  # queued before the close: written
    assert c.core.account_id == 0
    c.core.socket_closed()
    assert c.core.calls == []


def test_replaced_while_binding_drops_the_held_pushes() -> None:
    c = binding()
    c.core.push(push(ME))
    c.core.push(replaced(ME))
    assert c.core.take_frames() == []


# --- closing and closed ---
def test_close_is_requested_once() -> None:
    c = bound_client()
    c.core.close(1001, "server shutting down")
    c.core.close(1012, "service restart")
    assert c.core.take_close() == (1001, "server shutting down")
    assert c.core.take_close() is None


@pytest.mark.parametrize("make", [closing, closed])
def test_nothing_is_read_or_written_once_closing(make: Callable[[], Client]) -> None:
    c = make()
    c.send("DIALOGUE", senderId=ME, sessionId=1, content="hi")
    c.send("PING")
    c.core.refuse(1, "not UTF-8")
    c.core.close(1001, "again")
    c.no_output()
    assert c.counted == []


def test_answers_after_the_close_are_counted_not_written() -> None:
    c = bound_client()
    c.send("MATCH", accountId=ME)
    call = c.call()
    c.core.close(1001, "bye")
    c.core.receive_reply(refused(call))
    assert (c.core.frames, c.counted) == ([], [("MATCH", 4)])


def test_socket_closed_tells_logic_about_a_bound_account() -> None:
    c = bound_client()
    c.send("PING")
    c.core.push(push(ME))
    c.core.socket_closed()
    assert c.call() == lpb.Call(account_id=ME, conn_id=CONN, closed=lpb.ConnectionClosed())
    assert (c.core.frames, c.core.close_request) == ([], None)


@pytest.mark.parametrize("make", [unbound, binding])
def test_socket_closed_without_an_account_tells_logic_nothing(make: Callable[[], Client]) -> None:
    c = make()
    c.core.socket_closed()
    assert c.core.calls == []


@pytest.mark.parametrize("close", [_close, _socket_closed])
def test_a_bind_answered_after_the_client_left_is_reported_closed(
    close: Callable[[Client], None],
) -> None:
    c = binding()
    call = c.bind_call()
    c.core.push(push(ME))
    close(c)
    c.core.take_close()
    c.core.receive_reply(bound(call, 9))
    assert c.call() == lpb.Call(account_id=9, conn_id=CONN, closed=lpb.ConnectionClosed())
    assert (c.core.frames, c.counted, c.core.account_id) == ([], [], 0)
    if c.core.state is State.CLOSING:
        c.core.socket_closed()
        assert c.core.calls == []  # reported once


def test_a_bind_refused_after_the_client_left_is_only_counted() -> None:
    c = binding()
    c.core.socket_closed()
    c.core.receive_reply(refused(c.bind_call()))
    c.no_output()
    assert (c.core.state, c.counted) == (State.CLOSED, [("CRT_ACCOUNT", 4)])


def test_abort_drops_what_was_queued() -> None:
    c = bound_client()
    c.send("PING")
    c.core.abort()
    c.no_output()


# --- logic lost ---
def test_logic_lost_answers_pending_calls_code_2_then_closes_1012() -> None:
    c = bound_client()
    c.send("MATCH", accountId=ME, requestId="m")
    c.send("DIALOGUE", senderId=ME, sessionId=1, content="hi", requestId="d")
    c.core.take_calls()
    c.core.logic_lost()
    unavailable = {"code": 2, "msg": "server unavailable, retry"}
    assert c.frames() == [
        {"cmd": "MATCH", "requestId": "m"} | unavailable,
        {"cmd": "DIALOGUE", "requestId": "d"} | unavailable,
    ]
    assert c.core.take_close() == (1012, "service restart")
    assert c.counted == [("MATCH", 2), ("DIALOGUE", 2)]


def test_logic_lost_while_binding_does_not_release_held_pushes() -> None:
    c = binding()
    c.core.push(push(ME))
    c.core.logic_lost()
    assert [f["cmd"] for f in c.frames()] == ["CRT_ACCOUNT"]
    assert c.core.state is State.CLOSING


def test_logic_lost_after_the_socket_closed_only_counts() -> None:
    c = bound_client()
    c.send("LEAVE", sessionId=1)
    c.core.take_calls()
    c.core.socket_closed()
    c.core.take_calls()
    c.core.logic_lost()
    c.no_output()
    assert c.counted == [("LEAVE", 2)]


# --- requests of a bound connection ---
@pytest.mark.parametrize(
    "cmd, fields, body",
    [
        (
            "DIALOGUE",
            {"senderId": ME, "sessionId": 3, "content": "hi"},
            {"send_msg": lpb.SendMsg(session_id=3, content="hi")},
        ),
        ("TYPING", {"sessionId": 3}, {"typing": lpb.Typing(session_id=3)}),
        (
            "VIEWED_ACK",
            {"sessionId": 3, "msgId": 4},
            {"viewed_ack": lpb.ViewedAck(session_id=3, msg_id=4)},
        ),
        ("MATCH", {"accountId": ME}, {"match": lpb.Match()}),
        ("LEAVE", {"sessionId": 3}, {"leave": lpb.Leave(session_id=3)}),
        ("LOGOUT", {"accountId": ME}, {"logout": lpb.Logout()}),
        (
            "HISTORY",
            {"sessionId": 3, "afterMsgId": 2, "limit": 9},
            {"history": lpb.History(session_id=3, after_msg_id=2, limit=9)},
        ),
        (
            "HISTORY",
            {"sessionId": 3},
            {"history": lpb.History(session_id=3, after_msg_id=0, limit=50)},
        ),
    ],
)
def test_requests_become_calls(cmd: str, fields: dict[str, Any], body: dict[str, Any]) -> None:
    c = bound_client()
    c.send(cmd, requestId="r", **fields)
    expected = lpb.Call(call_id=2, account_id=ME, conn_id=CONN, request_id="r", **body)
    assert c.call() == expected
    assert c.core.frames == []


@pytest.mark.parametrize(
    "cmd, fields, ack",
    [
        ("PUSH_DIALOGUE", {"sessionId": 3, "msgId": 4}, lpb.Ack(session_id=3, msg_id=4)),
        (
            "PUSH_SIGNAL",
            {"sessionId": 3, "signalType": "NewSession"},
            lpb.Ack(session_id=3, signal_type="NewSession"),
        ),
    ],
)
def test_acks_go_without_a_call_id(cmd: str, fields: dict[str, Any], ack: lpb.Ack) -> None:
    c = bound_client()
    c.send(cmd, code=0, requestId="a", **fields)
    assert c.call() == lpb.Call(account_id=ME, conn_id=CONN, request_id="a", ack=ack)
    c.send(cmd, **fields)
    assert c.call() == lpb.Call(account_id=ME, conn_id=CONN, ack=ack)
    assert c.counted == []  # counted when answered, and an ack is answered only if it fails


@pytest.mark.parametrize(
    "cmd, fields",
    [
        ("PUSH_DIALOGUE", {"sessionId": 3, "msgId": 4}),
        ("PUSH_SIGNAL", {"sessionId": 3, "signalType": "Typing"}),
    ],
)
def test_an_ack_logic_cannot_take_is_code_2(cmd: str, fields: dict[str, Any]) -> None:
    c = bound_client()
    c.send(cmd, requestId="a", **fields)
    c.core.call_failed(c.call())
    assert c.frames() == [
        {"cmd": cmd, "requestId": "a", "code": 2, "msg": "server unavailable, retry"}
    ]


def test_a_failed_ack_is_answered_from_the_reply_itself() -> None:
    c = bound_client()
    c.core.receive_reply(
        lpb.Reply(code=7, msg="ended", conn_id=CONN, cmd="PUSH_DIALOGUE", request_id="a")
    )
    c.core.receive_reply(lpb.Reply(code=6, msg="not yours", conn_id=CONN, cmd="PUSH_SIGNAL"))
    assert c.frames() == [
        {"cmd": "PUSH_DIALOGUE", "requestId": "a", "code": 7, "msg": "ended"},
        {"cmd": "PUSH_SIGNAL", "code": 6, "msg": "not yours"},
    ]
    assert c.counted == [("PUSH_DIALOGUE", 7), ("PUSH_SIGNAL", 6)]


def test_a_call_logic_cannot_take_is_code_2() -> None:
    c = bound_client()
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="hi", requestId="d")
    call = c.call()
    c.core.call_failed(call)
    assert c.frames() == [
        {"cmd": "DIALOGUE", "requestId": "d", "code": 2, "msg": "server unavailable, retry"}
    ]
    c.core.receive_reply(ok(call, stored=lpb.MsgStored(session_id=3, msg_id=1)))
    assert c.core.frames == []  # no longer expected


def test_a_failure_of_a_call_no_longer_awaited_is_ignored() -> None:
    c = bound_client()
    c.send("LEAVE", sessionId=3)
    call = c.call()
    c.core.receive_reply(ok(call))
    c.frames()
    c.core.call_failed(call)
    c.no_output()


def test_a_closed_report_logic_cannot_take_needs_no_answer() -> None:
    c = bound_client()
    c.core.socket_closed()
    c.core.call_failed(c.call())
    c.no_output()


def test_replies_are_answered_with_their_requests_cmd_and_request_id() -> None:
    c = bound_client()
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="hi", requestId="d")
    c.send("LEAVE", sessionId=3)
    dialogue, leave = map(exchange_call, c.core.take_calls())
    c.core.receive_reply(ok(leave))
    c.core.receive_reply(ok(dialogue, stored=lpb.MsgStored(session_id=3, msg_id=5)))
    assert c.frames() == [
        {"cmd": "LEAVE", "code": 0},
        {"cmd": "DIALOGUE", "requestId": "d", "code": 0, "sessionId": 3, "msgId": 5},
    ]
    assert c.counted == [("LEAVE", 0), ("DIALOGUE", 0)]


def test_a_reply_nobody_waits_for_is_dropped() -> None:
    c = bound_client()
    c.core.receive_reply(lpb.Reply(call_id=99))
    c.no_output()


def test_logout_unbinds() -> None:
    c = bound_client()
    c.send("LOGOUT", accountId=ME)
    c.core.receive_reply(ok(c.call()))
    assert c.frames() == [{"cmd": "LOGOUT", "code": 0}]
    assert (c.core.state, c.core.account_id) == (State.UNBOUND, 0)
    c.send("MATCH", accountId=ME)
    assert c.frames()[0]["code"] == 5
    c.core.socket_closed()
    assert c.core.calls == []


def test_call_ids_are_unique_across_cores_that_share_a_counter() -> None:
    ids = itertools.count(1).__next__
    a, b = client(ids), client(ids)
    a.send("CRT_ACCOUNT", nickName="a")
    b.send("CRT_ACCOUNT", nickName="b")
    a.core.receive_reply(bound(b.call()))  # not a's call: nothing happens
    assert a.core.state is State.BINDING
    assert a.call().call_id == 1


# --- bad frames ---
def bad(c: Client, text: str) -> dict[str, Any]:
    c.core.receive_text(text)
    [frame] = c.frames()
    assert c.core.calls == []
    return frame


@pytest.mark.parametrize(
    "text, msg",
    [
        ("not json", "frame is not valid JSON"),
        ("", "frame is not valid JSON"),
        ("[1]", "frame is not a JSON object"),
        ('"PING"', "frame is not a JSON object"),
        ("null", "frame is not a JSON object"),
        ('{"requestId": "r"}', "cmd is missing or not a string"),
        ('{"cmd": 3, "requestId": "r"}', "cmd is missing or not a string"),
    ],
)
def test_frames_that_are_not_requests_are_error_code_1(text: str, msg: str) -> None:
    c = bound_client()
    frame = bad(c, text)
    assert (frame["cmd"], frame["code"], frame["msg"]) == ("ERROR", 1, msg)
    assert c.counted == [("ERROR", 1)]


def test_a_frame_nested_too_deeply_is_error_code_1_with_its_request_id() -> None:
    c = client(max_frame=100_000)
    frame = bad(c, '{"requestId":"r","cmd":' + "[" * 20_000 + "]" * 20_000 + "}")
    assert frame == {
        "cmd": "ERROR",
        "requestId": "r",
        "code": 1,
        "msg": "frame is nested too deeply",
    }


@pytest.mark.parametrize(
    "fields, where",
    [
        ({"cmd": "DIALOGUE", "senderId": ME, "content": "hi"}, "sessionId"),
        ({"cmd": "DIALOGUE", "senderId": ME, "sessionId": "3", "content": "x"}, "sessionId"),
        ({"cmd": "DIALOGUE", "senderId": ME, "sessionId": 0, "content": "x"}, "sessionId"),
        ({"cmd": "HISTORY", "sessionId": 3, "limit": 201}, "limit"),
        ({"cmd": "RECONNECT", "accountId": ME}, "token"),
        ({"cmd": "PUSH_DIALOGUE", "sessionId": 3, "msgId": 4, "code": 1}, "code"),
        ({"cmd": "PING", "requestId": "r" * 65}, "requestId"),
    ],
)
def test_missing_or_wrongly_typed_fields_are_code_1(fields: dict[str, Any], where: str) -> None:
    c = bound_client()
    frame = bad(c, json.dumps(fields))
    assert (frame["cmd"], frame["code"]) == (fields["cmd"], 1)
    assert where in frame["msg"]
    assert c.counted == [(fields["cmd"], 1)]


@pytest.mark.parametrize(
    "fields, msg",
    [
        ({"cmd": "DIALOGUE", "senderId": ME, "sessionId": 3, "content": "  "}, "content is empty"),
        ({"cmd": "CRT_ACCOUNT", "nickName": " "}, "nickName must be 1-32 characters"),
        ({"cmd": "CRT_ACCOUNT", "nickName": "a\u200bb"}, "nickName has control characters"),
        ({"cmd": "PUSH_SIGNAL", "sessionId": 3, "signalType": "Nope"}, "unknown signalType"),
    ],
)
def test_invalid_values_are_code_1(fields: dict[str, Any], msg: str) -> None:
    c = unbound()
    frame = bad(c, json.dumps({"requestId": "r", **fields}))
    assert frame == {"cmd": fields["cmd"], "requestId": "r", "code": 1, "msg": msg}


def test_an_unknown_cmd_is_code_3_counted_under_one_label() -> None:
    c = unbound()
    for cmd in ("NOPE", "ALSO_NOPE"):
        frame = bad(c, json.dumps({"cmd": cmd, "requestId": "r"}))
        assert frame == {"cmd": cmd, "requestId": "r", "code": 3, "msg": "unknown cmd"}
    assert c.counted == [("UNKNOWN", 3), ("UNKNOWN", 3)]


def test_content_over_the_limit_is_code_9() -> None:
    c = bound_client()
    content = "x" * (MAX_CONTENT + 1)
    frame = bad(
        c, json.dumps({"cmd": "DIALOGUE", "senderId": ME, "sessionId": 3, "content": content})
    )
    assert (frame["cmd"], frame["code"]) == ("DIALOGUE", 9)


def _frame_of(size: int, char: str = "x") -> str:
    """A PING frame of exactly `size` characters, padded with `char`."""
    head = '{"cmd":"PING","pad":"'
    return head + char * (size - len(head) - 2) + '"}'


def test_a_frame_over_the_limit_in_characters_is_code_9() -> None:
    c = unbound()
    assert bad(c, _frame_of(MAX_FRAME))["code"] == 0
    frame = bad(c, _frame_of(MAX_FRAME + 1))
    assert frame == {"cmd": "ERROR", "code": 9, "msg": "frame too large"}
    assert c.counted == [("PING", 0), ("ERROR", 9)]


def test_a_frame_over_the_limit_in_utf8_bytes_is_code_9() -> None:
    c = unbound()
    text = _frame_of(MAX_FRAME, "é")  # at the limit in characters, over it in bytes
    assert len(text) <= MAX_FRAME < len(text.encode())
    assert bad(c, text)["code"] == 9


def test_a_frame_too_large_spends_no_allowance() -> None:
    c = client()
    for _ in range(5):
        assert bad(c, _frame_of(MAX_FRAME + 1))["code"] == 9
    c.send("PING")
    assert c.frames()[0]["code"] == 0


def test_requests_over_the_rate_are_code_8_until_it_refills() -> None:
    c = client()
    for _ in range(int(BURST)):
        c.send("PING", requestId="p")
    assert [f["code"] for f in c.frames()] == [0] * int(BURST)
    c.send("CRT_ACCOUNT", nickName="al", requestId="c")
    assert c.frames() == [
        {"cmd": "CRT_ACCOUNT", "requestId": "c", "code": 8, "msg": "too many requests"}
    ]
    assert (c.core.calls, c.core.state) == ([], State.UNBOUND)
    c.clock.now += 1.5 / RATE
    c.send("PING")
    assert c.frames()[0]["code"] == 0


def test_bad_frames_spend_the_allowance_and_are_then_code_8() -> None:
    c = client()
    for _ in range(int(BURST)):
        c.core.receive_text("not json")
    assert [f["code"] for f in c.frames()] == [1] * int(BURST)
    c.core.receive_text("not json")
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="", requestId="d")
    c.send("NOPE", requestId="n")
    assert c.frames() == [
        {"cmd": "ERROR", "code": 8, "msg": "too many requests"},
        {"cmd": "DIALOGUE", "requestId": "d", "code": 8, "msg": "too many requests"},
        {"cmd": "NOPE", "requestId": "n", "code": 8, "msg": "too many requests"},
    ]
    # never a label a client chose
    assert c.counted[-3:] == [("ERROR", 8), ("DIALOGUE", 8), ("UNKNOWN", 8)]
    relax(c)
    c.send("PING")
    assert c.frames()[0]["code"] == 0


@pytest.mark.parametrize(
    "cmd, fields",
    [
        ("DIALOGUE", {"senderId": ME, "sessionId": 3, "content": "hi"}),
        ("MATCH", {"accountId": ME}),
        ("LEAVE", {"sessionId": 3}),
        ("LOGOUT", {"accountId": ME}),
        ("HISTORY", {"sessionId": 3}),
        ("VIEWED_ACK", {"sessionId": 3, "msgId": 1}),
        ("TYPING", {"sessionId": 3}),
        ("PUSH_DIALOGUE", {"sessionId": 3, "msgId": 1}),
        ("PUSH_SIGNAL", {"sessionId": 3, "signalType": "Typing"}),
    ],
)
@pytest.mark.parametrize("make", [unbound, binding])
def test_requests_before_an_account_is_bound_are_code_5(
    make: Callable[[], Client], cmd: str, fields: dict[str, Any]
) -> None:
    c = make()
    frame = bad(c, json.dumps({"cmd": cmd, "requestId": "r", **fields}))
    assert frame == {
        "cmd": cmd,
        "requestId": "r",
        "code": 5,
        "msg": "no account: send CRT_ACCOUNT or RECONNECT first",
    }
    assert c.counted == [(cmd, 5)]


@pytest.mark.parametrize(
    "cmd, fields",
    [
        ("DIALOGUE", {"senderId": OTHER, "sessionId": 3, "content": "hi"}),
        ("MATCH", {"accountId": OTHER}),
        ("LOGOUT", {"accountId": OTHER}),
    ],
)
def test_acting_as_another_account_is_code_6(cmd: str, fields: dict[str, Any]) -> None:
    c = bound_client()
    frame = bad(c, json.dumps({"cmd": cmd, "requestId": "r", **fields}))
    assert frame == {
        "cmd": cmd,
        "requestId": "r",
        "code": 6,
        "msg": "accountId/senderId is not the account of this connection",
    }
    assert c.core.account_id == ME


def test_refused_frames_are_error_frames_neither_limited_nor_counted() -> None:
    c = client(burst=1.0)
    c.core.refuse(1, "the frame is not valid UTF-8")
    c.core.refuse(2, "internal error")
    assert c.frames() == [
        {"cmd": "ERROR", "code": 1, "msg": "the frame is not valid UTF-8"},
        {"cmd": "ERROR", "code": 2, "msg": "internal error"},
    ]
    c.send("PING")
    assert c.frames()[0]["code"] == 0
    assert c.counted == [("PING", 0)]


# --- the token bucket ---
def test_the_bucket_starts_full_and_refills_at_its_rate_up_to_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(2.0, 3.0, clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 100
    assert sum(bucket.take() for _ in range(10)) == 3


# --- a dialect that writes nothing for some answers ---
def test_a_codec_may_send_nothing_and_the_core_still_decides() -> None:
    c = client(burst=100.0, codec=SilentCodec())
    c.send("CRT_ACCOUNT", nickName="al")
    call = c.call()
    c.core.push(push(ME))
    c.core.receive_reply(bound(call))
    c.send("NOPE")
    c.core.refuse(1, "not UTF-8")
    c.send("MATCH", accountId=ME)
    assert c.core.push(push(ME))
    assert c.call().HasField("match")
    assert (c.core.state, c.core.frames) == (State.BOUND, [])
    assert c.counted == [("CRT_ACCOUNT", 0), ("UNKNOWN", 3)]


# --- the two calls of every message, as plain tuples ---
def test_the_calls_of_every_message_are_plain_tuples() -> None:
    c = bound_client()
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="hi", requestId="d")
    c.send("DIALOGUE", senderId=ME, sessionId=4, content="yo")
    c.send("PUSH_DIALOGUE", code=0, sessionId=3, msgId=9, requestId="a")
    assert c.core.take_calls() == [
        SendMessage(2, ME, CONN, 3, "hi", "d"),
        SendMessage(3, ME, CONN, 4, "yo", None),
        AckMessage(ME, CONN, 3, 9, "a"),
    ]


def test_a_stored_answer_is_the_dialogue_response() -> None:
    c = bound_client()
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="hi", requestId="d")
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="hi")
    first, second = c.core.take_calls()
    assert isinstance(first, SendMessage) and isinstance(second, SendMessage)
    c.core.receive_stored(second.call_id, 7, "session has ended", 0, 0)
    c.core.receive_stored(first.call_id, 0, "", 3, 41)
    c.core.receive_stored(first.call_id, 0, "", 3, 41)  # answered once only
    assert c.frames() == [
        {"cmd": "DIALOGUE", "code": 7, "msg": "session has ended"},
        {"cmd": "DIALOGUE", "requestId": "d", "code": 0, "sessionId": 3, "msgId": 41},
    ]
    assert c.counted[-2:] == [("DIALOGUE", 7), ("DIALOGUE", 0)]


def test_a_stored_answer_after_a_close_is_counted_not_written() -> None:
    c = bound_client()
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="hi")
    (call,) = c.core.take_calls()
    c.core.close(1001, "bye")
    c.core.take_close()
    assert isinstance(call, SendMessage)
    c.core.receive_stored(call.call_id, 0, "", 3, 1)
    c.no_output()
    assert c.counted[-1] == ("DIALOGUE", 0)


def test_a_refused_message_ack_is_answered_as_push_dialogue() -> None:
    c = bound_client()
    c.core.ack_refused("a", 6, "not a member of this session")
    c.core.ack_refused(None, 7, "session has ended")
    assert c.frames() == [
        {
            "cmd": "PUSH_DIALOGUE",
            "requestId": "a",
            "code": 6,
            "msg": "not a member of this session",
        },
        {"cmd": "PUSH_DIALOGUE", "code": 7, "msg": "session has ended"},
    ]


def test_message_calls_logic_cannot_take_are_code_2() -> None:
    c = bound_client()
    c.send("DIALOGUE", senderId=ME, sessionId=3, content="hi", requestId="d")
    c.send("PUSH_DIALOGUE", sessionId=3, msgId=9, requestId="a")
    for call in c.core.take_calls():
        c.core.call_failed(call)
    unavailable = {"code": 2, "msg": "server unavailable, retry"}
    assert c.frames() == [
        {"cmd": "DIALOGUE", "requestId": "d", **unavailable},
        {"cmd": "PUSH_DIALOGUE", "requestId": "a", **unavailable},
    ]
