"""Mounted filesystems: space and inodes from statvfs, as node_exporter computes them.

One statvfs per mount gives bytes (blocks × f_bsize, as node_exporter multiplies)
and inodes. Where there is no statvfs (Windows), psutil's disk_usage gives the
bytes and no inodes are published. A statvfs on a hung mount (an unreachable NFS
server) blocks this collector only: the exporter's per-collector timeout reports
it failed and serves the rest of the scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from exporters.host.base import HostContext

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


def _usage(c: HostContext, mountpoint: str) -> dict[str, float]:
    if c.host.statvfs is not None:
        st: Any = c.host.statvfs(mountpoint)
        return {
            "size_bytes": st.f_blocks * st.f_bsize,
            "free_bytes": st.f_bfree * st.f_bsize,
            "avail_bytes": st.f_bavail * st.f_bsize,
            "files": st.f_files,
            "files_free": st.f_ffree,
        }
    usage = c.host.ps.disk_usage(mountpoint)
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
    for part in c.host.ps.disk_partitions(all=True):
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
