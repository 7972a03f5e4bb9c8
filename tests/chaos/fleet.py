"""The demo fleet a chaos test breaks: the hosts `make up FAST=1 HOSTS=3` runs
beside the stack (stack/demo_hosts.py), found from the inventory the stack's
webhook acts on, and what a test does to one host's demo.

Chosen by $CHAOS_STACK as the stack is (tests/chaos/stack.py):
- unset: the test module launches its own `python -m stack up --fast --hosts 3`
  on free ports (sshd's DEMO_HOST_SSH_PORT too) under its tmp dir, and stops it;
- `running`: the running stack, when it has demo hosts; when it has none the
  test is skipped, saying how to start one that has.

A host's demo is asked about and killed as a person on that host would: through
its own supervisord's socket (var/fleet/<host>/supervisor.sock) and its process
group; whether it answers, over HTTP on the host's own address.
"""

from __future__ import annotations

import contextlib
import os
import signal
import xmlrpc.client
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from integration.launcher import launched
from supervisor.xmlrpc import SupervisorTransport
from support.sshd import free_port_on

from alert_webhook.fleet.inventory import load_inventory
from chaos.stack import STACK_ENV, TOKEN, ChaosStack, NoChaosStack, running_stack
from stack.demo_hosts import FIRST_ADDRESS, SSH_PORT_ENV, DemoHost, FleetFiles
from stack.ports import HOST
from stack.sshd import SshHost
from stack.supervisor import Layout

HOSTS = 3
# Three hosts onboarded (a virtualenv and pip each) before the stack starts, on
# a machine that may be busy with other tests: a deadline, not a measure.
UP_TIMEOUT = 300.0
START_IT = "start one with `make up FAST=1 HOSTS=3`"


@dataclass(frozen=True)
class FleetHost:
    """One demo host, by the files and address stack/demo_hosts.py gave it."""

    host: DemoHost

    @property
    def name(self) -> str:
        return self.host.name

    def demo_info(self) -> dict[str, Any]:
        """The host's supervisord's record of its demo."""
        transport = SupervisorTransport(None, None, f"unix://{self.host.socket}")
        with xmlrpc.client.ServerProxy(f"http://{HOST}", transport=transport) as proxy:
            info: Any = proxy.supervisor.getProcessInfo("demo")
        return dict(info)

    def demo_pid(self) -> int | None:
        """The pid of the host's demo while its supervisord has it RUNNING."""
        info = self.demo_info()
        return int(info["pid"]) if info["statename"] == "RUNNING" and info["pid"] else None

    def kill_demo(self) -> int:
        """kill -9 the host's demo, its whole process group; returns the pid killed."""
        pid = self.demo_pid()
        assert pid, f"the demo on {self.name} is not running"
        os.killpg(pid, signal.SIGKILL)
        return pid

    def demo_answers(self) -> bool:
        url = f"http://{self.host.address}:{self.host.demo_port}/healthz"
        with contextlib.suppress(requests.RequestException):
            return requests.get(url, timeout=1).ok
        return False


@dataclass(frozen=True)
class ChaosFleet:
    stack: ChaosStack
    hosts: dict[str, FleetHost]


class NoDemoHosts(Exception):
    """The stack acts on no demo fleet (or too small a one); the message says so."""


def demo_hosts(root: Path, count: int = HOSTS) -> dict[str, FleetHost]:
    """The demo hosts the webhook of the stack under `root` acts on, by name."""
    layout = Layout(root)
    files = FleetFiles(layout.var / "fleet")
    settings = yaml.safe_load((layout.run / "webhook.yml").read_text()) or {}
    inventory = (settings.get("fleet") or {}).get("inventory")
    if inventory is None or Path(inventory) != files.inventory or not files.inventory.is_file():
        raise NoDemoHosts(f"the stack running from {root} has no demo hosts: {START_IT}")
    hosts = {
        h.name: FleetHost(
            DemoHost(
                SshHost(h.name, h.address, h.ssh_port or 22, files.folder / h.name),
                demo_port=h.jobs["demo"],
                exporter_port=h.exporter_port,
            )
        )
        for h in load_inventory(files.inventory).hosts
    }
    if len(hosts) < count:
        raise NoDemoHosts(
            f"the stack running from {root} has {len(hosts)} demo host(s); this scenario "
            f"needs {count}: stop it and {START_IT}"
        )
    return hosts


@contextlib.contextmanager
def chaos_fleet_for(base: Path, env: Mapping[str, str]) -> Iterator[ChaosFleet]:
    """The stack and its demo hosts for one test module: the running ones, or
    ones launched under `base`."""
    mode = env.get(STACK_ENV, "").strip()
    if mode == "running":
        try:
            stack = running_stack(env)
        except NoChaosStack as exc:
            pytest.fail(f"{STACK_ENV}=running: {exc}", pytrace=False)
        try:
            hosts = demo_hosts(stack.root)
        except NoDemoHosts as exc:
            pytest.skip(f"{STACK_ENV}=running: {exc}")
        yield ChaosFleet(stack, hosts)
        return
    if mode:
        pytest.fail(f"{STACK_ENV}={mode}: must be `running` or unset")
    root = base / "stack"
    root.mkdir()
    ssh_port = {SSH_PORT_ENV: str(free_port_on(f"127.0.0.{FIRST_ADDRESS}"))}
    args = ["--fast", "--hosts", str(HOSTS)]
    with launched(root, TOKEN, args, env=ssh_port, up_timeout=UP_TIMEOUT) as up:
        yield ChaosFleet(ChaosStack(root, up.ports, up.token), demo_hosts(root))
