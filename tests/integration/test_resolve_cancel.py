"""Cancel-on-resolve with a real Prometheus verification: a real Prometheus
scrapes a tiny exporter (`demo_up`) each second and sends its real DemoDown
alert (with its generatorURL) to a loopback receiver; the test records that
alert as Alertmanager would hand it over, and the real runner, on the real
clock, acts through an in-memory action and checks through `HttpPrometheus`.
The alert resolves while the run waits to verify, or while it is planned: the
run's ending is asserted, and that its next step never ran."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from support.loopback import Replying, serving
from support.procs import find_binary, free_port, running, wait_until

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.routing import Router
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
)
from alert_webhook.remediation.escalation import Escalation
from alert_webhook.remediation.guardrails import default_guardrails
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from alert_webhook.remediation.runner import Remediation, Runner
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.remediation.verify import Checks, HttpPrometheus
from alert_webhook.store import SqlStore, open_store

pytestmark = pytest.mark.integration

RULES = {"groups": [{"name": "demo", "interval": "1s", "rules": [
    {"alert": "DemoDown", "expr": "demo_up == 0", "labels": {"severity": "high"}},
]}]}  # fmt: skip
BOOK = {"name": "restart-demo", "match": {"alertname": "DemoDown"}, "target": ["service"],
        "actions": [{"action": "note", "params": {"word": "first"}},
                    {"action": "note", "params": {"word": "second"}}],
        "verify": {"delay": "1s", "window": "2s"}}  # fmt: skip
CONTACTS = {"channels": {"email": {"recipients": ["oncall@example.org"]}}}


class _Peer(Replying):
    """The exporter (GET /metrics) and the Alertmanager Prometheus posts to."""

    up: ClassVar[int] = 0
    alerts: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.reply(200, f'demo_up{{service="demo"}} {self.up}\n'.encode())

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length", 0))
        type(self).alerts += json.loads(self.rfile.read(length))
        self.reply(200, b"")


class Word(ActionParams):
    word: str


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    _Peer.up, _Peer.alerts = 0, []
    with serving(_Peer) as peer:
        port = free_port()
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(RULES))
        target = {"targets": [f"127.0.0.1:{peer}"]}
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "rules.yml")],
            "scrape_configs": [{"job_name": "demo", "static_configs": [target]}],
            "alerting": {"alertmanagers": [{"api_version": "v2", "static_configs": [target]}]},
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        url = f"http://127.0.0.1:{port}"
        argv = [
            find_binary("PROMETHEUS_BIN"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with running("prometheus", argv, tmp_path, ready_url=f"{url}/-/ready"):
            wait_until(lambda: bool(_Peer.alerts), 60, "Prometheus's DemoDown alert")
            yield url


class Remediating:
    """The webhook's recording and runner over a SQLite store, on the real clock."""

    def __init__(self, tmp_path: Path, prometheus: str) -> None:
        self.store: SqlStore = open_store(f"sqlite:///{tmp_path}/webhook.sqlite3")
        self.store.create_schema()
        self.ran: list[str] = []
        playbooks = playbooks_from_mapping(
            {"playbooks": [BOOK]}, actions={"note": Action("note", Word, self.note)}
        )
        settings = settings_from_mapping(CONTACTS, {})
        tell = Escalation(Router(settings.routing, settings.channels), frozenset({"dashboard"}))
        self.recording = recording_from(
            settings, ["dashboard"], extra=[RemediationPlanner(playbooks, tell)]
        )
        self.prometheus = HttpPrometheus(prometheus)
        remediation = Remediation(playbooks, default_guardrails(), Checks(self.prometheus))
        self.runner = Runner(self.store.runs, remediation, create_metrics(), Boundaries(),
                             time.time, tell=tell, lease_seconds=30)  # fmt: skip
        self.alert = _Peer.alerts[0]

    def note(self, params: Any, timeout: float, boundaries: Boundaries) -> ActionResult:
        self.ran.append(params.word)
        return ActionResult(ActionOutcome.SUCCEEDED, 0, f"{params.word} done", 0.01)

    def record(self, status: str) -> None:
        """Prometheus's alert as Alertmanager's webhook hands it over."""
        a = self.alert
        ends = "0001-01-01T00:00:00Z" if status == "firing" else a["endsAt"]
        alert = {"status": status, "labels": a["labels"], "annotations": a.get("annotations", {}),
                 "startsAt": a["startsAt"], "endsAt": ends, "generatorURL": a["generatorURL"],
                 "fingerprint": "demo-down"}  # fmt: skip
        body = json.dumps({
            "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": status,
            "receiver": "webhook", "groupLabels": {}, "commonLabels": a["labels"],
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "alerts": [alert],
        }).encode()  # fmt: skip
        self.store.record_notification(parse_notification(body), body, time.time(), self.recording)

    def run(self) -> dict[str, Any]:
        [run] = self.store.runs.list()
        return run

    def until_ended(self, timeout: float = 60) -> dict[str, Any]:
        def ended() -> bool:
            self.runner.run_once()
            return self.run()["finished_at"] is not None

        wait_until(ended, timeout, "the run to end", interval=0.2)
        return self.run()


@pytest.fixture
def remediating(tmp_path: Path, prometheus: str) -> Iterator[Remediating]:
    made = Remediating(tmp_path, prometheus)
    yield made
    made.store.dispose()


def test_resolved_while_verifying_and_still_down_ends_cancelled_before_its_next_step(
    remediating: Remediating,
) -> None:
    r = remediating
    r.record("firing")
    assert r.runner.run_once() == 1
    assert r.run()["status"] == "verifying" and r.ran == ["first"]
    r.record("resolved")  # e.g. a person resolved it elsewhere; demo_up is still 0
    run = r.until_ended()
    assert (run["status"], run["guardrail"]) == ("cancelled", "resolved")
    assert r.ran == ["first"]  # the second step never ran
    assert run["verify_query"] == "demo_up == 0"  # the real alert's own expression
    assert "not verified: DemoDown's condition still returned 1 series" in run["detail"]
    assert run["detail"].endswith("its alert resolved: step 1 and after were not started")


def test_resolved_while_verifying_because_the_fix_worked_is_verified(
    remediating: Remediating,
) -> None:
    r = remediating
    r.record("firing")
    r.runner.run_once()
    _Peer.up = 1  # the fix worked: Prometheus sees it, and the alert resolves
    wait_until(lambda: not r.prometheus.query("demo_up == 0"), 30, "demo_up to be 1 again")
    r.record("resolved")
    run = r.until_ended()
    assert run["status"] == "verified" and r.ran == ["first"]
    assert "returned nothing of this alert for 2s" in run["detail"]


def test_resolved_while_planned_ends_cancelled_and_nothing_acts(remediating: Remediating) -> None:
    r = remediating
    r.record("firing")
    r.record("resolved")
    assert r.runner.run_once() == 0
    run = r.run()
    assert (run["status"], run["started_at"], r.ran) == ("cancelled", None, [])
