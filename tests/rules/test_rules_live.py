"""The host and meta rules evaluated by a real Prometheus on real exporters.

node_exporter (job `node`) and our system exporter (job `system`) are scraped
every second with the committed rule files: the recordings must come out with
the intended labels, pseudo filesystems must be left out, and AlertInputMissing
must stay quiet for targets that publish everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from ruleset import RULES
from support.procs import find_binary, free_port, python_module, running, wait_until

pytestmark = pytest.mark.integration


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]["result"]


def test_host_recordings_on_real_exporters(tmp_path: Path) -> None:
    node, system, prom = free_port(), free_port(), free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "host.yml"), str(RULES / "meta.yml")],
        "scrape_configs": [
            {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{node}"]}]},
            {"job_name": "system", "static_configs": [{"targets": [f"127.0.0.1:{system}"]}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{prom}"
    with (
        running(
            "node_exporter",
            [find_binary("NODE_EXPORTER_BIN"), f"--web.listen-address=127.0.0.1:{node}"],
            tmp_path,
            ready_url=f"http://127.0.0.1:{node}/metrics",
        ),
        running(
            "system-exporter",
            python_module("exporters.system", "--listen", f"127.0.0.1:{system}"),
            tmp_path,
            ready_url=f"http://127.0.0.1:{system}/metrics",
        ),
        running(
            "prometheus",
            [
                find_binary("PROMETHEUS_BIN"),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom}",
            ],
            tmp_path,
            ready_url=f"{url}/-/ready",
        ),
    ):
        wait_until(
            lambda: len(query(url, "instance:node_cpu_busy:ratio_rate1m")) == 2,
            60,
            "CPU recordings for both exporters",
        )
        cpu = query(url, "instance:node_cpu_busy:ratio_rate1m")
        memory = query(url, "instance:node_memory_used:ratio")
        disks = query(url, "instance_mountpoint:node_filesystem_avail:ratio")
        missing = query(url, 'ALERTS{alertname="AlertInputMissing"}')

    assert {s["metric"]["job"] for s in cpu} == {"node", "system"}
    for sample in cpu:
        assert set(sample["metric"]) == {"__name__", "job", "instance"}  # no cpu, no mode
        assert 0 <= float(sample["value"][1]) <= 1
    assert {s["metric"]["job"] for s in memory} == {"node", "system"}
    assert all(0 < float(s["value"][1]) < 1 for s in memory)

    # Every real filesystem is kept (a container's overlay root is not one of them).
    for job in ("node", "system"):
        assert any(s["metric"]["job"] == job for s in disks), f"{job}: no filesystem left"
    fstypes = {s["metric"]["fstype"] for s in disks}
    assert not fstypes & {"tmpfs", "devtmpfs", "proc", "sysfs", "overlay", "squashfs"}
    assert not any(s["metric"]["mountpoint"].startswith(("/proc", "/sys", "/run")) for s in disks)
    assert missing == [], "AlertInputMissing is pending for targets that publish everything"
