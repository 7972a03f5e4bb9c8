"""Backup, verify and restore with real restic on a real SQLite store."""

from __future__ import annotations

import dataclasses
import io
import re
import stat
from pathlib import Path

import pytest
from backup_support import backups_for, count_rows, env_for, make_root, make_store
from prometheus_client.parser import text_string_to_metric_families

from stack.backups.cli import main
from stack.backups.restic import Retention
from stack.backups.status import Status

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("restic_installed")]


def metrics(root: Path) -> dict[tuple[str, str], float]:
    """backup.prom as {(name, backup or probe label): value}."""
    text = (root / "var" / "textfile" / "backup.prom").read_text()
    return {
        (s.name, s.labels.get("backup") or s.labels.get("probe", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def corrupt(path: Path, at: int = 4096, length: int = 2048) -> None:
    data = bytearray(path.read_bytes())
    data[at : at + length] = b"\xde\xad" * (length // 2)
    path.write_bytes(bytes(data))


def test_a_corrupted_store_is_restored_and_the_damaged_copy_kept_aside(tmp_path):
    root = make_root(tmp_path, rows=400, blob=64)
    store = root / "var" / "webhook.sqlite3"
    backups = backups_for(root)
    assert backups.backup().exit_code == 0
    corrupt(store)
    damaged = store.read_bytes()

    out, err = io.StringIO(), io.StringIO()
    code = main(["restore", "--root", str(root), "--source", "webhook-store"], env_for(), out, err)

    assert code == 0, err.getvalue()
    assert count_rows(store) == 400
    aside = list(store.parent.glob("webhook.sqlite3.replaced-*Z"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert re.fullmatch(r"webhook\.sqlite3\.replaced-\d{8}T\d{6}Z", aside[0].name)
    assert "restored from snapshot" in out.getvalue()


def test_a_second_snapshot_adds_little(tmp_path):
    root = make_root(tmp_path, rows=2000, blob=256)  # about 600 kB of random data
    backups = backups_for(root)
    backups.backup()
    first = Status.load(backups.layout.status, 300).last_added_bytes
    make_store(root / "var" / "webhook.sqlite3", rows=1, blob=256)
    backups.backup()
    second = Status.load(backups.layout.status, 300).last_added_bytes
    assert first is not None and first > 500_000
    assert second is not None and second < first / 10
    assert len(backups.restic.snapshots()) == 2


def test_a_corrupted_pack_fails_verification_and_publishes_checksum_0(tmp_path):
    root = make_root(tmp_path, rows=300, blob=128)
    backups = backups_for(root)
    backups.backup()
    assert metrics(root)[("backup_checksum_ok", "webhook-store")] == 1
    packs = sorted((backups.layout.repository / "data").glob("*/*"), key=lambda p: p.stat().st_size)
    biggest = packs[-1]
    biggest.chmod(0o600)
    corrupt(biggest, at=64, length=512)

    out, err = io.StringIO(), io.StringIO()
    code = main(["verify-backups", "--root", str(root)], env_for(), out, err)

    assert code == 1
    assert "does not verify" in err.getvalue() or "restic check" in err.getvalue()
    published = metrics(root)
    assert published[("backup_checksum_ok", "webhook-store")] == 0
    assert published[("backup_checksum_ok", "configs")] == 0 or "configs" in err.getvalue()


def test_a_truncated_pack_fails_restic_check_itself(tmp_path):
    root = make_root(tmp_path)
    backups = backups_for(root)
    backups.backup()
    # The smallest: a truncated pack that restic must read to check the trees makes
    # it retry for most of a minute; a data pack's wrong size it sees at once.
    pack = min((backups.layout.repository / "data").glob("*/*"), key=lambda p: p.stat().st_size)
    pack.chmod(0o600)
    pack.write_bytes(pack.read_bytes()[:100])

    outcome = backups.verify()

    assert outcome.exit_code == 1
    assert any("restic check found the repository damaged" in p for p in outcome.problems)
    published = metrics(root)
    assert published[("backup_repository_check_ok", "")] == 0
    assert published[("backup_checksum_ok", "webhook-store")] == 0
    assert published[("backup_checksum_ok", "configs")] == 0


def test_retention_forgets_and_prunes_old_snapshots(tmp_path):
    root = make_root(tmp_path)
    keep_two = Retention(last=2, hourly=0, daily=0, weekly=0, monthly=0)
    backups = dataclasses.replace(backups_for(root), retention=keep_two)
    for rows in range(4):
        make_store(root / "var" / "webhook.sqlite3", rows=rows + 1)
        backups.backup()
    before = [s.id for s in backups.restic.snapshots()]

    outcome = backups.prune()

    after = [s.id for s in backups.restic.snapshots()]
    assert len(before) == 4 and after == before[-2:]
    assert "2 snapshot(s) forgotten and pruned" in outcome.lines[0]
    assert Status.load(backups.layout.status, 300).verified_snapshots == after


def test_the_password_file_is_private_and_never_in_any_output(tmp_path):
    root = make_root(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    for command in (["backup"], ["verify-backups"], ["verify-backups", "--restore-test"]):
        assert main([*command, "--root", str(root)], env_for(), out, err) == 0, err.getvalue()
    password_file = root / "var" / "backups" / "restic-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text()
    assert len(password) >= 32
    written = [out.getvalue(), err.getvalue()]
    written += [p.read_text() for p in (root / "var" / "backups").glob("*.json")]
    written.append((root / "var" / "textfile" / "backup.prom").read_text())
    assert all(password not in text for text in written)
    assert str(password_file) not in out.getvalue()


def test_the_runs_secrets_are_not_backed_up(tmp_path):
    root = make_root(tmp_path)
    backups = backups_for(root)
    backups.backup()
    staged = backups.layout.staging / "configs"
    assert (staged / "var" / "run" / "prometheus.yml").is_file()
    assert (staged / "alert_webhook" / "playbooks.yml").is_file()
    assert not (staged / "var" / "run" / "webhook-token").exists()


def test_skipped_silences_are_said_and_publish_nothing(tmp_path):
    root = make_root(tmp_path)
    outcome = backups_for(root).backup()
    assert outcome.exit_code == 0
    assert any("Alertmanager is not running" in line for line in outcome.lines)
    assert not [key for key in metrics(root) if key[1] in ("silences", "backup-silences")]


def test_the_demos_orders_store_is_one_more_source(tmp_path):
    root = make_root(tmp_path, rows=3)
    orders = root / "var" / "data" / "demo" / "orders.sqlite3"
    make_store(orders, rows=25)
    backups = backups_for(root)
    backups.backup()
    assert "orders" in backups.restic.snapshots()[-1].tags
    assert metrics(root)[("backup_checksum_ok", "orders")] == 1
    corrupt(orders, at=0, length=64)

    out, err = io.StringIO(), io.StringIO()
    code = main(["restore", "--root", str(root), "--source", "orders"], env_for(), out, err)

    assert code == 0, err.getvalue()
    assert count_rows(orders) == 25
    assert count_rows(root / "var" / "webhook.sqlite3") == 3
