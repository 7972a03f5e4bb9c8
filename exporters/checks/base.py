"""What every probe check shares: its config fields, its boundaries, its report."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Annotated, Any, ClassVar

import psutil
from pydantic import StringConstraints

from exporters.categories import Category, ProbeFailure
from toolkit.config import Duration, Strict

Name = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$", min_length=1, max_length=100)
]
EnvVar = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

NETWORK_INTERVAL = 30.0
SERVICE_INTERVAL = 60.0
DEFAULT_TIMEOUT = 10.0


class CheckBase(Strict):
    """Fields of every check; `interval`/`timeout` fall back to the file's defaults."""

    name: Name
    # The service the check watches, published as `service`: the same name as that
    # service's scrape job, so its probe and request alerts share it (the probe of
    # the demo's health endpoint is about `demo`). The check's name when unset.
    service: Name | None = None
    # The inventory host the checked service runs on (alert_webhook/fleet/), published
    # as `host` so an alert about it names the host remediation acts on; unset (an
    # empty label, which Prometheus drops) for what runs beside the stack.
    host: Name | None = None
    interval: Duration | None = None
    timeout: Duration | None = None

    # Network checks (http, tcp, dns) default to 30 s, service-level ones to 60 s.
    network: ClassVar[bool] = False

    def instance(self) -> str:
        """What the check looks at, published as `instance` (blackbox_exporter's
        target: a URL, host:port, a path); kinds without one use the check's name."""
        return self.name

    def secret_vars(self) -> list[tuple[str, str]]:
        """(field, environment variable) pairs this check reads credentials from."""
        return [
            (key, value)
            for key, value in self.model_dump().items()
            if key.endswith("_env") and isinstance(value, str)
        ]


def run_command(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """The real subprocess runner: output captured as text, never raises on exit status."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


@dataclass(frozen=True)
class Boundaries:
    """Everything outside the process a check talks to; tests pass their own."""

    env: Mapping[str, str] = field(default_factory=dict)
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    getaddrinfo: Callable[..., list[Any]] = socket.getaddrinfo
    create_connection: Callable[..., socket.socket] = socket.create_connection
    run: Callable[[Sequence[str], float], subprocess.CompletedProcess[str]] = run_command
    ps: ModuleType | Any = psutil
    # Results worth keeping between runs (e.g. a backup's checksum verdict), owned by
    # the exporter instance rather than by a module, so two instances never share one.
    cache: dict[Any, Any] = field(default_factory=dict)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def secret(self, var: str) -> str:
        try:
            return self.env[var]
        except KeyError:
            raise ProbeFailure(
                Category.AUTHENTICATION, f"environment variable {var} is not set"
            ) from None


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


class Report:
    """What one run of a check measured; kept even when the run then fails."""

    def __init__(self, timeout: float, monotonic: Callable[[], float]) -> None:
        self.monotonic = monotonic
        self.deadline = monotonic() + timeout
        self.samples: list[Sample] = []

    def add(self, name: str, value: float, **labels: str) -> None:
        self.samples.append(Sample(name, float(value), tuple(sorted(labels.items()))))

    def remaining(self) -> float:
        """Seconds left before the run's deadline; a timeout failure once it passed."""
        left = self.deadline - self.monotonic()
        if left <= 0:
            raise ProbeFailure(Category.TIMEOUT, "deadline exceeded")
        return left


def json_field(document: Any, path: str) -> Any:
    """`a.b.0.c` looked up in decoded JSON; a data_integrity failure when absent."""
    value = document
    for part in path.split("."):
        if isinstance(value, list) and re.fullmatch(r"\d+", part) and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise ProbeFailure(Category.DATA_INTEGRITY, f"JSON field {path!r} is missing")
    return value


def as_number(value: Any, what: str) -> float:
    """`value` as a float (int, float, Decimal, numeric text); data_integrity otherwise."""
    if value is None or isinstance(value, bool | bytes):
        raise ProbeFailure(Category.DATA_INTEGRITY, f"{what} is not a number: {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ProbeFailure(Category.DATA_INTEGRITY, f"{what} is not a number: {value!r}") from None
