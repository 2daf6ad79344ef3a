"""The `Routing` contract (storage/routing.py docstrings), run against every
backend. `shared.open()` is another process on the same state: the same object
in memory, a new connection pool on Redis."""

from __future__ import annotations

import asyncio
import random

from pairchat.storage.records import Route, SessionRecord
from pairchat.storage.routing import Pairing, Routing
from tests.contract.conftest import DEADLINE, Shared


def route(conn_id: int, broker: str = "b1") -> Route:
    return Route(broker, conn_id)


async def online(routing: Routing, *accounts: int) -> None:
    for account in accounts:
        await routing.bind(account, route(account))


async def paired(routing: Routing, session_id: int, a: int, b: int) -> SessionRecord:
    """Two accounts with an open session, as `pair` then `add_session` make them."""
    session = SessionRecord(session_id, (a, b))
    await routing.add_session(session)
    return session


# --- presence ---
async def test_bind_returns_the_route_it_replaced(shared: Shared) -> None:
    routing = (await shared.open()).routing
    assert await routing.bind(1, route(10)) is None
    assert await routing.bind(1, route(11, "b|2")) == route(10)
    assert await routing.bind(1, route(12)) == route(11, "b|2")
    assert await routing.routes([1]) == [route(12)]
    assert await routing.online_count() == 1


async def test_unbind_takes_offline_only_the_route_given(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await routing.bind(1, route(10))
    await routing.bind(1, route(11))
    assert not await routing.unbind(1, route(10))  # an older connection closing
    assert await routing.routes([1]) == [route(11)]
    assert await routing.unbind(1, route(11))
    assert await routing.routes([1]) == [None]
    assert await routing.online_count() == 0
    assert not await routing.unbind(1, route(11))
    assert not await routing.unbind(1)


async def test_unbind_without_a_route_takes_any(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    assert await routing.unbind(1)
    assert await routing.routes([1, 2]) == [None, route(2)]
    assert await routing.online_count() == 1


async def test_routes_answers_in_order(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, *range(1, 101))
    wanted = [7, 200, 3, 3, 100]
    assert await routing.routes(wanted) == [route(7), None, route(3), route(3), route(100)]
    assert await routing.routes([]) == []


async def test_routed_to_lists_the_accounts_of_one_broker(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await routing.bind(1, route(10, "b1"))
    await routing.bind(2, route(20, "b2"))
    await routing.bind(3, route(30, "b1"))
    await routing.bind(3, route(31, "b2"))  # moved
    assert sorted(await routing.routed_to("b1")) == [(1, route(10, "b1"))]
    assert sorted(await routing.routed_to("b2")) == [(2, route(20, "b2")), (3, route(31, "b2"))]
    await routing.unbind(2)
    assert await routing.routed_to("b2") == [(3, route(31, "b2"))]
    assert await routing.routed_to("nobody") == []


# --- sessions ---
async def test_sessions_are_listed_by_id(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await paired(routing, 9, 1, 3)
    await paired(routing, 4, 2, 1)
    assert [s.id for s in await routing.sessions_of(1)] == [4, 9]
    assert [s.members for s in await routing.sessions_of(1)] == [(2, 1), (1, 3)]
    assert await routing.sessions_of(5) == []
    found = await routing.session(9)
    assert found is not None and found.members == (1, 3) and not found.closed
    assert await routing.session(77) is None


async def test_end_session_hands_the_record_out_once(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await paired(routing, 4, 1, 2)
    ended = await routing.end_session(4)
    assert ended is not None and ended.id == 4 and ended.members == (1, 2)
    assert await routing.end_session(4) is None
    assert await routing.session(4) is None
    assert await routing.sessions_of(1) == [] and await routing.sessions_of(2) == []
    assert await routing.end_session(5) is None


async def test_end_session_exactly_once_under_concurrency(shared: Shared) -> None:
    p1, p2 = await shared.open(), await shared.open()
    for sid in range(1, 21):
        await paired(p1.routing, sid, sid, 100 + sid)
    calls = [p.routing.end_session(sid) for sid in range(1, 21) for p in (p1, p2, p1, p2)]
    results = await asyncio.wait_for(asyncio.gather(*calls), DEADLINE)
    ended = sorted(r.id for r in results if r is not None)
    assert ended == list(range(1, 21))


async def test_end_session_ends_the_partnership(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    assert await routing.pair(1, 5) == Pairing(2)
    await paired(routing, 7, 1, 2)
    assert await routing.pair(1, 5) is None  # partners already
    await routing.end_session(7)
    assert await routing.pair(1, 5) == Pairing(2)


# --- matching ---
async def test_pair_finds_nobody_alone(shared: Shared) -> None:
    routing = (await shared.open()).routing
    assert await routing.pair(1, 5) is None
    await online(routing, 1)
    await routing.wait(1, routing.make_token())
    assert await routing.pair(1, 5) is None  # never itself, even when it waits


async def test_pair_takes_an_online_account_when_nobody_waits(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    assert await routing.pair(1, 5) == Pairing(2, "")
    assert await routing.waiting_count() == 0


async def test_pair_prefers_the_longest_waiting(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2, 3, 4, 5)
    t1, t2, t3 = routing.make_token(), routing.make_token(), routing.make_token()
    await routing.wait(2, t2)
    await routing.wait(1, t1)
    await routing.wait(3, t3)
    assert await routing.waiting_count() == 3
    assert await routing.pair(4, 5) == Pairing(2, t2)
    assert await routing.pair(5, 5) == Pairing(1, t1)
    assert await routing.waiting_count() == 1
    assert await routing.pair(4, 5) == Pairing(3, t3)
    assert await routing.waiting_count() == 0


async def test_pair_passes_over_waiters_it_cannot_take(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2, 3, 4, 5)
    await paired(routing, 1, 1, 2)  # 2 is 1's partner
    await paired(routing, 2, 3, 4)
    await paired(routing, 3, 3, 5)  # 3 is full at max 2
    t2, t3, t4 = routing.make_token(), routing.make_token(), routing.make_token()
    await routing.wait(2, t2)
    await routing.wait(3, t3)
    await routing.wait(4, t4)
    assert await routing.pair(1, 2) == Pairing(4, t4)
    assert await routing.waiting_count() == 2  # the others still wait
    assert await routing.stop_waiting(2, t2) and await routing.stop_waiting(3, t3)


async def test_pair_never_takes_an_offline_account(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1)
    await routing.wait(2, routing.make_token())  # queued without a route
    assert await routing.pair(1, 5) is None
    await online(routing, 3)
    t3 = routing.make_token()
    await routing.wait(3, t3)
    assert await routing.pair(1, 5) == Pairing(3, t3)


async def test_pair_never_takes_a_full_account(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2, 3)
    await paired(routing, 1, 2, 3)
    assert await routing.pair(1, 1) is None  # 2 and 3 have one session each
    assert (await routing.pair(1, 2)) in (Pairing(2), Pairing(3))


async def test_pair_refuses_a_full_requester(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2, 3)
    await paired(routing, 1, 1, 2)
    assert await routing.pair(1, 1) is None
    assert await routing.pair(1, 2) == Pairing(3)


async def test_paired_accounts_are_partners_at_once(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    assert await routing.pair(1, 5) == Pairing(2)
    assert await routing.pair(1, 5) is None
    assert await routing.pair(2, 5) is None


async def test_release_undoes_a_pair(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    assert await routing.pair(1, 1) == Pairing(2)
    await routing.release(1, 2)
    assert await routing.pair(2, 1) == Pairing(1)


async def test_stop_waiting_leaves_the_queue(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    token = routing.make_token()
    await routing.wait(1, token)
    assert await routing.stop_waiting(1, token)
    assert not await routing.stop_waiting(1, token)
    assert await routing.waiting_count() == 0
    assert await routing.pair(2, 5) == Pairing(1, "")


async def test_stop_waiting_is_false_once_pair_took_the_entry(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    token = routing.make_token()
    await routing.wait(1, token)
    assert await routing.pair(2, 5) == Pairing(1, token)
    assert not await routing.stop_waiting(1, token)


async def test_stop_waiting_and_pair_race_for_the_entry(shared: Shared) -> None:
    """Exactly one side wins each race: either the waiter left in time, or pair
    answered with its token (and the waiter's stop_waiting said so)."""
    p1, p2 = await shared.open(), await shared.open()
    for n in range(40):
        waiter, requester = 1000 + 2 * n, 1001 + 2 * n
        await online(p1.routing, waiter, requester)
        token = p1.routing.make_token()
        await p1.routing.wait(waiter, token)
        chosen, stopped = await asyncio.wait_for(
            asyncio.gather(
                p2.routing.pair(requester, 5),
                p1.routing.stop_waiting(waiter, token),
            ),
            DEADLINE,
        )
        taken = chosen is not None and chosen.waiter == token
        assert taken != stopped, (n, chosen, stopped)
        await p1.routing.unbind(waiter)
        await p1.routing.unbind(requester)


async def test_concurrent_pairs_never_overbook(shared: Shared) -> None:
    """50 requesters at once against 10 online accounts with room for 3 each:
    exactly 30 pairings, 3 per account."""
    p1, p2 = await shared.open(), await shared.open()
    pool = list(range(1, 11))
    await online(p1.routing, *pool)
    requesters = range(100, 150)
    calls = [(p1, p2)[r % 2].routing.pair(r, 3) for r in requesters]
    results = await asyncio.wait_for(asyncio.gather(*calls), DEADLINE)
    chosen = [r.partner_id for r in results if r is not None]
    assert len(chosen) == 30
    assert sorted(chosen) == sorted(pool * 3)


async def pair_among(
    shared: Shared, pool: list[int], calls: int, max_sessions: int
) -> list[frozenset[int]]:
    """`calls` concurrent pair calls from random members of `pool` (all online),
    spread over two processes; the pairs they made."""
    p1, p2 = await shared.open(), await shared.open()
    await online(p1.routing, *pool)
    rng = random.Random(4)
    requesters = [rng.choice(pool) for _ in range(calls)]
    results = await asyncio.wait_for(
        asyncio.gather(
            *((p1, p2)[i % 2].routing.pair(r, max_sessions) for i, r in enumerate(requesters))
        ),
        DEADLINE,
    )
    return [
        frozenset((r, c.partner_id))
        for r, c in zip(requesters, results, strict=True)
        if c is not None
    ]


async def test_concurrent_pairs_never_pair_two_twice(shared: Shared) -> None:
    pairs = await pair_among(shared, list(range(1, 13)), calls=50, max_sessions=20)
    assert pairs
    assert all(len(p) == 2 for p in pairs)  # nobody with itself
    assert len(set(pairs)) == len(pairs)


async def test_concurrent_pairs_never_overbook_a_requester(shared: Shared) -> None:
    pool = list(range(1, 13))
    pairs = await pair_among(shared, pool, calls=50, max_sessions=4)
    counts = {a: sum(a in p for p in pairs) for a in pool}
    assert max(counts.values()) <= 4


async def test_notify_reaches_the_process_that_waits(shared: Shared) -> None:
    waiting_side, pairing_side = await shared.open(), await shared.open()
    got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    waiting_side.routing.on_notify(lambda token, payload: got.put_nowait((token, payload)))
    await online(waiting_side.routing, 1, 2)
    token = waiting_side.routing.make_token()
    await waiting_side.routing.wait(1, token)
    pairing = await pairing_side.routing.pair(2, 5)
    assert pairing == Pairing(1, token)
    await pairing_side.routing.notify(pairing.waiter, b"\x00matched\xff")
    assert await asyncio.wait_for(got.get(), DEADLINE) == (token, b"\x00matched\xff")


# --- queue upkeep ---
async def test_going_offline_drops_the_queue_entries(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    await routing.wait(1, routing.make_token())
    await routing.wait(1, routing.make_token())
    assert await routing.unbind(1)
    assert await routing.waiting_count() == 0
    assert await routing.pair(2, 5) is None


async def test_an_older_connection_closing_keeps_the_queue_entries(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await routing.bind(1, route(10))
    await routing.bind(1, route(11))
    await online(routing, 2)
    token = routing.make_token()
    await routing.wait(1, token)
    assert not await routing.unbind(1, route(10))
    assert await routing.pair(2, 5) == Pairing(1, token)


async def test_forget_takes_the_account_offline_and_out_of_the_queue(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    await routing.wait(1, routing.make_token())
    await routing.forget(1)
    assert await routing.routes([1]) == [None]
    assert await routing.waiting_count() == 0
    assert await routing.online_count() == 1
    assert await routing.pair(2, 5) is None


# --- replay markers ---
async def test_replay_markers_count(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await routing.begin_replay(1, [10, 11])
    await routing.begin_replay(1, [10])
    await routing.begin_replay(2, [])
    keys = [(1, 10), (1, 11), (1, 12), (2, 10)]
    assert await routing.replaying(keys) == [True, True, False, False]
    await routing.end_replay(1, 10)
    await routing.end_replay(1, 11)
    assert await routing.replaying(keys) == [True, False, False, False]
    await routing.end_replay(1, 10)
    await routing.end_replay(1, 10)  # never below zero: one begin is one pending again
    await routing.begin_replay(1, [10])
    assert await routing.replaying(keys[:1]) == [True]
    await routing.end_replay(1, 10)
    assert await routing.replaying(keys) == [False] * 4
    assert await routing.replaying([]) == []


# --- loading ---
async def test_claim_load_answers_true_once(shared: Shared) -> None:
    p1, p2 = await shared.open(), await shared.open()
    claims = await asyncio.gather(*(p.routing.claim_load() for p in (p1, p2) * 4))
    assert claims.count(True) == 1
    assert not await p1.routing.claim_load()


async def test_waiters_only_never_picks_someone_who_did_not_ask(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2, 3)
    assert await routing.pair(3, 5, waiters_only=True) is None  # 1 and 2 are not waiting
    await routing.wait(1, "t1")
    assert await routing.pair(3, 5, waiters_only=True) == Pairing(1, "t1")
    assert await routing.waiting_count() == 0
