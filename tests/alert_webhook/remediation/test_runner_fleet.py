"""The runner with host-bound steps, on a fake clock and a fake executor: the host
is resolved from the labels before anything is judged, an alert naming no plain
inventory host is blocked and escalated, an unreachable host ends the run at
once. The real executor and hosts: tests/integration/test_fleet_remediation.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from runs_support import Harness, book

from alert_webhook.fleet.executor import Execution, HostOutcome, Job, ModuleJob
from alert_webhook.fleet.inventory import Host, Inventory

INVENTORY = Inventory(
    None,
    tuple(Host(f"host-{i}", f"127.0.0.{i + 1}", 22, ("demo",)) for i in (1, 2, 3)),
)
RESTART = {
    "action": "ansible",
    "params": {"module": "ansible.builtin.command",
               "args": {"argv": ["/usr/bin/supervisorctl", "restart", "{labels.service}"]}},
}  # fmt: skip
# Acts on this machine (and fails at once: nothing listens on the discard port).
LOCAL = {"action": "http_request", "params": {"method": "POST", "url": "http://127.0.0.1:9/x"}}


@dataclass
class FakeExecutor:
    """Answers each run with the next outcome (then the last again); records them."""

    outcomes: list[HostOutcome] = field(default_factory=lambda: [HostOutcome.CHANGED])
    ran: list[tuple[str, Job]] = field(default_factory=list)

    def run(self, host: Host, job: Job, timeout: float) -> Execution:
        self.ran.append((host.name, job))
        outcome = self.outcomes[min(len(self.ran), len(self.outcomes)) - 1]
        detail = ""
        if outcome is HostOutcome.UNREACHABLE:
            detail = (
                f"{host.name} unreachable in task restart: ssh: connect to host: Connection refused"
            )
        return Execution(
            host.name, outcome, "PLAY RECAP", f"task restart: {outcome}", detail, 1.5, 0
        )


def harness(store, *steps: dict, executor: FakeExecutor | None = None, **kw) -> Harness:
    return Harness(store, [book("DemoDown", *steps, **kw)], inventory=INVENTORY,
                   executor=executor or FakeExecutor())  # fmt: skip


def test_the_host_named_by_instance_is_acted_on_and_recorded(store) -> None:
    executor = FakeExecutor()
    h = harness(store, RESTART, executor=executor)
    h.fire("DemoDown", service="demo", instance="127.0.0.3:8081")
    h.runner.run_once()

    [run] = h.runs()
    assert run["status"] == "verifying"
    argv = ["/usr/bin/supervisorctl", "restart", "demo"]
    assert executor.ran == [("host-2", ModuleJob("ansible.builtin.command", {"argv": argv}))]
    assert store.runs.attempts(0.0)[0].host == "host-2"
    [step] = run["steps"]
    assert (step["status"], step["detail"]) == ("succeeded", "host-2: changed")


def test_a_host_label_names_the_host_too(store) -> None:
    executor = FakeExecutor()
    h = harness(store, RESTART, executor=executor)
    h.fire("DemoDown", service="demo", host="host-3", instance="elsewhere:1")
    h.runner.run_once()
    assert [name for name, _ in executor.ran] == ["host-3"]


@pytest.mark.parametrize(
    ("instance", "reason"),
    [
        (
            "127.0.0.2:8081;reboot",
            "label instance '127.0.0.2:8081;reboot' is not a plain host name",
        ),
        ("{{ lookup('pipe','id') }}", "is not a plain host name"),
        ("host-9", "label instance 'host-9' names no host in the inventory"),
        ("all", "label instance 'all' names no host in the inventory"),
        ("*", "label instance '*' is not a plain host name"),
        ("host-2,host-3", "label instance 'host-2,host-3' is not a plain host name"),
        ("host-2\nhost-3", "is not a plain host name"),
        ("host-2\x00", "is not a plain host name"),
    ],
)
def test_an_alert_naming_no_inventory_host_is_blocked_and_escalated(
    store, instance: str, reason: str
) -> None:
    executor = FakeExecutor()
    h = harness(store, RESTART, executor=executor)
    h.fire("DemoDown", service="demo", instance=instance)
    h.runner.run_once()

    [run] = h.runs()
    assert (run["status"], run["guardrail"]) == ("blocked", "fleet_host")
    assert reason in run["detail"]
    assert run["started_at"] is None and run["steps"] == []
    assert executor.ran == []
    told = h.deliveries(f"remediation-{run['id']}")
    assert {d["channel"] for d in told} == {"sms", "email", "dashboard"}  # critical
    assert "no action (fleet_host)" in told[0]["note"]


def test_without_an_inventory_a_host_bound_playbook_is_blocked(store) -> None:
    h = Harness(store, [book("DemoDown", RESTART)])
    h.fire("DemoDown", service="demo", instance="127.0.0.3:8081")
    h.runner.run_once()
    [run] = h.runs()
    assert (run["status"], run["guardrail"]) == ("blocked", "fleet_host")
    assert run["detail"] == "DemoDown acts on a fleet host, but fleet.inventory is not set"


def test_an_unreachable_host_ends_the_run_at_once_and_escalates(store) -> None:
    executor = FakeExecutor([HostOutcome.UNREACHABLE])
    h = harness(store, RESTART, RESTART, executor=executor)  # a second step, never tried
    h.fire("DemoDown", service="demo", instance="127.0.0.3:8081")
    h.runner.run_once()

    [run] = h.runs()
    assert run["status"] == "failed"
    assert run["detail"] == (
        "step 0 (ansible): host-2 unreachable in task restart: ssh: connect to host: "
        "Connection refused; no further step is tried on an unreachable host"
    )
    assert [s["status"] for s in run["steps"]] == ["unreachable"]
    assert len(executor.ran) == 1
    assert h.deliveries(f"remediation-{run['id']}")
    assert h.count("DemoDown", "failed") == 1
    h.clock.advance(60)
    assert h.runner.run_once() == 0  # nothing retried


def test_a_failed_step_on_a_host_falls_through_but_unreachable_does_not(store) -> None:
    executor = FakeExecutor([HostOutcome.FAILED, HostOutcome.UNREACHABLE])
    h = harness(store, RESTART, RESTART, RESTART, executor=executor)
    h.fire("DemoDown", service="demo", instance="127.0.0.2:8081")
    h.runner.run_once()
    [run] = h.runs()
    assert [s["status"] for s in run["steps"]] == ["failed", "unreachable"]
    assert run["status"] == "failed"


def test_one_run_at_a_time_per_host_whatever_the_target(store) -> None:
    h = harness(store, RESTART)
    h.fire("DemoDown", "a", service="demo", instance="127.0.0.3:8081")
    h.runner.run_once()  # acting on host-2, now verifying
    h.fire("DemoDown", "b", service="worker", instance="127.0.0.3:9101")
    h.runner.run_once()
    second, first = h.runs()
    assert first["status"] == "verifying"
    # the guardrail sees it first; the store's unique index backs it when two
    # replicas judge at once ("another run is acting on … or host host-2")
    assert (second["status"], second["guardrail"]) == ("blocked", "one_run_per_host")
    assert second["detail"] == (
        f"run {first['id']} {first['playbook']} on service=demo is already acting on host host-2"
    )


def test_a_playbook_acting_here_resolves_no_host(store) -> None:
    executor = FakeExecutor()
    h = harness(store, LOCAL, executor=executor)
    h.fire("DemoDown", service="demo", instance="not-in-the-fleet:1")
    h.runner.run_once()
    [run] = h.runs()
    assert run["status"] == "failed" and run["started_at"] is not None
    assert executor.ran == []
    assert store.runs.attempts(0.0)[0].host is None
