"""Service process groups on real processes: by name, pidfile (with children), a
systemd unit's cgroup (a fixture tree naming real pids) and a real supervisord."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from prometheus_client import CollectorRegistry

from exporters.host.base import Host
from exporters.system import SystemCollector, SystemConfig
from toolkit.config import ConfigError, parse_model

# A parent that starts two children and waits: a master with its workers.
FAMILY = (
    "import subprocess, sys, time\n"
    "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])"
    " for _ in range(2)]\n"
    "print('ready', flush=True)\n"
    "time.sleep(300)\n"
)


@pytest.fixture
def sleeper(tmp_path):
    binary = tmp_path / "rsgroupsleep"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    procs = [subprocess.Popen([str(binary), "300"]) for _ in range(2)]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def family():
    proc = subprocess.Popen([sys.executable, "-c", FAMILY], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield proc
    for child in psutil.Process(proc.pid).children(recursive=True):
        child.kill()
    proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()


def scrape(groups: list[dict], sys_root: Path = Path("/sys")) -> CollectorRegistry:
    config = parse_model(
        SystemConfig, {"collectors": ["processes"], "process_groups": groups}, "system.yml"
    )
    registry = CollectorRegistry()
    host = Host(sys_root=sys_root)
    registry.register(SystemCollector(config, host=host, spawn=lambda target: target()))
    return registry


def value(reg: CollectorRegistry, metric: str, group: str, **labels: str) -> float | None:
    return reg.get_sample_value(f"namedprocess_namegroup_{metric}", {"groupname": group, **labels})


@pytest.mark.integration
def test_group_by_name_pattern_sums_its_processes(sleeper):
    reg = scrape([{"name": "sleepers", "name_pattern": "rsgroup.*"}])
    assert value(reg, "num_procs", "sleepers") == 2
    rss = sum(psutil.Process(p.pid).memory_info().rss for p in sleeper)
    assert value(reg, "memory_bytes", "sleepers", memtype="resident") == pytest.approx(rss, rel=0.2)
    assert value(reg, "num_threads", "sleepers") == 2
    assert value(reg, "open_filedesc", "sleepers") >= 6  # stdin, stdout, stderr each
    assert value(reg, "cpu_seconds_total", "sleepers", mode="user") >= 0
    oldest = min(psutil.Process(p.pid).create_time() for p in sleeper)
    assert value(reg, "oldest_start_time_seconds", "sleepers") == oldest
    assert value(reg, "oldest_start_time_seconds", "sleepers") <= time.time()


@pytest.mark.integration
def test_states_switches_io_and_fd_ratio_like_process_exporter(sleeper):
    reg = scrape([{"name": "sleepers", "name_pattern": "rsgroup.*"}])
    assert value(reg, "states", "sleepers", state="Sleeping") == 2
    assert value(reg, "states", "sleepers", state="Zombie") == 0
    switches = sum(psutil.Process(p.pid).num_ctx_switches().voluntary for p in sleeper)
    assert value(reg, "context_switches_total", "sleepers", ctxswitchtype="voluntary") <= switches
    assert value(reg, "read_bytes_total", "sleepers") >= 0  # our own children: readable
    soft = psutil.Process(sleeper[0].pid).rlimit(psutil.RLIMIT_NOFILE)[0]
    fds = psutil.Process(sleeper[0].pid).num_fds()
    assert value(reg, "worst_fd_ratio", "sleepers") == fds / soft


@pytest.mark.integration
def test_a_group_with_no_process_left_reports_zero(sleeper):
    groups = [{"name": "sleepers", "name_pattern": "rsgroup.*"}]
    for proc in sleeper:
        proc.kill()
        proc.wait(timeout=10)
    reg = scrape(groups)
    assert value(reg, "num_procs", "sleepers") == 0
    assert value(reg, "memory_bytes", "sleepers", memtype="resident") is None


@pytest.mark.integration
def test_pidfile_group_counts_the_children_too(family, tmp_path):
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{family.pid}\n")
    reg = scrape([{"name": "app", "pidfile": str(pidfile)}])
    assert value(reg, "num_procs", "app") == 3
    stale = tmp_path / "stale.pid"
    stale.write_text("999999999\n")
    reg = scrape([{"name": "stale", "pidfile": str(stale)}])
    assert value(reg, "num_procs", "stale") == 0


@pytest.mark.integration
def test_systemd_unit_group_reads_the_units_cgroup(sleeper, tmp_path):
    unit = tmp_path / "sys/fs/cgroup/system.slice/nightly-backup.service"
    (unit / "worker").mkdir(parents=True)
    (unit / "cgroup.procs").write_text(f"{sleeper[0].pid}\n")
    (unit / "worker/cgroup.procs").write_text(f"{sleeper[1].pid}\n")
    groups = [
        {"name": "backup", "systemd_unit": "nightly-backup.service"},
        {"name": "absent", "systemd_unit": "nosuch.service"},
    ]
    reg = scrape(groups, sys_root=tmp_path / "sys")
    assert value(reg, "num_procs", "backup") == 2
    assert value(reg, "num_procs", "absent") == 0


@pytest.mark.integration
def test_supervisor_program_group_asks_supervisord(supervisord):
    url = f"unix://{supervisord.parent / 'supervisor.sock'}"
    reg = scrape(
        [
            {"name": "worker", "supervisor_program": "worker", "supervisor_url": url},
            {"name": "stopped", "supervisor_program": "stopped", "supervisor_url": url},
            {"name": "unknown", "supervisor_program": "nosuch", "supervisor_url": url},
        ]
    )
    assert value(reg, "num_procs", "worker") == 1
    assert value(reg, "num_procs", "stopped") == 0
    assert value(reg, "num_procs", "unknown") is None  # no answer, not a made-up zero


def test_group_config_errors_are_all_reported():
    with pytest.raises(ConfigError) as caught:
        parse_model(
            SystemConfig,
            {
                "process_groups": [
                    {"name": "a", "pidfile": "/run/a.pid", "systemd_unit": "a.service"},
                    {"name": "b", "supervisor_program": "b"},
                    {"name": "c", "name_pattern": "("},
                    {"name": "bad name!", "pidfile": "/run/x.pid"},
                ]
            },
            "system.yml",
        )
    problems = "\n".join(caught.value.problems)
    assert "process_groups[0]: name exactly one of" in problems
    assert "process_groups[1]: supervisor_program and supervisor_url go together" in problems
    assert "process_groups[2].name_pattern: invalid regular expression" in problems
    assert "process_groups[3].name:" in problems


def test_group_names_are_unique():
    with pytest.raises(ConfigError) as caught:
        parse_model(
            SystemConfig,
            {"process_groups": [{"name": "a", "pidfile": "/a"}, {"name": "a", "pidfile": "/b"}]},
            "system.yml",
        )
    assert caught.value.problems == ["process_groups: group names must be unique: a"]


def test_without_groups_there_is_no_processes_collector():
    reg = CollectorRegistry()
    reg.register(SystemCollector(SystemConfig(), spawn=lambda target: target()))
    collectors = {
        s.labels["collector"]
        for m in reg.collect()
        if m.name == "node_scrape_collector_success"
        for s in m.samples
    }
    assert "processes" not in collectors
