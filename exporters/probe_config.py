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
from typing import Annotated, Any

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
from exporters.checks.integrity import IntegrityCheck
from exporters.checks.net import DnsCheck, TcpCheck
from exporters.checks.queue import QueueCheck
from exporters.checks.service import ServiceCheck
from exporters.checks.sql import DbPoolCheck
from toolkit.config import ConfigError, Duration, Strict, load_yaml, parse_model

Check = Annotated[
    HttpCheck
    | TcpCheck
    | DnsCheck
    | ServiceCheck
    | QueueCheck
    | DbPoolCheck
    | BackupCheck
    | IntegrityCheck,
    Field(discriminator="kind"),
]
KINDS = ("http", "tcp", "dns", "service", "queue", "db_pool", "backup", "integrity")

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

    @property
    def service(self) -> str:
        return self.check.service or self.check.name

    @property
    def instance(self) -> str:
        return self.check.instance()


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


def _duplicate_names(data: Any) -> list[str]:
    """Read from the raw document, so duplicates are listed with the other errors."""
    checks = data.get("checks") if isinstance(data, dict) else None
    if not isinstance(checks, list):
        return []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, check in enumerate(checks):
        name = check.get("name") if isinstance(check, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            problems.append(f"checks[{index}].name: duplicate of checks[{seen[name]}]")
        seen.setdefault(name, index)
    return problems


def _missing_secrets(probe_file: ProbeFile, env: Mapping[str, str]) -> list[str]:
    return [
        f"checks[{index}].{key}: environment variable {var} is not set"
        for index, check in enumerate(probe_file.checks)
        for key, var in check.secret_vars()
        if var not in env
    ]


def load_probe_file(path: Path, env: Mapping[str, str]) -> list[Probe]:
    """Parse and validate `path`; ConfigError lists every problem found."""
    source = str(path)
    data = load_yaml(path)
    duplicates = _duplicate_names(data)
    try:
        probe_file = parse_model(ProbeFile, data, source, skip_tag=lambda p: p in KINDS)
    except ConfigError as exc:
        raise ConfigError(source, [*exc.problems, *duplicates]) from None
    problems = duplicates + _missing_secrets(probe_file, env)
    if problems:
        raise ConfigError(source, problems)
    return resolve(probe_file)
