"""The parts of the bench that need no server: latency histograms and their
merge, the split of users over processes, the frames of both dialects, the
report's ratios and notes, the server log's tail."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from pairchat.bench import wire
from pairchat.bench.driver import TargetResult, split_users
from pairchat.bench.report import notes, ratios
from pairchat.bench.stats import Histogram, LatencySummary, Tally, bucket_of, merge_tallies
from pairchat.bench.systems import log_tail


def exact_percentile(values: list[int], p: float) -> int:
    ordered = sorted(values)
    rank = max(1, -(-int(p * 1000) * len(ordered) // 1000))  # ceil(p * n) for p in 1/1000s
    return ordered[rank - 1]


# --- histogram ------------------------------------------------------------
def test_small_values_are_kept_exactly() -> None:
    hist = Histogram()
    hist.record_many(range(1, 201))
    assert hist.percentile(0.5) == 100
    assert hist.percentile(0.99) == 198
    assert hist.percentile(1.0) == 200
    assert hist.max == 200


def test_percentiles_are_within_one_percent_above_the_exact_value() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(8, 1.5)) for _ in range(20_000)]
    hist = Histogram()
    hist.record_many(values)
    for p in (0.5, 0.9, 0.99, 0.999):
        exact = exact_percentile(values, p)
        assert exact <= hist.percentile(p) <= exact * 1.01, p


def test_merged_histograms_give_the_percentiles_of_all_samples() -> None:
    rng = random.Random(11)
    parts = [[rng.randrange(0, 50_000) for _ in range(3_000)] for _ in range(3)]
    merged = Histogram()
    whole = Histogram()
    for part in parts:
        h = Histogram()
        h.record_many(part)
        merged.merge(h)
        whole.record_many(part)
    assert merged == whole
    assert merged.total == 9_000
    assert merged.max == max(max(p) for p in parts)


def test_a_bucket_never_reports_above_the_maximum() -> None:
    hist = Histogram()
    hist.record(1_000_001)
    assert bucket_of(1_000_001) < 1_000_001
    assert hist.percentile(0.5) == 1_000_001


def test_an_empty_histogram_and_a_bad_percentile() -> None:
    assert Histogram().percentile(0.99) == 0
    assert LatencySummary.of(Histogram()) == LatencySummary(0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        Histogram().percentile(1.5)


def test_tallies_merge_counts_errors_and_latencies() -> None:
    a, b = Tally(sent=3, acked=2, delivered=1), Tally(sent=5, acked=5, delivered=4)
    a.errors["DIALOGUE 8"] = 2
    b.errors.update({"DIALOGUE 8": 1, "disconnected by the server": 1})
    a.latency_us.record(1_500)
    b.latency_us.record(2_500)
    merged = merge_tallies([a, b])
    assert (merged.sent, merged.acked, merged.delivered) == (8, 7, 5)
    assert merged.errors == Counter({"DIALOGUE 8": 3, "disconnected by the server": 1})
    summary = LatencySummary.of(merged.latency_us)
    assert summary.p50 == pytest.approx(1.5, rel=0.01)
    assert (summary.p99, summary.max) == (2.5, 2.5)


# --- users over processes -------------------------------------------------
@pytest.mark.parametrize(("users", "procs"), [(1000, 2), (20, 3), (7, 4), (2, 8)])
def test_users_are_split_into_contiguous_nearly_equal_ranges(users: int, procs: int) -> None:
    ranges = split_users(users, procs)
    assert len(ranges) == min(users, procs)
    assert sum(count for _, count in ranges) == users
    assert [first for first, _ in ranges] == [
        sum(c for _, c in ranges[:i]) for i in range(len(ranges))
    ]
    counts = [count for _, count in ranges]
    assert max(counts) - min(counts) <= 1


# --- frames -----------------------------------------------------------------
def test_a_dialogue_frame_is_valid_json_carrying_its_send_time() -> None:
    raw = wire.PC_DIALOGUE % (7, 42, 9, 123_456_789, wire.padding(100))
    frame = msgspec.json.decode(raw)
    assert frame == {
        "cmd": "DIALOGUE",
        "requestId": "d7",
        "senderId": 42,
        "sessionId": 9,
        "content": frame["content"],
    }
    assert len(frame["content"]) == 100
    assert wire.stamp_of(frame["content"]) == 123_456_789
    with pytest.raises(ValueError):
        wire.padding(wire.MIN_CONTENT - 1)


def test_acknowledgements_follow_the_protocol() -> None:
    assert msgspec.json.decode(wire.PC_ACK_DIALOGUE % (3, 11)) == {
        "cmd": "PUSH_DIALOGUE",
        "code": 0,
        "sessionId": 3,
        "msgId": 11,
    }
    assert msgspec.json.decode(wire.PC_ACK_SIGNAL % (3, b"NewSession")) == {
        "cmd": "PUSH_SIGNAL",
        "code": 0,
        "sessionId": 3,
        "signalType": "NewSession",
    }


def test_socketio_framing_round_trip() -> None:
    raw = wire.SIO_DIALOGUE % (5, 7, 42, 9, 1, wire.padding(20))
    assert raw.startswith(b'425["DIALOGUE",{')
    event, body = msgspec.json.decode(raw[3:])
    assert event == "DIALOGUE" and body["requestId"] == "d7"
    assert wire.sio_request(12, "MATCH", "r3", {"accountId": 4}) == (
        b'4212["MATCH",{"cmd":"MATCH","requestId":"r3","accountId":4}]'
    )

    ack = wire.sio_frame(b'4312[{"cmd":"DIALOGUE","requestId":"d7","code":0,"msgId":4}]')
    assert ack == wire.Frame(cmd="DIALOGUE", request_id="d7", code=0, msg_id=4)
    push = wire.sio_frame(memoryview(b'42["PUSH_DIALOGUE",{"sessionId":9,"msgId":2}]'))
    assert push == wire.Frame(cmd="PUSH_DIALOGUE", session_id=9, msg_id=2)
    assert wire.sio_frame(b"2") == wire.EIO_PONG
    assert wire.sio_frame(b'0{"sid":"x","pingInterval":25000}') == wire.SIO_CONNECT
    assert wire.sio_frame(b'40{"sid":"y"}') is None
    assert wire.sio_connected(b'40{"sid":"y"}')
    assert not wire.sio_connected(b"0{}")


# --- report -----------------------------------------------------------------
def result(name: str, delivered: int, p99_us: int, cpu: list[float]) -> TargetResult:
    tally = Tally(delivered, delivered, delivered)
    tally.latency_us.record_many([p99_us] * 10)
    return TargetResult(name, 10, 10, 10, 0.5, 2.0, tally, cpu)


def test_ratios_divide_pairchat_by_each_baseline_and_scaled_by_embedded() -> None:
    runs = [
        result("pairchat", 30_000, 20_000, [0.5]),
        result("picows relay", 60_000, 10_000, [0.5]),
        result("python-socketio relay", 10_000, 40_000, [0.5]),
    ]
    assert ratios(runs) == {
        "pairchat / picows relay": {"delivered": 0.5, "p99": 2.0},
        "pairchat / python-socketio relay": {"delivered": 3.0, "p99": 0.5},
    }
    assert ratios(runs[1:]) == {}
    scaled = result("pairchat scaled", 15_000, 30_000, [0.5])
    assert ratios([runs[0], scaled]) == {
        "pairchat scaled / pairchat": {"delivered": 0.5, "p99": 1.5}
    }


def test_notes_say_when_the_generator_or_the_machine_was_busy() -> None:
    said = notes([result("pairchat", 1, 1, [0.95, 0.5])], {"load_average_at_start": 2.5})
    assert any("load average 2.5" in n for n in said)
    assert any(
        "pairchat: the load generator may have been the bottleneck (process 0 at 95%" in n
        for n in said
    )
    assert notes([result("pairchat", 1, 1, [0.5, 0.5])], {"load_average_at_start": 0.2}) == []


def test_notes_say_when_other_work_took_cpu_from_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pairchat.bench.driver.os.cpu_count", lambda: 2)
    run = result("pairchat", 1, 1, [0.2])
    run.server_cpu = {"logic": 0.3, "broker-0": 0.2}
    run.machine_busy = 0.9  # 1.8 cores busy, 0.7 of them ours
    assert run.others_cpu == pytest.approx(1.1)
    run.interrupts = 0.2  # 0.4 cores in irq and softirq: the kernel's, not other work
    assert run.others_cpu == pytest.approx(0.7)
    run.interrupts = 0.0
    said = notes([run], {"load_average_at_start": 0.2})
    assert any("other work on the machine used 1.1 of a core" in n for n in said)


def test_a_server_log_tail_shows_each_repeated_line_once(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    log.write_text(
        "pairchat is up\n"
        'ts=2026-01-01T00:00:01Z level=error event="step failed" error=A\n'
        'ts=2026-01-01T00:00:02Z level=error event="request failed" error=B\n'
        'ts=2026-01-01T00:00:03Z level=error event="step failed" error=A\n'
    )
    assert log_tail(log, lines=2).splitlines() == [
        'level=error event="request failed" error=B',
        'level=error event="step failed" error=A (x2)',
    ]
    assert log_tail(tmp_path / "missing.log") == ""
