"""actions/restore_from_backup.py on real files and real SQLite databases: the
newest backup that verifies is restored, the damaged copy kept aside, the
skipped ones reported; nothing outside the roots, no link followed."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from webhook_support import make_alert

from alert_webhook.app.actions import registered_actions
from alert_webhook.ingest.payload import Alert
from alert_webhook.remediation.actions.backup_source import Backup, Unverified
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.restore_from_backup import RestoreParams, run
from alert_webhook.remediation.playbooks import (
    DEFAULT_PLAYBOOK_FILE,
    load_playbooks,
    playbooks_from_mapping,
    render_step,
)
from toolkit.config import ConfigError

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
STAMP = "20270115T080000Z"


def ctx(**kw: Any) -> Boundaries:
    return Boundaries(now=lambda: NOW, **kw)


def backup(folder: Path, name: str, data: bytes, age: float, checksum: bytes | None = None) -> Path:
    """A backup file with its sha256sum sidecar (of `checksum` if given: a bad one)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    digest = hashlib.sha256(data if checksum is None else checksum).hexdigest()
    (folder / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    os.utime(path, (NOW - age, NOW - age))
    return path


def params(tmp_path: Path, kind: str = "file", **kw: Any) -> RestoreParams:
    return RestoreParams.model_validate(
        {
            "kind": kind,
            "path": str(tmp_path / "data" / "state.json"),
            "backups": {"directory": str(tmp_path / "backups"), "pattern": "state-*"},
            "roots": [str(tmp_path)],
            **kw,
        }
    )


def test_the_newest_verified_backup_replaces_the_file_and_the_damaged_one_is_kept(
    tmp_path: Path,
) -> None:
    target = tmp_path / "data" / "state.json"
    target.parent.mkdir()
    target.write_bytes(b"{garbage")
    target.chmod(0o640)
    backups = tmp_path / "backups"
    backup(backups, "state-1.json", b'{"v": 1}', age=3000)
    good = backup(backups, "state-2.json", b'{"v": 2}', age=2000)
    bad = backup(backups, "state-3.json", b'{"v": 3}', age=1000, checksum=b"something else")
    done = run(params(tmp_path), 30, ctx())
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert target.read_bytes() == b'{"v": 2}'
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    aside = tmp_path / "data" / f"state.json.damaged-{STAMP}"
    assert aside.read_bytes() == b"{garbage"
    lines = done.output.splitlines()
    assert lines[0].startswith(f"skipped {bad}: checksum mismatch: state-3.json.sha256 says ")
    assert lines[1] == f"verified {good} (sha256 {hashlib.sha256(good.read_bytes()).hexdigest()})"
    assert lines[2:] == [f"restored {target} from {good}", f"damaged copy kept at {aside}"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json", aside.name]


def test_backups_without_a_good_sidecar_are_skipped_with_the_reason(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backup(backups, "state-1.json", b"one", age=100)
    (backups / "state-1.json.sha256").unlink()
    backup(backups, "state-2.json", b"two", age=50)
    (backups / "state-2.json.sha256").write_text("not a checksum\n")
    backup(backups, "state-3.json", b"three", age=10)
    (backups / "state-3.json.sha256").write_text(f"{hashlib.sha256(b'three').hexdigest()}  other\n")
    done = run(params(tmp_path), 30, ctx())
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED,
        "no backup verifies (3 found, 3 skipped)",
    )
    assert done.output.splitlines() == [
        f"skipped {backups / 'state-3.json'}: state-3.json.sha256 is the checksum of 'other'",
        f"skipped {backups / 'state-2.json'}: state-2.json.sha256 is not one sha256sum line",
        f"skipped {backups / 'state-1.json'}: no state-1.json.sha256 beside it",
    ]
    assert not (tmp_path / "data").exists()


def test_no_backup_at_all_fails_saying_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "other.json").write_bytes(b"not a match")
    done = run(params(tmp_path), 30, ctx())
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED, f"no backups matching state-* in {tmp_path / 'backups'}",
    )  # fmt: skip
    missing = run(params(tmp_path, backups={"directory": str(tmp_path / "gone"), "pattern": "*"}),
                  30, ctx())  # fmt: skip
    assert missing.outcome is ActionOutcome.FAILED
    assert missing.detail.startswith(f"cannot list the backups in {tmp_path / 'gone'}: ")


def test_a_missing_target_is_restored_with_nothing_to_keep_aside(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    backup(tmp_path / "backups", "state-1.json", b"one", age=100)
    done = run(params(tmp_path), 30, ctx())
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert (tmp_path / "data" / "state.json").read_bytes() == b"one"
    assert done.output.splitlines()[-1] == "there was no copy to keep aside"


def test_a_target_that_is_a_link_is_not_restored_over(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"keep")
    (tmp_path / "data" / "state.json").symlink_to(elsewhere)
    backup(tmp_path / "backups", "state-1.json", b"one", age=100)
    done = run(params(tmp_path), 30, ctx())
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED, "state.json is a symbolic link; not restored over",
    )  # fmt: skip
    assert elsewhere.read_bytes() == b"keep"
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["state.json"]  # no temporary left


def test_links_below_the_root_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "state.json").write_bytes(b"not yours")
    root.mkdir()
    (root / "data").symlink_to(outside)  # the target's folder leads out of the root
    backup(root / "backups", "state-1.json", b"one", age=100)
    # A backup that is a link to a file outside is never a candidate.
    (root / "backups" / "state-9.json").symlink_to(outside / "state.json")
    done = run(params(root), 30, ctx())
    assert done.outcome is ActionOutcome.FAILED
    assert "state.json" in done.detail and "left as it was" in done.detail
    assert (outside / "state.json").read_bytes() == b"not yours"
    assert f"verified {root / 'backups' / 'state-1.json'}" in done.output


def make_db(path: Path, rows: list[str]) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (name TEXT)")
        db.executemany("INSERT INTO items VALUES (?)", [(r,) for r in rows])
    db.close()


def test_a_corrupted_sqlite_database_is_restored_from_the_newest_intact_backup(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    make_db(work / "old.db", ["a"])
    make_db(work / "good.db", ["a", "b"])
    backups = tmp_path / "backups"
    backup(backups, "app-1.db", (work / "old.db").read_bytes(), age=3000)
    backup(backups, "app-2.db", (work / "good.db").read_bytes(), age=2000)
    # The newest checksum verifies, but the file is not an intact database.
    torn = (work / "good.db").read_bytes()[:4096] + b"\x00" * 4096
    newest = backup(backups, "app-3.db", torn, age=1000)
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "app.db"
    make_db(target, ["x"])
    damaged = bytearray(target.read_bytes())
    damaged[100:4096] = b"\xff" * (4096 - 100)  # the header and first page ruined
    target.write_bytes(bytes(damaged))
    (tmp_path / "data" / "app.db-wal").write_bytes(b"stale wal")
    p = params(tmp_path, "sqlite", path=str(target), backups={
        "directory": str(backups), "pattern": "app-*.db"})  # fmt: skip
    done = run(p, 30, ctx())
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert done.output.splitlines()[0].startswith(f"skipped {newest}: ")
    with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT name FROM items ORDER BY name").fetchall() == [("a",), ("b",)]
    db.close()
    aside = tmp_path / "data" / f"app.db.damaged-{STAMP}"
    assert aside.read_bytes() == bytes(damaged)
    # The WAL of the damaged database went with it, never to be replayed into the new one.
    assert (tmp_path / "data" / f"app.db.damaged-{STAMP}-wal").read_bytes() == b"stale wal"
    assert not (tmp_path / "data" / "app.db-wal").exists()


def test_a_second_restore_in_the_same_second_keeps_both_damaged_copies(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "state.json"
    backup(tmp_path / "backups", "state-1.json", b"one", age=100)
    for damage in (b"bad 1", b"bad 2"):
        target.write_bytes(damage)
        assert run(params(tmp_path), 30, ctx()).outcome is ActionOutcome.SUCCEEDED
    assert (tmp_path / "data" / f"state.json.damaged-{STAMP}").read_bytes() == b"bad 1"
    assert (tmp_path / "data" / f"state.json.damaged-{STAMP}-2").read_bytes() == b"bad 2"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"path": "/etc/passwd"}, "not under the roots"),
        ({"path": "relative/state.json"}, "must be an absolute path"),
        ({"path": "/srv/app/../../etc/passwd"}, "must not hold '..'"),
        ({"backups": {"directory": "/var/backups", "pattern": "*"}}, "not under the roots"),
        ({"backups": {"directory": "/srv/app/b", "pattern": "../*"}}, "no '/'"),
        ({"roots": ["/"]}, "/ is not a root"),
        ({"path": "/srv/app"}, "not under the roots"),
        ({"kind": "postgresql"}, "kind postgresql takes a postgresql section and no path"),
    ],
)
def test_paths_outside_the_roots_are_refused(change: dict[str, Any], problem: str) -> None:
    backups = {"directory": "/srv/app/backups", "pattern": "state-*"}
    base = {"kind": "file", "path": "/srv/app/state.json", "roots": ["/srv/app"],
            "backups": backups, **change}  # fmt: skip
    with pytest.raises(ValidationError, match=re.escape(problem)):
        RestoreParams.model_validate(base)


def test_a_playbook_cannot_put_a_label_in_a_path() -> None:
    with pytest.raises(ConfigError) as caught:
        playbooks_from_mapping(
            {"playbooks": [{"name": "restore", "match": {"category": "data_integrity"},
                            "actions": [{"action": "restore_from_backup", "params": {
                                "kind": "file", "path": "/srv/app/{labels.file}",
                                "roots": ["/srv/app"],
                                "backups": {"directory": "/srv/app/b", "pattern": "*"}}}]}]},
            "playbooks.yml",
        )  # fmt: skip
    assert caught.value.lines == [
        "playbooks.yml: playbooks[0].actions[0].params.path: takes no {labels.NAME} placeholders"
    ]
    assert "restore_from_backup" in registered_actions()


class Snapshots:
    """Another kind of backup source (as restic snapshots would be): the action
    restores from whatever a source lists and verifies, unchanged."""

    def __init__(self, snapshots: dict[str, bytes]) -> None:
        self.snapshots = snapshots

    def candidates(self) -> list[Backup]:
        return [Backup(n, f"snapshot {n}", 0.0) for n in sorted(self.snapshots, reverse=True)]

    def fetch_verified(self, backup: Backup, into: str) -> str:
        data = self.snapshots[backup.name]
        if data == b"":
            raise Unverified("snapshot is empty")
        Path(into).write_bytes(data)
        return hashlib.sha256(data).hexdigest()


def test_any_backup_source_plugs_into_the_action(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "state.json").write_bytes(b"damaged")
    source = Snapshots({"b2": b"", "a1": b"from a1"})
    done = run(params(tmp_path), 30, ctx(), source=source)
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert (tmp_path / "data" / "state.json").read_bytes() == b"from a1"
    assert done.output.splitlines()[0] == "skipped snapshot b2: snapshot is empty"


def test_the_shipped_restore_playbook_is_a_dry_run_on_paths_under_its_roots() -> None:
    loaded = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    labels = {"alertname": "BackupChecksumMismatch", "category": "data_integrity", "service": "app"}
    alert = Alert.model_validate(make_alert(**labels))
    chosen = loaded.select(alert)
    assert chosen is not None and (chosen.name, chosen.dry_run) == ("restore-from-backup", True)
    rendered = render_step(chosen.actions[0], loaded.actions, labels)
    assert isinstance(rendered.params, RestoreParams)
    assert (rendered.params.kind, rendered.params.path) == (
        "sqlite", "/var/lib/recovery-stack/app.sqlite3",
    )  # fmt: skip
