"""The real alert path on free loopback ports: demo → Prometheus → Alertmanager → webhook.

The same configs and command lines as `make up` (stack.up.render_all and
stack.supervisor.programs), each process started by the test and stopped even
when it fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.procs import find_binary, free_port, running

from stack.ports import HOST, SERVICES
from stack.supervisor import Layout, programs
from stack.up import TOKEN_ENV, render_all


@dataclass(frozen=True)
class AlertPath:
    ports: dict[str, int]
    token: str
    logs: Path

    def url(self, service: str, path: str = "") -> str:
        return f"http://{HOST}:{self.ports[service]}{path}"


@pytest.fixture
def alert_path(tmp_path: Path) -> Iterator[AlertPath]:
    """Every process of the stack and the demo system with 1 s intervals,
    `group_wait: 0s` and every rule's `for` at 0 s, so a threshold crossing
    reaches the webhook in seconds; the `for` semantics themselves are covered
    by the promtool rule tests."""
    ports = {service.name: free_port() for service in SERVICES}
    token = secrets.token_urlsafe(16)
    layout = Layout(tmp_path)
    layout.make()
    binaries = {var: find_binary(var) for var in ("PROMETHEUS_BIN", "ALERTMANAGER_BIN")}
    commands = programs(layout, ports, binaries, render_all(layout, ports, token, fast=True))
    path = AlertPath(ports, token, layout.log)
    with ExitStack() as stack:
        for service in SERVICES:
            stack.enter_context(
                running(
                    service.name,
                    commands[service.name],
                    layout.log,
                    ready_url=path.url(service.name, service.ready_path),
                    env={TOKEN_ENV: token},
                    cwd=tmp_path,
                )
            )
        yield path
