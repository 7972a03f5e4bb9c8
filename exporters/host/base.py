"""What every host collector shares: the machine's boundaries and a few readers.

`Host` holds everything outside the process a collector reads — psutil, the proc
and sys trees, the clock, statvfs, adjtimex, uname — with the real ones as
defaults, so the unit tests run every collector on fixture trees and fakes.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
from prometheus_client.core import GaugeMetricFamily, Metric

from exporters.host.timex import Timex, libc_adjtimex


class NoData(Exception):
    """The source is absent on this machine (no PSI, no conntrack module, not Linux).

    The collector publishes nothing and reports `node_scrape_collector_success 0`,
    as node_exporter does; it is logged at debug level only, since it is the
    machine's shape, not a fault.
    """


@dataclass(frozen=True)
class Host:
    """The machine as the collectors see it; tests pass fixture trees and fakes."""

    ps: ModuleType | Any = psutil
    proc_root: Path = Path("/proc")
    sys_root: Path = Path("/sys")
    # Where the host's / is mounted (node_exporter's --path.rootfs): not "/" in a
    # container that watches the host; its filesystems are then measured there.
    root_fs: Path = Path("/")
    wall: Callable[[], float] = time.time
    statvfs: Callable[[str], Any] | None = getattr(os, "statvfs", None)
    adjtimex: Callable[[], Timex] | None = field(default_factory=libc_adjtimex)
    uname: Callable[[], Any] = platform.uname
    localtime: Callable[[float], time.struct_time] = time.localtime
    os_release: tuple[Path, ...] = (Path("/etc/os-release"), Path("/usr/lib/os-release"))
    page_size: int = field(default_factory=lambda: _page_size())


def _page_size() -> int:
    sysconf = getattr(os, "sysconf", None)
    return int(sysconf("SC_PAGE_SIZE")) if sysconf else 4096


@dataclass(frozen=True)
class ProcessGroupSpec:
    """A named set of processes (resolved by `exporters.host.processes`)."""

    name: str
    name_pattern: re.Pattern[str] | None = None
    pidfile: Path | None = None
    systemd_unit: str | None = None
    supervisor_program: str | None = None
    supervisor_url: str | None = None


@dataclass(frozen=True)
class HostContext:
    """A host plus the exporter's configuration, compiled once at start."""

    host: Host
    mount_exclude: re.Pattern[str]
    fstype_exclude: re.Pattern[str]
    disk_exclude: re.Pattern[str]
    net_exclude: re.Pattern[str]
    netclass_exclude: re.Pattern[str]
    textfile_directory: Path | None = None
    process_groups: tuple[ProcessGroupSpec, ...] = ()


Collect = Callable[[HostContext], Iterable[Metric]]


def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def read_text(path: Path) -> str | None:
    """A proc or sysfs attribute's text, or None when it is absent or unreadable.

    sysfs answers EINVAL for attributes a device does not have (the speed of `lo`),
    which node_exporter also treats as "not there".
    """
    return _read(path)


def read_texts(directory: Path, names: Iterable[str]) -> dict[str, str | None]:
    """Several attributes of one directory, as `read_text` reads each.

    They are opened relative to the directory, so its path is looked up once rather
    than once per attribute: a sysfs device's directory is a symlink, and that walk
    was a third of the netclass collector's time.
    """
    if os.open not in os.supports_dir_fd:
        return {name: _read(directory / name) for name in names}
    try:
        folder = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return {name: None for name in names}
    try:
        return {name: _read(name, folder) for name in names}
    finally:
        os.close(folder)


def _read(path: Path | str, dir_fd: int | None = None) -> str | None:
    try:
        # os.read rather than Path.read_text: half the cost, and a scrape reads
        # some forty of these small files.
        fd = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks).decode(errors="replace").strip()
    except OSError:
        return None


def read_required(path: Path) -> str:
    """A source file the collector cannot do without: absent means NoData."""
    text = read_text(path)
    if text is None:
        raise NoData(f"{path} is not readable here")
    return text
