"""Kernel sources on a fixture /proc: vmstat, filefd, conntrack, PSI, meminfo, uname,
time and timex — under node_exporter's names and units, absent where the source is."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from exporters.host.base import Host
from exporters.host.timex import STA_NANO, TIME_ERROR, Timex
from exporters.system import SystemCollector, SystemConfig

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "host"

UNAME = SimpleNamespace(
    system="Linux", node="db1", release="6.1.0-18-amd64", version="#1 SMP Debian", machine="x86_64"
)


def timex(**overrides: int) -> Timex:
    fields = dict(
        state=0, offset=-2500, freq=65536 * 12, maxerror=48_000, esterror=1_500, status=0x2001,
        constant=7, tick=10_000, ppsfreq=0, jitter=0, shift=0, stabil=0, jitcnt=1, calcnt=2,
        errcnt=3, stbcnt=4, tai=37,
    )  # fmt: skip
    fields.update(overrides)
    return Timex(**fields)


def scrape(proc_root: Path = FIXTURE / "proc", **host: object) -> CollectorRegistry:
    defaults: dict[str, object] = {
        "uname": lambda: UNAME,
        "wall": lambda: 1_700_000_123.5,
        "adjtimex": lambda: timex(),
        "localtime": lambda now: time.struct_time(
            (2023, 11, 14, 23, 15, 23, 1, 318, 0, "CET", 3600)
        ),
    }
    config = SystemConfig(
        collectors=[
            "meminfo",
            "vmstat",
            "filefd",
            "conntrack",
            "pressure",
            "uname",
            "time",
            "timex",
        ]
    )
    registry = CollectorRegistry()
    registry.register(
        SystemCollector(
            config,
            host=Host(proc_root=proc_root, **{**defaults, **host}),  # type: ignore[arg-type]
            spawn=lambda target: target(),
        )
    )
    return registry


def success(reg: CollectorRegistry, collector: str) -> float | None:
    return reg.get_sample_value("node_scrape_collector_success", {"collector": collector})


def test_vmstat_publishes_node_exporters_default_fields_untyped():
    reg = scrape()
    assert reg.get_sample_value("node_vmstat_pgmajfault") == 839
    assert reg.get_sample_value("node_vmstat_oom_kill") == 2
    assert reg.get_sample_value("node_vmstat_pgpgin") == 1176809
    assert reg.get_sample_value("node_vmstat_pswpout") == 5
    assert reg.get_sample_value("node_vmstat_nr_free_pages") is None  # not a default field
    types = {m.name: m.type for m in reg.collect()}
    assert types["node_vmstat_pgmajfault"] == "unknown"  # "untyped" on the wire, as theirs


def test_meminfo_publishes_every_field_under_node_exporters_names():
    reg = scrape()
    assert reg.get_sample_value("node_memory_MemTotal_bytes") == 8141200 * 1024
    assert reg.get_sample_value("node_memory_SReclaimable_bytes") == 129800 * 1024
    assert reg.get_sample_value("node_memory_Active_anon_bytes") == 402340 * 1024
    assert reg.get_sample_value("node_memory_HugePages_Total") == 0  # no unit, no _bytes


def test_file_descriptors_and_conntrack():
    reg = scrape()
    assert reg.get_sample_value("node_filefd_allocated") == 486
    assert reg.get_sample_value("node_filefd_maximum") == 2466165
    assert reg.get_sample_value("node_nf_conntrack_entries") == 17
    assert reg.get_sample_value("node_nf_conntrack_entries_limit") == 262144


def test_pressure_totals_are_seconds():
    reg = scrape()
    assert reg.get_sample_value("node_pressure_cpu_waiting_seconds_total") == 38.437315
    assert reg.get_sample_value("node_pressure_io_waiting_seconds_total") == 3.233927
    assert reg.get_sample_value("node_pressure_io_stalled_seconds_total") == 2.996026
    assert reg.get_sample_value("node_pressure_memory_waiting_seconds_total") == 1.5
    assert reg.get_sample_value("node_pressure_memory_stalled_seconds_total") == 0.25


def test_missing_sources_publish_nothing_and_report_failure(tmp_path):
    proc = tmp_path / "proc"
    shutil.copytree(FIXTURE / "proc", proc)
    shutil.rmtree(proc / "pressure")  # a kernel without PSI
    shutil.rmtree(proc / "sys/net/netfilter")  # no nf_conntrack module loaded
    reg = scrape(proc)
    assert success(reg, "pressure") == 0
    assert success(reg, "conntrack") == 0
    assert reg.get_sample_value("node_pressure_cpu_waiting_seconds_total") is None
    assert reg.get_sample_value("node_nf_conntrack_entries") is None
    assert success(reg, "vmstat") == 1
    assert reg.get_sample_value("node_filefd_allocated") == 486


def test_uname_info_has_node_exporters_labels():
    reg = scrape()
    labels = {
        "domainname": "(none)",
        "machine": "x86_64",
        "nodename": "db1",
        "release": "6.1.0-18-amd64",
        "sysname": "Linux",
        "version": "#1 SMP Debian",
    }
    assert reg.get_sample_value("node_uname_info", labels) == 1


def test_time_is_the_wall_clock_and_its_zone():
    reg = scrape()
    assert reg.get_sample_value("node_time_seconds") == 1_700_000_123.5
    assert reg.get_sample_value("node_time_zone_offset_seconds", {"time_zone": "CET"}) == 3600


def test_timex_scales_like_node_exporter():
    reg = scrape()
    assert reg.get_sample_value("node_timex_offset_seconds") == -2500 / 1e9  # STA_NANO set
    assert reg.get_sample_value("node_timex_maxerror_seconds") == 0.048
    assert reg.get_sample_value("node_timex_estimated_error_seconds") == 0.0015
    assert reg.get_sample_value("node_timex_frequency_adjustment_ratio") == 1 + 12 / 1e6
    assert reg.get_sample_value("node_timex_status") == 0x2001
    assert reg.get_sample_value("node_timex_tick_seconds") == 0.01
    assert reg.get_sample_value("node_timex_tai_offset_seconds") == 37
    assert reg.get_sample_value("node_timex_pps_calibration_total") == 2
    assert reg.get_sample_value("node_timex_sync_status") == 1


def test_timex_microseconds_and_unsynchronised_clock():
    t = timex(state=TIME_ERROR, status=0x0040, offset=-2500)
    assert not t.status & STA_NANO
    reg = scrape(adjtimex=lambda: t)
    assert reg.get_sample_value("node_timex_offset_seconds") == -0.0025
    assert reg.get_sample_value("node_timex_sync_status") == 0


def test_no_adjtimex_means_no_timex_series():
    reg = scrape(adjtimex=None)
    assert success(reg, "timex") == 0
    assert reg.get_sample_value("node_timex_offset_seconds") is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux libc adjtimex")
def test_the_real_adjtimex_answers_read_only():
    reg = scrape(adjtimex=Host().adjtimex)
    assert success(reg, "timex") == 1
    assert reg.get_sample_value("node_timex_tick_seconds") > 0
