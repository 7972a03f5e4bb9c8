"""What backup.prom says for each state of a source, and that it is replaced whole."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporters.categories import Category
from stack.backups import BackupConfigError, interval_from_env
from stack.backups.status import RepositoryStatus, SourceStatus, Status, publish, registry
from stack.ports import StackError
from stack.up import up


def value(status: Status, name: str, **labels: str) -> float | None:
    return registry(status).get_sample_value(name, labels)


def store(**fields) -> Status:
    return Status(interval_seconds=300, sources={"store": SourceStatus(**fields)})


def test_a_backed_up_and_verified_source_is_fine():
    status = store(last_success=1000.0, size_bytes=4096, snapshot="ab", verified=True)
    key = {"probe": "backup-store", "kind": "backup", "backup": "store"}
    assert value(status, "backup_last_success_timestamp_seconds", **key) == 1000
    assert value(status, "backup_size_bytes", **key) == 4096
    assert value(status, "backup_interval_seconds", **key) == 300
    assert value(status, "backup_checksum_ok", **key) == 1
    assert value(status, "probe_success", probe="backup-store", kind="backup") == 1


def test_not_yet_verified_publishes_no_checksum_and_never_backed_up_nothing():
    key = {"probe": "backup-store", "kind": "backup", "backup": "store"}
    assert value(store(last_success=1.0, snapshot="ab"), "backup_checksum_ok", **key) is None
    skipped = store(note="Alertmanager is not running")
    assert value(skipped, "probe_success", probe="backup-store", kind="backup") is None


def test_a_failed_repository_check_makes_every_checksum_0():
    status = store(last_success=1.0, snapshot="ab", verified=True)
    status.repository = RepositoryStatus(checked_at=5.0, ok=False)
    key = {"probe": "backup-store", "kind": "backup", "backup": "store"}
    assert value(status, "backup_checksum_ok", **key) == 0
    assert value(status, "backup_repository_check_ok") == 0


def test_a_failed_run_keeps_the_last_good_time_and_names_its_category():
    status = store(last_success=7.0, error="damaged", category=Category.DATA_INTEGRITY)
    probe = {"probe": "backup-store", "kind": "backup"}
    assert value(status, "probe_success", **probe) == 0
    assert value(status, "probe_failure_category", **probe, category="data_integrity") == 1
    assert value(status, "probe_failure_category", **probe, category="connection") == 0
    key = {**probe, "backup": "store"}
    assert value(status, "backup_last_success_timestamp_seconds", **key) == 7


def test_publish_replaces_the_file_whole(tmp_path):
    path = publish(store(last_success=1.0), tmp_path)
    publish(store(last_success=2.0), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["backup.prom"]  # no temporary left
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    [sample] = families["backup_last_success_timestamp_seconds"].samples
    assert sample.value == 2.0


def test_status_round_trips_and_takes_the_configured_interval(tmp_path):
    path = tmp_path / "status.json"
    store(last_success=3.0, verified=False).save(path)
    loaded = Status.load(path, interval_seconds=60)
    assert loaded.interval_seconds == 60
    assert loaded.sources["store"].verified is False
    assert Status.load(tmp_path / "none.json", 30).sources == {}


def test_the_backup_interval_comes_from_the_environment_or_is_refused():
    assert interval_from_env({}) == 300
    assert interval_from_env({"STACK_BACKUP_INTERVAL_SECONDS": "60"}) == 60
    for bad in ("0", "-5", "often"):
        with pytest.raises(BackupConfigError, match=f"STACK_BACKUP_INTERVAL_SECONDS={bad}: must"):
            interval_from_env({"STACK_BACKUP_INTERVAL_SECONDS": bad})


def test_make_up_refuses_a_bad_backup_interval_before_starting(tmp_path):
    with pytest.raises(StackError) as refused:
        up(tmp_path, {"STACK_BACKUP_INTERVAL_SECONDS": "soon"})
    assert refused.value.exit_code == 2
    assert "STACK_BACKUP_INTERVAL_SECONDS=soon" in refused.value.problems[0]


def test_a_damaged_status_file_starts_afresh(tmp_path):
    path = tmp_path / "status.json"
    path.write_text("{not json")
    assert Status.load(path, 300).sources == {}
