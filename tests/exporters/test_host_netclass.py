"""Interfaces from a fixture /sys/class/net, and from psutil where there is no sysfs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from exporters.host.base import Host
from exporters.system import SystemCollector, SystemConfig

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "host"


def scrape(host: Host, config: SystemConfig | None = None) -> CollectorRegistry:
    config = config or SystemConfig(collectors=["netclass"])
    registry = CollectorRegistry()
    registry.register(SystemCollector(config, host=host, spawn=lambda target: target()))
    return registry


def test_up_means_operstate_up_and_speed_is_bytes_per_second():
    reg = scrape(Host(sys_root=FIXTURE / "sys"))
    up = {
        d: reg.get_sample_value("node_network_up", {"device": d}) for d in ("eth0", "lo", "wlan0")
    }
    assert up == {"eth0": 1, "lo": 0, "wlan0": 0}  # lo's operstate is "unknown"
    assert reg.get_sample_value("node_network_up", {"device": "bonding_masters"}) is None
    assert reg.get_sample_value("node_network_speed_bytes", {"device": "eth0"}) == 125_000_000
    # the kernel's -1 ("unknown") is scaled, as node_exporter does; no file, no series
    assert reg.get_sample_value("node_network_speed_bytes", {"device": "wlan0"}) == -125000
    assert reg.get_sample_value("node_network_speed_bytes", {"device": "lo"}) is None
    assert reg.get_sample_value("node_network_mtu_bytes", {"device": "lo"}) == 65536
    info = {
        "address": "52:54:00:12:34:56",
        "broadcast": "ff:ff:ff:ff:ff:ff",
        "device": "eth0",
        "duplex": "full",
        "ifalias": "uplink",
        "operstate": "up",
    }
    assert reg.get_sample_value("node_network_info", info) == 1


def test_devices_can_be_excluded():
    config = SystemConfig(collectors=["netclass"], netclass_devices_exclude="^(lo|wlan.*)$")
    reg = scrape(Host(sys_root=FIXTURE / "sys"), config)
    assert reg.get_sample_value("node_network_up", {"device": "lo"}) is None
    assert reg.get_sample_value("node_network_up", {"device": "eth0"}) == 1


def test_without_sysfs_psutil_gives_up_speed_and_mtu(tmp_path):
    stats = {
        "en0": SimpleNamespace(isup=True, speed=100, mtu=1500),
        "utun0": SimpleNamespace(isup=False, speed=0, mtu=1380),
    }
    ps = SimpleNamespace(net_if_stats=lambda: stats)
    reg = scrape(Host(ps=ps, sys_root=tmp_path / "none"))
    assert reg.get_sample_value("node_network_up", {"device": "en0"}) == 1
    assert reg.get_sample_value("node_network_up", {"device": "utun0"}) == 0
    assert reg.get_sample_value("node_network_speed_bytes", {"device": "en0"}) == 12_500_000
    assert reg.get_sample_value("node_network_speed_bytes", {"device": "utun0"}) is None
