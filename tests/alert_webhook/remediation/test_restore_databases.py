"""restore_from_backup's PostgreSQL half against a real server with real pg_dump
and pg_restore: the damaged database is dumped aside, the newest verified dump
restored over it in one transaction; the password only ever in PGPASSWORD."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url
from support import postgres

from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.restore_from_backup import RestoreParams, run

NOW = 1_800_000_000.0
STAMP = "20270115T080000Z"
_names = itertools.count()


pytestmark = pytest.mark.integration


@pytest.fixture
def database(pg_url: str) -> Iterator[dict[str, Any]]:
    """A fresh database on the test server: its name, host and port."""
    url = make_url(pg_url)
    name = f"restore_{os.getpid()}_{next(_names)}"
    admin = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    where = {"database": name, "host": url.host, "port": url.port, "user": url.username}
    try:
        yield where
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql(where: dict[str, Any], statement: str) -> list[tuple[Any, ...]]:
    dsn = (
        f"host={where['host']} port={where['port']} user={where['user']} dbname={where['database']}"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def dump(where: dict[str, Any], into: Path, age: float) -> Path:
    into.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(postgres.PG_BIN / "pg_dump"), f"--host={where['host']}", f"--port={where['port']}",
         f"--username={where['user']}", "--format=custom", f"--file={into}", where["database"]],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    digest = hashlib.sha256(into.read_bytes()).hexdigest()
    (into.parent / f"{into.name}.sha256").write_text(f"{digest}  {into.name}\n")
    os.utime(into, (NOW - age, NOW - age))
    return into


def params(tmp_path: Path, where: dict[str, Any], **target: Any) -> RestoreParams:
    return RestoreParams.model_validate(
        {
            "kind": "postgresql",
            "postgresql": {**where, "bin_dir": str(postgres.PG_BIN),
                           "keep_aside_in": str(tmp_path / "damaged"), **target},
            "backups": {"directory": str(tmp_path / "backups"), "pattern": "orders-*.dump"},
            "roots": [str(tmp_path)],
        }
    )  # fmt: skip


def test_the_damaged_database_is_dumped_aside_and_the_newest_good_dump_restored(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    (tmp_path / "damaged").mkdir()
    sql(database, "CREATE TABLE orders (id int PRIMARY KEY, item text)")
    sql(database, "INSERT INTO orders VALUES (1, 'apple'), (2, 'pear')")
    good = dump(database, tmp_path / "backups" / "orders-1.dump", age=2000)
    newest = dump(database, tmp_path / "backups" / "orders-2.dump", age=1000)
    newest.write_bytes(newest.read_bytes()[:-64] + b"\x00" * 64)  # its checksum fails now
    os.utime(newest, (NOW - 1000, NOW - 1000))
    # The damage: a row lost, one changed, a table that should not be there.
    sql(database, "DELETE FROM orders WHERE id = 2; UPDATE orders SET item = '???' WHERE id = 1")
    sql(database, "CREATE TABLE junk (x int)")
    done = run(params(tmp_path, database, password_from_env="ORDERS_PG_PASSWORD"), 60,
               Boundaries(now=lambda: NOW, env={"ORDERS_PG_PASSWORD": "s3cret-pw"}))  # fmt: skip
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert sql(database, "SELECT id, item FROM orders ORDER BY id") == [(1, "apple"), (2, "pear")]
    kept = tmp_path / "damaged" / f"{database['database']}.damaged-{STAMP}.dump"
    listed = subprocess.run(
        [str(postgres.PG_BIN / "pg_restore"), "--list", str(kept)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "TABLE public junk" in listed  # the damaged state is what was kept
    lines = done.output.splitlines()
    assert lines[0].startswith(f"skipped {newest}: checksum mismatch")
    assert lines[1].startswith(f"verified {good} (sha256 ")
    assert lines[2:] == [
        f"damaged database {database['database']} dumped to {kept}",
        f"restored database {database['database']} from {good}",
    ]
    assert "s3cret-pw" not in done.output + done.detail


def test_a_dump_pg_restore_cannot_read_is_skipped(tmp_path: Path, database) -> None:
    (tmp_path / "damaged").mkdir()
    fake = tmp_path / "backups" / "orders-1.dump"
    fake.parent.mkdir()
    fake.write_bytes(b"not a dump")
    (fake.parent / "orders-1.dump.sha256").write_text(
        f"{hashlib.sha256(b'not a dump').hexdigest()}  orders-1.dump\n"
    )
    done = run(params(tmp_path, database), 60, Boundaries(now=lambda: NOW))
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED,
        "no backup verifies (1 found, 1 skipped)",
    )
    assert done.output.startswith(f"skipped {fake}: pg_restore --list: exit status 1")
    assert list((tmp_path / "damaged").iterdir()) == []


def test_a_database_that_cannot_be_dumped_aside_is_not_restored_over(tmp_path, database) -> None:
    (tmp_path / "damaged").mkdir()
    sql(database, "CREATE TABLE orders (id int)")
    dump(database, tmp_path / "backups" / "orders-1.dump", age=100)
    sql(database, "CREATE TABLE damage (x int)")
    done = run(params(tmp_path, database, user="nobody_here"), 60, Boundaries(now=lambda: NOW))
    assert done.outcome is ActionOutcome.FAILED
    assert done.detail.startswith(f"pg_dump of the damaged {database['database']} failed")
    assert done.detail.endswith("nothing restored")
    assert sql(database, "SELECT count(*) FROM pg_tables WHERE tablename = 'damage'") == [(1,)]


def test_a_named_password_variable_that_is_not_set_fails_before_anything_runs(
    tmp_path: Path, database
) -> None:
    (tmp_path / "damaged").mkdir()
    sql(database, "CREATE TABLE orders (id int)")
    dump(database, tmp_path / "backups" / "orders-1.dump", age=100)
    done = run(params(tmp_path, database, password_from_env="ORDERS_PG_PASSWORD"), 60,
               Boundaries(now=lambda: NOW))  # fmt: skip
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED, "environment variable ORDERS_PG_PASSWORD is not set",
    )  # fmt: skip
