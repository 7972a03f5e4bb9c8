"""The one list of hosts: an Ansible inventory, read by Ansible's own parser.

The file is the operator's, unchanged (YAML or INI: `ansible_host`,
`ansible_port`, groups, host variables); nothing here writes or extends the
format. What the stack reads of it:

- each host's inventory name, address (`ansible_host`, else the name), SSH port
  and groups (without the implicit `all` and `ungrouped`);
- `recovery_stack_exporter_port` (default 9101): where the host's system exporter
  listens;
- `recovery_stack_jobs`: more per-host scrape jobs, `{job: port}`;
- `recovery_stack_probes`: checks of the probe exporter (docs/exporters.md) for the
  services on the host, each published with the host's name as `host` — so a
  ServiceUnavailable names the host remediation acts on.

`Inventory.resolve` names the host an alert is about, and refuses everything that
is not one plain inventory host: Ansible reads host patterns (`all`, `*`, `a,b`,
`!x`, `~re`, `a:b`, `a[0]`) wherever a host name goes, so a label value reaches
Ansible only after it matched a name in this file exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.config import ConfigError

DEFAULT_EXPORTER_PORT = 9101
EXPORTER_PORT_VAR = "recovery_stack_exporter_port"
JOBS_VAR = "recovery_stack_jobs"
PROBES_VAR = "recovery_stack_probes"
# What a host name from a label may be before it is looked up: a letter or digit,
# then letters, digits and `._-` — nothing Ansible reads as a pattern.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_JOB = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_IMPLICIT_GROUPS = frozenset({"all", "ungrouped"})


class NotInFleet(Exception):
    """The alert names no host of the inventory; the message says why."""


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    ssh_port: int | None
    groups: tuple[str, ...]
    exporter_port: int = DEFAULT_EXPORTER_PORT
    jobs: Mapping[str, int] = field(default_factory=dict)
    probes: tuple[Mapping[str, Any], ...] = ()

    @property
    def exporter(self) -> str:
        return f"{self.address}:{self.exporter_port}"

    def probe_checks(self) -> list[dict[str, Any]]:
        """The host's probe checks as the probe exporter reads them: named
        `NAME.HOST` (unique across the fleet) and with `host` set."""
        return [{**check, "name": f"{check['name']}.{self.name}", "host": self.name}
                for check in self.probes]  # fmt: skip


@dataclass(frozen=True)
class Inventory:
    path: Path | None
    hosts: tuple[Host, ...]

    def host(self, name: str) -> Host | None:
        return next((h for h in self.hosts if h.name == name), None)

    def resolve(self, labels: Mapping[str, str]) -> Host:
        """The one inventory host an alert names: its `host` label when it has one,
        else its `instance` (host:port) matched to a host's name or address.
        NotInFleet says why there is none."""
        if "host" in labels:
            return self._named(labels["host"], "host")
        instance = labels.get("instance")
        if instance is None:
            raise NotInFleet("the alert has neither a host nor an instance label")
        return self._named(_host_part(instance), "instance")

    def _named(self, value: str, label: str) -> Host:
        if not PLAIN_NAME.fullmatch(value):
            raise NotInFleet(f"label {label} {value!r} is not a plain host name")
        for host in self.hosts:
            if value == host.name:
                return host
        matches = [h for h in self.hosts if h.address == value]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(h.name for h in matches)
            raise NotInFleet(f"label {label} {value!r} is the address of several hosts ({names})")
        where = self.path or "the inventory"
        raise NotInFleet(f"label {label} {value!r} names no host in {where}")


def _host_part(instance: str) -> str:
    """`host` of `host:port`, `[v6]:port` or a bare host; the value itself when it
    has no such shape (then the plain-name check refuses it)."""
    if instance.startswith("["):
        end = instance.find("]")
        return instance[1:end] if end > 0 else instance
    host, sep, port = instance.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host
    return instance


def local_inventory() -> Inventory:
    """Without an inventory file: this machine, as the stack has always watched it."""
    return Inventory(None, (Host("localhost", "127.0.0.1", None, ()),))


def fleet_inventory(path: Path | None) -> Inventory:
    """The inventory the settings' `fleet.inventory` names, else this machine alone;
    a ConfigError naming the setting, the file and each host's problem."""
    if path is None:
        return local_inventory()
    try:
        return load_inventory(path)
    except ConfigError as exc:
        raise ConfigError(f"fleet.inventory {exc.source}", exc.problems) from None


def load_inventory(path: Path) -> Inventory:
    """The inventory at `path`, parsed by Ansible; ConfigError lists what is wrong."""
    if not path.is_file():
        raise ConfigError(str(path), ["file not found"])
    from ansible.inventory.manager import InventoryManager  # noqa: PLC0415 (seconds to import)
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415

    # A file no inventory plugin reads is only a warning to Ansible: an empty list.
    manager = InventoryManager(loader=DataLoader(), sources=[str(path)])
    problems: list[str] = []
    hosts = []
    for raw in manager.get_hosts():
        groups = [str(g.name) for g in raw.get_groups()]
        host, wrong = _host(str(raw.name), _plain(raw.get_vars()), groups)
        problems += [f"host {raw.name}: {p}" for p in wrong]
        hosts.append(host)
    if not hosts and not problems:
        problems.append("lists no hosts (or is not an Ansible inventory in YAML or INI)")
    if problems:
        raise ConfigError(str(path), problems)
    return Inventory(path, tuple(hosts))


def _host(name: str, variables: Mapping[str, Any], groups: list[str]) -> tuple[Host, list[str]]:
    problems = []
    if not PLAIN_NAME.fullmatch(name):
        problems.append(
            "the name must be letters, digits and ._- (starting with a letter or digit)"
        )
    address = str(variables.get("ansible_host", name))
    ssh_port = _port(variables.get("ansible_port"), "ansible_port", problems)
    exporter_port = _port(
        variables.get(EXPORTER_PORT_VAR, DEFAULT_EXPORTER_PORT), EXPORTER_PORT_VAR, problems
    )
    raw_jobs = variables.get(JOBS_VAR) or {}
    jobs: dict[str, int] = {}
    if not isinstance(raw_jobs, Mapping):
        problems.append(f"{JOBS_VAR} must map job names to ports")
        raw_jobs = {}
    for job, port in raw_jobs.items():
        if not isinstance(job, str) or not _JOB.fullmatch(job):
            problems.append(f"{JOBS_VAR}: {job!r} is not a job name")
            continue
        if (checked := _port(port, f"{JOBS_VAR}.{job}", problems)) is not None:
            jobs[job] = checked
    probes = _probes(variables.get(PROBES_VAR) or [], problems)
    kept = tuple(sorted(g for g in groups if g not in _IMPLICIT_GROUPS))
    exporter = exporter_port or DEFAULT_EXPORTER_PORT
    return Host(name, address, ssh_port, kept, exporter, jobs, probes), problems


def _plain(value: Any) -> Any:
    """Ansible's values as plain Python: it hands out its own tagged subclasses of
    str, dict and list, which YAML and JSON writers refuse."""
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _probes(raw: Any, problems: list[str]) -> tuple[Mapping[str, Any], ...]:
    """The checks' shape only; the probe exporter's own model checks the rest when
    the stack renders them."""
    if not isinstance(raw, list):
        problems.append(f"{PROBES_VAR} must be a list of probe checks")
        return ()
    checks = []
    for i, check in enumerate(raw):
        if not isinstance(check, Mapping) or not isinstance(check.get("name"), str):
            problems.append(f"{PROBES_VAR}[{i}] must be a check with a name")
        elif "host" in check:
            problems.append(f"{PROBES_VAR}[{i}].host: set by the inventory, not the check")
        else:
            checks.append(dict(check))
    return tuple(checks)


def _port(value: Any, key: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536 or isinstance(value, bool):
        problems.append(f"{key} {value!r} is not a port (1-65535)")
        return None
    return port
