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


# --- interests, blocks, availability ---
async def waits(routing: Routing, account: int, *interests: str, strict: bool = False) -> str:
    """`account` comes online and waits in MATCH; its token."""
    await online(routing, account)
    token = routing.make_token()
    await routing.wait(account, token, interests, strict)
    return token


async def test_pair_prefers_the_most_shared_interests_then_the_longest_waiting(
    shared: Shared,
) -> None:
    routing = (await shared.open()).routing
    t2 = await waits(routing, 2, "chess")
    t3 = await waits(routing, 3, "chess", "go")
    t4 = await waits(routing, 4)
    t5 = await waits(routing, 5, "jazz", "go", "chess")
    t6 = await waits(routing, 6, "go")
    await online(routing, 10, 11, 12, 13, 14)
    wanted = ("go", "chess", "poker")
    assert await routing.pair(10, 5, interests=wanted) == Pairing(3, t3, ("go", "chess"))
    assert await routing.pair(11, 5, interests=wanted) == Pairing(5, t5, ("go", "chess"))
    assert await routing.pair(12, 5, interests=wanted) == Pairing(2, t2, ("chess",))
    assert await routing.pair(13, 5, interests=wanted) == Pairing(6, t6, ("go",))
    assert await routing.pair(14, 5, interests=wanted) == Pairing(4, t4, ())
    assert await routing.waiting_count() == 0


async def test_pair_without_interests_takes_the_longest_waiting_whatever_it_names(
    shared: Shared,
) -> None:
    routing = (await shared.open()).routing
    t2 = await waits(routing, 2, "chess")
    t3 = await waits(routing, 3)
    await online(routing, 10, 11)
    assert await routing.pair(10, 5) == Pairing(2, t2, ())
    assert await routing.pair(11, 5, interests=["go"]) == Pairing(3, t3, ())


async def test_a_strict_requester_takes_only_a_waiter_sharing_an_interest(
    shared: Shared,
) -> None:
    routing = (await shared.open()).routing
    t2 = await waits(routing, 2)
    t3 = await waits(routing, 3, "chess")
    await online(routing, 1, 4)  # 4 is online but does not wait
    assert await routing.pair(1, 5, interests=["go"], strict=True) is None
    assert await routing.pair(1, 5, strict=True) is None  # strict and nothing named
    assert await routing.waiting_count() == 2
    t5 = await waits(routing, 5, "go", strict=True)
    assert await routing.pair(1, 5, interests=["go"], strict=True) == Pairing(5, t5, ("go",))
    assert await routing.stop_waiting(2, t2) and await routing.stop_waiting(3, t3)


async def test_a_strict_waiter_is_taken_only_by_someone_sharing_an_interest(
    shared: Shared,
) -> None:
    routing = (await shared.open()).routing
    token = await waits(routing, 2, "chess", "go", strict=True)
    await online(routing, 1, 3, 4, 5)
    for requester in (1, 3, 4, 5):  # so that only 2 (available) is left to pick
        await routing.set_available(requester, False)
    assert await routing.pair(1, 5) is None  # neither from the queue nor at random
    assert await routing.pair(1, 5, interests=["poker"]) is None
    assert await routing.pair(3, 5, interests=["poker"], strict=True) is None
    assert await routing.pair(4, 5, waiters_only=True) is None
    assert await routing.waiting_count() == 1
    assert await routing.pair(5, 5, interests=["poker", "go", "chess"]) == Pairing(
        2, token, ("go", "chess")
    )


async def test_a_relaxed_waiter_keeps_its_place_and_is_taken_by_anyone(
    shared: Shared,
) -> None:
    routing = (await shared.open()).routing
    t2 = await waits(routing, 2, "chess", strict=True)
    t3 = await waits(routing, 3)
    await online(routing, 1, 4)
    assert await routing.relax(2, t2)
    assert await routing.relax(3, t3)  # not strict: nothing changes, still queued
    assert await routing.waiting_count() == 2
    # 2 waited longest: taken first by the ordinary rules, with what is shared
    assert await routing.pair(1, 5) == Pairing(2, t2, ())
    assert await routing.pair(4, 5, interests=["chess"]) == Pairing(3, t3, ())
    # gone (taken, or stopped): False, and nothing is queued again
    assert not await routing.relax(2, t2)
    assert not await routing.relax(3, t3)
    t5 = await waits(routing, 5, "go", strict=True)
    assert await routing.stop_waiting(5, t5)
    assert not await routing.relax(5, t5)
    assert await routing.waiting_count() == 0


async def test_waiters_only_offers_a_newcomer_to_the_waiters_that_are_not_strict(
    shared: Shared,
) -> None:
    routing = (await shared.open()).routing
    await waits(routing, 2, "chess", strict=True)
    t3 = await waits(routing, 3, "go")
    await online(routing, 4)
    assert await routing.pair(4, 5, waiters_only=True) == Pairing(3, t3, ())
    assert await routing.waiting_count() == 1


async def test_sides_that_are_not_strict_pair_whatever_they_name(shared: Shared) -> None:
    routing = (await shared.open()).routing
    token = await waits(routing, 2, "chess")
    await online(routing, 1)
    assert await routing.pair(1, 5, interests=["go"]) == Pairing(2, token, ())


async def test_a_random_pick_shares_nothing_and_is_not_strict_bound(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    assert await routing.pair(1, 5, interests=["chess"]) == Pairing(2, "", ())


async def test_interests_may_hold_any_character(shared: Shared) -> None:
    routing = (await shared.open()).routing
    odd = ("a|b", "c,d", "100%", "two words", "🎉 party")
    token = await waits(routing, 2, *odd, strict=True)
    await online(routing, 1)
    # look-alikes of the encodings and parts of the separated ones share nothing
    lookalikes = ["a", "b", "c", "d", "a%7cb", "a%7Cb", "c%2cd", "100%25", "two+words"]
    assert await routing.pair(1, 5, interests=lookalikes[:5], strict=True) is None
    assert await routing.pair(1, 5, interests=lookalikes[5:], strict=True) is None
    wanted = ["🎉 party", "c,d", "x", "a|b", "100%"]
    assert await routing.pair(1, 5, interests=wanted, strict=True) == Pairing(
        2, token, ("🎉 party", "c,d", "a|b", "100%")
    )


async def test_stop_waiting_and_going_offline_remove_entries_with_interests(
    shared: Shared,
) -> None:
    routing = (await shared.open()).routing
    t1 = await waits(routing, 1, "a|b", "x,y", strict=True)
    t2 = await waits(routing, 1, "%", "z")
    assert await routing.waiting_count() == 2
    assert await routing.stop_waiting(1, t1)
    assert not await routing.stop_waiting(1, t1)
    assert await routing.waiting_count() == 1
    assert await routing.unbind(1)
    assert await routing.waiting_count() == 0
    assert not await routing.stop_waiting(1, t2)
    await waits(routing, 1, "z", strict=True)
    await routing.forget(1)
    assert await routing.waiting_count() == 0


async def test_blocked_accounts_are_never_paired(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    await routing.block(1, 2)
    await routing.block(1, 2)  # idempotent
    await routing.block(2, 1)
    assert await routing.pair(1, 5) is None  # either way
    assert await routing.pair(2, 5) is None
    token = await waits(routing, 2, "chess")
    assert await routing.pair(1, 5, interests=["chess"]) is None
    assert await routing.pair(1, 5, waiters_only=True) is None
    await online(routing, 3)
    assert await routing.pair(3, 5, interests=["chess"]) == Pairing(2, token, ("chess",))
    assert await routing.pair(1, 5) == Pairing(3)


async def test_blocks_outlive_a_logout(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    await routing.block(2, 1)
    await routing.forget(2)
    await online(routing, 2)
    assert await routing.pair(1, 5) is None


async def test_load_blocks_blocks_every_pair(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await routing.load_blocks([])
    await routing.load_blocks([(1, 2), (3, 1)])
    await online(routing, 1, 2, 3)
    assert await routing.pair(1, 5) is None
    assert await routing.pair(2, 5) == Pairing(3)


async def test_an_unavailable_account_is_taken_only_while_it_waits(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2, 3)
    await routing.set_available(2, False)
    await routing.set_available(3, False)
    await routing.set_available(3, False)
    assert await routing.pair(1, 5) is None
    token = await waits(routing, 2)
    assert await routing.pair(1, 5) == Pairing(2, token)
    await routing.set_available(3, True)
    assert await routing.pair(1, 5) == Pairing(3)


async def test_logging_out_makes_an_account_available_again(shared: Shared) -> None:
    routing = (await shared.open()).routing
    await online(routing, 1, 2)
    await routing.set_available(2, False)
    await routing.forget(2)
    await online(routing, 2)
    assert await routing.pair(1, 5) == Pairing(2)


async def test_concurrent_pairs_with_interests_keep_every_rule(shared: Shared) -> None:
    """50 requesters at once, strict or not, naming interests, against 10 waiting
    accounts with room for 2 each, each waiting twice (one strict entry, one
    not), some blocked: no overbooking, each entry taken once, and strict sides
    only with someone sharing an interest."""
    p1, p2 = await shared.open(), await shared.open()
    topics = ["chess", "go", "jazz", "a|b", "🎉"]
    rng = random.Random(7)
    entries: dict[str, tuple[int, tuple[str, ...], bool]] = {}
    for account in range(1, 11):
        for strict in (True, False):
            named = tuple(rng.sample(topics, rng.randint(0, 3)))
            entries[await waits(p1.routing, account, *named, strict=strict)] = (
                account,
                named,
                strict,
            )
    await p1.routing.load_blocks([(1, 100), (2, 101)])
    requesters = list(range(100, 150))
    await online(p1.routing, *requesters)
    asks = [(tuple(rng.sample(topics, rng.randint(0, 3))), rng.random() < 0.5) for _ in requesters]
    results = await asyncio.wait_for(
        asyncio.gather(
            *(
                (p1, p2)[r % 2].routing.pair(r, 2, interests=named, strict=strict)
                for r, (named, strict) in zip(requesters, asks, strict=True)
            )
        ),
        DEADLINE,
    )
    taken = [(r, ask, c) for r, ask, c in zip(requesters, asks, results, strict=True) if c]
    assert taken
    pairs = [frozenset((r, c.partner_id)) for r, _, c in taken]
    assert len(set(pairs)) == len(pairs)
    assert {frozenset((1, 100)), frozenset((2, 101))}.isdisjoint(pairs)
    assert all(sum(a in p for p in pairs) <= 2 for a in set().union(*pairs))
    tokens = [c.waiter for _, _, c in taken if c.waiter]
    assert len(tokens) == len(set(tokens))
    for _, (named, strict), chosen in taken:
        partner, theirs, their_strict = entries.get(chosen.waiter, (chosen.partner_id, (), False))
        assert partner == chosen.partner_id
        assert chosen.common == tuple(i for i in named if i in theirs)
        assert chosen.common or not (strict or their_strict)
    assert await p1.routing.waiting_count() == len(entries) - len(tokens)


async def test_waiting_again_with_a_token_moves_its_entry_to_the_end(shared: Shared) -> None:
    """What a MATCH past its interest wait does: the same request, not strict now."""
    routing = (await shared.open()).routing
    token = await waits(routing, 2, "chess", strict=True)
    t3 = await waits(routing, 3)
    await routing.wait(2, token, ["chess"], strict=False)
    assert await routing.waiting_count() == 2
    await online(routing, 1, 4, 5)
    assert await routing.pair(1, 5) == Pairing(3, t3)
    assert await routing.pair(4, 5) == Pairing(2, token)
    assert not await routing.stop_waiting(2, token)
    assert await routing.waiting_count() == 0
