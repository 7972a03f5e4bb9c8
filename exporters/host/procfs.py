"""Linux /proc tables node_exporter publishes by default and psutil does not read:
the full /proc/diskstats, socket and protocol statistics, entropy, the OS release.

Each collector raises NoData where its file is absent (any other OS). Names, types
and field filters are node_exporter 1.5's, so the Node Exporter Full rows for disks,
sockets and netstat draw from either exporter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    UnknownMetricFamily,
)

from exporters.host.base import HostContext, NoData, gauge, read_required, read_text

# /proc/diskstats columns after major, minor and name → (suffix, help, scale); io_now is
# the one gauge. Older kernels stop after io_time_weighted or the discards.
DISKSTATS = (
    ("reads_completed_total", "The total number of reads completed successfully.", 1),
    ("reads_merged_total", "The total number of reads merged.", 1),
    ("read_bytes_total", "The total number of bytes read successfully.", 512),
    ("read_time_seconds_total", "The total number of seconds spent by all reads.", 0.001),
    ("writes_completed_total", "The total number of writes completed successfully.", 1),
    ("writes_merged_total", "The number of writes merged.", 1),
    ("written_bytes_total", "The total number of bytes written successfully.", 512),
    ("write_time_seconds_total", "This is the total number of seconds spent by all writes.", 0.001),
    ("io_now", "The number of I/Os currently in progress.", 1),
    ("io_time_seconds_total", "Total seconds spent doing I/Os.", 0.001),
    ("io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", 0.001),
    ("discards_completed_total", "The total number of discards completed successfully.", 1),
    ("discards_merged_total", "The total number of discards merged.", 1),
    ("discarded_sectors_total", "The total number of sectors discarded successfully.", 1),
    (
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        0.001,
    ),
    ("flush_requests_total", "The total number of flush requests completed successfully", 1),
    (
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        0.001,
    ),
)

# node_exporter 1.5's default --collector.netstat.fields.
NETSTAT_FIELDS = re.compile(
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)"
    r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)

OS_LABELS = [
    "build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name",
    "variant", "variant_id", "version", "version_codename", "version_id",
]  # fmt: skip


def diskstats_families(text: str, exclude: re.Pattern[str]) -> Iterator[Metric]:
    families = [
        (GaugeMetricFamily if suffix == "io_now" else CounterMetricFamily)(
            f"node_disk_{suffix}", doc, labels=["device"]
        )
        for suffix, doc, _scale in DISKSTATS
    ]
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 14 or exclude.search(fields[2]):
            continue
        for family, (_s, _d, scale), raw in zip(families, DISKSTATS, fields[3:], strict=False):
            family.add_metric([fields[2]], int(raw) * scale)
    yield from (family for family in families if family.samples)


@functools.lru_cache(maxsize=64)
def _wanted_columns(header: str) -> tuple[tuple[int, str, str], ...]:
    """A /proc/net/netstat or snmp header line → (column, family name, help) of the
    fields node_exporter publishes. The same few header lines every scrape, each of
    up to a hundred names: matched once per process, not once per scrape."""
    proto, *keys = header.split()
    proto = proto.rstrip(":")
    return tuple(
        (column, f"node_netstat_{proto}_{key}", f"Statistic {proto}{key}.")
        for column, key in enumerate(keys)
        if NETSTAT_FIELDS.match(f"{proto}_{key}")
    )


@functools.lru_cache(maxsize=512)
def _wanted_snmp6(field: str) -> tuple[str, str] | None:
    """`Ip6InOctets` → its family name and help, split after the protocol's 6;
    None for a field node_exporter leaves out."""
    if "6" not in field:
        return None
    cut = field.index("6") + 1
    proto, key = field[:cut], field[cut:]
    if not NETSTAT_FIELDS.match(f"{proto}_{key}"):
        return None
    return f"node_netstat_{proto}_{key}", f"Statistic {proto}{key}."


def _pairs(text: str) -> Iterator[tuple[str, str, float]]:
    """/proc/net/netstat and snmp: a header line of names, then one of values."""
    lines = text.splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        numbers = values.split()[1:]
        for column, name, doc in _wanted_columns(names):
            if column < len(numbers):
                yield name, doc, float(numbers[column])


def _snmp6(text: str) -> Iterator[tuple[str, str, float]]:
    """/proc/net/snmp6: one `Ip6InOctets 128` a line."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and (wanted := _wanted_snmp6(parts[0])) is not None:
            yield wanted[0], wanted[1], float(parts[1])


def collect_netstat(c: HostContext) -> Iterator[Metric]:
    net = c.host.proc_root / "net"
    rows = [
        *_pairs(read_required(net / "netstat")),
        *_pairs(read_required(net / "snmp")),
        *_snmp6(read_text(net / "snmp6") or ""),  # absent without IPv6
    ]
    for name, doc, value in rows:
        yield UnknownMetricFamily(name, doc, value=value)


def collect_sockstat(c: HostContext) -> Iterator[Metric]:
    texts = [read_required(c.host.proc_root / "net/sockstat")]
    texts.append(read_text(c.host.proc_root / "net/sockstat6") or "")
    for line in "\n".join(texts).splitlines():
        proto, _, rest = line.partition(":")
        values = rest.split()
        if proto == "sockets":
            yield gauge(
                "node_sockstat_sockets_used", "Number of IPv4 sockets in use.", int(values[1])
            )
            continue
        for key, number in zip(values[::2], values[1::2], strict=False):
            yield gauge(
                f"node_sockstat_{proto}_{key}",
                f"Number of {proto} sockets in state {key}.",
                int(number),
            )
            if key == "mem":  # pages, so node_exporter adds the byte count beside it
                yield gauge(
                    f"node_sockstat_{proto}_mem_bytes",
                    f"Number of {proto} sockets in state mem_bytes.",
                    int(number) * c.host.page_size,
                )


def collect_entropy(c: HostContext) -> Iterator[Metric]:
    random = c.host.proc_root / "sys/kernel/random"
    available = read_required(random / "entropy_avail")
    yield gauge("node_entropy_available_bits", "Bits of available entropy.", int(available))
    pool = read_text(random / "poolsize")
    if pool is not None:
        yield gauge("node_entropy_pool_size_bits", "Bits of entropy pool.", int(pool))


def os_release(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields


def collect_os(c: HostContext) -> Iterator[Metric]:
    text = next((t for p in c.host.os_release if (t := read_text(Path(p))) is not None), None)
    if text is None:
        raise NoData("no os-release file")
    fields = os_release(text)
    info = GaugeMetricFamily(
        "node_os_info",
        "A metric with a constant '1' value labeled by " + ", ".join(OS_LABELS) + ".",
        labels=OS_LABELS,
    )
    info.add_metric([fields.get(label, "") for label in OS_LABELS], 1)
    yield info
    match = re.match(r"^(\d+(?:\.\d+)?)", fields.get("version_id", ""))
    if match:
        version = GaugeMetricFamily(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            labels=["id", "id_like", "name"],
        )
        version.add_metric(
            [fields.get("id", ""), fields.get("id_like", ""), fields.get("name", "")],
            float(match.group(1)),
        )
        yield version
