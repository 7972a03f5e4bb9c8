"""Scrape cost of our system exporter next to node_exporter, in one run on this machine.

    .venv/bin/python bench/exporter_scrape.py [--scrapes 300] [--interval 15]

Both exporters run as real processes on loopback and are scraped alternately the
way Prometheus scrapes (a fresh connection, `Accept-Encoding: gzip`, the whole
body read). For each: median and p90 scrape time, CPU seconds the exporter spent
per scrape (from its own process counters), resident memory after the run, the
series count, and the share of one core it would use at the given scrape interval
(CPU per scrape plus what it burns idle, over the interval); then the ratio of the
two medians and the load average. Prints a table and writes JSON under
bench/results/. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


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


def scrape(port: int) -> tuple[float, bytes]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
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


def measure(
    exporters: dict[str, tuple[int, subprocess.Popen[bytes]]],
    scrapes: int,
    interval: float,
    idle_seconds: float,
) -> list[Result]:
    procs = {name: psutil.Process(p.pid) for name, (_, p) in exporters.items()}
    for port, _ in exporters.values():
        for _ in range(20):  # warm-up: imports, caches, first allocation
            scrape(port)
    idle_start = {name: cpu_seconds(p) for name, p in procs.items()}
    time.sleep(idle_seconds)
    idle = {name: (cpu_seconds(p) - idle_start[name]) / idle_seconds for name, p in procs.items()}
    durations: dict[str, list[float]] = {name: [] for name in exporters}
    cpu_start = {name: cpu_seconds(p) for name, p in procs.items()}
    for _ in range(scrapes):
        for name, (port, _) in exporters.items():  # alternate, so both meet the same host load
            durations[name].append(scrape(port)[0])
    results = []
    for name, (port, _) in exporters.items():
        cpu = (cpu_seconds(procs[name]) - cpu_start[name]) / scrapes
        ordered = sorted(durations[name])
        results.append(
            Result(
                exporter=name,
                series=series_count(port),
                median_ms=statistics.median(ordered) * 1000,
                p90_ms=ordered[int(0.9 * (len(ordered) - 1))] * 1000,
                cpu_ms_per_scrape=cpu * 1000,
                idle_cpu_ms_per_s=idle[name] * 1000,
                rss_mib=procs[name].memory_info().rss / (1 << 20),
                core_percent_at_interval=(cpu + idle[name] * interval) / interval * 100,
            )
        )
    return results


def table(results: list[Result], interval: float) -> str:
    head = (
        f"{'exporter':<16}{'series':>8}{'median ms':>11}{'p90 ms':>9}{'CPU ms/scrape':>15}"
        f"{'idle CPU ms/s':>15}{'RSS MiB':>9}{f'% core @{interval:g}s':>14}"
    )
    rows = [
        f"{r.exporter:<16}{r.series:>8}{r.median_ms:>11.2f}{r.p90_ms:>9.2f}{r.cpu_ms_per_scrape:>15.2f}"
        f"{r.idle_cpu_ms_per_s:>15.3f}{r.rss_mib:>9.1f}{r.core_percent_at_interval:>14.3f}"
        for r in results
    ]
    return "\n".join([head, "-" * len(head), *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument(
        "--interval", type=float, default=15.0, help="scrape interval for the % column"
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0)
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
    try:
        wait_ready(ours_port, ours)
        wait_ready(node_port, node)
        results = measure(
            {"exporters.system": (ours_port, ours), "node_exporter": (node_port, node)},
            args.scrapes,
            args.interval,
            args.idle_seconds,
        )
    finally:
        for proc in (ours, node):
            proc.terminate()
            proc.wait(timeout=10)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    ratio = results[0].median_ms / results[1].median_ms
    print(f"{args.scrapes} scrapes each, alternating, on {os.cpu_count()} CPUs")
    print(table(results, args.interval))
    # The machine's own load decides how far two runs compare, so it goes with them.
    print(f"median ratio {results[0].exporter}/{results[1].exporter}: {ratio:.2f}")
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"exporter_scrape-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "scrapes": args.scrapes,
                "interval_seconds": args.interval,
                "cpus": os.cpu_count(),
                "load_average": list(load),
                "median_ratio": ratio,
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
