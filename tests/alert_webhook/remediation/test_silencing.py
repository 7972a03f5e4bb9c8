"""silencing.py through the runner, against a real Alertmanager: the alert is
silenced (equality matchers on its labels) before the first step acts and the
silence is expired when the run ends, whatever the outcome, also by a runner
that takes over a dead one's run; an unreachable Alertmanager blocks nothing."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import am_support
import pytest
import yaml
from support.procs import free_port
from test_runner import APPEND, Harness, book, command
from webhook_support import make_alert, make_notification

from alert_webhook.clients.alertmanager import AlertmanagerAPI, Matcher, Silence
from alert_webhook.remediation.actions.base import Boundaries
from alert_webhook.remediation.runner import Runner
from alert_webhook.remediation.states import StepRecord, StepStatus

pytestmark = pytest.mark.integration
alertmanager = am_support.alertmanager  # the fixture: a real Alertmanager
# Prints the state and the window (seconds) of each silence Alertmanager holds for
# the alert, while the step runs.
STATES = (
    "import json, sys, urllib.request; from datetime import datetime as dt; "
    "got = json.load(urllib.request.urlopen(sys.argv[1], timeout=5)); "
    "print([(s['status']['state'], round((dt.fromisoformat(s['endsAt']) - "
    "dt.fromisoformat(s['startsAt'])).total_seconds())) for s in got])"
)


def silenced(name: str, *steps: dict, **kw: object) -> dict:
    return book(name, *steps, silence_for="10m", **kw)


def harness(store, *books: dict) -> Harness:
    h = Harness(store, list(books))
    h.clock.now = time.time()  # Alertmanager judges a silence's times by its own clock
    return h


def runner(h: Harness, url: str, worker: str = "w1") -> Runner:
    return Runner(
        h.store.runs, h.remediation, h.metrics, Boundaries(), h.clock,
        lease_seconds=30, worker_id=worker, silences=AlertmanagerAPI(url), tell=h.tell,
    )  # fmt: skip


def silences_of(url: str, alertname: str) -> list[Silence]:
    return AlertmanagerAPI(url).list_silences([Matcher("alertname", alertname)])


def test_the_alert_is_silenced_while_the_run_acts_then_expired(store, alertmanager: str) -> None:
    states = f"{alertmanager}/api/v2/silences?filter=alertname%3D%22DemoDown%22"
    h = harness(store, silenced("DemoDown", command(STATES, states)))
    h.fire("DemoDown", service="demo")
    run_ = runner(h, alertmanager)
    assert run_.run_once() == 1
    [silence] = silences_of(alertmanager, "DemoDown")
    assert silence.state == "active"  # held while the run's check is still to come
    h.clock.advance(15)
    assert run_.run_once() == 1
    [run] = h.runs()
    assert run["status"] == "verified"
    # Silenced as the step acted, for the playbook's window (10m).
    assert run["steps"][0]["output"] == "[('active', 600)]\n"
    [silence] = silences_of(alertmanager, "DemoDown")
    assert (silence.id, silence.state, silence.created_by) == (
        run["silence_id"], "expired", "recovery-stack",
    )  # fmt: skip
    assert set(silence.matchers) == {
        Matcher("alertname", "DemoDown"), Matcher("severity", "critical"),
        Matcher("instance", "db1:9100"), Matcher("service", "demo"),
    }  # fmt: skip
    assert silence.comment == f"remediation run {run['id']} (DemoDown) is acting on service=demo"
    assert run["silence_note"] == f"silence {silence.id} expired when the run ended"


def test_a_failed_run_expires_its_silence_too(store, alertmanager: str) -> None:
    h = harness(store, silenced("DemoFails", command("import sys; sys.exit(2)")))
    h.fire("DemoFails", service="demo")
    runner(h, alertmanager).run_once()
    [run] = h.runs()
    [silence] = silences_of(alertmanager, "DemoFails")
    assert (run["status"], silence.id, silence.state) == ("failed", run["silence_id"], "expired")


def test_a_run_taken_over_from_a_dead_runner_expires_the_silence_it_left(
    store, alertmanager: str
) -> None:
    h = harness(store, silenced("DemoDied", command("pass")))
    h.fire("DemoDied", service="demo")
    dead = runner(h, alertmanager, "dead")
    runs = store.runs
    [job] = runs.claim(h.clock(), "dead", 30, 1)
    assert runs.start(job, h.clock(), h.clock() + 30)
    book_ = h.remediation.book("DemoDied")
    assert book_ is not None
    held = dead.silencing.hold(job, book_)
    runs.start_step(held, StepRecord(0, "run_command", {}, StepStatus.STARTED), h.clock(),
                    h.clock() + 30)  # fmt: skip
    [silence] = silences_of(alertmanager, "DemoDied")
    assert silence.state == "active"
    h.clock.advance(31)  # the dead runner's lease runs out
    assert runner(h, alertmanager, "w2").run_once() == 1
    [run] = h.runs()
    assert run["status"] == "failed" and run["detail"].startswith("interrupted")
    [silence] = silences_of(alertmanager, "DemoDied")
    assert (silence.id, silence.state) == (run["silence_id"], "expired")


def test_no_silence_without_silence_for(store, alertmanager: str) -> None:
    h = harness(store, book("DemoQuiet", command("pass")))
    h.fire("DemoQuiet", service="demo")
    runner(h, alertmanager).run_once()
    [run] = h.runs()
    assert (run["status"], run["silence_id"], run["silence_note"]) == ("verifying", None, None)
    assert silences_of(alertmanager, "DemoQuiet") == []


def test_an_unreachable_alertmanager_does_not_block_the_run(
    store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "ran"
    h = harness(store, silenced("DemoDown", command(APPEND, str(out), "{labels.service}")))
    h.fire("DemoDown", service="demo")
    with caplog.at_level(logging.WARNING, "alert_webhook.remediation"):
        runner(h, am_support.unreachable()).run_once()
    [run] = h.runs()
    assert (run["status"], run["silence_id"]) == ("verifying", None)
    assert run["silence_note"].startswith("not silenced: create silence: ConnectionError from")
    assert out.read_text() == "demo\n"
    assert f"remediation run {run['id']} (DemoDown): not silenced" in caplog.text


def test_a_silence_made_after_the_lease_was_lost_is_expired_at_once(
    store, alertmanager: str
) -> None:
    h = harness(store, silenced("DemoLost", command("pass")))
    h.fire("DemoLost", service="demo")
    runs = store.runs
    [job] = runs.claim(h.clock(), "w1", 30, 1)
    h.clock.advance(31)
    assert runs.claim(h.clock(), "w2", 30, 1)  # w1 stalled; its run was taken over
    book_ = h.remediation.book("DemoLost")
    assert book_ is not None
    assert runner(h, alertmanager).silencing.hold(job, book_) == job
    [silence] = silences_of(alertmanager, "DemoLost")
    assert silence.state == "expired"


def test_the_app_silences_through_its_alertmanager_url(
    app_factory, clock, tmp_path: Path, alertmanager: str
) -> None:
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": [silenced("DemoWired", command("pass"))]}))
    clock.now = time.time()
    settings = {
        "links": {"alertmanager_url": alertmanager},
        # Nothing listens there: the check finds Prometheus unreachable until the
        # default deadline (it could not tell the lag either), and the run ends.
        "remediation": {"enabled": True, "playbooks_file": str(path),
                        "prometheus_url": f"http://127.0.0.1:{free_port()}"},
    }  # fmt: skip
    app = app_factory(settings)
    alert = make_alert(alertname="DemoWired", service="demo")
    assert app.test_client().post("/alerts", json=make_notification(alert)).status_code == 200
    app.extensions["alert_webhook"].workers.step("remediation")
    [silence] = silences_of(alertmanager, "DemoWired")
    assert silence.state == "active"
    clock.advance(15)
    app.extensions["alert_webhook"].workers.step("remediation")
    [run] = app.test_client().get("/api/remediations").get_json()["remediations"]
    assert run["status"] == "verifying"  # Prometheus may answer before the deadline
    clock.advance(600)
    app.extensions["alert_webhook"].workers.step("remediation")
    [run] = app.test_client().get("/api/remediations").get_json()["remediations"]
    [silence] = silences_of(alertmanager, "DemoWired")
    assert (run["status"], silence.id, silence.state) == (
        "ineffective", run["silence_id"], "expired",
    )  # fmt: skip
