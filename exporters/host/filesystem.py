"""Mounted filesystems: space and inodes from statvfs, as node_exporter computes them.

One statvfs per mount gives bytes (blocks × f_bsize, as node_exporter multiplies)
and inodes. Where there is no statvfs (Windows), psutil's disk_usage gives the
bytes and no inodes are published. A statvfs on a hung mount (an unreachable NFS
server) blocks this collector only: the exporter's per-collector timeout reports
it failed and serves the rest of the scrape.

Under a host root (`--path.rootfs`, an exporter in a container watching its host)
the mounts are PID 1's, the host's own (the exporter's are the container's), each
measured through the root and named as the host names it, as node_exporter does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from prometheus_client.core import GaugeMetricFamily, Metric

from exporters.host.base import HostContext, read_required

log = logging.getLogger(__name__)

FAMILIES = (
    ("size_bytes", "Filesystem size in bytes."),
    ("free_bytes", "Filesystem free space in bytes."),
    ("avail_bytes", "Filesystem space available to non-root users in bytes."),
    ("files", "Filesystem total file nodes."),
    ("files_free", "Filesystem total free file nodes."),
    ("readonly", "Filesystem read-only status."),
    ("device_error", "Whether an error occurred while getting statistics for the given device."),
)


class Mount(NamedTuple):
    device: str
    mountpoint: str  # as the host names it
    fstype: str
    opts: str


def _unescape(field: str) -> str:
    r"""The kernel writes space, tab, newline and backslash in a mount table as \ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(c: HostContext) -> list[Mount]:
    """The mounted filesystems: psutil's on the exporter's own machine, PID 1's
    mount table under a host root."""
    if c.host.root_fs == Path("/"):
        return [
            Mount(p.device, p.mountpoint, p.fstype, p.opts)
            for p in c.host.ps.disk_partitions(all=True)
        ]
    table = read_required(c.host.proc_root / "1" / "mounts")
    fields = (line.split() for line in table.splitlines())
    return [Mount(*(_unescape(f) for f in row[:4])) for row in fields if len(row) >= 4]


def _through_root(c: HostContext, mountpoint: str) -> str:
    """Where this process reaches the host's `mountpoint`."""
    if c.host.root_fs == Path("/"):
        return mountpoint
    return str(c.host.root_fs / mountpoint.lstrip("/"))


def _usage(c: HostContext, mountpoint: str) -> dict[str, float]:
    if c.host.statvfs is not None:
        st: Any = c.host.statvfs(_through_root(c, mountpoint))
        return {
            "size_bytes": st.f_blocks * st.f_bsize,
            "free_bytes": st.f_bfree * st.f_bsize,
            "avail_bytes": st.f_bavail * st.f_bsize,
            "files": st.f_files,
            "files_free": st.f_ffree,
        }
    usage = c.host.ps.disk_usage(_through_root(c, mountpoint))
    # psutil's `free` is what non-root users may use (f_bavail); node_exporter's
    # free_bytes counts the reserved blocks too, i.e. total - used.
    return {
        "size_bytes": usage.total,
        "free_bytes": usage.total - usage.used,
        "avail_bytes": usage.free,
    }


def collect_filesystem(c: HostContext) -> Iterator[Metric]:
    labels = ["device", "fstype", "mountpoint"]
    families = {
        name: GaugeMetricFamily(f"node_filesystem_{name}", doc, labels=labels)
        for name, doc in FAMILIES
    }
    seen: set[str] = set()
    for part in mounts(c):
        if part.mountpoint in seen or c.mount_exclude.search(part.mountpoint):
            continue
        if c.fstype_exclude.search(part.fstype):
            continue
        seen.add(part.mountpoint)
        key = [part.device, part.fstype, part.mountpoint]
        try:
            usage = _usage(c, part.mountpoint)
        except OSError as exc:
            log.debug("statfs %s failed: %s", part.mountpoint, exc)
            families["device_error"].add_metric(key, 1)
            continue
        families["device_error"].add_metric(key, 0)
        for name, value in usage.items():
            families[name].add_metric(key, value)
        options = part.opts.split(",") if part.opts else []
        families["readonly"].add_metric(key, 1 if "ro" in options else 0)
    yield from (family for family in families.values() if family.samples)
