"""Restore refusals: a wrong kind of file, a running stack, a snapshot that is not there."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from backup_support import (
    backups_for,
    count_rows,
    env_for,
    make_root,
    make_store,
    stack_lock_held,
)

from stack.backups.cli import main
from stack.backups.source import write_manifest

pytestmark = pytest.mark.usefixtures("restic_installed")


def restore(root, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["restore", "--root", str(root), *args], env_for(), out, err)
    return code, out.getvalue(), err.getvalue()


def test_a_snapshot_holding_the_wrong_kind_of_file_is_refused_naming_it(tmp_path):
    root = make_root(tmp_path, rows=5)
    backups = backups_for(root)
    backups.restic.ensure_repository()
    # A snapshot whose webhook-store holds JSON where the SQLite store should be.
    staged = backups.layout.staging / "webhook-store"
    staged.mkdir(parents=True)
    (staged / "webhook.sqlite3").write_text(json.dumps({"not": "a database"}))
    write_manifest(staged)
    backups.restic.backup([staged], ["recovery-stack", "webhook-store"], "recovery-stack")
    live = (root / "var" / "webhook.sqlite3").read_bytes()

    code, _, err = restore(root, "--source", "webhook-store", "--snapshot", "latest")

    assert code == 2
    assert "webhook.sqlite3 is not an SQLite database" in err
    assert (root / "var" / "webhook.sqlite3").read_bytes() == live
    assert not list((root / "var").glob("*.replaced-*"))


def test_a_running_stack_is_not_restored_under_unless_forced(tmp_path):
    root = make_root(tmp_path, rows=7)
    backups_for(root).backup()
    make_store(root / "var" / "webhook.sqlite3", rows=3)

    with stack_lock_held(root):
        code, _, err = restore(root, "--source", "webhook-store")
        assert code == 2
        assert "the stack is running and uses webhook-store" in err and "--force" in err
        assert count_rows(root / "var" / "webhook.sqlite3") == 10

        code, out, err = restore(root, "--source", "webhook-store", "--force")
        assert code == 0, err
        assert count_rows(root / "var" / "webhook.sqlite3") == 7


def test_a_chosen_snapshot_is_restored_by_its_short_id(tmp_path):
    root = make_root(tmp_path, rows=4)
    backups = backups_for(root)
    backups.backup()
    first = backups.restic.snapshots()[-1].id
    make_store(root / "var" / "webhook.sqlite3", rows=6)
    backups.backup()

    code, out, err = restore(root, "--source", "webhook-store", "--snapshot", first[:8])

    assert code == 0, err
    assert count_rows(root / "var" / "webhook.sqlite3") == 4
    assert f"restored from snapshot {first[:8]}" in out


def test_unknown_sources_and_snapshots_are_refused_clearly(tmp_path):
    root = make_root(tmp_path)
    backups_for(root).backup()
    code, _, err = restore(root, "--source", "billing")
    assert code == 2 and "no backed-up source named 'billing'" in err
    code, _, err = restore(root, "--source", "configs", "--snapshot", "deadbeef")
    assert code == 2 and "snapshot deadbeef does not exist or does not hold configs" in err
    code, _, err = restore(root, "--source", "silences")
    assert code == 2 and "no snapshot of silences" in err


def test_configs_come_back_to_their_paths_and_changed_ones_go_aside(tmp_path):
    root = make_root(tmp_path)
    backups_for(root).backup()
    playbooks = root / "alert_webhook" / "playbooks.yml"
    playbooks.write_text("playbooks: [broken\n")
    shutil.rmtree(root / "var" / "run")

    code, out, err = restore(root, "--source", "configs")

    assert code == 0, err
    assert playbooks.read_text() == "playbooks: []\n"
    assert (root / "var" / "run" / "prometheus.yml").read_text() == "global: {}\n"
    aside = list(playbooks.parent.glob("playbooks.yml.replaced-*"))
    assert [p.read_text() for p in aside] == ["playbooks: [broken\n"]


def test_restoring_everything_takes_each_source_a_snapshot_holds(tmp_path):
    root = make_root(tmp_path, rows=8)
    backups_for(root).backup()
    make_store(root / "var" / "webhook.sqlite3", rows=2)
    (root / "alert_webhook" / "playbooks.yml").write_text("changed: true\n")

    code, out, err = restore(root)

    assert code == 0, err
    assert count_rows(root / "var" / "webhook.sqlite3") == 8
    assert (root / "alert_webhook" / "playbooks.yml").read_text() == "playbooks: []\n"
    assert "skipped silences: no snapshot holds it" in out


def test_a_snapshot_and_a_point_in_time_are_not_asked_together(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["restore", "--snapshot", "latest", "--to-time", "latest"], env_for())
    assert refused.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
