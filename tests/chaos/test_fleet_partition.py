"""Scenario 5 on a fleet host: a host cut off from the stack.

host-1 lives in a network namespace (tests/support/faults.py `isolated_host`),
reached over a veth pair: its own sshd, its demo and its system exporter run
inside. host-2 is a plain loopback host (its sshd and exporter on 127.0.0.22).
The stack (`python -m stack up --fast --inventory FILE`: real Prometheus,
Alertmanager and webhook) watches both from the inventory and acts on them
through Ansible.

Cut host-1's link → its probe hangs and its scrapes fail: ServiceUnavailable
and TargetDown name host-1 → `restart-demo-on-host` tries host-1 once: the step
is `unreachable` (SSH's connect timeout), the run `failed` and escalated at once,
never retried — and no run reaches host-2. ~70 s here (the stack ~25 s of it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from integration.launcher import launched
from support.faults import IsolatedHost
from support.procs import running, wait_until
from support.sshd import free_port_on

from alert_webhook.fleet.settings import SSH_KEY_ENV
from chaos.stack import TOKEN, ChaosStack
from stack.demo_hosts import FleetFiles
from stack.sshd import SshHost, find_sshd, make_key, privilege_separation_ready
from stack.supervisor import Layout

PLAYBOOK = "restart-demo-on-host"
# Ports inside the namespace: nothing else listens there.
SSH_PORT, DEMO_PORT, EXPORTER_PORT = 2222, 8081, 9101
OTHER_ADDRESS = "127.0.0.22"
pytestmark = pytest.mark.timeout(300)


@dataclass(frozen=True)
class PartitionedFleet:
    stack: ChaosStack
    cut_off: IsolatedHost
    other_sshd_log: Path

    def runs(self, since: float) -> list[dict[str, Any]]:
        return self.stack.remediations(since=since)

    def about(self, host: str) -> list[dict[str, Any]]:
        """The stored alerts firing now that name `host`."""
        alerts = self.stack.alerts().values()
        return [a for a in alerts if a["status"] == "firing" and a["labels"].get("host") == host]

    def prometheus(self, query: str) -> list[dict[str, Any]]:
        reply = requests.get(
            self.stack.url("prometheus", "/api/v1/query"), params={"query": query}, timeout=5
        )
        reply.raise_for_status()
        result: list[dict[str, Any]] = reply.json()["data"]["result"]
        return result


def _answers(address: str, port: int) -> bool:
    try:
        return requests.get(f"http://{address}:{port}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def _inventory(hosts: dict[str, tuple[SshHost, int, int | None]]) -> str:
    """host name → (its sshd, its exporter's port, its demo's port or None)."""
    entries: dict[str, Any] = {}
    for name, (ssh, exporter, demo) in hosts.items():
        entry: dict[str, Any] = {
            "ansible_host": ssh.address,
            "ansible_port": ssh.port,
            "ansible_python_interpreter": sys.executable,
            "recovery_stack_exporter_port": exporter,
            # Acting on a host runs restart-program.yml: its supervisorctl (never
            # reached here: host-1 is cut off, host-2 never named).
            "recovery_stack_supervisorctl": ["/bin/false"],
        }
        if demo is not None:
            url = f"http://{ssh.address}:{demo}/healthz"
            entry["recovery_stack_jobs"] = {"demo": demo}
            entry["recovery_stack_probes"] = [
                {"name": "demo-http", "kind": "http", "service": "demo", "url": url}
            ]
        entries[name] = entry
    return yaml.safe_dump({"all": {"hosts": entries}}, sort_keys=False)


@pytest.fixture
def fleet(partitionable_host: IsolatedHost, tmp_path: Path) -> Iterator[PartitionedFleet]:
    cut_off, python = partitionable_host, sys.executable
    stack_root = tmp_path / "stack"
    files = FleetFiles(Layout(stack_root).var / "fleet")
    files.folder.mkdir(parents=True)
    key = make_key(files.key, "recovery-stack test")
    one = SshHost("host-1", cut_off.address, SSH_PORT, tmp_path / "host-1")
    two = SshHost("host-2", OTHER_ADDRESS, free_port_on(OTHER_ADDRESS), tmp_path / "host-2")
    two_exporter = free_port_on(OTHER_ADDRESS)
    for host in (one, two):
        host.prepare(Path(f"{key}.pub"))
    files.known_hosts.write_text(one.known_hosts_line() + two.known_hosts_line())
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        _inventory({"host-1": (one, EXPORTER_PORT, DEMO_PORT), "host-2": (two, two_exporter, None)})
    )
    privilege_separation_ready()
    sshd = find_sshd()
    demo = [python, "-m", "demo", f"--bind={one.address}:{DEMO_PORT}",
            f"--data={one.root / 'orders.sqlite3'}", f"--chaos-file={one.root / 'chaos.json'}",
            f"--pidfile={one.root / 'demo.pid'}"]  # fmt: skip

    def exporter(address: str, port: int) -> list[str]:
        return [python, "-m", "exporters.system", f"--listen={address}:{port}"]

    with ExitStack() as up:
        logs = tmp_path / "logs"
        logs.mkdir()
        up.enter_context(running("sshd-1", cut_off.argv(one.argv(sshd)), logs))
        up.enter_context(running("demo-1", cut_off.argv(demo), logs))
        inside = cut_off.argv(exporter(one.address, EXPORTER_PORT))
        up.enter_context(running("exporter-1", inside, logs))
        other = up.enter_context(running("sshd-2", two.argv(sshd), logs))
        up.enter_context(running("exporter-2", exporter(two.address, two_exporter), logs))
        wait_until(lambda: _answers(one.address, DEMO_PORT), 30, "host-1's demo")
        stack = up.enter_context(
            launched(stack_root, TOKEN, ["--fast", "--inventory", str(inventory)],
                     env={SSH_KEY_ENV: str(key)})
        )  # fmt: skip
        yield PartitionedFleet(
            ChaosStack(stack_root, stack.ports, stack.token), cut_off, other.log_path
        )


def test_a_host_cut_off_is_unreachable_escalated_tried_once_and_no_other_is_touched(
    fleet: PartitionedFleet,
) -> None:
    # Watched and healthy first: both hosts' exporters scraped, host-1's demo probed.
    wait_until(
        lambda: (
            len(fleet.prometheus('up{job="system", host=~"host-[12]"} == 1')) == 2
            and fleet.prometheus('probe_success{host="host-1"} == 1')
            and not fleet.about("host-1")
        ),
        60,
        "both hosts watched and host-1's demo probed healthy",
    )

    cut_at = time.time()
    fleet.cut_off.cut()

    def tried() -> list[dict[str, Any]]:
        return [r for r in fleet.runs(cut_at) if r["playbook"] == PLAYBOOK]

    wait_until(lambda: any(r["finished_at"] for r in tried()), 90, "host-1's run to end")
    ended_at = time.time()
    [run] = tried()
    assert (run["host"], run["status"]) == ("host-1", "failed"), run
    [step] = run["steps"]  # nothing after the unreachable step
    assert (step["action"], step["status"]) == ("ansible", "unreachable"), step
    assert run["detail"].startswith("step 0 (ansible): host-1 unreachable in task "), run["detail"]
    assert f"connect to host {fleet.cut_off.address} port {SSH_PORT}" in run["detail"], run
    assert run["detail"].endswith("no further step is tried on an unreachable host"), run
    wait_until(
        lambda: any(
            d["purpose"] == f"remediation-{run['id']}" and d["channel"] == "dashboard"
            for d in fleet.stack.deliveries(run["alert_id"])
        ),
        30,
        "the run's escalation on the dashboard",
    )
    escalated_at = time.time()
    alert = fleet.stack.alerts()[run["alert_id"]]
    assert (alert["alertname"], alert["labels"]["host"]) == ("ServiceUnavailable", "host-1")
    assert alert["labels"]["category"] == "timeout", "hanging, as across a partition"
    # Its other alert: Prometheus can no longer scrape its exporter.
    wait_until(
        lambda: any(a["alertname"] == "TargetDown" for a in fleet.about("host-1")),
        30,
        "TargetDown for host-1",
    )

    # Past the playbook's cooldown (5 s on the fast profile): still that one run,
    # and nothing acted on any other host (host-2's sshd saw no login at all).
    time.sleep(8)
    runs = fleet.runs(cut_at)
    assert [r["id"] for r in runs if r["playbook"] == PLAYBOOK] == [run["id"]], runs
    assert [r for r in runs if r["started_at"] and r["host"] not in (None, "host-1")] == []
    assert "Accepted publickey" not in fleet.other_sshd_log.read_text()
    print(
        f"host-1 cut off: its run {run['status']} ({step['status']}) {ended_at - cut_at:.1f} s "
        f"after the cut (the step {step['duration']:.1f} s), escalated at "
        f"{escalated_at - cut_at:.1f} s"
    )
