"""Whole bench runs with tiny settings: the command against a spawned embedded
system, and the load generator against each baseline relay."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis

from pairchat.bench import systems
from pairchat.bench.driver import Snapshot, Workload, drive
from pairchat.bench.scaled import up_supports_scaled
from pairchat.ports import free_port_range

# The one constant every wait of this module derives from (seconds).
TIMEOUT: Final = float(os.environ.get("PAIRCHAT_TEST_TIMEOUT", "10"))
# The engines the integration suite uses (.ci/run starts them where installed).
REDIS_URL: Final = os.environ.get("PAIRCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL: Final = os.environ.get(
    "PAIRCHAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def tiny(users: int = 6, window: int = 2, rate: float = 0.0) -> Workload:
    return Workload(
        users=users,
        window=window,
        rate=rate,
        duration=0.5,
        warmup=0.2,
        size=100,
        procs=2,
        setup_timeout=TIMEOUT,
    )


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pairchat", "bench", *args],
        capture_output=True,
        text=True,
        timeout=6 * TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_bench_against_a_spawned_embedded_system(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = bench("--users", "20", "--duration", "1", "--warmup", "0.3", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "delivered / s" in done.stdout
    report = json.loads(out.read_text())
    assert set(report) == {"machine", "workload", "targets", "ratios", "notes"}
    assert report["machine"]["cpus"] == os.cpu_count()
    assert report["workload"]["users"] == 20 and report["workload"]["sessions"] == 10
    assert list(report["targets"]) == ["pairchat"]
    run = report["targets"]["pairchat"]
    assert run["connected"] == run["matched"] == 20
    assert 0 < run["match_seconds"] < TIMEOUT
    assert run["delivered"] > 0 and run["delivered_per_s"] > 0
    assert run["acked"] > 0 and run["sent"] >= run["acked"] - 20 * 1
    assert run["errors"] == {}
    lat = run["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    # The spawned `pairchat up` runs one logic process with broker 0 inside, and
    # the SQLite store's writer process; both were read.
    assert set(run["server_peak_rss_kib"]) == {"logic+broker-0", "sqlite-writer"}
    assert all(kib > 1024 for kib in run["server_peak_rss_kib"].values())
    assert len(run["generator_cpu"]) == report["workload"]["procs"]
    assert report["ratios"] == {}


def test_flags_that_cannot_work_exit_with_2() -> None:
    odd = bench("--users", "3")
    assert odd.returncode == 2 and "even" in odd.stderr
    unknown = bench("--spawn", "embedded,cloud")
    assert unknown.returncode == 2 and "--spawn takes" in unknown.stderr
    # Without a scaled mode in `pairchat up` the bench says so instead of faking
    # one; with it, it asks for the engines' URLs. Either way nothing starts.
    scaled = bench("--spawn", "scaled", "--users", "2", "--redis-url", "", "--database-url", "")
    assert scaled.returncode == 2
    expected = "needs --redis-url" if up_supports_scaled() else "not available"
    assert expected in scaled.stderr


def engines_reachable() -> bool:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=TIMEOUT / 10).ping()
        asyncio.run(_pg_schemas())
    except (OSError, redis.RedisError, asyncpg.PostgresError):
        return False
    return True


async def _pg_schemas() -> set[str]:
    conn = await asyncpg.connect(DATABASE_URL, timeout=TIMEOUT / 10)
    try:
        rows = await conn.fetch("SELECT schema_name FROM information_schema.schemata")
        return {row[0] for row in rows}
    finally:
        await conn.close()


@pytest.mark.skipif(not engines_reachable(), reason="needs Redis and PostgreSQL")
def test_bench_runs_embedded_then_scaled_and_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    schemas, keys = asyncio.run(_pg_schemas()), _bench_keys()
    done = bench(
        "--spawn",
        "embedded,scaled",
        "--users",
        "10",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
        "--redis-url",
        REDIS_URL,
        "--database-url",
        DATABASE_URL,
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert list(report["targets"]) == ["pairchat", "pairchat scaled"]
    scaled = report["targets"]["pairchat scaled"]
    assert scaled["matched"] == 10 and scaled["delivered"] > 0 and scaled["errors"] == {}
    assert {"logic", "worker", "broker-0"} <= set(scaled["server_peak_rss_kib"])
    assert set(report["ratios"]) == {"pairchat scaled / pairchat"}
    # Each run has a schema and key prefix of its own (bench_...), dropped when it ends.
    assert {s for s in asyncio.run(_pg_schemas()) if s.startswith("bench_")} <= schemas
    assert _bench_keys() <= keys


def _bench_keys() -> set[bytes]:
    return set(redis.Redis.from_url(REDIS_URL).scan_iter(match="bench_*", count=1000))


@pytest.mark.parametrize("kind", ["picows", "socketio"])
def test_each_baseline_relay_carries_the_workload(kind: str) -> None:
    seen: list[Snapshot] = []
    with systems.spawned_relay(kind) as target:
        result = drive(target, tiny(), seen.append)
        assert result.server_peak_rss_kib[target.name] > 1024
    assert (result.connected, result.matched) == (6, 6)
    assert result.tally.errors == {}
    assert result.tally.delivered > 0
    assert result.tally.acked > 0
    assert result.latency_ms.p99 > 0
    phases = [s.phase for s in seen]
    assert "measuring" in phases and phases[-1] == "done"


def test_open_loop_sends_at_the_given_rate() -> None:
    per_user, users = 100.0, 4
    with systems.spawned_relay("picows") as target:
        result = drive(target, tiny(users=users, window=0, rate=per_user), lambda _: None)
    expected = per_user * users * 0.5  # over the measured half second
    assert expected * 0.7 <= result.tally.sent <= expected * 1.3
    assert result.tally.errors == {}
    assert result.tally.delivered > 0


def test_idle_users_only_sign_in_and_the_memory_is_read() -> None:
    idle = Workload(
        users=10,
        window=0,
        rate=0.0,
        duration=0.3,
        warmup=0.0,
        size=100,
        procs=2,
        setup_timeout=TIMEOUT,
        match=False,
    )
    with systems.spawned_relay("picows") as target:
        result = drive(target, idle, lambda _: None)
    assert (result.connected, result.matched) == (10, 0)
    assert result.tally.sent == result.tally.delivered == 0
    assert result.tally.errors == {}
    assert set(result.rss_per_user_kib()) == {target.name}


def test_users_that_cannot_connect_are_each_counted_once() -> None:
    nobody = systems.running_system([f"ws://127.0.0.1:{free_port_range(1)}/ws"])
    result = drive(nobody, tiny(users=4), lambda _: None)
    assert (result.connected, result.matched) == (0, 0)
    assert sum(result.tally.errors.values()) == 4
    assert all(kind.startswith("connect: ") for kind in result.tally.errors)
