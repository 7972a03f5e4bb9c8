"""The system exporter: host health from psutil, under node_exporter's names and labels.

Each scrape builds fresh metric families (no background sampling). Names and
labels are node_exporter's, so `rules/` and the dashboards work unchanged whichever
of the two exporters feeds them. A collector that raises is reported through
`node_scrape_collector_success{collector} 0` and the rest of the scrape is served.
What a platform lacks is left out, never published as zero.

    python -m exporters.system --listen 127.0.0.1:9101 [--config system.yml]
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.config import (
    ConfigError,
    Regex,
    Strict,
    exit_on_config_error,
    load_yaml,
    parse_model,
)
from exporters.serve import parse_listen, serve_forever

log = logging.getLogger(__name__)

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
DISK_DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"

# psutil's cpu_times fields → node_exporter's `mode`. guest time is already in user
# and nice on Linux, which is why node_exporter keeps it out of this metric too.
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


class SystemConfig(Strict):
    """The optional `--config` file of the system exporter."""

    mount_points_exclude: Regex = MOUNT_POINTS_EXCLUDE
    fs_types_exclude: Regex = FS_TYPES_EXCLUDE
    disk_devices_exclude: Regex = DISK_DEVICE_EXCLUDE
    network_devices_exclude: Regex = NETWORK_DEVICE_EXCLUDE
    # Names from COLLECTORS; all of them when left out.
    collectors: list[str] | None = None


CollectFn = Callable[["SystemCollector"], Iterable[Metric]]


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def collect_cpu(c: SystemCollector) -> Iterator[Metric]:
    seconds = CounterMetricFamily(
        "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", labels=["cpu", "mode"]
    )
    for index, times in enumerate(c.ps.cpu_times(percpu=True)):
        for mode in CPU_MODES:
            value = getattr(times, mode, None)
            if value is not None:
                seconds.add_metric([str(index), mode], value)
    yield seconds
    stats = c.ps.cpu_stats()
    yield CounterMetricFamily(
        "node_context_switches_total", "Total number of context switches.", value=stats.ctx_switches
    )
    yield CounterMetricFamily(
        "node_intr_total", "Total number of interrupts serviced.", value=stats.interrupts
    )


def collect_meminfo(c: SystemCollector) -> Iterator[Metric]:
    vm = c.ps.virtual_memory()
    fields = {
        "MemTotal": "total",
        "MemAvailable": "available",
        "MemFree": "free",
        "Buffers": "buffers",
        "Cached": "cached",
        "Shmem": "shared",
        "Active": "active",
        "Inactive": "inactive",
    }
    for node_name, attr in fields.items():
        value = getattr(vm, attr, None)
        if value is not None:
            yield _gauge(
                f"node_memory_{node_name}_bytes",
                f"Memory information field {node_name}_bytes.",
                value,
            )
    swap = c.ps.swap_memory()
    yield _gauge(
        "node_memory_SwapTotal_bytes", "Memory information field SwapTotal_bytes.", swap.total
    )
    yield _gauge(
        "node_memory_SwapFree_bytes", "Memory information field SwapFree_bytes.", swap.free
    )


def collect_filesystem(c: SystemCollector) -> Iterator[Metric]:
    labels = ["device", "fstype", "mountpoint"]
    families = {
        name: GaugeMetricFamily(f"node_filesystem_{name}", doc, labels=labels)
        for name, doc in (
            ("size_bytes", "Filesystem size in bytes."),
            ("free_bytes", "Filesystem free space in bytes."),
            ("avail_bytes", "Filesystem space available to non-root users in bytes."),
            ("readonly", "Filesystem read-only status."),
            (
                "device_error",
                "Whether an error occurred while getting statistics for the given device.",
            ),
        )
    }
    seen: set[str] = set()
    for part in c.ps.disk_partitions(all=True):
        if part.mountpoint in seen or c.mount_exclude.search(part.mountpoint):
            continue
        if c.fstype_exclude.search(part.fstype):
            continue
        seen.add(part.mountpoint)
        key = [part.device, part.fstype, part.mountpoint]
        try:
            usage = c.ps.disk_usage(part.mountpoint)
        except OSError as exc:
            log.debug("statfs %s failed: %s", part.mountpoint, exc)
            families["device_error"].add_metric(key, 1)
            continue
        families["device_error"].add_metric(key, 0)
        families["size_bytes"].add_metric(key, usage.total)
        # psutil's `free` is what non-root users may use (f_bavail); node_exporter's
        # free_bytes counts the reserved blocks too (f_bfree), i.e. total - used.
        families["avail_bytes"].add_metric(key, usage.free)
        families["free_bytes"].add_metric(key, usage.total - usage.used)
        options = part.opts.split(",") if part.opts else []
        families["readonly"].add_metric(key, 1 if "ro" in options else 0)
    yield from families.values()


def collect_diskstats(c: SystemCollector) -> Iterator[Metric]:
    counters = c.ps.disk_io_counters(perdisk=True, nowrap=True) or {}
    specs = (
        (
            "reads_completed_total",
            "The total number of reads completed successfully.",
            "read_count",
            1,
        ),
        (
            "writes_completed_total",
            "The total number of writes completed successfully.",
            "write_count",
            1,
        ),
        ("read_bytes_total", "The total number of bytes read successfully.", "read_bytes", 1),
        (
            "written_bytes_total",
            "The total number of bytes written successfully.",
            "write_bytes",
            1,
        ),
        (
            "read_time_seconds_total",
            "The total number of seconds spent by all reads.",
            "read_time",
            0.001,
        ),
        (
            "write_time_seconds_total",
            "This is the total number of seconds spent by all writes.",
            "write_time",
            0.001,
        ),
        ("io_time_seconds_total", "Total seconds spent doing I/Os.", "busy_time", 0.001),
    )
    for suffix, doc, attr, scale in specs:
        family = CounterMetricFamily(f"node_disk_{suffix}", doc, labels=["device"])
        for device, io in counters.items():
            value = getattr(io, attr, None)
            if value is not None and not c.disk_exclude.search(device):
                family.add_metric([device], value * scale)
        if family.samples:
            yield family


def collect_netdev(c: SystemCollector) -> Iterator[Metric]:
    counters = c.ps.net_io_counters(pernic=True, nowrap=True) or {}
    specs = (
        ("receive_bytes_total", "bytes_recv"),
        ("transmit_bytes_total", "bytes_sent"),
        ("receive_packets_total", "packets_recv"),
        ("transmit_packets_total", "packets_sent"),
        ("receive_errs_total", "errin"),
        ("transmit_errs_total", "errout"),
        ("receive_drop_total", "dropin"),
        ("transmit_drop_total", "dropout"),
    )
    for suffix, attr in specs:
        family = CounterMetricFamily(
            f"node_network_{suffix}", f"Network device statistic {suffix}.", labels=["device"]
        )
        for device, io in counters.items():
            if not c.net_exclude.search(device):
                family.add_metric([device], getattr(io, attr))
        yield family


def collect_loadavg(c: SystemCollector) -> Iterator[Metric]:
    load1, load5, load15 = c.ps.getloadavg()
    yield _gauge("node_load1", "1m load average.", load1)
    yield _gauge("node_load5", "5m load average.", load5)
    yield _gauge("node_load15", "15m load average.", load15)


def collect_stat(c: SystemCollector) -> Iterator[Metric]:
    yield _gauge("node_boot_time_seconds", "Node boot time, in unixtime.", c.ps.boot_time())
    yield _gauge("node_processes_count", "Number of processes on the host.", len(c.ps.pids()))
    # procs_running/blocked are not in psutil; /proc/stat has them on Linux only.
    stat = c.proc_root / "stat"
    if not stat.exists():
        return
    fields = dict(
        line.split(None, 1) for line in stat.read_text().splitlines() if line.startswith("procs_")
    )
    if "procs_running" in fields:
        yield _gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
            float(fields["procs_running"]),
        )
    if "procs_blocked" in fields:
        yield _gauge(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            float(fields["procs_blocked"]),
        )


COLLECTORS: dict[str, CollectFn] = {
    "cpu": collect_cpu,
    "meminfo": collect_meminfo,
    "filesystem": collect_filesystem,
    "diskstats": collect_diskstats,
    "netdev": collect_netdev,
    "loadavg": collect_loadavg,
    "stat": collect_stat,
}


class SystemCollector(Collector):
    """Host metrics, built fresh on every `collect()` from `ps` (the psutil module)."""

    def __init__(
        self,
        config: SystemConfig | None = None,
        ps: ModuleType | Any = psutil,
        proc_root: Path = Path("/proc"),
        clock: Callable[[], float] = time.perf_counter,
        collectors: dict[str, CollectFn] | None = None,
    ) -> None:
        config = config or SystemConfig()
        self.ps = ps
        self.proc_root = proc_root
        self.clock = clock
        self.mount_exclude = re.compile(config.mount_points_exclude)
        self.fstype_exclude = re.compile(config.fs_types_exclude)
        self.disk_exclude = re.compile(config.disk_devices_exclude)
        self.net_exclude = re.compile(config.network_devices_exclude)
        available = collectors if collectors is not None else COLLECTORS
        names = config.collectors if config.collectors is not None else list(available)
        self.collectors = {name: available[name] for name in names}

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "node_scrape_collector_success", "Whether a collector succeeded.", labels=["collector"]
        )
        duration = GaugeMetricFamily(
            "node_scrape_collector_duration_seconds",
            "Duration of a collector scrape.",
            labels=["collector"],
        )
        for name, collect in self.collectors.items():
            start = self.clock()
            try:
                families = list(collect(self))
            except Exception:
                log.exception("collector %s failed", name)
                families, ok = [], 0
            else:
                ok = 1
            duration.add_metric([name], self.clock() - start)
            success.add_metric([name], ok)
            yield from families
        yield success
        yield duration


def load_config(path: Path | None) -> SystemConfig:
    if path is None:
        return SystemConfig()
    config = parse_model(SystemConfig, load_yaml(path), str(path))
    unknown = [n for n in config.collectors or [] if n not in COLLECTORS]
    if unknown:
        raise ConfigError(
            str(path),
            [
                f"collectors: unknown collector {n!r} (known: {', '.join(COLLECTORS)})"
                for n in unknown
            ],
        )
    return config


def build_registry(config: SystemConfig) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(config))
    return registry


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m exporters.system", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--listen", type=parse_listen, default=parse_listen("127.0.0.1:9101"))
    parser.add_argument("--config", type=Path, help="YAML file (see docs/exporters.md)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        exit_on_config_error(exc)
    serve_forever(build_registry(config), args.listen)


if __name__ == "__main__":
    main()
