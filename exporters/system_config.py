"""The system exporter's `--config` file: exclusions, collectors, textfiles, service groups."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import StringConstraints, field_validator, model_validator

from exporters.host.base import ProcessGroupSpec
from toolkit.config import Duration, Regex, Strict

# node_exporter 1.5's defaults, so both exporters publish the same set of series.
MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    r"iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|"
    r"squashfs|sysfs|tracefs)$"
)
NETWORK_DEVICE_EXCLUDE = r"^lo$"
NETCLASS_DEVICE_EXCLUDE = r"^$"
DISK_DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
# Under Prometheus's default 10 s scrape timeout, with room for the rest of the scrape.
COLLECTOR_TIMEOUT = 5.0

GroupName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$", min_length=1, max_length=100)
]
TARGETS = ("name_pattern", "pidfile", "systemd_unit", "supervisor_program")


class ProcessGroup(Strict):
    """One service's processes, named exactly one way."""

    name: GroupName
    name_pattern: Regex | None = None  # matched against the whole process name
    pidfile: Path | None = None
    systemd_unit: str | None = None
    supervisor_program: str | None = None
    # supervisord's serverurl (`unix:///run/supervisor.sock`, `http://127.0.0.1:9001`)
    supervisor_url: str | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> ProcessGroup:
        named = [t for t in TARGETS if getattr(self, t) is not None]
        if len(named) != 1:
            raise ValueError(f"name exactly one of {', '.join(TARGETS)}")
        if (self.supervisor_program is None) != (self.supervisor_url is None):
            raise ValueError("supervisor_program and supervisor_url go together")
        return self

    def spec(self) -> ProcessGroupSpec:
        return ProcessGroupSpec(
            name=self.name,
            name_pattern=re.compile(self.name_pattern) if self.name_pattern else None,
            pidfile=self.pidfile,
            systemd_unit=self.systemd_unit,
            supervisor_program=self.supervisor_program,
            supervisor_url=self.supervisor_url,
        )


class SystemConfig(Strict):
    """The optional `--config` file of the system exporter."""

    mount_points_exclude: Regex = MOUNT_POINTS_EXCLUDE
    fs_types_exclude: Regex = FS_TYPES_EXCLUDE
    disk_devices_exclude: Regex = DISK_DEVICE_EXCLUDE
    network_devices_exclude: Regex = NETWORK_DEVICE_EXCLUDE
    netclass_devices_exclude: Regex = NETCLASS_DEVICE_EXCLUDE
    # Collector names; all of them when left out.
    collectors: list[str] | None = None
    collector_timeout: Duration = COLLECTOR_TIMEOUT
    textfile_directory: Path | None = None
    process_groups: list[ProcessGroup] = []

    @field_validator("process_groups")
    @classmethod
    def _unique_names(cls, groups: list[ProcessGroup]) -> list[ProcessGroup]:
        names = [g.name for g in groups]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"group names must be unique: {', '.join(doubled)}")
        return groups
