"""Real SSH hosts for the fleet's tests: one Debian sshd per host, each on a
loopback address of its own (127.0.0.2, .3 …) and a free port, accepting one key
made for the test; a known_hosts file with their keys, and an Ansible inventory
naming them. Every daemon is stopped when the block ends."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from stack.sshd import SshHost, find_sshd, make_key, privilege_separation_ready
from tests.support.procs import Process, running, wait_until


def free_port_on(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _listening(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=0.5):
        return True


@dataclass(frozen=True)
class Fleet:
    """The test's hosts, the client key that reaches them, the known_hosts file
    that vouches for them and the inventory that lists them."""

    hosts: Sequence[SshHost]
    processes: dict[str, Process]
    key: Path
    known_hosts: Path
    inventory: Path

    def host(self, name: str) -> SshHost:
        return next(h for h in self.hosts if h.name == name)


def inventory_text(hosts: Sequence[SshHost], extra_vars: dict[str, str] | None = None) -> str:
    """A plain YAML inventory: each host with its address and SSH port, and the
    test's interpreter for Ansible's modules (the machine's may be any)."""
    lines = ["all:", "  hosts:"]
    for h in hosts:
        lines.append(f"    {h.name}:")
        lines.append(f"      ansible_host: {h.address}")
        lines.append(f"      ansible_port: {h.port}")
        lines.append(f"      ansible_python_interpreter: {sys.executable}")
        for key, value in (extra_vars or {}).items():
            lines.append(f"      {key}: {value}")
    return "\n".join(lines) + "\n"


@contextmanager
def ssh_fleet(root: Path, count: int = 3, first_address: int = 2) -> Iterator[Fleet]:
    """`count` hosts named host-1 … host-N on 127.0.0.<first_address> onwards,
    running until the block ends."""
    sshd = find_sshd()
    privilege_separation_ready()
    key = make_key(root / "id_ed25519", "recovery-stack test")
    hosts = [
        SshHost(f"host-{i + 1}", address, free_port_on(address), root / f"host-{i + 1}")
        for i in range(count)
        for address in [f"127.0.0.{first_address + i}"]
    ]
    known_hosts = root / "known_hosts"
    inventory = root / "inventory.yml"
    with ExitStack() as stack:
        processes = {}
        for host in hosts:
            host.prepare(Path(f"{key}.pub"))
            processes[host.name] = stack.enter_context(
                running(f"sshd-{host.name}", host.argv(sshd), root)
            )
        for host in hosts:
            wait_until(lambda h=host: _listening(h.address, h.port), 10, f"sshd of {host.name}")
        known_hosts.write_text("".join(h.known_hosts_line() for h in hosts))
        inventory.write_text(inventory_text(hosts))
        yield Fleet(hosts, processes, key, known_hosts, inventory)
