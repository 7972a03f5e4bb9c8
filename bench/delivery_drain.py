"""Benchmark: how fast does a backlog of deliveries drain, and does the rate hold
as the backlog grows? After an outage (a provider down past its retries, the
webhook stopped while Alertmanager kept retrying) thousands of deliveries wait.

    .venv/bin/python bench/delivery_drain.py [--backlogs 1000,10000,40000]

For each backlog size: a fresh SQLite store, the webhook app in-process, the
backlog recorded as 100-alert notifications whose alerts each have one log
delivery (the log channel: a worker hands it over with no network in the way),
then one delivery lane's worker drains it pass after pass at the default batch
size. Prints deliveries/s per backlog and writes JSON under bench/results/. A
claim that costs the backlog rather than its batch shows as a rate that falls
as the backlog grows. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _timing import write_result  # noqa: E402
from webhook_ingest import body  # noqa: E402

from alert_webhook import create_app  # noqa: E402
from alert_webhook.config.settings import Settings  # noqa: E402

PER_NOTIFICATION = 100
# The ingest bench's alerts, every one of them to the log channel only.
ROUTING = {"routes": [{"match": {"alertname": "BenchAlert"}, "channels": ["log"]}]}


def drain(backlog: int) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="bench-drain-")
    settings = Settings.model_validate(
        {"store": {"url": f"sqlite:///{folder}/webhook.sqlite3"}, "routing": ROUTING}
    )
    app = create_app(settings)
    client = app.test_client()
    headers = {"Content-Type": "application/json"}  # on loopback: no token needed
    for n in range(backlog // PER_NOTIFICATION):
        answer = client.post("/alerts", data=body("drain", n, PER_NOTIFICATION), headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"recording the backlog failed: {answer.status_code} {answer.data!r}")
    worker = app.extensions["alert_webhook"].workers.loops["deliveries"].step
    start, done = time.perf_counter(), 0
    while claimed := worker():
        done += claimed
    seconds = time.perf_counter() - start
    if done != backlog:
        raise SystemExit(f"drained {done} deliveries of {backlog}")
    return {"backlog": backlog, "seconds": seconds, "deliveries_per_s": done / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backlogs", default="1000,10000,40000", help="comma-separated sizes")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the log channel's lines: a backlog's worth
    rows = [drain(int(size)) for size in args.backlogs.split(",")]
    print(f"{'backlog':>9}{'seconds':>10}{'deliveries/s':>15}")
    for row in rows:
        print(f"{row['backlog']:>9}{row['seconds']:>10.2f}{row['deliveries_per_s']:>15.0f}")
    out = write_result("delivery_drain", {"rows": rows, "cpus": os.cpu_count()})
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
