"""Linux /proc tables on a fixture tree: full diskstats, netstat, sockstat, entropy,
the OS release, forks and guest CPU — node_exporter's names and default fields."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from exporters.host.base import Host
from exporters.system import SystemCollector, SystemConfig

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "host"
CpuTimes = namedtuple("CpuTimes", "user nice system idle guest guest_nice")


def scrape(proc_root: Path = FIXTURE / "proc", **host: object) -> CollectorRegistry:
    config = SystemConfig(
        collectors=["diskstats", "netstat", "sockstat", "entropy", "os", "stat", "cpu"]
    )
    ps = SimpleNamespace(
        cpu_times=lambda percpu: [CpuTimes(10, 1, 5, 100, 3, 0.5)],
        cpu_stats=lambda: SimpleNamespace(ctx_switches=500, interrupts=400),
        boot_time=lambda: 1_700_000_000.0,
        pids=lambda: [1, 2, 3],
    )
    options: dict[str, object] = {
        "ps": ps,
        "proc_root": proc_root,
        "os_release": (FIXTURE / "etc/os-release",),
        "page_size": 4096,
        **host,
    }
    registry = CollectorRegistry()
    registry.register(
        SystemCollector(config, host=Host(**options), spawn=lambda target: target())  # type: ignore[arg-type]
    )
    return registry


def test_diskstats_has_every_field_in_node_exporters_units():
    reg = scrape()
    vda = {"device": "vda"}
    assert reg.get_sample_value("node_disk_reads_completed_total", vda) == 25771
    assert reg.get_sample_value("node_disk_reads_merged_total", vda) == 8123
    assert reg.get_sample_value("node_disk_read_bytes_total", vda) == 2353618 * 512
    assert reg.get_sample_value("node_disk_write_time_seconds_total", vda) == 55364 * 0.001
    assert reg.get_sample_value("node_disk_io_now", vda) == 2
    assert reg.get_sample_value("node_disk_io_time_weighted_seconds_total", vda) == 70226 * 0.001
    assert reg.get_sample_value("node_disk_discarded_sectors_total", vda) == 2048
    assert reg.get_sample_value("node_disk_flush_requests_total", vda) == 9011
    assert reg.get_sample_value("node_disk_flush_requests_time_seconds_total", vda) == 3197 * 0.001
    # partitions and loops excluded; an old kernel's short line has no discards
    assert reg.get_sample_value("node_disk_reads_completed_total", {"device": "vda1"}) is None
    assert reg.get_sample_value("node_disk_reads_completed_total", {"device": "loop0"}) is None
    assert (
        reg.get_sample_value("node_disk_io_time_weighted_seconds_total", {"device": "zram0"}) == 0
    )
    assert reg.get_sample_value("node_disk_discards_completed_total", {"device": "zram0"}) is None
    types = {m.name: m.type for m in reg.collect()}
    assert types["node_disk_io_now"] == "gauge"
    assert types["node_disk_io_time_weighted_seconds"] == "counter"


def test_netstat_publishes_node_exporters_default_fields():
    reg = scrape()
    assert reg.get_sample_value("node_netstat_Tcp_ActiveOpens") == 15554
    assert reg.get_sample_value("node_netstat_Tcp_CurrEstab") == 2
    assert reg.get_sample_value("node_netstat_Udp_InDatagrams") == 300
    assert reg.get_sample_value("node_netstat_Ip6_InOctets") == 128
    assert reg.get_sample_value("node_netstat_Icmp6_InErrors") == 1
    assert reg.get_sample_value("node_netstat_Udp6_InDatagrams") == 7
    assert reg.get_sample_value("node_netstat_Tcp_RtoMin") is None  # not a default field
    assert reg.get_sample_value("node_netstat_Ip6_InReceives") is None


def test_sockstat_counts_and_memory_in_bytes():
    reg = scrape()
    assert reg.get_sample_value("node_sockstat_sockets_used") == 18
    assert reg.get_sample_value("node_sockstat_TCP_tw") == 644
    assert reg.get_sample_value("node_sockstat_TCP_mem") == 250
    assert reg.get_sample_value("node_sockstat_TCP_mem_bytes") == 250 * 4096
    assert reg.get_sample_value("node_sockstat_FRAG_memory") == 0
    assert reg.get_sample_value("node_sockstat_TCP6_inuse") == 3


def test_entropy_forks_and_guest_time():
    reg = scrape()
    assert reg.get_sample_value("node_entropy_available_bits") == 256
    assert reg.get_sample_value("node_entropy_pool_size_bits") == 256
    assert reg.get_sample_value("node_forks_total") is None  # the fixture's stat has no forks
    guest = {"cpu": "0", "mode": "user"}
    assert reg.get_sample_value("node_cpu_guest_seconds_total", guest) == 3
    assert reg.get_sample_value("node_cpu_guest_seconds_total", {"cpu": "0", "mode": "nice"}) == 0.5


def test_forks_from_proc_stat(tmp_path):
    proc = tmp_path / "proc"
    shutil.copytree(FIXTURE / "proc", proc)
    (proc / "stat").write_text("cpu  1 2 3\nprocesses 6022\nprocs_running 4\n")
    assert scrape(proc).get_sample_value("node_forks_total") == 6022


def test_os_release_labels_and_version():
    reg = scrape()
    labels = {
        "build_id": "", "id": "debian", "id_like": "", "image_id": "", "image_version": "",
        "name": "Debian GNU/Linux", "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        "variant": "", "variant_id": "", "version": "12 (bookworm)",
        "version_codename": "bookworm", "version_id": "12",
    }  # fmt: skip
    assert reg.get_sample_value("node_os_info", labels) == 1
    version = {"id": "debian", "id_like": "", "name": "Debian GNU/Linux"}
    assert reg.get_sample_value("node_os_version", version) == 12


def test_off_linux_these_sources_are_reported_failed(tmp_path):
    reg = scrape(tmp_path, os_release=(tmp_path / "none",))
    for collector in ("netstat", "sockstat", "entropy", "os"):
        assert reg.get_sample_value("node_scrape_collector_success", {"collector": collector}) == 0
    # without /proc/diskstats it asks psutil, which this fake cannot answer
    assert reg.get_sample_value("node_scrape_collector_success", {"collector": "diskstats"}) == 0
    assert reg.get_sample_value("node_scrape_collector_success", {"collector": "cpu"}) == 1
