"""`Routing` (routing.py) on Redis, shared by any number of logic processes and
delivery workers. Keys are in redis_keys.py; each step that changes more than
one key is one Lua script from lua/, so it is atomic across processes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import quote

import msgspec
import redis.exceptions
from redis.asyncio import Redis

from pairchat.obs import event
from pairchat.storage.records import Route, SessionRecord
from pairchat.storage.redis_keys import Keys, as_text, script
from pairchat.storage.routing import Pairing

log = logging.getLogger("pairchat.storage")

SCRIPTS: Final = (
    "bind",
    "unbind",
    "routed_to",
    "add_session",
    "end_session",
    "sessions_of",
    "pair",
    "release",
    "wait",
    "stop_waiting",
    "relax",
    "end_replay",
)
# `pair` tries this many random online accounts, then sweeps the whole online set
# if it is at most PAIR_SCAN_LIMIT (which also bounds the queue entries examined):
# a script blocks Redis while it runs, so its work must stay bounded.
PAIR_SAMPLES: Final = 16
PAIR_SCAN_LIMIT: Final = 2000
_RECONNECT_DELAYS: Final = (0.1, 0.2, 0.5, 1.0, 2.0)  # seconds, then the last again
# Seconds `wait` gives the notice channel to come up before it fails the MATCH
# request (as any Redis error does) rather than queue a token nobody would hear.
LISTEN_TIMEOUT: Final = 5.0

# Blocks `load_blocks` writes per round trip.
_BLOCKS_PER_WRITE: Final = 1000

_notice: Final = msgspec.msgpack.Encoder()
_notice_decoder: Final = msgspec.msgpack.Decoder(tuple[str, bytes])


def route_text(route: Route) -> str:
    return f"{route.broker_id}|{route.conn_id}"


# Workers look up the same few thousand routes batch after batch; Route is
# immutable, so one parsed value serves every lookup of the same text.
@functools.lru_cache(maxsize=16384)
def parse_route(raw: bytes | str) -> Route:
    # Split at the last '|': broker ids may contain one, conn ids cannot.
    broker_id, _, conn_id = as_text(raw).rpartition("|")
    return Route(broker_id, int(conn_id))


def encode_interest(interest: str) -> str:
    """The interest in queue entries and `pair`'s arguments: percent-encoded, so
    that it holds no "|" or "," (the entry's separators) and equal interests, and
    only those, have equal encodings."""
    return quote(interest, safe="")


def queue_entry(account_id: int, token: str, interests: Sequence[str], strict: bool) -> str:
    """A match-queue entry (redis_keys.py: P queue)."""
    encoded = ",".join(encode_interest(i) for i in interests)
    return f"{account_id}|{'1' if strict else '0'}|{encoded}|{token}"


def parse_session(session_id: bytes | int, members: bytes | str) -> SessionRecord:
    a, b = as_text(members).split(",")
    return SessionRecord(int(session_id), (int(a), int(b)))


class RedisRouting:
    """`Routing` on Redis.

    Tokens of `wait` are "<process_id>/<hex>": `notify` publishes a payload on
    the channel of the process named in the token, where the `on_notify`
    callback of that process receives it. Pub/sub is fire-and-forget: a payload
    published while the receiving process is disconnected from Redis is lost,
    and its MATCH request then ends at the deadline like one that found nobody.

    Args:
        redis: the client (a connection pool), shared with the other backends.
        keys: the deployment's key names.
    """

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self.process_id = uuid.uuid4().hex
        self._scripts = {name: script(redis, name) for name in SCRIPTS}
        self._callback: Callable[[str, bytes], None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._scripts[name](keys=keys, args=args)

    # --- presence ---
    async def bind(self, account_id: int, route: Route) -> Route | None:
        k = self._keys
        previous = await self._run(
            "bind",
            [k.route, k.online, k.on_broker + route.broker_id],
            [account_id, route_text(route), k.on_broker],
        )
        return None if previous is None else parse_route(previous)

    async def unbind(self, account_id: int, route: Route | None = None) -> bool:
        k = self._keys
        expected = "" if route is None else route_text(route)
        took = await self._run(
            "unbind",
            [k.route, k.online, k.queue, f"{k.queued}{account_id}"],
            [account_id, expected, k.on_broker],
        )
        return bool(took)

    async def routes(self, account_ids: Sequence[int]) -> list[Route | None]:
        if not account_ids:
            return []
        # str: redis-py encodes it with fewer checks than an int (measurably, at 100)
        raw = await self._redis.hmget(self._keys.route, [str(a) for a in account_ids])
        return [None if r is None else parse_route(r) for r in raw]

    async def routed_to(self, broker_id: str) -> list[tuple[int, Route]]:
        k = self._keys
        flat = await self._run("routed_to", [k.route, k.on_broker + broker_id], [])
        return [(int(flat[i]), parse_route(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def online_count(self) -> int:
        return await self._redis.scard(self._keys.online)

    async def forget(self, account_id: int) -> None:
        k = self._keys
        async with self._redis.pipeline(transaction=True) as pipe:
            # The pipeline's transaction makes the unbind and the deletions one
            # step; the partner and session sets should be empty already (the
            # sessions ended first) unless a `pair` reserved a session just now.
            await self._scripts["unbind"](
                keys=[k.route, k.online, k.queue, f"{k.queued}{account_id}"],
                args=[account_id, "", k.on_broker],
                client=pipe,
            )
            pipe.delete(f"{k.partners}{account_id}", f"{k.open_sessions}{account_id}")
            pipe.srem(k.unavailable, str(account_id))
            await pipe.execute()

    # --- sessions ---
    async def add_session(self, session: SessionRecord) -> None:
        k = self._keys
        a, b = session.members
        await self._run(
            "add_session",
            [
                k.session,
                f"{k.partners}{a}",
                f"{k.partners}{b}",
                f"{k.open_sessions}{a}",
                f"{k.open_sessions}{b}",
            ],
            [session.id, a, b],
        )

    async def end_session(self, session_id: int) -> SessionRecord | None:
        k = self._keys
        members = await self._run(
            "end_session", [k.session], [session_id, k.partners, k.open_sessions]
        )
        if members is None:
            return None
        record = parse_session(session_id, members)
        record.closed = True
        return record

    async def session(self, session_id: int) -> SessionRecord | None:
        members = await self._redis.hget(self._keys.session, str(session_id))
        return None if members is None else parse_session(session_id, members)

    async def sessions_of(self, account_id: int) -> list[SessionRecord]:
        k = self._keys
        flat = await self._run("sessions_of", [k.session, f"{k.open_sessions}{account_id}"], [])
        found = [parse_session(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        return sorted(found, key=lambda s: s.id)

    # --- match queue ---
    async def pair(
        self,
        account_id: int,
        max_sessions: int,
        waiters_only: bool = False,
        interests: Sequence[str] = (),
        strict: bool = False,
    ) -> Pairing | None:
        k = self._keys
        chosen = await self._run(
            "pair",
            [
                k.queue,
                k.online,
                f"{k.partners}{account_id}",
                f"{k.blocks}{account_id}",
                k.unavailable,
            ],
            [
                account_id,
                max_sessions,
                k.partners,
                k.queued,
                PAIR_SAMPLES,
                PAIR_SCAN_LIMIT,
                "1" if waiters_only else "0",
                "1" if strict else "0",
                *(encode_interest(i) for i in interests),
            ],
        )
        if chosen is None:
            return None
        partner, waiter, positions = chosen
        common = tuple(interests[p - 1] for p in positions)
        return Pairing(int(partner), waiter.decode(), common)

    async def release(self, a: int, b: int) -> None:
        k = self._keys
        await self._run("release", [f"{k.partners}{a}", f"{k.partners}{b}"], [a, b])

    async def wait(
        self,
        account_id: int,
        token: str,
        interests: Sequence[str] = (),
        strict: bool = False,
    ) -> None:
        # `pair` can hand this token to `notify` as soon as it is queued: make
        # sure this process listens before anyone can take the entry.
        if self._callback is not None:
            self._start_listening()
            try:
                async with asyncio.timeout(LISTEN_TIMEOUT):
                    await self._listening.wait()
            except TimeoutError:
                raise redis.exceptions.ConnectionError(
                    "cannot subscribe to this process's notices: Redis is unreachable"
                ) from None
        k = self._keys
        entry = queue_entry(account_id, token, interests, strict)
        await self._run("wait", [k.queue, f"{k.queued}{account_id}"], [token, entry])

    async def stop_waiting(self, account_id: int, token: str) -> bool:
        k = self._keys
        removed = await self._run("stop_waiting", [k.queue, f"{k.queued}{account_id}"], [token])
        return bool(removed)

    async def relax(self, account_id: int, token: str) -> bool:
        k = self._keys
        return bool(await self._run("relax", [k.queue, f"{k.queued}{account_id}"], [token]))

    async def waiting_count(self) -> int:
        return await self._redis.llen(self._keys.queue)

    async def block(self, a: int, b: int) -> None:
        await self.load_blocks([(a, b)])

    async def load_blocks(self, pairs: Sequence[tuple[int, int]]) -> None:
        blocks = self._keys.blocks
        for first in range(0, len(pairs), _BLOCKS_PER_WRITE):
            async with self._redis.pipeline(transaction=True) as pipe:
                for a, b in pairs[first : first + _BLOCKS_PER_WRITE]:
                    pipe.sadd(f"{blocks}{a}", str(b))
                    pipe.sadd(f"{blocks}{b}", str(a))
                await pipe.execute()

    async def set_available(self, account_id: int, available: bool) -> None:
        if available:
            await self._redis.srem(self._keys.unavailable, str(account_id))
        else:
            await self._redis.sadd(self._keys.unavailable, str(account_id))

    def make_token(self) -> str:
        return f"{self.process_id}/{uuid.uuid4().hex}"

    async def notify(self, token: str, payload: bytes) -> None:
        process_id, slash, _ = token.partition("/")
        if not slash:
            raise ValueError(f"not a token of RedisRouting.make_token: {token!r}")
        await self._redis.publish(self._keys.notify(process_id), _notice.encode((token, payload)))

    def on_notify(self, callback: Callable[[str, bytes], None]) -> None:
        """Start listening on this process's channel (at once when called inside
        an event loop, else at the first `wait`)."""
        self._callback = callback
        with contextlib.suppress(RuntimeError):  # no running loop: `wait` starts it
            asyncio.get_running_loop()
            self._start_listening()

    def _start_listening(self) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name=f"notify:{self.process_id}"
            )

    async def _listen(self) -> None:
        """Deliver this process's notices to the callback; resubscribe after
        losing Redis, however long that takes."""
        channel = self._keys.notify(self.process_id)
        failures = 0
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                self._listening.set()
                failures = 0
                async for message in pubsub.listen():
                    self._deliver(message["data"])
            except Exception as exc:  # whatever it was, listening must go on
                self._listening.clear()
                event(log, "notify channel lost", logging.WARNING, error=repr(exc))
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(_RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)])
            failures += 1

    def _deliver(self, data: bytes) -> None:
        try:
            token, payload = _notice_decoder.decode(data)
        except msgspec.DecodeError as exc:  # not from `notify`: nobody to tell
            event(log, "bad notify payload", logging.ERROR, error=repr(exc))
            return
        if self._callback is None:
            return
        try:
            self._callback(token, payload)
        except Exception as exc:  # the callback's failure must not end the listening
            event(log, "notify callback failed", logging.ERROR, error=repr(exc))

    # --- replay marks ---
    async def begin_replay(self, account_id: int, session_ids: Sequence[int]) -> None:
        if not session_ids:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for session_id in session_ids:
                pipe.hincrby(self._keys.replay, f"{account_id}:{session_id}", 1)
            await pipe.execute()

    async def end_replay(self, account_id: int, session_id: int) -> None:
        await self._run("end_replay", [self._keys.replay], [f"{account_id}:{session_id}"])

    async def replaying(self, keys: Sequence[tuple[int, int]]) -> list[bool]:
        if not keys:
            return []
        counts = await self._redis.hmget(self._keys.replay, [f"{a}:{s}" for a, s in keys])
        return [c is not None for c in counts]

    # --- loading and closing ---
    async def claim_load(self) -> bool:
        return bool(await self._redis.set(self._keys.loaded, self.process_id, nx=True))

    async def close(self) -> None:
        """Stop listening for notices. The connection pool belongs to whoever
        created it (`RedisBackends.close`)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        self._listening.clear()
