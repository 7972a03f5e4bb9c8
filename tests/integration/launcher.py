"""`python -m stack up` run by a test, on free ports under its own root, and
always stopped: what a person gets from `make up` (or `make up FAST=1`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from support.procs import free_port, wait_until

from alert_webhook.remediation.states import RunStatus
from stack.ports import HOST, SERVICES
from stack.up import TOKEN_ENV, stop_process

UP_TIMEOUT = 90.0
# The outcome of a remediation run whose playbook fixed what fired. The one
# place the tests name it: it becomes "verified" once runs are checked against
# Prometheus.
RECOVERED = RunStatus.VERIFIED.value


def launcher(
    root: Path,
    ports: dict[str, int],
    token: str,
    *args: str,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """`python -m stack up` on `ports`, with `env` over this process's environment."""
    env = {**os.environ, **(env or {}), TOKEN_ENV: token}
    env.update({s.env_var: str(ports[s.name]) for s in SERVICES})
    return subprocess.Popen(
        [sys.executable, "-m", "stack", "up", f"--root={root}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


class Output:
    """Collects a process's output on a thread so the test can wait on it."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        stream = self._stream = proc.stdout
        self._thread = threading.Thread(
            target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True
        )
        self._thread.start()

    def text(self) -> str:
        return "".join(self.lines)

    def close(self) -> None:
        self._thread.join(timeout=10)
        self._stream.close()


@dataclass(frozen=True)
class Launched:
    root: Path
    ports: dict[str, int]
    token: str
    proc: subprocess.Popen[str]
    out: Output

    def url(self, service: str, path: str = "") -> str:
        return f"http://{HOST}:{self.ports[service]}{path}"

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m stack ctl` on this stack."""
        argv = [sys.executable, "-m", "stack", "ctl", f"--root={self.root}", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    def state(self, program: str) -> tuple[str, int | None]:
        """supervisord's state of `program` and its pid while it runs."""
        words = self.ctl("status", program).stdout.split()
        pid = int(words[3].rstrip(",")) if len(words) > 3 and words[2] == "pid" else None
        return words[1], pid

    def remediations(self) -> list[dict[str, Any]]:
        response = requests.get(self.url("webhook", "/api/remediations"), timeout=5)
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["remediations"]
        return runs

    def post_alerts(self, body: dict[str, Any]) -> None:
        """A notification straight to the webhook, as Alertmanager sends it."""
        response = requests.post(
            self.url("webhook", "/alerts"),
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text


@contextlib.contextmanager
def launched(
    root: Path,
    token: str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    up_timeout: float = UP_TIMEOUT,
) -> Iterator[Launched]:
    """The stack up and answering until the block ends, then stopped. `env`: more
    variables for it (DEMO_HOST_SSH_PORT, say); `up_timeout`: how long it may take
    (demo hosts are onboarded first)."""
    ports = {s.name: free_port() for s in SERVICES}
    proc = launcher(root, ports, token, *args, env=env)
    out = Output(proc)
    try:
        wait_until(
            lambda: "recovery-stack is up" in out.text() or proc.poll() is not None,
            up_timeout,
            "the stack to come up",
        )
        assert proc.poll() is None, out.text()
        yield Launched(root, ports, token, proc, out)
    finally:
        # Ctrl-C, as a person stops it.
        stop_process(proc, signal.SIGINT, timeout=60)
        out.close()
