"""The system exporter from a fake psutil: names, labels, exclusions, failures.

These drive the psutil views (no /proc/meminfo, no statvfs, as on macOS and
Windows); the Linux sources have their own tests on fixture trees.
"""

from __future__ import annotations

import platform
import subprocess
import threading
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
import requests
from prometheus_client import CollectorRegistry
from support.procs import free_port, python_module, running

from exporters.host.base import Host
from exporters.system import SystemCollector, SystemConfig, host_from_args, parse_args

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")
MacCpuTimes = namedtuple("MacCpuTimes", "user nice system idle")
Partition = namedtuple("Partition", "device mountpoint fstype opts")
Usage = namedtuple("Usage", "total used free percent")
DiskIO = namedtuple(
    "DiskIO", "read_count write_count read_bytes write_bytes read_time write_time busy_time"
)
NetIO = namedtuple(
    "NetIO", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout"
)


def fake_psutil(**overrides: object) -> SimpleNamespace:
    usages = {
        "/": Usage(100_000, 30_000, 60_000, 30.0),
        "/data": Usage(50_000, 10_000, 40_000, 20.0),
    }

    def disk_usage(path: str) -> Usage:
        if path == "/secret":
            raise PermissionError(13, "Permission denied")
        return usages.get(path, Usage(10, 5, 5, 50.0))

    ps = SimpleNamespace(
        cpu_times=lambda percpu: [CpuTimes(10, 1, 5, 100, 2, 0.5, 0.25, 0, 3, 0)] * 2,
        cpu_stats=lambda: SimpleNamespace(ctx_switches=500, interrupts=400),
        virtual_memory=lambda: SimpleNamespace(
            total=8000, available=6000, free=1000, buffers=10, cached=20
        ),
        swap_memory=lambda: SimpleNamespace(total=2000, free=1500),
        disk_partitions=lambda all: [
            Partition("/dev/sda1", "/", "ext4", "rw,relatime"),
            Partition("/dev/sdb1", "/data", "xfs", "ro,noatime"),
            Partition("/dev/sdb1", "/data", "xfs", "ro,noatime"),  # bind mount seen twice
            Partition("proc", "/proc", "proc", "rw"),
            Partition("tmpfs", "/sys/fs/cgroup", "cgroup2", "rw"),
            Partition("secret", "/secret", "fuse", "rw"),
        ],
        disk_usage=disk_usage,
        disk_io_counters=lambda perdisk, nowrap: {
            "sda": DiskIO(10, 20, 4096, 8192, 1500, 2500, 3000),
            "sda1": DiskIO(1, 2, 3, 4, 5, 6, 7),
            "loop0": DiskIO(1, 2, 3, 4, 5, 6, 7),
        },
        net_io_counters=lambda pernic, nowrap: {
            "eth0": NetIO(1, 2, 3, 4, 5, 6, 7, 8),
            "lo": NetIO(1, 2, 3, 4, 5, 6, 7, 8),
        },
        getloadavg=lambda: (0.5, 0.25, 0.125),
        boot_time=lambda: 1_700_000_000.0,
        pids=lambda: [1, 2, 3],
    )
    for key, value in overrides.items():
        setattr(ps, key, value)
    return ps


@pytest.fixture
def proc_root(tmp_path: Path) -> Path:
    # /proc/stat only: meminfo and the other Linux files are absent, as elsewhere.
    (tmp_path / "stat").write_text("cpu  1 2 3\nprocs_running 4\nprocs_blocked 1\n")
    return tmp_path


def inline(target) -> None:
    target()


def scrape(ps: object, proc_root: Path, config: SystemConfig | None = None) -> CollectorRegistry:
    host = Host(ps=ps, proc_root=proc_root, sys_root=proc_root / "no-sys", statvfs=None)
    registry = CollectorRegistry()
    registry.register(SystemCollector(config, host=host, spawn=inline))
    return registry


def test_cpu_is_seconds_per_mode_without_guest(proc_root):
    reg = scrape(fake_psutil(), proc_root)
    assert reg.get_sample_value("node_cpu_seconds_total", {"cpu": "1", "mode": "user"}) == 10
    assert reg.get_sample_value("node_cpu_seconds_total", {"cpu": "0", "mode": "softirq"}) == 0.25
    assert reg.get_sample_value("node_cpu_seconds_total", {"cpu": "0", "mode": "guest"}) is None
    assert reg.get_sample_value("node_context_switches_total") == 500


def test_modes_a_platform_lacks_are_absent_not_zero(proc_root):
    ps = fake_psutil(cpu_times=lambda percpu: [MacCpuTimes(1, 2, 3, 4)])
    reg = scrape(ps, proc_root)
    assert reg.get_sample_value("node_cpu_seconds_total", {"cpu": "0", "mode": "idle"}) == 4
    assert reg.get_sample_value("node_cpu_seconds_total", {"cpu": "0", "mode": "iowait"}) is None


def test_memory_and_swap(proc_root):
    reg = scrape(fake_psutil(), proc_root)
    assert reg.get_sample_value("node_memory_MemTotal_bytes") == 8000
    assert reg.get_sample_value("node_memory_MemAvailable_bytes") == 6000
    assert reg.get_sample_value("node_memory_MemFree_bytes") == 1000
    assert reg.get_sample_value("node_memory_SwapTotal_bytes") == 2000
    assert reg.get_sample_value("node_memory_SwapFree_bytes") == 1500
    assert reg.get_sample_value("node_memory_Shmem_bytes") is None  # psutil gave none


def test_filesystems_like_node_exporter(proc_root):
    reg = scrape(fake_psutil(), proc_root)
    root = {"device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    data = {"device": "/dev/sdb1", "fstype": "xfs", "mountpoint": "/data"}
    assert reg.get_sample_value("node_filesystem_size_bytes", root) == 100_000
    assert reg.get_sample_value("node_filesystem_avail_bytes", root) == 60_000
    assert reg.get_sample_value("node_filesystem_free_bytes", root) == 70_000  # incl. reserved
    assert reg.get_sample_value("node_filesystem_readonly", root) == 0
    assert reg.get_sample_value("node_filesystem_readonly", data) == 1
    secret = {"device": "secret", "fstype": "fuse", "mountpoint": "/secret"}
    assert reg.get_sample_value("node_filesystem_device_error", secret) == 1
    assert reg.get_sample_value("node_filesystem_size_bytes", secret) is None
    mounts = {
        s.labels["mountpoint"]
        for m in reg.collect()
        if m.name == "node_filesystem_size_bytes"
        for s in m.samples
    }
    assert mounts == {"/", "/data"}  # /proc and cgroup2 excluded, the bind mount once


def test_exclusion_patterns_are_configurable(proc_root):
    config = SystemConfig(mount_points_exclude="^/data$", fs_types_exclude="^$")
    reg = scrape(fake_psutil(), proc_root, config)
    assert (
        reg.get_sample_value(
            "node_filesystem_size_bytes",
            {"device": "/dev/sdb1", "fstype": "xfs", "mountpoint": "/data"},
        )
        is None
    )
    assert (
        reg.get_sample_value(
            "node_filesystem_device_error",
            {"device": "proc", "fstype": "proc", "mountpoint": "/proc"},
        )
        == 0
    )


def test_disks_skip_partitions_and_loops_and_use_seconds(proc_root):
    reg = scrape(fake_psutil(), proc_root)
    assert reg.get_sample_value("node_disk_read_bytes_total", {"device": "sda"}) == 4096
    assert reg.get_sample_value("node_disk_written_bytes_total", {"device": "sda"}) == 8192
    assert reg.get_sample_value("node_disk_reads_completed_total", {"device": "sda"}) == 10
    assert reg.get_sample_value("node_disk_io_time_seconds_total", {"device": "sda"}) == 3.0
    assert reg.get_sample_value("node_disk_read_bytes_total", {"device": "sda1"}) is None
    assert reg.get_sample_value("node_disk_read_bytes_total", {"device": "loop0"}) is None


def test_network_load_boot_and_processes(proc_root):
    reg = scrape(fake_psutil(), proc_root)
    assert reg.get_sample_value("node_network_receive_bytes_total", {"device": "eth0"}) == 2
    assert reg.get_sample_value("node_network_transmit_drop_total", {"device": "eth0"}) == 8
    assert reg.get_sample_value("node_network_receive_bytes_total", {"device": "lo"}) is None
    assert reg.get_sample_value("node_load1") == 0.5
    assert reg.get_sample_value("node_load15") == 0.125
    assert reg.get_sample_value("node_boot_time_seconds") == 1_700_000_000
    assert reg.get_sample_value("node_processes_count") == 3
    assert reg.get_sample_value("node_procs_running") == 4
    assert reg.get_sample_value("node_procs_blocked") == 1


def test_procs_running_is_absent_without_proc_stat(tmp_path):
    reg = scrape(fake_psutil(), tmp_path)
    assert reg.get_sample_value("node_procs_running") is None
    assert reg.get_sample_value("node_scrape_collector_success", {"collector": "stat"}) == 1


def test_a_failing_collector_is_reported_and_the_rest_is_served(proc_root):
    def broken() -> None:
        raise OSError("no /proc/meminfo")

    reg = scrape(fake_psutil(virtual_memory=broken), proc_root)
    assert reg.get_sample_value("node_scrape_collector_success", {"collector": "meminfo"}) == 0
    assert reg.get_sample_value("node_scrape_collector_success", {"collector": "cpu"}) == 1
    assert reg.get_sample_value("node_memory_MemTotal_bytes") is None
    assert reg.get_sample_value("node_load1") == 0.5
    assert (
        reg.get_sample_value("node_scrape_collector_duration_seconds", {"collector": "meminfo"})
        >= 0
    )


def test_values_are_fresh_on_every_scrape(proc_root):
    load = [0.5]
    reg = scrape(fake_psutil(getloadavg=lambda: (load[0], 0, 0)), proc_root)
    assert reg.get_sample_value("node_load1") == 0.5
    load[0] = 3.0
    assert reg.get_sample_value("node_load1") == 3.0


@pytest.mark.integration
def test_cli_serves_metrics(tmp_path):
    port = free_port()
    argv = python_module("exporters.system", "--listen", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}/metrics"
    with running("system-exporter", argv, tmp_path, ready_url=url):
        text = requests.get(url, timeout=5).text
    assert 'node_scrape_collector_success{collector="cpu"} 1.0' in text
    assert "node_cpu_seconds_total{" in text


@pytest.mark.integration
def test_cli_rejects_a_bad_config_with_exit_2(tmp_path):
    path = tmp_path / "system.yml"
    path.write_text("collectors: [cpu, telepathy]\nmount_points_exclude: '('\nextra: 1\n")
    done = subprocess.run(
        python_module("exporters.system", "--config", str(path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{path}: mount_points_exclude: invalid regular expression" in done.stderr
    assert f"{path}: extra: unknown key" in done.stderr
    assert "Traceback" not in done.stderr


def test_build_info_names_our_version_python_and_psutil(proc_root):
    reg = scrape(fake_psutil(), proc_root)
    samples = [
        s for m in reg.collect() if m.name == "system_exporter_build_info" for s in m.samples
    ]
    assert len(samples) == 1
    labels = samples[0].labels
    assert labels["pythonversion"] == platform.python_version()
    assert labels["psutilversion"] == psutil.__version__
    assert labels["version"] not in ("", "unknown")  # the installed recovery-stack package


def test_the_path_flags_point_the_collectors_at_the_hosts_trees():
    # node_exporter's flags: a containerised exporter reads the host through its mounts.
    args = parse_args(
        ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root"]
    )
    ps = SimpleNamespace(PROCFS_PATH="/proc")
    host = host_from_args(args, ps)
    assert (host.proc_root, host.sys_root, host.root_fs) == (
        Path("/host/proc"), Path("/host/sys"), Path("/host/root"),
    )  # fmt: skip
    assert ps.PROCFS_PATH == "/host/proc", "psutil reads the host's /proc too"


def test_without_path_flags_the_exporter_reads_its_own_machine():
    ps = SimpleNamespace(PROCFS_PATH="/proc")
    host = host_from_args(parse_args([]), ps)
    assert (host.proc_root, host.sys_root, host.root_fs) == (Path("/proc"), Path("/sys"), Path("/"))
    assert ps.PROCFS_PATH == "/proc"


def test_scrapes_reuse_one_collector_thread_rather_than_start_one_each(proc_root):
    # A thread started per scrape cost a tenth of its CPU (bench/exporter_scrape.py).
    seen: list[threading.Thread] = []

    def record(_ctx):
        seen.append(threading.current_thread())
        return []

    collector = SystemCollector(
        SystemConfig(collectors=["cpu"]),
        Host(ps=fake_psutil(), proc_root=proc_root),
        collectors={"cpu": record},
    )
    for _ in range(3):
        list(collector.collect())
    assert seen[0] is not threading.current_thread()  # still off the scrape's thread
    assert seen[1] is seen[0] and seen[2] is seen[0]
