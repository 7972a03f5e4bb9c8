"""RemediationFailing on a real Prometheus scraping two real webhook replicas that
share one store: the store-backed attempt counters start at 0, so the first
failed attempt is an increase the rule sees, and the replicas make one alert."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from ruleset import REPO, RULES
from sqlalchemy import insert, select
from support.procs import find_binary, free_port, python_module, running, wait_until

from alert_webhook.db.schema import alert_events, remediation_runs
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.remediation.states import RunStatus
from alert_webhook.store import open_store

pytestmark = pytest.mark.integration
RECORD = "job_playbook:alert_webhook_remediation_attempts_unrecovered:ratio_increase1h"
ALERT = "RemediationFailing"


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]["result"]


def failed_run(url: str, now: float) -> None:
    """A run of playbook restart-demo that acted and failed, written as a runner
    would leave it, for an alert no playbook matches (so no runner picks it up)."""
    store = open_store(url)
    alert = {
        "status": "firing", "labels": {"alertname": "Unmatched", "service": "demo"},
        "startsAt": "2026-11-28T09:00:00Z", "fingerprint": "f1",
    }  # fmt: skip
    body = json.dumps({"version": "4", "status": "firing", "receiver": "r", "groupKey": "g",
                       "alerts": [alert]}).encode()  # fmt: skip
    store.record_notification(parse_notification(body), body, now)
    with store.engine.begin() as conn:
        event_id, alert_id = conn.execute(select(alert_events.c.id, alert_events.c.alert_id)).one()
        conn.execute(insert(remediation_runs).values(
            alert_id=alert_id, event_id=event_id, playbook="restart-demo", target="service=demo",
            status=RunStatus.FAILED.value, attempts=1, next_attempt_at=now, planned_at=now,
            started_at=now, finished_at=now + 1, detail="exit status 1",
        ))  # fmt: skip
    store.dispose()


def test_the_first_failed_attempt_fires_once_for_two_replicas(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path}/webhook.sqlite3"
    step = {"action": "run_command", "params": {"argv": [sys.executable, "-c", "1"]}}
    books = {"playbooks": [{"name": "restart-demo", "match": {"alertname": "DemoServiceDown"},
                            "target": ["service"], "actions": [step]}]}  # fmt: skip
    (tmp_path / "playbooks.yml").write_text(yaml.safe_dump(books))
    config = tmp_path / "webhook.yml"
    config.write_text(yaml.safe_dump({
        "store": {"url": store_url},
        "remediation": {"enabled": True, "playbooks_file": str(tmp_path / "playbooks.yml")},
    }))  # fmt: skip
    replicas, prom = [free_port(), free_port()], free_port()
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "meta.yml")],
        "scrape_configs": [{"job_name": "webhook", "static_configs": [
            {"targets": [f"127.0.0.1:{port}" for port in replicas]}]}],
    }))  # fmt: skip
    url = f"http://127.0.0.1:{prom}"
    webhook = [python_module("alert_webhook", "--config", str(config), "--bind", f"127.0.0.1:{p}")
               for p in replicas]  # fmt: skip
    with (
        running("webhook-a", webhook[0], tmp_path, f"http://127.0.0.1:{replicas[0]}/healthz",
                cwd=REPO),
        running("webhook-b", webhook[1], tmp_path, f"http://127.0.0.1:{replicas[1]}/healthz",
                cwd=REPO),
        running("prometheus", [
            find_binary("PROMETHEUS_BIN"), f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{prom}",
        ], tmp_path, ready_url=f"{url}/-/ready"),
    ):  # fmt: skip
        attempts = 'alert_webhook_remediation_attempts_total{playbook="restart-demo"} == 0'
        wait_until(lambda: len(query(url, f"count_over_time(({attempts})[1m:1s])")) == 2,
                   60, "both replicas exporting restart-demo's attempts at 0")  # fmt: skip
        assert query(url, RECORD) == []  # no attempts, no ratio
        failed_run(store_url, time.time())
        firing = f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}'
        wait_until(lambda: query(url, firing) != [], 60, f"{ALERT} firing")
        [alert] = query(url, firing)
        [ratio] = query(url, RECORD)
    assert {k: v for k, v in alert["metric"].items() if k not in ("__name__", "alertstate")} == {
        "alertname": ALERT, "job": "webhook", "playbook": "restart-demo", "severity": "high",
    }  # fmt: skip
    assert float(ratio["value"][1]) == 1.0
