"""The textfile collector on fixture files: published samples, mtimes, rejected files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from prometheus_client import CollectorRegistry
from support.procs import free_port, python_module, running

from exporters.host.base import Host
from exporters.system import SystemCollector, SystemConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "textfile"


def directory(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "textfile"
    folder.mkdir()
    for name in names:
        shutil.copy(FIXTURES / name, folder / name)
        os.utime(folder / name, (1_700_000_100.7, 1_700_000_100.7))
    return folder


def scrape(folder: Path | None, collectors=("textfile",)) -> CollectorRegistry:
    config = SystemConfig(collectors=list(collectors), textfile_directory=folder)
    host = Host(ps=SimpleNamespace(getloadavg=lambda: (0.5, 0.25, 0.125)))
    registry = CollectorRegistry()
    registry.register(SystemCollector(config, host=host, spawn=lambda target: target()))
    return registry


def test_good_files_are_published_with_their_mtime(tmp_path):
    folder = directory(tmp_path, "backup.prom", "cron.prom", "notes.txt")
    reg = scrape(folder)
    nightly = {"backup": "nightly"}
    assert reg.get_sample_value("backup_last_success_timestamp_seconds", nightly) == 1.7e9
    assert reg.get_sample_value("backup_runs_total", nightly) == 42
    assert reg.get_sample_value("cron_job_last_exit_code", {"job": "logrotate"}) == 0
    assert reg.get_sample_value("not_read") is None  # only *.prom
    mtime = {"file": str(folder / "backup.prom")}
    assert reg.get_sample_value("node_textfile_mtime_seconds", mtime) == 1_700_000_100
    assert reg.get_sample_value("node_textfile_scrape_error") == 0
    docs = {m.name: m.documentation for m in reg.collect()}
    assert docs["cron_job_last_exit_code"] == f"Metric read from {folder / 'cron.prom'}"


def test_malformed_or_stamped_files_are_skipped_whole_and_flagged(tmp_path):
    folder = directory(tmp_path, "backup.prom", "broken.prom", "stamped.prom")
    reg = scrape(folder)
    assert reg.get_sample_value("node_textfile_scrape_error") == 1
    assert reg.get_sample_value("backup_size_bytes", {"backup": "nightly"}) is None
    assert reg.get_sample_value("backup_size_bytes", {"backup": "weekly"}) is None
    assert (
        reg.get_sample_value("node_textfile_mtime_seconds", {"file": str(folder / "broken.prom")})
        is None
    )
    assert reg.get_sample_value("backup_runs_total", {"backup": "nightly"}) == 42
    assert reg.get_sample_value("node_scrape_collector_success", {"collector": "textfile"}) == 1


def test_a_file_contradicting_an_earlier_ones_type_is_skipped(tmp_path):
    folder = directory(tmp_path, "backup.prom", "conflict.prom")
    reg = scrape(folder)
    assert reg.get_sample_value("node_textfile_scrape_error") == 1
    assert (
        reg.get_sample_value("backup_last_success_timestamp_seconds", {"backup": "nightly"})
        == 1.7e9
    )
    assert (
        reg.get_sample_value("backup_last_success_timestamp_seconds_total", {"backup": "other"})
        is None
    )


def test_a_file_repeating_an_earlier_files_series_is_skipped(tmp_path):
    folder = directory(tmp_path, "backup.prom", "repeat.prom")
    reg = scrape(folder)
    assert reg.get_sample_value("node_textfile_scrape_error") == 1
    assert reg.get_sample_value("backup_runs_total", {"backup": "nightly"}) == 42  # the first
    assert reg.get_sample_value("backup_runs_total", {"backup": "weekly"}) is None


def test_a_file_cannot_shadow_a_family_a_collector_publishes(tmp_path):
    folder = directory(tmp_path, "shadow.prom")
    reg = scrape(folder, collectors=("loadavg", "textfile"))
    values = [s.value for m in reg.collect() if m.name == "node_load1" for s in m.samples]
    assert values == [0.5]  # one family, the collector's


def test_without_a_directory_no_error_like_node_exporter(tmp_path):
    assert scrape(None).get_sample_value("node_textfile_scrape_error") == 0
    assert scrape(tmp_path / "gone").get_sample_value("node_textfile_scrape_error") == 1


@pytest.mark.integration
def test_cli_flag_and_a_file_written_while_running(tmp_path):
    folder = directory(tmp_path, "backup.prom")
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    argv = python_module(
        "exporters.system",
        "--listen",
        f"127.0.0.1:{port}",
        f"--collector.textfile.directory={folder}",
    )
    with running("system-exporter", argv, tmp_path, ready_url=url):
        assert 'backup_runs_total{backup="nightly"} 42.0' in requests.get(url, timeout=10).text
        (folder / "broken.prom").write_text((FIXTURES / "broken.prom").read_text())
        text = requests.get(url, timeout=10).text
    assert "node_textfile_scrape_error 1.0" in text
    assert 'backup_runs_total{backup="nightly"} 42.0' in text
