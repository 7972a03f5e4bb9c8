"""CPU, memory, disks, network devices, load and process counts — psutil first.

These run on every platform psutil supports; where Linux has a richer source
(/proc/meminfo's every field, /proc/stat's procs_running) it is read directly and
the psutil view is the fallback elsewhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from exporters.host.base import HostContext, gauge, read_text
from exporters.host.procfs import diskstats_families

# psutil's cpu_times fields → node_exporter's `mode`. guest time is already in user
# and nice on Linux, which is why node_exporter keeps it out of this metric too.
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

# psutil's virtual_memory fields under node_exporter's meminfo names, for the
# platforms without /proc/meminfo.
PSUTIL_MEMORY = {
    "MemTotal": "total",
    "MemAvailable": "available",
    "MemFree": "free",
    "Buffers": "buffers",
    "Cached": "cached",
    "Shmem": "shared",
    "Active": "active",
    "Inactive": "inactive",
}
_PARENS = re.compile(r"\((.*)\)")


def collect_cpu(c: HostContext) -> Iterator[Metric]:
    seconds = CounterMetricFamily(
        "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", labels=["cpu", "mode"]
    )
    per_cpu = c.host.ps.cpu_times(percpu=True)
    for index, times in enumerate(per_cpu):
        for mode in CPU_MODES:
            value = getattr(times, mode, None)
            if value is not None:
                seconds.add_metric([str(index), mode], value)
    yield seconds
    guest = CounterMetricFamily(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
        labels=["cpu", "mode"],
    )
    for index, times in enumerate(per_cpu):
        for mode, attr in (("user", "guest"), ("nice", "guest_nice")):
            value = getattr(times, attr, None)
            if value is not None:
                guest.add_metric([str(index), mode], value)
    if guest.samples:  # Linux only
        yield guest
    stats = c.host.ps.cpu_stats()
    yield CounterMetricFamily(
        "node_context_switches_total", "Total number of context switches.", value=stats.ctx_switches
    )
    yield CounterMetricFamily(
        "node_intr_total", "Total number of interrupts serviced.", value=stats.interrupts
    )


@functools.lru_cache(maxsize=512)
def _meminfo_key(field: str, in_kb: bool) -> tuple[str, float]:
    """`Active(anon):` → ("Active_anon_bytes", 1024): the same fifty-odd fields every
    scrape, renamed once per process."""
    key = _PARENS.sub(r"_\1", field[:-1])
    return (f"{key}_bytes", 1024.0) if in_kb else (key, 1.0)


def meminfo_fields(text: str) -> Iterator[tuple[str, float]]:
    """/proc/meminfo lines → node_exporter's names: `Active(anon): 4 kB` → Active_anon_bytes."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[0].endswith(":"):
            continue
        key, scale = _meminfo_key(parts[0], len(parts) == 3 and parts[2] == "kB")
        yield key, float(parts[1]) * scale


def collect_meminfo(c: HostContext) -> Iterator[Metric]:
    text = read_text(c.host.proc_root / "meminfo")
    if text is not None:
        for key, amount in meminfo_fields(text):
            yield gauge(f"node_memory_{key}", f"Memory information field {key}.", amount)
        return
    vm = c.host.ps.virtual_memory()
    for node_name, attr in PSUTIL_MEMORY.items():
        value = getattr(vm, attr, None)
        if value is not None:
            yield gauge(
                f"node_memory_{node_name}_bytes",
                f"Memory information field {node_name}_bytes.",
                value,
            )
    swap = c.host.ps.swap_memory()
    yield gauge(
        "node_memory_SwapTotal_bytes", "Memory information field SwapTotal_bytes.", swap.total
    )
    yield gauge("node_memory_SwapFree_bytes", "Memory information field SwapFree_bytes.", swap.free)


DISK_SPECS = (
    ("reads_completed_total", "The total number of reads completed successfully.", "read_count", 1),
    (
        "writes_completed_total",
        "The total number of writes completed successfully.",
        "write_count",
        1,
    ),
    ("read_bytes_total", "The total number of bytes read successfully.", "read_bytes", 1),
    ("written_bytes_total", "The total number of bytes written successfully.", "write_bytes", 1),
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


def collect_diskstats(c: HostContext) -> Iterator[Metric]:
    text = read_text(c.host.proc_root / "diskstats")
    if text is not None:  # every field, merges and queue depth included
        yield from diskstats_families(text, c.disk_exclude)
        return
    counters = c.host.ps.disk_io_counters(perdisk=True, nowrap=True) or {}
    for suffix, doc, attr, scale in DISK_SPECS:
        family = CounterMetricFamily(f"node_disk_{suffix}", doc, labels=["device"])
        for device, io in counters.items():
            value = getattr(io, attr, None)
            if value is not None and not c.disk_exclude.search(device):
                family.add_metric([device], value * scale)
        if family.samples:
            yield family


NET_SPECS = (
    ("receive_bytes_total", "bytes_recv"),
    ("transmit_bytes_total", "bytes_sent"),
    ("receive_packets_total", "packets_recv"),
    ("transmit_packets_total", "packets_sent"),
    ("receive_errs_total", "errin"),
    ("transmit_errs_total", "errout"),
    ("receive_drop_total", "dropin"),
    ("transmit_drop_total", "dropout"),
)


def collect_netdev(c: HostContext) -> Iterator[Metric]:
    counters = c.host.ps.net_io_counters(pernic=True, nowrap=True) or {}
    for suffix, attr in NET_SPECS:
        family = CounterMetricFamily(
            f"node_network_{suffix}", f"Network device statistic {suffix}.", labels=["device"]
        )
        for device, io in counters.items():
            if not c.net_exclude.search(device):
                family.add_metric([device], getattr(io, attr))
        yield family


def collect_loadavg(c: HostContext) -> Iterator[Metric]:
    load1, load5, load15 = c.host.ps.getloadavg()
    yield gauge("node_load1", "1m load average.", load1)
    yield gauge("node_load5", "5m load average.", load5)
    yield gauge("node_load15", "15m load average.", load15)


def collect_stat(c: HostContext) -> Iterator[Metric]:
    yield gauge("node_boot_time_seconds", "Node boot time, in unixtime.", c.host.ps.boot_time())
    yield gauge("node_processes_count", "Number of processes on the host.", len(c.host.ps.pids()))
    # procs_running/blocked are not in psutil; /proc/stat has them on Linux only.
    text = read_text(c.host.proc_root / "stat")
    if text is None:
        return
    fields = dict(
        line.split(None, 1)
        for line in text.splitlines()
        if line.startswith(("procs_", "processes"))
    )
    if "processes" in fields:
        yield CounterMetricFamily(
            "node_forks", "Total number of forks.", value=float(fields["processes"])
        )
    if "procs_running" in fields:
        yield gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
            float(fields["procs_running"]),
        )
    if "procs_blocked" in fields:
        yield gauge(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            float(fields["procs_blocked"]),
        )
