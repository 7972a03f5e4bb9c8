"""Onboarding through ansible-runner: `deploy/agent.yml` run on an inventory's
hosts, with a line per task as it starts, each failure as it happens, and how
long each host took.

The same playbook a person runs with `ansible-playbook -i INVENTORY
deploy/agent.yml`; `make up HOSTS=N` runs it here on the demo hosts, so every
such run exercises onboarding.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
AGENT_PLAYBOOK = REPO / "deploy" / "agent.yml"
# One run's ceiling: the wheelhouse, a virtualenv and pip on every host in parallel.
ONBOARD_TIMEOUT = 300


@dataclass
class HostResult:
    name: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def onboarded(self) -> bool:
        return not (self.failed or self.unreachable)


@dataclass
class Onboarding:
    status: str  # ansible-runner's: successful, failed, timeout, canceled
    seconds: float
    hosts: dict[str, HostResult]

    @property
    def succeeded(self) -> bool:
        return self.status == "successful" and all(h.onboarded for h in self.hosts.values())

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())


def runner_env(control_dir: Path, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Ansible's settings for the run: this interpreter's ansible-playbook first
    on PATH, pipelining on, host keys checked (the inventory names the
    known_hosts file), and SSH connections shared within the run under
    `control_dir` (closed again by close_connections)."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": os.pathsep.join([bin_dir, env.get("PATH", os.defpath)]),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=30s",
        # A connection dropped on a busy machine is tried again (ssh's exit 255),
        # not the host reported unreachable halfway through its onboarding.
        "ANSIBLE_SSH_RETRIES": "3",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
    }


def close_connections(control_dir: Path) -> None:
    """Stop the SSH masters a run left for reuse: nothing outlives `make up`."""
    for socket_path in glob.glob(str(control_dir / "*")):
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "fleet-host"],
            capture_output=True,
            timeout=10,
            check=False,
        )


class _Progress:
    """ansible-runner's events as progress lines and per-host tallies."""

    def __init__(self, out: IO[str], started: float, clock: Callable[[], float]) -> None:
        self.out, self.started, self.clock = out, started, clock
        self.hosts: dict[str, HostResult] = {}

    def __call__(self, event: Mapping[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_task_start":
            print(f"  onboarding: {data.get('task', '?')}", file=self.out, flush=True)
        elif kind.startswith("runner_on_") and (name := data.get("host")):
            host = self.hosts.setdefault(name, HostResult(name))
            host.seconds = self.clock() - self.started
            if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get(
                "ignore_errors"
            ):
                result = data.get("res") or {}
                # A loop's own message is "All items completed": the item's says why.
                items = [r for r in result.get("results") or [] if isinstance(r, Mapping)]
                for item in items:
                    if item.get("unreachable") or item.get("failed"):
                        result = item
                        break
                message = str(result.get("msg") or result.get("stderr") or "failed").strip()
                problem = f"{data.get('task', '?')}: {message.splitlines()[-1][:300]}"
                host.problems.append(problem)
                print(f"  {name}: FAILED {problem}", file=self.out, flush=True)
        elif kind == "playbook_on_stats":
            for key in ("ok", "changed", "failures", "dark"):
                for name, count in (data.get(key) or {}).items():
                    host = self.hosts.setdefault(name, HostResult(name))
                    attr = {"failures": "failed", "dark": "unreachable"}.get(key, key)
                    setattr(host, attr, int(count))
        return True


def onboard(
    inventory: Path,
    private_dir: Path,
    out: IO[str] = sys.stdout,
    limit: str | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    playbook: Path = AGENT_PLAYBOOK,
    timeout: int = ONBOARD_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
) -> Onboarding:
    """Run the agent playbook on `inventory`'s hosts (or `limit`'s), ansible-runner's
    artifacts under `private_dir`; stopped when `cancelled()` turns true."""
    import ansible_runner  # Ansible's start-up cost only where it runs

    private_dir.mkdir(parents=True, exist_ok=True)
    # ssh's control sockets in a short folder of their own: a unix socket's path
    # has ~108 bytes, and one under a deep checkout (or a test's tmp folder) did
    # not fit — every connection then failed as "unreachable".
    control_dir = Path(tempfile.mkdtemp(prefix="rs-onboard-"))
    started = clock()
    progress = _Progress(out, started, clock)
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private_dir),
            playbook=str(playbook),
            inventory=str(inventory),
            limit=limit,
            envvars=runner_env(control_dir),
            event_handler=progress,
            cancel_callback=cancelled,
            quiet=True,
            timeout=timeout,
            rotate_artifacts=2,
            forks=20,
        )
    finally:
        close_connections(control_dir)
        shutil.rmtree(control_dir, ignore_errors=True)
    # ansible-runner keeps the command with this process's whole environment (the
    # webhook's token, say) among the run's artifacts: secrets stay out of files.
    (Path(runner.config.artifact_dir) / "command").unlink(missing_ok=True)
    return Onboarding(str(runner.status), clock() - started, progress.hosts)
