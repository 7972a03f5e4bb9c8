"""Our system exporter next to the real node_exporter on this host.

Rules and dashboards must work unchanged whichever of the two feeds them, so for
every host metric of docs/metrics.md, and every family the community host rules
and the Node Exporter Full dashboard read, both must publish the same names, the
same label names, the same series, and values that agree. Both read the same
textfile directory.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.procs import find_binary, free_port, python_module, running

# The host metrics of docs/metrics.md that node_exporter has too.
SHARED = [
    "node_cpu_seconds_total",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemFree_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_SwapFree_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_readonly",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_disk_reads_completed_total",
    "node_disk_writes_completed_total",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_network_receive_packets_total",
    "node_network_transmit_packets_total",
    "node_network_receive_errs_total",
    "node_network_transmit_errs_total",
    "node_network_receive_drop_total",
    "node_network_transmit_drop_total",
    "node_load1",
    "node_load5",
    "node_load15",
    "node_boot_time_seconds",
    "node_procs_running",
    "node_scrape_collector_success",
    "node_scrape_collector_duration_seconds",
    # what the community host rules and Node Exporter Full's default rows read besides
    "node_uname_info",
    "node_time_seconds",
    "node_time_zone_offset_seconds",
    "node_filesystem_files",
    "node_filesystem_files_free",
    "node_filesystem_device_error",
    "node_memory_SReclaimable_bytes",
    "node_memory_Cached_bytes",
    "node_memory_Buffers_bytes",
    "node_vmstat_pgmajfault",
    "node_vmstat_pgfault",
    "node_vmstat_oom_kill",
    "node_vmstat_pgpgin",
    "node_vmstat_pgpgout",
    "node_vmstat_pswpin",
    "node_vmstat_pswpout",
    *(
        f"node_timex_{name}"
        for name in (
            "offset_seconds",
            "frequency_adjustment_ratio",
            "maxerror_seconds",
            "estimated_error_seconds",
            "status",
            "loop_time_constant",
            "tick_seconds",
            "pps_frequency_hertz",
            "pps_jitter_seconds",
            "pps_shift_seconds",
            "pps_stability_hertz",
            "pps_jitter_total",
            "pps_calibration_total",
            "pps_error_total",
            "pps_stability_exceeded_total",
            "tai_offset_seconds",
            "sync_status",
        )
    ),  # fmt: skip
    "node_network_up",
    "node_network_speed_bytes",
    "node_network_mtu_bytes",
    "node_network_info",
    "node_filefd_allocated",
    "node_filefd_maximum",
    "node_disk_io_time_seconds_total",
    "node_disk_read_time_seconds_total",
    "node_disk_write_time_seconds_total",
    "node_context_switches_total",
    "node_textfile_scrape_error",
    "node_textfile_mtime_seconds",
    "backup_last_success_timestamp_seconds",  # from the shared textfile directory
    "backup_runs_total",
    # Node Exporter Full's collapsed rows: disks, sockets, netstat, system misc
    "node_disk_reads_merged_total",
    "node_disk_writes_merged_total",
    "node_disk_io_now",
    "node_disk_io_time_weighted_seconds_total",
    "node_cpu_guest_seconds_total",
    "node_forks_total",
    "node_entropy_available_bits",
    "node_entropy_pool_size_bits",
    "node_os_info",
    "node_os_version",
    "node_sockstat_sockets_used",
    "node_sockstat_TCP_inuse",
    "node_sockstat_TCP_tw",
    "node_sockstat_TCP_mem_bytes",
    "node_sockstat_UDP_inuse",
    "node_netstat_Tcp_CurrEstab",
    "node_netstat_Tcp_InSegs",
    "node_netstat_Tcp_RetransSegs",
    "node_netstat_TcpExt_ListenDrops",
    "node_netstat_Udp_InDatagrams",
    "node_netstat_IpExt_InOctets",
    "node_netstat_Icmp_InMsgs",
]
# Present only where the kernel has them: PSI, nf_conntrack loaded, IPv6, and
# diskstats' discard (4.18) and flush (5.5) columns.
WHERE_THE_HOST_HAS_THEM = [
    "node_disk_discards_completed_total",
    "node_disk_flush_requests_total",
    "node_sockstat_TCP6_inuse",
    "node_netstat_Ip6_InOctets",
    "node_pressure_cpu_waiting_seconds_total",
    "node_pressure_io_waiting_seconds_total",
    "node_pressure_io_stalled_seconds_total",
    "node_pressure_memory_waiting_seconds_total",
    "node_pressure_memory_stalled_seconds_total",
    "node_nf_conntrack_entries",
    "node_nf_conntrack_entries_limit",
]
TEXTFILES = Path(__file__).resolve().parents[1] / "fixtures" / "textfile"

Series = dict[str, dict[tuple[tuple[str, str], ...], float]]


pytestmark = pytest.mark.integration


def parse(text: str) -> Series:
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> tuple[Series, Series]:
    """One scrape of each, taken at the same moment."""
    logs = tmp_path_factory.mktemp("compat")
    textfiles = logs / "textfile"
    textfiles.mkdir()
    for name in ("backup.prom", "broken.prom"):
        shutil.copy(TEXTFILES / name, textfiles / name)
    node_port, our_port = free_port(), free_port()
    node_url = f"http://127.0.0.1:{node_port}/metrics"
    our_url = f"http://127.0.0.1:{our_port}/metrics"
    flag = f"--collector.textfile.directory={textfiles}"
    node_argv = [
        find_binary("NODE_EXPORTER_BIN"),
        f"--web.listen-address=127.0.0.1:{node_port}",
        flag,
    ]
    our_argv = python_module("exporters.system", "--listen", f"127.0.0.1:{our_port}", flag)
    with (
        running("node_exporter", node_argv, logs, ready_url=node_url),
        running("system-exporter", our_argv, logs, ready_url=our_url),
        ThreadPoolExecutor(2) as pool,
    ):
        theirs, ours = pool.map(lambda url: requests.get(url, timeout=10).text, [node_url, our_url])
    return parse(theirs), parse(ours)


def present(name: str, theirs: Series) -> None:
    if name in WHERE_THE_HOST_HAS_THEM and name not in theirs:
        pytest.skip(f"this kernel has no source for {name}")
    assert name in theirs, f"node_exporter has no {name} here"


@pytest.mark.parametrize("name", SHARED + WHERE_THE_HOST_HAS_THEM)
def test_same_name_and_label_names(both, name):
    theirs, ours = both
    present(name, theirs)
    assert name in ours, f"we publish no {name}"
    their_labels = {tuple(k for k, _ in key) for key in theirs[name]}
    our_labels = {tuple(k for k, _ in key) for key in ours[name]}
    assert our_labels == their_labels


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in SHARED + WHERE_THE_HOST_HAS_THEM
        if not n.startswith(("node_filesystem_", "node_scrape_collector_duration"))
    ],
)
def test_same_series(both, name):
    theirs, ours = both
    present(name, theirs)
    if name == "node_scrape_collector_success":
        # node_exporter has more collectors; each of ours is one of its, under its name
        assert set(ours[name]) <= set(theirs[name])
        return
    assert set(ours[name]) == set(theirs[name])


def test_filesystems_node_exporter_sees_are_ours_too(both):
    # node_exporter reads PID 1's mount table, psutil this process's; in a container or
    # sandbox ours may list more, never fewer.
    theirs, ours = both
    for name in (
        "node_filesystem_size_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_readonly",
        "node_filesystem_files",
        "node_filesystem_files_free",
    ):
        assert set(theirs[name]) <= set(ours[name]), name


def close(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def test_values_agree(both):
    theirs, ours = both
    exact = [
        "node_memory_MemTotal_bytes",
        "node_memory_SwapTotal_bytes",
        "node_filesystem_size_bytes",
    ]
    for name in exact:
        for key, value in theirs[name].items():
            assert ours[name][key] == value, (name, key)
    assert close(ours["node_boot_time_seconds"][()], theirs["node_boot_time_seconds"][()], 0, 1.0)
    drifting = {  # taken a few milliseconds apart on a live host
        "node_memory_MemAvailable_bytes": (0.05, 0),
        "node_filesystem_avail_bytes": (0.01, 64 << 20),
        "node_filesystem_free_bytes": (0.01, 64 << 20),
        "node_cpu_seconds_total": (0.01, 2.0),
        "node_disk_reads_completed_total": (0.01, 100),
        "node_disk_read_bytes_total": (0.01, 16 << 20),
        "node_network_receive_bytes_total": (0.01, 1 << 20),
    }
    for name, (rel, abs_) in drifting.items():
        for key, value in theirs[name].items():
            if key in ours[name]:
                assert close(ours[name][key], value, rel, abs_), (name, key, ours[name][key], value)
    for key, value in theirs["node_filesystem_readonly"].items():
        assert ours["node_filesystem_readonly"][key] == value, key


def test_every_meminfo_field_of_theirs_is_ours(both):
    # Node Exporter Full's memory rows read dozens of /proc/meminfo fields.
    theirs, ours = both
    fields = {n for n in theirs if n.startswith("node_memory_")}
    assert fields - set(ours) == set()
    for name in fields:
        value, mine = theirs[name][()], ours[name][()]
        if name.endswith(("Total_bytes", "Hugepagesize_bytes")):
            assert mine == value, name
        else:  # live; a few milliseconds apart, and our own process allocates too
            assert close(mine, value, 0.05, 64 << 20), (name, mine, value)


def test_new_families_values_agree(both):
    theirs, ours = both
    same = [
        "node_uname_info",
        "node_time_zone_offset_seconds",
        "node_network_up",
        "node_network_speed_bytes",
        "node_network_mtu_bytes",
        "node_network_info",
        "node_filefd_maximum",
        "node_filesystem_files",
        "node_timex_status",
        "node_timex_tick_seconds",
        "node_timex_loop_time_constant",
        "node_timex_sync_status",
        "node_timex_tai_offset_seconds",
        "node_timex_frequency_adjustment_ratio",
        "node_textfile_scrape_error",
        "node_textfile_mtime_seconds",
        "backup_last_success_timestamp_seconds",
        "backup_runs_total",
        "node_nf_conntrack_entries_limit",
        "node_os_info",
        "node_os_version",
        "node_entropy_pool_size_bits",
        "node_cpu_guest_seconds_total",
    ]
    for name in same:  # the series sets themselves are compared above
        for key, value in theirs.get(name, {}).items():
            assert ours[name].get(key) == value, (name, key)
    drifting = {
        "node_time_seconds": (0, 5.0),
        "node_filesystem_files_free": (0.01, 10_000),
        "node_vmstat_pgfault": (0.05, 200_000),  # our interpreter's start-up faults too
        "node_vmstat_pgmajfault": (0.05, 1_000),
        "node_vmstat_pgpgin": (0.05, 1 << 16),
        "node_vmstat_pgpgout": (0.05, 1 << 16),
        "node_vmstat_pswpin": (0.05, 1_000),
        "node_vmstat_pswpout": (0.05, 1_000),
        "node_vmstat_oom_kill": (0, 0),
        "node_filefd_allocated": (0.2, 500),
        "node_timex_offset_seconds": (0.1, 0.001),
        "node_timex_maxerror_seconds": (0.01, 0.5),
        "node_timex_estimated_error_seconds": (0.01, 0.5),
        "node_nf_conntrack_entries": (0.1, 50),
        "node_pressure_cpu_waiting_seconds_total": (0.05, 1.0),
        "node_pressure_io_waiting_seconds_total": (0.05, 1.0),
        "node_pressure_io_stalled_seconds_total": (0.05, 1.0),
        "node_pressure_memory_waiting_seconds_total": (0.05, 1.0),
        "node_pressure_memory_stalled_seconds_total": (0.05, 1.0),
        "node_context_switches_total": (0.05, 50_000),
        "node_disk_io_time_seconds_total": (0.01, 2.0),
        "node_disk_io_time_weighted_seconds_total": (0.01, 2.0),
        "node_disk_writes_merged_total": (0.01, 1_000),
        "node_disk_io_now": (0, 8),
        "node_forks_total": (0.01, 500),
        "node_entropy_available_bits": (0.5, 256),
        "node_sockstat_sockets_used": (0.5, 50),
        "node_sockstat_TCP_inuse": (0.5, 20),
        "node_netstat_Tcp_InSegs": (0.05, 5_000),
        "node_netstat_IpExt_InOctets": (0.05, 1 << 22),
    }
    for name, (rel, abs_) in drifting.items():
        for key, value in theirs.get(name, {}).items():
            if key in ours[name]:
                assert close(ours[name][key], value, rel, abs_), (name, key, ours[name][key], value)
