"""Restore refusals: a wrong kind of file, a running stack, a snapshot that is not there."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from backup_support import (
    backups_for,
    count_rows,
    env_for,
    make_root,
    make_store,
    stack_lock_held,
)
from support.procs import running, wait_until

from stack.backups import litestream
from stack.backups.cli import main
from stack.backups.source import write_manifest
from stack.backups.sources import sqlite_sources

pytestmark = pytest.mark.usefixtures("restic_installed")
# A point in time as restore says it.
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def restore(root, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["restore", "--root", str(root), *args], env_for(), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
def test_unknown_sources_and_snapshots_are_refused_clearly(tmp_path):
    root = make_root(tmp_path)
    backups_for(root).backup()
    code, _, err = restore(root, "--source", "billing")
    assert code == 2 and "no backed-up source named 'billing'" in err
    code, _, err = restore(root, "--source", "configs", "--snapshot", "deadbeef")
    assert code == 2 and "snapshot deadbeef does not exist or does not hold configs" in err
    code, _, err = restore(root, "--source", "silences")
    assert code == 2 and "no snapshot of silences" in err


@pytest.mark.integration
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


@pytest.mark.integration
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
    for name in ("webhook-store", "configs"):  # each says the point in time it holds
        assert re.search(rf"{name}: restored from snapshot \w{{8}} of {STAMP}", out), out


def test_a_snapshot_and_a_point_in_time_are_not_asked_together(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["restore", "--snapshot", "latest", "--to-time", "latest"], env_for())
    assert refused.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


# The default restore: the newest copy that verifies, Litestream's replica or a
# snapshot, named with the point in time it holds (the real litestream and restic).


@contextlib.contextmanager
def replicating(root: Path, logs: Path) -> Iterator[Path]:
    """`litestream replicate` of the root's SQLite stores; the webhook store's replica."""
    backups = backups_for(root)
    assert backups.litestream_bin is not None
    config = litestream.write_config(
        logs / "litestream.yml", sqlite_sources(list(backups.sources)), backups.layout.replicas
    )
    argv = litestream.replicate_argv(backups.litestream_bin, config)
    replica = backups.layout.replicas / "webhook-store"
    with running("litestream", argv, logs):
        wait_until(lambda: any(replica.rglob("*.ltx")), 20, "the first replica snapshot")
        yield replica


def shipped(replica: Path, files: int) -> None:
    wait_until(lambda: len(list(replica.glob("ltx/0/*.ltx"))) >= files, 20, "the write shipped")


@pytest.mark.integration
def test_by_default_the_replica_newer_than_every_snapshot_is_restored_and_its_time_said(
    tmp_path,
):
    root = make_root(tmp_path / "root", rows=10)
    store = root / "var" / "webhook.sqlite3"
    backups_for(root).backup()  # a verified snapshot of 10 rows
    with replicating(root, tmp_path) as replica:
        before = len(list(replica.glob("ltx/0/*.ltx")))
        make_store(store, rows=5)  # written after the snapshot: only the replica has them
        shipped(replica, before + 1)
    store.write_bytes(b"garbage" * 1000)

    code, out, err = restore(root, "--source", "webhook-store")

    assert code == 0, err
    assert count_rows(store) == 15
    said = re.search(rf"webhook-store: restored from its Litestream replica as of ({STAMP})", out)
    assert said, out
    assert abs(datetime.fromisoformat(said.group(1)).timestamp() - time.time()) < 120
    assert re.search(rf"newer than the newest verified snapshot \(\w{{8}}, {STAMP}\)", out), out


@pytest.mark.integration
def test_a_snapshot_newer_than_the_replica_wins(tmp_path):
    root = make_root(tmp_path / "root", rows=10)
    store = root / "var" / "webhook.sqlite3"
    with replicating(root, tmp_path):
        pass  # a replica of the 10 rows; then replication stops
    time.sleep(1.1)  # the replica's times have whole seconds
    make_store(store, rows=3)
    backups_for(root).backup()  # a verified snapshot of 13 rows, newer than the replica
    make_store(store, rows=100)

    code, out, err = restore(root, "--source", "webhook-store")

    assert code == 0, err
    assert count_rows(store) == 13
    assert re.search(rf"webhook-store: restored from snapshot \w{{8}} of {STAMP}", out), out
    assert "newer than its Litestream replica" in out


@pytest.mark.integration
def test_a_replica_that_does_not_restore_falls_back_to_the_newest_verified_snapshot(tmp_path):
    root = make_root(tmp_path / "root", rows=10)
    store = root / "var" / "webhook.sqlite3"
    backups_for(root).backup()
    with replicating(root, tmp_path) as replica:
        before = len(list(replica.glob("ltx/0/*.ltx")))
        make_store(store, rows=5)
        shipped(replica, before + 1)
    for ltx in replica.rglob("*.ltx"):
        if ltx.parent.name != "0" or ltx.name.startswith("0000000000000001-"):
            ltx.write_bytes(b"\0" * ltx.stat().st_size)  # garbled, as a bad disk would

    code, out, err = restore(root, "--source", "webhook-store")

    assert code == 0, err
    assert count_rows(store) == 10
    assert "its Litestream replica was not used" in out
    assert re.search(rf"restored from snapshot \w{{8}} of {STAMP}", out), out
