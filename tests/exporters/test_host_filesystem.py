"""Filesystems through statvfs: bytes and inodes as node_exporter computes them, and
a mount whose statvfs hangs (an unreachable NFS server) failing only its collector."""

from __future__ import annotations

import os
import threading
from collections import namedtuple
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from exporters.host.base import Host
from exporters.system import SystemCollector, SystemConfig

Partition = namedtuple("Partition", "device mountpoint fstype opts")
StatVFS = namedtuple("StatVFS", "f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree")

ROOT = {"device": "/dev/vda", "fstype": "ext4", "mountpoint": "/"}
NFS = {"device": "nas:/backups", "fstype": "nfs4", "mountpoint": "/mnt/backups"}


def fake_ps() -> SimpleNamespace:
    return SimpleNamespace(
        disk_partitions=lambda all: [
            Partition("/dev/vda", "/", "ext4", "rw,relatime"),
            Partition("nas:/backups", "/mnt/backups", "nfs4", "ro,vers=4.2"),
        ],
        getloadavg=lambda: (0.5, 0.25, 0.125),
    )


def statvfs(path: str) -> StatVFS:
    return {
        "/": StatVFS(4096, 4096, 1000, 300, 250, 5000, 4000),
        "/mnt/backups": StatVFS(1 << 20, 1 << 20, 10, 9, 9, 100, 1),
    }[path]


def registry(collector: SystemCollector) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(collector)
    return reg


def test_bytes_and_inodes_from_one_statvfs():
    host = Host(ps=fake_ps(), statvfs=statvfs)
    reg = registry(
        SystemCollector(SystemConfig(collectors=["filesystem"]), host=host, spawn=lambda t: t())
    )
    assert reg.get_sample_value("node_filesystem_size_bytes", ROOT) == 1000 * 4096
    assert reg.get_sample_value("node_filesystem_free_bytes", ROOT) == 300 * 4096
    assert reg.get_sample_value("node_filesystem_avail_bytes", ROOT) == 250 * 4096
    assert reg.get_sample_value("node_filesystem_files", ROOT) == 5000
    assert reg.get_sample_value("node_filesystem_files_free", ROOT) == 4000
    assert reg.get_sample_value("node_filesystem_readonly", NFS) == 1
    assert reg.get_sample_value("node_filesystem_files_free", NFS) == 1


def test_a_mount_that_fails_statvfs_is_a_device_error():
    def failing(path: str) -> StatVFS:
        if path == "/mnt/backups":
            raise OSError(116, "Stale file handle")
        return statvfs(path)

    host = Host(ps=fake_ps(), statvfs=failing)
    reg = registry(
        SystemCollector(SystemConfig(collectors=["filesystem"]), host=host, spawn=lambda t: t())
    )
    assert reg.get_sample_value("node_filesystem_device_error", NFS) == 1
    assert reg.get_sample_value("node_filesystem_files", NFS) is None
    assert reg.get_sample_value("node_filesystem_device_error", ROOT) == 0


def test_a_hung_mount_fails_the_filesystem_collector_and_not_the_scrape(clock):
    nfs_answers = threading.Event()
    entered = threading.Event()
    threads: list[threading.Thread] = []

    def hanging(path: str) -> StatVFS:
        if path == "/mnt/backups":
            entered.set()
            nfs_answers.wait()
        return statvfs(path)

    def spawn(target):
        thread = threading.Thread(target=target, daemon=True)
        threads.append(thread)
        thread.start()

    def wait(name: str, done: threading.Event, timeout: float) -> bool:
        # loadavg's run finishes; filesystem's parks in the hung statvfs and "takes"
        # its timeout, which moves the fake clock instead of real time.
        if name != "filesystem":
            return done.wait(10)
        while not done.is_set() and not entered.is_set():
            done.wait(0.001)
        if not done.is_set():
            clock.advance(timeout)
        return done.is_set()

    config = SystemConfig(collectors=["filesystem", "loadavg"], collector_timeout=4)
    host = Host(ps=fake_ps(), statvfs=hanging)
    reg = registry(
        SystemCollector(config, host=host, clock=clock.monotonic, spawn=spawn, wait=wait)
    )

    def scrape() -> dict[tuple[str, tuple], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in reg.collect()
            for s in family.samples
        }

    fs_ok = ("node_scrape_collector_success", (("collector", "filesystem"),))
    try:
        first = scrape()
        assert first[("node_load1", ())] == 0.5
        assert first[fs_ok] == 0
        assert not [key for key in first if key[0] == "node_filesystem_size_bytes"]
        for _ in range(5):  # Prometheus keeps scraping while the NFS server is away
            assert scrape()[("node_load1", ())] == 0.5
        # the stuck worker, the one that took loadavg after it, then one per scrape
        assert len(threads) == 2 + 5
    finally:
        nfs_answers.set()
        for thread in threads:
            thread.join(timeout=5)
    entered.clear()
    assert reg.get_sample_value("node_filesystem_size_bytes", ROOT) == 1000 * 4096


def test_the_real_statvfs_sees_this_hosts_root():
    if not hasattr(os, "statvfs"):
        return
    real = os.statvfs("/")
    host = Host(
        ps=SimpleNamespace(disk_partitions=lambda all: [Partition("/dev/x", "/", "ext4", "rw")])
    )
    reg = registry(
        SystemCollector(SystemConfig(collectors=["filesystem"]), host=host, spawn=lambda t: t())
    )
    labels = {"device": "/dev/x", "fstype": "ext4", "mountpoint": "/"}
    assert reg.get_sample_value("node_filesystem_files", labels) == real.f_files


def test_under_a_host_root_the_hosts_mounts_are_measured_and_named_as_the_host_sees_them(
    tmp_path,
):
    # In a container with the host's / at /host/root and its /proc at /host/proc,
    # PID 1's mount table is the host's (ours is the container's), and each
    # mount is reached through the host root.
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "1" / "mounts").write_text(
        "/dev/vda / ext4 rw,relatime 0 0\n"
        "proc /proc proc rw,nosuid 0 0\n"
        "nas:/backups /mnt/my\\040backups nfs4 ro,vers=4.2 0 0\n"
    )
    seen: list[str] = []

    def statvfs_at(path: str) -> StatVFS:
        seen.append(path)
        return StatVFS(4096, 4096, 1000, 300, 250, 5000, 4000)

    ps = SimpleNamespace(disk_partitions=lambda all: pytest.fail("the container's own mounts"))
    host = Host(ps=ps, statvfs=statvfs_at, proc_root=proc, root_fs=tmp_path / "root")
    reg = registry(
        SystemCollector(SystemConfig(collectors=["filesystem"]), host=host, spawn=lambda t: t())
    )
    assert reg.get_sample_value("node_filesystem_size_bytes", ROOT) == 1000 * 4096
    spaced = {**NFS, "mountpoint": "/mnt/my backups"}
    assert reg.get_sample_value("node_filesystem_readonly", spaced) == 1
    assert (
        reg.get_sample_value("node_filesystem_size_bytes", {**ROOT, "mountpoint": "/proc"}) is None
    )
    assert set(seen) == {str(tmp_path / "root"), str(tmp_path / "root" / "mnt/my backups")}
