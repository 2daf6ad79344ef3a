"""The rate limit of log lines a client can cause."""

from __future__ import annotations

from pairchat.broker.log_limit import OVERFLOW, LogLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_interval_per_key_then_the_suppressed_count() -> None:
    clock = Clock()
    limiter = LogLimiter(10.0, clock)
    assert limiter.admit("a") == 0
    assert [limiter.admit("a") for _ in range(5)] == [None] * 5
    assert limiter.admit("b") == 0  # keys are independent
    clock.now = 9.9
    assert limiter.admit("a") is None
    clock.now = 10.0
    assert limiter.admit("a") == 6
    clock.now = 25.0
    assert limiter.admit("a") == 0


def test_forget_drops_a_key() -> None:
    limiter = LogLimiter(10.0, Clock())
    assert limiter.admit(1) == 0
    assert limiter.admit(1) is None
    limiter.forget(1)
    limiter.forget(1)
    assert limiter.admit(1) == 0


def test_the_table_is_bounded_stale_keys_go_first_then_new_ones_share_one() -> None:
    clock = Clock()
    limiter = LogLimiter(10.0, clock, max_keys=3)
    assert [limiter.admit(k) for k in "abc"] == [0, 0, 0]
    assert limiter.admit("d") == 0  # the table is full of live keys: d goes to OVERFLOW
    assert limiter.admit("e") is None  # so does e, within OVERFLOW's interval
    assert len(limiter._keys) == 4 and OVERFLOW in limiter._keys
    clock.now = 20.0
    assert limiter.admit("f") == 0  # the stale keys were pruned
    assert set(limiter._keys) == {"f"}
