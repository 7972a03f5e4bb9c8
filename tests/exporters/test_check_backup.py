"""Backup checks on real folders: good, stale, corrupt, missing, unreadable."""

from __future__ import annotations

import hashlib
import os

import pytest

from exporters.checks.base import Boundaries

DAY = 86400.0


def write_backup(folder, name, content, mtime, checksum="file", digest=None):
    path = folder / name
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    digest = digest or hashlib.sha256(content).hexdigest()
    if checksum == "file":
        (folder / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    elif checksum == "manifest":
        with (folder / "SHA256SUMS").open("a") as manifest:
            manifest.write(f"{digest} *{name}\n")
    return path


@pytest.fixture
def now():
    return 1_800_000_000.0


@pytest.fixture
def ctx(now):
    return Boundaries(wall=lambda: now)


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "backups"
    path.mkdir()
    return path


def backup(check, folder, **fields):
    return check(
        kind="backup", directory=str(folder), pattern="*.tar.gz", backup_interval="1d", **fields
    )


def test_good_backup(check, run, folder, now, ctx):
    write_backup(folder, "app-1.tar.gz", b"old", now - 2 * DAY)
    write_backup(folder, "app-2.tar.gz", b"newest backup", now - 3600)
    outcome = run(backup(check, folder), ctx=ctx)
    assert outcome.category is None, outcome.message
    assert outcome.value("backup_last_success_timestamp_seconds", backup="t") == now - 3600
    assert outcome.value("backup_size_bytes", backup="t") == len(b"newest backup")
    assert outcome.value("backup_checksum_ok", backup="t") == 1
    assert outcome.value("backup_interval_seconds", backup="t") == DAY
    assert outcome.value("backup_files", backup="t") == 2


def test_manifest_checksums(check, run, folder, now, ctx):
    write_backup(folder, "app-1.tar.gz", b"one", now - 60, checksum="manifest")
    write_backup(folder, "app-2.tar.gz", b"two", now - 30, checksum="manifest")
    outcome = run(backup(check, folder, checksum="manifest"), ctx=ctx)
    assert outcome.category is None, outcome.message
    assert outcome.value("backup_checksum_ok", backup="t") == 1


def test_stale_backup_is_data_integrity(check, run, folder, now, ctx):
    write_backup(folder, "app.tar.gz", b"content", now - 3 * DAY)
    outcome = run(backup(check, folder), ctx=ctx)
    assert outcome.category == "data_integrity"
    assert "old" in outcome.message
    assert outcome.value("backup_checksum_ok", backup="t") == 1  # old, but intact
    stricter = run(backup(check, folder, max_age="4d"), ctx=ctx)
    assert stricter.category is None


def test_corrupt_backup_fails_its_checksum(check, run, folder, now, ctx):
    path = write_backup(folder, "app.tar.gz", b"original content", now - 60)
    path.write_bytes(b"bit-rotted content")
    os.utime(path, (now - 60, now - 60))
    outcome = run(backup(check, folder), ctx=ctx)
    assert outcome.category == "data_integrity"
    assert outcome.value("backup_checksum_ok", backup="t") == 0


def test_missing_checksum_is_data_integrity(check, run, folder, now, ctx):
    write_backup(folder, "app.tar.gz", b"content", now - 60, checksum=None)
    outcome = run(backup(check, folder), ctx=ctx)
    assert outcome.category == "data_integrity"
    assert outcome.value("backup_checksum_ok", backup="t") == 0


def test_checksum_none_skips_verification(check, run, folder, now, ctx):
    write_backup(folder, "app.tar.gz", b"content", now - 60, checksum=None)
    outcome = run(backup(check, folder, checksum="none"), ctx=ctx)
    assert outcome.category is None
    assert outcome.value("backup_checksum_ok", backup="t") is None


def test_empty_backup_is_data_integrity(check, run, folder, now, ctx):
    write_backup(folder, "app.tar.gz", b"", now - 60)
    assert run(backup(check, folder), ctx=ctx).category == "data_integrity"


def test_no_backup_at_all_is_data_integrity(check, run, folder, ctx):
    (folder / "notes.txt").write_text("no backups here")
    outcome = run(backup(check, folder), ctx=ctx)
    assert outcome.category == "data_integrity"
    assert outcome.value("backup_files", backup="t") == 0


def test_missing_folder_is_connection(check, run, tmp_path, ctx):
    outcome = run(backup(check, tmp_path / "unmounted"), ctx=ctx)
    assert outcome.category == "connection"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_backup_is_permission(check, run, folder, now, ctx):
    path = write_backup(folder, "app.tar.gz", b"content", now - 60)
    path.chmod(0)
    try:
        assert run(backup(check, folder), ctx=ctx).category == "permission"
    finally:
        path.chmod(0o600)


def test_verdict_is_reused_until_the_file_changes(check, run, folder, now, ctx, monkeypatch):
    from exporters.checks import backup as backup_module

    path = write_backup(folder, "app.tar.gz", b"content", now - 60)
    hashed = []
    real = backup_module._sha256
    monkeypatch.setattr(backup_module, "_sha256", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        assert run(backup(check, folder), ctx=ctx).category is None
    assert len(hashed) == 1
    path.write_bytes(b"changed")
    os.utime(path, (now - 30, now - 30))
    assert run(backup(check, folder), ctx=ctx).category == "data_integrity"
    assert len(hashed) == 2
