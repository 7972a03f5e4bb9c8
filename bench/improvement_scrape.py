"""Scrape cost of the improvement metrics on a SQLite store with a long history.

    .venv/bin/python bench/improvement_scrape.py [--runs 10000] [--incidents 10000]
        [--days 29] [--scrapes 50]

Fills a fresh SQLite store (a file, WAL mode, as the webhook runs it) with
`--incidents` alert instances, each with its firing and resolved state changes
and an incident (all closed but a tenth of the last two days', a fifth of the
closed ones acknowledged), across 50 services
and the last `--days` (29), and `--runs` remediation runs over 5 playbooks (70 %
recovered, 20 % failed, 10 % blocked or dry runs) with one or two steps each.
Times the first read (all of history, once per process and day), then
`--scrapes` reads of the store (`Recovery.improvement`: the kept totals plus the
rows since the cutoff, one to two days of them) and as many whole expositions of
the collector's families, and prints SQLite's plan of each statement. Prints a
table and writes JSON under bench/results/. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _timing import summary, timed, write_result  # noqa: E402

from alert_webhook.db.schema import (  # noqa: E402
    alert_events,
    alerts,
    incidents,
    notifications,
    remediation_runs,
    remediation_steps,
)
from alert_webhook.reports.improvement import ImprovementCollector  # noqa: E402
from alert_webhook.store import open_store  # noqa: E402

NOW = 1_800_000_000.0
DAY = 86400.0
PLAYBOOKS = ["restart-demo", "failover-db", "refresh-token", "cleanup-disk", "restore-backup"]
RUN_OUTCOMES = ["verified"] * 7 + ["failed"] * 2 + ["blocked", "skipped"]


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def fill(store, incident_count: int, run_count: int, days: float, rng: random.Random) -> None:
    with store.engine.begin() as conn:
        conn.execute(notifications.insert(), [{
            "id": 1, "received_at": NOW, "receiver": "r", "status": "firing", "group_key": "g",
            "alert_count": 1, "truncated_alerts": 0, "body": "{}",
        }])  # fmt: skip
        alert_rows, events, incident_rows = [], [], []
        for i in range(1, incident_count + 1):
            starts = NOW - rng.uniform(0, days * DAY)
            closed = starts < NOW - 2 * DAY or rng.random() < 0.9  # the last 2 days: 10 % firing
            ends = starts + rng.uniform(30, 3600)
            labels = {"alertname": "DemoServiceDown", "service": f"svc{i % 50}",
                      "instance": f"h{i}"}  # fmt: skip
            alert_rows.append({
                "id": i, "fingerprint": f"{i:016x}", "starts_at": iso(starts),
                "status": "resolved" if closed else "firing", "alertname": "DemoServiceDown",
                "severity": "high", "labels": json.dumps(labels), "annotations": "{}",
                "ends_at": iso(ends) if closed else None, "generator_url": "",
                "first_received_at": starts + 5, "last_received_at": ends,
                "last_notification_id": 1,
            })  # fmt: skip
            events.append({"alert_id": i, "status": "firing", "received_at": starts + 5,
                           "notification_id": 1})  # fmt: skip
            if closed:
                events.append({"alert_id": i, "status": "resolved", "received_at": ends,
                               "notification_id": 1})  # fmt: skip
            acked = closed and rng.random() < 0.2
            incident_rows.append({
                "alert_id": i, "severity": "high", "opened_at": starts + 5,
                "deadline_at": starts + 3605, "tier": 1, "reminders": 0,
                "acked_at": starts + 10 if acked else None, "acked_by": "ops" if acked else None,
                "closed_at": ends if closed else None,
            })  # fmt: skip
        conn.execute(alerts.insert(), alert_rows)
        conn.execute(alert_events.insert(), events)
        conn.execute(incidents.insert(), incident_rows)
        runs, steps = [], []
        for r in range(1, run_count + 1):
            alert = alert_rows[(r - 1) % incident_count]
            started = alert["first_received_at"] + 1
            status = rng.choice(RUN_OUTCOMES)
            acted = status not in ("blocked", "skipped")
            runs.append({
                "id": r, "alert_id": alert["id"], "event_id": r, "playbook": rng.choice(PLAYBOOKS),
                "target": f"t{r}", "status": status, "attempts": 1, "next_attempt_at": started,
                "planned_at": started - 1, "started_at": started if acted else None,
                "finished_at": started + rng.uniform(1, 60),
            })  # fmt: skip
            for step in range(2 if status == "failed" else 1 if acted else 0):
                steps.append({
                    "run_id": r, "step": step, "action": "restart_service", "params": "{}",
                    "status": "failed" if status == "failed" else "succeeded",
                    "started_at": started, "finished_at": started + 1, "duration": 1.0,
                })  # fmt: skip
        conn.execute(remediation_runs.insert(), runs)
        if steps:
            conn.execute(remediation_steps.insert(), steps)


def query_plans(store) -> dict[str, list[str]]:
    """SQLite's plan for each statement on the recent stretch: indexes used, scans."""
    statements, plans = store.recovery._statements, {}
    span = {"lo": store.recovery.cutoff(NOW), "hi": 1e18}
    with store.engine.connect() as conn:
        for name in ("recovered", "latest", "runs", "steps", "resolved", "failures"):
            stmt = getattr(statements, name).params(**span)
            sql = stmt.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True})
            plans[name] = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--days", type=float, default=29, help="how far back history reaches")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/webhook.sqlite3")
        store.create_schema()
        fill(store, args.incidents, args.runs, args.days, random.Random(7))
        registry = CollectorRegistry()
        registry.register(ImprovementCollector(store.recovery.improvement, lambda: NOW, PLAYBOOKS))
        first = timed(lambda: store.recovery.improvement(NOW), 1)  # reads all history
        read = timed(lambda: store.recovery.improvement(NOW), args.scrapes)
        exposed = timed(lambda: generate_latest(registry), args.scrapes)
        series = sum(1 for line in generate_latest(registry).decode().splitlines()
                     if line and not line.startswith("#"))  # fmt: skip
        plans = query_plans(store)
        store.dispose()
    result = {
        "runs": args.runs, "incidents": args.incidents, "days": args.days, "scrapes": args.scrapes,
        "series": series, "first_read_ms": first[0], "store_read_ms": summary(read),
        "exposition_ms": summary(exposed),
        "query_plans": plans,
    }  # fmt: skip
    print(f"{args.runs} runs, {args.incidents} incidents over {args.days:g} days, {series} series,"
          f" {args.scrapes} scrapes")  # fmt: skip
    print(f"{'':24} {'median ms':>10} {'p90 ms':>10} {'max ms':>10}")
    for name in ("store_read_ms", "exposition_ms"):
        s = result[name]
        print(f"{name:24} {s['median']:>10.2f} {s['p90']:>10.2f} {s['max']:>10.2f}")
    print(f"{'first read (all history)':24} {first[0]:>10.2f}")
    for name, plan in plans.items():
        print(f"{name}: " + " | ".join(plan))
    out = write_result("improvement_scrape", result)
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
