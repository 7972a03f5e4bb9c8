"""Remediation on the host an alert names, through the real runner, store and
Ansible, against real sshd hosts: the named host alone is acted on; an alert
naming anything but one plain inventory host reaches no host at all (every
host's canary survives) and is escalated with the reason; a host whose sshd is
down is unreachable, escalated, tried once. Ansible runs cost ~1.5 s of CPU
each: only the first and the last test start any."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.sshd import Fleet, ssh_fleet

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.routing import Router
from alert_webhook.fleet.executor import AnsibleExecutor
from alert_webhook.fleet.inventory import load_inventory
from alert_webhook.fleet.settings import SshSettings
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.remediation.actions.base import Boundaries
from alert_webhook.remediation.escalation import Escalation
from alert_webhook.remediation.guardrails import default_guardrails
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from alert_webhook.remediation.runner import Remediation, Runner
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.store import SqlStore, open_store

pytestmark = pytest.mark.integration

# The operator's playbook: it removes the canary of whichever host it runs on.
REMOVE_CANARY = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: remove the canary
      ansible.builtin.file:
        path: "{root}/{{{{ inventory_hostname }}}}/CANARY"
        state: absent
"""
INJECTIONS = [
    "127.0.0.2:8081;reboot",
    "{{ lookup('pipe','id') }}",
    "host-9",
    "all",
    "*",
    "host-2,host-3",
    "host-2\nhost-3",
    "127.0.0.3:8081\n",
    "host-2\x00",
]


@dataclass
class Stack:
    fleet: Fleet
    store: SqlStore
    runner: Runner
    recording: Any
    now: float = 1_000.0

    def fire(self, fingerprint: str, instance: str) -> dict[str, Any]:
        alert = {
            "status": "firing", "fingerprint": fingerprint, "generatorURL": "",
            "labels": {"alertname": "DemoDown", "severity": "critical", "service": "demo",
                       "instance": instance},
            "annotations": {}, "startsAt": "2026-12-07T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        }  # fmt: skip
        payload = {
            "version": "4", "groupKey": fingerprint, "status": "firing", "receiver": "webhook",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
            "alerts": [alert],
        }  # fmt: skip
        body = json.dumps(payload).encode()
        self.store.record_notification(parse_notification(body), body, self.now, self.recording)
        assert self.runner.run_once() == 1
        newest = self.store.runs.list()[0]
        # The store keeps text: a NUL arrives as U+FFFD (ingest), refused all the same.
        kept = instance.replace("\x00", "\ufffd")
        assert newest["target"] == f"service=demo,instance={kept}"
        return newest

    def canaries(self) -> dict[str, bool]:
        return {h.name: (h.root / "CANARY").exists() for h in self.fleet.hosts}

    def told(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        return [d for d in self.store.outbox.list() if d["purpose"] == f"remediation-{run['id']}"]


@dataclass
class _Clock:
    stack: Stack | None = None

    def __call__(self) -> float:
        return self.stack.now if self.stack else 1_000.0


@contextmanager
def stack_on(fleet: Fleet, root: Path, steps: int = 1) -> Iterator[Stack]:
    books = root / "books"
    books.mkdir(exist_ok=True)
    (books / "remove-canary.yml").write_text(REMOVE_CANARY.format(root=fleet.hosts[0].root.parent))
    for host in fleet.hosts:
        (host.root / "CANARY").write_text("alive")
    step = {"action": "ansible", "params": {"playbook": "remove-canary.yml",
                                            "vars": {"service": "{labels.service}"}},
            "timeout": "60s"}  # fmt: skip
    playbooks = playbooks_from_mapping({"playbooks": [{
        "name": "DemoDown", "match": {"alertname": "DemoDown"}, "target": ["service", "instance"],
        "actions": [step] * steps, "cooldown": "1s",
    }]})  # fmt: skip
    executor = AnsibleExecutor(
        fleet.inventory, SshSettings(known_hosts=fleet.known_hosts), fleet.key, books, root / "cp"
    )
    remediation = Remediation(
        playbooks, default_guardrails(), inventory=load_inventory(fleet.inventory),
        executor=executor,
    )  # fmt: skip
    settings = settings_from_mapping({}, {})
    store = open_store(f"sqlite:///{root}/webhook.sqlite3")
    store.create_schema()
    clock = _Clock()
    tell = Escalation(Router(settings.routing, settings.channels), frozenset({"dashboard"}))
    recording = recording_from(settings, ["dashboard"], extra=[RemediationPlanner(playbooks, tell)])
    runner = Runner(store.runs, remediation, create_metrics(), Boundaries(), clock, tell=tell)
    stack = Stack(fleet, store, runner, recording)
    clock.stack = stack
    try:
        yield stack
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with ssh_fleet(tmp_path_factory.mktemp("fleet"), 3) as hosts:
        yield hosts


@pytest.fixture
def stack(fleet: Fleet, tmp_path: Path) -> Iterator[Stack]:
    with stack_on(fleet, tmp_path) as ready:
        yield ready


def test_the_host_the_alert_names_is_acted_on_and_no_other(stack: Stack) -> None:
    run = stack.fire("a", "127.0.0.3:8081")  # host-2's address

    assert run["status"] == "verifying"
    [step] = run["steps"]
    assert (step["status"], step["detail"]) == ("succeeded", "host-2: changed")
    assert "task remove the canary: changed" in step["output"]
    assert stack.canaries() == {"host-1": True, "host-2": False, "host-3": True}


def test_injected_instances_reach_no_host_and_are_escalated(stack: Stack) -> None:
    """The closing note's table: printed with `-s`."""
    table = []
    for i, instance in enumerate(INJECTIONS):
        run = stack.fire(f"inj{i}", instance)
        table.append((instance, run["status"], run["guardrail"], run["detail"]))
        assert (run["status"], run["guardrail"]) == ("blocked", "fleet_host"), instance
        assert run["started_at"] is None and run["steps"] == []
        assert stack.told(run), f"{instance!r} was not escalated"

    assert stack.canaries() == {"host-1": True, "host-2": True, "host-3": True}
    for instance, status, guardrail, detail in table:
        print(f"| `{instance!r}` | {status} ({guardrail}) | {detail} |")


def test_a_host_whose_sshd_is_down_is_unreachable_escalated_and_tried_once(
    fleet: Fleet, tmp_path: Path
) -> None:
    with (
        ssh_fleet(tmp_path / "lone", 1, first_address=12) as lone,
        stack_on(lone, tmp_path, steps=2) as stack,
    ):
        lone.processes["host-1"].stop()
        run = stack.fire("down", "127.0.0.12:8081")

        assert run["status"] == "failed"
        assert [s["status"] for s in run["steps"]] == ["unreachable"]  # the second step never ran
        head = "step 0 (ansible): host-1 unreachable in task remove the canary:"
        assert run["detail"].startswith(head)
        assert "Connection refused" in run["detail"]
        assert run["detail"].endswith("no further step is tried on an unreachable host")
        assert stack.told(run)
        assert stack.runner.run_once() == 0  # nothing due: no retry
