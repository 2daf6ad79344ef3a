"""The Logic gRPC servicer: translates Exchange batches into use-case calls and
results back into Reply batches. It decides nothing itself.

The two calls of every message (DIALOGUE and its acknowledgement) have one
translation, `send` and `ack` (`api.links.MessagePath`): Exchange calls come
through it, and so do a broker's in this process, without protobuf."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import grpc

from pairchat.api.links import AckMessage, AckRefused, SendMessage, Stored
from pairchat.api.v1 import logic_pb2 as pb
from pairchat.logic.service import (
    SESSION_ENDED,
    STORE_FAILED,
    Backlogged,
    Bound,
    LogicService,
    Matched,
    NoPartner,
    NotCached,
)
from pairchat.obs import event
from pairchat.protocol import Code, ProtocolError
from pairchat.storage.records import Route, StoredMessage

log = logging.getLogger("pairchat.logic")
ROUTES_KEPT = 65536  # routes remembered per broker
T = TypeVar("T")


class _Outbox:
    """Replies waiting to go back to one broker, flushed as one batch per turn."""

    def __init__(self) -> None:
        self.items: list[pb.Reply] = []
        self.ready = asyncio.Event()
        self.closed = False

    def add(self, reply: pb.Reply) -> None:
        self.items.append(reply)
        self.ready.set()

    def error(self, call_id: int, code: int, msg: str) -> None:
        self.add(pb.Reply(call_id=call_id, code=code, msg=msg))

    def stored(self, call_id: int, code: int, msg: str, session_id: int, msg_id: int) -> None:
        """The answer to a send_msg call (`api.links.Stored`)."""
        if code:
            self.error(call_id, code, msg)
        else:
            stored = pb.MsgStored(session_id=session_id, msg_id=msg_id)
            self.add(pb.Reply(call_id=call_id, stored=stored))

    def ack_refused(self, conn_id: int, request_id: str | None, code: int, msg: str) -> None:
        """A failed message acknowledgement (`api.links.AckRefused`)."""
        self.refused("PUSH_DIALOGUE", conn_id, request_id, code, msg)

    def refused(self, cmd: str, conn_id: int, request_id: str | None, code: int, msg: str) -> None:
        """A failed acknowledgement: acks have no call id, so the reply names
        the connection, the command and the requestId itself."""
        self.add(
            pb.Reply(code=code, msg=msg, conn_id=conn_id, cmd=cmd, request_id=request_id or "")
        )

    def close(self) -> None:
        self.closed = True
        self.ready.set()

    async def take(self) -> list[pb.Reply] | None:
        while not self.items:
            if self.closed:
                return None
            self.ready.clear()
            await self.ready.wait()
        items, self.items = self.items, []
        return items


async def _unwrap(batches: AsyncIterator[pb.Calls]) -> AsyncIterator[Sequence[pb.Call]]:
    async for batch in batches:
        yield batch.calls


def _bound_reply(call_id: int, bound: Bound) -> pb.Reply:
    return pb.Reply(
        call_id=call_id,
        bound=pb.AccountBound(
            account_id=bound.account_id,
            nick_name=bound.nick,
            token=bound.token,
            sessions=[
                pb.SessionRef(session_id=s, partner_id=p, partner_name=n)
                for s, p, n in bound.sessions
            ],
            available=bound.available,
        ),
    )


async def _match_reply(call_id: int, matching: Awaitable[Matched]) -> pb.Reply:
    """MATCH's answer: the partner, or code 4 with how many are online."""
    try:
        m = await matching
    except NoPartner as exc:
        return pb.Reply(
            call_id=call_id, code=exc.code, msg=exc.msg, matched=pb.Matched(online=exc.online)
        )
    return pb.Reply(
        call_id=call_id,
        matched=pb.Matched(
            session_id=m.session_id,
            partner_id=m.partner_id,
            partner_name=m.partner_name,
            common_interests=m.common,
            online=m.online,
        ),
    )


def _done(call_id: int) -> Callable[[object], pb.Reply]:
    """The answer of a use case that returns nothing: code 0."""
    return lambda _: pb.Reply(call_id=call_id)


def _history_reply(call_id: int, session_id: int, msgs: list[StoredMessage]) -> pb.Reply:
    return pb.Reply(
        call_id=call_id,
        history=pb.HistoryPage(
            session_id=session_id,
            messages=[
                pb.StoredMessage(
                    msg_id=m.msg_id,
                    sender_id=m.sender_id,
                    content=m.content,
                    created_at=m.created_at,
                )
                for m in msgs
            ],
        ),
    )


class BrokerRegistry:
    """What the servicer tells the delivery side about brokers coming and going."""

    def __init__(
        self, on_hello: Callable[[str, str], None], on_gone: Callable[[str], None]
    ) -> None:
        self.on_hello = on_hello
        self.on_gone = on_gone


class LogicServicer:
    def __init__(self, service: LogicService, brokers: BrokerRegistry) -> None:
        self.service = service
        self.brokers = brokers
        self._streams: dict[str, _Outbox] = {}  # broker id -> its current stream
        self._tasks: set[asyncio.Task[None]] = set()
        # Each connection's route, made once: the use cases key their caches by
        # it, and a lookup with the very object that was stored skips comparing
        # fields (forgotten when the connection closes, and all at once past
        # ROUTES_KEPT: a route is only a value, a new one works as well).
        self._routes: dict[str, dict[int, Route]] = {}

    async def Exchange(
        self, request_iterator: AsyncIterator[pb.Calls], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.Replies]:
        """The gRPC face of `exchange`: one stream per broker."""
        async for batch in self.exchange(_unwrap(request_iterator)):
            yield pb.Replies(replies=batch)

    async def exchange(
        self, batches: AsyncIterator[Sequence[pb.Call]]
    ) -> AsyncIterator[list[pb.Reply]]:
        """Serve one broker's batches of calls, yielding batches of replies; its
        first call must be a hello. A broker in this process (the embedded mode)
        calls this directly, with no gRPC in between."""
        out = _Outbox()
        broker: list[str] = []
        reader = asyncio.create_task(self._read(batches, out, broker))
        try:
            while (batch := await out.take()) is not None:
                yield batch
        finally:
            reader.cancel()
            # A broker that restarted may have said hello on a new stream before
            # this one ended: then the new stream owns the id and nothing is gone.
            if broker and self._streams.get(broker[0]) is out:
                del self._streams[broker[0]]
                self._routes.pop(broker[0], None)
                self._background(self.service.broker_disconnected(broker[0]))
                self.brokers.on_gone(broker[0])
                event(log, "broker disconnected", broker=broker[0])

    async def _read(
        self, batches: AsyncIterator[Sequence[pb.Call]], out: _Outbox, broker: list[str]
    ) -> None:
        try:
            async for batch in batches:
                for call in batch:
                    if call.WhichOneof("body") == "heartbeat":
                        # Answered at once, no use case: it shows this loop serves.
                        out.add(pb.Reply(call_id=call.call_id, heartbeat=pb.Heartbeat()))
                    elif call.WhichOneof("body") == "hello":
                        broker[:] = [call.hello.broker_id]
                        # Connections routed to this id belong to an earlier stream,
                        # whose broker closed them all when it lost logic.
                        await self.service.broker_connected(
                            call.hello.broker_id, call.hello.push_target
                        )
                        self._streams[call.hello.broker_id] = out
                        self.brokers.on_hello(call.hello.broker_id, call.hello.push_target)
                        event(log, "broker connected", broker=call.hello.broker_id)
                    elif not broker:
                        out.error(call.call_id, Code.INTERNAL_ERR, "broker did not say hello")
                    else:
                        self._dispatch(call, self._route(broker[0], call.conn_id), out)
        except (asyncio.CancelledError, grpc.aio.AioRpcError):
            pass
        finally:
            out.close()

    def _dispatch(self, call: pb.Call, route: Route, out: _Outbox) -> None:
        svc = self.service
        kind = call.WhichOneof("body")
        cid = call.call_id
        acct = call.account_id
        try:
            if kind == "send_msg":
                m = call.send_msg
                message = SendMessage(
                    cid, acct, call.conn_id, m.session_id, m.content, call.request_id or None
                )
                self.send(route.broker_id, message, out.stored)
            elif kind == "ack":
                self._ack(call, route, out)
            elif kind == "typing":
                self._spawn(
                    cid,
                    out,
                    svc.typing(acct, route, call.typing.session_id),
                    lambda _: pb.Reply(call_id=cid),
                )
            elif kind == "replay_more":
                more = call.replay_more
                self._background(svc.replay_more(acct, route, more.session_id, more.after_msg_id))
            elif kind == "closed":
                self._routes.get(route.broker_id, {}).pop(call.conn_id, None)
                self._background(svc.connection_closed(acct, route))
            elif kind == "create_account":
                self._spawn(
                    cid,
                    out,
                    svc.create_account(route, call.create_account.nick_name, call.address),
                    lambda b: _bound_reply(cid, b),
                )
            elif kind == "reconnect":
                r = call.reconnect
                self._spawn(
                    cid,
                    out,
                    svc.reconnect(route, r.account_id, r.token, call.address),
                    lambda b: _bound_reply(cid, b),
                )
            elif kind == "match":
                matching = svc.match(acct, route, call.match.interests)
                self._spawn(cid, out, _match_reply(cid, matching), _same)
            elif kind == "cancel_match":
                self._spawn(cid, out, svc.cancel_match(acct, route), _done(cid))
            elif kind == "availability":
                available = call.availability.available
                self._spawn(cid, out, svc.set_available(acct, route, available), _done(cid))
            elif kind == "report":
                rep = call.report
                reporting = svc.report(acct, route, rep.session_id, rep.reason, rep.note)
                self._spawn(cid, out, reporting, _done(cid))
            elif kind == "block":
                self._spawn(cid, out, svc.block(acct, route, call.block.session_id), _done(cid))
            elif kind == "leave":
                self._spawn(
                    cid,
                    out,
                    svc.leave(acct, route, call.leave.session_id),
                    lambda _: pb.Reply(call_id=cid),
                )
            elif kind == "logout":
                self._spawn(cid, out, svc.logout(acct, route), lambda _: pb.Reply(call_id=cid))
            elif kind == "history":
                h = call.history
                self._spawn(
                    cid,
                    out,
                    svc.history(acct, route, h.session_id, h.after_msg_id, h.limit),
                    lambda msgs: _history_reply(cid, h.session_id, msgs),
                )
            elif kind == "viewed_ack":
                v = call.viewed_ack
                self._spawn(
                    cid,
                    out,
                    svc.viewed(acct, route, v.session_id, v.msg_id),
                    lambda _: pb.Reply(call_id=cid),
                )
            else:
                out.error(cid, Code.UNKNOWN_CMD, "unknown call")
        except ProtocolError as exc:
            out.error(cid, exc.code, exc.msg)
        except Exception as exc:
            event(log, "request failed", logging.ERROR, call=kind, error=repr(exc))
            out.error(cid, Code.INTERNAL_ERR, "internal error")

    def _ack(self, call: pb.Call, route: Route, out: _Outbox) -> None:
        """Acknowledgements are answered only when they fail (see logic.proto)."""
        a = call.ack
        request_id = call.request_id or None
        if not a.signal_type:
            message = AckMessage(call.account_id, call.conn_id, a.session_id, a.msg_id, request_id)
            self.ack(route.broker_id, message, out.ack_refused)
            return

        def fail(code: int, msg: str) -> None:
            out.refused("PUSH_SIGNAL", call.conn_id, request_id, code, msg)

        signal_acked = self.service.ack_signal(call.account_id, route, a.session_id, a.signal_type)
        self._spawn(0, out, signal_acked, _nothing, fail)

    # --- the two calls of every message (api.links.MessagePath) ---
    def send(
        self, broker_id: str, call: SendMessage, answer: Stored, backlog_checked: bool = False
    ) -> None:
        """Store and queue a message; `answer` gets its msgId or its error."""
        cid = call.call_id

        def done(result: StoredMessage | BaseException) -> None:
            if not isinstance(result, StoredMessage):
                answer(cid, Code.INTERNAL_ERR, STORE_FAILED, 0, 0)
            elif result.closed:
                answer(cid, Code.SESSION_CLOSED, SESSION_ENDED, 0, 0)
            else:
                answer(cid, Code.OK, "", result.session_id, result.msg_id)

        svc = self.service
        acct = call.account_id
        route = self._route(broker_id, call.conn_id)
        try:
            svc.send(
                acct, route, call.session_id, call.content, call.request_id, done, backlog_checked
            )
        except ProtocolError as exc:
            answer(cid, exc.code, exc.msg, 0, 0)
        except Backlogged:
            # The partner may not be reading: the store counts, then the same path.
            self._then(
                svc.check_backlog(acct, call.session_id),
                lambda: self.send(broker_id, call, answer, backlog_checked=True),
                lambda code, msg: answer(cid, code, msg, 0, 0),
            )
        except NotCached:
            # A session this process has not seen yet (matched through another
            # logic) or that ended: load it, then take the same path again.
            self._then(
                svc.load_session(acct, call.session_id),
                lambda: self.send(broker_id, call, answer),
                lambda code, msg: answer(cid, code, msg, 0, 0),
            )

    def ack(self, broker_id: str, call: AckMessage, refused: AckRefused) -> None:
        """Record an acknowledged msgId; `refused` hears of a failure."""
        svc = self.service
        route = self._route(broker_id, call.conn_id)
        try:
            svc.ack_message(call.account_id, route, call.session_id, call.msg_id)
        except ProtocolError as exc:
            refused(call.conn_id, call.request_id, exc.code, exc.msg)
        except NotCached:
            self._then(
                svc.ack_message_late(call.account_id, route, call.session_id, call.msg_id),
                _nothing,
                lambda code, msg: refused(call.conn_id, call.request_id, code, msg),
            )

    def _route(self, broker_id: str, conn_id: int) -> Route:
        routes = self._routes.get(broker_id)
        if routes is None:
            routes = self._routes[broker_id] = {}
        route = routes.get(conn_id)
        if route is None:
            if len(routes) >= ROUTES_KEPT:  # connections that left without a report
                routes.clear()
            route = routes[conn_id] = Route(broker_id, conn_id)
        return route

    def _then(
        self, coro: Awaitable[Any], then: Callable[[], None], fail: Callable[[int, str], None]
    ) -> None:
        """Run `coro`, then `then()`; its error goes to `fail`."""

        def after(_: object) -> None:
            then()

        self._run(coro, after, fail)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event(log, "background step failed", logging.ERROR, error=repr(exc))

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn(
        self,
        cid: int,
        out: _Outbox,
        coro: Awaitable[T],
        build: Callable[[T], pb.Reply | None],
        fail: Callable[[int, str], None] | None = None,
    ) -> None:
        """Run a use case; its reply (`build`) or its error goes to `out`, or
        the error to `fail` if given."""

        def answer(result: T) -> None:
            reply = build(result)
            if reply is not None:
                out.add(reply)

        def error(code: int, msg: str) -> None:
            out.error(cid, code, msg)

        self._run(coro, answer, fail or error)

    def _run(
        self, coro: Awaitable[T], ok: Callable[[T], None], fail: Callable[[int, str], None]
    ) -> None:
        """Run `coro` in a task of this servicer: its result to `ok`, a
        ProtocolError's code and reason (or code 2 for a failure) to `fail`."""

        async def run() -> None:
            try:
                result = await coro
            except ProtocolError as exc:
                fail(exc.code, exc.msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event(log, "request failed", logging.ERROR, error=repr(exc))
                fail(Code.INTERNAL_ERR, "internal error")
            else:
                ok(result)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _same(reply: pb.Reply) -> pb.Reply:
    return reply


def _nothing(_: object = None) -> None:
    """The answer to an acknowledgement that succeeded: none."""
