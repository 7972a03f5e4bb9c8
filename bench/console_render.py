"""Render cost of the incident console with a busy store.

    .venv/bin/python bench/console_render.py [--alerts 1000] [--deliveries 10000]
        [--renders 20] [--polls 200] [--interval 5]

Fills a fresh SQLite store (a file, as the webhook runs it) with `--alerts` firing
alerts over 100 services, each with its incident, and `--deliveries` deliveries
spread over them. Times the server-side render of `/` (goal: 200 ms or less), then
the live update: `--polls` requests of `GET /api/console` with the ETag of the
previous answer, the app's clock moving on by the poll interval before each (the
store unchanged, as most polls find it; the fragment is rendered again when the
minute changes, for its relative times); their process CPU time per poll divided
by the poll interval is the webhook's CPU per second per open page (goal: 5 ms/s
or less). Prints a table and writes JSON under bench/results/. Never part of the
test suite.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _timing import summary, timed, write_result  # noqa: E402

from alert_webhook import create_app  # noqa: E402
from alert_webhook.config.settings import settings_from_mapping  # noqa: E402
from alert_webhook.db.schema import alert_events, alerts, deliveries, incidents, notifications  # noqa: E402
from alert_webhook.metrics.registry import create_metrics  # noqa: E402
from alert_webhook.store import open_store  # noqa: E402

NOW = 1_800_000_000.0
SEVERITIES = ["critical", "high", "medium", "low"]
CHANNELS = [("email", "ops@example.org"), ("sms", "+15550100"), ("dashboard", "dashboard")]
STATES = ["delivered"] * 6 + ["skipped", "failed", "escalated", "pending"]


def fill(store, alert_count: int, delivery_count: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(notifications.insert(), [{
            "id": 1, "received_at": NOW, "receiver": "r", "status": "firing", "group_key": "g",
            "alert_count": 1, "truncated_alerts": 0, "body": "{}",
        }])  # fmt: skip
        alert_rows, events, incident_rows = [], [], []
        for i in range(1, alert_count + 1):
            at = NOW - i * 7.0
            severity = SEVERITIES[i % 4]
            labels = {"alertname": f"Alert{i % 9}", "severity": severity,
                      "service": f"svc{i % 100}", "instance": f"host{i % 100}:8080"}  # fmt: skip
            alert_rows.append({
                "id": i, "fingerprint": f"{i:016x}", "starts_at": "2027-01-15T08:00:00Z",
                "status": "firing", "alertname": labels["alertname"], "severity": severity,
                "labels": json.dumps(labels),
                "annotations": json.dumps({"summary": f"alert {i}",
                                           "runbook_url": "https://example.org/rb"}),
                "ends_at": None, "generator_url": "", "first_received_at": at,
                "last_received_at": at, "last_notification_id": 1,
            })  # fmt: skip
            events.append({"id": i, "alert_id": i, "status": "firing", "received_at": at,
                           "notification_id": 1})  # fmt: skip
            incident_rows.append({"alert_id": i, "severity": severity, "opened_at": at,
                                  "deadline_at": at + 3600, "tier": 1, "reminders": 0})  # fmt: skip
        conn.execute(alerts.insert(), alert_rows)
        conn.execute(alert_events.insert(), events)
        conn.execute(incidents.insert(), incident_rows)
        rows = []
        for d in range(delivery_count):
            alert = d % alert_count + 1
            channel, recipient = CHANNELS[d % len(CHANNELS)]
            rows.append({
                "alert_id": alert, "event_id": alert, "event_status": "firing",
                "channel": channel, "recipient": f"{d}-{recipient}", "purpose": "notify",
                "status": STATES[d % len(STATES)], "attempts": 1, "next_attempt_at": NOW,
                "received_at": NOW - d, "finished_at": NOW - d + 1,
            })  # fmt: skip
        conn.execute(deliveries.insert(), rows)


class Clock:
    """The app's clock, moved on by the bench as time passes between polls."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def poll(client, clock: Clock, polls: int, interval: float) -> tuple[Counter[int], float]:
    """`polls` live updates `interval` seconds apart, each with the last ETag, as
    console.js sends them: how they were answered, and the CPU milliseconds each."""
    etag = client.get("/api/console").headers["ETag"]
    statuses: Counter[int] = Counter()
    cpu_start = time.process_time()
    for _ in range(polls):
        clock.now += interval
        resp = client.get("/api/console", headers={"If-None-Match": etag})
        statuses[resp.status_code] += 1
        etag = resp.headers["ETag"]
    return statuses, (time.process_time() - cpu_start) * 1000 / polls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--interval", type=float, default=5.0, help="the page's poll, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/webhook.sqlite3")
        store.create_schema()
        fill(store, args.alerts, args.deliveries)
        clock = Clock(NOW)
        app = create_app(
            settings_from_mapping({}, {}), store=store, metrics=create_metrics(), clock=clock
        )
        client = app.test_client()
        page = client.get("/")
        assert page.status_code == 200, page.status_code
        renders = timed(lambda: client.get("/"), args.renders)
        statuses, cpu_per_poll_ms = poll(client, clock, args.polls, args.interval)
        store.dispose()
    result = {
        "alerts": args.alerts, "deliveries": args.deliveries, "renders": args.renders,
        "polls": args.polls, "interval_s": args.interval, "page_bytes": len(page.data),
        "render_ms": summary(renders), "poll_statuses": dict(statuses),
        "poll_cpu_ms": cpu_per_poll_ms, "cpu_ms_per_s_per_page": cpu_per_poll_ms / args.interval,
        "goals": {"render_ms": 200, "cpu_ms_per_s_per_page": 5},
    }  # fmt: skip
    print(f"{args.alerts} firing alerts, {args.deliveries} deliveries, SQLite on disk")
    print(f"{'':28} {'median':>10} {'p90':>10} {'max':>10}")
    s = result["render_ms"]
    print(f"{'render / (ms)':28} {s['median']:>10.1f} {s['p90']:>10.1f} {s['max']:>10.1f}")
    line = f"{'poll /api/console CPU (ms)':28} {cpu_per_poll_ms:>10.1f}"
    print(f"{line}   statuses {dict(sorted(statuses.items()))}")
    print(f"{'CPU per s per open page':28} {result['cpu_ms_per_s_per_page']:>10.2f} ms/s"
          f" (poll every {args.interval:g} s)")  # fmt: skip
    out = write_result("console_render", result)
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
