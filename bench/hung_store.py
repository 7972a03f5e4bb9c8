"""Benchmark a hung PostgreSQL: `/healthz` and `POST /alerts` while the database
is stopped with SIGSTOP under steady Alertmanager-like traffic (issue 26 item 1).

    PYTHONPATH=. .venv/bin/python bench/hung_store.py [--frozen 40] [--senders 12]

Starts a throw-away PostgreSQL (tests/support/postgres.py: needs root and
PostgreSQL's binaries) and the webhook on its real front (`python -m
alert_webhook`, 8 request threads, the default store settings), then runs
`tests/support/traffic.py`: `--senders` threads each posting one distinct alert
per notification and retrying it on 5xx or no answer after 0.5 s, as
Alertmanager does, and probes of `/healthz` and `/readyz` every 0.25 s (client
timeouts: 60 s for a POST, 10 s for a probe). After `--before` seconds every
process of the server is stopped for `--frozen` seconds, then continued.

Per phase (before, frozen, after) and path: p50, p99 and max latency in ms and
the status counts ("none": no answer within the client's timeout); then how
long after the thaw the first notification was stored, whether every alert was
stored exactly once, and how many "store unavailable" lines the webhook logged.
Prints a table and writes JSON under bench/results/. Never part of the tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _timing import write_result  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from support import postgres  # noqa: E402
from support.procs import free_port, python_module, running  # noqa: E402
from support.traffic import ALERTNAME, Sample, Traffic  # noqa: E402

PATHS = ("/healthz", "/readyz", "/alerts")


def _figures(samples: list[Sample]) -> dict[str, Any]:
    if not samples:
        return {"n": 0}
    ms = sorted(s.seconds * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    statuses = Counter("none" if s.status is None else str(s.status) for s in samples)
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p99_ms": p99, "max_ms": ms[-1],
            "statuses": dict(sorted(statuses.items()))}  # fmt: skip


def _stored_once(url: str) -> tuple[int, bool]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            counts = [row[1] for row in conn.execute(
                text("SELECT fingerprint, count(*) FROM alerts WHERE alertname = :n "
                     "GROUP BY fingerprint"), {"n": ALERTNAME})]  # fmt: skip
    finally:
        engine.dispose()
    return len(counts), all(c == 1 for c in counts)


def run(frozen: float, before: float, after: float, senders: int) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="hung-store-") as tmp, postgres.cluster() as pg:
        folder = Path(tmp)
        argv = python_module("alert_webhook", f"--bind=127.0.0.1:{port}")
        env = {"ALERT_WEBHOOK_DATABASE_URL": pg.url}
        with running("webhook", argv, folder, f"{base}/readyz", env=env, cwd=folder) as hook:
            traffic = Traffic(base, senders=senders, post_timeout=60.0, probe_timeout=10.0)
            start = time.monotonic()
            traffic.start()
            time.sleep(before)
            with pg.frozen():
                frozen_at = time.monotonic()
                time.sleep(frozen)
            thawed_at = time.monotonic()
            time.sleep(after)
            end = time.monotonic()
            drained = traffic.stop(timeout=120.0)
            answers = [s.at + s.seconds for s in traffic.samples
                       if s.path == "/alerts" and s.status == 200]  # fmt: skip
            first_stored = min((a for a in answers if a >= thawed_at), default=end)
            log = hook.log()
        stored, once = _stored_once(pg.url)
    phases = {"before": (start, frozen_at), "frozen": (frozen_at, thawed_at),
              "after": (thawed_at, end)}  # fmt: skip
    return {
        "frozen_seconds": frozen,
        "senders": senders,
        "phases": {
            name: {path: _figures(traffic.during(path, *span)) for path in PATHS}
            for name, span in phases.items()
        },  # fmt: skip
        "alerts_begun": traffic.begun,
        "alerts_stored": stored,
        "stored_exactly_once": drained and once and stored == traffic.begun,
        "first_stored_after_thaw_s": round(first_stored - thawed_at, 2),
        "store_unavailable_log_lines": log.count("store unavailable"),
    }


def _table(result: dict[str, Any]) -> str:
    lines = [f"{'phase':8} {'path':9} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}  statuses"]
    for phase, paths in result["phases"].items():
        for path, f in paths.items():
            if not f["n"]:
                continue
            lines.append(f"{phase:8} {path:9} {f['n']:>5} {f['p50_ms']:>9.1f} {f['p99_ms']:>9.1f} "
                         f"{f['max_ms']:>9.1f}  {f['statuses']}")  # fmt: skip
    lines.append(f"alerts begun {result['alerts_begun']}, stored {result['alerts_stored']}, "
                 f"exactly once: {result['stored_exactly_once']}; first stored "
                 f"{result['first_stored_after_thaw_s']} s after the thaw; "
                 f"'store unavailable' log lines: "
                 f"{result['store_unavailable_log_lines']}")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--frozen", type=float, default=40.0, help="seconds the database is stopped"
    )
    parser.add_argument("--before", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=12)
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    args = parser.parse_args()
    if reason := postgres.unavailable():
        print(f"hung_store: {reason}", file=sys.stderr)
        return 1
    result = run(args.frozen, args.before, args.after, args.senders)
    result["label"] = args.label
    print(_table(result))
    print(f"written: {write_result('hung_store', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
