"""Operations: the operations listener of every process (`pairchat up
--ops-port P`: each child's /healthz and /metrics at P, P+1, ... in the
documented order, printed by `up`), the public broker port's plain /healthz,
and the Prometheus metrics. Brokers count connections, requests and pushes;
logic counts stored messages and the MATCH queue; no label comes from what a
client sends."""

from __future__ import annotations

import asyncio
import json
import re

from .client import is_dialogue
from .harness import TIMEOUT, System, fetch, metric_value, wait_for_metric
from .users import Users

BROKER_METRICS = (
    "pairchat_connections",
    "pairchat_requests_total",
    "pairchat_messages_pushed_total",
    "pairchat_push_latency_seconds",
)
LOGIC_METRICS = ("pairchat_messages_stored_total", "pairchat_match_queue_length")


async def metrics(url: str) -> str:
    status, text = await fetch(url + "/metrics")
    assert status == 200, f"GET {url}/metrics: {status}"
    return text


def value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    found = metric_value(text, name, labels)
    return 0.0 if found is None else found


async def test_the_public_broker_port_serves_healthz_and_no_metrics(system: System) -> None:
    for broker in range(system.broker_count):
        status, body = await fetch(system.broker_http(broker) + "/healthz")
        assert status == 200, (broker, status, body)
        assert json.loads(body)["status"] == "ok"
        status, _ = await fetch(system.broker_http(broker) + "/metrics")
        assert status == 404, (broker, status)


async def test_up_gives_each_child_the_next_ops_port_and_prints_it(system: System) -> None:
    children = system.flags.children()
    printed = re.findall(r"^  (\S+)\s+(http://\S+)", system.output(), re.MULTILINE)
    expected = [
        (name, f"http://127.0.0.1:{system.ops_port + i}") for i, name in enumerate(children)
    ]
    assert printed == expected
    for name, url in expected:
        status, body = await fetch(url + "/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"}), name
        status, text = await fetch(url + "/metrics")
        assert status == 200 and "# TYPE pairchat_connections " in text, name


async def test_metrics_are_served_in_prometheus_format(system: System) -> None:
    for broker in range(system.broker_count):
        text = await metrics(system.broker_ops(broker))
        for name in BROKER_METRICS:
            assert f"# TYPE {name} " in text, (broker, name)
    text = await metrics(system.logic_http)
    for name in LOGIC_METRICS:
        assert f"# TYPE {name} " in text, name


async def test_unknown_commands_add_no_series(users: Users, system: System) -> None:
    """Each frame names a new command; past the burst they are rate limited
    too. Every one counts under cmd="UNKNOWN", so /metrics does not grow."""
    url = system.broker_ops(0)

    def series(text: str) -> int:
        return sum(1 for line in text.splitlines() if line.startswith("pairchat_requests_total{"))

    before = await metrics(url)
    client = await users.connect(broker=0)
    frames = int(system.flags.rate_burst) * 3
    for i in range(frames):
        await client.send_raw(json.dumps({"cmd": f"NO_SUCH_{i}"}))
    last = await client.request_raw(json.dumps({"cmd": "NO_SUCH_LAST", "requestId": "r"}), "r")
    assert last["code"] in (3, 8)
    after = await metrics(url)
    limited = {"cmd": "UNKNOWN", "code": "8"}
    unknown = {"cmd": "UNKNOWN", "code": "3"}
    assert value(after, "pairchat_requests_total", limited) > value(
        before, "pairchat_requests_total", limited
    ), "the burst was not exceeded: the rate limited path was not tried"
    assert value(after, "pairchat_requests_total", unknown) > value(
        before, "pairchat_requests_total", unknown
    )
    assert series(after) <= series(before) + 2
    assert "NO_SUCH" not in after


async def test_connections_gauge_follows_connections(users: Users, system: System) -> None:
    url = system.broker_ops(0) + "/metrics"
    before = value(await metrics(system.broker_ops(0)), "pairchat_connections")
    client = await users.connect(broker=0)
    await client.ping()  # the connection is registered before its first frame is read
    assert value(await metrics(system.broker_ops(0)), "pairchat_connections") == before + 1
    await client.close()
    await wait_for_metric(url, "pairchat_connections", lambda v: v == before)


async def test_a_message_moves_the_counters(users: Users, system: System) -> None:
    pair = await users.pair()
    a_broker, b_broker = 0, 1 % system.broker_count  # users.pair connects round-robin
    dialogue_ok = {"cmd": "DIALOGUE", "code": "0"}
    a_before = await metrics(system.broker_ops(a_broker))
    b_before = await metrics(system.broker_ops(b_broker))
    logic_before = await metrics(system.logic_http)

    await pair.a.send(pair.session_id, "counted")
    await pair.b.expect_push(is_dialogue(pair.session_id, 1))

    a_after = await metrics(system.broker_ops(a_broker))
    b_after = await metrics(system.broker_ops(b_broker))
    logic_after = await metrics(system.logic_http)
    assert (
        value(a_after, "pairchat_requests_total", dialogue_ok)
        == value(a_before, "pairchat_requests_total", dialogue_ok) + 1
    )
    assert (
        value(b_after, "pairchat_messages_pushed_total")
        == value(b_before, "pairchat_messages_pushed_total") + 1
    )
    assert (
        value(b_after, "pairchat_push_latency_seconds_count")
        == value(b_before, "pairchat_push_latency_seconds_count") + 1
    )
    assert (
        value(logic_after, "pairchat_messages_stored_total")
        == value(logic_before, "pairchat_messages_stored_total") + 1
    )


async def test_error_responses_are_counted_by_code(users: Users, system: System) -> None:
    client = await users.connect(broker=0)
    labels = {"cmd": "MATCH", "code": "5"}
    before = value(await metrics(system.broker_ops(0)), "pairchat_requests_total", labels)
    assert (await client.request("MATCH", accountId=1))["code"] == 5
    after = value(await metrics(system.broker_ops(0)), "pairchat_requests_total", labels)
    assert after == before + 1


async def test_match_queue_length_counts_waiters(users: Users, system: System) -> None:
    url = system.logic_http + "/metrics"
    waiter = await users.new()
    pending = await waiter.submit("MATCH", accountId=waiter.account_id)
    await wait_for_metric(url, "pairchat_match_queue_length", lambda v: v == 1)
    other = await users.new()  # comes online during the wait: the waiter takes it
    response = await asyncio.wait_for(pending, TIMEOUT)
    assert (response["code"], response["partnerId"]) == (0, other.account_id)
    await wait_for_metric(url, "pairchat_match_queue_length", lambda v: v == 0)
