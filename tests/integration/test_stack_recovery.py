"""Recovery through the whole alert path on `make up FAST=1`'s stack.

One stack for the module (`python -m stack up --fast`: supervisord, Prometheus,
Alertmanager, the webhook, the exporters and the demo), running the shipped
playbooks plus a few of the tests' own whose actions leave a mark in a file,
so what ran, and what did not, can be counted.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.procs import wait_until

from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE
from alert_webhook.remediation.states import RunStatus
from integration.launcher import RECOVERED, Launched, launched

TOKEN = "test-token-for-recovery"
# Appends one line to the file it is given: one line per action that ran.
APPEND = "import sys; open(sys.argv[1], 'a').write('ran\\n')"
# The same, then sleeps past the moment the test kills the webhook.
APPEND_THEN_SLEEP = APPEND + "; import time; time.sleep(6)"
FINAL = {status.value for status in RunStatus if status.final}
# The first test also waits for the whole stack to come up.
pytestmark = pytest.mark.timeout(240)


@dataclass(frozen=True)
class Marks:
    """Where the tests' playbooks leave their marks."""

    folder: Path  # injection: a file named after the label, if it ever ran
    flapping: Path
    crash: Path

    @staticmethod
    def lines(path: Path) -> int:
        return len(path.read_text().splitlines()) if path.exists() else 0


# The test playbooks' alerts are posted by hand, from no rule (no expression in
# their generatorURL): their runs are checked with a query the stack's
# Prometheus answers with nothing while it scrapes anything at all.
NOTHING_WRONG = {"query": "absent(up)"}


def _book(name: str, alertname: str, step: dict[str, Any], **guards: Any) -> dict[str, Any]:
    return {
        "name": name,
        "match": {"alertname": alertname},
        "target": ["service"],
        "actions": [step],
        "verify": NOTHING_WRONG,
        **guards,
    }


def _command(*argv: str, **step: Any) -> dict[str, Any]:
    return {"action": "run_command", "params": {"argv": list(argv)}, **step}


def _test_playbooks(marks: Marks) -> list[dict[str, Any]]:
    python, touch = sys.executable, shutil.which("touch")
    assert touch, "touch is on PATH"
    restart = {
        "backend": "supervisor",
        "service": "{labels.service}",
        "supervisor": {
            "url_from_env": "STACK_SUPERVISOR_URL",
            "username_from_env": "STACK_SUPERVISOR_USERNAME",
            "password_from_env": "STACK_SUPERVISOR_PASSWORD",
        },
    }
    crash_step = _command(python, "-c", APPEND_THEN_SLEEP, str(marks.crash), timeout="8s")
    return [
        _book("inject-command", "InjectCommand",
              _command(touch, f"{marks.folder}/{{labels.service}}"), blast_radius=20),
        _book("inject-restart", "InjectRestart",
              {"action": "restart_service", "params": restart}, blast_radius=20),
        # A cooldown that never decides here: the attempt budget must.
        # Checked at once: a run still acting would block the next one_at_a_time.
        _book("flapping", "Flapping", _command(python, "-c", APPEND, str(marks.flapping)),
              cooldown="1ms", max_attempts=3, window="1h",
              verify={**NOTHING_WRONG, "delay": "1ms", "window": "1ms"}),
        _book("crash-mid-run", "CrashMidRun", crash_step),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def fast_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Launched, Marks]]:
    base = tmp_path_factory.mktemp("recovery")
    marks = Marks(base / "injected", base / "flapping.log", base / "crash.log")
    marks.folder.mkdir()
    shipped = yaml.safe_load(DEFAULT_PLAYBOOK_FILE.read_text())
    shipped["playbooks"] += _test_playbooks(marks)
    playbooks = base / "playbooks.yml"
    playbooks.write_text(yaml.safe_dump(shipped, sort_keys=False))
    root = base / "stack"
    root.mkdir()
    with launched(root, TOKEN, ["--fast", f"--playbooks={playbooks}"]) as stack:
        yield stack, marks


def _alerts_by_id(stack: Launched) -> dict[int, dict[str, Any]]:
    response = requests.get(stack.url("webhook", "/api/alerts"), params={"limit": 1000}, timeout=5)
    response.raise_for_status()
    return {a["id"]: a for a in response.json()["alerts"]}


def _runs(stack: Launched, playbook: str, since: float = 0.0) -> list[dict[str, Any]]:
    return [
        r for r in stack.remediations() if r["playbook"] == playbook and r["planned_at"] >= since
    ]


def _finished(runs: list[dict[str, Any]], count: int) -> bool:
    return len(runs) >= count and all(r["status"] in FINAL for r in runs)


def _kill_demo_and_wait_for_recovery(stack: Launched) -> dict[str, Any]:
    state, pid = stack.state("demo")
    assert state == "RUNNING" and pid, state
    killed_at = time.time()
    # The whole group: a gunicorn worker orphaned by a kill -9 of its master alone
    # keeps the port, and no restart could bind it.
    os.killpg(pid, signal.SIGKILL)

    def recovered() -> dict[str, Any] | None:
        done = [r for r in _runs(stack, "restart-demo", killed_at) if r["status"] == RECOVERED]
        healthy = requests.get(stack.url("demo", "/healthz"), timeout=1).ok
        return done[0] if done and healthy else None

    wait_until(lambda: recovered() is not None, 30, "the demo restarted through the alert path")
    run = recovered()
    assert run is not None
    assert stack.state("demo")[1] not in (None, pid), "a new demo process"
    return run


def test_a_killed_demo_comes_back_through_the_alert_path_and_is_recorded(fast_stack) -> None:
    stack, _marks = fast_stack
    assert "fast profile" in stack.out.text()
    first = _kill_demo_and_wait_for_recovery(stack)
    alert = _alerts_by_id(stack)[first["alert_id"]]
    assert alert["alertname"] == "ServiceUnavailable" and alert["labels"]["service"] == "demo"
    [step] = first["steps"]
    assert (step["action"], step["status"]) == ("restart_service", "succeeded")
    assert step["params"]["service"] == "demo"
    assert step["output"].startswith("demo: EXITED -> RUNNING (pid ")
    # The fast profile's cooldown (5 s, not the plan's 2 minutes) lets the next
    # crash be recovered as soon as it has passed.
    wait_until(lambda: time.time() > first["started_at"] + 5.5, 10, "restart-demo's cooldown")
    wait_until(
        lambda: not [a for a in _alerts_by_id(stack).values()
                     if a["alertname"] == "ServiceUnavailable" and a["status"] == "firing"],
        30, "ServiceUnavailable to resolve",
    )  # fmt: skip
    second = _kill_demo_and_wait_for_recovery(stack)
    assert second["id"] != first["id"]


def _post_to_alertmanager(stack: Launched, labels: list[dict[str, str]]) -> None:
    """Alerts as Prometheus sends them: to Alertmanager's v2 API."""
    now = datetime.now(UTC)
    body = [
        {"labels": {"severity": "medium", **each},
         "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=10)).isoformat()}
        for each in labels
    ]  # fmt: skip
    response = requests.post(stack.url("alertmanager", "/api/v2/alerts"), json=body, timeout=5)
    assert response.status_code == 200, response.text


def test_labels_carrying_shell_and_paths_run_nothing(fast_stack) -> None:
    stack, marks = fast_stack
    canary = marks.folder.parent / "canary"
    canary.write_text("still here")
    crafted = [
        f"x; rm -rf {canary}",
        f"$(touch {marks.folder}/dollar)",
        f"`touch {marks.folder}/backtick`",
        "../../../../tmp/escaped",
        "demo\ntouch-newline",
        "demo\x00nul",
        "-rf",
    ]
    demo_pid = stack.state("demo")[1]
    since = time.time() - 1
    labels = [{"alertname": name, "service": value}
              for name in ("InjectCommand", "InjectRestart") for value in crafted]  # fmt: skip
    # The control: a harmless value does reach the command, so the playbook is live.
    labels.append({"alertname": "InjectCommand", "service": "benign"})
    _post_to_alertmanager(stack, labels)

    def runs() -> list[dict[str, Any]]:
        return _runs(stack, "inject-command", since) + _runs(stack, "inject-restart", since)

    wait_until(lambda: _finished(runs(), len(labels)), 30, "every injection attempt judged")
    alerts = _alerts_by_id(stack)
    by_value = {alerts[r["alert_id"]]["labels"]["service"]: r for r in runs()
                if r["playbook"] == "inject-command"}  # fmt: skip
    assert by_value.pop("benign")["status"] == RECOVERED
    assert sorted(p.name for p in marks.folder.iterdir()) == ["benign"]
    assert canary.read_text() == "still here"
    assert stack.state("demo")[1] == demo_pid, "supervisord was never asked to restart"
    blocked = [r for r in runs() if alerts[r["alert_id"]]["labels"]["service"] != "benign"]
    assert len(blocked) == 2 * len(crafted)
    for run in blocked:
        assert (run["status"], run["guardrail"], run["steps"]) == ("blocked", "labels", []), run
        assert run["started_at"] is None
        assert "does not match" in run["detail"]


def _notification(status: str, starts: datetime, ends: datetime | None) -> dict[str, Any]:
    """One alert as Alertmanager's webhook sends it (payload version 4)."""
    labels = {"alertname": "Flapping", "service": "flappy", "severity": "medium"}
    alert = {
        "status": status, "labels": labels, "annotations": {},
        "startsAt": starts.isoformat(), "generatorURL": "http://prometheus/graph",
        "endsAt": ends.isoformat() if ends else "0001-01-01T00:00:00Z",
        "fingerprint": "0f1a2b3c4d5e6f70",
    }  # fmt: skip
    return {
        "receiver": "webhook-medium", "status": status, "alerts": [alert],
        "groupLabels": {"alertname": "Flapping"}, "commonLabels": labels,
        "commonAnnotations": {}, "externalURL": "http://alertmanager",
        "version": "4", "groupKey": '{}:{alertname="Flapping"}', "truncatedAlerts": 0,
    }  # fmt: skip


def test_a_flapping_alert_stays_within_its_attempt_budget(fast_stack) -> None:
    stack, marks = fast_stack
    since = time.time() - 1
    start = datetime.now(UTC)
    # 100 transitions: each firing is a new instance (its own startsAt), each
    # resolved ends it, as Prometheus reports an alert that flaps.
    for cycle in range(50):
        began = start + timedelta(seconds=2 * cycle)
        stack.post_alerts(_notification("firing", began, None))
        stack.post_alerts(_notification("resolved", began, began + timedelta(seconds=1)))
    # Each POST answered after its commit: every run there will be is planned.
    # Flapping from its third firing (the fifth change), the alert plans runs only
    # within max_attempts a window (30 s on the fast profile), blocked ones included
    # (remediation/flapping.py), rather than one per firing.
    planned = len(_runs(stack, "flapping", since))
    windows = 1 + int((time.time() - since) // 30)  # the posts may outlast one window
    assert 1 <= planned <= 3 * windows, (planned, windows)
    wait_until(lambda: _finished(_runs(stack, "flapping", since), planned), 60, "the runs judged")
    runs = _runs(stack, "flapping", since)
    # A run whose alert resolved before its step is cancelled (resolved) unacted.
    ran = [r for r in runs if r["steps"]]
    assert len(runs) == planned
    assert 1 <= len(ran) <= 3, "max_attempts: 3 a window (30 s on the fast profile)"
    assert Marks.lines(marks.flapping) == len(ran)
    blocked = {r["guardrail"]: r["detail"] for r in runs if r["status"] == "blocked"}
    assert set(blocked) <= {"cooldown", "one_at_a_time"}, (
        blocked, [(r["started_at"], r["finished_at"]) for r in ran],
    )  # fmt: skip


def test_a_webhook_killed_mid_run_never_runs_it_twice(fast_stack) -> None:
    stack, marks = fast_stack
    since = time.time() - 1
    _post_to_alertmanager(stack, [{"alertname": "CrashMidRun", "service": "crashy"}])
    wait_until(lambda: Marks.lines(marks.crash) == 1, 30, "the step to begin")
    state, webhook_pid = stack.state("webhook")
    assert state == "RUNNING" and webhook_pid
    os.kill(webhook_pid, signal.SIGKILL)
    # supervisord brings the webhook back (the stack's own parts restart); once
    # the lease (the step's 8 s timeout plus 5 s) has run out, its runner takes
    # the run over and, since it had started, records it interrupted.
    wait_until(lambda: stack.state("webhook")[1] not in (None, webhook_pid), 30, "a new webhook")
    wait_until(lambda: _finished(_runs(stack, "crash-mid-run", since), 1), 60, "the run taken over")
    [run] = _runs(stack, "crash-mid-run", since)
    assert run["status"] == "failed" and run["detail"].startswith("interrupted"), run
    [step] = run["steps"]
    assert step["status"] == "interrupted"
    # Alertmanager's repeats plan nothing more, and the command never ran again.
    time.sleep(2)
    assert Marks.lines(marks.crash) == 1
    assert len(_runs(stack, "crash-mid-run", since)) == 1
