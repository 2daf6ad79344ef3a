"""The ceiling baseline: a minimal in-memory chat relay on picows.

What any server of this protocol must do at the least per message: parse the
DIALOGUE frame, answer it with a msgId and push it to the partner, with
msgspec for JSON and uvloop under picows, the fastest Python WebSocket server
measured here. Nothing more: no storage, no routing table beyond the partner
of each connection, no checks, no replay; pushes' acknowledgements are read
and dropped. CRT_ACCOUNT and MATCH (first come, first served) exist only so
that the load generator can set itself up as it does against pairchat.

Run: `python -m pairchat.bench.baselines.picows_relay --port P`; prints
"ready" on stdout once it listens.
"""

from __future__ import annotations

import time
from collections import deque

import msgspec
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from pairchat.bench.baselines import run_relay

TEXT = WSMsgType.TEXT


class Request(msgspec.Struct, rename="camel"):
    cmd: str = ""
    request_id: str = ""
    session_id: int = 0
    content: str = ""
    nick_name: str = ""


class DialogueReply(msgspec.Struct, rename="camel"):
    cmd: str
    request_id: str
    code: int
    session_id: int
    msg_id: int


class PushDialogue(msgspec.Struct, rename="camel"):
    cmd: str
    sender_id: int
    session_id: int
    msg_id: int
    content: str
    created_at: int


_decode = msgspec.json.Decoder(Request).decode
_encode = msgspec.json.Encoder().encode


class Relay:
    """The whole server state: account and session counters and who waits in MATCH."""

    def __init__(self) -> None:
        self.accounts = 0
        self.sessions = 0
        self.waiting: deque[tuple[Conn, str]] = deque()


class Conn(WSListener):
    def __init__(self, relay: Relay) -> None:
        super().__init__()
        self.relay = relay
        self.transport: WSTransport | None = None
        self.account_id = 0
        self.nick = ""
        self.partner: Conn | None = None
        self.session_id = 0
        self.next_msg_id = [0]  # shared with the partner: one counter per session

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        waiting = self.relay.waiting
        for entry in [e for e in waiting if e[0] is self]:
            waiting.remove(entry)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not TEXT:
            if frame.msg_type is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            return
        req = _decode(frame.get_payload_as_memoryview())
        cmd = req.cmd
        if cmd == "DIALOGUE":
            partner = self.partner
            if partner is None or partner.transport is None or req.session_id != self.session_id:
                transport.send(
                    TEXT,
                    _encode(
                        {
                            "cmd": cmd,
                            "requestId": req.request_id,
                            "code": 6,
                            "msg": "not in session",
                        }
                    ),
                )
                return
            counter = self.next_msg_id
            counter[0] += 1
            msg_id = counter[0]
            transport.send(
                TEXT, _encode(DialogueReply(cmd, req.request_id, 0, req.session_id, msg_id))
            )
            partner.transport.send(
                TEXT,
                _encode(
                    PushDialogue(
                        "PUSH_DIALOGUE",
                        self.account_id,
                        req.session_id,
                        msg_id,
                        req.content,
                        time.time_ns() // 1_000_000,
                    )
                ),
            )
        elif cmd in ("PUSH_DIALOGUE", "PUSH_SIGNAL"):
            return  # acknowledgements: nothing to redeliver, so nothing to do
        elif cmd == "CRT_ACCOUNT":
            self.relay.accounts += 1
            self.account_id = self.relay.accounts
            self.nick = req.nick_name
            transport.send(
                TEXT,
                _encode(
                    {
                        "cmd": cmd,
                        "requestId": req.request_id,
                        "code": 0,
                        "accountId": self.account_id,
                        "nickName": self.nick,
                        "token": "-",
                    }
                ),
            )
        elif cmd == "MATCH":
            self._match(req.request_id)
        else:
            transport.send(
                TEXT,
                _encode(
                    {"cmd": cmd, "requestId": req.request_id, "code": 3, "msg": "unknown command"}
                ),
            )

    def _match(self, request_id: str) -> None:
        waiting = self.relay.waiting
        if not waiting or waiting[0][0] is self:
            waiting.append((self, request_id))
            return
        other, other_request = waiting.popleft()
        self.relay.sessions += 1
        session_id = self.relay.sessions
        self.partner, other.partner = other, self
        self.session_id = other.session_id = session_id
        self.next_msg_id = other.next_msg_id = [0]
        for conn, partner, rid in ((self, other, request_id), (other, self, other_request)):
            assert conn.transport is not None
            conn.transport.send(
                TEXT,
                _encode(
                    {
                        "cmd": "MATCH",
                        "requestId": rid,
                        "code": 0,
                        "partnerId": partner.account_id,
                        "partnerName": partner.nick,
                        "sessionId": session_id,
                    }
                ),
            )
        assert other.transport is not None
        other.transport.send(
            TEXT,
            _encode(
                {
                    "cmd": "PUSH_SIGNAL",
                    "signalType": "NewSession",
                    "senderId": self.account_id,
                    "sessionId": session_id,
                    "receiverId": other.account_id,
                    "data": {"accountId": self.account_id, "nickName": self.nick},
                }
            ),
        )


async def serve(host: str, port: int) -> None:
    relay = Relay()

    def route(request: WSUpgradeRequest) -> Conn | None:
        return Conn(relay) if request.path.startswith(b"/ws") else None

    server = await ws_create_server(route, host, port, read_buffer_init_size=4096)
    print("ready", flush=True)
    await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    return run_relay(serve, __doc__.splitlines()[0] if __doc__ else "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
