"""Cost of one HTTP probe run against an API that sends rate-limit headers.

    PYTHONPATH=. .venv/bin/python bench/http_probe_run.py [--runs 2000] [--label after]

A loopback API answers every request with the IETF `RateLimit`/`RateLimit-Policy`
fields, the `X-RateLimit-*` trio and `Retry-After`; the real HTTP check (the
probe exporter's runner, a fresh connection per run as in the exporter) probes it
`--runs` times. Prints the median and p90 wall time and the process CPU time per run
(the loopback API runs in this process too, so it counts both sides), and,
where exporters.checks.ratelimit exists, the header reading alone. Writes JSON under
bench/results/. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HEADERS = [
    ("RateLimit-Policy", '"burst";q=100;w=60, "daily";q=1000;w=86400'),
    ("RateLimit", '"burst";r=90;t=30, "daily";r=20;t=3600'),
    ("X-RateLimit-Limit", "5000"),
    ("X-RateLimit-Remaining", "4999"),
    ("X-RateLimit-Reset", str(int(time.time()) + 600)),
    ("Retry-After", "Wed, 21 Oct 2037 07:28:00 GMT"),
]


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b'{"status": "ok"}'
        self.send_response(200)
        for name, value in HEADERS:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--label", default="run")
    args = parser.parse_args()

    from pydantic import TypeAdapter

    from exporters.checks import default_runners
    from exporters.checks.base import Boundaries, Report
    from exporters.probe_config import Check

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    check = TypeAdapter(Check).validate_python({"name": "api", "kind": "http", "url": url})
    runner, ctx = default_runners()["http"], Boundaries()
    walls, cpus, samples = [], [], 0
    try:
        for _ in range(args.runs):
            report = Report(5.0, time.monotonic)
            wall, cpu = time.perf_counter(), time.process_time()
            runner(check, report, ctx)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            samples = len(report.samples)
    finally:
        server.shutdown()
        server.server_close()

    parse_us = None
    try:
        from exporters.checks.ratelimit import read_headroom
    except ImportError:
        pass
    else:
        now, loops = time.time(), 20000
        start = time.perf_counter()
        for _ in range(loops):
            read_headroom(HEADERS, now)
        parse_us = (time.perf_counter() - start) / loops * 1e6

    result = {
        "label": args.label,
        "runs": args.runs,
        "samples_per_run": samples,
        "median_ms": statistics.median(walls) * 1e3,
        "p90_ms": percentile(walls, 0.9) * 1e3,
        "cpu_ms_per_run": statistics.mean(cpus) * 1e3,
        "read_headroom_us": parse_us,
        "python": sys.version.split()[0],
    }
    print(f"{'label':<8} {'runs':>6} {'samples':>8} {'median ms':>10} {'p90 ms':>8} "
          f"{'cpu ms':>7} {'headers us':>11}")  # fmt: skip
    print(
        f"{args.label:<8} {args.runs:>6} {samples:>8} {result['median_ms']:>10.3f} "
        f"{result['p90_ms']:>8.3f} {result['cpu_ms_per_run']:>7.3f} "
        f"{'-' if parse_us is None else f'{parse_us:.1f}':>11}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"http_probe_run-{args.label}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
