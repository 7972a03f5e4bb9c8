"""Our system exporter next to the real node_exporter on this host.

Rules and dashboards must work unchanged whichever of the two feeds them, so for
every host metric of docs/metrics.md both must publish the same names, the same
label names, the same series, and values that agree.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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
]

Series = dict[str, dict[tuple[tuple[str, str], ...], float]]


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
    node_port, our_port = free_port(), free_port()
    node_url = f"http://127.0.0.1:{node_port}/metrics"
    our_url = f"http://127.0.0.1:{our_port}/metrics"
    node_argv = [find_binary("NODE_EXPORTER_BIN"), f"--web.listen-address=127.0.0.1:{node_port}"]
    our_argv = python_module("exporters.system", "--listen", f"127.0.0.1:{our_port}")
    with (
        running("node_exporter", node_argv, logs, ready_url=node_url),
        running("system-exporter", our_argv, logs, ready_url=our_url),
        ThreadPoolExecutor(2) as pool,
    ):
        theirs, ours = pool.map(lambda url: requests.get(url, timeout=10).text, [node_url, our_url])
    return parse(theirs), parse(ours)


@pytest.mark.parametrize("name", SHARED)
def test_same_name_and_label_names(both, name):
    theirs, ours = both
    assert name in theirs, f"node_exporter has no {name} here"
    assert name in ours, f"we publish no {name}"
    their_labels = {tuple(k for k, _ in key) for key in theirs[name]}
    our_labels = {tuple(k for k, _ in key) for key in ours[name]}
    assert our_labels == their_labels


@pytest.mark.parametrize(
    "name",
    [n for n in SHARED if not n.startswith(("node_filesystem_", "node_scrape_collector_duration"))],
)
def test_same_series(both, name):
    theirs, ours = both
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
