"""`make up HOSTS=2 FAST=1` as a person runs it (`python -m stack up --fast
--hosts 2` on free ports): beside the stack, two demo hosts on 127.0.0.2 and .3,
each with its demo and its exporter answering on its own address, the exporter
installed through the agent playbook; Ctrl-C leaves no process behind."""

from __future__ import annotations

import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from support.procs import free_port, wait_until
from support.sshd import free_port_on

from alert_webhook.fleet.inventory import load_inventory
from integration.launcher import Output, launcher
from stack.demo_hosts import SSH_PORT_ENV
from stack.ports import SERVICES, port_in_use
from stack.up import stop_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

TOKEN = "test-token-for-the-demo-fleet"
ADDRESSES = ("127.0.0.2", "127.0.0.3")
# Two hosts onboarded (a virtualenv and pip each) before the stack starts, on a
# machine that may be busy with other tests: a deadline, not a measure.
UP_WAIT = 300


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, int], subprocess.Popen[str], Output]]:
    root = tmp_path_factory.mktemp("fleet")
    ports = {s.name: free_port() for s in SERVICES}
    with pytest.MonkeyPatch.context() as env:
        env.setenv(SSH_PORT_ENV, str(free_port_on(ADDRESSES[0])))
        proc = launcher(root, ports, TOKEN, "--fast", "--hosts", "2")
    out = Output(proc)
    try:
        wait_until(
            lambda: "recovery-stack is up" in out.text() or proc.poll() is not None,
            UP_WAIT,
            "the stack and its demo hosts to come up",
        )
        assert proc.poll() is None, out.text()
        yield root, ports, proc, out
    finally:
        stop_process(proc, signal.SIGINT, timeout=60)
        out.close()


def test_each_host_runs_its_demo_and_its_onboarded_exporter(fleet) -> None:
    root, ports, _proc, out = fleet
    for address in ADDRESSES:
        assert requests.get(f"http://{address}:{ports['demo']}/healthz", timeout=5).ok
        metrics = requests.get(f"http://{address}:{ports['system_exporter']}/metrics", timeout=5)
        assert metrics.ok and "node_load1" in metrics.text, address
    text = out.text()
    assert "onboarding: Install the exporter from the wheelhouse (no index)" in text
    assert "host-1: exporter installed" in text and "host-2: exporter installed" in text

    folder = root / "var" / "fleet"
    inventory = load_inventory(folder / "inventory.yml")
    assert f"inventory: {folder / 'inventory.yml'}" in text
    assert [(h.name, h.address) for h in inventory.hosts] == [
        ("host-1", ADDRESSES[0]),
        ("host-2", ADDRESSES[1]),
    ]
    assert all(dict(h.jobs) == {"demo": ports["demo"]} for h in inventory.hosts)
    known = (folder / "known_hosts").read_text().splitlines()
    assert [line.split()[0].split("]")[0] for line in known] == [f"[{a}" for a in ADDRESSES]
    secrets = [folder / "id_ed25519", folder / "known_hosts"]
    secrets += [folder / f"host-{i}" / "ssh_host_ed25519_key" for i in (1, 2)]
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Ansible's artifacts never hold the environment the stack runs with.
    for artifact in (folder / "runner").rglob("*"):
        if artifact.is_file():
            assert TOKEN not in artifact.read_text(errors="replace"), artifact


def _cmdline(process: psutil.Process) -> list[str]:
    """Its command line; none for one that ended (or is a zombie not yet reaped:
    Ansible's finished workers are, for a moment)."""
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def test_ctrl_c_stops_every_process_of_every_host(fleet) -> None:
    root, ports, proc, out = fleet
    family = psutil.Process(proc.pid).children(recursive=True)
    names = " ".join(" ".join(_cmdline(p)) for p in family)
    assert names.count("supervisor.supervisord") == 3, "the stack's and each host's"
    assert names.count("sshd") >= 2
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=90) == 0, out.text()
    _gone, alive = psutil.wait_procs(family, timeout=15)
    assert alive == [], f"still running after Ctrl-C: {[_cmdline(p) for p in alive]}"
    leftovers = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if str(root) in " ".join(p.info["cmdline"] or []):
            leftovers.append(p.info["cmdline"])
    assert leftovers == [], "no process of the run (nor an SSH master) is left"
    for address in ADDRESSES:
        for port in (ports["demo"], ports["system_exporter"]):
            assert not port_in_use(port, address), f"{address}:{port}"
    assert "stopping the demo hosts ..." in out.text()
