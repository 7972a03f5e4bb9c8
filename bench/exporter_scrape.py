"""Scrape cost of our system exporter next to node_exporter, quiet and under load.

    .venv/bin/python bench/exporter_scrape.py [--scrapes 300] [--repeats 3]
        [--burners 1] [--interval 15] [--no-gzip] [--prometheus-accept] [--quiet-only]

Both exporters run as real processes on loopback and are scraped alternately the
way Prometheus scrapes (a fresh connection, `Accept-Encoding: gzip`, the whole
body read), the order swapped every round so that both meet the same host load.
Each repeat is two runs back to back: a quiet one, then a loaded one while a
burner process (started and stopped here; `--burners` of them) spins on a core.
For each exporter and run: median and p90 scrape time, CPU the exporter spent per scrape (user +
sys from its own process counters: the figure a noisy machine disturbs least),
resident memory, the series count, and the share of one core it would use at the
given scrape interval (CPU per scrape plus what it burns idle, over the interval).
Then, per run, the ratio of the two medians beside the goal (≤ 1.0 quiet and
loaded, issue 27), the ratio of CPU per scrape, the burners' share of a core and
how busy the whole machine was. Prints a table and writes JSON under
bench/results/. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# What Prometheus 2 asks a target for: ours answers OpenMetrics to it, node_exporter
# 1.5 (OpenMetrics off by default) the text format.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
RATIO_GOAL = 1.0  # our median scrape time over node_exporter's, quiet and loaded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_exporter_binary() -> str:
    explicit = os.environ.get("NODE_EXPORTER_BIN")
    found = explicit or shutil.which("node_exporter") or shutil.which("prometheus-node-exporter")
    if not found:
        sys.exit(
            "node_exporter not found: install prometheus-node-exporter or set NODE_EXPORTER_BIN"
        )
    return found


def scrape(port: int, headers: dict[str, str] | None = None) -> tuple[float, bytes]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics", headers=headers or {"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"port {port} answered {response.status}")
    return time.perf_counter() - start, body


def series_count(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


@dataclass
class Result:
    run: str
    exporter: str
    series: int
    median_ms: float
    p90_ms: float
    cpu_ms_per_scrape: float
    idle_cpu_ms_per_s: float
    rss_mib: float
    core_percent_at_interval: float


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exporter on {port} exited with {proc.returncode}")
        try:
            scrape(port)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"exporter on {port} did not start")


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _spin() -> None:
    while True:
        pass


@contextmanager
def burners(count: int) -> Iterator[list[psutil.Process]]:
    """`count` separate processes, each holding one core busy while the block runs."""
    procs = [
        multiprocessing.Process(target=_spin, name=f"burner-{n}", daemon=True) for n in range(count)
    ]
    for proc in procs:
        proc.start()
    try:
        time.sleep(0.5 if procs else 0)  # let the scheduler settle them onto cores
        yield [psutil.Process(proc.pid) for proc in procs if proc.pid is not None]
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(timeout=10)


@dataclass
class Run:
    """One quiet or loaded run: both exporters and what the machine was doing."""

    name: str
    results: list[Result]
    median_ratio: float
    cpu_ratio: float
    burners: int
    burner_core_share: float | None  # CPU seconds the burners got per wall second
    machine_busy_percent: float  # all CPUs, every process, during the run
    load_average: tuple[float, float, float]


def idle_cpu(
    exporters: dict[str, tuple[int, subprocess.Popen[bytes]]],
    seconds: float,
    headers: dict[str, str],
) -> dict[str, float]:
    """CPU seconds per second each exporter burns between scrapes, after a warm-up."""
    procs = {name: psutil.Process(p.pid) for name, (_, p) in exporters.items()}
    for port, _ in exporters.values():
        for _ in range(20):  # warm-up: imports, caches, first allocation
            scrape(port, headers)
    start = {name: cpu_seconds(p) for name, p in procs.items()}
    time.sleep(seconds)
    return {name: (cpu_seconds(p) - start[name]) / seconds for name, p in procs.items()}


def measure(
    name: str,
    exporters: dict[str, tuple[int, subprocess.Popen[bytes]]],
    scrapes: int,
    interval: float,
    idle: dict[str, float],
    headers: dict[str, str],
    burner_count: int,
) -> Run:
    procs = {name: psutil.Process(p.pid) for name, (_, p) in exporters.items()}
    order = list(exporters)
    durations: dict[str, list[float]] = {name: [] for name in exporters}
    with burners(burner_count) as burn:
        machine_start = psutil.cpu_times()
        burn_start = sum(cpu_seconds(p) for p in burn)
        cpu_start = {name: cpu_seconds(p) for name, p in procs.items()}
        wall_start = time.perf_counter()
        for round_ in range(scrapes):
            # Interleaved, and the order swapped each round, so both meet the same load.
            for exporter in order if round_ % 2 == 0 else reversed(order):
                durations[exporter].append(scrape(exporters[exporter][0], headers)[0])
        wall = time.perf_counter() - wall_start
        cpu = {name: (cpu_seconds(p) - cpu_start[name]) / scrapes for name, p in procs.items()}
        burner_share = (sum(cpu_seconds(p) for p in burn) - burn_start) / wall if burn else None
        machine_end = psutil.cpu_times()
    busy = _busy_percent(machine_start, machine_end)
    results = []
    for exporter, (port, _) in exporters.items():
        ordered = sorted(durations[exporter])
        results.append(
            Result(
                run=name,
                exporter=exporter,
                series=series_count(port),
                median_ms=statistics.median(ordered) * 1000,
                p90_ms=ordered[int(0.9 * (len(ordered) - 1))] * 1000,
                cpu_ms_per_scrape=cpu[exporter] * 1000,
                idle_cpu_ms_per_s=idle[exporter] * 1000,
                rss_mib=procs[exporter].memory_info().rss / (1 << 20),
                core_percent_at_interval=(cpu[exporter] + idle[exporter] * interval)
                / interval
                * 100,
            )
        )
    ours, node = results
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return Run(
        name=name,
        results=results,
        median_ratio=ours.median_ms / node.median_ms,
        cpu_ratio=ours.cpu_ms_per_scrape / node.cpu_ms_per_scrape,
        burners=burner_count,
        burner_core_share=burner_share,
        machine_busy_percent=busy,
        load_average=(load[0], load[1], load[2]),
    )


def _busy_percent(start: Any, end: Any) -> float:
    """Share of all CPUs' time spent not idle between two psutil.cpu_times()."""
    idle_fields = ("idle", "iowait")
    total = sum(end) - sum(start)
    idle = sum(getattr(end, f, 0.0) - getattr(start, f, 0.0) for f in idle_fields)
    return 100 * (total - idle) / total if total > 0 else float("nan")


def table(runs: list[Run], interval: float) -> str:
    head = (
        f"{'run':<9}{'exporter':<18}{'series':>7}{'median ms':>11}{'p90 ms':>9}"
        f"{'CPU ms/scrape':>15}{'idle CPU ms/s':>15}{'RSS MiB':>9}{f'% core @{interval:g}s':>14}"
    )
    rows = [
        f"{r.run:<9}{r.exporter:<18}{r.series:>7}{r.median_ms:>11.2f}{r.p90_ms:>9.2f}"
        f"{r.cpu_ms_per_scrape:>15.2f}{r.idle_cpu_ms_per_s:>15.3f}{r.rss_mib:>9.1f}"
        f"{r.core_percent_at_interval:>14.3f}"
        for run in runs
        for r in run.results
    ]
    return "\n".join([head, "-" * len(head), *rows])


def verdict_table(runs: list[Run]) -> str:
    """Each run's ratios beside the goal; the machine's state beside them."""
    head = (
        f"{'run':<9}{'median ratio':>13}{'goal':>7}{'':>7}{'CPU/scrape ratio':>18}"
        f"{'burner cores':>13}{'machine busy %':>16}{'load 1m':>9}"
    )
    rows = []
    for run in runs:
        met = "met" if run.median_ratio <= RATIO_GOAL else "MISSED"
        share = f"{run.burner_core_share:.2f}" if run.burner_core_share is not None else "-"
        rows.append(
            f"{run.name:<9}{run.median_ratio:>13.2f}{'≤ ' + format(RATIO_GOAL, 'g'):>7}{met:>7}"
            f"{run.cpu_ratio:>18.2f}{share:>13}{run.machine_busy_percent:>16.1f}"
            f"{run.load_average[0]:>9.2f}"
        )
    return "\n".join([head, "-" * len(head), *rows])


def summary(runs: list[Run]) -> dict[str, dict[str, float]]:
    """Per kind of run (quiet, loaded): the median over repeats of each ratio."""
    kinds: dict[str, list[Run]] = {}
    for run in runs:
        kinds.setdefault(run.name.split("-")[0], []).append(run)
    return {
        kind: {
            "median_ratio": statistics.median(r.median_ratio for r in same),
            "cpu_ratio": statistics.median(r.cpu_ratio for r in same),
            "ours_cpu_ms_per_scrape": statistics.median(
                r.results[0].cpu_ms_per_scrape for r in same
            ),
            "node_cpu_ms_per_scrape": statistics.median(
                r.results[1].cpu_ms_per_scrape for r in same
            ),
        }
        for kind, same in kinds.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scrapes", type=int, default=300, help="per exporter and run")
    parser.add_argument("--repeats", type=int, default=3, help="quiet + loaded pairs")
    parser.add_argument(
        "--interval", type=float, default=15.0, help="scrape interval for the % column"
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument(
        "--no-gzip", dest="gzip", action="store_false", help="ask for identity bodies"
    )
    parser.add_argument(
        "--burners", type=int, default=1, help="spinning processes in a loaded run (one core each)"
    )
    parser.add_argument(
        "--prometheus-accept",
        action="store_true",
        help="send Prometheus 2's Accept header (ours then answers OpenMetrics, node_exporter "
        "1.5 text)",
    )
    parser.add_argument("--quiet-only", action="store_true", help="skip the loaded runs")
    args = parser.parse_args()
    ours_port, node_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ours = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporters.system",
            "--listen",
            f"127.0.0.1:{ours_port}",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    node = subprocess.Popen(
        [node_exporter_binary(), f"--web.listen-address=127.0.0.1:{node_port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    exporters = {"exporters.system": (ours_port, ours), "node_exporter": (node_port, node)}
    headers = {"Accept-Encoding": "gzip" if args.gzip else "identity"}
    if args.prometheus_accept:
        headers["Accept"] = PROMETHEUS_ACCEPT
    runs: list[Run] = []
    try:
        wait_ready(ours_port, ours)
        wait_ready(node_port, node)
        idle = idle_cpu(exporters, args.idle_seconds, headers)
        for repeat in range(1, args.repeats + 1):
            kinds = ("quiet",) if args.quiet_only else ("quiet", "loaded")
            for kind in kinds:  # back to back, so both see the same machine
                run = measure(
                    f"{kind}-{repeat}",
                    exporters,
                    args.scrapes,
                    args.interval,
                    idle,
                    headers,
                    args.burners if kind == "loaded" else 0,
                )
                runs.append(run)
    finally:
        for proc in (ours, node):
            proc.terminate()
            proc.wait(timeout=10)
    overall = summary(runs)
    print(
        f"{args.scrapes} scrapes each per run, interleaved, {'gzip' if args.gzip else 'identity'}"
        f"{', Prometheus Accept' if args.prometheus_accept else ''}, "
        f"on {os.cpu_count()} CPUs; loaded = {args.burners} burner process(es) spinning"
    )
    print(table(runs, args.interval))
    print()
    # The machine's own load decides how far two runs compare, so it goes with them.
    print(verdict_table(runs))
    print()
    print(
        f"{'over repeats (median)':<22}{'median ratio':>13}{'goal':>7}{'':>7}"
        f"{'CPU/scrape ratio':>18}{'ours CPU ms':>13}{'node CPU ms':>13}"
    )
    for kind, figures in overall.items():
        met = "met" if figures["median_ratio"] <= RATIO_GOAL else "MISSED"
        print(
            f"{kind:<22}{figures['median_ratio']:>13.2f}{'≤ ' + format(RATIO_GOAL, 'g'):>7}"
            f"{met:>7}{figures['cpu_ratio']:>18.2f}{figures['ours_cpu_ms_per_scrape']:>13.2f}"
            f"{figures['node_cpu_ms_per_scrape']:>13.2f}"
        )
    print(f"load average before the runs: {' '.join(f'{x:.2f}' for x in load_before)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"exporter_scrape-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "scrapes": args.scrapes,
                "repeats": args.repeats,
                "gzip": args.gzip,
                "prometheus_accept": args.prometheus_accept,
                "burners": args.burners,
                "interval_seconds": args.interval,
                "cpus": os.cpu_count(),
                "load_average_before": list(load_before),
                "ratio_goal": RATIO_GOAL,
                "summary": overall,
                "runs": [asdict(run) for run in runs],
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
