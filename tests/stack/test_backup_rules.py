"""rules/backups.yml on what a real backup run publishes, as the system exporter serves it.

A real backup (and a real failed verification) writes backup.prom; the system
exporter's textfile collector reads it; its samples become promtool's input
series (the backup's timestamp moved to the test's time 0), and promtool runs
the committed rules over them: a fresh verified backup fires nothing, the same
backup left stale fires BackupTooOld, an unverified one BackupUnverified.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from backup_support import backups_for, make_root
from prometheus_client import CollectorRegistry
from support.procs import find_binary

from exporters.host.base import Host
from exporters.system import SystemCollector, SystemConfig
from stack.backups.status import Status

RULES = Path(__file__).resolve().parents[2] / "rules" / "backups.yml"
INSTANCE = "127.0.0.1:9101"
RUNBOOKS = "https://github.com/recovery-stack/recovery-stack/blob/main/docs/runbooks"
BACKUPS = ("configs", "webhook-store")


pytestmark = pytest.mark.integration


def exported_series(textfile: Path, backup_time: float) -> list[dict[str, str]]:
    """The system exporter's backup samples as promtool input series, 40 minutes long."""
    config = SystemConfig(collectors=["textfile"], textfile_directory=textfile)
    host = Host(ps=SimpleNamespace(getloadavg=lambda: (0.0, 0.0, 0.0)))
    registry = CollectorRegistry()
    registry.register(SystemCollector(config, host=host, spawn=lambda target: target()))
    series = []
    for family in registry.collect():
        for sample in family.samples:
            if not sample.name.startswith(("backup_", "probe_")):
                continue
            value = sample.value
            if sample.name == "backup_last_success_timestamp_seconds":
                value -= backup_time  # the backup was made at the test's time 0
            labels = {**sample.labels, "job": "system", "instance": INSTANCE}
            selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            series.append({"series": f"{sample.name}{{{selector}}}", "values": f"{value:g}x40"})
    return series


def labels(backup: str) -> dict[str, str]:
    probe = f"backup-{backup}"
    return {
        "job": "system",
        "instance": INSTANCE,
        "probe": probe,
        "kind": "backup",
        "backup": backup,
    }


def alert(backup: str, name: str, summary: str, description: str) -> dict[str, object]:
    probe = f"backup-{backup}"
    return {
        "exp_labels": {**labels(backup), "severity": "high", "category": "data_integrity"},
        "exp_annotations": {
            "summary": f"Newest backup of {probe} {summary}",
            "description": f"The newest backup found by probe {probe} on {INSTANCE} {description}",
            "runbook_url": f"{RUNBOOKS}/{name}.md",
        },
    }


def too_old(backup: str, age: str) -> dict[str, object]:
    return alert(
        backup,
        "BackupTooOld",
        f"is {age} old",
        f"is {age} old, more than 2 backup intervals: the recovery point objective is at risk.",
    )


def unverified(backup: str) -> dict[str, object]:
    return alert(
        backup,
        "BackupUnverified",
        "fails its checksum",
        "does not match its checksum, or has none, so it cannot be trusted for a restore.",
    )


def promtool(tmp_path: Path, series: list[dict[str, str]], checks: list[dict]) -> None:
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
    }
    path = tmp_path / "backups_live_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run(
        [find_binary("PROMTOOL_BIN"), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def nothing(at: str, *names: str) -> list[dict]:
    return [{"eval_time": at, "alertname": name, "exp_alerts": []} for name in names]


@pytest.fixture
def backed_up(tmp_path: Path, restic_installed: None):
    root = make_root(tmp_path / "root")
    backups = backups_for(root)
    assert backups.backup().exit_code == 0
    return root, backups


def test_a_fresh_verified_backup_is_fine_and_a_stale_one_too_old(tmp_path, backed_up):
    root, backups = backed_up
    status = Status.load(backups.layout.status, 300)
    assert status.last_backup is not None
    series = exported_series(root / "var" / "textfile", status.last_backup)
    # The interval is 300 s: fine up to two intervals (10 minutes), too old after.
    checks = nothing("10m", "BackupTooOld", "BackupUnverified", "BackupFailed")
    checks.append(
        {
            "eval_time": "11m",
            "alertname": "BackupTooOld",
            "exp_alerts": [too_old(b, "11m 0s") for b in BACKUPS],
        }
    )
    checks += nothing("30m", "BackupUnverified", "BackupFailed")
    promtool(tmp_path, series, checks)


def test_a_backup_that_fails_verification_is_unverified(tmp_path, backed_up):
    root, backups = backed_up
    packs = sorted((backups.layout.repository / "data").glob("*/*"), key=lambda p: p.stat().st_size)
    pack = packs[-1]  # overwritten in place: its ciphertext no longer verifies
    pack.chmod(0o600)
    damaged = bytearray(pack.read_bytes())
    damaged[64:576] = b"\xde" * 512
    pack.write_bytes(bytes(damaged))
    assert backups.verify().exit_code == 1
    status = Status.load(backups.layout.status, 300)
    assert status.last_backup is not None
    series = exported_series(root / "var" / "textfile", status.last_backup)
    checks = nothing("14m", "BackupUnverified") + nothing("10m", "BackupTooOld", "BackupFailed")
    checks.append(
        {
            "eval_time": "15m",
            "alertname": "BackupUnverified",
            "exp_alerts": [unverified(b) for b in BACKUPS],
        }
    )
    promtool(tmp_path, series, checks)
