"""Scenario 3, complete system failure, on `make up FAST=1`'s stack.

With a delivery waiting on a provider that cannot take it yet and a remediation
run in the middle of its step, every process of the stack and the demo —
supervisord and the launcher too — is killed with SIGKILL at once. The launcher
is run again on the same root; from its store the stack resumes: the waiting
delivery is delivered once its provider answers, the interrupted run is
recorded interrupted (its command never runs a second time), and the demo and
its worker are back, with every order placed before the crash.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import yaml
from integration.launcher import Launched, launched
from support.loopback import Replying
from support.procs import free_port, wait_until

from alert_webhook.delivery.rows import DeliveryStatus
from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE
from alert_webhook.remediation.states import RunStatus
from chaos.results import PLAN_RPO_CRITICAL_SECONDS, PLAN_RTO_SECONDS, record
from stack.render import DEFAULT_WEBHOOK_CONFIG

TOKEN = "test-token-for-complete-failure"
ALERTNAME = "CompleteFailureDrill"
PLAYBOOK = "complete-failure-drill"
# Appends a line to the file it is given, then sleeps past the moment of the kill.
APPEND_THEN_SLEEP = "import sys, time; open(sys.argv[1], 'a').write('ran\\n'); time.sleep(10)"
# The plan's RTO for a critical service, its RPO for critical data (the orders).
RTO_CRITICAL, RPO_CRITICAL = PLAN_RTO_SECONDS["critical"], PLAN_RPO_CRITICAL_SECONDS
GOAL = 60.0  # the fast-profile goal, from the second launch's "up"
pytestmark = pytest.mark.timeout(300)


class Receiver:
    """The webhook channel's provider: records each POST it is sent, once it runs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bodies: list[Any] = []
        bodies = self.bodies

        class Handler(Replying):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(json.loads(self.rfile.read(length) or b"null"))
                self.reply(200, b"{}")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)

    @contextlib.contextmanager
    def serving(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def _configs(base: Path, marker: Path, provider_port: int) -> tuple[Path, Path]:
    """The shipped playbooks plus one whose step sleeps; the shipped webhook
    settings plus a webhook channel (on a port nothing listens on yet) that the
    drill's alert is routed to."""
    books = yaml.safe_load(DEFAULT_PLAYBOOK_FILE.read_text())
    step = {"action": "run_command", "timeout": "12s",
            "params": {"argv": [sys.executable, "-c", APPEND_THEN_SLEEP, str(marker)]}}  # fmt: skip
    books["playbooks"].insert(
        0, {"name": PLAYBOOK, "match": {"alertname": ALERTNAME}, "target": ["service"],
            "actions": [step]},
    )  # fmt: skip
    playbooks = base / "playbooks.yml"
    playbooks.write_text(yaml.safe_dump(books, sort_keys=False))
    settings = yaml.safe_load(DEFAULT_WEBHOOK_CONFIG.read_text())
    url = f"http://127.0.0.1:{provider_port}/hook"
    settings["channels"]["webhook"]["providers"] = [{"name": "drill-receiver", "url": url}]
    settings["routing"]["routes"] = [{"match": {"alertname": ALERTNAME}, "channels": ["webhook"]}]
    webhook = base / "webhook.yml"
    webhook.write_text(yaml.safe_dump(settings, sort_keys=False))
    return playbooks, webhook


def _firing(starts: datetime) -> dict[str, Any]:
    """The drill's alert as Alertmanager's webhook sends it (payload version 4)."""
    labels = {"alertname": ALERTNAME, "service": "drill", "severity": "medium"}
    alert = {"status": "firing", "labels": labels, "annotations": {"summary": "drill"},
             "startsAt": starts.isoformat(), "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus/graph",
             "fingerprint": "c0ffee00c0ffee00"}  # fmt: skip
    return {"receiver": "webhook-medium", "status": "firing", "alerts": [alert],
            "groupLabels": {"alertname": ALERTNAME}, "commonLabels": labels,
            "commonAnnotations": {}, "externalURL": "http://alertmanager", "version": "4",
            "groupKey": f'{{}}:{{alertname="{ALERTNAME}"}}', "truncatedAlerts": 0}  # fmt: skip


def kill_everything(stack: Launched) -> int:
    """SIGKILL to the launcher and every process under it, supervisord first so
    nothing is restarted in between; how many were killed."""
    top = psutil.Process(stack.proc.pid)
    tree = [top, *top.children(recursive=True)]
    first = [p for p in tree if p is top or "supervisord" in " ".join(_cmdline(p))]
    for proc in first + [p for p in tree if p not in first]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    _gone, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, alive
    stack.proc.wait()
    return len(tree)


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _get(stack: Launched, path: str, key: str) -> list[dict[str, Any]]:
    response = requests.get(stack.url("webhook", path), timeout=5)
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()[key]
    return rows


def _answers(stack: Launched, service: str) -> bool:
    try:
        return requests.get(stack.url(service, "/healthz"), timeout=1).ok
    except requests.RequestException:
        return False


def _drill_runs(stack: Launched) -> list[dict[str, Any]]:
    return [r for r in stack.remediations() if r["playbook"] == PLAYBOOK]


@dataclass(frozen=True)
class Outcome:
    """What one drill measured and found."""

    recovery: float  # the second launch's "up" → delivered, run settled, demo back
    orders_lost: int  # orders answered 201 before the kill and gone after it
    run: dict[str, Any]  # the drill's run as the second stack records it
    runs: int  # drill runs recorded in all, two seconds after recovery
    sent: list[Any]  # what the provider was sent
    waiting: int  # the id of the delivery that waited across the crash
    marks: list[str]  # the step's marker lines: one per time its command ran
    killed: int  # processes killed

    def sent_of_waiting(self) -> list[Any]:
        """What the provider was sent for the delivery that waited."""
        return [body for body in self.sent if body.get("delivery_id") == self.waiting]


def drill(base: Path) -> Outcome:
    """One complete failure under `base`: launch, break, kill everything, launch again."""
    marker, provider_port = base / "drill.log", free_port()
    playbooks, webhook = _configs(base, marker, provider_port)
    root = base / "stack"
    root.mkdir()
    args = ["--fast", f"--playbooks={playbooks}", f"--webhook-config={webhook}"]
    with launched(root, TOKEN, args) as first:
        placed = requests.post(first.url("demo", "/api/orders"), json={"item": "before"}, timeout=5)
        assert placed.status_code == 201, placed.text
        first.post_alerts(_firing(datetime.now(UTC)))
        wait_until(lambda: marker.exists(), 30, "the drill's step to begin")
        [delivery] = [d for d in _get(first, "/api/deliveries", "deliveries")
                      if d["channel"] == "webhook"]  # fmt: skip

        def waiting() -> dict[str, Any] | None:
            rows = _get(first, "/api/deliveries", "deliveries")
            now = next(d for d in rows if d["id"] == delivery["id"])
            return now if now["attempts"] else None

        wait_until(lambda: waiting() is not None, 30, "an attempt at the unreachable provider")
        assert (waiting() or {}).get("status") == DeliveryStatus.PENDING, "waiting to be retried"
        assert [r["status"] for r in _drill_runs(first)] == [RunStatus.IN_FLIGHT]
        killed = kill_everything(first)

    receiver = Receiver(provider_port)
    with receiver.serving(), launched(root, TOKEN, args) as second:
        up_at = time.time()

        def recovered() -> bool:
            rows = _get(second, "/api/deliveries", "deliveries")
            delivered = [d for d in rows if d["id"] == delivery["id"]
                         and d["status"] == DeliveryStatus.DELIVERED]  # fmt: skip
            runs = _drill_runs(second)
            settled = len(runs) == 1 and RunStatus(runs[0]["status"]).final
            return (
                bool(delivered)
                and settled
                and all(_answers(second, s) for s in ("demo", "demo_worker"))
            )

        wait_until(recovered, 90, "deliveries, runs and the demo resumed")
        recovery = time.time() - up_at
        [run] = _drill_runs(second)
        orders = requests.get(second.url("demo", "/api/orders"), timeout=5).json()["orders"]
        lost = 0 if placed.json()["id"] in {o["id"] for o in orders} else 1
        time.sleep(2)  # nothing more comes of Alertmanager's repeats or the store
        runs = len(_drill_runs(second))
    marks = marker.read_text().splitlines()
    sent = list(receiver.bodies)
    return Outcome(recovery, lost, run, runs, sent, delivery["id"], marks, killed)


def test_the_stack_resumes_its_deliveries_and_runs_after_everything_is_killed(
    tmp_path: Path,
) -> None:
    outcome = drill(tmp_path)
    assert outcome.killed >= 10, "the launcher, supervisord, the stack's programs and the demo's"
    run = outcome.run
    assert run["status"] == RunStatus.FAILED and run["detail"].startswith("interrupted"), run
    assert [s["status"] for s in run["steps"]] == ["interrupted"]
    assert outcome.marks == ["ran"], "the step never ran twice"
    assert outcome.runs == 1, "and was never planned again"
    [sent] = outcome.sent_of_waiting()
    assert (sent["alertname"], sent["purpose"]) == (ALERTNAME, "notify"), "delivered once"
    # Anything else it was sent tells how the interrupted run ended.
    others = {body["purpose"] for body in outcome.sent if body is not sent}
    assert others <= {f"remediation-{run['id']}"}, others
    record("complete_failure", outcome.recovery, RTO_CRITICAL, outcome.orders_lost, RPO_CRITICAL)
    print(f"complete failure: recovered {outcome.recovery:.2f} s after the second launch was up")
    assert outcome.orders_lost == 0, "the order placed before the crash is still there"
    assert outcome.recovery <= GOAL, f"recovered in {outcome.recovery:.1f} s (goal {GOAL:g} s)"
