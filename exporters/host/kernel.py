"""Kernel counters node_exporter reads from /proc and sysfs, and the system clock.

vmstat, filefd, conntrack and PSI are Linux files; each collector raises NoData
where its file is absent (another OS, no nf_conntrack module, a kernel without
PSI), so that source is reported failed and nothing is published for it. uname
and time work everywhere; timex needs libc's adjtimex.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    UnknownMetricFamily,
)

from exporters.host.base import HostContext, NoData, gauge, read_required, read_text
from exporters.host.timex import STA_NANO, TIME_ERROR

# node_exporter's default --collector.vmstat.fields.
VMSTAT_FIELDS = re.compile(r"^(oom_kill|pgpg|pswp|pg.*fault).*")

# (resource, PSI line, metric suffix, help) as node_exporter 1.5 publishes them.
PRESSURE = (
    ("cpu", "some", "cpu_waiting", "Total time in seconds that processes have waited for CPU time"),
    (
        "io",
        "some",
        "io_waiting",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "io_stalled",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "memory_waiting",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "memory_stalled",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
)


@functools.lru_cache(maxsize=512)
def _wanted_vmstat(name: str) -> tuple[str, str] | None:
    # The same couple of hundred names every scrape: matched once per process.
    if not VMSTAT_FIELDS.match(name):
        return None
    return f"node_vmstat_{name}", f"/proc/vmstat information field {name}."


def collect_vmstat(c: HostContext) -> Iterator[Metric]:
    for line in read_required(c.host.proc_root / "vmstat").splitlines():
        name, _, value = line.partition(" ")
        if (wanted := _wanted_vmstat(name)) is not None:
            yield UnknownMetricFamily(wanted[0], wanted[1], value=float(value))


def collect_filefd(c: HostContext) -> Iterator[Metric]:
    allocated, _unused, maximum = read_required(c.host.proc_root / "sys/fs/file-nr").split()[:3]
    yield gauge("node_filefd_allocated", "File descriptor statistics: allocated.", float(allocated))
    yield gauge("node_filefd_maximum", "File descriptor statistics: maximum.", float(maximum))


def collect_conntrack(c: HostContext) -> Iterator[Metric]:
    netfilter = c.host.proc_root / "sys/net/netfilter"
    count = read_required(netfilter / "nf_conntrack_count")
    limit = read_required(netfilter / "nf_conntrack_max")
    yield gauge(
        "node_nf_conntrack_entries",
        "Number of currently allocated flow entries for connection tracking.",
        float(count),
    )
    yield gauge(
        "node_nf_conntrack_entries_limit",
        "Maximum size of connection tracking table.",
        float(limit),
    )


def _psi_totals(text: str) -> dict[str, float]:
    """`some avg10=0.00 avg60=0.00 avg300=0.00 total=123` → {"some": 123e-6 s}."""
    totals = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        for field in fields:
            if field.startswith("total="):
                totals[kind] = int(field[6:]) / 1e6
    return totals


def collect_pressure(c: HostContext) -> Iterator[Metric]:
    root = c.host.proc_root / "pressure"
    texts = {resource: read_required(root / resource) for resource in ("cpu", "io", "memory")}
    for resource, kind, suffix, doc in PRESSURE:
        total = _psi_totals(texts[resource]).get(kind)
        if total is not None:
            yield CounterMetricFamily(f"node_pressure_{suffix}_seconds", doc, value=total)


def collect_uname(c: HostContext) -> Iterator[Metric]:
    u = c.host.uname()
    # uname(2)'s domainname is Linux's; node_exporter shows the kernel's "(none)" too.
    domain = read_text(c.host.proc_root / "sys/kernel/domainname") or "(none)"
    labels = {
        "domainname": domain,
        "machine": u.machine,
        "nodename": u.node,
        "release": u.release,
        "sysname": u.system,
        "version": u.version,
    }
    info = GaugeMetricFamily(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        labels=list(labels),
    )
    info.add_metric(list(labels.values()), 1)
    yield info


def collect_time(c: HostContext) -> Iterator[Metric]:
    now = c.host.wall()
    yield gauge("node_time_seconds", "System time in seconds since epoch (1970).", now)
    local = c.host.localtime(now)
    zone = GaugeMetricFamily(
        "node_time_zone_offset_seconds", "System time zone offset in seconds.", labels=["time_zone"]
    )
    zone.add_metric([local.tm_zone], float(local.tm_gmtoff))
    yield zone


def collect_timex(c: HostContext) -> Iterator[Metric]:
    if c.host.adjtimex is None:
        raise NoData("no adjtimex on this platform")
    t = c.host.adjtimex()
    divisor = 1e9 if t.status & STA_NANO else 1e6
    ppm16 = 65536 * 1e6  # freq, ppsfreq and stabil are ppm with a 16-bit fraction
    gauges = (
        (
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            t.offset / divisor,
        ),
        ("frequency_adjustment_ratio", "Local clock frequency adjustment.", 1 + t.freq / ppm16),
        ("maxerror_seconds", "Maximum error in seconds.", t.maxerror / 1e6),
        ("estimated_error_seconds", "Estimated error in seconds.", t.esterror / 1e6),
        ("status", "Value of the status array bits.", t.status),
        ("loop_time_constant", "Phase-locked loop time constant.", t.constant),
        ("tick_seconds", "Seconds between clock ticks.", t.tick / 1e6),
        ("pps_frequency_hertz", "Pulse per second frequency.", t.ppsfreq / ppm16),
        ("pps_jitter_seconds", "Pulse per second jitter.", t.jitter / divisor),
        ("pps_shift_seconds", "Pulse per second interval duration.", t.shift),
        (
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            t.stabil / ppm16,
        ),
        ("tai_offset_seconds", "International Atomic Time (TAI) offset.", t.tai),
        (
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            0 if t.state == TIME_ERROR else 1,
        ),
    )
    for suffix, doc, value in gauges:
        yield gauge(f"node_timex_{suffix}", doc, value)
    counters = (
        ("pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", t.jitcnt),
        ("pps_calibration_total", "Pulse per second count of calibration intervals.", t.calcnt),
        ("pps_error_total", "Pulse per second count of calibration errors.", t.errcnt),
        (
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            t.stbcnt,
        ),
    )
    for suffix, doc, value in counters:
        yield CounterMetricFamily(f"node_timex_{suffix.removesuffix('_total')}", doc, value=value)
