"""The demo fleet of `make up HOSTS=N`: N hosts on this machine, beside the stack.

host-1 lives on 127.0.0.2, host-2 on 127.0.0.3 …, each with

- its own sshd (stack/sshd.py: Debian's binary, its own host key and
  configuration, one authorized key: the client key var/fleet/id_ed25519);
- its own supervisord (socket and configuration under var/fleet/<host>/), running
  the demo service bound to the host's address, and an include folder
  (`supervisor.d/`) where the agent playbook adds the exporter's program;
- its system exporter, installed by running deploy/agent.yml through Ansible
  (stack/agent.py), exactly as a real host is onboarded.

What it writes under var/fleet/: the client key (0600), each host's key and
files, `known_hosts` with the hosts' keys (the webhook's default
`fleet.ssh.known_hosts`) and `inventory.yml`, a plain Ansible YAML inventory the
stack then watches and acts on. The agent stays installed between runs, so a
second `make up` onboards with nothing to change.

Every process of every host is stopped when the block ends (Ctrl-C, SIGTERM, or
a failure while starting): supervisord with its programs, sshd with the sessions
it forked.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

import requests
import yaml

from stack.agent import Onboarding, onboard
from stack.guard import stop_family
from stack.ports import StackError, port_in_use
from stack.private import write_private
from stack.sshd import SshdNotFound, SshHost, find_sshd, make_key, privilege_separation_ready
from stack.supervisor import Layout

# host-1's address is 127.0.0.<FIRST_ADDRESS>; 127.0.0.1 is the stack's own.
FIRST_ADDRESS = 2
MAX_HOSTS = 50
SSH_PORT_ENV = "DEMO_HOST_SSH_PORT"
DEFAULT_SSH_PORT = 2222
GROUP = "demo_hosts"
AGENT_PROGRAM = "recovery-stack-exporter"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class DemoHost:
    """One demo host: its sshd, and the folder that holds everything of it."""

    ssh: SshHost
    demo_port: int
    exporter_port: int

    @property
    def name(self) -> str:
        return self.ssh.name

    @property
    def address(self) -> str:
        return self.ssh.address

    @property
    def root(self) -> Path:
        return self.ssh.root

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.root / "supervisor.sock"

    @property
    def include(self) -> Path:
        return self.root / "supervisor.d"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def agent_prefix(self) -> Path:
        return self.root / "agent"

    def supervisorctl(self, python: str = sys.executable) -> list[str]:
        return [python, "-m", "supervisor.supervisorctl", "-c", str(self.supervisord_conf)]

    def demo_argv(self, python: str = sys.executable) -> list[str]:
        data = self.root / "demo"
        return [
            python, "-m", "demo", f"--bind={self.address}:{self.demo_port}",
            f"--data={data / 'orders.sqlite3'}", f"--chaos-file={data / 'chaos.json'}",
            f"--pidfile={data / 'demo.pid'}",
        ]  # fmt: skip

    def supervisord_text(self, python: str = sys.executable) -> str:
        """The host's supervisord: no login (its socket is its owner's alone, in a
        folder only its owner enters), the demo started with it and left down when
        it dies, as on the stack (recovery comes through the alert path)."""
        parser = configparser.ConfigParser(interpolation=None)
        parser["supervisord"] = {
            "nodaemon": "true",
            "silent": "true",
            "logfile": str(self.log / "supervisord.log"),
            "pidfile": str(self.root / "supervisord.pid"),
            "childlogdir": str(self.log),
            "directory": str(self.root),
        }
        parser["unix_http_server"] = {"file": str(self.socket), "chmod": "0700"}
        parser["rpcinterface:supervisor"] = {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        }
        parser["supervisorctl"] = {"serverurl": f"unix://{self.socket}"}
        parser["include"] = {"files": str(self.include / "*.conf")}
        parser["program:demo"] = {
            "command": shlex.join(self.demo_argv(python)).replace("%", "%%"),
            "directory": str(self.root),
            "autostart": "true",
            "autorestart": "false",
            "startsecs": "1",
            "stopasgroup": "true",
            "killasgroup": "true",
            "redirect_stderr": "true",
            "stdout_logfile": str(self.log / "demo.log"),
            "stdout_logfile_maxbytes": "10MB",
            "stdout_logfile_backups": "2",
        }
        out = io.StringIO()
        parser.write(out)
        return out.getvalue()

    def inventory_vars(self, python: str = sys.executable) -> dict[str, Any]:
        """Its entry in the inventory: how Ansible reaches it, what Prometheus
        scrapes on it, and where the agent playbook puts the exporter."""
        return {
            "ansible_host": self.address,
            "ansible_port": self.ssh.port,
            "ansible_python_interpreter": python,
            "recovery_stack_python": python,
            "recovery_stack_exporter_port": self.exporter_port,
            "recovery_stack_jobs": {"demo": self.demo_port},
            # Watched like the local demo: ServiceUnavailable for it names this host.
            "recovery_stack_probes": [
                {
                    "name": "demo-http",
                    "kind": "http",
                    "service": "demo",
                    "url": f"http://{self.address}:{self.demo_port}/healthz",
                }
            ],
            "recovery_stack_prefix": str(self.agent_prefix),
            "recovery_stack_service_manager": "supervisord",
            "recovery_stack_supervisor_include": str(self.include),
            "recovery_stack_supervisorctl": self.supervisorctl(python),
        }


@dataclass(frozen=True)
class FleetFiles:
    """What the demo fleet keeps under var/fleet/."""

    folder: Path

    @property
    def key(self) -> Path:
        return self.folder / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.folder / "known_hosts"

    @property
    def inventory(self) -> Path:
        return self.folder / "inventory.yml"

    @property
    def runner(self) -> Path:
        return self.folder / "runner"


def plan_hosts(folder: Path, count: int, ports: Mapping[str, int], ssh_port: int) -> list[DemoHost]:
    """host-1 … host-`count` on 127.0.0.2 onwards: the stack's demo and system
    exporter ports on each host's own address, sshd on `ssh_port`."""
    if not 1 <= count <= MAX_HOSTS:
        raise StackError([f"HOSTS={count}: must be from 1 to {MAX_HOSTS}"], exit_code=2)
    return [
        DemoHost(
            SshHost(
                f"host-{i}", f"127.0.0.{FIRST_ADDRESS + i - 1}", ssh_port, folder / f"host-{i}"
            ),
            demo_port=ports["demo"],
            exporter_port=ports["system_exporter"],
        )
        for i in range(1, count + 1)
    ]


def ssh_port_from_env(env: Mapping[str, str]) -> int:
    raw = env.get(SSH_PORT_ENV, "").strip()
    if not raw:
        return DEFAULT_SSH_PORT
    if raw.isdigit() and 0 < int(raw) < 65536:
        return int(raw)
    raise StackError([f"{SSH_PORT_ENV}={raw}: must be a port number from 1 to 65535"], 2)


def check_hosts_free(hosts: Sequence[DemoHost]) -> None:
    taken = [
        f"port {port} ({what} of {h.name}) is already in use on {h.address}: stop what "
        f"listens there (`ss -ltnp 'src {h.address}'`)"
        + (f" or set {SSH_PORT_ENV}" if what == "sshd" else "")
        for h in hosts
        for what, port in (
            ("sshd", h.ssh.port),
            ("demo", h.demo_port),
            ("exporter", h.exporter_port),
        )
        if port_in_use(port, h.address)
    ]
    if taken:
        raise StackError(taken)


def inventory_text(
    hosts: Sequence[DemoHost], files: FleetFiles, python: str = sys.executable
) -> str:
    """A plain Ansible YAML inventory: the hosts in group `demo_hosts`, and the
    client key and known_hosts file every SSH connection uses (host keys checked)."""
    inventory = {
        "all": {
            "vars": {
                "ansible_ssh_private_key_file": str(files.key),
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={files.known_hosts} -o StrictHostKeyChecking=yes"
                ),
            },
            "children": {
                GROUP: {"hosts": {h.name: h.inventory_vars(python) for h in hosts}},
            },
        }
    }
    header = "# The demo fleet of `make up HOSTS=N`, rewritten by each run (stack/demo_hosts.py).\n"
    return header + yaml.safe_dump(inventory, sort_keys=False)


def prepare(hosts: Sequence[DemoHost], files: FleetFiles) -> None:
    """Keys, configurations and folders; the agent a former run installed is kept."""
    files.folder.mkdir(parents=True, exist_ok=True)
    files.folder.chmod(0o700)
    make_key(files.key, "recovery-stack demo fleet")
    for host in hosts:
        host.ssh.prepare(Path(f"{files.key}.pub"))
        for folder in (host.include, host.log, host.root / "demo"):
            folder.mkdir(parents=True, exist_ok=True)
        host.supervisord_conf.write_text(host.supervisord_text())


def stop_tree(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Stop `proc` and every process it started (sshd's sessions, supervisord's
    programs if it could not stop them itself)."""

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    stop_family(proc.pid, stop)


def _answers(address: str, port: int, path: str | None = None) -> bool:
    try:
        if path is None:
            with socket.create_connection((address, port), timeout=0.5):
                return True
        return requests.get(f"http://{address}:{port}{path}", timeout=1).ok
    except (OSError, requests.RequestException):
        return False


class _Signals:
    """SIGINT/SIGTERM noted (not raised) while the hosts start, so the start can
    stop cleanly and ansible-runner can cancel its run; the previous handlers
    come back afterwards."""

    def __init__(self) -> None:
        self.received = 0

    def __enter__(self) -> _Signals:
        self._previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for signum in self._previous:
            signal.signal(signum, self._note)
        return self

    def _note(self, signum: int, _frame: object) -> None:
        self.received = signum

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def check(self) -> None:
        if self.received:
            raise StackError(["stopped while the demo hosts were starting"], exit_code=0)


def _wait(
    ready: Callable[[], bool], what: str, signals: _Signals, procs: Sequence[subprocess.Popen[Any]]
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        signals.check()
        if exited := [p for p in procs if p.poll() is not None]:
            argv: Any = exited[0].args
            command = " ".join(map(str, argv))
            raise StackError([f"{what}: {command} exited with status {exited[0].returncode}"])
        if time.monotonic() > deadline:
            raise StackError([f"{what} did not answer within {START_TIMEOUT:.0f} s"])
        time.sleep(0.1)


def _start(host: DemoHost, sshd: str) -> list[subprocess.Popen[Any]]:
    with open(host.log / "sshd.log", "ab") as sshd_log:
        ssh = subprocess.Popen(host.ssh.argv(sshd), stderr=sshd_log, stdin=subprocess.DEVNULL)
    supervisord = [sys.executable, "-m", "supervisor.supervisord", "-c", str(host.supervisord_conf)]
    return [ssh, subprocess.Popen(supervisord, cwd=host.root, stdin=subprocess.DEVNULL)]


@contextlib.contextmanager
def running_hosts(
    files: FleetFiles,
    hosts: Sequence[DemoHost],
    env: Mapping[str, str],
    out: IO[str],
    signals: _Signals | None = None,
    started: list[subprocess.Popen[Any]] | None = None,
) -> Iterator[Path]:
    """The hosts' sshd and supervisord (with the demo) running and answering, the
    known_hosts file and the inventory written, until the block ends; yields the
    inventory. Their agents are the caller's business (demo_fleet onboards them).
    `signals`: what ends the wait for them early; `started`: filled with the
    processes started (for stack.guard, which stops them after `make up` hands over)."""
    signals = signals or _Signals()
    check_hosts_free(hosts)
    try:
        sshd = find_sshd(dict(env))
    except SshdNotFound as exc:
        raise StackError([str(exc)]) from None
    privilege_separation_ready()
    prepare(hosts, files)
    procs: list[subprocess.Popen[Any]] = [] if started is None else started
    try:
        for host in hosts:
            procs.extend(_start(host, sshd))
        for host in hosts:
            sshd_ready = partial(_answers, host.address, host.ssh.port)
            _wait(sshd_ready, f"sshd of {host.name}", signals, procs)
            demo_ready = partial(_answers, host.address, host.demo_port, "/healthz")
            _wait(demo_ready, f"the demo on {host.name}", signals, procs)
            print(
                f"  {host.name}: {host.address}, sshd on port {host.ssh.port}, "
                f"demo on {host.demo_port}",
                file=out,
                flush=True,
            )
        write_private(files.known_hosts, "".join(h.ssh.known_hosts_line() for h in hosts))
        files.inventory.write_text(inventory_text(hosts, files))
        yield files.inventory
    finally:
        if procs:
            print("stopping the demo hosts ...", file=out, flush=True)
        for proc in reversed(procs):
            stop_tree(proc)


def report(result: Onboarding, out: IO[str]) -> None:
    """Each host's outcome; a StackError naming every problem when one failed."""
    for name, host in sorted(result.hosts.items()):
        state = "installed" if host.onboarded else "FAILED"
        print(
            f"  {name}: exporter {state} ({host.changed} changed) after {host.seconds:.1f} s",
            file=out,
            flush=True,
        )
    if not result.succeeded:
        problems = [f"{h.name}: {p}" for h in result.hosts.values() for p in h.problems]
        raise StackError([f"onboarding the demo hosts: {result.status}", *problems])


@contextlib.contextmanager
def demo_fleet(
    layout: Layout,
    count: int,
    ports: Mapping[str, int],
    env: Mapping[str, str],
    out: IO[str] = sys.stdout,
    procs: list[subprocess.Popen[Any]] | None = None,
) -> Iterator[Path]:
    """`count` demo hosts running and onboarded until the block ends; yields the
    inventory that lists them. SIGINT/SIGTERM while they start stop them (and a
    running onboarding) and end `make up`. `procs`: as running_hosts' `started`."""
    files = FleetFiles(layout.var / "fleet")
    hosts = plan_hosts(files.folder, count, ports, ssh_port_from_env(env))
    started = time.monotonic()
    span = hosts[0].address + ("" if count == 1 else "-" + hosts[-1].address.rsplit(".", 1)[1])
    print(
        f"starting {count} demo host{'s' if count > 1 else ''} on {span} "
        "(sshd, supervisord, the demo) ...",
        file=out,
        flush=True,
    )
    with contextlib.ExitStack() as running:
        with _Signals() as signals:
            inventory = running.enter_context(running_hosts(files, hosts, env, out, signals, procs))
            print(
                f"onboarding them: ansible-playbook -i {inventory} deploy/agent.yml",
                file=out,
                flush=True,
            )
            result = onboard(inventory, files.runner, out, cancelled=lambda: bool(signals.received))
            signals.check()
            report(result, out)
        print(
            f"demo hosts ready in {time.monotonic() - started:.1f} s (onboarding "
            f"{result.seconds:.1f} s); inventory: {inventory}",
            file=out,
            flush=True,
        )
        yield inventory
