"""api/remediations.py: the runs on record, and the preview (`POST /api/plan`) that
runs and stores nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.procs import free_port
from webhook_support import make_alert, make_notification

AUTH = {"Authorization": "Bearer t"}
TOKEN = {"ALERT_WEBHOOK_TOKEN": "t"}
APPEND = "import sys; open(sys.argv[1], 'a').write(sys.argv[2])"


@pytest.fixture
def ran(tmp_path: Path) -> Path:
    return tmp_path / "ran"


@pytest.fixture
def app(app_factory, tmp_path: Path, ran: Path):
    step = {
        "action": "run_command",
        "params": {"argv": [sys.executable, "-c", APPEND, str(ran), "{labels.service}"]},
    }
    books = [
        {"name": "restart", "match": {"alertname": "DemoServiceDown"}, "target": ["service"],
         "actions": [step], "cooldown": "10m"},
        {"name": "tell-only", "match": {"alertname": "PermissionDenied"}, "actions": []},
    ]  # fmt: skip
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": books}))
    return app_factory({"remediation": {"enabled": True, "playbooks_file": str(path)}}, TOKEN)


def preview(client, *alerts: dict[str, Any]) -> Any:
    return client.post("/api/plan", json=make_notification(*alerts), headers=AUTH)


@pytest.mark.integration
def test_runs_are_listed_with_their_steps(app, ran: Path) -> None:
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert(service="demo")), headers=AUTH)
    app.extensions["alert_webhook"].workers.step("remediation")
    body = client.get("/api/remediations").get_json()
    assert body["enabled"] is True
    [run] = body["remediations"]
    # It worked; its check is due once the stabilisation has passed.
    assert (run["playbook"], run["target"], run["status"]) == (
        "restart",
        "service=demo",
        "verifying",
    )
    [step] = run["steps"]
    assert (step["action"], step["status"], step["params"]["argv"][-1]) == (
        "run_command", "succeeded", "demo",
    )  # fmt: skip


def test_the_preview_answers_what_would_run_and_runs_and_stores_nothing(app, ran: Path) -> None:
    client = app.test_client()
    store = app.extensions["alert_webhook"].store
    reply = preview(
        client,
        make_alert("a", service="demo"),
        make_alert("b", alertname="Unmatched"),
        make_alert("c", status="resolved", service="demo"),
        make_alert("d", alertname="PermissionDenied"),
    )
    assert reply.status_code == 200
    run, unmatched, resolved, told = reply.get_json()["alerts"]
    assert (run["playbook"], run["target"], run["would"]) == ("restart", "service=demo", "run")
    assert run["steps"][0]["params"]["argv"][-1] == "demo"
    assert (run["refused"], run["blocked_by"]) == ([], [])
    assert (unmatched["would"], unmatched["reason"]) == ("nothing", "no playbook matches")
    assert resolved["would"] == "nothing" and resolved["playbook"] is None
    assert (told["playbook"], told["would"]) == ("tell-only", "nothing")
    assert not ran.exists()
    assert (store.count("notifications"), store.count("remediation_runs")) == (0, 0)


@pytest.mark.integration
def test_the_preview_names_every_guardrail_that_would_block(app, clock) -> None:
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert(service="demo")), headers=AUTH)
    app.extensions["alert_webhook"].workers.step("remediation")
    clock.advance(30)
    [answer] = preview(client, make_alert("z", service="demo")).get_json()["alerts"]
    assert answer["would"] == "blocked"
    # The first run is still verifying (its stabilisation takes 40s): still acting.
    assert [b["guardrail"] for b in answer["blocked_by"]] == ["one_at_a_time", "cooldown"]
    assert answer["blocked_by"][1]["reason"].startswith("restart acted on service=demo 30s ago")


def test_the_preview_names_the_label_values_it_would_refuse(app) -> None:
    [answer] = preview(app.test_client(), make_alert(service="$(reboot)")).get_json()["alerts"]
    assert answer["would"] == "blocked"
    assert answer["refused"] == [
        "step 0 (run_command): label service='$(reboot)' does not match "
        "^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$ (needed by argv)"
    ]
    assert "params" not in answer["steps"][0]


def test_the_preview_is_an_action_and_checks_its_payload(app) -> None:
    client = app.test_client()
    assert client.post("/api/plan", json=make_notification()).status_code == 401
    bad = client.post("/api/plan", json={"alerts": "no"}, headers=AUTH)
    assert bad.status_code == 400 and bad.get_json()["problems"]
    text = client.post("/api/plan", data="x", headers=AUTH, content_type="text/plain")
    assert text.status_code == 415


def test_without_remediation_the_preview_says_so_and_the_list_is_empty(app_factory) -> None:
    client = app_factory({}, TOKEN).test_client()
    assert client.post("/api/plan", json=make_notification(), headers=AUTH).status_code == 409
    assert client.get("/api/remediations", headers=AUTH).get_json() == {
        "enabled": False, "remediations": [],
    }  # fmt: skip


def test_the_preview_shows_the_precondition_as_prometheus_answers_it_now(
    app_factory, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there: Prometheus is down
    books = [
        {
            "name": "restart",
            "match": {"alertname": "DemoServiceDown"},
            "actions": [{"action": "run_command", "params": {"argv": ["/bin/true"]}}],
            "precondition": {"query": "avg(up) >= 0.8", "reason": "the pool is mostly up"},
        }
    ]
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": books}))
    settings = {"remediation": {"enabled": True, "playbooks_file": str(path),
                                "prometheus_url": f"http://127.0.0.1:{port}"}}  # fmt: skip
    app = app_factory(settings, TOKEN)
    [answer] = preview(app.test_client(), make_alert(service="demo")).get_json()["alerts"]
    assert answer["would"] == "blocked"
    assert answer["precondition"]["holds"] is False
    assert answer["precondition"]["detail"].startswith(
        f"avg(up) >= 0.8: Prometheus at http://127.0.0.1:{port}: unreachable: [Errno"
    )
    [blocked] = answer["blocked_by"]
    assert blocked["guardrail"] == "precondition"
    assert blocked["reason"].startswith("the pool is mostly up: avg(up) >= 0.8: Prometheus at")
