"""The probe file: which checks run, how often, with what timeout.

```yaml
defaults: {network_interval: 30s, service_interval: 60s, timeout: 10s}
checks:
  - {name: demo-http, kind: http, url: "http://127.0.0.1:8081/healthz"}
  - {name: demo-port, kind: tcp, host: 127.0.0.1, port: 8081, interval: 15s}
```

Every error in the file is reported at once, each with its path
(`probes.yml: checks[2].timeout: must be a positive duration`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field

from exporters.checks.backup import BackupCheck
from exporters.checks.base import (
    DEFAULT_TIMEOUT,
    NETWORK_INTERVAL,
    SERVICE_INTERVAL,
    Boundaries,
    CheckBase,
    Report,
)
from exporters.checks.http import HttpCheck
from exporters.checks.net import DnsCheck, TcpCheck
from exporters.checks.queue import QueueCheck
from exporters.checks.service import ServiceCheck
from exporters.checks.sql import DbPoolCheck
from exporters.config import ConfigError, Duration, Strict, load_yaml, parse_model

Check = Annotated[
    HttpCheck | TcpCheck | DnsCheck | ServiceCheck | QueueCheck | DbPoolCheck | BackupCheck,
    Field(discriminator="kind"),
]
KINDS = ("http", "tcp", "dns", "service", "queue", "db_pool", "backup")

Runner = Callable[[CheckBase, Report, Boundaries], None]


class Defaults(Strict):
    network_interval: Duration = NETWORK_INTERVAL
    service_interval: Duration = SERVICE_INTERVAL
    timeout: Duration = DEFAULT_TIMEOUT


class ProbeFile(Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    checks: list[Check] = Field(default_factory=list)


@dataclass(frozen=True)
class Probe:
    """One check with its interval and timeout resolved."""

    check: CheckBase
    kind: str
    interval: float
    timeout: float

    @property
    def name(self) -> str:
        return self.check.name


def resolve(probe_file: ProbeFile) -> list[Probe]:
    probes = []
    for check in probe_file.checks:
        defaults = probe_file.defaults
        interval = check.interval or (
            defaults.network_interval if check.network else defaults.service_interval
        )
        # A run never outlives its own interval, so runs of one check never overlap.
        timeout = min(check.timeout or defaults.timeout, interval)
        probes.append(Probe(check, getattr(check, "kind"), interval, timeout))  # noqa: B009
    return probes


def _semantic_problems(probe_file: ProbeFile, env: Mapping[str, str]) -> list[str]:
    problems = []
    seen: dict[str, int] = {}
    for index, check in enumerate(probe_file.checks):
        if check.name in seen:
            first = seen[check.name]
            problems.append(f"checks[{index}].name: duplicate of checks[{first}]")
        seen.setdefault(check.name, index)
        for key, var in check.secret_vars():
            if var not in env:
                problems.append(f"checks[{index}].{key}: environment variable {var} is not set")
    return problems


def load_probe_file(path: Path, env: Mapping[str, str]) -> list[Probe]:
    """Parse and validate `path`; ConfigError lists every problem found."""
    source = str(path)
    probe_file = parse_model(ProbeFile, load_yaml(path), source, skip_tag=lambda p: p in KINDS)
    problems = _semantic_problems(probe_file, env)
    if problems:
        raise ConfigError(source, problems)
    return resolve(probe_file)
