"""deploy/agent.yml on a fresh demo host (its own sshd and supervisord on
127.0.0.2), through ansible-runner as `make up HOSTS=N` runs it: the exporter
answers on the host's address, and a second run changes nothing."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
import requests
from support.procs import free_port
from support.sshd import free_port_on

from stack.agent import onboard
from stack.demo_hosts import AGENT_PROGRAM, FleetFiles, plan_hosts, running_hosts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_the_agent_installs_the_exporter_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    files = FleetFiles(tmp_path / "var" / "fleet")
    ports = {"demo": free_port(), "system_exporter": free_port()}
    [host] = plan_hosts(files.folder, 1, ports, free_port_on("127.0.0.2"))
    out = io.StringIO()
    with running_hosts(files, [host], os.environ, out) as inventory:
        first = onboard(inventory, files.runner, out)
        assert first.succeeded, out.getvalue()
        assert first.hosts["host-1"].changed > 0
        print(f"onboarding a fresh host: {first.seconds:.1f} s")  # the report's figure

        metrics = requests.get(f"http://127.0.0.2:{ports['system_exporter']}/metrics", timeout=5)
        assert metrics.ok and "node_load1" in metrics.text
        # A program of the host's own supervisord, run from the agent's own virtualenv.
        status = subprocess.run(
            [*host.supervisorctl(), "status", AGENT_PROGRAM],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert status.stdout.split()[1] == "RUNNING", status.stdout
        pid = int(status.stdout.split()[3].rstrip(","))
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        assert argv[:4] == [
            str(host.agent_prefix / "venv/bin/python"),
            "-I",
            "-m",
            "exporters.system",
        ]

        second = onboard(inventory, files.runner, out)
        assert second.succeeded, out.getvalue()
        assert second.changed == 0, out.getvalue()
        print(f"onboarding it again: {second.seconds:.1f} s")
        # Still the same process: nothing was restarted.
        again = subprocess.run(
            [*host.supervisorctl(), "status", AGENT_PROGRAM],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert int(again.stdout.split()[3].rstrip(",")) == pid
