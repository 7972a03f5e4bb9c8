"""A real Prometheus watches the inventory's hosts through the rendered targets
files: a host added to the inventory and synced (`python -m stack hosts --sync`)
is scraped without a restart, with its `host` and `groups` labels and its
per-host jobs; `python -m stack hosts` reports each exporter's state from that
Prometheus, and from the exporters themselves when Prometheus is gone.

The hosts are real system exporters, each on a loopback address of its own
(127.0.0.2, .3), as the demo fleet's are; this machine's own is on 127.0.0.1.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from support.procs import Process, find_binary, free_port, python_module, running, wait_until
from support.sshd import free_port_on

from stack import render
from stack.ports import SERVICES
from stack.targets import render_fleet, scrape_configs

# Prometheus's discovery hands new targets to the scrapers at most every 5 s.
DISCOVERY_TIMEOUT = 30.0


@dataclass
class Fleet:
    root: Path
    inventory: Path
    prometheus_url: str
    exporters: dict[str, str]  # host → address:port
    processes: dict[str, Process] = field(default_factory=dict)

    def active(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.prometheus_url}/api/v1/targets?state=active", timeout=5)
        return list(answer.json()["data"]["activeTargets"])

    def target(self, job: str, host: str) -> dict[str, Any] | None:
        return next(
            (
                t
                for t in self.active()
                if t["labels"].get("job") == job and t["labels"].get("host") == host
            ),
            None,
        )

    def stack(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = python_module("stack", *args, "--root", str(self.root))
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def inventory_text(exporters: dict[str, str], jobs: dict[str, dict[str, int]]) -> str:
    lines = ["all:", "  children:", "    web:", "      hosts:"]
    for name, target in exporters.items():
        address, port = target.split(":")
        lines += [f"        {name}:", f"          ansible_host: {address}"]
        lines.append(f"          recovery_stack_exporter_port: {port}")
        if name in jobs:
            lines.append(f"          recovery_stack_jobs: {jobs[name]}")
    return "\n".join(lines) + "\n"


def exporter(stack: ExitStack, fleet: Fleet, name: str, target: str) -> None:
    fleet.processes[name] = stack.enter_context(
        running(
            f"exporter-{name}",
            python_module("exporters.system", "--listen", target),
            fleet.root,
            ready_url=f"http://{target}/metrics",
        )
    )


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    ports = {s.name: free_port() for s in SERVICES}
    exporters = {
        "host-1": f"127.0.0.2:{free_port_on('127.0.0.2')}",
        "host-2": f"127.0.0.3:{free_port_on('127.0.0.3')}",
    }
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(inventory_text({"host-1": exporters["host-1"]}, {}))
    targets = render_fleet(tmp_path, ports, inventory)
    config = render.render_prometheus(
        tmp_path / "var/run", ports, [], interval="1s", fleet=scrape_configs(targets)
    )
    url = f"http://127.0.0.1:{ports['prometheus']}"
    fleet = Fleet(tmp_path, inventory, url, exporters)
    with ExitStack() as stack:
        exporter(stack, fleet, "localhost", f"127.0.0.1:{ports['system_exporter']}")
        for name, target in exporters.items():
            exporter(stack, fleet, name, target)
        fleet.processes["prometheus"] = stack.enter_context(
            running(
                "prometheus",
                [
                    find_binary("PROMETHEUS_BIN"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                ],
                tmp_path,
                ready_url=f"{url}/-/ready",
            )
        )
        yield fleet


def test_a_host_added_to_the_inventory_is_scraped_without_a_restart(fleet: Fleet) -> None:
    wait_until(
        lambda: (fleet.target("system", "host-1") or {}).get("health") == "up",
        DISCOVERY_TIMEOUT,
        "host-1's exporter scraped",
    )
    first = fleet.target("system", "host-1")
    assert first is not None
    assert first["labels"]["instance"] == fleet.exporters["host-1"]
    assert first["labels"]["groups"] == ",web,"
    assert fleet.target("system", "host-2") is None
    prometheus_pid = fleet.processes["prometheus"].popen.pid

    # host-2 joins, with a per-host job (here its exporter again, as `node`).
    host2_port = int(fleet.exporters["host-2"].split(":")[1])
    fleet.inventory.write_text(inventory_text(fleet.exporters, {"host-2": {"node": host2_port}}))
    synced = fleet.stack("hosts", "--sync")
    assert "targets re-rendered from" in synced.stdout, synced.stderr
    wait_until(
        lambda: (fleet.target("system", "host-2") or {}).get("health") == "up",
        DISCOVERY_TIMEOUT,
        "host-2's exporter scraped after the sync",
    )
    wait_until(
        lambda: (fleet.target("node", "host-2") or {}).get("health") == "up",
        DISCOVERY_TIMEOUT,
        "host-2's per-host job scraped",
    )
    node = fleet.target("node", "host-2")
    assert node is not None and node["scrapePool"] == "inventory_jobs"
    assert fleet.processes["prometheus"].alive()
    assert fleet.processes["prometheus"].popen.pid == prometheus_pid

    # The labels reach the series, so rules and queries can select hosts and groups.
    answer = requests.get(
        f"{fleet.prometheus_url}/api/v1/query",
        params={"query": 'up{job="system", groups=~".*,web,.*"}'},
        timeout=5,
    ).json()
    assert {s["metric"]["host"] for s in answer["data"]["result"]} >= {"host-1", "host-2"}


def test_stack_hosts_reports_each_exporter_from_prometheus_then_directly(fleet: Fleet) -> None:
    fleet.inventory.write_text(inventory_text(fleet.exporters, {}))
    assert fleet.stack("hosts", "--sync").returncode == 0
    for host in ("host-1", "host-2", "localhost"):
        wait_until(
            lambda host=host: (fleet.target("system", host) or {}).get("health") == "up",
            DISCOVERY_TIMEOUT,
            f"{host} scraped",
        )
    listed = fleet.stack("hosts")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == {"host-1", "host-2", "localhost"}
    assert rows["host-2"][1:] == ["127.0.0.3", "web", fleet.exporters["host-2"], "up", "prometheus"]

    fleet.processes["host-2"].stop()
    wait_until(
        lambda: (fleet.target("system", "host-2") or {}).get("health") == "down",
        DISCOVERY_TIMEOUT,
        "host-2 seen down",
    )
    listed = fleet.stack("hosts")
    assert listed.returncode == 1
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["host-2"][4:6] == ["down", "prometheus"]

    fleet.processes["prometheus"].stop()
    listed = fleet.stack("hosts")
    assert listed.returncode == 1
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["host-1"][4:] == ["up", "exporter"]
    assert rows["host-2"][4:] == ["down", "exporter", "ConnectionError"]
