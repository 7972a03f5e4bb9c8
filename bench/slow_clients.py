"""Benchmark the webhook's front against slowloris from one address (issue 26 item 2).

    .venv/bin/python bench/slow_clients.py [--slow 0,990,1010,2000] [--samples 100] [--label after]

Starts the real webhook (`python -m alert_webhook`, SQLite store) on 127.0.0.1.
For each count of slow connections — all from 127.0.0.1, each sending one more
header line every 2 s and never finishing — it waits one line's interval, then
times `GET /healthz` and `POST /alerts` (one unique alert each), one at a time
on fresh connections from 127.0.0.2 (all of 127/8 is loopback). A request
unanswered within `--timeout` is a failure; after five in a row the phase is
called offline and its remaining samples skipped. Prints a table (p50/p99 over
the answered requests) and writes JSON under bench/results/. Goal: `/healthz`
p99 ≤ 100 ms and every request answered at 2,000 slow connections.
Never part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOTIFICATION = ROOT / "tests" / "fixtures" / "alert_webhook" / "firing-single.json"
SLOW_FROM = "127.0.0.1"
PROBE_FROM = "127.0.0.2"
LINE_INTERVAL = 2.0
GOAL_P99_HEALTHZ_MS = 100.0
OFFLINE_AFTER = 5  # failures in a row


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def webhook(tmp: Path) -> Iterator[int]:
    config = tmp / "webhook.yml"
    config.write_text(json.dumps({"store": {"url": f"sqlite:///{tmp / 'w.sqlite3'}"}}))
    port = free_port()
    argv = [sys.executable, "-m", "alert_webhook", "--config", str(config),
            "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    with open(tmp / "webhook.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if request(port, "GET", "/healthz", timeout=1)[0] == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError((tmp / "webhook.log").read_text())
        yield port
    finally:
        proc.terminate()
        proc.wait(15)


@contextlib.contextmanager
def slowloris(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections from SLOW_FROM, one more header line each every 2 s."""
    socks: list[socket.socket] = []
    stop = threading.Event()

    def trickle() -> None:
        n = 0
        while not stop.wait(LINE_INTERVAL):
            n += 1
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.send(b"X-Slow-%d: a\r\n" % n)

    thread = threading.Thread(target=trickle, daemon=True)
    try:
        for _ in range(count):
            sock = socket.socket()
            socks.append(sock)
            sock.settimeout(2)
            with contextlib.suppress(OSError):
                sock.bind((SLOW_FROM, 0))
                sock.connect(("127.0.0.1", port))
                sock.setblocking(False)
                sock.send(b"POST /alerts HTTP/1.1\r\nHost: bench\r\n")
        thread.start()
        yield socks
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        for sock in socks:
            sock.close()


def request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, float]:
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(PROBE_FROM, 0)
    )
    started = time.perf_counter()
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status, time.perf_counter() - started
    finally:
        conn.close()


def alert_body(n: int, template: dict[str, Any]) -> bytes:
    body = json.loads(json.dumps(template))
    body["alerts"][0]["fingerprint"] = f"slow-bench-{os.getpid()}-{n}"
    body["alerts"][0]["labels"]["instance"] = f"bench-{n}"
    return json.dumps(body).encode()


def percentile(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * q))]


def sample(port: int, samples: int, timeout: float, make: Any) -> dict[str, Any]:
    took: list[float] = []
    failures = in_a_row = 0
    for n in range(samples):
        method, path, body = make(n)
        try:
            status, seconds = request(port, method, path, body, timeout)
            ok = 200 <= status < 300
        except OSError:
            ok, seconds = False, timeout
        if ok:
            took.append(1000 * seconds)
            in_a_row = 0
        else:
            failures += 1
            in_a_row += 1
            if in_a_row >= OFFLINE_AFTER:
                break
    took.sort()
    return {
        "answered": len(took),
        "failed": failures,
        "offline": in_a_row >= OFFLINE_AFTER,
        "p50_ms": percentile(took, 0.5),
        "p99_ms": percentile(took, 0.99),
    }


def phase(port: int, slow: int, samples: int, timeout: float, seq: list[int]) -> dict[str, Any]:
    template = json.loads(NOTIFICATION.read_text())

    def healthz(_n: int) -> tuple[str, str, None]:
        return "GET", "/healthz", None

    def alerts(_n: int) -> tuple[str, str, bytes]:
        seq[0] += 1
        return "POST", "/alerts", alert_body(seq[0], template)

    with slowloris(port, slow):
        time.sleep(LINE_INTERVAL + 0.5)  # every slow connection has sent another line
        row = {
            "slow": slow,
            "healthz": sample(port, samples, timeout, healthz),
            "alerts": sample(port, max(1, samples // 2), timeout, alerts),
        }
    time.sleep(LINE_INTERVAL)  # let the server close its side before the next phase
    return row


def cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--slow", default="0,990,1010,2000", help="slow connection counts")
    parser.add_argument("--samples", type=int, default=100, help="/healthz requests per phase")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per request")
    parser.add_argument("--label", default="run", help="names the run in the JSON (before/after)")
    args = parser.parse_args()
    counts = [int(c) for c in args.slow.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < max(counts) + 512:  # the slow sockets are this process's descriptors
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(counts) + 512, hard), hard))
    tmp = Path(tempfile.mkdtemp(prefix="bench-slow-clients-"))
    seq = [0]
    with webhook(tmp) as port:
        rows = [phase(port, n, args.samples, args.timeout, seq) for n in counts]
    print(f"{'slow conns':>10} | {'healthz p50':>11} {'p99 ms':>8} {'failed':>7} |"
          f" {'alerts p50':>10} {'p99 ms':>8} {'failed':>7}")  # fmt: skip
    for r in rows:
        h, a = r["healthz"], r["alerts"]
        print(f"{r['slow']:>10} | {cell(h['p50_ms']):>11} {cell(h['p99_ms']):>8}"
              f" {h['failed']:>7} | {cell(a['p50_ms']):>10} {cell(a['p99_ms']):>8}"
              f" {a['failed']:>7}")  # fmt: skip
    worst = rows[-1]["healthz"]
    met = (
        worst["p99_ms"] is not None
        and worst["p99_ms"] <= GOAL_P99_HEALTHZ_MS
        and not worst["failed"]
        and not rows[-1]["alerts"]["failed"]
    )
    print(f"\ngoal at {rows[-1]['slow']}: /healthz p99 <= {GOAL_P99_HEALTHZ_MS} ms, "
          f"nothing failed: {'met' if met else 'MISSED'}")  # fmt: skip
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = results / f"slow_clients-{args.label}-{stamp}.json"
    settings = {"samples": args.samples, "timeout": args.timeout, "line_interval": LINE_INTERVAL}
    out.write_text(
        json.dumps(
            {"label": args.label, "phases": rows, "goal_met": met, "settings": settings}, indent=2
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
