"""app/wiring.py's remediation wiring: the playbook file the settings name, checked
at start-up, planned with each state change and run by the `remediation` loop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from webhook_support import make_alert, make_notification

from alert_webhook.app.wiring import load_remediation_playbooks, remediation_from
from alert_webhook.cli.serve import main
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.ingest.intake import Intake
from alert_webhook.ingest.record import RecordResult
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.remediation.guardrails import Candidate, History
from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE


def playbook_file(tmp_path: Path, out: Path) -> Path:
    path = tmp_path / "playbooks.yml"
    code = "import sys; open(sys.argv[1], 'a').write(sys.argv[2])"
    step = {
        "action": "run_command",
        "params": {"argv": [sys.executable, "-c", code, str(out), "{labels.service}"]},
    }
    books = [{"name": "restart", "match": {"alertname": "DemoServiceDown"},
              "target": ["service"], "actions": [step]}]  # fmt: skip
    path.write_text(yaml.safe_dump({"playbooks": books}))
    return path


def test_remediation_is_off_unless_enabled() -> None:
    settings = settings_from_mapping({}, {})
    assert load_remediation_playbooks(settings) is None
    assert remediation_from(settings, None) is None


def test_enabled_without_a_file_loads_the_shipped_playbooks() -> None:
    settings = settings_from_mapping({"remediation": {"enabled": True}}, {})
    playbooks = load_remediation_playbooks(settings)
    assert playbooks is not None
    assert "drain-task-queue" in {p.name for p in playbooks.playbooks}
    assert DEFAULT_PLAYBOOK_FILE.name == "playbooks.yml"


def test_the_settings_dry_run_holds_over_the_file() -> None:
    settings = settings_from_mapping({"remediation": {"enabled": True, "dry_run": True}}, {})
    remediation = remediation_from(settings, load_remediation_playbooks(settings))
    assert remediation is not None
    drain = remediation.book("drain-task-queue")
    assert drain is not None and not drain.dry_run
    decision = remediation.guardrails.decide(Candidate(drain, "job=demo"), History([], 0.0))
    assert (decision.verdict, decision.reason) == ("dry_run", "remediation is in dry-run mode")


def test_a_bad_playbook_file_stops_start_up_with_exit_2(tmp_path: Path, capsys) -> None:
    books = tmp_path / "playbooks.yml"
    books.write_text(yaml.safe_dump({"playbooks": [
        {"name": "a", "match": {"x": "y"}, "actions": [{"action": "reboot_world"}]},
        {"name": "a", "actions": []},
    ]}))  # fmt: skip
    config = tmp_path / "webhook.yml"
    config.write_text(
        yaml.safe_dump({"remediation": {"enabled": True, "playbooks_file": str(books)}})
    )
    assert main(["--config", str(config), "--check"], env={}) == 2
    err = capsys.readouterr().err
    assert f"{books}: playbooks[0].actions[0].action: unknown action 'reboot_world'" in err
    assert f"{books}: playbooks[1].name: duplicate of playbooks[0]" in err


@pytest.mark.integration
def test_the_app_plans_with_the_state_change_and_the_loop_runs_it(
    app_factory, tmp_path: Path
) -> None:
    out = tmp_path / "ran"
    settings = {
        "remediation": {"enabled": True, "playbooks_file": str(playbook_file(tmp_path, out))}
    }
    app = app_factory(settings)
    context = app.extensions["alert_webhook"]
    client = app.test_client()
    reply = client.post("/alerts", json=make_notification(make_alert(service="demo")))
    assert reply.status_code == 200
    assert [r["status"] for r in context.store.runs.list()] == ["planned"]
    assert context.workers.step("remediation") == 1
    assert out.read_text() == "demo"
    # It worked; its check against Prometheus is due once the stabilisation passed.
    assert [r["status"] for r in context.store.runs.list()] == ["verifying"]


def test_without_remediation_there_is_no_loop_and_nothing_is_planned(app_factory) -> None:
    app = app_factory()
    context = app.extensions["alert_webhook"]
    app.test_client().post("/alerts", json=make_notification(make_alert(service="demo")))
    assert "remediation" not in context.workers.loops
    assert context.store.count("remediation_runs") == 0


class _Writer:
    def __init__(self, result: RecordResult) -> None:
        self.result = result

    def record(self, _incoming: object) -> RecordResult:
        return self.result


def test_intake_wakes_the_remediation_loop_only_for_planned_runs() -> None:
    woken: list[str] = []
    for planned in (0, 2):
        intake = Intake(
            _Writer(RecordResult(1, 1, 1, planned_runs=planned)),  # type: ignore[arg-type]
            create_metrics(),
            lambda: woken.append("deliveries"),
            lambda: 0.0,
            wake_remediation=lambda: woken.append("remediation"),
        )
        intake.accept(None, b"", 0.0)  # type: ignore[arg-type]
    assert woken == ["remediation"]
