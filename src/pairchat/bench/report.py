"""The end of a run: the machine it ran on, a rich table of every target, the
ratios of pairchat to the baselines, and the same as a JSON document."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pairchat.bench.driver import BUSY_SHARE, TargetResult, Workload

# A load average above this at the start means other work shared the CPUs.
BUSY_LOAD = 1.5
# Above this share of all CPUs busy, the generator and the server competed for them.
SATURATED = 0.9
# Other work using more than this many cores while measuring skewed the result.
OTHERS_CPU = 0.2


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count() or 0,
        "cpu_model": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def ratios(results: list[TargetResult]) -> dict[str, dict[str, float]]:
    """Delivered msgs/s and p99 latency of each pairchat run divided by each
    baseline's, and of the scaled mode by the embedded one's, keyed "a / b"."""
    ours = [r for r in results if r.name.startswith("pairchat")]
    bases = [r for r in results if not r.name.startswith("pairchat")]
    pairs = [(a, b) for a in ours for b in bases]
    embedded = next((r for r in ours if r.name == "pairchat"), None)
    pairs += [(r, embedded) for r in ours if embedded is not None and r is not embedded]
    out: dict[str, dict[str, float]] = {}
    for a, b in pairs:
        rate, p99 = b.per_second(b.tally.delivered), b.latency_ms.p99
        out[f"{a.name} / {b.name}"] = {
            "delivered": round(a.per_second(a.tally.delivered) / rate, 3) if rate else 0.0,
            "p99": round(a.latency_ms.p99 / p99, 3) if p99 else 0.0,
        }
    return out


def notes(results: list[TargetResult], machine: dict[str, Any], chatting: bool = True) -> list[str]:
    """What the reader must know to trust the numbers (`chatting`: False for an
    idle run, whose memory figures CPU contention does not change)."""
    said: list[str] = []
    load = float(machine.get("load_average_at_start", 0.0))
    if load > BUSY_LOAD:
        said.append(f"the machine was shared: load average {load} when the run started")
    for r in results:
        busy = [
            f"process {i} at {share:.0%}"
            for i, share in enumerate(r.generator_cpu)
            if share > BUSY_SHARE
        ]
        if busy:
            said.append(
                f"{r.name}: the load generator may have been the bottleneck "
                f"({', '.join(busy)} of a core)"
            )
        if not chatting:
            if r.connected < r.users:
                said.append(f"{r.name}: only {r.connected} of {r.users} users signed in")
            continue
        if r.others_cpu > OTHERS_CPU:
            said.append(
                f"{r.name}: other work on the machine used {r.others_cpu:.1f} of a core "
                "while measuring: this result is lower than the machine can do"
            )
        if r.machine_busy > SATURATED:
            said.append(
                f"{r.name}: the machine's CPUs were {r.machine_busy:.0%} busy while "
                "measuring: the load generator and the server competed for them"
            )
        if r.matched < r.users:
            said.append(f"{r.name}: only {r.matched} of {r.users} users were matched")
    return said


def target_dict(r: TargetResult) -> dict[str, Any]:
    lat = r.latency_ms
    return {
        "users": r.users,
        "connected": r.connected,
        "matched": r.matched,
        "match_seconds": round(r.match_seconds, 3),
        "seconds": round(r.seconds, 3),
        "sent": r.tally.sent,
        "acked": r.tally.acked,
        "delivered": r.tally.delivered,
        "sent_per_s": round(r.per_second(r.tally.sent)),
        "acked_per_s": round(r.per_second(r.tally.acked)),
        "delivered_per_s": round(r.per_second(r.tally.delivered)),
        "latency_ms": {"p50": lat.p50, "p90": lat.p90, "p99": lat.p99, "max": lat.max},
        "errors": dict(sorted(r.tally.errors.items())),
        "server_peak_rss_kib": r.server_peak_rss_kib,
        "server_rss_start_kib": r.server_rss_start_kib,
        "server_rss_end_kib": r.server_rss_end_kib,
        "server_rss_per_user_kib": {k: round(v, 2) for k, v in r.rss_per_user_kib().items()},
        "server_cpu": {k: round(v, 3) for k, v in r.server_cpu.items()},
        "server_cpu_per_message_us": round(r.server_cpu_per_message_us, 1),
        "generator_cpu": [round(share, 3) for share in r.generator_cpu],
        "generator_busy": r.generator_busy,
        "machine_cpu_busy": round(r.machine_busy, 3),
        "interrupts_cpu": round(r.interrupts * (os.cpu_count() or 1), 3),
        "others_cpu": round(r.others_cpu, 3),
    }


def report_dict(
    workload: Workload, target_desc: str, results: list[TargetResult], machine: dict[str, Any]
) -> dict[str, Any]:
    return {
        "machine": machine,
        "workload": {
            "target": target_desc,
            "users": workload.users,
            "sessions": workload.users // 2,
            "loop": workload.loop,
            "window": workload.window,
            "rate": workload.rate,
            "duration": workload.duration,
            "warmup": workload.warmup,
            "size": workload.size,
            "procs": workload.procs,
            "idle": not workload.match,
        },
        "targets": {r.name: target_dict(r) for r in results},
        "ratios": ratios(results) if workload.match else {},
        "notes": notes(results, machine, workload.match),
    }


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def render(console: Console, report: dict[str, Any]) -> None:
    m, w = report["machine"], report["workload"]
    machine = (
        f"{m['cpus']} x {m['cpu_model']}, {m['memory_gib']} GiB, "
        f"load {m['load_average_at_start']}; target: {w['target']}"
    )
    if w["idle"]:
        console.print(
            f"[bold]pairchat bench[/]: {w['users']} idle users held "
            f"{w['duration']:g} s, {w['procs']} generator processes; {machine}"
        )
    else:
        console.print(
            f"[bold]pairchat bench[/]: {w['users']} users in {w['sessions']} sessions, "
            f"{w['loop']}, {w['size']}-character messages, {w['duration']:g} s after "
            f"{w['warmup']:g} s of warmup, {w['procs']} generator processes; {machine}"
        )
    targets: dict[str, dict[str, Any]] = report["targets"]
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    for name in targets:
        table.add_column(name, justify="right")

    def row(label: str, fmt: Any) -> None:
        table.add_row(label, *(fmt(t) for t in targets.values()))

    if w["idle"]:
        row("idle users signed in", lambda t: f"{t['connected']}")
        row("time to sign all in", lambda t: f"{t['match_seconds']:.2f} s")
    else:
        row("users connected / matched", lambda t: f"{t['connected']} / {t['matched']}")
        row("time to match all users", lambda t: f"{t['match_seconds']:.2f} s")
        row("sent / s", lambda t: f"{t['sent_per_s']:,}")
        row("acknowledged / s", lambda t: f"{t['acked_per_s']:,}")
        row("delivered / s", lambda t: f"[bold]{t['delivered_per_s']:,}[/]")
        for p in ("p50", "p90", "p99", "max"):
            row(f"send-to-push {p}", lambda t, p=p: f"{t['latency_ms'][p]:.2f} ms")
    row("errors", lambda t: ", ".join(f"{k}: {v}" for k, v in t["errors"].items()) or "none")
    row(
        "server peak RSS",
        lambda t: "\n".join(f"{k} {_mib(v)}" for k, v in t["server_peak_rss_kib"].items()) or "-",
    )
    row(
        "server RSS growth per user",
        lambda t: (
            "\n".join(f"{k} {v:.1f} KiB" for k, v in t["server_rss_per_user_kib"].items()) or "-"
        ),
    )
    row(
        "server CPU (of a core)",
        lambda t: "\n".join(f"{k} {v:.0%}" for k, v in t["server_cpu"].items()) or "-",
    )
    if not w["idle"]:
        row("server CPU per message", lambda t: f"{t['server_cpu_per_message_us']:.0f} µs")
    row(
        "generator CPU (of a core)",
        lambda t: " ".join(f"{share:.0%}" for share in t["generator_cpu"]),
    )
    row("machine CPUs busy", lambda t: f"{t['machine_cpu_busy']:.0%}")
    row("kernel interrupts (of a core)", lambda t: f"{t['interrupts_cpu']:.0%}")
    row("other work (of a core)", lambda t: f"{t['others_cpu']:.0%}")
    console.print(table)
    for pair, r in report["ratios"].items():
        console.print(f"{pair}: delivered x{r['delivered']:.2f}, p99 latency x{r['p99']:.2f}")
    for note in report["notes"]:
        console.print(f"[yellow]note:[/] {note}")
