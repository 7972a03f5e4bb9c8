"""The stack's services, their default loopback ports and the variables that move them."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Service:
    name: str
    env_var: str
    default_port: int
    # A path that answers 2xx once the service is up.
    ready_path: str


SERVICES: tuple[Service, ...] = (
    Service("prometheus", "PROMETHEUS_PORT", 9090, "/-/ready"),
    Service("alertmanager", "ALERTMANAGER_PORT", 9093, "/-/ready"),
    Service("webhook", "WEBHOOK_PORT", 9095, "/readyz"),
    Service("system_exporter", "SYSTEM_EXPORTER_PORT", 9101, "/metrics"),
    Service("probe_exporter", "PROBE_EXPORTER_PORT", 9102, "/metrics"),
    # The demo system (demo/): the orders API, its worker, and the three instances
    # of the dependency it calls (the recovery plan's failover chain).
    Service("demo", "DEMO_PORT", 8081, "/healthz"),
    Service("demo_worker", "DEMO_WORKER_PORT", 8082, "/healthz"),
    Service("dependency_primary", "DEPENDENCY_PRIMARY_PORT", 8083, "/healthz"),
    Service("dependency_secondary", "DEPENDENCY_SECONDARY_PORT", 8084, "/healthz"),
    Service("dependency_tertiary", "DEPENDENCY_TERTIARY_PORT", 8085, "/healthz"),
)
# The dependency's instances in failover order, with their services.
DEPENDENCY_INSTANCES = {
    "primary": "dependency_primary",
    "secondary": "dependency_secondary",
    "tertiary": "dependency_tertiary",
}


class StackError(Exception):
    """A problem that stops the stack before it starts; one line per problem."""

    def __init__(self, problems: list[str], exit_code: int = 1) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.exit_code = exit_code


def ports_from_env(env: Mapping[str, str]) -> dict[str, int]:
    """Each service's port: its variable when set, else the default."""
    ports: dict[str, int] = {}
    problems: list[str] = []
    for service in SERVICES:
        raw = env.get(service.env_var, "").strip()
        if not raw:
            ports[service.name] = service.default_port
        elif raw.isdigit() and 0 < int(raw) < 65536:
            ports[service.name] = int(raw)
        else:
            problems.append(f"{service.env_var}={raw}: must be a port number from 1 to 65535")
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            problems.append(f"port {port} is given to both {seen[port]} and {name}")
        seen[port] = name
    if problems:
        raise StackError(problems, exit_code=2)
    return ports


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a server would: connections in TIME_WAIT do not make a port taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def check_ports_free(ports: Mapping[str, int]) -> None:
    by_name = {s.name: s for s in SERVICES}
    taken = [
        f"port {port} ({name}) is already in use on {HOST}: stop what listens there "
        f"(`ss -ltnp 'sport = :{port}'` shows it) or set {by_name[name].env_var} to another port"
        for name, port in ports.items()
        if port_in_use(port)
    ]
    if taken:
        raise StackError(taken)
