"""Scenario 1 on a fleet host: the demo on host-2 of `make up FAST=1 HOSTS=3`
killed with kill -9 comes back through the alert path with no human — its probe
(published with `host="host-2"`) → ServiceUnavailable{host="host-2"} →
Alertmanager → the webhook's `restart-demo-on-host`, which runs
deploy/remediation/restart-program.yml through Ansible on host-2 alone →
verified against Prometheus. The demos on host-1 and host-3 keep their
processes. The time it took is recorded against the plan's RTO.

One stack with three onboarded hosts per module (tests/chaos/fleet.py): ~60 s to
start here, the scenario itself ~12 s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.fleet import ChaosFleet, NoDemoHosts, chaos_fleet_for, demo_hosts
from chaos.results import record
from chaos.stack import severity_rto, wait_for_guardrails, wait_recovered
from stack.demo_hosts import FleetFiles
from stack.supervisor import Layout

PLAYBOOK = "restart-demo-on-host"
TARGET, OTHERS = "host-2", ("host-1", "host-3")
pytestmark = pytest.mark.timeout(480)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosFleet]:
    with chaos_fleet_for(tmp_path_factory.mktemp("chaos-fleet"), os.environ) as running:
        yield running


def test_a_demo_killed_on_host_2_is_restarted_there_through_ansible(fleet: ChaosFleet) -> None:
    stack, target = fleet.stack, fleet.hosts[TARGET]
    others = [fleet.hosts[name] for name in OTHERS]
    # A run an earlier `make chaos` made may leave the playbook cooling down.
    wait_for_guardrails(stack.root, stack.remediations(PLAYBOOK), PLAYBOOK)
    before = {h.name: h.demo_pid() for h in others}
    assert all(before.values()) and target.demo_answers(), before

    killed_at = time.time()
    pid = target.kill_demo()
    run, recovered_at = wait_recovered(
        stack, PLAYBOOK, "demo", killed_at, answering=target.demo_answers
    )

    assert (run["host"], run["target"]) == (TARGET, f"host={TARGET},service=demo"), run
    [step] = run["steps"]
    assert (step["action"], step["status"]) == ("ansible", "succeeded"), step
    assert step["detail"].startswith(f"{TARGET}: changed"), step["detail"]
    assert f"changed: [{TARGET}]" in step["output"], step["output"]
    assert target.demo_pid() not in (None, pid), "a new process on host-2"
    alert = stack.alerts()[run["alert_id"]]
    assert alert["alertname"] == "ServiceUnavailable", alert
    assert (alert["labels"]["host"], alert["labels"]["service"]) == (TARGET, "demo"), alert
    # Nothing acted on the other hosts: their demos are the same processes, and no
    # run since the kill reached a fleet host but host-2 (this machine's own
    # playbooks act on it alone: host None).
    assert {h.name: h.demo_pid() for h in others} == before
    runs = stack.remediations(since=killed_at)
    acted = [(r["playbook"], r["host"]) for r in runs if r["started_at"] and r["host"]]
    assert acted == [(PLAYBOOK, TARGET)], runs

    rto = severity_rto(stack, run)
    result = record(f"remote host kill (demo on {TARGET})", recovered_at - killed_at, rto)
    print(
        f"demo on {TARGET}: killed → {run['status']} and answering in "
        f"{result.recovery_seconds:.1f} s (the Ansible step {step['duration']:.1f} s)"
    )
    assert result.recovery_seconds < rto, result


def test_a_stack_without_enough_demo_hosts_is_named_with_what_to_start(tmp_path: Path) -> None:
    """What CHAOS_STACK=running skips with: the stack's webhook acts on no demo
    fleet, or on one smaller than the scenario's."""
    run = Layout(tmp_path).run
    run.mkdir(parents=True)
    (run / "webhook.yml").write_text("remediation: {enabled: true}\n")
    with pytest.raises(
        NoDemoHosts, match=r"has no demo hosts: start one with `make up FAST=1 HOSTS=3`"
    ):
        demo_hosts(tmp_path)

    files = FleetFiles(Layout(tmp_path).var / "fleet")
    files.folder.mkdir(parents=True)
    files.inventory.write_text(
        "all:\n  hosts:\n    host-1: {ansible_host: 127.0.0.2, recovery_stack_jobs: {demo: 8081}}\n"
    )
    (run / "webhook.yml").write_text(f"fleet: {{inventory: {files.inventory}}}\n")
    with pytest.raises(NoDemoHosts, match=r"has 1 demo host\(s\); this scenario needs 3"):
        demo_hosts(tmp_path)
