"""Render cost of the incident console with a busy store.

    .venv/bin/python bench/console_render.py [--alerts 1000] [--deliveries 10000]
        [--renders 20] [--polls 200] [--interval 5]

Fills a fresh SQLite store (a file, as the webhook runs it) with `--alerts` firing
alerts over 100 services, each with its incident, and `--deliveries` deliveries
spread over them. Times the server-side render of `/` (goal: 200 ms or less), then
the live update: `--polls` requests of `GET /api/console` with the ETag of the
previous answer (the console unchanged, as most polls find it); their process CPU
time per poll divided by the poll interval is the webhook's CPU per second per open
page (goal: 5 ms/s or less). Prints a table and writes JSON under bench/results/.
Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _timing import summary, timed, write_result  # noqa: E402

from alert_webhook import create_app  # noqa: E402
from alert_webhook.metrics import create_metrics  # noqa: E402
from alert_webhook.settings import settings_from_mapping  # noqa: E402
from alert_webhook.store import open_store  # noqa: E402
from alert_webhook.store.schema import (  # noqa: E402
    alert_events,
    alerts,
    deliveries,
    incidents,
    notifications,
)

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
        app = create_app(
            settings_from_mapping({}, {}), store=store, metrics=create_metrics(), clock=lambda: NOW
        )
        client = app.test_client()
        page = client.get("/")
        assert page.status_code == 200, page.status_code
        renders = timed(lambda: client.get("/"), args.renders)
        etag = client.get("/api/console").headers["ETag"]
        cpu_start = time.process_time()
        statuses = {client.get("/api/console", headers={"If-None-Match": etag}).status_code
                    for _ in range(args.polls)}  # fmt: skip
        cpu_per_poll_ms = (time.process_time() - cpu_start) * 1000 / args.polls
        store.dispose()
    result = {
        "alerts": args.alerts, "deliveries": args.deliveries, "renders": args.renders,
        "polls": args.polls, "interval_s": args.interval, "page_bytes": len(page.data),
        "render_ms": summary(renders), "poll_statuses": sorted(statuses),
        "poll_cpu_ms": cpu_per_poll_ms, "cpu_ms_per_s_per_page": cpu_per_poll_ms / args.interval,
        "goals": {"render_ms": 200, "cpu_ms_per_s_per_page": 5},
    }  # fmt: skip
    print(f"{args.alerts} firing alerts, {args.deliveries} deliveries, SQLite on disk")
    print(f"{'':28} {'median':>10} {'p90':>10} {'max':>10}")
    s = result["render_ms"]
    print(f"{'render / (ms)':28} {s['median']:>10.1f} {s['p90']:>10.1f} {s['max']:>10.1f}")
    poll = f"{'poll /api/console CPU (ms)':28} {cpu_per_poll_ms:>10.1f}"
    print(f"{poll}   statuses {sorted(statuses)}")
    print(f"{'CPU per s per open page':28} {result['cpu_ms_per_s_per_page']:>10.2f} ms/s"
          f" (poll every {args.interval:g} s)")  # fmt: skip
    out = write_result("console_render", result)
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
