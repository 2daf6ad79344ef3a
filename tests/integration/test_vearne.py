"""vearne/chat's dialect on `/vearne/ws` (VEARNE-DIALECT.md, docs/vearne-compat.md),
spoken frame by frame as chat-ui speaks it, on one broker, two, and the scaled
mode: accounts, matching, dialogue with msgId and requestId, viewed marks, the
server's pings, partner exit, reconnect, spoofed ids and bad frames, and
conversations with users of `/ws`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from .client import ChatClient, Frame, is_dialogue, is_signal
from .harness import POLL_INTERVAL, TIMEOUT, Flags, System, fetch, metric_value, system_fixture
from .users import Users

GRACE = TIMEOUT / 5
MATCH_WAIT = TIMEOUT / 20
HEARTBEAT = TIMEOUT / 10  # PING_REQ every HEARTBEAT / 2; silent for 1.5 x HEARTBEAT: dropped
CHATUI_ORIGIN = "http://chatui.example:8081"

system = system_fixture(
    lambda brokers: Flags(
        brokers=brokers,
        offline_grace=GRACE,
        match_wait=MATCH_WAIT,
        heartbeat=HEARTBEAT,
        max_content=500,
        allowed_origins=CHATUI_ORIGIN,
    )
)


def compact(frame: dict[str, Any]) -> str:
    """A frame as vearne/chat writes it: Go's compact JSON, keys in order."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class VearneClient:
    """One chat-ui-like connection: it answers every PING_REQ that names its
    account with PING_RESP (unless told to stay silent) and keeps every other
    frame, raw and parsed, for `expect` to take in arrival order."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.account_id = 0
        self.token = ""
        self.answers_pings = True
        self.pings = 0  # PING_REQ frames naming this client's account
        self.raw: dict[int, str] = {}  # id(frame) -> its text
        self._unclaimed: list[Frame] = []
        self._arrival = asyncio.Event()
        self.closed = False
        self._reader = asyncio.create_task(self._read(), name=f"reader-{name}")

    @classmethod
    async def connect(cls, url: str, name: str, origin: str | None = None) -> VearneClient:
        ws = await connect(
            url,
            proxy=None,
            compression=None,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
            origin=Origin(origin) if origin else None,
        )
        return cls(ws, name)

    def __repr__(self) -> str:
        return f"VearneClient({self.name!r}, account={self.account_id})"

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                assert isinstance(text, str), f"{self}: a binary frame"
                frame = json.loads(text)
                if frame.get("cmd") == "PING_REQ" and frame.get("accountId") == self.account_id:
                    self.pings += 1
                    if self.answers_pings:
                        await self.send("PING_RESP", accountId=self.account_id)
                self.raw[id(frame)] = text
                self._unclaimed.append(frame)
                self._arrival.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._arrival.set()

    async def send(self, cmd: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"cmd": cmd, **fields}))

    async def expect(
        self, cmd: str, match: Callable[[Frame], bool] = lambda f: True, within: float = TIMEOUT
    ) -> Frame:
        """Take the first frame not yet taken with `cmd` that `match`es, waiting for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for i, frame in enumerate(self._unclaimed):
                if frame.get("cmd") == cmd and match(frame):
                    del self._unclaimed[i]
                    return frame
            remaining = deadline - loop.time()
            if self.closed or remaining <= 0:
                raise AssertionError(f"{self}: no {cmd} within {within}s; got {self._unclaimed}")
            self._arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrival.wait(), remaining)

    async def expect_all(self, cmd: str, count: int) -> list[Frame]:
        """The next `count` frames with `cmd`, in arrival order."""
        return [await self.expect(cmd) for _ in range(count)]

    def left(self, cmd: str | None = None) -> list[Frame]:
        """The frames not taken yet (of one cmd), pings aside."""
        return [
            f
            for f in self._unclaimed
            if f.get("cmd") not in ("PING_REQ", "PING_RESP") and cmd in (None, f.get("cmd"))
        ]

    async def barrier(self) -> None:
        """A PING_REQ round trip: what the broker wrote before its answer has come."""
        await self.send("PING_REQ", accountId=self.account_id)
        await self.expect("PING_RESP")

    def text(self, frame: Frame) -> str:
        return self.raw[id(frame)]

    # --- what chat-ui does ---
    async def create(self, nick: str) -> Frame:
        await self.send("CRT_ACCOUNT_REQ", nickName=nick)
        created = await self.expect("CRT_ACCOUNT_RESP")
        self.account_id, self.token = created["accountId"], created["token"]
        return created

    async def reconnect(self, account_id: int, token: str) -> Frame:
        await self.send("RECONNECT_REQ", accountId=account_id, token=token)
        answer = await self.expect("RECONNECT_RESP")
        if answer["code"] == 0:
            self.account_id, self.token = account_id, token
        return answer

    async def match(self) -> Frame:
        await self.send("MATCH_REQ", accountId=self.account_id)
        return await self.expect("MATCH_RESP")

    async def say(self, session_id: int, content: str, request_id: str | None = None) -> Frame:
        request_id = request_id or str(uuid.uuid1())
        await self.send(
            "DIALOGUE_REQ",
            senderId=self.account_id,
            sessionId=session_id,
            content=content,
            requestId=request_id,
        )
        return await self.expect("DIALOGUE_RESP", lambda f: f.get("requestId") == request_id)

    async def wait_closed(self) -> None:
        await asyncio.wait_for(asyncio.shield(self._reader), TIMEOUT)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self._reader, TIMEOUT)


class Vearnes:
    """The dialect's users of one test, round-robin over the brokers. When it
    ends, each account is logged out through `/ws` (the dialect has no LOGOUT,
    and a closed account stays in its grace period, matchable by nobody but
    RECONNECT), so that no account of one test is online in the next."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.clients: list[VearneClient] = []
        self._next = 0

    def url(self, broker: int) -> str:
        return self.system.ws_url(broker).removesuffix("/ws") + "/vearne/ws"

    async def connect(self, broker: int | None = None, origin: str | None = None) -> VearneClient:
        if broker is None:
            broker, self._next = self._next, self._next + 1
        name = f"vearne{len(self.clients)}@broker{broker % self.system.broker_count}"
        client = await VearneClient.connect(self.url(broker), name, origin)
        self.clients.append(client)
        return client

    async def new(self, nick: str, broker: int | None = None) -> VearneClient:
        client = await self.connect(broker)
        created = await client.create(nick)
        assert created["code"] == 0, created
        return client

    async def close_all(self) -> None:
        accounts = {(c.account_id, c.token) for c in self.clients if c.account_id}
        for client in self.clients:
            if not client.closed:
                await client.close()
        for account_id, token in accounts:
            ws = await ChatClient.connect(self.system.ws_url(0), f"logout-{account_id}")
            try:
                if (await ws.request("RECONNECT", accountId=account_id, token=token))["code"] == 0:
                    await ws.call("LOGOUT", accountId=account_id)
            finally:
                await ws.close()


@pytest.fixture
async def vearnes(system: System) -> AsyncIterator[Vearnes]:
    pool = Vearnes(system)
    try:
        yield pool
    finally:
        await pool.close_all()


async def paired(vearnes: Vearnes) -> tuple[VearneClient, VearneClient, int]:
    """alice matched bob (the only other one online); bob was told by NewSession."""
    alice = await vearnes.new("alice")
    bob = await vearnes.new("bob")
    matched = await alice.match()
    assert matched["code"] == 0, matched
    session_id: int = matched["sessionId"]
    await bob.expect("PUSH_SIGNAL_REQ", lambda f: f["sessionId"] == session_id)
    return alice, bob, session_id


async def requests_answered(system: System, cmd: str) -> float:
    """How many `cmd` requests every broker answered (counted even when the
    dialect writes no frame for the answer)."""
    total = 0.0
    for broker in range(system.broker_count):
        _, text = await fetch(system.broker_ops(broker) + "/metrics")
        for code in range(11):
            total += (
                metric_value(text, "pairchat_requests_total", {"cmd": cmd, "code": str(code)}) or 0
            )
    return total


async def until_answered(system: System, cmd: str, count: float) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while await requests_answered(system, cmd) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{cmd}: not {count} answered"
        await asyncio.sleep(POLL_INTERVAL)


# --- accounts and matching ---
async def test_create_then_nobody_to_match(vearnes: Vearnes) -> None:
    alice = await vearnes.connect()
    created = await alice.create("alice")
    assert alice.text(created) == compact(
        {
            "cmd": "CRT_ACCOUNT_RESP",
            "code": 0,
            "nickName": "alice",
            "accountId": created["accountId"],
            "token": created["token"],
        }
    )
    assert type(created["accountId"]) is int and created["accountId"] > 0  # 0 is "system"
    assert isinstance(created["token"], str) and created["token"]
    nobody = await alice.match()
    assert alice.text(nobody) == '{"cmd":"MATCH_RESP","code":4}'


async def test_match_tells_the_partner_with_new_session(vearnes: Vearnes) -> None:
    alice = await vearnes.new("alice")
    bob = await vearnes.new("bob")
    matched = await alice.match()
    session_id = matched["sessionId"]
    assert alice.text(matched) == compact(
        {
            "cmd": "MATCH_RESP",
            "code": 0,
            "partnerId": bob.account_id,
            "partnerName": "bob",
            "sessionId": session_id,
        }
    )
    told = await bob.expect("PUSH_SIGNAL_REQ")
    assert bob.text(told) == compact(
        {
            "cmd": "PUSH_SIGNAL_REQ",
            "senderId": alice.account_id,
            "sessionId": session_id,
            "receiverId": bob.account_id,
            "signalType": "NewSession",
            "data": {"accountId": alice.account_id, "nickName": "alice"},
        }
    )


async def test_a_waiting_user_and_the_newcomer_each_learn_of_their_session_once(
    system: System, vearnes: Vearnes
) -> None:
    """As chat-ui does: MATCH_REQ right after the account is made. Whoever's
    MATCH pairs them, each learns of the session once (MATCH_RESP or
    NewSession), and neither gets a MATCH_RESP saying nobody was found."""
    before = await requests_answered(system, "MATCH")
    alice = await vearnes.new("alice")
    await alice.send("MATCH_REQ", accountId=alice.account_id)
    bob = await vearnes.new("bob")
    await bob.send("MATCH_REQ", accountId=bob.account_id)
    await until_answered(system, "MATCH", before + 2)
    sessions = []
    for client in (alice, bob):
        await client.barrier()
        announced = client.left()
        assert len(announced) == 1, announced
        assert announced[0]["cmd"] in ("MATCH_RESP", "PUSH_SIGNAL_REQ"), announced
        assert announced[0].get("code", 0) == 0, announced
        sessions.append(announced[0]["sessionId"])
    assert sessions[0] == sessions[1]


# --- dialogue and viewed marks ---
async def test_dialogue_both_ways_with_msg_id_and_request_id(vearnes: Vearnes) -> None:
    alice, bob, session_id = await paired(vearnes)
    request_id = "1b4bf1b0-eded-11f1-b8ec-a949f9628dfc"
    sent = await alice.say(session_id, "hello from alice", request_id)
    assert alice.text(sent) == compact(
        {"cmd": "DIALOGUE_RESP", "code": 0, "requestId": request_id, "msgId": 1}
    )
    pushed = await bob.expect("PUSH_DIALOGUE_REQ")
    assert bob.text(pushed) == compact(
        {
            "cmd": "PUSH_DIALOGUE_REQ",
            "msgId": 1,
            "senderId": alice.account_id,
            "sessionId": session_id,
            "content": "hello from alice",
        }
    )
    answer = await bob.say(session_id, "hi alice, bob here 👋")
    assert answer["code"] == 0 and answer["msgId"] == 2
    back = await alice.expect("PUSH_DIALOGUE_REQ")
    assert (back["msgId"], back["senderId"], back["content"]) == (
        2,
        bob.account_id,
        "hi alice, bob here 👋",
    )
    # the same requestId again stores nothing new
    again = await alice.say(session_id, "hello from alice", request_id)
    assert again["msgId"] == 1
    await bob.barrier()
    assert bob.left("PUSH_DIALOGUE_REQ") == []


async def test_viewed_ack_and_its_push(vearnes: Vearnes) -> None:
    alice, bob, session_id = await paired(vearnes)
    await alice.say(session_id, "seen?")
    msg_id = (await bob.expect("PUSH_DIALOGUE_REQ"))["msgId"]
    await bob.send("VIEWED_ACK_REQ", sessionId=session_id, accountId=bob.account_id, msgId=msg_id)
    assert bob.text(await bob.expect("VIEWED_ACK_RESP")) == '{"cmd":"VIEWED_ACK_RESP","code":0}'
    viewed = await alice.expect("PUSH_VIEWED_ACK_REQ")
    assert alice.text(viewed) == compact(
        {
            "cmd": "PUSH_VIEWED_ACK_REQ",
            "sessionId": session_id,
            "accountId": bob.account_id,
            "msgId": msg_id,
        }
    )


# --- heartbeat, exit and reconnect ---
async def test_the_server_pings_every_bound_connection(vearnes: Vearnes) -> None:
    nobody = await vearnes.connect(broker=0)
    alice = await vearnes.connect(broker=0)
    await alice.create("alice")
    ping = await alice.expect("PING_REQ", within=HEARTBEAT + TIMEOUT)
    assert alice.text(ping) == compact({"cmd": "PING_REQ", "accountId": alice.account_id})
    # answered each time, the connection lives on past the silence limit
    for _ in range(4):
        await alice.expect("PING_REQ", within=HEARTBEAT + TIMEOUT)
    assert not alice.closed
    await nobody.barrier()
    assert nobody.pings == 0 and not nobody.closed  # no account: no ping, no limit


async def test_a_client_that_stops_answering_is_dropped_and_its_partner_told(
    vearnes: Vearnes,
) -> None:
    alice, bob, session_id = await paired(vearnes)
    bob.answers_pings = False  # and sends nothing else: a hung page
    await bob.wait_closed()  # the broker closes its socket
    assert bob.ws.close_code != 1000
    exit_ = await alice.expect("PUSH_SIGNAL_REQ", within=GRACE + TIMEOUT)
    assert alice.text(exit_) == compact(
        {
            "cmd": "PUSH_SIGNAL_REQ",
            "senderId": 0,
            "sessionId": session_id,
            "receiverId": alice.account_id,
            "signalType": "PartnerExit",
            "data": {"accountId": bob.account_id},
        }
    )


async def test_partner_exit_when_a_socket_closes_and_stays_closed(vearnes: Vearnes) -> None:
    alice, bob, session_id = await paired(vearnes)
    await bob.close()
    exit_ = await alice.expect("PUSH_SIGNAL_REQ", within=GRACE + TIMEOUT)
    assert (exit_["signalType"], exit_["senderId"], exit_["sessionId"]) == (
        "PartnerExit",
        0,
        session_id,
    )
    assert exit_["data"] == {"accountId": bob.account_id}
    # as in chat-ui, the session stays a tab; sending into it is refused
    refused = await alice.say(session_id, "still there?")
    assert (refused["code"], refused["msgId"]) == (7, 0)


async def test_reconnect_with_the_token_resumes_and_replays_only_what_was_never_written(
    vearnes: Vearnes,
) -> None:
    alice, bob, session_id = await paired(vearnes)
    await alice.say(session_id, "written before the drop")
    assert (await bob.expect("PUSH_DIALOGUE_REQ"))["msgId"] == 1
    # Delivered when written: its acknowledgement went to logic then, ahead of
    # bob's next request, and is stored with that request's message at the latest.
    assert (await bob.say(session_id, "got it"))["msgId"] == 2
    await bob.close()
    await alice.say(session_id, "sent while bob was away")

    back = await vearnes.connect()
    answer = await back.reconnect(bob.account_id, bob.token)
    assert back.text(answer) == '{"cmd":"RECONNECT_RESP","code":0}'
    replayed = await back.expect("PUSH_DIALOGUE_REQ")
    assert (replayed["msgId"], replayed["content"]) == (3, "sent while bob was away")
    await alice.say(session_id, "welcome back")
    assert (await back.expect("PUSH_DIALOGUE_REQ"))["msgId"] == 4
    assert back.left("PUSH_DIALOGUE_REQ") == []
    # the session goes on both ways, and alice never saw bob leave
    assert (await back.say(session_id, "thanks"))["msgId"] == 5
    assert [f["msgId"] for f in (await alice.expect_all("PUSH_DIALOGUE_REQ", 2))] == [2, 5]
    await back.expect("PING_REQ", within=HEARTBEAT + TIMEOUT)
    assert alice.left("PUSH_SIGNAL_REQ") == []


async def test_a_long_backlog_is_replayed_in_pages_and_once(vearnes: Vearnes) -> None:
    """More than a page of a replay (200 messages): written as the client reads,
    and, written, never sent again."""
    alice, bob, session_id = await paired(vearnes)
    await bob.close()
    count = 250
    for i in range(count):  # all at once: the grace period is short
        await alice.send(
            "DIALOGUE_REQ",
            senderId=alice.account_id,
            sessionId=session_id,
            content=f"m{i}",
            requestId=f"backlog-{i}",
        )
    assert {f["code"] for f in await alice.expect_all("DIALOGUE_RESP", count)} == {0}

    back = await vearnes.connect()
    assert (await back.reconnect(bob.account_id, bob.token))["code"] == 0
    replayed = await back.expect_all("PUSH_DIALOGUE_REQ", count)
    assert [(f["msgId"], f["content"]) for f in replayed] == [
        (i + 1, f"m{i}") for i in range(count)
    ]
    # bob's own message follows the acknowledgements of what was written
    assert (await back.say(session_id, "all read"))["msgId"] == count + 1
    await back.close()
    again = await vearnes.connect()
    assert (await again.reconnect(bob.account_id, bob.token))["code"] == 0
    await alice.say(session_id, "after")
    first = await again.expect("PUSH_DIALOGUE_REQ")
    assert (first["msgId"], first["content"]) == (count + 2, "after")


async def test_reconnect_with_a_wrong_token_binds_nothing(vearnes: Vearnes) -> None:
    alice = await vearnes.new("alice")
    other = await vearnes.connect()
    wrong = await other.reconnect(alice.account_id, alice.token[::-1])
    assert other.text(wrong) == '{"cmd":"RECONNECT_RESP","code":5}'
    await other.send("MATCH_REQ", accountId=alice.account_id)
    assert other.text(await other.expect("MATCH_RESP")) == '{"cmd":"MATCH_RESP","code":5}'
    assert not alice.closed  # the account's own connection is untouched
    await alice.barrier()


# --- identity from the connection ---
async def test_ids_in_frames_are_never_identity(vearnes: Vearnes) -> None:
    alice, bob, session_id = await paired(vearnes)
    # a socket without an account speaks for alice: refused
    anonymous = await vearnes.connect()
    await anonymous.send(
        "DIALOGUE_REQ", senderId=alice.account_id, sessionId=session_id, content="I am alice"
    )
    assert anonymous.text(await anonymous.expect("DIALOGUE_RESP")) == (
        '{"cmd":"DIALOGUE_RESP","code":5,"requestId":"","msgId":0}'
    )
    await anonymous.send("PING_REQ", accountId=alice.account_id)
    assert anonymous.text(await anonymous.expect("PING_RESP")) == (
        '{"cmd":"PING_RESP","accountId":0}'
    )
    # carol, bound, speaks for alice and bob: refused with code 6
    carol = await vearnes.new("carol")
    await carol.send(
        "DIALOGUE_REQ", senderId=alice.account_id, sessionId=session_id, content="x", requestId="r"
    )
    assert carol.text(await carol.expect("DIALOGUE_RESP")) == (
        '{"cmd":"DIALOGUE_RESP","code":6,"requestId":"r","msgId":0}'
    )
    await carol.send("MATCH_REQ", accountId=alice.account_id)
    assert carol.text(await carol.expect("MATCH_RESP")) == '{"cmd":"MATCH_RESP","code":6}'
    await carol.send("VIEWED_ACK_REQ", sessionId=session_id, accountId=bob.account_id, msgId=1)
    assert carol.text(await carol.expect("VIEWED_ACK_RESP")) == (
        '{"cmd":"VIEWED_ACK_RESP","code":6}'
    )
    # with her own id, into a session that is not hers: not a member
    own = await carol.say(session_id, "let me in")
    assert own["code"] == 6
    # nothing reached alice or bob, and their session goes on
    for client in (alice, bob):
        await client.barrier()
        assert client.left() == []
    assert (await alice.say(session_id, "still ours"))["msgId"] == 1


# --- bad frames ---
async def test_bad_frames_get_what_vearne_chat_gives_them(vearnes: Vearnes) -> None:
    alice = await vearnes.new("alice")
    silent = [
        "not json",
        "[1, 2]",
        '{"nickName":"alice"}',
        '{"cmd":7}',
        '{"cmd":"NOPE"}',
        '{"cmd":"PUSH_DIALOGUE_RESP","code":0}',
        '{"cmd":"LOGOUT","accountId":1}',
    ]
    for text in silent:
        await alice.ws.send(text)
    await alice.ws.send(b"\x00binary")
    await alice.barrier()
    assert alice.left() == [], "no answer to frames without a known command"
    # a known command with a bad field is answered with its code
    await alice.send("MATCH_REQ", accountId="1")
    assert alice.text(await alice.expect("MATCH_RESP")) == '{"cmd":"MATCH_RESP","code":1}'
    long = await alice.say(1, "x" * 501)
    assert (long["code"], long["msgId"]) == (9, 0)
    # and the connection serves on
    assert (await alice.match())["code"] == 4


async def test_a_blank_nickname_gets_the_placeholder(vearnes: Vearnes) -> None:
    """chat-ui sends "" after a reload of its chat page."""
    anon = await vearnes.connect()
    created = await anon.create("")
    assert (created["code"], created["nickName"]) == (0, "anonymous")


# --- the Origin rule of /ws ---
async def test_the_origin_rule_of_ws_applies(system: System, vearnes: Vearnes) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await vearnes.connect(origin="https://evil.example")
    assert refused.value.response.status_code == 403
    listed = await vearnes.connect(origin=CHATUI_ORIGIN)
    assert (await listed.create("listed"))["code"] == 0


# --- with users of /ws ---
async def test_a_conversation_with_a_user_of_ws(vearnes: Vearnes, users: Users) -> None:
    vera = await vearnes.new("vera")
    will = await users.new("will")
    matched = await will.match()
    assert matched["partnerId"] == vera.account_id
    session_id = matched["sessionId"]
    told = await vera.expect("PUSH_SIGNAL_REQ")
    assert (told["signalType"], told["data"]) == (
        "NewSession",
        {"accountId": will.account_id, "nickName": "will"},
    )

    assert await will.send(session_id, "hi vera") == 1
    pushed = await vera.expect("PUSH_DIALOGUE_REQ")
    assert (pushed["msgId"], pushed["senderId"], pushed["content"]) == (
        1,
        will.account_id,
        "hi vera",
    )
    await vera.send("VIEWED_ACK_REQ", sessionId=session_id, accountId=vera.account_id, msgId=1)
    await vera.expect("VIEWED_ACK_RESP")
    viewed = await will.expect_push(is_signal("ViewedAck", session_id))
    assert viewed["data"] == {"accountId": vera.account_id, "msgId": 1}
    await will.ack(viewed)

    assert (await vera.say(session_id, "hello will"))["msgId"] == 2
    answer = await will.expect_push(is_dialogue(session_id, 2))
    assert (answer["senderId"], answer["content"]) == (vera.account_id, "hello will")
    await will.ack(answer)
    await will.call("VIEWED_ACK", sessionId=session_id, msgId=2)
    seen = await vera.expect("PUSH_VIEWED_ACK_REQ")
    assert (seen["accountId"], seen["msgId"]) == (will.account_id, 2)

    # typing has no frame in the dialect: the next frame vera gets is the message
    await will.call("TYPING", sessionId=session_id)
    assert await will.send(session_id, "bye") == 3
    assert (await vera.expect("PUSH_DIALOGUE_REQ"))["msgId"] == 3
    assert vera.left() == []

    await will.call("LEAVE", sessionId=session_id)
    exit_ = await vera.expect("PUSH_SIGNAL_REQ")
    assert (exit_["signalType"], exit_["senderId"], exit_["data"]) == (
        "PartnerExit",
        0,
        {"accountId": will.account_id},
    )


async def test_a_user_of_the_dialect_matches_a_user_of_ws(vearnes: Vearnes, users: Users) -> None:
    will = await users.new("will")
    vera = await vearnes.new("vera")
    matched = await vera.match()
    assert (matched["code"], matched["partnerId"], matched["partnerName"]) == (
        0,
        will.account_id,
        "will",
    )
    session_id = matched["sessionId"]
    told = await will.expect_push(is_signal("NewSession", session_id))
    assert told["data"]["accountId"] == vera.account_id
    await will.ack(told)
    assert (await vera.say(session_id, "hi will"))["msgId"] == 1
    assert (await will.expect_push(is_dialogue(session_id, 1)))["content"] == "hi will"
    # vera leaves by closing: will sees her away, then gone past the grace period
    await vera.close()
    await will.expect_push(is_signal("PartnerAway", session_id))
    gone = await will.expect_push(is_signal("PartnerExit", session_id), within=GRACE + TIMEOUT)
    assert gone["data"] == {"accountId": vera.account_id}
