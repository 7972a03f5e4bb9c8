"""Network interfaces' state and link speed: /sys/class/net on Linux, psutil elsewhere.

node_exporter's netclass semantics: `node_network_up` is 1 only when operstate is
"up" (so `lo`, whose operstate is "unknown", is 0), and `node_network_speed_bytes`
is the sysfs speed in Mb/s × 125000 — including the kernel's -1 for "unknown",
which becomes -125000 there too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric

from exporters.host.base import HostContext, read_texts

INFO_LABELS = ["address", "broadcast", "device", "duplex", "ifalias", "operstate"]
ATTRIBUTES = ("operstate", "speed", "mtu", "address", "broadcast", "duplex", "ifalias")


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "up": GaugeMetricFamily(
            "node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", labels=["device"]
        ),
        "speed": GaugeMetricFamily(
            "node_network_speed_bytes", "Network device property: speed_bytes", labels=["device"]
        ),
        "mtu": GaugeMetricFamily(
            "node_network_mtu_bytes", "Network device property: mtu_bytes", labels=["device"]
        ),
        "info": GaugeMetricFamily(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            labels=INFO_LABELS,
        ),
    }


def collect_netclass(c: HostContext) -> Iterator[Metric]:
    root = c.host.sys_root / "class/net"
    if root.is_dir():
        yield from _from_sysfs(c, root)
    else:
        yield from _from_psutil(c)


def _from_sysfs(c: HostContext, root: Path) -> Iterator[Metric]:
    families = _families()
    with os.scandir(root) as entries:
        # Devices are directories (symlinks to them); bonding_masters is a file.
        devices = sorted(e.name for e in entries if e.is_dir())
    for device in devices:
        if c.netclass_exclude.search(device):
            continue
        attrs = read_texts(root / device, ATTRIBUTES)
        operstate = attrs["operstate"] or ""
        families["up"].add_metric([device], 1 if operstate == "up" else 0)
        speed = attrs["speed"]
        if speed is not None and speed.lstrip("-").isdigit():
            families["speed"].add_metric([device], int(speed) * 125000)
        mtu = attrs["mtu"]
        if mtu is not None and mtu.isdigit():
            families["mtu"].add_metric([device], int(mtu))
        families["info"].add_metric(
            [
                attrs["address"] or "",
                attrs["broadcast"] or "",
                device,
                attrs["duplex"] or "",
                attrs["ifalias"] or "",
                operstate,
            ],
            1,
        )
    yield from families.values()


def _from_psutil(c: HostContext) -> Iterator[Metric]:
    # psutil knows whether an interface is administratively up, not its operstate,
    # and reports an unknown speed as 0, which is left out rather than published.
    families = _families()
    for device, stats in sorted(c.host.ps.net_if_stats().items()):
        if c.netclass_exclude.search(device):
            continue
        families["up"].add_metric([device], 1 if stats.isup else 0)
        if stats.speed:
            families["speed"].add_metric([device], stats.speed * 125000)
        families["mtu"].add_metric([device], stats.mtu)
    yield from (families[name] for name in ("up", "speed", "mtu"))
