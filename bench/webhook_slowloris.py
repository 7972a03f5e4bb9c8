"""Benchmark the webhook under slowloris: many connections that send their headers
a byte at a time and never finish, while Alertmanager-like clients post alerts.

    .venv/bin/python bench/webhook_slowloris.py [--duration 30] [--slow 200] [--clients 6]

Three phases of `--duration` seconds against one webhook (real SQLite store and
delivery workers, started as `python -m alert_webhook`): an idle run, the same
run with `--slow` connections trickling headers, and an idle run again. Each
posts unique one-alert payloads at full load from `--clients` processes and
probes `/healthz` on a fresh connection every 50 ms. Prints a table against the goals (p99
`/healthz` ≤ 100 ms under slowloris; ingest throughput within 20 % of the idle
runs' mean) and writes JSON under bench/results/. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from webhook_ingest import ROOT, THREADS, free_port, load, start

GOALS = {"p99_healthz_ms": 100.0, "throughput_ratio": 0.8}
PROBE_INTERVAL = 0.05
TRICKLE_INTERVAL = 1.0
SLOW_FROM = ("127.0.0.3", 0)


@contextlib.contextmanager
def slowloris(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections, each sending one more header byte every second, from
    127.0.0.3: the front caps connections per client address, and the ingest
    clients and probes come from 127.0.0.1."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=SLOW_FROM)
        sock.sendall(b"POST /alerts HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
        socks.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(TRICKLE_INTERVAL):
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.sendall(b"a")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield socks
    finally:
        stop.set()
        thread.join()
        for sock in socks:
            sock.close()


def probe_healthz(port: int, until: float, out: list[float], failures: list[str]) -> None:
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
            conn.close()
            if status != 200:
                failures.append(f"status {status}")
        except OSError as exc:
            failures.append(type(exc).__name__)
        out.append(time.perf_counter() - t0)
        time.sleep(PROBE_INTERVAL)


def phase(port: int, duration: float, clients: int, tag: str) -> dict[str, Any]:
    latencies: list[float] = []
    failures: list[str] = []
    prober = threading.Thread(
        target=probe_healthz, args=(port, time.monotonic() + duration, latencies, failures)
    )
    prober.start()
    ingest = load(port, 1, duration, clients, 0, tag, None)
    prober.join()
    latencies.sort()
    return {
        "ingest_requests_per_s": ingest["requests_per_s"],
        "ingest_errors": ingest["errors"],
        "ingest_p99_ms": ingest["p99_ms"],
        "healthz_probes": len(latencies),
        "healthz_failures": len(failures),
        "healthz_p50_ms": 1000 * latencies[len(latencies) // 2],
        "healthz_p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--slow", type=int, default=200, help="slowloris connections")
    parser.add_argument("--clients", type=int, default=6, help="ingest client processes")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-slowloris-"))
    config = {"store": {"url": f"sqlite:///{tmp / 'webhook.sqlite3'}"}}
    (tmp / "webhook.yml").write_text(json.dumps(config))
    port = free_port()
    hook = start(
        [sys.executable, "-m", "alert_webhook", "--config", str(tmp / "webhook.yml"),
         "--bind", f"127.0.0.1:{port}", "--threads", str(THREADS)],
        port, tmp / "webhook.log", None,
    )  # fmt: skip
    try:
        rows = {"idle": phase(port, args.duration, args.clients, "i")}
        with slowloris(port, args.slow):
            rows["slowloris"] = phase(port, args.duration, args.clients, "s")
        rows["idle_after"] = phase(port, args.duration, args.clients, "j")
    finally:
        hook.terminate()
        hook.wait(15)
    # Idle runs before and after: a drift of the machine or the growing store
    # between phases is not charged to the slow clients.
    idle = (rows["idle"]["ingest_requests_per_s"] + rows["idle_after"]["ingest_requests_per_s"]) / 2
    ratio = rows["slowloris"]["ingest_requests_per_s"] / idle
    print(f"{'phase':<12}{'ingest req/s':>14}{'errors':>8}{'healthz p50':>13}"
          f"{'p99 ms':>9}{'probes':>8}{'failed':>8}")  # fmt: skip
    for name, r in rows.items():
        print(f"{name:<12}{r['ingest_requests_per_s']:>14.0f}{r['ingest_errors']:>8}"
              f"{r['healthz_p50_ms']:>13.1f}{r['healthz_p99_ms']:>9.1f}"
              f"{r['healthz_probes']:>8}{r['healthz_failures']:>8}")  # fmt: skip
    print()
    p99 = rows["slowloris"]["healthz_p99_ms"]
    checks = [
        (f"p99 /healthz ms, {args.slow} slow clients", p99, "<=", GOALS["p99_healthz_ms"]),
        ("ingest req/s slowloris/idle mean", ratio, ">=", GOALS["throughput_ratio"]),
    ]
    for label, value, op, goal in checks:
        ok = value >= goal if op == ">=" else value <= goal
        print(f"{label:<38}{value:>10.2f}  goal {op} {goal:<8} {'met' if ok else 'MISSED'}")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"webhook_slowloris-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    settings = {"duration": args.duration, "slow": args.slow, "clients": args.clients}
    summary = {"p99_healthz_ms": p99, "throughput_ratio": ratio}
    out.write_text(
        json.dumps(
            {"phases": rows, "summary": summary, "goals": GOALS, "settings": settings}, indent=2
        )
    )
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
