"""The fleet's scrape targets, rendered from the Ansible inventory for Prometheus's
`file_sd_configs`.

Two files under var/run/targets/, each a list of target groups:

- `system.json`: each host's system exporter (`address:recovery_stack_exporter_port`),
  read by the `system` job;
- `jobs.json`: each host's per-host jobs (`recovery_stack_jobs: {job: port}`), read by
  one scrape config, `inventory_jobs`, whose targets carry their `job` label
  themselves: a job the inventory adds later appears without touching
  prometheus.yml (a label a target brings wins over the scrape config's job name).

Every target carries `host` (its inventory name) and, when the host is in any
group, `groups` — the group names sorted and comma-joined with a comma at each end,
`",db,web,"`. One label rather than one per group: a host's series keep their
identity when it joins a group, any number of groups fit, group names never
become label names, and `groups=~".*,db,.*"` matches one group exactly (the
commas stop `db` matching `db2`) — the scheme Prometheus's own Consul and EC2
discovery use for tags.

The stack's own machine is always watched: its exporter (which counts the local
demo's processes) is a target as host `localhost` beside the inventory's hosts,
unless the inventory lists that exporter or that name itself.

Prometheus watches the files and applies a change within seconds, without a
restart; each file is replaced by a rename, so it never reads half of one.
`fleet.json` beside them records what the run was started with (the inventory,
the local exporter, Prometheus's URL), so `python -m stack hosts --sync`
re-renders the same way after the inventory changed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alert_webhook.fleet.inventory import Host, Inventory, load_inventory, local_inventory
from stack.ports import HOST, StackError
from toolkit.config import EXIT_CONFIG_ERROR, ConfigError

SYSTEM_JOB = "system"
# The scrape config of the inventory's per-host jobs; each target names its own job.
JOBS_SCRAPE_CONFIG = "inventory_jobs"
SYSTEM_FILE = "system.json"
JOBS_FILE = "jobs.json"
STATE_FILE = "fleet.json"
LOCAL_HOST = local_inventory().hosts[0].name


@dataclass(frozen=True)
class FleetTargets:
    """What one rendering wrote: the folder of the targets files, the hosts in
    them, and where they came from."""

    folder: Path
    hosts: tuple[Host, ...]
    inventory: Path | None
    prometheus_url: str

    @property
    def system_file(self) -> Path:
        return self.folder / SYSTEM_FILE

    @property
    def jobs_file(self) -> Path:
        return self.folder / JOBS_FILE


def targets_folder(root: Path) -> Path:
    return root / "var" / "run" / "targets"


def local_host(exporter_port: int) -> Host:
    """This machine as the stack watches it: its own system exporter on loopback."""
    return Host(LOCAL_HOST, HOST, None, (), exporter_port=exporter_port)


def watched_hosts(inventory: Inventory | None, local: Host) -> tuple[Host, ...]:
    """The inventory's hosts and this machine, unless the inventory names it."""
    hosts = inventory.hosts if inventory is not None else ()
    listed = any(h.name == local.name or h.exporter == local.exporter for h in hosts)
    return hosts if listed else (*hosts, local)


def host_labels(host: Host) -> dict[str, str]:
    labels = {"host": host.name}
    if host.groups:
        labels["groups"] = f",{','.join(sorted(host.groups))},"
    return labels


def system_groups(hosts: Iterable[Host]) -> list[dict[str, Any]]:
    return [{"targets": [h.exporter], "labels": host_labels(h)} for h in hosts]


def job_groups(hosts: Iterable[Host]) -> list[dict[str, Any]]:
    return [
        {"targets": [f"{h.address}:{port}"], "labels": {"job": job, **host_labels(h)}}
        for h in hosts
        for job, port in sorted(h.jobs.items())
    ]


def check_jobs(hosts: Iterable[Host], source: Path | None) -> None:
    """A per-host job may share a name with another host's or the stack's own
    (`demo` on many hosts is one service), never the system exporters' job."""
    bad = [h.name for h in hosts if SYSTEM_JOB in h.jobs]
    if bad:
        where = str(source) if source else "the inventory"
        raise StackError(
            [
                f"{where}: host {name}: recovery_stack_jobs may not name {SYSTEM_JOB!r} "
                "(the system exporter's job; set recovery_stack_exporter_port instead)"
                for name in bad
            ],
            exit_code=EXIT_CONFIG_ERROR,
        )


def write_atomically(path: Path, text: str) -> Path:
    """`text` into `path` through a file beside it renamed over it: a reader (Prometheus
    watching the folder) sees the old content or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_inventory(path: Path | None) -> Inventory | None:
    """The inventory at `path` (None: none given); a StackError listing its problems."""
    if path is None:
        return None
    try:
        return load_inventory(path)
    except ConfigError as exc:
        raise StackError(exc.lines, exit_code=EXIT_CONFIG_ERROR) from None


def write_targets(
    folder: Path, inventory: Inventory | None, local: Host, prometheus_url: str
) -> FleetTargets:
    """The targets files for `inventory` (and this machine) in `folder`."""
    hosts = watched_hosts(inventory, local)
    source = inventory.path.resolve() if inventory and inventory.path else None
    check_jobs(hosts, source)
    write_atomically(folder / SYSTEM_FILE, _json(system_groups(hosts)))
    write_atomically(folder / JOBS_FILE, _json(job_groups(hosts)))
    state = {
        "inventory": str(source) if source else None,
        "local_exporter_port": local.exporter_port,
        "prometheus_url": prometheus_url,
    }
    write_atomically(folder / STATE_FILE, _json(state))
    return FleetTargets(folder, hosts, source, prometheus_url)


def render_fleet(root: Path, ports: Mapping[str, int], inventory: Path | None) -> FleetTargets:
    """The entry point of `stack up --inventory FILE` (and of anything that starts the
    stack for a fleet): the inventory checked — a StackError (exit 2) naming the file
    and each host's problem — and the targets files written for the run under
    `root`. None: this machine alone, as the stack has always watched it."""
    return write_targets(
        targets_folder(root),
        read_inventory(inventory),
        local_host(ports["system_exporter"]),
        f"http://{HOST}:{ports['prometheus']}",
    )


def recorded(root: Path) -> dict[str, Any] | None:
    """What the last run under `root` rendered its targets from; None before any."""
    try:
        state = json.loads((targets_folder(root) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def sync(root: Path, inventory: Path | None, ports: Mapping[str, int]) -> FleetTargets:
    """Re-render the running stack's targets after its inventory changed: from
    `inventory`, else the one the run was started with; Prometheus applies the new
    files by itself."""
    state = recorded(root) or {}
    if inventory is None and state.get("inventory"):
        inventory = Path(state["inventory"])
    port = int(state.get("local_exporter_port") or ports["system_exporter"])
    url = str(state.get("prometheus_url") or f"http://{HOST}:{ports['prometheus']}")
    return write_targets(targets_folder(root), read_inventory(inventory), local_host(port), url)


def scrape_configs(targets: FleetTargets) -> list[dict[str, Any]]:
    """The scrape configs that read the targets files (prometheus.yml's `system`
    job is replaced by the first)."""
    return [
        {"job_name": SYSTEM_JOB, "file_sd_configs": [{"files": [str(targets.system_file)]}]},
        {
            "job_name": JOBS_SCRAPE_CONFIG,
            "file_sd_configs": [{"files": [str(targets.jobs_file)]}],
        },
    ]


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def describe(hosts: Sequence[Host]) -> str:
    """One line for `make up`'s output."""
    names = ", ".join(h.name for h in hosts)
    return f"{len(hosts)} host{'s' if len(hosts) != 1 else ''} watched: {names}"
