"""reports/improvement.py's ImprovementCollector: the improvement metrics as Prometheus families,
read at scrape time, and served on the app's /metrics."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from support.loopback import quiet_prometheus
from webhook_support import make_alert, make_notification

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.reports.improvement import ImprovementCollector
from alert_webhook.reports.recovery import (
    ActionAttempts,
    Improvement,
    PlaybookAttempts,
    Resolutions,
    ServiceFailures,
    ServiceRecovery,
)

FOUND = Improvement(
    recoveries=[ServiceRecovery("demo", 3, 90.0, 12.5)],
    playbooks=[PlaybookAttempts("restart", attempts=4, recoveries=3)],
    actions=[ActionAttempts("restart", "run_command", "timed_out", 2)],
    incidents=Resolutions(automated=5, acknowledged=2, unattended=1),
    failures=[ServiceFailures("demo", 4, 1000.0, 11800.0), ServiceFailures("web", 1, 50.0, 50.0)],
)


def registry_with(collector: ImprovementCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_each_recovery_plan_metric_is_a_family_with_its_labels(clock) -> None:
    seen: list[float] = []

    def improvement(now: float) -> Improvement:
        seen.append(now)
        return FOUND

    value = registry_with(ImprovementCollector(improvement, clock)).get_sample_value
    assert seen == []  # registered, nothing read yet
    demo, restart = {"service": "demo"}, {"playbook": "restart"}
    assert value("alert_webhook_recovery_seconds_count", demo) == 3
    clock.advance(15)
    assert value("alert_webhook_recovery_seconds_sum", demo) == 90.0
    assert seen == [clock.now - 15, clock.now]  # read at each scrape, at its time
    assert value("alert_webhook_last_recovery_seconds", demo) == 12.5
    assert value("alert_webhook_remediation_attempts_total", restart) == 4
    assert value("alert_webhook_remediation_recoveries_total", restart) == 3
    action = {"playbook": "restart", "action": "run_command", "outcome": "timed_out"}
    assert value("alert_webhook_remediation_action_attempts_total", action) == 2
    resolved = "alert_webhook_incidents_resolved_total"
    assert [value(resolved, {"resolution": r}) for r in ("automated", "acknowledged",
                                                          "unattended")] == [5, 2, 1]  # fmt: skip
    assert value("alert_webhook_service_failures_total", demo) == 4
    between = "alert_webhook_time_between_failures_seconds"
    assert (value(f"{between}_count", demo), value(f"{between}_sum", demo)) == (3, 10800.0)
    # one failure: no time between failures yet, but the series is there
    web = {"service": "web"}
    assert (value(f"{between}_count", web), value(f"{between}_sum", web)) == (0, 0.0)


def test_a_configured_playbook_counts_from_zero_before_its_first_run(clock) -> None:
    collector = ImprovementCollector(lambda now: FOUND, clock, playbooks=["restart", "clean"])
    value = registry_with(collector).get_sample_value
    clean = {"playbook": "clean"}
    assert value("alert_webhook_remediation_attempts_total", clean) == 0
    assert value("alert_webhook_remediation_recoveries_total", clean) == 0
    assert value("alert_webhook_remediation_attempts_total", {"playbook": "restart"}) == 4


def test_an_unavailable_store_leaves_the_families_out_of_that_scrape(clock, caplog) -> None:
    def down(now: float) -> Improvement:
        raise StoreUnavailable("database is locked")

    registry = registry_with(ImprovementCollector(down, clock, playbooks=["restart"]))
    assert list(registry.collect()) == []
    assert "improvement metrics left out of this scrape: database is locked" in caplog.text


@pytest.fixture
def app(app_factory, tmp_path: Path):
    step = {"action": "run_command", "params": {"argv": [sys.executable, "-c", ""]}}
    books = [{"name": "restart", "match": {"alertname": "DemoServiceDown"}, "target": ["service"],
              "actions": [step]}]  # fmt: skip
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": books}))
    with quiet_prometheus() as prometheus:  # each run is verified: its alert is gone
        yield app_factory({"remediation": {"enabled": True, "playbooks_file": str(path),
                                           "prometheus_url": prometheus}})  # fmt: skip


def scrape(app) -> dict[str, float]:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(("alert_webhook_remediation_", "alert_webhook_recovery_",
                            "alert_webhook_incidents_resolved"))
    }  # fmt: skip


@pytest.mark.integration
def test_the_app_serves_what_its_store_recorded(app, clock) -> None:
    """Fired 30 s ago, restarted, verified 40 s later (the default stabilisation),
    resolved: one automated recovery of 70 s."""
    assert scrape(app)['alert_webhook_remediation_attempts_total{playbook="restart"}'] == 0
    starts = datetime.fromtimestamp(clock.now - 30, UTC).isoformat()
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert(service="demo", starts_at=starts)))
    app.extensions["alert_webhook"].workers.step("remediation")
    clock.advance(40)
    app.extensions["alert_webhook"].workers.step("remediation")
    resolved = make_alert(service="demo", status="resolved", starts_at=starts)
    client.post("/alerts", json=make_notification(resolved))
    got = scrape(app)
    assert got['alert_webhook_remediation_attempts_total{playbook="restart"}'] == 1
    assert got['alert_webhook_remediation_recoveries_total{playbook="restart"}'] == 1
    assert got['alert_webhook_recovery_seconds_count{service="demo"}'] == 1
    assert got['alert_webhook_recovery_seconds_sum{service="demo"}'] == pytest.approx(70, abs=1e-3)
    assert got['alert_webhook_incidents_resolved_total{resolution="automated"}'] == 1
    step = 'alert_webhook_remediation_action_attempts_total{action="run_command",outcome="succeeded",playbook="restart"}'  # noqa: E501
    assert got[step] == 1
