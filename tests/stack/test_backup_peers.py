"""The real peers: Litestream replicating and restoring to a point in time, pg_dump
and pg_restore on a real PostgreSQL, silences through a real Alertmanager."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy
from backup_support import backups_for, count_rows, env_for, make_root, make_store
from support import postgres
from support.procs import find_binary, free_port, running, wait_until

from stack.backups import litestream
from stack.backups.cli import main
from stack.backups.sources import sqlite_sources

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("restic_installed")


def restore(root, env, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["restore", "--root", str(root), *args], env, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.integration
def test_the_litestream_replica_restores_to_a_point_in_time(tmp_path):
    root = make_root(tmp_path / "root", rows=10)
    store = root / "var" / "webhook.sqlite3"
    backups = backups_for(root)
    config = litestream.write_config(
        tmp_path / "litestream.yml", sqlite_sources(list(backups.sources)), backups.layout.replicas
    )
    assert backups.litestream_bin is not None
    argv = litestream.replicate_argv(backups.litestream_bin, config)
    with running("litestream", argv, tmp_path):
        replica = backups.layout.replicas / "webhook-store"
        wait_until(lambda: any(replica.rglob("*.ltx")), 20, "the first replica snapshot")
        time.sleep(1.5)  # real time passes between the two writes the restore tells apart
        between = datetime.now(UTC)
        time.sleep(1.5)
        make_store(store, rows=5)
        wait_until(lambda: len(list(replica.rglob("*.ltx"))) >= 3, 20, "the second write shipped")
        time.sleep(1.5)

    code, out, err = restore(root, env_for(), "--source", "webhook-store", "--to-time", "latest")
    assert code == 0, err
    assert count_rows(store) == 15

    stamp = between.strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, err = restore(root, env_for(), "--source", "webhook-store", "--to-time", stamp)
    assert code == 0, err
    assert count_rows(store) == 10
    assert f"as of {stamp}" in out
    assert len(list(store.parent.glob("webhook.sqlite3.replaced-*Z"))) >= 1


def test_a_replica_is_only_for_sqlite_stores(tmp_path):
    root = make_root(tmp_path)
    code, _, err = restore(root, env_for(), "--source", "configs", "--to-time", "latest")
    assert code == 2 and "configs has no Litestream replica" in err
    code, _, err = restore(root, env_for(), "--source", "webhook-store", "--to-time", "latest")
    assert code == 2 and "no Litestream replica at" in err


@pytest.fixture(scope="module")
def pg_url():
    if reason := postgres.unavailable():
        pytest.fail(reason)
    with postgres.server() as url:
        yield url


@pytest.mark.integration
def test_a_postgresql_store_is_pg_dumped_and_restored(tmp_path, pg_url):
    root = make_root(tmp_path)
    engine = sqlalchemy.create_engine(pg_url)
    with engine.begin() as db:
        db.execute(sqlalchemy.text("DROP TABLE IF EXISTS backup_probe"))
        db.execute(sqlalchemy.text("CREATE TABLE backup_probe (n integer)"))
        db.execute(sqlalchemy.text("INSERT INTO backup_probe SELECT generate_series(1, 50)"))
    env = env_for(ALERT_WEBHOOK_DATABASE_URL=pg_url)
    out, err = io.StringIO(), io.StringIO()
    assert main(["backup", "--root", str(root)], env, out, err) == 0, err.getvalue()
    with engine.begin() as db:
        db.execute(sqlalchemy.text("DELETE FROM backup_probe WHERE n > 5"))

    code, out_text, err_text = restore(root, env, "--source", "webhook-store")

    assert code == 0, err_text
    with engine.connect() as db:
        assert db.execute(sqlalchemy.text("SELECT count(*) FROM backup_probe")).scalar() == 50
    [aside] = (root / "var" / "backups" / "replaced").glob("webhook-store.replaced-*.dump")
    assert aside.stat().st_size > 0
    engine.dispose()


@pytest.mark.integration
def test_silences_come_back_to_alertmanager(tmp_path):
    root = make_root(tmp_path)
    port = free_port()
    am = f"http://127.0.0.1:{port}"
    (tmp_path / "am.yml").write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    argv = [
        find_binary("ALERTMANAGER_BIN"),
        f"--config.file={tmp_path / 'am.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    env = env_for(ALERTMANAGER_PORT=str(port))
    with running("alertmanager", argv, tmp_path, ready_url=f"{am}/-/ready"):
        now = datetime.now(UTC)
        silence = {
            "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=2)).isoformat(),
            "createdBy": "operator",
            "comment": "maintenance",
        }
        made = requests.post(f"{am}/api/v2/silences", json=silence, timeout=5).json()
        out, err = io.StringIO(), io.StringIO()
        assert main(["backup", "--root", str(root)], env, out, err) == 0, err.getvalue()
        requests.delete(f"{am}/api/v2/silence/{made['silenceID']}", timeout=5)

        code, out_text, err_text = restore(root, env, "--source", "silences")

        assert code == 0, err_text
        active = [
            s
            for s in requests.get(f"{am}/api/v2/silences", timeout=5).json()
            if s["status"]["state"] == "active"
        ]
        assert [(s["comment"], s["createdBy"]) for s in active] == [("maintenance", "operator")]
        assert "posted 1" in out_text
        # Restoring again adds nothing: the silence is there already.
        assert "posted 0" in restore(root, env, "--source", "silences")[1]


@pytest.mark.integration
def test_a_store_that_is_not_sqlite_is_not_backed_up_and_named(tmp_path):
    root = make_root(tmp_path)
    store = root / "var" / "webhook.sqlite3"
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            (store.parent / (store.name + suffix)).unlink()
    store.write_text("this is not a database")
    outcome = backups_for(root).backup()
    assert outcome.exit_code == 1
    assert any("webhook-store" in p and "is not an SQLite database" in p for p in outcome.problems)


@pytest.mark.integration
def test_a_replaced_store_is_replicated_as_a_new_lineage(tmp_path):
    """`stack replicate` (the real command, the real Litestream): once a restore
    puts another file at the store's path, the replica is that file plus what is
    written to it, and the replica of the file it replaced is kept aside."""
    root = make_root(tmp_path / "root", rows=10)
    store = root / "var" / "webhook.sqlite3"
    make_store(root / "var" / "data" / "demo" / "orders.sqlite3", rows=1)  # every store there
    replicas = backups_for(root).layout.replicas
    replica = replicas / "webhook-store"
    argv = [sys.executable, "-m", "stack", "replicate", "--root", str(root)]
    with running("replicate", argv, tmp_path, env=env_for(), cwd=REPO):
        wait_until(lambda: any(replica.rglob("*.ltx")), 20, "the first replica snapshot")
        make_store(store, rows=5)
        time.sleep(2.5)  # shipped: the replica holds 15 rows
        other = tmp_path / "restored.sqlite3"
        make_store(other, rows=3)
        for companion in ("-wal", "-shm"):  # what a restore does: the old file's WAL
            Path(f"{store}{companion}").replace(tmp_path / f"aside{companion}")  # aside, and
        other.replace(store)  # another file at the path
        aside = "webhook-store.before-*"
        wait_until(lambda: any(replicas.glob(aside)), 20, "the old replica aside")
        wait_until(lambda: any(replica.rglob("*.ltx")), 20, "the new lineage's snapshot")
        make_store(store, rows=1)
        time.sleep(2.5)

    rebuilt = tmp_path / "rebuilt.sqlite3"
    argv = [litestream.find_litestream({}), "restore", "-o", str(rebuilt), f"file://{replica}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert count_rows(rebuilt) == 4 == count_rows(store)
