"""POST /api/remediations/<id>/approve and /reject: an action (the bearer token, or
an operator's session with its CSRF token), recording who; taken once, before
the deadline only; every refusal a clear JSON answer, never a 500."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import test_remediations_api
import yaml
from test_remediations_api import APPEND, AUTH, TOKEN
from webhook_support import (
    SECRET_KEY,
    csrf_token,
    log_in,
    make_alert,
    make_notification,
    with_operator,
)

ENV = {**TOKEN, **SECRET_KEY}
ran = test_remediations_api.ran  # the fixture: the file the playbooks' command appends to


@pytest.fixture
def app(app_factory, tmp_path: Path, ran: Path):
    step = {
        "action": "run_command",
        "params": {"argv": [sys.executable, "-c", APPEND, str(ran), "{labels.service}"]},
    }
    books = [
        {"name": "restore-db", "match": {"alertname": "DbCorrupt"}, "target": ["service"],
         "actions": [step], "require_approval": True, "approval_timeout": "15m"},
        {"name": "restart", "match": {"alertname": "DemoServiceDown"}, "target": ["service"],
         "actions": [step]},
    ]  # fmt: skip
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": books}))
    settings = with_operator({"remediation": {"enabled": True, "playbooks_file": str(path)}})
    return app_factory(settings, ENV)


def fire(app, alertname: str = "DbCorrupt") -> int:
    """Record a firing alert and let the runner look at its run; the run's id."""
    client = app.test_client()
    alert = make_alert(alertname=alertname, service="db")
    assert client.post("/alerts", json=make_notification(alert), headers=AUTH).status_code == 200
    app.extensions["alert_webhook"].workers.step("remediation")
    [run] = client.get("/api/remediations").get_json()["remediations"]
    return int(run["id"])


def runner_step(app) -> None:
    app.extensions["alert_webhook"].workers.step("remediation")


def test_an_approval_needs_the_token_or_a_login(app, ran: Path) -> None:
    run_id = fire(app)
    client = app.test_client()
    refused = client.post(f"/api/remediations/{run_id}/approve")
    assert refused.status_code == 401 and refused.get_json()["error"]
    wrong = client.post(
        f"/api/remediations/{run_id}/approve", headers={"Authorization": "Bearer x"}
    )
    assert wrong.status_code == 401
    assert not ran.exists()


@pytest.mark.integration
def test_approved_with_the_token_it_runs_and_says_who(app, ran: Path) -> None:
    run_id = fire(app)
    client = app.test_client()
    [waiting] = client.get("/api/remediations").get_json()["remediations"]
    assert (waiting["status"], waiting["approval"]) == ("awaiting_approval", "awaiting")
    reply = client.post(f"/api/remediations/{run_id}/approve", headers=AUTH)
    assert reply.status_code == 200
    body = reply.get_json()
    assert (body["status"], body["remediation"]["approval_by"]) == ("approved", "api token")
    runner_step(app)
    [run] = client.get("/api/remediations").get_json()["remediations"]
    assert (run["status"], run["approval"], run["approval_by"]) == (
        "verifying", "approved", "api token",
    )  # fmt: skip
    assert ran.read_text() == "db"
    again = client.post(f"/api/remediations/{run_id}/approve", headers=AUTH)
    assert again.status_code == 409
    assert (
        again.get_json()["error"] == f"remediation run {run_id} was already approved by api token"
    )


def test_a_rejection_needs_a_reason_and_ends_the_run_blocked(app, ran: Path) -> None:
    run_id = fire(app)
    client = app.test_client()
    url = f"/api/remediations/{run_id}/reject"
    for body in ({}, {"reason": "  "}, {"reason": 7}, ["no"]):
        missing = client.post(url, json=body, headers=AUTH)
        assert missing.status_code == 400
        assert missing.get_json() == {"error": "reason: say why the run is rejected"}
    reply = client.post(url, json={"reason": "restoring\nby hand"}, headers=AUTH)
    assert reply.status_code == 200 and reply.get_json()["status"] == "rejected"
    runner_step(app)
    [run] = client.get("/api/remediations").get_json()["remediations"]
    assert (run["status"], run["guardrail"], run["detail"]) == (
        "blocked", "approval", "rejected by api token: restoring by hand",
    )  # fmt: skip
    late = client.post(f"/api/remediations/{run_id}/approve", headers=AUTH)
    assert late.status_code == 409 and "already rejected" in late.get_json()["error"]
    assert not ran.exists()


def test_after_the_deadline_an_approval_is_refused(app, clock, ran: Path) -> None:
    run_id = fire(app)
    client = app.test_client()
    clock.advance(900)
    reply = client.post(f"/api/remediations/{run_id}/approve", headers=AUTH)
    assert reply.status_code == 409
    assert reply.get_json()["error"].startswith(
        f"remediation run {run_id} is past its approval deadline ("
    )
    runner_step(app)
    [run] = client.get("/api/remediations").get_json()["remediations"]
    assert (run["status"], run["detail"]) == ("blocked", "nobody approved within 15m")
    after = client.post(f"/api/remediations/{run_id}/approve", headers=AUTH)
    assert after.status_code == 409 and "nobody approved it in time" in after.get_json()["error"]
    assert not ran.exists()


@pytest.mark.integration
def test_a_run_that_does_not_wait_or_does_not_exist(app) -> None:
    run_id = fire(app, "DemoServiceDown")
    client = app.test_client()
    plain = client.post(f"/api/remediations/{run_id}/approve", headers=AUTH)
    assert plain.status_code == 409
    assert plain.get_json()["error"] == (
        f"remediation run {run_id} is not awaiting approval (it is verifying)"
    )
    for unknown in (run_id + 1, 2**31, 2**63, 2**64, "x"):
        missing = client.post(f"/api/remediations/{unknown}/approve", headers=AUTH)
        assert missing.status_code == 404, unknown
        assert missing.is_json


def test_an_operator_approves_with_the_dashboards_form_and_csrf(app, ran: Path) -> None:
    run_id = fire(app)
    client = app.test_client()
    log_in(client)
    url = f"/api/remediations/{run_id}/approve"
    assert client.post(url, data={}).status_code == 400  # no CSRF token: refused
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 400
    token = csrf_token(client.get("/").get_data(as_text=True))
    reply = client.post(url, data={"csrf_token": token})
    assert reply.status_code == 303
    [run] = client.get("/api/remediations").get_json()["remediations"]
    assert (run["approval"], run["approval_by"]) == ("approved", "alice")


def test_a_browser_form_without_a_login_goes_to_the_login_page(app) -> None:
    run_id = fire(app)
    reply = app.test_client().post(f"/api/remediations/{run_id}/reject", data={"reason": "x"})
    assert reply.status_code == 303 and "/login" in reply.headers["Location"]


def test_an_operator_rejects_with_the_form_and_its_reason(app) -> None:
    run_id = fire(app)
    client = app.test_client()
    log_in(client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    url = f"/api/remediations/{run_id}/reject"
    assert client.post(url, data={"csrf_token": token}).status_code == 400  # no reason
    assert client.post(url, data={"csrf_token": token, "reason": "not now"}).status_code == 303
    [run] = client.get("/api/remediations").get_json()["remediations"]
    assert (run["approval"], run["approval_by"], run["approval_reason"]) == (
        "rejected", "alice", "not now",
    )  # fmt: skip


def test_the_preview_says_the_run_would_wait_for_approval(app) -> None:
    client = app.test_client()
    notification = make_notification(make_alert(alertname="DbCorrupt", service="db"))
    [answer] = client.post("/api/plan", json=notification, headers=AUTH).get_json()["alerts"]
    assert (answer["playbook"], answer["would"]) == ("restore-db", "await_approval")


def test_without_remediation_there_is_nothing_to_approve(app_factory) -> None:
    client = app_factory({}, ENV).test_client()
    reply = client.post("/api/remediations/1/approve", headers=AUTH)
    assert reply.status_code == 409
    assert reply.get_json() == {"error": "remediation is not enabled (remediation.enabled)"}
